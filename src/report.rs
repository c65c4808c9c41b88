//! How a decision is shown to people and programs: text lines, or a JSON
//! object for `detect --json`. Both are rendered from the decision's types
//! ([`Reason`], [`Warning`], [`Observation`]); nothing here decides.
//!
//! A decision read back from a record has lost its types (the reasons and
//! warnings are kinds and texts), so the renderings go through a
//! [`Summary`]: a decision without its probes, which a fresh decision and
//! a record both give. `switch` and `verify` then render a remembered
//! decision exactly as `detect` renders a fresh one.

use std::fmt::Write;

use crate::detect::{Answer, Decision, Observation};
use crate::json::Value;
use crate::names::{Family, Mode};

/// A reason or a warning as shown: its kind and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub kind: String,
    pub text: String,
}

impl Note {
    pub fn new(kind: &str, text: impl Into<String>) -> Note {
        Note {
            kind: kind.to_string(),
            text: text.into(),
        }
    }

    fn json(&self) -> Value {
        Value::object([
            ("kind", Value::str(&self.kind)),
            ("text", Value::str(&self.text)),
        ])
    }

    fn from_json(v: &Value) -> Option<Note> {
        Some(Note::new(
            v.get("kind")?.as_str()?,
            v.get("text")?.as_str()?,
        ))
    }
}

/// One family's mode and why, as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stated {
    pub mode: Mode,
    pub reason: Note,
}

/// A decision without its probes: what `detect --json` prints minus
/// `probes`, and what the decision record keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Indexed by [`Family::index`].
    pub families: [Stated; 2],
    pub warnings: Vec<Note>,
    pub native_tables: Option<Vec<String>>,
}

impl Summary {
    pub fn of(d: &Decision) -> Summary {
        let stated = |f: Family| {
            let c = d.family(f);
            Stated {
                mode: c.mode,
                reason: Note::new(c.reason.kind(), c.reason.to_string()),
            }
        };
        Summary {
            families: Family::ALL.map(stated),
            warnings: d
                .warnings
                .iter()
                .map(|w| Note::new(w.kind(), w.to_string()))
                .collect(),
            native_tables: d.native_tables.clone(),
        }
    }

    pub fn modes(&self) -> [Mode; 2] {
        self.families.clone().map(|s| s.mode)
    }

    /// `legacy`, `nft` or `split`.
    pub fn overall(&self) -> &'static str {
        match self.modes() {
            [a, b] if a == b => a.as_str(),
            _ => "split",
        }
    }

    /// The reasons, as the decision line shows them in parentheses:
    /// - `KUBE-IPTABLES-HINT in iptables-nft mangle` when both families
    ///   agree for the same reason;
    /// - `ipv4: ...; ipv6: ...` when they agree for different reasons;
    /// - `ipv4 legacy: ...; ipv6 nft: ...` when they differ.
    pub fn why(&self) -> String {
        let [v4, v6] = &self.families;
        if v4.mode != v6.mode {
            format!(
                "ipv4 {}: {}; ipv6 {}: {}",
                v4.mode, v4.reason.text, v6.mode, v6.reason.text
            )
        } else if v4.reason == v6.reason {
            v4.reason.text.clone()
        } else {
            format!("ipv4: {}; ipv6: {}", v4.reason.text, v6.reason.text)
        }
    }

    /// The decision on one line: `nft (KUBE-IPTABLES-HINT in iptables-nft
    /// mangle)`, `legacy (ipv4: ...; ipv6: ...)`, `split (ipv4 legacy: ...;
    /// ipv6 nft: ...)`.
    pub fn line(&self) -> String {
        format!("{} ({})", self.overall(), self.why())
    }

    /// `detect`'s text: the decision line, then a `warning: ...` line each.
    pub fn text(&self) -> String {
        let mut s = self.line();
        for w in &self.warnings {
            let _ = write!(s, "\nwarning: {}", w.text);
        }
        s
    }

    /// `detect --json` without `probes`.
    pub fn json(&self) -> Value {
        let families = Family::ALL.map(|f| {
            let s = &self.families[f.index()];
            (
                f.as_str(),
                Value::object([
                    ("mode", Value::str(s.mode.as_str())),
                    ("reason", s.reason.json()),
                ]),
            )
        });
        Value::object([
            ("mode", Value::str(self.overall())),
            ("families", Value::object(families)),
            (
                "warnings",
                Value::Array(self.warnings.iter().map(Note::json).collect()),
            ),
            (
                "native_tables",
                self.native_tables
                    .as_ref()
                    .map_or(Value::Null, Value::strings),
            ),
        ])
    }

    /// Reads what [`Summary::json`] wrote (a `detect --json` object too:
    /// `probes` is ignored).
    pub fn from_json(v: &Value) -> Option<Summary> {
        let families = v.get("families")?;
        let stated = |f: Family| -> Option<Stated> {
            let o = families.get(f.as_str())?;
            Some(Stated {
                mode: Mode::parse(o.get("mode")?.as_str()?)?,
                reason: Note::from_json(o.get("reason")?)?,
            })
        };
        let warnings = v
            .get("warnings")?
            .as_array()?
            .iter()
            .map(Note::from_json)
            .collect::<Option<Vec<_>>>()?;
        let native_tables = match v.get("native_tables") {
            None | Some(Value::Null) => None,
            Some(t) => Some(
                t.as_array()?
                    .iter()
                    .map(|n| n.as_str().map(String::from))
                    .collect::<Option<Vec<_>>>()?,
            ),
        };
        Some(Summary {
            families: [stated(Family::V4)?, stated(Family::V6)?],
            warnings,
            native_tables,
        })
    }

    /// The object `detect --json` prints, with these probes.
    pub fn json_with_probes(&self, probes: Vec<Value>) -> Value {
        let mut v = self.json();
        v.insert_before("native_tables", "probes", Value::Array(probes));
        v
    }
}

/// The decision on one line (see [`Summary::line`]).
pub fn line(d: &Decision) -> String {
    Summary::of(d).line()
}

/// `detect`'s text: the decision line, then a `warning: ...` line each.
pub fn text(d: &Decision) -> String {
    Summary::of(d).text()
}

/// `detect --json`: the summary with every probe.
pub fn json(d: &Decision) -> String {
    Summary::of(d)
        .json_with_probes(d.probes.iter().map(probe).collect())
        .to_string()
}

fn probe(o: &Observation) -> Value {
    let (result, rules, hint) = match &o.answer {
        // `detect` always counts exactly; a first call's bound would show
        // its lower end, and its detail says where counting stopped.
        Answer::Found { rules, hint } => ("ok", Value::int(rules.at_least), Value::opt_str(*hint)),
        Answer::Failed | Answer::NftUnusable(_) => ("failed", Value::Null, Value::Null),
        Answer::TimedOut => ("timed-out", Value::Null, Value::Null),
        Answer::NotRun => ("not-run", Value::Null, Value::Null),
    };
    Value::object([
        ("mode", Value::str(o.probe.mode.as_str())),
        ("family", Value::str(o.probe.family.as_str())),
        ("table", Value::str(o.probe.table.as_str())),
        ("result", Value::str(result)),
        ("rules", rules),
        ("hint", hint),
        (
            "ms",
            o.elapsed
                .map_or(Value::Null, |e| Value::fixed(e.as_secs_f64() * 1000.0, 3)),
        ),
        ("command", Value::str(&o.command)),
        ("detail", Value::opt_str(o.detail.as_deref())),
        ("source", Value::str(o.source.as_str())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Choice, Probe, Reason, Source, Warning};
    use crate::names::Mode;
    use std::time::Duration;

    fn hint(mode: Mode, family: Family) -> Reason {
        Reason::Hint {
            chain: "KUBE-IPTABLES-HINT",
            mode,
            family,
        }
    }

    #[test]
    fn lines() {
        let c = |mode, reason| Choice { mode, reason };
        let mut d = Decision {
            families: [
                c(Mode::Nft, Reason::Tie { rules: 2 }),
                c(Mode::Nft, Reason::Tie { rules: 2 }),
            ],
            warnings: vec![],
            probes: vec![],
            native_tables: None,
        };
        assert_eq!(
            line(&d),
            "nft (legacy 2 rules = nft 2 rules, a tie goes to nft)"
        );
        d.families = [
            c(Mode::Legacy, hint(Mode::Legacy, Family::V4)),
            c(
                Mode::Legacy,
                Reason::OtherFamilyHint {
                    chain: "KUBE-IPTABLES-HINT",
                    mode: Mode::Legacy,
                    family: Family::V4,
                },
            ),
        ];
        assert_eq!(line(&d), "legacy (ipv4: KUBE-IPTABLES-HINT in iptables-legacy mangle; ipv6: no hint of its own; follows KUBE-IPTABLES-HINT in iptables-legacy mangle)");
        d.families[1] = c(Mode::Nft, hint(Mode::Nft, Family::V6));
        d.warnings.push(Warning::LegacyMaybeMissing);
        assert_eq!(line(&d), "split (ipv4 legacy: KUBE-IPTABLES-HINT in iptables-legacy mangle; ipv6 nft: KUBE-IPTABLES-HINT in ip6tables-nft mangle)");
        let t = text(&d);
        assert_eq!(t.lines().count(), 2);
        assert!(t
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("warning: legacy chosen"));
    }

    #[test]
    fn json_shape() {
        let reason = hint(Mode::Legacy, Family::V4);
        let d = Decision {
            families: [
                Choice {
                    mode: Mode::Legacy,
                    reason: reason.clone(),
                },
                Choice {
                    mode: Mode::Nft,
                    reason: Reason::Default,
                },
            ],
            warnings: vec![Warning::HintWaitExpired {
                waited: Duration::from_secs(2),
            }],
            probes: vec![
                Observation {
                    probe: Probe::hint(Mode::Legacy, Family::V4),
                    answer: Answer::Found {
                        rules: crate::detect::Count::exact(2),
                        hint: Some("KUBE-IPTABLES-HINT"),
                    },
                    source: Source::Kernel,
                    command: "getsockopt IPT_SO_GET_ENTRIES mangle".into(),
                    detail: None,
                    elapsed: Some(Duration::from_micros(2500)),
                },
                Observation {
                    probe: Probe::count(Mode::Nft, Family::V6),
                    answer: Answer::Failed,
                    source: Source::Process,
                    command: "ip6tables-nft-save".into(),
                    detail: Some("said \"no\"\n".into()),
                    elapsed: None,
                },
            ],
            native_tables: Some(vec!["inet kube-proxy".into()]),
        };
        assert_eq!(
            json(&d),
            concat!(
                r#"{"mode":"split","families":{"ipv4":{"mode":"legacy","reason":{"kind":"hint","text":"KUBE-IPTABLES-HINT in iptables-legacy mangle"}},"#,
                r#""ipv6":{"mode":"nft","reason":{"kind":"default","text":"no evidence, default nft"}}},"#,
                r#""warnings":[{"kind":"hint-wait-expired","text":"no kubelet hint chain appeared within 2.0 s (IPTABLES_WRAPPER_HINT_WAIT); decided without one"}],"#,
                r#""probes":[{"mode":"legacy","family":"ipv4","table":"mangle","result":"ok","rules":2,"hint":"KUBE-IPTABLES-HINT","ms":2.500,"command":"getsockopt IPT_SO_GET_ENTRIES mangle","detail":null,"source":"kernel"},"#,
                r#"{"mode":"nft","family":"ipv6","table":"all","result":"failed","rules":null,"hint":null,"ms":null,"command":"ip6tables-nft-save","detail":"said \"no\"\n","source":"process"}],"#,
                r#""native_tables":["inet kube-proxy"]}"#
            )
        );
        let summary = Summary::of(&d);
        let back = Summary::from_json(&crate::json::parse(&json(&d)).unwrap()).unwrap();
        assert_eq!(back, summary, "detect --json reads back as its summary");
    }
}
