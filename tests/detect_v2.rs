//! Detection version 2 (issue 8) on the real kernel, each scenario in a
//! throwaway Debian root file system (bookworm and trixie, see
//! tests/sandbox.sh), in both layouts: Debian's alternatives (`install`) and
//! plain links (`install --symlinks`).
//!
//! Covers: a kernel without nf_tables (simulated with tests/seccomp/deny.c,
//! which makes `socket(AF_NETLINK, *, NETLINK_NETFILTER)` fail for the
//! wrapper and everything it runs); waiting for a hint that appears after
//! the first call has started (`IPTABLES_WRAPPER_HINT_WAIT`); IPv4 and IPv6
//! on different back ends; every warning kind in the text and the JSON;
//! case-insensitive `IPTABLES_WRAPPER_MODE`; `verify` in every state; a
//! call without `CAP_NET_ADMIN`/`CAP_NET_RAW` (`probes-refused`, the names
//! left as they were); and operator hint chains
//! (`IPTABLES_WRAPPER_HINT_CHAINS`), good and bad.
//!
//! Each scenario is a shell script that prints `KEY=value` lines; the Rust
//! side asserts what a user sees: exit statuses, which back end holds the
//! rules, where the names lead, and the reason and warning kinds of
//! `detect --json` (parsed with serde_json). Scenarios run through
//! `common::each`, so every failing one is reported, not just the first.

mod common;

use common::{
    cases, each, expect, expect_version, lines, resolved, Layout, Mode, Run, Target, NAMES,
};
use serde_json::Value;
use std::fmt;

/// Runs `body` in a sandbox of `suite` after installing the wrapper in
/// `layout`, with the seccomp tool at /usr/local/bin/deny.
fn run(suite: &str, layout: Layout, body: &str) -> Run {
    common::installed(
        suite,
        layout,
        body,
        &[(common::deny(), "/usr/local/bin/deny")],
    )
}

fn millis(run: &Run, key: &str) -> u64 {
    run.get(&format!("{key}_MS")).parse().expect("a number")
}

// ---------------------------------------------------------------------------
// detect --json

const REASON_KINDS: [&str; 8] = [
    "override",
    "only-installed",
    "nft-unusable",
    "hint",
    "other-family-hint",
    "rule-count",
    "tie",
    "default",
];
const WARNING_KINDS: [&str; 7] = [
    "stranded-rules",
    "override-mismatch",
    "split-not-possible",
    "hint-wait-expired",
    "legacy-maybe-missing",
    "native-nftables",
    "probes-refused",
];

/// `detect --json`'s document, printed by `call KEY`, checked against the
/// contract's shape: every field present with a value of the right kind.
fn detect_json(run: &Run, key: &str) -> Value {
    expect(run, &format!("{key}_RC"), "0");
    let text = run.get(&format!("{key}_OUT"));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{key}: not JSON ({e}): {text}\n{run}"));
    let one_of = |v: &Value, allowed: &[&str], what: &str| {
        let s = v
            .as_str()
            .unwrap_or_else(|| panic!("{key}: {what} is {v}, not a string: {text}"));
        assert!(
            allowed.contains(&s),
            "{key}: {what} {s:?} is not one of {allowed:?}: {text}"
        );
    };
    one_of(&doc["mode"], &["legacy", "nft", "split"], "mode");
    for family in ["ipv4", "ipv6"] {
        let f = &doc["families"][family];
        one_of(&f["mode"], &["legacy", "nft"], "a family's mode");
        one_of(&f["reason"]["kind"], &REASON_KINDS, "a reason kind");
        assert!(f["reason"]["text"].is_string(), "{key}: {family}: {text}");
    }
    let (m4, m6) = (family_mode(&doc, "ipv4"), family_mode(&doc, "ipv6"));
    let top = if m4 == m6 { m4 } else { "split" };
    assert_eq!(
        doc["mode"], top,
        "{key}: mode and families disagree: {text}"
    );
    let warnings = doc["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("{key}: warnings is not an array: {text}"));
    for w in warnings {
        one_of(&w["kind"], &WARNING_KINDS, "a warning kind");
        assert!(w["text"].is_string(), "{key}: warning text: {text}");
    }
    let probes = doc["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("{key}: probes is not an array: {text}"));
    for p in probes {
        one_of(&p["mode"], &["legacy", "nft"], "a probe's mode");
        one_of(&p["family"], &["ipv4", "ipv6"], "a probe's family");
        one_of(&p["table"], &["mangle", "all"], "a probe's table");
        one_of(
            &p["result"],
            &["ok", "failed", "timed-out", "not-run"],
            "a probe's result",
        );
        assert!(p["command"].is_string(), "{key}: probe command: {text}");
        assert!(
            p["rules"].is_null() || p["rules"].is_u64(),
            "{key}: rules: {text}"
        );
        assert!(
            p["hint"].is_null() || p["hint"].is_string(),
            "{key}: hint: {text}"
        );
        assert!(
            p["ms"].is_null() || p["ms"].is_number(),
            "{key}: ms: {text}"
        );
        assert!(
            p["detail"].is_null() || p["detail"].is_string(),
            "{key}: detail: {text}"
        );
        if let Some(source) = p.get("source") {
            one_of(source, &["process", "kernel"], "a probe's source");
        }
    }
    doc
}

fn family_mode<'a>(doc: &'a Value, family: &str) -> &'a str {
    doc["families"][family]["mode"].as_str().unwrap_or_default()
}

fn reason_kind<'a>(doc: &'a Value, family: &str) -> &'a str {
    doc["families"][family]["reason"]["kind"]
        .as_str()
        .unwrap_or_default()
}

fn reason_text<'a>(doc: &'a Value, family: &str) -> &'a str {
    doc["families"][family]["reason"]["text"]
        .as_str()
        .unwrap_or_default()
}

fn warning_kinds(doc: &Value) -> Vec<&str> {
    doc["warnings"]
        .as_array()
        .map(|a| a.iter().filter_map(|w| w["kind"].as_str()).collect())
        .unwrap_or_default()
}

fn warning_texts<'a>(doc: &'a Value, kind: &str) -> Vec<&'a str> {
    doc["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|w| w["kind"] == kind)
                .filter_map(|w| w["text"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts a family's mode, reason kind and (when given) reason text.
fn expect_family(doc: &Value, family: &str, mode: Mode, kind: &str, text: Option<&str>) {
    assert_eq!(
        (family_mode(doc, family), reason_kind(doc, family)),
        (mode.as_str(), kind),
        "{family}: mode and reason kind in {doc}"
    );
    if let Some(text) = text {
        assert_eq!(reason_text(doc, family), text, "{family}: reason in {doc}");
    }
}

/// The decision line the contract renders from a document: `legacy (r)`,
/// `legacy (ipv4: r4; ipv6: r6)` or `split (ipv4 legacy: r4; ipv6 nft: r6)`.
fn decision_line(doc: &Value) -> String {
    let (m4, m6) = (family_mode(doc, "ipv4"), family_mode(doc, "ipv6"));
    let (t4, t6) = (reason_text(doc, "ipv4"), reason_text(doc, "ipv6"));
    if m4 != m6 {
        format!("split (ipv4 {m4}: {t4}; ipv6 {m6}: {t6})")
    } else if t4 == t6 {
        format!("{m4} ({t4})")
    } else {
        format!("{m4} (ipv4: {t4}; ipv6: {t6})")
    }
}

/// Asserts that `detect`'s text output (printed by `call KEY`) is the
/// decision line and one `warning: TEXT` line per warning of `doc`: the
/// text and the JSON say the same thing.
fn expect_detect_text(run: &Run, key: &str, doc: &Value) {
    expect(run, &format!("{key}_RC"), "0");
    let mut want = vec![decision_line(doc)];
    for w in doc["warnings"].as_array().into_iter().flatten() {
        want.push(format!(
            "warning: {}",
            w["text"].as_str().unwrap_or_default()
        ));
    }
    assert_eq!(
        lines(run, &format!("{key}_OUT")),
        want,
        "{key}: the text does not match detect --json {doc}\n{run}"
    );
}

/// The `iptables-wrapper: warning: ...` lines of a first call's stderr.
fn stderr_warnings(run: &Run, key: &str) -> Vec<String> {
    lines(run, key)
        .into_iter()
        .filter_map(|l| {
            l.strip_prefix("iptables-wrapper: warning: ")
                .map(String::from)
        })
        .collect()
}

/// Asserts that every stderr line of a first call (KEY) comes from the
/// wrapper, that its warnings are among `detect`'s, and that it shows the
/// warnings of kinds `must` (their texts as `detect` gave them).
fn expect_first_call_warnings(run: &Run, key: &str, doc: &Value, must: &[&str]) {
    let all: Vec<&str> = doc["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["text"].as_str())
        .collect();
    for l in lines(run, key) {
        assert!(
            l.starts_with("iptables-wrapper: "),
            "{key}: a line not from the wrapper: {l:?}\n{run}"
        );
    }
    let shown = stderr_warnings(run, key);
    for (i, s) in shown.iter().enumerate() {
        assert!(
            !shown[..i].contains(s),
            "{key}: warning {s:?} shown twice\n{run}"
        );
    }
    for s in &shown {
        assert!(
            all.contains(&s.as_str()),
            "{key}: warning {s:?} is not among detect's {all:?}\n{run}"
        );
    }
    for kind in must {
        let texts = warning_texts(doc, kind);
        assert!(!texts.is_empty(), "detect shows no {kind} warning: {doc}");
        for t in texts {
            assert!(
                shown.iter().any(|s| s == t),
                "{key}: the first call does not show the {kind} warning {t:?}\n{run}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 1. A kernel without nf_tables: every nft probe fails with "Protocol not
// supported". Legacy is the only back end that works, so the first call
// must choose it, whether the host has legacy rules or nothing at all.

#[derive(Clone)]
struct NoNft {
    name: &'static str,
    setup: &'static str,
    warnings: &'static [&'static str],
    /// IPTABLES_WRAPPER_PROBES, or "" for the default.
    probes: &'static str,
}

impl fmt::Display for NoNft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no nf_tables, {}", self.name)?;
        if !self.probes.is_empty() {
            write!(f, ", IPTABLES_WRAPPER_PROBES={}", self.probes)?;
        }
        Ok(())
    }
}

#[test]
fn kernel_without_nf_tables_chooses_legacy() {
    const RULE: &str = "-A INPUT -s 10.0.0.1/32 -j DROP";
    let mut scenarios = Vec::new();
    for probes in ["", "process", "kernel"] {
        scenarios.push(NoNft {
            name: "empty host",
            setup: "",
            // Legacy chosen while /proc lists no x_tables at all.
            warnings: &["legacy-maybe-missing"],
            probes,
        });
        scenarios.push(NoNft {
            name: "legacy rules, no hint",
            setup: "rules legacy iptables 3; rules legacy ip6tables 1",
            warnings: &[],
            probes,
        });
    }
    each(cases(&scenarios), |c| {
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "{}
                 if [ -n '{probes}' ]; then export IPTABLES_WRAPPER_PROBES='{probes}'; fi
                 legacy_tables TABLES
                 call JSON deny nft-eprotonosupport -- $w detect --json
                 call DETECT deny nft-eprotonosupport -- $w detect
                 call FIRST deny nft-eprotonosupport -- env IPTABLES_WRAPPER_DEBUG=1 iptables -A INPUT -s 10.0.0.1 -j DROP
                 count_rule RULE '{RULE}'
                 resolved
                 links AFTER
                 call V6 deny nft-eprotonosupport -- ip6tables -V",
                c.what.setup,
                probes = c.what.probes
            ),
        );
        let doc = detect_json(&run, "JSON");
        for family in ["ipv4", "ipv6"] {
            expect_family(&doc, family, Mode::Legacy, "nft-unusable", None);
            assert!(
                reason_text(&doc, family).contains("Protocol not supported"),
                "{family}: the reason should carry the error line\n{run}"
            );
        }
        assert_eq!(warning_kinds(&doc), c.what.warnings, "warnings in {doc}");
        let probes = doc["probes"].as_array().cloned().unwrap_or_default();
        assert!(
            probes
                .iter()
                .any(|p| p["mode"] == "nft" && p["result"] == "failed"),
            "no failed nft probe reported: {doc}"
        );
        if c.what.probes == "process" {
            assert!(
                probes
                    .iter()
                    .all(|p| p.get("source").is_none() || p["source"] == "process"),
                "IPTABLES_WRAPPER_PROBES=process, yet a probe did not run a process: {doc}"
            );
        }
        expect_detect_text(&run, "DETECT", &doc);

        // The first call lands the rule in legacy, and the names lead there.
        expect(&run, "FIRST_RC", "0");
        let err = lines(&run, "FIRST_ERR");
        assert_eq!(
            err.first().cloned(),
            Some(format!("iptables-wrapper: {}", decision_line(&doc))),
            "the first call's decision\n{run}"
        );
        expect_first_call_warnings(&run, "FIRST_ERR", &doc, &[]);
        expect(&run, "RULE_LEGACY", "1");
        expect(&run, "RULE_NFT", "0");
        expect(&run, "RESOLVED", &resolved(Mode::Legacy, Mode::Legacy));
        let legacy = Target::Mode(Mode::Legacy);
        expect(&run, "AFTER", &c.layout.links(legacy, legacy));
        expect_version(&run, "V6", Mode::Legacy);
        // Last, so that it hides no other failure: the reason is
        // `nf_tables unusable in this kernel: <the error line>`. From a
        // process, the line iptables printed (`iptables: Failed to initialize
        // nft: Protocol not supported`); from the kernel source, the refused
        // socket's error, said once.
        for family in ["ipv4", "ipv6"] {
            let text = reason_text(&doc, family);
            let line = text
                .strip_prefix("nf_tables unusable in this kernel: ")
                .unwrap_or_else(|| panic!("{family}: {text:?}\n{run}"));
            if c.what.probes == "process" {
                assert!(
                    line.starts_with("ip")
                        && line.ends_with("Failed to initialize nft: Protocol not supported"),
                    "{family}: the reason should carry iptables' error line, \
                     as iptables printed it: {text:?}\n{run}"
                );
            } else {
                assert!(
                    line.contains("Protocol not supported") && !line.contains("in this kernel"),
                    "{family}: the reason should carry the socket's error, \
                     without saying twice that nf_tables is missing: {text:?}\n{run}"
                );
            }
        }
    });
}

// 1b. nft refused for another reason (EPERM, as a seccomp profile or a
// missing capability would) is unknown evidence, not a kernel without
// nf_tables.
#[test]
fn netlink_refused_with_eperm_is_not_nf_tables_unusable() {
    let scenarios = ["empty host", "legacy rules, no hint"];
    each(cases(&scenarios), |c| {
        let setup = if c.what == "empty host" {
            ""
        } else {
            "rules legacy iptables 3"
        };
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "{setup}
                 call JSON deny netlink-eperm -- $w detect --json"
            ),
        );
        let doc = detect_json(&run, "JSON");
        for family in ["ipv4", "ipv6"] {
            assert_ne!(
                reason_kind(&doc, family),
                "nft-unusable",
                "{family}: EPERM is not a kernel without nf_tables: {doc}"
            );
        }
        if setup.is_empty() {
            expect_family(&doc, "ipv4", Mode::Nft, "default", None);
            expect_family(&doc, "ipv6", Mode::Nft, "default", None);
        }
    });
}

// 1c. Which failures of nft count as "unusable": the kernel's answers only.
// A stand-in xtables-nft-multi prints what iptables prints in each case
// (probes forced to run processes, so the stand-in answers them).

#[derive(Clone)]
struct NftFails {
    name: &'static str,
    /// The stand-in's body.
    script: &'static str,
    /// The error line when it means "unusable", else "".
    unusable: &'static str,
}

impl fmt::Display for NftFails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nft {}", self.name)
    }
}

#[test]
fn only_the_kernels_answers_make_nft_unusable() {
    let scenarios = [
        NftFails {
            name: "cannot fetch the generation id (older kernels)",
            script: "echo \"iptables: Could not fetch rule set generation id: Invalid argument\" >&2; exit 1",
            unusable: "iptables: Could not fetch rule set generation id: Invalid argument",
        },
        NftFails {
            name: "times out",
            script: "exec sleep 1000",
            unusable: "",
        },
        NftFails {
            name: "fails for another reason",
            script: "echo \"iptables: Permission denied (you must be root).\" >&2; exit 4",
            unusable: "",
        },
    ];
    each(cases(&scenarios), |c| {
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "rules legacy iptables 2
                 printf '#!/bin/sh\\n%s\\n' '{}' >/usr/sbin/xtables-nft-multi.new
                 chmod +x /usr/sbin/xtables-nft-multi.new
                 mv /usr/sbin/xtables-nft-multi.new /usr/sbin/xtables-nft-multi
                 export IPTABLES_WRAPPER_PROBES=process IPTABLES_WRAPPER_PROBE_TIMEOUT=0.5
                 call JSON $w detect --json",
                c.what.script
            ),
        );
        let doc = detect_json(&run, "JSON");
        for family in ["ipv4", "ipv6"] {
            if c.what.unusable.is_empty() {
                assert_ne!(
                    reason_kind(&doc, family),
                    "nft-unusable",
                    "{family}: not a kernel answer, so unknown evidence: {doc}"
                );
            } else {
                let want = format!("nf_tables unusable in this kernel: {}", c.what.unusable);
                expect_family(&doc, family, Mode::Legacy, "nft-unusable", Some(&want));
            }
        }
    });
}

// ---------------------------------------------------------------------------
// 2. A hint that the kubelet creates one second after the first call
// started. More legacy rules than nft rules, so counting picks legacy.

const LATE_HINT: &str = "(sleep 1; iptables-nft -t mangle -N KUBE-IPTABLES-HINT) &";

#[test]
fn hint_wait_catches_a_late_hint() {
    each(cases(&["IPTABLES_WRAPPER_HINT_WAIT=5"]), |c| {
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "rules legacy iptables 3; rules nft iptables 1
                 {LATE_HINT}
                 call JSON env IPTABLES_WRAPPER_HINT_WAIT=5 $w detect --json
                 wait
                 iptables-nft -t mangle -X KUBE-IPTABLES-HINT
                 {LATE_HINT}
                 call FIRST env IPTABLES_WRAPPER_HINT_WAIT=5 IPTABLES_WRAPPER_DEBUG=1 iptables -V
                 wait
                 resolved
                 links AFTER"
            ),
        );
        let doc = detect_json(&run, "JSON");
        let hint = "KUBE-IPTABLES-HINT in iptables-nft mangle";
        expect_family(&doc, "ipv4", Mode::Nft, "hint", Some(hint));
        let follows = format!("no hint of its own; follows {hint}");
        expect_family(&doc, "ipv6", Mode::Nft, "other-family-hint", Some(&follows));
        assert!(
            !warning_kinds(&doc).contains(&"hint-wait-expired"),
            "the hint came in time: {doc}"
        );
        // The 3 legacy rules are now ignored.
        assert!(
            warning_kinds(&doc).contains(&"stranded-rules"),
            "legacy's rules are stranded: {doc}"
        );
        for key in ["JSON", "FIRST"] {
            let ms = millis(&run, key);
            assert!(
                (800..4500).contains(&ms),
                "{key} took {ms} ms: it should wait about 1 s for the hint\n{run}"
            );
        }
        expect_version(&run, "FIRST", Mode::Nft);
        assert_eq!(
            lines(&run, "FIRST_ERR").first().cloned(),
            Some(format!("iptables-wrapper: {}", decision_line(&doc))),
            "the first call's decision\n{run}"
        );
        expect_first_call_warnings(&run, "FIRST_ERR", &doc, &[]);
        expect(&run, "RESOLVED", &resolved(Mode::Nft, Mode::Nft));
        let nft = Target::Mode(Mode::Nft);
        expect(&run, "AFTER", &c.layout.links(nft, nft));
    });
}

#[test]
fn without_hint_wait_the_counts_decide() {
    each(
        cases(&["no IPTABLES_WRAPPER_HINT_WAIT, hint 1 s late"]),
        |c| {
            let run = run(
                &c.suite,
                c.layout,
                &format!(
                    "rules legacy iptables 3; rules nft iptables 1
                 {LATE_HINT}
                 call JSON $w detect --json
                 call DETECT $w detect
                 call FIRST iptables -V
                 wait
                 resolved
                 links AFTER"
                ),
            );
            for key in ["JSON", "DETECT", "FIRST"] {
                assert!(
                    millis(&run, key) < 900,
                    "{key} was too slow to run before the hint appeared\n{run}"
                );
            }
            let doc = detect_json(&run, "JSON");
            let counts = "legacy 3 rules > nft 1 rule";
            expect_family(&doc, "ipv4", Mode::Legacy, "rule-count", Some(counts));
            expect_family(&doc, "ipv6", Mode::Legacy, "rule-count", Some(counts));
            // nft's one IPv4 rule is stranded.
            assert_eq!(warning_kinds(&doc), ["stranded-rules"], "{doc}");
            expect_detect_text(&run, "DETECT", &doc);
            // The first call counted, so it shows the stranded rules too.
            expect_version(&run, "FIRST", Mode::Legacy);
            expect_first_call_warnings(&run, "FIRST_ERR", &doc, &["stranded-rules"]);
            expect(&run, "RESOLVED", &resolved(Mode::Legacy, Mode::Legacy));
            let legacy = Target::Mode(Mode::Legacy);
            expect(&run, "AFTER", &c.layout.links(legacy, legacy));
        },
    );
}

#[test]
fn hint_wait_expires_and_the_counts_decide_with_a_warning() {
    each(cases(&["IPTABLES_WRAPPER_HINT_WAIT=0.5, no hint"]), |c| {
        let run = run(
            &c.suite,
            c.layout,
            "rules legacy iptables 3; rules nft iptables 1
             export IPTABLES_WRAPPER_HINT_WAIT=0.5
             call JSON $w detect --json
             call DETECT $w detect
             call FIRST iptables -V
             resolved",
        );
        let doc = detect_json(&run, "JSON");
        expect_family(&doc, "ipv4", Mode::Legacy, "rule-count", None);
        expect_family(&doc, "ipv6", Mode::Legacy, "rule-count", None);
        let mut kinds = warning_kinds(&doc);
        kinds.sort();
        assert_eq!(kinds, ["hint-wait-expired", "stranded-rules"], "{doc}");
        expect_detect_text(&run, "DETECT", &doc);
        for key in ["JSON", "DETECT", "FIRST"] {
            let ms = millis(&run, key);
            assert!(
                (450..4000).contains(&ms),
                "{key} took {ms} ms: it should wait about 0.5 s\n{run}"
            );
        }
        expect_version(&run, "FIRST", Mode::Legacy);
        expect_first_call_warnings(
            &run,
            "FIRST_ERR",
            &doc,
            &["hint-wait-expired", "stranded-rules"],
        );
        expect(&run, "RESOLVED", &resolved(Mode::Legacy, Mode::Legacy));
    });
}

#[test]
fn bad_hint_wait_is_refused_and_changes_nothing() {
    each(cases(&["x", "-1", "301"]), |c| {
        let value = c.what;
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "hint legacy iptables; rules nft iptables 2
                 links BEFORE
                 legacy_tables TABLES_BEFORE
                 rules_digest RULES_BEFORE
                 call FIRST env IPTABLES_WRAPPER_HINT_WAIT='{value}' iptables -V
                 call DETECT env IPTABLES_WRAPPER_HINT_WAIT='{value}' $w detect
                 call JSON env IPTABLES_WRAPPER_HINT_WAIT='{value}' $w detect --json
                 links AFTER
                 legacy_tables TABLES_AFTER
                 rules_digest RULES_AFTER"
            ),
        );
        for key in ["FIRST", "DETECT", "JSON"] {
            expect(&run, &format!("{key}_RC"), "2");
            expect(&run, &format!("{key}_OUT"), "");
            let err = run.get(&format!("{key}_ERR"));
            assert!(
                err.starts_with("iptables-wrapper: IPTABLES_WRAPPER_HINT_WAIT="),
                "{key}: stderr should name the setting\n{run}"
            );
            assert!(
                !err.contains("usage"),
                "{key}: a bad setting is not a usage error\n{run}"
            );
        }
        expect(&run, "AFTER", &run.get("BEFORE"));
        expect(&run, "TABLES_AFTER", &run.get("TABLES_BEFORE"));
        expect(&run, "RULES_AFTER", &run.get("RULES_BEFORE"));
    });
}

// ---------------------------------------------------------------------------
// 2c. IPTABLES_WRAPPER_HINT_CHAINS: an operator's own chain names count as
// hints, after the kubelet's, from every source (the kernel's chain lookup
// and x_tables walk, and the iptables commands' output).

/// 28 characters, the longest name iptables takes.
const MY_HINT: &str = "CILIUM-CANARY-OF-28-CHARS-XY";

#[derive(Clone)]
struct MyHint {
    mode: Mode,
    /// IPTABLES_WRAPPER_PROBES.
    probes: &'static str,
}

impl fmt::Display for MyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "operator hint in {}, probes {}",
            self.mode.as_str(),
            self.probes
        )
    }
}

#[test]
fn operator_hint_chains_decide_in_each_mode() {
    assert_eq!(MY_HINT.len(), 28);
    let what: Vec<MyHint> = [Mode::Legacy, Mode::Nft]
        .into_iter()
        .flat_map(|mode| ["auto", "process"].map(|probes| MyHint { mode, probes }))
        .collect();
    each(cases(&what), |c| {
        let (mode, other) = (c.what.mode.as_str(), c.what.mode.other().as_str());
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "hint {mode} iptables {MY_HINT}
                 rules {other} iptables 3
                 export IPTABLES_WRAPPER_PROBES={probes}
                 call PLAIN $w detect --json
                 export IPTABLES_WRAPPER_HINT_CHAINS=OTHER-CANARY,{MY_HINT}
                 call JSON $w detect --json
                 call FIRST iptables -V
                 resolved",
                probes = c.what.probes
            ),
        );
        // Without the setting the chain is just a chain: the counts decide.
        let plain = detect_json(&run, "PLAIN");
        expect_family(&plain, "ipv4", c.what.mode.other(), "rule-count", None);
        let doc = detect_json(&run, "JSON");
        expect_family(
            &doc,
            "ipv4",
            c.what.mode,
            "hint",
            Some(&format!("{MY_HINT} in iptables-{mode} mangle")),
        );
        expect_family(&doc, "ipv6", c.what.mode, "other-family-hint", None);
        let matched: Vec<&Value> = doc["probes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["hint"] == MY_HINT)
            .collect();
        assert_eq!(matched.len(), 1, "one probe found {MY_HINT}: {doc}");
        assert_eq!(
            (
                &matched[0]["mode"],
                &matched[0]["family"],
                &matched[0]["table"]
            ),
            (&mode.into(), &"ipv4".into(), &"mangle".into()),
            "{doc}"
        );
        let source = if c.what.probes == "process" {
            "process"
        } else {
            "kernel"
        };
        assert_eq!(matched[0]["source"], source, "{doc}");
        expect_version(&run, "FIRST", c.what.mode);
        expect(&run, "RESOLVED", &resolved(c.what.mode, c.what.mode));
    });
}

#[test]
fn bad_hint_chains_are_refused_and_change_nothing() {
    let bad = [
        "MY-CANARY,,OTHER",
        "CILIUM-CANARY-OF-29-CHARS-XYZ",
        "-MY-CANARY",
        "MY CANARY",
        "ACCEPT",
        "INPUT",
    ];
    each(cases(&bad), |c| {
        let value = c.what;
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "hint legacy iptables
                 links BEFORE
                 legacy_tables TABLES_BEFORE
                 rules_digest RULES_BEFORE
                 call FIRST env IPTABLES_WRAPPER_HINT_CHAINS='{value}' iptables -V
                 call DETECT env IPTABLES_WRAPPER_HINT_CHAINS='{value}' $w detect
                 links AFTER
                 legacy_tables TABLES_AFTER
                 rules_digest RULES_AFTER"
            ),
        );
        for key in ["FIRST", "DETECT"] {
            expect(&run, &format!("{key}_RC"), "2");
            expect(&run, &format!("{key}_OUT"), "");
            let err = run.get(&format!("{key}_ERR"));
            assert!(
                err.starts_with(&format!(
                    "iptables-wrapper: IPTABLES_WRAPPER_HINT_CHAINS={value:?}: "
                )),
                "{key}: stderr should name the setting and its value\n{run}"
            );
            assert!(!err.contains("usage"), "{key}: not a usage error\n{run}");
        }
        expect(&run, "AFTER", &run.get("BEFORE"));
        expect(&run, "TABLES_AFTER", &run.get("TABLES_BEFORE"));
        expect(&run, "RULES_AFTER", &run.get("RULES_BEFORE"));
    });
}

// The bounds themselves are accepted: 300 (the maximum) and 0.25 return at
// once when a hint is there.
#[test]
fn hint_wait_bounds_are_accepted() {
    each(cases(&["300", "0.25", "0"]), |c| {
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "hint legacy iptables
                 call JSON env IPTABLES_WRAPPER_HINT_WAIT={v} $w detect --json
                 call FIRST env IPTABLES_WRAPPER_HINT_WAIT={v} iptables -V",
                v = c.what
            ),
        );
        let doc = detect_json(&run, "JSON");
        expect_family(&doc, "ipv4", Mode::Legacy, "hint", None);
        expect_version(&run, "FIRST", Mode::Legacy);
        assert!(millis(&run, "FIRST") < 2000, "no wait with a hint\n{run}");
    });
}

// ---------------------------------------------------------------------------
// 3. IPv4's hint in legacy, IPv6's in nft: each family gets its own mode.

#[test]
fn families_on_different_back_ends_are_switched_apart() {
    let firsts = ["ip6tables -t mangle -S", "iptables -V"];
    each(cases(&firsts), |c| {
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "hint legacy iptables; hint nft ip6tables
                 call JSON $w detect --json
                 call DETECT $w detect
                 call FIRST env IPTABLES_WRAPPER_DEBUG=1 {}
                 resolved
                 links AFTER
                 echo \"ALT_V4=$(readlink /etc/alternatives/iptables || true)\"
                 echo \"ALT_V6=$(readlink /etc/alternatives/ip6tables || true)\"
                 call V4 iptables -V
                 call V6 ip6tables -V",
                c.what
            ),
        );
        let doc = detect_json(&run, "JSON");
        assert_eq!(doc["mode"], "split", "{doc}");
        expect_family(
            &doc,
            "ipv4",
            Mode::Legacy,
            "hint",
            Some("KUBE-IPTABLES-HINT in iptables-legacy mangle"),
        );
        expect_family(
            &doc,
            "ipv6",
            Mode::Nft,
            "hint",
            Some("KUBE-IPTABLES-HINT in ip6tables-nft mangle"),
        );
        assert_eq!(warning_kinds(&doc), Vec::<&str>::new(), "{doc}");
        expect_detect_text(&run, "DETECT", &doc);
        assert_eq!(
            lines(&run, "DETECT_OUT").first().map(String::as_str),
            Some(
                "split (ipv4 legacy: KUBE-IPTABLES-HINT in iptables-legacy mangle; \
                 ipv6 nft: KUBE-IPTABLES-HINT in ip6tables-nft mangle)"
            ),
            "{run}"
        );

        // The first call runs its own family's mode.
        expect(&run, "FIRST_RC", "0");
        let out = run.get("FIRST_OUT");
        if c.what.starts_with("ip6tables") {
            // Only nft's IPv6 mangle holds the hint chain.
            assert!(
                out.contains("-N KUBE-IPTABLES-HINT"),
                "ip6tables should have run nft: {out:?}\n{run}"
            );
        } else {
            expect_version(&run, "FIRST", Mode::Legacy);
        }
        assert_eq!(
            lines(&run, "FIRST_ERR").first().cloned(),
            Some(format!("iptables-wrapper: {}", decision_line(&doc))),
            "the first call's decision\n{run}"
        );
        expect(&run, "RESOLVED", &resolved(Mode::Legacy, Mode::Nft));
        let (legacy, nft) = (Target::Mode(Mode::Legacy), Target::Mode(Mode::Nft));
        expect(&run, "AFTER", &c.layout.links(legacy, nft));
        if c.layout == Layout::Alternatives {
            expect(&run, "ALT_V4", "/usr/sbin/iptables-legacy");
            expect(&run, "ALT_V6", "/usr/sbin/ip6tables-nft");
        }
        expect_version(&run, "V4", Mode::Legacy);
        expect_version(&run, "V6", Mode::Nft);
    });
}

// ---------------------------------------------------------------------------
// 4. Every warning kind (but split-not-possible, covered by the Fedora-layout
// image test, and hint-wait-expired, above), in the text and the JSON.

#[derive(Clone)]
struct Warn {
    name: &'static str,
    setup: &'static str,
    /// The environment of `detect` and the first call.
    env: &'static str,
    mode: Mode,
    kind: &'static str,
    /// The warning kinds `detect` must show, exactly (sorted).
    warnings: &'static [&'static str],
    /// Of those, the ones the first call must show too.
    first_call: &'static [&'static str],
}

impl fmt::Display for Warn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

const WARNS: &[Warn] = &[
    Warn {
        name: "stranded legacy rules in both families, hint in nft",
        setup: "hint nft iptables; rules legacy iptables 3; rules legacy ip6tables 2",
        env: "",
        mode: Mode::Nft,
        kind: "",
        warnings: &["stranded-rules", "stranded-rules"],
        first_call: &[],
    },
    Warn {
        name: "stranded nft rules, the counts decide",
        setup: "rules legacy iptables 3; rules nft iptables 1",
        env: "",
        mode: Mode::Legacy,
        kind: "rule-count",
        warnings: &["stranded-rules"],
        first_call: &["stranded-rules"],
    },
    Warn {
        name: "IPTABLES_WRAPPER_MODE=nft with the hint in legacy",
        setup: "hint legacy iptables",
        env: "IPTABLES_WRAPPER_MODE=nft",
        mode: Mode::Nft,
        kind: "override",
        // One per family: IPv4's own hint, and IPv6 following it.
        warnings: &["override-mismatch", "override-mismatch"],
        first_call: &[],
    },
    Warn {
        name: "IPTABLES_WRAPPER_MODE=legacy, hint in nft for IPv4 only",
        setup: "hint nft iptables; hint legacy ip6tables",
        env: "IPTABLES_WRAPPER_MODE=legacy",
        mode: Mode::Legacy,
        kind: "override",
        // IPv6's own hint agrees with the override.
        warnings: &["override-mismatch"],
        first_call: &[],
    },
    Warn {
        name: "IPTABLES_WRAPPER_MODE=legacy on an empty namespace",
        setup: "",
        env: "IPTABLES_WRAPPER_MODE=legacy",
        mode: Mode::Legacy,
        kind: "override",
        // Detection would pick nft by default for both families: that
        // disagrees too.
        warnings: &[
            "legacy-maybe-missing",
            "override-mismatch",
            "override-mismatch",
        ],
        first_call: &[],
    },
    Warn {
        name: "IPTABLES_WRAPPER_MODE=legacy with legacy rules",
        setup: "rules legacy iptables 2",
        env: "IPTABLES_WRAPPER_MODE=legacy",
        mode: Mode::Legacy,
        kind: "override",
        warnings: &[],
        first_call: &[],
    },
];

#[test]
fn each_warning_kind_in_text_and_json() {
    each(cases(WARNS), |c| {
        let s = &c.what;
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "{}
                 legacy_tables TABLES
                 call JSON env {env} $w detect --json
                 call DETECT env {env} $w detect
                 call FIRST env {env} iptables -V
                 resolved",
                s.setup,
                env = s.env
            ),
        );
        let doc = detect_json(&run, "JSON");
        for family in ["ipv4", "ipv6"] {
            assert_eq!(
                family_mode(&doc, family),
                s.mode.as_str(),
                "{family}: {doc}"
            );
            if !s.kind.is_empty() {
                assert_eq!(reason_kind(&doc, family), s.kind, "{family}: {doc}");
            }
        }
        let mut kinds = warning_kinds(&doc);
        kinds.sort();
        assert_eq!(kinds, s.warnings, "warnings in {doc}");
        if s.name.starts_with("stranded legacy rules in both") {
            // One warning per family, each with its own count.
            let texts = warning_texts(&doc, "stranded-rules");
            assert!(
                texts.iter().any(|t| t.contains('3')) && texts.iter().any(|t| t.contains('2')),
                "the stranded-rules texts should give the counts (3 and 2): {doc}"
            );
        }
        for t in warning_texts(&doc, "override-mismatch") {
            assert!(
                t.contains("IPv4") || t.contains("IPv6"),
                "override-mismatch should name its family: {t:?}"
            );
        }
        if s.name.ends_with("on an empty namespace") {
            expect(&run, "TABLES", "");
        }
        expect_detect_text(&run, "DETECT", &doc);
        expect_version(&run, "FIRST", s.mode);
        expect_first_call_warnings(&run, "FIRST_ERR", &doc, s.first_call);
        if s.env.contains("MODE") {
            // A first call under an override probes nothing, so it cannot
            // know that detection disagrees.
            assert!(
                stderr_warnings(&run, "FIRST_ERR")
                    .iter()
                    .all(|w| !warning_texts(&doc, "override-mismatch").contains(&w.as_str())),
                "a first call under an override shows no override-mismatch\n{run}"
            );
        }
        expect(&run, "RESOLVED", &resolved(s.mode, s.mode));
    });
}

// ---------------------------------------------------------------------------
// 4b. Could not look is not no evidence. Without CAP_NET_ADMIN and
// CAP_NET_RAW (a Dockerfile RUN step, a container without them) every
// probe is refused. On a host whose hint is in legacy, such a call must not
// commit the default (nft) to the names: it warns, runs nft once, and
// leaves the names to a later call that can look, which chooses legacy.

#[test]
fn a_call_without_net_admin_warns_and_leaves_the_names() {
    each(
        cases(&["hint in legacy, first call without NET_ADMIN"]),
        |c| {
            let run = run(
                &c.suite,
                c.layout,
                "hint legacy iptables
             call JSON np $w detect --json
             call DETECT np $w detect
             call BLIND np iptables -V
             links AFTER_BLIND
             call SEEING iptables -V
             resolved",
            );
            let doc = detect_json(&run, "JSON");
            expect_family(&doc, "ipv4", Mode::Nft, "default", None);
            expect_family(&doc, "ipv6", Mode::Nft, "default", None);
            assert_eq!(
                warning_kinds(&doc),
                ["probes-refused", "probes-refused"],
                "{doc}"
            );
            for (family, t) in ["IPv4", "IPv6"]
                .iter()
                .zip(warning_texts(&doc, "probes-refused"))
            {
                assert!(
                t.starts_with(&format!("every probe of {family} was refused or failed ("))
                    && t.contains("Operation not permitted")
                    && t.contains("lacks CAP_NET_ADMIN and CAP_NET_RAW"),
                "the warning should name the family, quote the error and name the capabilities: {t:?}"
            );
            }
            expect_detect_text(&run, "DETECT", &doc);
            // The call without the capabilities runs the default once, says
            // why, and changes no name.
            expect_version(&run, "BLIND", Mode::Nft);
            let warned = stderr_warnings(&run, "BLIND_ERR");
            for family in ["IPv4", "IPv6"] {
                assert!(
                    warned.iter().any(|w| w
                        .starts_with(&format!("every probe of {family} was refused or failed"))
                        && w.contains("CAP_NET_ADMIN")),
                    "the first call without NET_ADMIN should warn for {family}\n{run}"
                );
            }
            expect(
                &run,
                "AFTER_BLIND",
                &c.layout.links(Target::Wrapper, Target::Wrapper),
            );
            // A call that can look decides: legacy, from the hint.
            expect_version(&run, "SEEING", Mode::Legacy);
            expect(&run, "SEEING_ERR", "");
            expect(&run, "RESOLVED", &resolved(Mode::Legacy, Mode::Legacy));
        },
    );
}

// ---------------------------------------------------------------------------
// 5. IPTABLES_WRAPPER_MODE is case-insensitive.

#[test]
fn mode_setting_is_case_insensitive() {
    let spellings = [
        ("NFT", "legacy", Mode::Nft),
        ("Legacy", "nft", Mode::Legacy),
        ("LEGACY", "nft", Mode::Legacy),
        ("Nft", "legacy", Mode::Nft),
    ];
    let labels: Vec<String> = spellings
        .iter()
        .map(|(v, h, _)| format!("IPTABLES_WRAPPER_MODE={v}, hint in {h}"))
        .collect();
    each(cases(&labels), |c| {
        let (value, hinted, mode) = spellings
            .iter()
            .find(|(v, h, _)| c.what == format!("IPTABLES_WRAPPER_MODE={v}, hint in {h}"))
            .copied()
            .expect("a spelling");
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "hint {hinted} iptables
                 call JSON env IPTABLES_WRAPPER_MODE={value} $w detect --json
                 call FIRST env IPTABLES_WRAPPER_MODE={value} iptables -V
                 resolved"
            ),
        );
        let doc = detect_json(&run, "JSON");
        expect_family(&doc, "ipv4", mode, "override", None);
        expect_family(&doc, "ipv6", mode, "override", None);
        expect_version(&run, "FIRST", mode);
        expect(&run, "RESOLVED", &resolved(mode, mode));
    });
}

// ---------------------------------------------------------------------------
// 6. `verify`: consistent states exit 0, broken ones exit 1 with one line
// per problem, and --dir checks another directory the same way.

#[derive(Clone)]
struct State {
    name: &'static str,
    /// Shell that brings the names into this state (the wrapper is already
    /// installed, and copied to /tmp/w).
    setup: &'static str,
    /// The first line of the text, or "inconsistent:".
    line: &'static str,
    state: &'static str,
    mode: Option<&'static str>,
    ipv4: Option<&'static str>,
    ipv6: Option<&'static str>,
    /// leads_to of the six names, in NAMES order.
    leads_to: [&'static str; 6],
    /// Whether /usr/sbin/iptables-wrapper is gone (only --dir can run).
    wrapper_gone: bool,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "verify {}", self.name)
    }
}

const W: &str = "wrapper";
const L: &str = "legacy";
const N: &str = "nft";

const STATES: &[State] = &[
    State {
        name: "after install",
        setup: "",
        line: "not yet switched: the six names lead to iptables-wrapper",
        state: "not-switched",
        mode: None,
        ipv4: Some(W),
        ipv6: Some(W),
        leads_to: [W, W, W, W, W, W],
        wrapper_gone: false,
    },
    State {
        name: "switched to legacy",
        setup: "hint legacy iptables; iptables -V >/dev/null",
        line: "switched: legacy",
        state: "switched",
        mode: Some(L),
        ipv4: Some(L),
        ipv6: Some(L),
        leads_to: [L, L, L, L, L, L],
        wrapper_gone: false,
    },
    State {
        name: "switched to nft",
        setup: "hint nft ip6tables; iptables-save >/dev/null",
        line: "switched: nft",
        state: "switched",
        mode: Some(N),
        ipv4: Some(N),
        ipv6: Some(N),
        leads_to: [N, N, N, N, N, N],
        wrapper_gone: false,
    },
    State {
        name: "split: IPv4 legacy, IPv6 nft",
        setup: "hint legacy iptables; hint nft ip6tables; ip6tables -V >/dev/null",
        line: "switched: IPv4 legacy, IPv6 nft",
        state: "switched",
        mode: Some("split"),
        ipv4: Some(L),
        ipv6: Some(N),
        leads_to: [L, L, L, N, N, N],
        wrapper_gone: false,
    },
    State {
        name: "a dangling name (link to a missing file)",
        setup: "hint legacy iptables; iptables -V >/dev/null
                ln -sf /usr/sbin/xtables-missing-multi /usr/sbin/iptables-save",
        line: "inconsistent:",
        state: "inconsistent",
        mode: None,
        ipv4: None,
        ipv6: Some(L),
        leads_to: [L, "dangling", L, L, L, L],
        wrapper_gone: false,
    },
    State {
        name: "dangling names (the multi binary removed)",
        setup: "hint legacy iptables; iptables -V >/dev/null
                rm /usr/sbin/xtables-legacy-multi",
        line: "inconsistent:",
        state: "inconsistent",
        mode: None,
        ipv4: None,
        ipv6: None,
        leads_to: ["dangling"; 6],
        wrapper_gone: false,
    },
    State {
        name: "dangling names (the wrapper removed, checked with --dir)",
        setup: "rm /usr/sbin/iptables-wrapper",
        line: "inconsistent:",
        state: "inconsistent",
        mode: None,
        ipv4: None,
        ipv6: None,
        leads_to: ["dangling"; 6],
        wrapper_gone: true,
    },
    State {
        name: "a missing name",
        setup: "hint legacy iptables; iptables -V >/dev/null
                rm /usr/sbin/ip6tables-restore",
        line: "inconsistent:",
        state: "inconsistent",
        mode: None,
        ipv4: Some(L),
        ipv6: None,
        leads_to: [L, L, L, L, L, "missing"],
        wrapper_gone: false,
    },
    State {
        name: "a family whose names disagree (iptables-save to nft)",
        setup: "hint legacy iptables; iptables -V >/dev/null
                ln -sf xtables-nft-multi /usr/sbin/iptables-save",
        line: "inconsistent:",
        state: "inconsistent",
        mode: None,
        ipv4: None,
        ipv6: Some(L),
        leads_to: [L, N, L, L, L, L],
        wrapper_gone: false,
    },
    State {
        name: "a family half switched (ip6tables-save to legacy, the rest to the wrapper)",
        setup: "ln -sf xtables-legacy-multi /usr/sbin/ip6tables-save",
        line: "inconsistent:",
        state: "inconsistent",
        mode: None,
        ipv4: Some(W),
        ipv6: None,
        leads_to: [W, W, W, W, L, W],
        wrapper_gone: false,
    },
    State {
        name: "a name that is neither the wrapper nor a multi binary",
        setup: "rm /usr/sbin/iptables-save; printf '#!/bin/sh\\n' >/usr/sbin/iptables-save
                chmod +x /usr/sbin/iptables-save",
        line: "inconsistent:",
        state: "inconsistent",
        mode: None,
        ipv4: None,
        ipv6: Some(W),
        leads_to: [W, "other", W, W, W, W],
        wrapper_gone: false,
    },
];

#[test]
fn verify_reports_every_state() {
    each(cases(STATES), |c| {
        let s = &c.what;
        let run = run(
            &c.suite,
            c.layout,
            &format!(
                "cp $w /tmp/w
                 {}
                 links STATE
                 call TEXT $w verify
                 call JSON $w verify --json
                 call DIR_TEXT /tmp/w verify --dir /usr/sbin
                 call DIR_JSON /tmp/w verify --json --dir /usr/sbin",
                s.setup
            ),
        );
        let keys: &[(&str, &str)] = if s.wrapper_gone {
            &[("DIR_TEXT", "DIR_JSON")]
        } else {
            &[("TEXT", "JSON"), ("DIR_TEXT", "DIR_JSON")]
        };
        let status = if s.state == "inconsistent" { "1" } else { "0" };
        for (text_key, json_key) in keys {
            let ctx = format!("{text_key}/{json_key}");
            expect(&run, &format!("{json_key}_RC"), status);
            let text = run.get(&format!("{json_key}_OUT"));
            let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!("{ctx}: verify --json is not JSON ({e}): {text}\n{run}")
            });
            assert_eq!(doc["consistent"], s.state != "inconsistent", "{ctx}: {doc}");
            assert_eq!(doc["state"], s.state, "{ctx}: {doc}");
            let opt = |v: Option<&str>| v.map(Value::from).unwrap_or(Value::Null);
            assert_eq!(doc["mode"], opt(s.mode), "{ctx}: mode in {doc}");
            assert_eq!(doc["families"]["ipv4"], opt(s.ipv4), "{ctx}: ipv4 in {doc}");
            assert_eq!(doc["families"]["ipv6"], opt(s.ipv6), "{ctx}: ipv6 in {doc}");
            let names = doc["names"].as_array().cloned().unwrap_or_default();
            let got: Vec<(String, String)> = names
                .iter()
                .map(|n| {
                    (
                        format!(
                            "{}={}",
                            n["name"].as_str().unwrap_or("?"),
                            n["path"].as_str().unwrap_or("?")
                        ),
                        n["leads_to"].as_str().unwrap_or("?").to_string(),
                    )
                })
                .collect();
            let want: Vec<(String, String)> = NAMES
                .iter()
                .zip(s.leads_to)
                .map(|(n, l)| (format!("{n}=/usr/sbin/{n}"), l.to_string()))
                .collect();
            assert_eq!(got, want, "{ctx}: names in {doc}");

            let problems = doc["problems"].as_array().cloned().unwrap_or_default();
            let out = lines(&run, &format!("{text_key}_OUT"));
            expect(&run, &format!("{text_key}_RC"), status);
            let first = out.first().map(String::as_str).unwrap_or_default();
            if s.state == "switched" {
                // With the record of the first call that switched them.
                let r = &doc["record"];
                assert_eq!(r["status"], "current", "{ctx}: {doc}");
                let by = format!(
                    "{} (by the first call of {} at {}: ",
                    s.line,
                    r["record"]["command"].as_str().unwrap_or("?"),
                    r["record"]["time"].as_str().unwrap_or("?")
                );
                assert!(
                    first.starts_with(&by) && first.ends_with(')'),
                    "{ctx}: {first:?} is not {by:?}...\n{run}"
                );
            } else {
                assert_eq!(first, s.line, "{ctx}\n{run}");
            }
            if s.state == "inconsistent" {
                assert!(!problems.is_empty(), "{ctx}: no problems listed: {doc}");
                // Each broken name has a problem of its own.
                for (n, l) in NAMES.iter().zip(s.leads_to) {
                    if ["missing", "dangling", "other"].contains(&l) {
                        let path = format!("/usr/sbin/{n}");
                        assert!(
                            problems.iter().any(|p| p["path"] == path.as_str()),
                            "{ctx}: no problem for {path} ({l}): {doc}"
                        );
                    }
                }
                // The text lists the same problems, each with its fix.
                let want: Vec<String> = problems
                    .iter()
                    .map(|p| {
                        format!(
                            "  {}: {}; {}",
                            p["path"].as_str().unwrap_or("?"),
                            p["text"].as_str().unwrap_or("?"),
                            p["fix"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                assert_eq!(out[1..], want[..], "{ctx}: problem lines vs {doc}\n{run}");
                for p in &problems {
                    assert!(
                        p["path"]
                            .as_str()
                            .is_some_and(|x| x.starts_with("/usr/sbin/"))
                            && p["text"].as_str().is_some_and(|x| !x.is_empty())
                            && p["fix"].as_str().is_some_and(|x| !x.is_empty()),
                        "{ctx}: a problem without a path, text or fix: {doc}"
                    );
                }
            } else {
                assert_eq!(problems, Vec::<Value>::new(), "{ctx}: {doc}");
                assert_eq!(out.len(), 1, "{ctx}: one line when consistent\n{run}");
            }
        }
        // The alternatives layout as Debian shows it after a switch.
        if c.layout == Layout::Alternatives && s.state == "switched" {
            let target = |m: Option<&str>| match m {
                Some(L) => Target::Mode(Mode::Legacy),
                Some(N) => Target::Mode(Mode::Nft),
                _ => Target::Wrapper,
            };
            expect(
                &run,
                "STATE",
                &c.layout.links(target(s.ipv4), target(s.ipv6)),
            );
        }
    });
}

// 6b. verify's own usage errors: exit status 2, with the usage, and nothing
// on stdout.
#[test]
fn verify_usage_errors() {
    each(
        cases(&["verify --bogus", "verify --dir", "verify extra"]),
        |c| {
            let run = run(&c.suite, c.layout, &format!("call BAD $w {}", c.what));
            expect(&run, "BAD_RC", "2");
            expect(&run, "BAD_OUT", "");
            let err = run.get("BAD_ERR");
            assert!(
                err.starts_with("iptables-wrapper: ") && err.contains("usage"),
                "a usage error explains and shows the usage\n{run}"
            );
        },
    );
}
