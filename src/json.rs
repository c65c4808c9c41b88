//! The JSON we write and read: `detect --json`, `verify --json`, `switch
//! --json` and the decision record. One [`Value`] type, rendered compactly
//! with keys in the order they were built, and a parser that reads it back.
//!
//! Hand-written because the formats are small and fixed and a serialisation
//! crate would double the binary. The parser is a strict RFC 8259 reader
//! (no trailing commas, no comments, nesting bounded) for our own output:
//! the record is read on a call's hot path, so a damaged or foreign file
//! must be an error, never a panic or a guess. Numbers are kept as their
//! text: we write counts and milliseconds with a fixed number of decimals
//! and read none back as floats.

use std::fmt::{self, Write};

/// A JSON value. Objects keep their keys in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number's text, as written or read.
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A string, or null for `None`.
    pub fn opt_str(s: Option<&str>) -> Value {
        s.map_or(Value::Null, Value::str)
    }

    pub fn int(n: u64) -> Value {
        Value::Number(n.to_string())
    }

    /// A number with exactly `decimals` digits after the point.
    pub fn fixed(x: f64, decimals: usize) -> Value {
        Value::Number(format!("{x:.decimals$}"))
    }

    /// An object with these keys, in this order.
    pub fn object<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// An array of strings.
    pub fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::Array(items.into_iter().map(|s| Value::str(s.as_ref())).collect())
    }

    /// The value of `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Inserts `key` before the existing key `before` (at the end if there
    /// is none). Does nothing unless this is an object.
    pub fn insert_before(&mut self, before: &str, key: &str, value: Value) {
        if let Value::Object(pairs) = self {
            let at = pairs
                .iter()
                .position(|(k, _)| k == before)
                .unwrap_or(pairs.len());
            pairs.insert(at, (key.to_string(), value));
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => f.write_str(n),
            Value::String(s) => write_quoted(f, s),
            Value::Array(items) => {
                f.write_char('[')?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_char(']')
            }
            Value::Object(pairs) => {
                f.write_char('{')?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write_quoted(f, k)?;
                    write!(f, ":{v}")?;
                }
                f.write_char('}')
            }
        }
    }
}

fn write_quoted(out: &mut impl Write, v: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in v.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

/// Nesting deeper than this is refused: our documents nest four levels.
const MAX_DEPTH: usize = 32;

/// Parses one JSON document (surrounding white space allowed).
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
    };
    let v = p.value(0)?;
    p.space();
    if p.at != p.s.len() {
        return Err(p.error("text after the end of the document"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.at)
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> Result<(), String> {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", b as char)))
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        if self.s[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(v)
        } else {
            Err(self.error("unknown literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.space();
        match self.peek() {
            None => Err(self.error("unexpected end")),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'[') => {
                let mut items = Vec::new();
                self.sequence(b']', |p| {
                    items.push(p.value(depth + 1)?);
                    Ok(())
                })?;
                Ok(Value::Array(items))
            }
            Some(b'{') => {
                let mut pairs = Vec::new();
                self.sequence(b'}', |p| {
                    p.space();
                    if p.peek() != Some(b'"') {
                        return Err(p.error("expected a key"));
                    }
                    let k = p.string()?;
                    p.space();
                    p.eat(b':')?;
                    pairs.push((k, p.value(depth + 1)?));
                    Ok(())
                })?;
                Ok(Value::Object(pairs))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    /// The items of an array or object, its opening bracket next, read by
    /// `item` and separated by commas, up to `close`.
    fn sequence(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        self.at += 1;
        self.space();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.error(&format!("expected ',' or '{}'", close as char))),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let int_start = self.at;
        let n = self.digits();
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return Err(self.error("bad number"));
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("bad number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("bad number"));
            }
        }
        // Only ASCII was consumed.
        let text = std::str::from_utf8(&self.s[start..self.at]).unwrap_or_default();
        Ok(Value::Number(text.to_string()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.at..self.at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.error("bad \\u escape"))?;
        self.at += 4;
        Ok(h)
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.at += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode()?,
                        _ => return Err(self.error("bad escape")),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(self.error("control character in a string")),
                b => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("a string that is not UTF-8"))
    }

    /// The character of a `\u` escape (its `u` already read), joining a
    /// surrogate pair.
    fn unicode(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&hi) {
            if !self.s[self.at..].starts_with(b"\\u") {
                return Err(self.error("lone surrogate"));
            }
            self.at += 2;
            let lo = self.hex4()?;
            if !(0xdc00..0xe000).contains(&lo) {
                return Err(self.error("lone surrogate"));
            }
            0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.error("lone surrogate"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_compactly_in_order() {
        let v = Value::object([
            ("b", Value::int(2)),
            ("a", Value::Array(vec![Value::Null, Value::Bool(true)])),
            ("ms", Value::fixed(2.5, 3)),
            ("s", Value::str("q\"\\\n\t\u{1}é")),
            ("none", Value::opt_str(None)),
            ("list", Value::strings(["x", "y"])),
        ]);
        assert_eq!(
            v.to_string(),
            r#"{"b":2,"a":[null,true],"ms":2.500,"s":"q\"\\\n\t\u0001é","none":null,"list":["x","y"]}"#
        );
    }

    #[test]
    fn reads_what_it_writes() {
        let v = Value::object([
            ("text", Value::str("ctl \u{1f} \r \"quoted\" \\ 🦀")),
            ("n", Value::Number("-0.5e+3".into())),
            (
                "nested",
                Value::object([("empty", Value::Array(vec![])), ("o", Value::object([]))]),
            ),
            ("f", Value::Bool(false)),
        ]);
        assert_eq!(parse(&v.to_string()).unwrap(), v);
        assert_eq!(parse(&format!(" \n{v}\t ")).unwrap(), v);
    }

    #[test]
    fn reads_escapes_and_accessors() {
        let v = parse(r#"{"a":"\u00e9\ud83e\udd80\/\b\f","b":[1,"x"]}"#).unwrap();
        assert_eq!(v.get("a").and_then(Value::as_str), Some("é🦀/\u{8}\u{c}"));
        assert_eq!(
            v.get("b").and_then(Value::as_array).map(<[_]>::len),
            Some(2)
        );
        assert_eq!(v.get("c"), None);
        assert!(parse("null").unwrap().is_null());
        let mut o = parse(r#"{"a":1,"c":3}"#).unwrap();
        o.insert_before("c", "b", Value::int(2));
        assert_eq!(o.to_string(), r#"{"a":1,"b":2,"c":3}"#);
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "01",
            "1.",
            "-",
            "1e",
            "\"abc",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"a\nb\"",
            "tru",
            "nul",
            "{} {}",
            "[1 2]",
            "{\"a\" 1}",
            "'a'",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).unwrap_err().contains("nested too deeply"));
        // Not UTF-8 inside a string (the caller read bytes lossily or not).
        assert!(parse("[1]").is_ok());
    }
}
