//! How a decision is shown to people and programs: one line of text, or a
//! JSON object for `detect --json`. JSON is written by hand; the format is
//! small and fixed, and a serialisation crate would double the binary.

use std::fmt::Write;
use std::path::Path;

use crate::detect::{Decision, Outcome};

/// `nft (KUBE-IPTABLES-HINT in iptables-nft mangle)`
pub fn line(d: &Decision) -> String {
    format!("{} ({})", d.mode, d.reason)
}

pub fn json(d: &Decision, dir: &Path) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\"mode\":{},\"reason\":{},\"dir\":{},\"probes\":[",
        quote(d.mode.as_str()),
        quote(&d.reason),
        quote(&dir.to_string_lossy())
    );
    for (i, (probe, outcome)) in d.probes.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"command\":{},", quote(&probe.to_string()));
        let _ = match outcome {
            Outcome::Done { scan, elapsed } => write!(
                s,
                "\"result\":\"ok\",\"rules\":{},\"hint\":{},\"ms\":{:.1}}}",
                scan.rules,
                scan.hint.map_or("null".to_string(), quote),
                elapsed.as_secs_f64() * 1000.0
            ),
            Outcome::Failed(why) => write!(s, "\"result\":\"failed\",\"detail\":{}}}", quote(why)),
            Outcome::TimedOut(after) => {
                write!(
                    s,
                    "\"result\":\"timeout\",\"ms\":{:.1}}}",
                    after.as_secs_f64() * 1000.0
                )
            }
            Outcome::NotRun(why) => write!(s, "\"result\":\"not-run\",\"detail\":{}}}", quote(why)),
        };
    }
    s.push_str("]}");
    s
}

/// A JSON string literal.
fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Probe;
    use crate::names::{Family, Mode};
    use crate::scan::Scan;
    use std::time::Duration;

    #[test]
    fn json_shape() {
        let d = Decision {
            mode: Mode::Legacy,
            reason: "KUBE-IPTABLES-HINT in iptables-legacy mangle".into(),
            probes: vec![
                (
                    Probe::hint(Mode::Legacy, Family::V4),
                    Outcome::Done {
                        scan: Scan {
                            rules: 2,
                            hint: Some("KUBE-IPTABLES-HINT"),
                        },
                        elapsed: Duration::from_micros(2500),
                    },
                ),
                (
                    Probe::hint(Mode::Nft, Family::V6),
                    Outcome::Failed("said \"no\"\n".into()),
                ),
                (
                    Probe::full(Mode::Nft, Family::V4),
                    Outcome::TimedOut(Duration::from_secs(5)),
                ),
                (
                    Probe::hint(Mode::Legacy, Family::V6),
                    Outcome::NotRun("mangle not listed".into()),
                ),
            ],
        };
        assert_eq!(
            line(&d),
            "legacy (KUBE-IPTABLES-HINT in iptables-legacy mangle)"
        );
        assert_eq!(
            json(&d, Path::new("/usr/sbin")),
            concat!(
                r#"{"mode":"legacy","reason":"KUBE-IPTABLES-HINT in iptables-legacy mangle","dir":"/usr/sbin","probes":["#,
                r#"{"command":"iptables-legacy-save -t mangle","result":"ok","rules":2,"hint":"KUBE-IPTABLES-HINT","ms":2.5},"#,
                r#"{"command":"ip6tables-nft -t mangle -S","result":"failed","detail":"said \"no\"\n"},"#,
                r#"{"command":"iptables-nft-save","result":"timeout","ms":5000.0},"#,
                r#"{"command":"ip6tables-legacy-save -t mangle","result":"not-run","detail":"mangle not listed"}]}"#
            )
        );
        assert_eq!(quote("\u{1}"), "\"\\u0001\"");
    }
}
