//! How a decision is shown to people and programs: text lines, or a JSON
//! object for `detect --json`. Both are rendered from the decision's types
//! ([`Reason`], [`Warning`], [`Observation`]); nothing here decides. JSON is
//! written by hand: the format is small and fixed, and a serialisation
//! crate would double the binary.

use std::fmt::Write;

use crate::detect::{Answer, Decision, Observation, Overall, Reason};
use crate::names::Family;

/// The decision on one line:
/// - `nft (KUBE-IPTABLES-HINT in iptables-nft mangle)` when both families
///   agree for the same reason;
/// - `legacy (ipv4: ...; ipv6: ...)` when they agree for different reasons;
/// - `split (ipv4 legacy: ...; ipv6 nft: ...)` when they differ.
pub fn line(d: &Decision) -> String {
    let (v4, v6) = (d.family(Family::V4), d.family(Family::V6));
    match d.overall() {
        Overall::Same(mode) if v4.reason == v6.reason => format!("{mode} ({})", v4.reason),
        Overall::Same(mode) => format!("{mode} (ipv4: {}; ipv6: {})", v4.reason, v6.reason),
        Overall::Split => format!(
            "split (ipv4 {}: {}; ipv6 {}: {})",
            v4.mode, v4.reason, v6.mode, v6.reason
        ),
    }
}

/// `detect`'s text: the decision line, then a `warning: ...` line each.
pub fn text(d: &Decision) -> String {
    let mut s = line(d);
    for w in &d.warnings {
        let _ = write!(s, "\nwarning: {w}");
    }
    s
}

fn overall(d: &Decision) -> &'static str {
    match d.overall() {
        Overall::Same(m) => m.as_str(),
        Overall::Split => "split",
    }
}

fn kind_text(kind: &str, text: &str) -> String {
    format!("{{\"kind\":{},\"text\":{}}}", quote(kind), quote(text))
}

fn reason(r: &Reason) -> String {
    kind_text(r.kind(), &r.to_string())
}

pub fn json(d: &Decision) -> String {
    let mut s = format!("{{\"mode\":{},\"families\":{{", quote(overall(d)));
    for (i, f) in Family::ALL.into_iter().enumerate() {
        let c = d.family(f);
        let _ = write!(
            s,
            "{}{}:{{\"mode\":{},\"reason\":{}}}",
            if i > 0 { "," } else { "" },
            quote(f.as_str()),
            quote(c.mode.as_str()),
            reason(&c.reason)
        );
    }
    s.push_str("},\"warnings\":[");
    let warnings: Vec<String> = d
        .warnings
        .iter()
        .map(|w| kind_text(w.kind(), &w.to_string()))
        .collect();
    s.push_str(&warnings.join(","));
    s.push_str("],\"probes\":[");
    let probes: Vec<String> = d.probes.iter().map(probe).collect();
    s.push_str(&probes.join(","));
    s.push_str("],\"native_tables\":");
    match &d.native_tables {
        Some(t) => {
            let items: Vec<String> = t.iter().map(|n| quote(n)).collect();
            let _ = write!(s, "[{}]", items.join(","));
        }
        None => s.push_str("null"),
    }
    s.push('}');
    s
}

fn probe(o: &Observation) -> String {
    let (result, rules, hint) = match &o.answer {
        // `detect` always counts exactly; a first call's bound would show
        // its lower end, and its detail says where counting stopped.
        Answer::Found { rules, hint } => (
            "ok",
            rules.at_least.to_string(),
            hint.map_or("null".into(), quote),
        ),
        Answer::Failed | Answer::NftUnusable(_) => ("failed", "null".into(), "null".into()),
        Answer::TimedOut => ("timed-out", "null".into(), "null".into()),
        Answer::NotRun => ("not-run", "null".into(), "null".into()),
    };
    let ms = o.elapsed.map_or("null".into(), |e| {
        format!("{:.3}", e.as_secs_f64() * 1000.0)
    });
    format!(
        "{{\"mode\":{},\"family\":{},\"table\":{},\"result\":{},\"rules\":{rules},\"hint\":{hint},\"ms\":{ms},\"command\":{},\"detail\":{},\"source\":{}}}",
        quote(o.probe.mode.as_str()),
        quote(o.probe.family.as_str()),
        quote(o.probe.table.as_str()),
        quote(result),
        quote(&o.command),
        o.detail.as_deref().map_or("null".into(), quote),
        quote(o.source.as_str()),
    )
}

/// A JSON string literal.
pub fn quote(v: &str) -> String {
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
    use crate::detect::{Choice, Probe, Source, Warning};
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
        assert_eq!(quote("\u{1}"), "\"\\u0001\"");
    }
}
