//! The kernel sources against their oracle: for each ruleset, `detect
//! --json` is run once with `IPTABLES_WRAPPER_PROBES=kernel` (netlink and
//! getsockopt, in the wrapper's own process) and once with `=process` (the
//! iptables commands), on bookworm's iptables 1.8.9 and trixie's 1.8.11.
//! Every probe must give the same answer from both sources: the same hint,
//! the same rule count, per family and mode; and the decisions must agree.
//!
//! A first call, which stops counting once the order of the counts is
//! settled, must then choose what `detect` chose, and any bounds it states
//! must hold the counts `detect` found.
//!
//! Also: native nf_tables tables are listed (and warned about when legacy
//! wins), and detection through the kernel creates no tables.

mod common;

use common::{each, json, sandbox, suites, Run};
use serde_json::Value;

/// A ruleset, made in a fresh namespace by a shell snippet.
struct Ruleset {
    name: &'static str,
    setup: &'static str,
}

/// Rules of every kind real clients use, in both families of both modes
/// and several tables, with user chains (shared with the arm64 VM tests).
const RICH: &str = include_str!("common/rich-ruleset.sh");

/// 100,000 rules in each mode, spread over four chains as kube-proxy does.
const LARGE: &str = r#"
awk 'BEGIN {
  print "*filter"
  split("KUBE-SERVICES KUBE-EXTERNAL-SERVICES KUBE-FORWARD KUBE-FIREWALL", c, " ")
  for (i = 1; i <= 4; i++) print ":" c[i] " - [0:0]"
  for (i = 0; i < 100000; i++)
    printf "-A %s -d 10.%d.%d.%d/32 -p tcp -m tcp --dport %d -j ACCEPT\n", c[i % 4 + 1], int(i / 65536) % 256, int(i / 256) % 256, i % 256, 1 + i % 65000
  print "COMMIT"
}' >/tmp/large.rules
iptables-nft-restore </tmp/large.rules
iptables-legacy-restore </tmp/large.rules
ip6tables-legacy -A INPUT -j ACCEPT
"#;

const RULESETS: &[Ruleset] = &[
    Ruleset {
        name: "an empty host",
        setup: "",
    },
    Ruleset {
        name: "a hint only, in each mode",
        setup: "iptables-nft -t mangle -N KUBE-IPTABLES-HINT
                ip6tables-legacy -t mangle -N KUBE-KUBELET-CANARY",
    },
    Ruleset {
        name: "user chains and rules in filter, nat, mangle and raw, with real matches and targets",
        setup: RICH,
    },
    Ruleset {
        name: "ufw's ruleset through iptables-nft",
        setup: "ufw --force enable >/dev/null
                ufw allow 22/tcp >/dev/null
                ufw deny from 10.9.0.0/16 >/dev/null",
    },
    Ruleset {
        name: "ufw's ruleset through iptables-legacy",
        setup: "update-alternatives --quiet --set iptables /usr/sbin/iptables-legacy
                update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-legacy
                ufw --force enable >/dev/null
                ufw allow 22/tcp >/dev/null",
    },
    Ruleset {
        name: "100,000 rules in each mode",
        setup: LARGE,
    },
    Ruleset {
        name: "a chain that only starts like a hint",
        setup: "iptables-nft -t mangle -N KUBE-IPTABLES-HINT-X
                iptables-legacy -t mangle -N KUBE-IPTABLES-HINT-X
                ip6tables-legacy -t mangle -N KUBE-KUBELET-CANARYX",
    },
    Ruleset {
        name: "legacy tables listed but empty",
        setup: "iptables-legacy -t raw -S >/dev/null
                iptables-legacy -t mangle -S >/dev/null
                ip6tables-legacy -S >/dev/null
                iptables-nft -A INPUT -j ACCEPT",
    },
    Ruleset {
        name: "a native nftables table next to iptables-nft rules",
        setup: "nft add table inet kube-proxy
                nft add chain inet kube-proxy services
                nft add rule inet kube-proxy services tcp dport 80 accept
                iptables-nft -A INPUT -j ACCEPT
                iptables-nft -t mangle -N KUBE-IPTABLES-HINT",
    },
];

/// Runs `detect --json` with each source after `setup`.
fn both_sources(suite: &str, setup: &str) -> Run {
    let script = format!(
        "set -eu
         export IPTABLES_WRAPPER_PROBE_TIMEOUT=120
         {setup}
         tables() {{ cat /proc/net/ip_tables_names /proc/net/ip6_tables_names 2>/dev/null | sort | tr '\\n' ' '; }}
         echo \"TABLES_BEFORE=$(tables)\"
         echo \"NFT_BEFORE=$(nft list tables | sort | tr '\\n' ' ')\"
         echo \"KERNEL=$(IPTABLES_WRAPPER_PROBES=kernel /usr/sbin/iptables-wrapper detect --json)\"
         echo \"TABLES_AFTER=$(tables)\"
         echo \"NFT_AFTER=$(nft list tables | sort | tr '\\n' ' ')\"
         echo \"PROCESS=$(IPTABLES_WRAPPER_PROBES=process /usr/sbin/iptables-wrapper detect --json)\"
         /usr/sbin/iptables-wrapper install --symlinks >/dev/null
         echo \"FIRST=$(IPTABLES_WRAPPER_PROBES=kernel IPTABLES_WRAPPER_DEBUG=1 iptables -V 2>&1 >/dev/null | head -n 1)\""
    );
    let run = sandbox(suite, &script);
    assert_eq!(run.status, 0, "the script failed\n{run}");
    run
}

/// (mode, family, table) of a probe.
fn key(p: &Value) -> (String, String, String) {
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    (s("mode"), s("family"), s("table"))
}

/// Checks that the kernel's answers equal the processes'.
fn check_agree(run: &Run, ctx: &str) -> (Value, Value) {
    let kernel = json(run, "KERNEL");
    let process = json(run, "PROCESS");
    let probes = |v: &Value| v["probes"].as_array().cloned().unwrap_or_default();
    let (kp, pp) = (probes(&kernel), probes(&process));
    assert!(!kp.is_empty(), "{ctx}: no probes\n{run}");
    for p in &kp {
        assert_eq!(p["source"], "kernel", "{ctx}: {p}");
        assert!(
            p["result"] == "ok" || p["result"] == "not-run",
            "{ctx}: the kernel could not answer: {p}"
        );
    }
    for p in &pp {
        assert_eq!(p["source"], "process", "{ctx}: {p}");
    }
    let mut kk: Vec<_> = kp.iter().map(key).collect();
    let mut pk: Vec<_> = pp.iter().map(key).collect();
    kk.sort();
    pk.sort();
    assert_eq!(kk, pk, "{ctx}: the same probes\n{run}");
    for k in &kp {
        let p = pp.iter().find(|p| key(p) == key(k)).expect("same probes");
        let what = format!("{ctx}: {:?}", key(k));
        assert_eq!(k["result"], p["result"], "{what}: result\n{k}\n{p}");
        assert_eq!(k["rules"], p["rules"], "{what}: rules\n{k}\n{p}");
        assert_eq!(k["hint"], p["hint"], "{what}: hint\n{k}\n{p}");
    }
    assert_eq!(kernel["mode"], process["mode"], "{ctx}\n{run}");
    assert_eq!(kernel["families"], process["families"], "{ctx}\n{run}");
    // Looking through the kernel created nothing, in either back end.
    assert_eq!(
        run.get("TABLES_AFTER"),
        run.get("TABLES_BEFORE"),
        "{ctx}\n{run}"
    );
    assert_eq!(run.get("NFT_AFTER"), run.get("NFT_BEFORE"), "{ctx}\n{run}");
    (kernel, process)
}

/// Checks the first call's decision line against `detect`'s JSON: the same
/// mode, and where it decided by counts, bounds that hold both modes' totals.
fn check_first_call(run: &Run, ctx: &str, detect: &Value) {
    let first = run.get("FIRST");
    let line = first
        .strip_prefix("iptables-wrapper: ")
        .unwrap_or_else(|| panic!("{ctx}: no decision line\n{run}"));
    let mode = detect["mode"].as_str().unwrap_or_default();
    assert!(
        line.starts_with(&format!("{mode} (")),
        "{ctx}: detect chose {mode}, the first call: {line}\n{run}"
    );
    let kind = detect["families"]["ipv4"]["reason"]["kind"].as_str();
    if kind != Some("rule-count") {
        return;
    }
    let count = regex::Regex::new(r"(legacy|nft) ([0-9]+)(?: to ([0-9]+)|(\+))? rules?").unwrap();
    let stated: Vec<_> = count.captures_iter(line).collect();
    assert_eq!(stated.len(), 2, "{ctx}: two counts in {line}");
    for c in stated {
        let m = &c[1];
        let total: u64 = ["ipv4", "ipv6"]
            .iter()
            .filter_map(|f| rules(detect, m, f, "all"))
            .sum();
        let at_least: u64 = c[2].parse().unwrap();
        let at_most = match (c.get(3), c.get(4)) {
            (Some(most), _) => most.as_str().parse().unwrap(),
            (None, Some(_)) => u64::MAX,
            (None, None) => at_least,
        };
        assert!(
            at_least <= total && total <= at_most,
            "{ctx}: {m} holds {total} rules, the first call said {line}"
        );
    }
}

fn rules(v: &Value, mode: &str, family: &str, table: &str) -> Option<u64> {
    v["probes"]
        .as_array()?
        .iter()
        .find(|p| p["mode"] == mode && p["family"] == family && p["table"] == table)?["rules"]
        .as_u64()
}

/// One ruleset on one suite.
struct Case {
    suite: String,
    ruleset: &'static Ruleset,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {}", self.suite, self.ruleset.name)
    }
}

#[test]
fn kernel_sources_equal_the_iptables_commands() {
    let cases = suites().into_iter().flat_map(|suite| {
        RULESETS.iter().map(move |ruleset| Case {
            suite: suite.clone(),
            ruleset,
        })
    });
    each(cases, |case| {
        let ctx = &case.to_string();
        let ruleset = case.ruleset;
        let run = both_sources(&case.suite, ruleset.setup);
        let (kernel, _) = check_agree(&run, ctx);
        check_first_call(&run, ctx, &kernel);
        // Spot checks that the rulesets are what they claim.
        match ruleset.name {
            n if n.starts_with("100,000") => {
                assert_eq!(rules(&kernel, "nft", "ipv4", "all"), Some(100_000), "{ctx}");
                assert_eq!(
                    rules(&kernel, "legacy", "ipv4", "all"),
                    Some(100_000),
                    "{ctx}"
                );
            }
            n if n.starts_with("user chains") => {
                // 8 rules per family in filter, nat, mangle and raw,
                // plus one DNAT each.
                for fam in ["ipv4", "ipv6"] {
                    for mode in ["legacy", "nft"] {
                        assert_eq!(
                            rules(&kernel, mode, fam, "all"),
                            Some(10),
                            "{ctx}: {mode} {fam}"
                        );
                    }
                }
            }
            n if n.starts_with("ufw") => {
                let mode = if n.contains("legacy") {
                    "legacy"
                } else {
                    "nft"
                };
                let n = rules(&kernel, mode, "ipv4", "all").unwrap_or(0);
                assert!(n > 20, "{ctx}: ufw wrote only {n} rules");
            }
            n if n.starts_with("a chain that only starts") => {
                for p in kernel["probes"].as_array().unwrap() {
                    assert_eq!(p["hint"], Value::Null, "{ctx}: {p}");
                }
            }
            n if n.starts_with("a native") => {
                assert_eq!(
                    kernel["native_tables"],
                    serde_json::json!(["inet kube-proxy"]),
                    "{ctx}: {kernel}"
                );
            }
            _ => {}
        }
    });
}

// Native tables are evidence that the host uses nf_tables: when legacy wins
// anyway, detect says so.
#[test]
fn native_tables_are_a_warning_when_legacy_wins() {
    each(suites(), |suite| {
        let run = sandbox(
            suite,
            "set -eu
             nft add table inet kube-proxy
             nft add table ip6 other
             iptables-legacy -t mangle -N KUBE-IPTABLES-HINT
             echo \"JSON=$(/usr/sbin/iptables-wrapper detect --json)\"
             echo \"TEXT=$(/usr/sbin/iptables-wrapper detect | tr '\\n' '|')\"",
        );
        assert_eq!(run.status, 0, "{run}");
        let v = json(&run, "JSON");
        assert_eq!(v["mode"], "legacy", "{run}");
        let mut native: Vec<&str> = v["native_tables"]
            .as_array()
            .expect("native_tables")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        native.sort();
        assert_eq!(native, ["inet kube-proxy", "ip6 other"], "{run}");
        let kinds: Vec<&str> = v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w["kind"].as_str())
            .collect();
        assert!(kinds.contains(&"native-nftables"), "{run}");
        let text = run.get("TEXT");
        assert!(
            text.contains("warning: legacy chosen, but nf_tables holds tables of other programs (inet kube-proxy, ip6 other)")
                || text.contains("warning: legacy chosen, but nf_tables holds tables of other programs (ip6 other, inet kube-proxy)"),
            "{run}"
        );
    });
}

// With a kubelet hint, a first call asks the kernel and creates no process:
// its only exec is the final one, into the multi binary, and it makes no
// fork, vfork or clone other than a thread's (plain-link layout: with
// alternatives, switching runs the alternatives tool).
#[test]
fn a_first_call_with_a_hint_creates_no_process() {
    let cases = suites()
        .into_iter()
        .flat_map(|s| ["legacy", "nft"].map(|m| format!("{s} {m}")));
    each(cases, |case| {
        let (suite, mode) = case.split_once(' ').unwrap();
        let run = sandbox(
            suite,
            &format!(
                "set -eu
                 /usr/sbin/iptables-wrapper install --symlinks >/dev/null
                 iptables-{mode} -t mangle -N KUBE-IPTABLES-HINT
                 iptables-legacy -A INPUT -j ACCEPT
                 strace -f -qq -e trace=fork,vfork,clone,clone3,execve -o /tmp/trace iptables -V >/tmp/out
                 echo \"OUT=$(cat /tmp/out)\"
                 echo \"LINK=$(basename \"$(readlink -f /usr/sbin/ip6tables-save)\")\"
                 sed 's/^[0-9]* *//' /tmp/trace | sed 's/^/TRACE /'"
            ),
        );
        assert_eq!(run.status, 0, "{case}: {run}");
        let tag = if mode == "nft" {
            "(nf_tables)"
        } else {
            "(legacy)"
        };
        assert!(run.get("OUT").ends_with(tag), "{case}: {run}");
        assert_eq!(
            run.get("LINK"),
            format!("xtables-{mode}-multi"),
            "{case}: {run}"
        );
        let trace: Vec<&str> = run
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("TRACE "))
            .collect();
        let execs: Vec<&str> = trace
            .iter()
            .copied()
            .filter(|l| l.starts_with("execve("))
            .collect();
        assert_eq!(
            execs.len(),
            2,
            "{case}: two execs, ours and the final one\n{run}"
        );
        assert!(
            execs[0].starts_with("execve(\"/usr/sbin/iptables\""),
            "{case}\n{run}"
        );
        assert!(
            execs[1].starts_with(&format!(
                "execve(\"/usr/sbin/xtables-{mode}-multi\", [\"iptables\", \"-V\"]"
            )),
            "{case}\n{run}"
        );
        for l in &trace {
            assert!(
                l.starts_with("execve(") || l.contains("CLONE_THREAD"),
                "{case}: a process was created: {l}\n{run}"
            );
        }
    });
}

// Where the kernel refuses the wrapper's own sockets (a seccomp filter or a
// policy: EPERM), each probe falls back to its iptables command, the JSON
// says so, and the decision is the same. The filter refuses only sockets
// opened the way the kernel sources open theirs, so the iptables commands
// they fall back to still work (see tests/seccomp/deny.c).
#[test]
fn a_refused_kernel_source_falls_back_to_the_process() {
    let deny = common::deny();
    each(suites(), |suite| {
        let run = common::sandbox_with(
            suite,
            "set -eu
             ip6tables-nft -t mangle -N KUBE-IPTABLES-HINT
             iptables-legacy -t mangle -N KUBE-IPTABLES-HINT
             iptables-legacy -A INPUT -j ACCEPT
             filter='deny netlink-cloexec-eperm,raw-nonblock-eperm --'
             echo \"PLAIN=$(/usr/sbin/iptables-wrapper detect --json)\"
             echo \"DENIED=$($filter /usr/sbin/iptables-wrapper detect --json)\"
             /usr/sbin/iptables-wrapper install --symlinks >/dev/null
             $filter ip6tables -A INPUT -s fd00::1 -j DROP
             echo \"IN_NFT=$(ip6tables-nft-save | grep -c fd00::1 || true)\"
             echo \"LINKS=$(readlink /usr/sbin/iptables /usr/sbin/ip6tables | tr '\\n' ' ')\"",
            &[],
            &[(deny, "/usr/local/bin/deny")],
        );
        assert_eq!(run.status, 0, "{run}");
        let plain = json(&run, "PLAIN");
        let denied = json(&run, "DENIED");
        assert_eq!(plain["mode"], "split", "{run}");
        assert_eq!(denied["families"], plain["families"], "{run}");
        for p in denied["probes"].as_array().unwrap() {
            if p["result"] == "not-run" {
                continue;
            }
            assert_eq!(p["source"], "process", "{p}");
            assert_eq!(p["result"], "ok", "{p}");
            let detail = p["detail"].as_str().unwrap_or_default();
            assert!(
                detail.starts_with("kernel source unavailable (")
                    && detail.contains("Operation not permitted"),
                "{p}"
            );
        }
        for p in plain["probes"].as_array().unwrap() {
            assert_eq!(p["source"], "kernel", "{p}");
        }
        assert_eq!(run.get("IN_NFT"), "1", "{run}");
        assert_eq!(
            run.get("LINKS"),
            "xtables-legacy-multi xtables-nft-multi ",
            "{run}"
        );
    });
}

// One deadline per probe, whatever its source. 100,000 nft rules in one
// chain take the kernel seconds to dump (each chain dump walks the chain
// from its start per datagram), every datagram arriving at once: the
// receive timeout never fires, so before, the count ran to its end however
// small IPTABLES_WRAPPER_PROBE_TIMEOUT was (or fell back to a process with a
// fresh deadline). Now it stops at the deadline, reports timed-out from the
// kernel, and a probe after it (IPv6's count, on the same socket) is not
// delayed by the rest of the dump.
#[test]
fn a_kernel_probe_stops_at_its_deadline() {
    each(suites(), |suite| {
        let run = sandbox(
            suite,
            "set -eu
             awk 'BEGIN {
               print \"*filter\"; print \":BIG - [0:0]\"
               for (i = 0; i < 100000; i++)
                 printf \"-A BIG -d 10.%d.%d.%d/32 -j ACCEPT\\n\", int(i / 65536) % 256, int(i / 256) % 256, i % 256
               print \"COMMIT\"
             }' | iptables-nft-restore
             ip6tables-nft -A INPUT -j ACCEPT
             start=$(date +%s%N)
             echo \"JSON=$(IPTABLES_WRAPPER_PROBE_TIMEOUT=0.2 /usr/sbin/iptables-wrapper detect --json)\"
             echo \"MS=$((($(date +%s%N) - start) / 1000000))\"",
        );
        assert_eq!(run.status, 0, "{run}");
        let v = json(&run, "JSON");
        let probe = |family: &str| {
            v["probes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["mode"] == "nft" && p["table"] == "all" && p["family"] == family)
                .unwrap_or_else(|| panic!("no nft {family} count in {v}"))
                .clone()
        };
        let v4 = probe("ipv4");
        assert_eq!(
            (&v4["result"], &v4["source"]),
            (&"timed-out".into(), &"kernel".into()),
            "the count must stop at its deadline, not fall back: {v4}"
        );
        let detail = v4["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with("stopped at the 0.2 s deadline"), "{v4}");
        // The wrapper's own measure of the probe: the deadline, plus at
        // most the receive slack (10 ms) and scheduling: a generous bound.
        let ms = v4["ms"].as_f64().unwrap();
        assert!(
            ms < 1000.0,
            "the probe ran {ms} ms with a 200 ms deadline: {v4}"
        );
        let v6 = probe("ipv6");
        assert_eq!(
            (&v6["result"], &v6["rules"]),
            (&"ok".into(), &1.into()),
            "IPv6's count after the stopped dump: {v6}"
        );
        // Every probe has its own deadline; only one can use it all.
        let total: u64 = run.get("MS").parse().unwrap();
        assert!(total < 5000, "detect took {total} ms\n{run}");
    });
}
