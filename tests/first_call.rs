//! The first call, on the real kernel: the wrapper installed in a throwaway
//! Debian root file system (bookworm and trixie, see tests/sandbox.sh),
//! either through Debian's alternatives (`install`) or as plain links
//! (`install --symlinks`), then called under one of the six names. Covers
//! every detection rule (hints, canaries, counting, defaults, a single
//! installed mode, the override), the switch of the six names (also under 50
//! concurrent first calls and on a read-only directory), the command that
//! runs afterwards (argv[0], stdin, exit status, SIGPIPE), direct calls of the
//! wrapper with iptables arguments, a hanging probe, and that detection
//! creates no legacy tables.
//!
//! Each scenario is a shell script that prints `KEY=value` lines; the Rust
//! side asserts what a user would see: what iptables printed, its exit
//! status, where the names lead, which back end holds the rules.

mod common;

use common::{suites, version_tag, Layout, Run, Target, NAMES};
use iptables_wrapper::detect::{Choice, Count, Decision, Reason, Warning};
use iptables_wrapper::names::{Family, Mode};
use iptables_wrapper::report;

/// Shell functions every scenario starts with.
const PRELUDE: &str = common::PRELUDE;

/// The whole script: the prelude, the wrapper installed in `layout`, `body`.
fn script(layout: Layout, body: &str) -> String {
    format!(
        "{}\n{PRELUDE}\n{} >/dev/null\nlinks INSTALLED\n{body}\n",
        common::names_sh(),
        layout.install_command()
    )
}

/// Runs one scenario and checks that the install gave the expected links.
fn run_case_with(suite: &str, layout: Layout, body: &str, copy: &[(&str, &str)]) -> Run {
    let run = common::sandbox_with(suite, &script(layout, body), &[], copy);
    assert_eq!(
        run.status, 0,
        "{suite}, {layout:?}: the script failed\n{run}"
    );
    assert_eq!(
        run.get("INSTALLED"),
        layout.links_both(Target::Wrapper),
        "{suite}, {layout:?}: install did not put the wrapper in front of the names\n{run}"
    );
    run
}

fn run_case(suite: &str, layout: Layout, body: &str) -> Run {
    run_case_with(suite, layout, body, &[])
}

/// Asserts that `KEY=` is exactly `want`.
fn expect(run: &Run, ctx: &str, key: &str, want: &str) {
    assert_eq!(run.get(key), want, "{ctx}: {key}\n{run}");
}

/// Asserts that the lines printed as `KEY=` (joined by `call`) are `want`.
fn expect_lines(run: &Run, ctx: &str, key: &str, want: &[&str]) {
    assert_eq!(lines(&run.get(key)), want, "{ctx}: {key}\n{run}");
}

fn lines(joined: &str) -> Vec<&str> {
    if joined.is_empty() {
        vec![]
    } else {
        joined.split(" | ").collect()
    }
}

/// Asserts that `iptables -V` (printed as KEY_*) ran `mode` successfully.
fn expect_version(run: &Run, ctx: &str, key: &str, mode: Mode) {
    expect(run, ctx, &format!("{key}_RC"), "0");
    let out = run.get(&format!("{key}_OUT"));
    assert!(
        out.starts_with("iptables v1.8.") && out.ends_with(version_tag(mode)),
        "{ctx}: {key} printed {out:?}, not the {} version line\n{run}",
        mode.as_str()
    );
}

/// Asserts that `<command> -V` (printed as KEY_*) ran `mode` successfully.
fn expect_version_of(run: &Run, ctx: &str, key: &str, command: &str, mode: Mode) {
    expect(run, ctx, &format!("{key}_RC"), "0");
    let out = run.get(&format!("{key}_OUT"));
    assert!(
        out.starts_with(&format!("{command} v1.8.")) && out.ends_with(version_tag(mode)),
        "{ctx}: {key} printed {out:?}, not the {} version line\n{run}",
        mode.as_str()
    );
}

/// Asserts that all six names, printed by `resolved KEY`, lead to `mode`.
fn expect_resolved(run: &Run, ctx: &str, key: &str, mode: Mode) {
    expect(run, ctx, key, &[mode.multi(); 6].join(" "));
}

/// A decision with these (mode, reason) pairs for IPv4 and IPv6.
fn decided(v4: (Mode, Reason), v6: (Mode, Reason)) -> Decision {
    let c = |(mode, reason)| Choice { mode, reason };
    Decision {
        families: [c(v4), c(v6)],
        warnings: vec![],
        probes: vec![],
        native_tables: None,
    }
}

/// Both families in `mode` for the same reason.
fn same(mode: Mode, reason: Reason) -> Decision {
    decided((mode, reason.clone()), (mode, reason))
}

/// A kubelet hint in `family`'s `mode` mangle, followed by the other family.
fn hinted(mode: Mode, family: Family, chain: &'static str) -> Decision {
    let own = (
        mode,
        Reason::Hint {
            chain,
            mode,
            family,
        },
    );
    let other = (
        mode,
        Reason::OtherFamilyHint {
            chain,
            mode,
            family,
        },
    );
    match family {
        Family::V4 => decided(own, other),
        Family::V6 => decided(other, own),
    }
}

const HINT: &str = "KUBE-IPTABLES-HINT";

/// The debug line of a first call: `iptables-wrapper: legacy (reason)`.
fn decision_line(d: &Decision) -> String {
    format!("iptables-wrapper: {}", report::line(d))
}

/// With IPTABLES_WRAPPER_DEBUG=1 a first call's stderr (printed as `KEY=`)
/// is its decision, then exactly `warnings`, then possibly one line per
/// change it made.
fn expect_decision(run: &Run, ctx: &str, key: &str, d: &Decision, warnings: &[Warning]) {
    let err = run.get(key);
    let lines = lines(&err);
    assert_eq!(
        lines.first().copied(),
        Some(decision_line(d).as_str()),
        "{ctx}: {key} should start with the decision\n{run}"
    );
    let warned: Vec<String> = warnings
        .iter()
        .map(|w| format!("iptables-wrapper: warning: {w}"))
        .collect();
    let got: Vec<&str> = lines[1..]
        .iter()
        .copied()
        .filter(|l| l.starts_with("iptables-wrapper: warning: "))
        .collect();
    assert_eq!(got, warned, "{ctx}: {key}'s warnings\n{run}");
    for l in &lines[1..] {
        assert!(
            l.starts_with("iptables-wrapper: switched ")
                || l.starts_with("iptables-wrapper: warning: "),
            "{ctx}: unexpected line {l:?} in {key}\n{run}"
        );
    }
}

/// Every (suite, layout) pair, with a label for messages.
fn cases() -> Vec<(String, Layout, String)> {
    let mut v = Vec::new();
    for suite in suites() {
        for layout in Layout::ALL {
            let ctx = format!("{suite}, {layout:?}");
            v.push((suite.clone(), layout, ctx));
        }
    }
    v
}

// 1. The kubelet's hint chain decides, whatever the rule counts say.
#[test]
fn kubelet_hint_decides_the_first_call() {
    for (suite, layout, ctx) in cases() {
        for hinted in [Mode::Legacy, Mode::Nft] {
            let ctx = format!("{ctx}, hint in {}", hinted.as_str());
            let junk = hinted.other().as_str();
            let run = run_case(
                &suite,
                layout,
                &format!(
                    "hint {h} iptables
                     rules {junk} iptables 3
                     rules {junk} ip6tables 2
                     call FIRST env IPTABLES_WRAPPER_DEBUG=1 iptables -V
                     resolved
                     links AFTER
                     call AGAIN env IPTABLES_WRAPPER_DEBUG=1 iptables -V",
                    h = hinted.as_str()
                ),
            );
            expect_version(&run, &ctx, "FIRST", hinted);
            // A first call counts nothing after a hint: no warnings.
            let d = self::hinted(hinted, Family::V4, HINT);
            expect_decision(&run, &ctx, "FIRST_ERR", &d, &[]);
            expect_resolved(&run, &ctx, "RESOLVED", hinted);
            expect(
                &run,
                &ctx,
                "AFTER",
                &layout.links_both(Target::Mode(hinted)),
            );
            // The second call goes straight to iptables: no wrapper, no line.
            expect_version(&run, &ctx, "AGAIN", hinted);
            expect_lines(&run, &ctx, "AGAIN_ERR", &[]);
        }
    }
}

/// A detection scenario: shell that sets up the namespace, the expected
/// decision, the warnings a first call prints and the warning kinds
/// `detect` shows (it also counts after a hint).
struct Scenario {
    name: &'static str,
    setup: &'static str,
    decision: Decision,
    /// The first call's reason for both families where it differs from
    /// `detect`'s: it stops counting once the order is settled, so it may
    /// know bounds where `detect` knows the counts.
    first: Option<Reason>,
    first_warnings: Vec<Warning>,
    detect_warnings: Vec<&'static str>,
}

fn stranded(family: Family, loser: Mode, rules: Count, winner_rules: Count) -> Warning {
    Warning::StrandedRules {
        family,
        loser,
        rules,
        winner_rules: Some(winner_rules),
    }
}

fn scenarios() -> Vec<Scenario> {
    use Family::{V4, V6};
    use Mode::{Legacy, Nft};
    let count = |legacy, nft| Reason::RuleCount { legacy, nft };
    let e = Count::exact;
    let between = |at_least, at_most| Count {
        at_least,
        at_most: Some(at_most),
    };
    vec![
        Scenario {
            name: "hint only in IPv6 legacy",
            setup: "hint legacy ip6tables; rules nft iptables 2",
            decision: hinted(Legacy, V6, HINT),
            first: None,
            first_warnings: vec![],
            detect_warnings: vec!["stranded-rules"],
        },
        Scenario {
            name: "canary in legacy",
            setup: "hint legacy iptables KUBE-KUBELET-CANARY; rules nft iptables 4",
            decision: hinted(Legacy, V4, "KUBE-KUBELET-CANARY"),
            first: None,
            first_warnings: vec![],
            detect_warnings: vec!["stranded-rules"],
        },
        Scenario {
            name: "canary in IPv6 nft",
            setup: "hint nft ip6tables KUBE-KUBELET-CANARY; rules legacy iptables 4",
            decision: hinted(Nft, V6, "KUBE-KUBELET-CANARY"),
            first: None,
            first_warnings: vec![],
            detect_warnings: vec!["stranded-rules"],
        },
        Scenario {
            name: "hints in both modes of one family",
            setup: "hint legacy iptables; hint nft iptables",
            decision: hinted(Nft, V4, HINT),
            first: None,
            first_warnings: vec![],
            detect_warnings: vec![],
        },
        Scenario {
            name: "IPv4 hinted legacy, IPv6 hinted nft",
            setup: "hint legacy iptables; hint nft ip6tables",
            decision: decided(
                (
                    Legacy,
                    Reason::Hint {
                        chain: HINT,
                        mode: Legacy,
                        family: V4,
                    },
                ),
                (
                    Nft,
                    Reason::Hint {
                        chain: HINT,
                        mode: Nft,
                        family: V6,
                    },
                ),
            ),
            first: None,
            first_warnings: vec![],
            detect_warnings: vec![],
        },
        Scenario {
            name: "more legacy rules, counted over both families",
            setup: "rules legacy iptables 3; rules legacy ip6tables 2; rules nft iptables 2",
            // No user chains: GET_INFO's entry counts are exact.
            decision: same(Legacy, count(e(5), e(2))),
            first: None,
            first_warnings: vec![stranded(V4, Nft, e(2), e(3))],
            detect_warnings: vec!["stranded-rules"],
        },
        Scenario {
            name: "more nft rules",
            setup: "rules nft iptables 2; rules nft ip6tables 1; rules legacy iptables 1",
            decision: same(Nft, count(e(1), e(3))),
            // nft is counted until it holds more than legacy's 1 rule:
            // IPv4's dump stops at its second rule, IPv6's holds one.
            first: Some(count(e(1), Count::at_least(3))),
            first_warnings: vec![stranded(V4, Legacy, e(1), Count::at_least(2))],
            detect_warnings: vec!["stranded-rules"],
        },
        Scenario {
            name: "legacy rules in a user chain only, no nft rules",
            setup: "iptables-legacy -N KUBE-X
                    for p in 1 2 3; do iptables-legacy -A KUBE-X -p tcp --dport $p -j RETURN; done",
            decision: same(Legacy, count(e(3), e(0))),
            // GET_INFO: 3 rules plus the chain's head and tail entries.
            first: Some(count(between(1, 5), e(0))),
            first_warnings: vec![],
            detect_warnings: vec![],
        },
        Scenario {
            name: "an empty legacy user chain, one nft rule",
            setup: "iptables-legacy -N KUBE-EMPTY; rules nft iptables 1",
            decision: same(Nft, count(e(0), e(1))),
            // The sizes fit a head and a tail alone: read exactly.
            first: Some(count(e(0), Count::at_least(1))),
            first_warnings: vec![],
            detect_warnings: vec![],
        },
        Scenario {
            name: "a tie",
            setup: "rules legacy ip6tables 2; rules nft iptables 2",
            decision: same(Nft, Reason::Tie { rules: 2 }),
            first: None,
            first_warnings: vec![stranded(V6, Legacy, e(2), e(0))],
            detect_warnings: vec!["stranded-rules"],
        },
        Scenario {
            name: "no evidence",
            setup: "",
            decision: same(Nft, Reason::Default),
            first: None,
            first_warnings: vec![],
            detect_warnings: vec![],
        },
        Scenario {
            name: "only nft installed, legacy rules and hint present",
            setup:
                "hint legacy iptables; rules legacy iptables 5; rm /usr/sbin/xtables-legacy-multi",
            decision: same(Nft, Reason::OnlyInstalled(Nft)),
            first: None,
            first_warnings: vec![],
            detect_warnings: vec![],
        },
        Scenario {
            name: "only legacy installed, nft rules and hint present",
            setup: "hint nft iptables; rules nft iptables 5; rm /usr/sbin/xtables-nft-multi",
            decision: same(Legacy, Reason::OnlyInstalled(Legacy)),
            // No legacy table exists in this namespace.
            first: None,
            first_warnings: vec![Warning::LegacyMaybeMissing],
            detect_warnings: vec!["legacy-maybe-missing"],
        },
    ]
}

// 2. Every detection rule on the real kernel, through `detect`, `detect
// --json` (which change nothing) and the first call.
#[test]
fn each_detection_rule_decides_the_first_call() {
    for (suite, layout, ctx) in cases() {
        for s in scenarios() {
            let ctx = format!("{ctx}, {}", s.name);
            let run = run_case(
                &suite,
                layout,
                &format!(
                    "{}
                     links BEFORE
                     legacy_tables TABLES_BEFORE
                     call DETECT /usr/sbin/iptables-wrapper detect
                     call JSON /usr/sbin/iptables-wrapper detect --json
                     links AFTER_DETECT
                     legacy_tables TABLES_AFTER_DETECT
                     call FIRST env IPTABLES_WRAPPER_DEBUG=1 iptables -V
                     call SIX env IPTABLES_WRAPPER_DEBUG=1 ip6tables -V
                     resolved
                     links AFTER",
                    s.setup
                ),
            );
            let d = &s.decision;
            let (v4, v6) = (d.mode(Family::V4), d.mode(Family::V6));
            expect(&run, &ctx, "DETECT_RC", "0");
            let text = run.get("DETECT_OUT");
            let text = lines(&text);
            assert_eq!(text[0], report::line(d), "{ctx}: DETECT_OUT\n{run}");
            assert_eq!(
                text.len() - 1,
                s.detect_warnings.len(),
                "{ctx}: one warning line each\n{run}"
            );
            assert!(
                text[1..].iter().all(|l| l.starts_with("warning: ")),
                "{ctx}\n{run}"
            );
            expect(&run, &ctx, "JSON_RC", "0");
            check_detect_json(&run, &ctx, &s);
            // detect looks but does not touch.
            expect(&run, &ctx, "AFTER_DETECT", &run.get("BEFORE"));
            expect(&run, &ctx, "TABLES_AFTER_DETECT", &run.get("TABLES_BEFORE"));

            expect_version(&run, &ctx, "FIRST", v4);
            let first = s.first.clone().map_or_else(|| d.clone(), |r| same(v4, r));
            expect_decision(&run, &ctx, "FIRST_ERR", &first, &s.first_warnings);
            // The first call switched both families: IPv6 goes straight there.
            expect_version_of(&run, &ctx, "SIX", "ip6tables", v6);
            expect_lines(&run, &ctx, "SIX_ERR", &[]);
            let want = NAMES
                .iter()
                .map(|n| if n.starts_with("ip6") { v6 } else { v4 }.multi())
                .collect::<Vec<_>>()
                .join(" ");
            expect(&run, &ctx, "RESOLVED", &want);
            expect(
                &run,
                &ctx,
                "AFTER",
                &layout.links(Target::Mode(v4), Target::Mode(v6)),
            );
        }
    }
}

fn check_detect_json(run: &Run, ctx: &str, s: &Scenario) {
    let text = run.get("JSON_OUT");
    let doc: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{ctx}: detect --json: {e}\n{run}"));
    let d = &s.decision;
    let overall = match d.overall() {
        iptables_wrapper::detect::Overall::Same(m) => m.as_str(),
        iptables_wrapper::detect::Overall::Split => "split",
    };
    assert_eq!(doc["mode"], overall, "{ctx}: {text}");
    for f in Family::ALL {
        let fam = &doc["families"][f.as_str()];
        let c = d.family(f);
        assert_eq!(fam["mode"], c.mode.as_str(), "{ctx}: {text}");
        assert_eq!(fam["reason"]["kind"], c.reason.kind(), "{ctx}: {text}");
        assert_eq!(fam["reason"]["text"], c.reason.to_string(), "{ctx}: {text}");
    }
    let kinds: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: no warnings array in {text}"))
        .iter()
        .map(|w| w["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(kinds, s.detect_warnings, "{ctx}: {text}");
    let probes = doc["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: probes is not an array in {text}"));
    if matches!(d.family(Family::V4).reason, Reason::OnlyInstalled(_)) {
        assert!(probes.is_empty(), "{ctx}: nothing is probed: {text}");
    } else {
        assert!(!probes.is_empty(), "{ctx}: no probes reported: {text}");
    }
    for p in probes {
        let command = p["command"].as_str().unwrap_or_default();
        assert!(!command.is_empty(), "{ctx}: {p} in {text}");
        let result = p["result"].as_str().unwrap_or_default();
        assert!(
            ["ok", "not-run"].contains(&result),
            "{ctx}: probe {command} {result} in {text}"
        );
    }
}

// 3. The command of the first call runs as if called directly: stdin reaches
// iptables-restore, exit statuses come through unchanged, and SIGPIPE is
// not ignored.
#[test]
fn first_call_runs_the_command_with_its_stdin_and_exit_status() {
    const RULE: &str = "-A INPUT -s 10.1.2.3/32 -j DROP";
    for (suite, layout, ctx) in cases() {
        let restore = run_case(
            &suite,
            layout,
            &format!(
                "hint legacy iptables
                 printf '*filter\\n{RULE}\\nCOMMIT\\n' >/tmp/rules
                 call RESTORE iptables-restore </tmp/rules
                 echo \"IN_LEGACY=$(iptables-legacy-save | grep -c -x -e '{RULE}' || true)\"
                 echo \"IN_NFT=$(iptables-nft-save | grep -c -x -e '{RULE}' || true)\"
                 resolved"
            ),
        );
        let c = format!("{ctx}, iptables-restore first");
        expect(&restore, &c, "RESTORE_RC", "0");
        expect_lines(&restore, &c, "RESTORE_ERR", &[]);
        expect(&restore, &c, "IN_LEGACY", "1");
        expect(&restore, &c, "IN_NFT", "0");
        expect_resolved(&restore, &c, "RESOLVED", Mode::Legacy);

        // A check that fails, as iptables reports it: exit status 1.
        let check = run_case(
            &suite,
            layout,
            "hint legacy iptables
             call FIRST iptables -C INPUT -s 10.9.9.9 -j DROP
             call DIRECT iptables-legacy -C INPUT -s 10.9.9.9 -j DROP
             resolved",
        );
        let c = format!("{ctx}, failing -C first");
        expect(&check, &c, "FIRST_RC", "1");
        expect(&check, &c, "DIRECT_RC", "1");
        expect(&check, &c, "FIRST_ERR", &check.get("DIRECT_ERR"));
        expect_resolved(&check, &c, "RESOLVED", Mode::Legacy);

        // A parameter problem: exit status 2, from iptables itself.
        let bogus = run_case(
            &suite,
            layout,
            "call FIRST ip6tables --bogus-option
             call DIRECT ip6tables-nft --bogus-option
             resolved",
        );
        let c = format!("{ctx}, bogus option first");
        expect(&bogus, &c, "FIRST_RC", "2");
        expect(&bogus, &c, "DIRECT_RC", "2");
        expect(&bogus, &c, "FIRST_ERR", &bogus.get("DIRECT_ERR"));
        expect_resolved(&bogus, &c, "RESOLVED", Mode::Nft);

        // A save whose reader stops early (`| head`) dies of SIGPIPE, as a
        // direct call does, instead of formatting the rest for nobody: the
        // wrapper hands over SIGPIPE as its caller gave it. 5,000 rules
        // print far more than a pipe holds, so the save is still writing
        // when head leaves.
        let cut = run_case(
            &suite,
            layout,
            "hint nft iptables
             i=0
             { echo '*filter'
               while [ $i -lt 5000 ]; do
                 i=$((i + 1)); echo \"-A INPUT -p tcp --dport $i -j ACCEPT\"
               done
               echo COMMIT; } | iptables-nft-restore
             # KEY COMMAND...: COMMAND | head -n 1, printing COMMAND's status.
             cut_short() {
                 k=$1; shift
                 st=$({ { \"$@\" && s=0 || s=$?; echo $s >&3; } | head -n 1 >/dev/null; } 3>&1)
                 echo \"${k}_STATUS=$st\"
             }
             cut_short FIRST iptables-save
             cut_short DIRECT iptables-nft-save
             resolved",
        );
        let c = format!("{ctx}, iptables-save | head first");
        expect(&cut, &c, "DIRECT_STATUS", "141");
        expect(&cut, &c, "FIRST_STATUS", "141");
        expect_resolved(&cut, &c, "RESOLVED", Mode::Nft);
    }
}

// 4. Fifty first calls at once, under all six names: all succeed, exactly one
// of them detects and switches, and nothing is left behind.
#[test]
fn concurrent_first_calls_all_succeed_and_switch_once() {
    for (suite, layout, ctx) in cases() {
        // Legacy for one layout and nft for the other: both switches race.
        let mode = match layout {
            Layout::Alternatives => Mode::Legacy,
            Layout::Symlinks => Mode::Nft,
        };
        let ctx = format!("{ctx}, hint in {}", mode.as_str());
        // The calls wait on a lock that the script holds and releases after
        // half a second, so they start together (a call that is late just
        // starts late). -w, as the kubelet passes: legacy iptables without it
        // fails with status 4 when another call holds the xtables lock, with
        // or without the wrapper.
        let run = run_case(
            &suite,
            layout,
            &format!(
                "hint {m} iptables
                 printf '*filter\\nCOMMIT\\n' >/tmp/restore.in
                 export IPTABLES_WRAPPER_DEBUG=1
                 exec 9>/tmp/barrier
                 flock 9
                 for i in $(seq 50); do
                     (
                         flock -s /tmp/barrier true
                         rc=0
                         case $((i % 6)) in
                         0) iptables -w -S ;;
                         1) iptables-save ;;
                         2) iptables-restore -w --noflush </tmp/restore.in ;;
                         3) ip6tables -w -S ;;
                         4) ip6tables-save ;;
                         5) ip6tables-restore -w --noflush </tmp/restore.in ;;
                         esac >/dev/null 2>/tmp/err.$i || rc=$?
                         echo $rc >/tmp/status.$i
                     ) 9>&- &
                 done
                 sleep 0.5
                 flock -u 9
                 wait
                 s=
                 for i in $(seq 50); do s=\"$s $(cat /tmp/status.$i 2>/dev/null || echo none)\"; done
                 echo \"STATUSES=${{s# }}\"
                 echo \"STDERR=$(cat /tmp/err.* | joined)\"
                 resolved
                 links AFTER
                 leftovers",
                m = mode.as_str()
            ),
        );
        let statuses = run.get("STATUSES");
        assert_eq!(
            statuses.split(' ').collect::<Vec<_>>(),
            ["0"; 50],
            "{ctx}: exit statuses\n{run}"
        );
        let stderr = run.get("STDERR");
        let decided = decision_line(&hinted(mode, Family::V4, HINT));
        let lines = lines(&stderr);
        assert_eq!(
            lines.iter().filter(|l| **l == decided).count(),
            1,
            "{ctx}: exactly one call detects\n{run}"
        );
        let waited = format!(" already switched to {} by another call", mode.as_str());
        for l in lines.iter().filter(|l| **l != decided) {
            assert!(
                (l.starts_with("iptables-wrapper: /usr/sbin/") && l.ends_with(&waited))
                    || l.starts_with("iptables-wrapper: switched "),
                "{ctx}: unexpected stderr line {l:?}\n{run}"
            );
        }
        expect_resolved(&run, &ctx, "RESOLVED", mode);
        expect(&run, &ctx, "AFTER", &layout.links_both(Target::Mode(mode)));
        expect(&run, &ctx, "LEFTOVERS", "");
    }
}

// 5. A read-only iptables directory: the names cannot be switched, so the
// first call warns once, keeps its decision, and runs the right iptables
// anyway; the next call uses the kept decision. For plain links
// /usr/sbin is read-only; for alternatives, which switch in /etc and log in
// /var, those are too (a read-only root file system, as in a pod with
// readOnlyRootFilesystem).
#[test]
fn read_only_directory_warns_once_and_runs_the_command() {
    const RULE: &str = "-A INPUT -s 10.4.4.4/32 -j DROP";
    for (suite, layout, ctx) in cases() {
        let read_only = match layout {
            Layout::Symlinks => "/usr/sbin",
            Layout::Alternatives => "/usr/sbin /etc /var",
        };
        let ctx = format!("{ctx}, read-only {read_only}");
        let run = run_case_with(
            &suite,
            layout,
            &format!(
                "hint legacy iptables
                 for d in {read_only}; do
                     /tmp/busybox mount --bind $d $d
                     /tmp/busybox mount -o remount,bind,ro $d
                 done
                 writable=
                 for d in {read_only}; do
                     if touch $d/.probe 2>/dev/null; then writable=\"$writable $d\"; fi
                 done
                 echo \"WRITABLE=$writable\"
                 links BEFORE
                 printf '*filter\\n{RULE}\\nCOMMIT\\n' | call RESTORE iptables-restore
                 call SAVE iptables-save
                 echo \"IN_LEGACY=$(iptables-legacy-save | grep -c -x -e '{RULE}' || true)\"
                 echo \"IN_NFT=$(iptables-nft-save | grep -c -x -e '{RULE}' || true)\"
                 links AFTER"
            ),
            &[(common::busybox(), "/tmp/busybox")],
        );
        expect(&run, &ctx, "WRITABLE", "");
        expect(&run, &ctx, "RESTORE_RC", "0");
        expect(&run, &ctx, "IN_LEGACY", "1");
        expect(&run, &ctx, "IN_NFT", "0");
        // The first call warns and keeps its decision (in
        // /run/iptables-wrapper); the next one uses it without a word.
        let err = run.get("RESTORE_ERR");
        let lines = lines(&err);
        assert!(
            lines.len() == 1
                && lines[0].starts_with("iptables-wrapper: warning: ")
                && lines[0].contains("Read-only file system")
                && lines[0].contains("the decision is kept in /run/iptables-wrapper/"),
            "{ctx}: RESTORE_ERR should be one warning line\n{run}"
        );
        expect(&run, &ctx, "SAVE_ERR", "");
        // The save ran as iptables-save (argv[0] kept) in legacy mode.
        expect(&run, &ctx, "SAVE_RC", "0");
        let save = run.get("SAVE_OUT");
        assert!(
            save.starts_with("# Generated by iptables-save v1.8.") && save.contains(RULE),
            "{ctx}: iptables-save printed {save:?}\n{run}"
        );
        expect(&run, &ctx, "AFTER", &run.get("BEFORE"));
    }
}

// 6. iptables arguments given to the wrapper's own name are a usage error
// that changes nothing.
#[test]
fn wrapper_called_directly_with_iptables_arguments_is_refused() {
    for (suite, layout, ctx) in cases() {
        let run = run_case(
            &suite,
            layout,
            "hint legacy iptables
             rules nft iptables 1
             links BEFORE
             legacy_tables TABLES_BEFORE
             rules_digest RULES_BEFORE
             call LIST /usr/sbin/iptables-wrapper -L
             call APPEND iptables-wrapper -A INPUT -j DROP
             links AFTER
             legacy_tables TABLES_AFTER
             rules_digest RULES_AFTER",
        );
        for (key, arg) in [("LIST", "-L"), ("APPEND", "-A")] {
            let c = format!("{ctx}, iptables-wrapper {arg}");
            expect(&run, &c, &format!("{key}_RC"), "2");
            expect(&run, &c, &format!("{key}_OUT"), "");
            let err = run.get(&format!("{key}_ERR"));
            assert!(
                err.contains(&format!("iptables-wrapper: {arg} is not a subcommand"))
                    && err.contains("usage: iptables-wrapper detect"),
                "{c}: stderr should explain and show the usage\n{run}"
            );
        }
        expect(&run, &ctx, "AFTER", &run.get("BEFORE"));
        expect(&run, &ctx, "TABLES_AFTER", &run.get("TABLES_BEFORE"));
        expect(&run, &ctx, "RULES_AFTER", &run.get("RULES_BEFORE"));
    }
}

// 7. A probe that never finishes is killed at the deadline; detection goes
// on and nothing of it stays behind, even when the wrapper itself is killed.
#[test]
fn hanging_probe_is_killed_and_the_first_call_finishes() {
    for (suite, layout, ctx) in cases() {
        // The stand-in cannot tell a probe from the final command (a script
        // loses argv[0]), so it always hangs and the decision must be legacy.
        let run = run_case(
            &suite,
            layout,
            "hint legacy iptables
             printf '#!/bin/sh\\nexec sleep 1000\\n' >/usr/sbin/xtables-nft-multi
             export IPTABLES_WRAPPER_PROBE_TIMEOUT=1
             # Processes only: the kernel would answer for the stand-in.
             export IPTABLES_WRAPPER_PROBES=process
             call JSON /usr/sbin/iptables-wrapper detect --json
             start=$(date +%s%N)
             call FIRST env IPTABLES_WRAPPER_DEBUG=1 iptables -V
             echo \"ELAPSED_MS=$((($(date +%s%N) - start) / 1000000))\"
             sleepers SLEEPERS
             resolved
             IPTABLES_WRAPPER_PROBE_TIMEOUT=60 /usr/sbin/iptables-wrapper detect >/dev/null 2>&1 &
             wrapper=$!
             sleepers_become PROBING 2
             kill -9 $wrapper
             wait $wrapper || true
             sleepers_become ORPHANS 0",
        );
        // A wrapper killed while its probes hang takes them with it.
        expect(&run, &ctx, "PROBING", "2");
        expect(&run, &ctx, "ORPHANS", "0");
        expect_version(&run, &ctx, "FIRST", Mode::Legacy);
        let d = hinted(Mode::Legacy, Family::V4, HINT);
        expect_decision(&run, &ctx, "FIRST_ERR", &d, &[]);
        let ms: u64 = run.get("ELAPSED_MS").parse().unwrap();
        // At least the 1 s deadline (the nft hint probes ran into it), and
        // well under the 1000 s the stand-in sleeps.
        assert!(
            (900..10_000).contains(&ms),
            "{ctx}: the first call took {ms} ms\n{run}"
        );
        expect(&run, &ctx, "SLEEPERS", "0");
        expect_resolved(&run, &ctx, "RESOLVED", Mode::Legacy);
        let json = run.get("JSON_OUT");
        let doc: serde_json::Value = serde_json::from_str(&json).expect("detect --json");
        let timed_out = doc["probes"]
            .as_array()
            .expect("probes")
            .iter()
            .filter(|p| p["mode"] == "nft" && p["table"] == "mangle" && p["result"] == "timed-out")
            .count();
        assert_eq!(timed_out, 2, "{ctx}: both nft probes time out: {json}");
    }
}

// 8. Detection never creates tables: a namespace with no legacy tables
// still has none, one with only a filter table gets no mangle table, and an
// empty namespace has no nft tables afterwards either.
#[test]
fn detection_creates_no_legacy_tables() {
    for (suite, layout, ctx) in cases() {
        let run = run_case(
            &suite,
            layout,
            "rules nft iptables 2
             rules nft ip6tables 1
             legacy_tables NONE_BEFORE
             call DETECT /usr/sbin/iptables-wrapper detect
             call FIRST iptables -S
             call SAVE6 ip6tables-save
             legacy_tables NONE_AFTER
             iptables-legacy -S >/dev/null
             legacy_tables CONTROL",
        );
        expect(&run, &ctx, "NONE_BEFORE", "");
        expect(
            &run,
            &ctx,
            "DETECT_OUT",
            "nft (nft 3 rules > legacy 0 rules)",
        );
        expect(&run, &ctx, "FIRST_RC", "0");
        expect(&run, &ctx, "SAVE6_RC", "0");
        expect(&run, &ctx, "NONE_AFTER", "");
        // The check above can see tables: a legacy command creates filter.
        expect(&run, &ctx, "CONTROL", "filter ");

        let run = run_case(
            &suite,
            layout,
            "rules legacy iptables 2
             legacy_tables BEFORE
             call DETECT /usr/sbin/iptables-wrapper detect
             call FIRST iptables -V
             legacy_tables AFTER",
        );
        expect(&run, &ctx, "BEFORE", "filter ");
        expect(
            &run,
            &ctx,
            "DETECT_OUT",
            "legacy (legacy 2 rules > nft 0 rules)",
        );
        expect_version(&run, &ctx, "FIRST", Mode::Legacy);
        expect(&run, &ctx, "AFTER", "filter ");

        // Nor does it create nft tables: the nft hint is read with
        // `iptables-nft -t mangle -S`, which lists without creating.
        let run = run_case(
            &suite,
            layout,
            "call DETECT /usr/sbin/iptables-wrapper detect
             echo \"NFT_TABLES=$(iptables-nft-save; ip6tables-nft-save) \"
             legacy_tables LEGACY_TABLES",
        );
        expect(&run, &ctx, "DETECT_OUT", "nft (no evidence, default nft)");
        expect(&run, &ctx, "NFT_TABLES", " ");
        expect(&run, &ctx, "LEGACY_TABLES", "");
    }
}

// 9. IPTABLES_WRAPPER_MODE overrides detection; a bad value, or a forced
// mode that is not installed, is refused before anything changes.
#[test]
fn mode_setting_overrides_or_is_refused() {
    for (suite, layout, ctx) in cases() {
        for forced in [Mode::Legacy, Mode::Nft] {
            let c = format!("{ctx}, IPTABLES_WRAPPER_MODE={}", forced.as_str());
            let run = run_case(
                &suite,
                layout,
                &format!(
                    "hint {} iptables
                     call FIRST env IPTABLES_WRAPPER_MODE={m} IPTABLES_WRAPPER_DEBUG=1 iptables -V
                     resolved",
                    forced.other().as_str(),
                    m = forced.as_str()
                ),
            );
            expect_version(&run, &c, "FIRST", forced);
            // The hint is in the other mode, so legacy's tables exist only
            // when nft is forced: forcing legacy is warned about.
            let warnings = match forced {
                Mode::Legacy => vec![Warning::LegacyMaybeMissing],
                Mode::Nft => vec![],
            };
            let d = same(forced, Reason::Override(forced));
            expect_decision(&run, &c, "FIRST_ERR", &d, &warnings);
            expect_resolved(&run, &c, "RESOLVED", forced);
        }

        let run = run_case(
            &suite,
            layout,
            "hint legacy iptables
             links BEFORE
             call BOGUS env IPTABLES_WRAPPER_MODE=bogus iptables -V
             call BOGUS_DETECT env IPTABLES_WRAPPER_MODE=bogus /usr/sbin/iptables-wrapper detect
             links AFTER_BOGUS
             rm /usr/sbin/xtables-legacy-multi
             call MISSING env IPTABLES_WRAPPER_MODE=legacy iptables -V
             links AFTER_MISSING
             call FIRST iptables -V
             resolved",
        );
        let c = format!("{ctx}, IPTABLES_WRAPPER_MODE=bogus");
        for key in ["BOGUS", "BOGUS_DETECT"] {
            expect(&run, &c, &format!("{key}_RC"), "2");
            expect(&run, &c, &format!("{key}_OUT"), "");
            let err = run.get(&format!("{key}_ERR"));
            assert!(
                err.starts_with("iptables-wrapper: IPTABLES_WRAPPER_MODE=\"bogus\" is not a mode"),
                "{c}: {key}_ERR\n{run}"
            );
        }
        expect(&run, &c, "AFTER_BOGUS", &run.get("BEFORE"));

        let c = format!("{ctx}, IPTABLES_WRAPPER_MODE=legacy without legacy");
        expect(&run, &c, "MISSING_RC", "2");
        expect(&run, &c, "MISSING_OUT", "");
        expect(
            &run,
            &c,
            "MISSING_ERR",
            "iptables-wrapper: IPTABLES_WRAPPER_MODE=legacy, but /usr/sbin/xtables-legacy-multi is not installed; install that mode or change the setting",
        );
        expect(&run, &c, "AFTER_MISSING", &run.get("BEFORE"));
        // Nothing was switched, so the next call is still a first call.
        expect_version(&run, &c, "FIRST", Mode::Nft);
        expect_resolved(&run, &c, "RESOLVED", Mode::Nft);
    }
}

// 10. Other spellings of the iptables directory: /sbin (a link to usr/sbin
// on merged-usr systems), a bare name found through PATH=/sbin, and a
// directory that is itself a symlink.
#[test]
fn first_call_through_other_spellings_of_the_directory() {
    for (suite, layout, ctx) in cases() {
        for (how, call) in [
            ("/sbin/iptables", "/sbin/iptables -V"),
            ("PATH=/sbin", "env PATH=/sbin:/bin iptables -V"),
            // A bare argv[0] that PATH does not lead back to the wrapper:
            // not found at all, or found as somebody else's iptables.
            (
                "argv[0] iptables, PATH without it",
                "bash -c 'PATH=/bin; exec -a iptables /usr/sbin/iptables -V'",
            ),
            (
                "argv[0] iptables, another iptables first in PATH",
                "bash -c 'echo \"echo impostor\" >/usr/local/bin/iptables
                          chmod +x /usr/local/bin/iptables
                          PATH=/usr/local/bin:/usr/sbin:/bin; exec -a iptables /usr/sbin/iptables -V'",
            ),
        ] {
            let c = format!("{ctx}, first call as {how}");
            let run = run_case(
                &suite,
                layout,
                &format!(
                    "[ \"$(readlink /sbin)\" = usr/sbin ] && echo MERGED=yes || echo MERGED=no
                     hint legacy iptables
                     call FIRST {call}
                     resolved SBIN /sbin
                     links AFTER"
                ),
            );
            expect(&run, &c, "MERGED", "yes");
            expect_version(&run, &c, "FIRST", Mode::Legacy);
            expect_resolved(&run, &c, "SBIN", Mode::Legacy);
            expect(&run, &c, "AFTER", &layout.links_both(Target::Mode(Mode::Legacy)));
        }
    }

    // The wrapper and the multi binaries in /opt/realdir, reached through
    // /usr/local/sbin -> /opt/realdir. /usr/sbin is not involved.
    for suite in suites() {
        let ctx = format!("{suite}, /usr/local/sbin -> /opt/realdir");
        let run = run_case(
            &suite,
            Layout::Alternatives,
            "mkdir /opt/realdir
             cp /usr/sbin/xtables-legacy-multi /usr/sbin/xtables-nft-multi /usr/sbin/iptables-wrapper /opt/realdir/
             rmdir /usr/local/sbin
             ln -s /opt/realdir /usr/local/sbin
             /usr/local/sbin/iptables-wrapper install >/dev/null
             links LOCAL_INSTALLED /usr/local/sbin
             links USR_BEFORE
             hint legacy iptables
             call FIRST /usr/local/sbin/iptables -V
             call SAVE ip6tables-save
             resolved LOCAL /opt/realdir
             links LOCAL_AFTER /usr/local/sbin
             links USR_AFTER",
        );
        let plain = Layout::Symlinks;
        expect(
            &run,
            &ctx,
            "LOCAL_INSTALLED",
            &plain.links_both(Target::Wrapper),
        );
        expect_version(&run, &ctx, "FIRST", Mode::Legacy);
        expect_resolved(&run, &ctx, "LOCAL", Mode::Legacy);
        expect(
            &run,
            &ctx,
            "LOCAL_AFTER",
            &plain.links_both(Target::Mode(Mode::Legacy)),
        );
        // A bare name is found in /usr/local/sbin first (see PRELUDE's PATH)
        // and runs legacy directly. Had it gone through /usr/sbin's wrapper,
        // /usr/sbin would have been switched too.
        expect(&run, &ctx, "SAVE_RC", "0");
        expect_lines(&run, &ctx, "SAVE_ERR", &[]);
        expect(&run, &ctx, "USR_AFTER", &run.get("USR_BEFORE"));
    }
}

// 11. An alternatives tool that fails, or says it succeeded but changed
// nothing: every call still runs the detected mode, with one warning line,
// and the wrapper never runs itself again.
#[test]
fn broken_alternatives_tool_still_runs_the_detected_mode() {
    for suite in suites() {
        for (tool, what) in [
            ("exit 0", "silently does nothing"),
            (
                "echo 'update-alternatives: error: cannot write' >&2; exit 2",
                "fails",
            ),
        ] {
            let ctx = format!("{suite}, alternatives tool that {what}");
            let run = run_case(
                &suite,
                Layout::Alternatives,
                &format!(
                    "hint legacy iptables
                     rules nft iptables 3
                     tool=$(command -v update-alternatives)
                     printf '#!/bin/sh\\n%s\\n' \"{tool}\" >\"$tool\"
                     call FIRST iptables -V
                     call SECOND ip6tables -V
                     links AFTER"
                ),
            );
            // The first call warns and keeps its decision; the second uses
            // it without a word.
            for (key, command, warnings) in [("FIRST", "iptables", 1), ("SECOND", "ip6tables", 0)] {
                expect_version_of(&run, &ctx, key, command, Mode::Legacy);
                let err = run.get(&format!("{key}_ERR"));
                let lines = lines(&err);
                assert!(
                    lines.len() == warnings
                        && lines
                            .iter()
                            .all(|l| l.starts_with("iptables-wrapper: warning: ")),
                    "{ctx}: {key} should print {warnings} warning line(s)\n{run}"
                );
            }
            expect(
                &run,
                &ctx,
                "AFTER",
                &Layout::Alternatives.links_both(Target::Wrapper),
            );
        }
    }
}

/// How a switch-cost scenario sets up the host, and whether link(2) works.
#[derive(Clone, Debug)]
struct SwitchCase {
    suite: String,
    /// IPv6 gets a hint of its own in nft, IPv4's is in legacy: each mode
    /// gets three names. Otherwise both families follow IPv4's legacy hint.
    split: bool,
    /// link(2) fails with EPERM (tests/seccomp/deny link-eperm).
    links_refused: bool,
    /// Each name links straight to the wrapper, as earlier versions
    /// installed them, instead of `install`'s heads (`iptables-save` ->
    /// `iptables` -> `iptables-wrapper`): the switch repoints all six.
    each_name: bool,
}

impl std::fmt::Display for SwitchCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, {}{}, link(2) {}",
            self.suite,
            if self.each_name {
                "each name to the wrapper, "
            } else {
                ""
            },
            if self.split {
                "legacy v4, nft v6"
            } else {
                "legacy"
            },
            if self.links_refused {
                "refused"
            } else {
                "allowed"
            }
        )
    }
}

impl SwitchCase {
    fn all() -> Vec<SwitchCase> {
        let mut v = Vec::new();
        for (i, suite) in suites().into_iter().enumerate() {
            // The earlier layout on the first suite only.
            for each_name in [false, true].into_iter().take(if i == 0 { 2 } else { 1 }) {
                for split in [false, true] {
                    for links_refused in [false, true] {
                        v.push(SwitchCase {
                            suite: suite.clone(),
                            split,
                            links_refused,
                            each_name,
                        });
                    }
                }
            }
        }
        v
    }

    fn hints(&self) -> &'static str {
        if self.split {
            "hint legacy iptables; hint nft ip6tables"
        } else {
            "hint legacy iptables"
        }
    }

    fn modes(&self) -> [Mode; 2] {
        [
            Mode::Legacy,
            if self.split { Mode::Nft } else { Mode::Legacy },
        ]
    }

    /// How many modes the names are switched to.
    fn mode_count(&self) -> usize {
        if self.split {
            2
        } else {
            1
        }
    }

    /// Runs `body` with the case's plain-link layout installed and its
    /// hints set; `$POLICY` in it runs a command under the case's policy on
    /// link(2), `$INSTALL` puts the layout back, and tests/seccomp/deny and
    /// stepkill are there.
    fn run(&self, body: &str) -> common::Run {
        let policy = if self.links_refused {
            "deny link-eperm --"
        } else {
            ""
        };
        let install = if self.each_name {
            "for n in $NAMES; do ln -sfn iptables-wrapper /usr/sbin/$n; done"
        } else {
            "/usr/sbin/iptables-wrapper install --symlinks >/dev/null"
        };
        run_case_with(
            &self.suite,
            Layout::Symlinks,
            &format!(
                "{}\nPOLICY='{policy}'\nINSTALL='{install}'\neval \"$INSTALL\"\nREPOINTED='{}'\n{body}",
                self.hints(),
                self.repointed_names().join(" ")
            ),
            &[
                (common::deny(), "/usr/local/bin/deny"),
                (common::stepkill(), "/usr/local/bin/stepkill"),
            ],
        )
    }

    /// What the prelude's `links` prints once the names are switched.
    fn switched_links(&self) -> String {
        let [v4, v6] = self.modes();
        if !self.each_name {
            return Layout::Symlinks.links(Target::Mode(v4), Target::Mode(v6));
        }
        NAMES
            .iter()
            .map(|n| format!("{n}->{}", self.mode_of(n).multi()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The names a switch repoints: every one, or each family's head.
    fn repointed_names(&self) -> Vec<&'static str> {
        if self.each_name {
            NAMES.to_vec()
        } else {
            vec!["iptables", "ip6tables"]
        }
    }

    /// How many names a switch repoints.
    fn repointed(&self) -> usize {
        self.repointed_names().len()
    }

    /// The mode the name `n` is switched to.
    fn mode_of(&self, n: &str) -> Mode {
        self.modes()[Family::of_command(n).index()]
    }
}

// 12. The file-system work of a switch with plain links: with `install`'s
// layout only each family's head is repointed (the other names link to it);
// with each name linked straight to the wrapper (earlier versions), all six.
// At most one new symlink per mode, whose other names come from link(2);
// where link(2) is refused, one symlink per name. Every repointed name is
// renamed into place, those of one mode share one inode, and no temporary
// name is left.
#[test]
fn a_switch_makes_one_symlink_per_mode() {
    common::each(SwitchCase::all(), |c| {
        let ctx = c.to_string();
        let run = c.run(
                "rc=0
                 $POLICY strace -f -qq -o /tmp/trace \
                     -e trace=symlink,symlinkat,link,linkat,rename,renameat,renameat2,unlink,unlinkat \
                     iptables -V >/tmp/out 2>/tmp/err || rc=$?
                 echo \"RC=$rc\"
                 echo \"OUT=$(cat /tmp/out)\"
                 echo \"ERR=$(joined </tmp/err)\"
                 links AFTER
                 leftovers
                 echo \"INODES=$(for n in $REPOINTED; do stat -c %i /usr/sbin/$n; done | sort -u | wc -l)\"
                 sed 's/^[0-9]* *//' /tmp/trace | sed 's/^/TRACE /'",
        );
        expect(&run, &ctx, "RC", "0");
        assert!(run.get("OUT").ends_with("(legacy)"), "{ctx}\n{run}");
        expect(&run, &ctx, "ERR", "");
        expect(&run, &ctx, "AFTER", &c.switched_links());
        expect(&run, &ctx, "LEFTOVERS", "");
        let trace: Vec<&str> = run
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("TRACE "))
            .collect();
        let calls = |names: &[&str]| -> Vec<&str> {
            trace
                .iter()
                .copied()
                .filter(|l| names.iter().any(|n| l.starts_with(&format!("{n}("))))
                .collect()
        };
        let symlinks = calls(&["symlink", "symlinkat"]);
        let links = calls(&["link", "linkat"]);
        // The decision record (.iptables-wrapper-decision.json) is written
        // after the switch with one rename of its own.
        let renames: Vec<&str> = calls(&["rename", "renameat", "renameat2"])
            .into_iter()
            .filter(|l| !l.contains(".iptables-wrapper-decision.json"))
            .collect();
        let (modes, n) = (c.mode_count(), c.repointed());
        if c.links_refused {
            assert_eq!(symlinks.len(), n, "{ctx}: one symlink per name\n{run}");
            // One refused link(2) per mode that has more than one name to
            // repoint, then symlinks for the rest.
            let shared = if n / modes > 1 { modes } else { 0 };
            assert_eq!(links.len(), shared, "{ctx}\n{run}");
            assert!(
                links
                    .iter()
                    .all(|l| l.ends_with("= -1 EPERM (Operation not permitted)")),
                "{ctx}\n{run}"
            );
            expect(&run, &ctx, "INODES", &n.to_string());
        } else {
            assert_eq!(symlinks.len(), modes, "{ctx}: one symlink per mode\n{run}");
            assert_eq!(links.len(), n - modes, "{ctx}\n{run}");
            assert!(links.iter().all(|l| l.ends_with("= 0")), "{ctx}\n{run}");
            expect(&run, &ctx, "INODES", &modes.to_string());
        }
        assert!(symlinks.iter().all(|l| l.ends_with("= 0")), "{ctx}\n{run}");
        assert_eq!(renames.len(), n, "{ctx}: one rename per name\n{run}");
        assert!(renames.iter().all(|l| l.ends_with("= 0")), "{ctx}\n{run}");
        assert!(calls(&["unlink", "unlinkat"]).is_empty(), "{ctx}\n{run}");
    });
}

// 13. A first call killed (SIGKILL) at any step of the switch: just before
// each of its symlink, link and rename calls in turn (tests/seccomp/stepkill;
// each call is atomic, so these are all the states it can leave). After
// every kill each of the six names leads to the wrapper or to its family's
// multi binary, at most two temporary names are left, hidden and leading to
// a multi binary, and each name then runs its own mode (the first of them
// still leading to the wrapper switches the rest). With link(2) refused too
// (the fallback's steps), and with each name linked straight to the
// wrapper.
#[test]
fn a_first_call_killed_at_any_step_of_the_switch_leaves_every_name_valid() {
    common::each(SwitchCase::all(), |c| {
        let ctx = c.to_string();
        let run = c.run(
                "# where NAME leads: wrapper, legacy, nft, or what else
                 leads() {
                     if [ ! -L \"/usr/sbin/$1\" ] && [ ! -e \"/usr/sbin/$1\" ]; then echo missing; return; fi
                     t=$(readlink -f \"/usr/sbin/$1\" || true)
                     if [ ! -e \"$t\" ]; then echo dangling; return; fi
                     case $(basename \"$t\") in
                     iptables-wrapper) echo wrapper ;;
                     xtables-legacy-multi) echo legacy ;;
                     xtables-nft-multi) echo nft ;;
                     *) echo \"$t\" ;;
                     esac
                 }
                 state() {
                     s=
                     for n in $NAMES; do s=\"$s $n:$(leads $n)\"; done
                     echo \"${s# }\"
                 }
                 # (not k: the prelude's call uses it)
                 step=1
                 while [ $step -lt 40 ]; do
                     rm -f /usr/sbin/.iptables-wrapper-decision.json*
                     eval \"$INSTALL\"
                     # stepkill's line comes last, once the call is gone
                     r=$($POLICY stepkill $step -- iptables -V 2>/dev/null | tail -n 1)
                     echo \"KILL_$step=$r\"
                     case $r in finished*) break ;; esac
                     echo \"STATE_$step=$(state)\"
                     tmp=
                     for f in /usr/sbin/.*; do
                         # the record and its temporary file are not names
                         case $f in */.|*/..|*/.iptables-wrapper-decision.json*) continue ;; esac
                         tmp=\"$tmp $(basename \"$f\")>$(readlink \"$f\" || echo not-a-link)>$(leads \"$(basename \"$f\")\")\"
                     done
                     echo \"TMP_$step=${tmp# }\"
                     rm -f /usr/sbin/.*.iptables-wrapper-*
                     # Each name run once more: every one runs its mode,
                     # the first still leading to the wrapper switches the rest.
                     next=
                     for n in $NAMES; do
                         rc=0
                         out=$($n -V 2>/tmp/next.err) || rc=$?
                         next=\"$next $n:$rc:${out##* }:$(wc -c </tmp/next.err)\"
                     done
                     echo \"NEXT_$step=${next# }\"
                     echo \"AFTER_$step=$(state)\"
                     step=$((step + 1))
                 done",
        );
        // symlink + link + rename calls of a whole switch: two per name it
        // repoints either way (a refused link(2) fails in the filter before
        // stepkill sees it), then the decision record's rename.
        let n = c.repointed();
        let steps = 2 * n + 1;
        let leads_to = |n: &str, m: Mode| format!("{n}:{}", m.as_str());
        let after: Vec<String> = NAMES.iter().map(|n| leads_to(n, c.mode_of(n))).collect();
        let mut seen = Vec::new();
        // Every kill's state first, however many steps there were.
        for k in 1.. {
            let killed = run.get(&format!("KILL_{k}"));
            let Some(call) = killed.strip_prefix("killed before ") else {
                break;
            };
            seen.push(call.to_string());
            let state = run.get(&format!("STATE_{k}"));
            for (n, s) in NAMES.iter().zip(state.split(' ')) {
                assert!(
                    *s == format!("{n}:wrapper") || *s == leads_to(n, c.mode_of(n)),
                    "{ctx}: after a kill before call {k} ({call}), {s}\n{run}"
                );
            }
            let tmp = run.get(&format!("TMP_{k}"));
            let tmp: Vec<&str> = tmp.split(' ').filter(|t| !t.is_empty()).collect();
            assert!(tmp.len() <= 2, "{ctx}: kill {k}: {tmp:?}\n{run}");
            for t in &tmp {
                let parts: Vec<&str> = t.split('>').collect();
                let name = parts[0];
                let (base, pid) = name
                    .strip_prefix('.')
                    .and_then(|n| n.rsplit_once(".iptables-wrapper-"))
                    .unwrap_or_else(|| panic!("{ctx}: kill {k}: unexpected file {t}\n{run}"));
                assert!(pid.parse::<u32>().is_ok(), "{ctx}: kill {k}: {t}\n{run}");
                let mode = c.mode_of(base);
                assert_eq!(
                    &parts[1..],
                    [mode.multi(), mode.as_str()],
                    "{ctx}: kill {k}: a temporary name must lead to its mode's multi binary\n{run}"
                );
            }
            // name:status:version tag:bytes on stderr
            let next: Vec<String> = NAMES
                .iter()
                .map(|n| format!("{n}:0:{}:0", version_tag(c.mode_of(n))))
                .collect();
            expect(&run, &ctx, &format!("NEXT_{k}"), &next.join(" "));
            expect(&run, &ctx, &format!("AFTER_{k}"), &after.join(" "));
        }
        expect(
            &run,
            &ctx,
            &format!("KILL_{}", steps + 1),
            &format!("finished after {steps}"),
        );
        // The kills covered every kind of step.
        for kind in ["symlink", "rename"] {
            assert!(seen.iter().any(|s| s.starts_with(kind)), "{ctx}: {seen:?}");
        }
        assert_eq!(
            seen.iter().any(|s| s.starts_with("link")),
            !c.links_refused && n / c.mode_count() > 1,
            "{ctx}: {seen:?}"
        );
    });
}
