//! Deciding once and remembering, on the real kernel (bookworm and trixie,
//! both layouts, see tests/sandbox.sh): `iptables-wrapper switch` (alone,
//! repeated, after a first call, on a read-only root, and with `--
//! COMMAND`), the decision record (written, shown by `verify`, stale once
//! the names are re-pointed by hand, unwritable), and read-only roots that
//! keep their decision in a state directory, so twenty calls warn once and
//! keep one mode even when a hint appears between them.

mod common;

use common::{
    cases, each, expect, expect_version, json, lines, resolved, Layout, Mode, Run, Target,
};
use iptables_wrapper::detect::{Choice, Decision, Reason};
use iptables_wrapper::names::Family;
use iptables_wrapper::report::Summary;
use serde_json::Value;
use std::fmt;

const HINT: &str = "KUBE-IPTABLES-HINT";
const RECORD: &str = "/usr/sbin/.iptables-wrapper-decision.json";

/// Runs `body` after installing the wrapper in `layout`, with busybox at
/// /tmp/busybox (for `mount`).
fn run(suite: &str, layout: Layout, body: &str) -> Run {
    common::installed(suite, layout, body, &[(common::busybox(), "/tmp/busybox")])
}

/// The decision a legacy hint in both families' mangle makes.
fn legacy_hinted() -> Decision {
    let c = |family| Choice {
        mode: Mode::Legacy,
        reason: Reason::Hint {
            chain: HINT,
            mode: Mode::Legacy,
            family,
        },
    };
    Decision {
        families: [c(Family::V4), c(Family::V6)],
        warnings: vec![],
        probes: vec![],
        native_tables: None,
    }
}

/// The shell lines that make the read-only root of `layout`: for plain
/// links /usr/sbin; for alternatives, which switch in /etc and log in /var,
/// those too.
fn read_only(layout: Layout) -> String {
    let dirs = match layout {
        Layout::Symlinks => "/usr/sbin",
        Layout::Alternatives => "/usr/sbin /etc /var",
    };
    format!(
        "for d in {dirs}; do
             /tmp/busybox mount --bind $d $d
             /tmp/busybox mount -o remount,bind,ro $d
         done"
    )
}

/// Asserts that a timestamp is RFC 3339 UTC, whole seconds.
fn expect_utc(t: &str, ctx: &str) {
    let b = t.as_bytes();
    let shape = t.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(
        shape && t.starts_with("20"),
        "{ctx}: {t:?} is not an RFC 3339 UTC time"
    );
}

// `switch` in each layout: it switches as a first call would, prints the
// decision line (or detect's JSON), writes the record; run again, or after
// a first call, it changes nothing and prints the same decision.
#[test]
fn switch_decides_once_and_is_idempotent() {
    let summary = Summary::of(&legacy_hinted());
    let (line, why) = (summary.line(), summary.why());
    each(cases(&["switch"]), |c| {
        let r = run(
            &c.suite,
            c.layout,
            "hint legacy iptables
             hint legacy ip6tables
             rules nft iptables 3
             call FIRST $w switch
             links AFTER
             echo \"RECORD=$(cat /usr/sbin/.iptables-wrapper-decision.json)\"
             call AGAIN $w switch
             call JSON $w switch --json
             links AGAIN_LINKS
             call VERIFY $w verify
             call IPT iptables -V
             call NONAMES $w switch --dir /tmp
             leftovers",
        );
        let want = c.layout.links_both(Target::Mode(Mode::Legacy));
        expect(&r, "FIRST_RC", "0");
        expect(&r, "FIRST_OUT", &line);
        expect(&r, "FIRST_ERR", "");
        expect(&r, "AFTER", &want);
        let record = json(&r, "RECORD");
        assert_eq!(record["trigger"], "switch", "{r}");
        assert_eq!(record["decision"]["mode"], "legacy", "{r}");
        assert!(record["decision"].get("probes").is_none(), "{r}");
        let t = record["time"].as_str().unwrap();
        expect_utc(t, "record");

        // Again: nothing changes, the same decision is printed, and stderr
        // says where it came from.
        expect(&r, "AGAIN_RC", "0");
        expect(&r, "AGAIN_OUT", &line);
        expect(
            &r,
            "AGAIN_ERR",
            &format!(
                "iptables-wrapper: already switched by iptables-wrapper switch at {t}: {why}; nothing changed"
            ),
        );
        let j = json(&r, "JSON_OUT");
        assert_eq!(j["mode"], "legacy", "{r}");
        assert_eq!(j["families"], record["decision"]["families"], "{r}");
        assert_eq!(j["probes"], Value::Array(vec![]), "{r}");
        expect(&r, "AGAIN_LINKS", &want);
        expect(
            &r,
            "VERIFY_OUT",
            &format!("switched: legacy (by iptables-wrapper switch at {t}: {why})"),
        );
        expect_version(&r, "IPT", Mode::Legacy);
        expect(&r, "IPT_ERR", "");
        expect(&r, "NONAMES_RC", "1");
        expect(
            &r,
            "NONAMES_ERR",
            "iptables-wrapper: none of the six iptables names is in /tmp; run `iptables-wrapper install` there first, or pass the --dir that holds them",
        );
        expect(&r, "LEFTOVERS", "");
    });
}

// After a first call, `switch` reports that call's decision; `verify`
// shows who decided, when and why; re-pointed by hand, the record is
// stale and `verify` says so instead of believing it.
#[test]
fn record_of_a_first_call_is_shown_then_stale() {
    let summary = Summary::of(&legacy_hinted());
    let (line, why) = (summary.line(), summary.why());
    each(cases(&["first call"]), |c| {
        let r = run(
            &c.suite,
            c.layout,
            "hint legacy iptables
             hint legacy ip6tables
             printf '*filter\\nCOMMIT\\n' | call RESTORE iptables-restore
             echo \"RECORD=$(cat /usr/sbin/.iptables-wrapper-decision.json)\"
             call VERIFY $w verify
             call VJSON $w verify --json
             call SWITCH $w switch
             # By hand, as an operator would: every name to nft.
             case $(readlink /usr/sbin/iptables) in
             /etc/alternatives/*)
                 update-alternatives --set iptables /usr/sbin/iptables-nft >/dev/null
                 update-alternatives --set ip6tables /usr/sbin/ip6tables-nft >/dev/null ;;
             *) for n in $NAMES; do ln -sfn xtables-nft-multi /usr/sbin/$n; done ;;
             esac
             call STALE $w verify
             call SJSON $w verify --json
             call SWITCH2 $w switch",
        );
        expect(&r, "RESTORE_RC", "0");
        expect(&r, "RESTORE_ERR", "");
        let record = json(&r, "RECORD");
        assert_eq!(record["trigger"], "first-call", "{r}");
        assert_eq!(record["command"], "iptables-restore", "{r}");
        assert_eq!(record["version"], env!("CARGO_PKG_VERSION"), "{r}");
        assert_eq!(record["dir"], "/usr/sbin", "{r}");
        let t = record["time"].as_str().unwrap().to_string();
        expect_utc(&t, "record");
        expect(
            &r,
            "VERIFY_OUT",
            &format!("switched: legacy (by the first call of iptables-restore at {t}: {why})"),
        );
        let v = json(&r, "VJSON_OUT");
        assert_eq!(v["record"]["status"], "current", "{r}");
        assert_eq!(v["record"]["path"], RECORD, "{r}");
        assert_eq!(v["record"]["record"], record, "{r}");
        expect(&r, "SWITCH_RC", "0");
        expect(&r, "SWITCH_OUT", &line);

        expect(&r, "STALE_RC", "0");
        expect(
            &r,
            "STALE_OUT",
            &format!(
                "switched: nft (the record in {RECORD} says legacy, by the first call of iptables-restore at {t}: {why}; it is stale: the names were re-pointed since)"
            ),
        );
        assert_eq!(json(&r, "SJSON_OUT")["record"]["status"], "stale", "{r}");
        expect(&r, "SWITCH2_RC", "0");
        expect(
            &r,
            "SWITCH2_OUT",
            &format!("nft (already switched; the record in {RECORD} says legacy, so the names were re-pointed since)"),
        );
    });
}

// A record that cannot be written (a directory in its place) is one
// warning; the call still switches and runs, and `verify` still works.
#[test]
fn unwritable_record_is_one_warning() {
    each(cases(&["unwritable record"]), |c| {
        let r = run(
            &c.suite,
            c.layout,
            &format!(
                "hint legacy iptables
                 mkdir {RECORD}
                 call FIRST iptables -V
                 call SECOND iptables -V
                 resolved
                 call VERIFY $w verify"
            ),
        );
        expect_version(&r, "FIRST", Mode::Legacy);
        let warned = lines(&r, "FIRST_ERR");
        assert!(
            warned.len() == 1
                && warned[0].starts_with(&format!(
                    "iptables-wrapper: warning: cannot write the decision record {RECORD}: "
                )),
            "one warning\n{r}"
        );
        expect(&r, "SECOND_ERR", "");
        expect(&r, "RESOLVED", &resolved(Mode::Legacy, Mode::Legacy));
        expect(&r, "VERIFY_RC", "0");
        assert!(
            r.get("VERIFY_OUT")
                .starts_with("switched: legacy (no record of why: cannot read "),
            "{r}"
        );
    });
}

// `switch -- COMMAND ARGS...` becomes COMMAND: the same PID, stdin, exact
// arguments, exit status, and SIGPIPE as the caller gave it. Its report
// goes to stderr, leaving stdout to COMMAND. A missing command is 127, one
// that cannot be executed 126.
#[test]
fn switch_then_exec_keeps_stdin_pid_and_status() {
    each(cases(&["switch --"]), |c| {
        let r = run(
            &c.suite,
            c.layout,
            "hint legacy iptables
             printf 'one\\ntwo\\n' >/tmp/in
             $w switch -- sh -c 'echo \"PID=$$\"; printf \"ARGS=\"; printf \"[%s]\" \"$0\" \"$@\"; echo; echo \"IN=$(tr \"\\n\" ,)\"; exit 7' 'a b' c '' </tmp/in >/tmp/out 2>/tmp/err &
             pid=$!
             rc=0; wait $pid || rc=$?
             echo \"RC=$rc\"
             echo \"BG=$pid\"
             cat /tmp/out
             echo \"ERR=$(joined </tmp/err)\"
             # yes(1) dies of SIGPIPE when head leaves, as without switch.
             st=$({ { $w switch -- yes 2>/dev/null && s=0 || s=$?; echo $s >&3; } | head -n 1 >/dev/null; } 3>&1)
             echo \"PIPE=$st\"
             call MISSING $w switch -- no-such-command x
             call NOEXEC $w switch -- /etc/hostname
             links AFTER",
        );
        expect(&r, "RC", "7");
        expect(&r, "PID", &r.get("BG"));
        expect(&r, "ARGS", "[a b][c][]");
        expect(&r, "IN", "one,two,");
        expect(&r, "ERR", &format!("iptables-wrapper: {}", legacy_line()));
        expect(&r, "PIPE", "141");
        expect(&r, "MISSING_RC", "127");
        assert!(
            r.get("MISSING_ERR")
                .contains("iptables-wrapper: cannot run no-such-command: no executable no-such-command in PATH"),
            "{r}"
        );
        expect(&r, "NOEXEC_RC", "126");
        assert!(
            r.get("NOEXEC_ERR")
                .contains("cannot run /etc/hostname after switching"),
            "{r}"
        );
        expect(
            &r,
            "AFTER",
            &c.layout.links_both(Target::Mode(Mode::Legacy)),
        );
    });
}

/// The decision line of a legacy hint in IPv4 only.
fn legacy_line() -> String {
    let mut d = legacy_hinted();
    d.families[1].reason = Reason::OtherFamilyHint {
        chain: HINT,
        mode: Mode::Legacy,
        family: Family::V4,
    };
    Summary::of(&d).line()
}

// `switch` on a read-only root: it says so and exits 3 alone, every time,
// reporting the kept decision; with `-- COMMAND` it warns and still runs
// COMMAND. A first call afterwards uses the kept decision without a word.
#[test]
fn switch_on_a_read_only_root() {
    each(cases(&["read-only switch"]), |c| {
        let r = run(
            &c.suite,
            c.layout,
            &format!(
                "hint legacy iptables
                 {}
                 links BEFORE
                 call ALONE $w switch
                 call AGAIN $w switch
                 call CMD $w switch -- sh -c 'echo ran; exit 5'
                 call FIRST iptables -V
                 call VERIFY $w verify
                 links AFTER",
                read_only(c.layout)
            ),
        );
        let kept = "/run/iptables-wrapper/decision-%2Fusr%2Fsbin.json";
        expect(&r, "ALONE_RC", "3");
        expect(&r, "ALONE_OUT", &legacy_line());
        let err = lines(&r, "ALONE_ERR");
        assert_eq!(err.len(), 2, "a warning and the failure\n{r}");
        assert!(
            err[0].starts_with("iptables-wrapper: warning: cannot switch the iptables names in /usr/sbin to legacy: ")
                && err[0].ends_with(&format!("the decision is kept in {kept}, so later calls use it without detecting or warning again")),
            "{r}"
        );
        assert_eq!(
            err[1],
            format!("iptables-wrapper: the iptables names in /usr/sbin were not switched; calls under them run the decision kept in {kept} directly"),
            "{r}"
        );
        expect(&r, "AGAIN_RC", "3");
        expect(&r, "AGAIN_OUT", &legacy_line());
        assert!(
            lines(&r, "AGAIN_ERR")[0].starts_with("iptables-wrapper: warning: the names in /usr/sbin are not switched; using the decision made by iptables-wrapper switch at "),
            "{r}"
        );
        expect(&r, "CMD_RC", "5");
        expect(&r, "CMD_OUT", "ran");
        expect_version(&r, "FIRST", Mode::Legacy);
        expect(&r, "FIRST_ERR", "");
        let v = r.get("VERIFY_OUT");
        assert!(
            v.starts_with("not switched (read-only); decided legacy at 20")
                && v.contains(", kept in /run/iptables-wrapper (iptables-wrapper switch: "),
            "{r}"
        );
        expect(&r, "AFTER", &r.get("BEFORE"));
    });
}

// Without CAP_NET_ADMIN and CAP_NET_RAW every probe is refused: `switch`
// warns (probes-refused), switches nothing, keeps nothing and exits 3; with
// a command it still runs it. A `switch` that can look then decides.
#[test]
fn switch_without_net_admin_leaves_the_names() {
    each(cases(&["switch without NET_ADMIN"]), |c| {
        let r = run(
            &c.suite,
            c.layout,
            "hint legacy iptables
             links BEFORE
             call BLIND np $w switch
             call BLINDCMD np $w switch -- sh -c 'exit 4'
             links AFTER_BLIND
             echo \"KEPT=$(ls /run/iptables-wrapper /tmp/iptables-wrapper 2>/dev/null | wc -l)\"
             call SEEING $w switch
             links AFTER",
        );
        expect(&r, "BLIND_RC", "3");
        expect(&r, "BLIND_OUT", "nft (no evidence, default nft)");
        let err = lines(&r, "BLIND_ERR");
        assert_eq!(
            err.len(),
            3,
            "two probes-refused warnings and the failure\n{r}"
        );
        for (line, family) in err.iter().zip(["IPv4", "IPv6"]) {
            assert!(
                line.starts_with(&format!(
                    "iptables-wrapper: warning: every probe of {family} was refused or failed"
                )),
                "{r}"
            );
        }
        assert_eq!(
            err[2],
            "iptables-wrapper: the iptables names in /usr/sbin were not switched; each call under them detects again",
            "{r}"
        );
        expect(&r, "BLINDCMD_RC", "4");
        expect(&r, "AFTER_BLIND", &r.get("BEFORE"));
        expect(&r, "KEPT", "0");
        expect(&r, "SEEING_RC", "0");
        expect(&r, "SEEING_OUT", &legacy_line());
        expect(
            &r,
            "AFTER",
            &c.layout.links_both(Target::Mode(Mode::Legacy)),
        );
    });
}

/// Where a read-only root keeps its decision.
#[derive(Clone, Copy)]
enum StateDir {
    /// IPTABLES_WRAPPER_STATE_DIR, an emptyDir-like writable directory.
    Variable,
    /// Unset: /run/iptables-wrapper.
    Default,
    /// /run read-only, /tmp/iptables-wrapper a file: nowhere.
    Nowhere,
}

impl fmt::Display for StateDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateDir::Variable => "IPTABLES_WRAPPER_STATE_DIR",
            StateDir::Default => "default state dir",
            StateDir::Nowhere => "no writable state dir",
        })
    }
}

// Twenty calls on a read-only root: ten at once, then a kubelet hint for
// nft appears (which would now win: a hint in both back ends means nft),
// then ten more. With a state directory, one warning in all and legacy
// throughout; with none, every call warns and detects again.
#[test]
fn read_only_root_decides_once_for_twenty_calls() {
    each(
        cases(&[StateDir::Variable, StateDir::Default, StateDir::Nowhere]),
        |c| {
            let setup = match c.what {
                StateDir::Variable => {
                    "mkdir /tmp/state; export IPTABLES_WRAPPER_STATE_DIR=/tmp/state"
                }
                StateDir::Default => "",
                StateDir::Nowhere => {
                    "/tmp/busybox mount --bind /run /run
                     /tmp/busybox mount -o remount,bind,ro /run
                     touch /tmp/iptables-wrapper"
                }
            };
            let r = run(
                &c.suite,
                c.layout,
                &format!(
                    "hint legacy iptables
                     {}
                     {setup}
                     links BEFORE
                     one() {{
                         case $(($1 % 6)) in
                         0) n=iptables ;; 1) n=iptables-save ;; 2) n=iptables-restore ;;
                         3) n=ip6tables ;; 4) n=ip6tables-save ;; 5) n=ip6tables-restore ;;
                         esac
                         rc=0
                         $n -V >/tmp/out.$1 2>/tmp/err.$1 || rc=$?
                         echo $rc >/tmp/rc.$1
                     }}
                     exec 9>/tmp/barrier
                     flock 9
                     for i in $(seq 1 10); do (flock -s /tmp/barrier true; one $i) 9>&- & done
                     sleep 0.3
                     flock -u 9
                     wait
                     hint nft iptables
                     hint nft ip6tables
                     for i in $(seq 11 20); do one $i; done
                     s=; m=
                     for i in $(seq 1 20); do
                         s=\"$s $(cat /tmp/rc.$i)\"
                         m=\"$m $(sed 's/.*(\\(.*\\))$/\\1/' /tmp/out.$i)\"
                     done
                     echo \"RCS=${{s# }}\"
                     echo \"MODES=${{m# }}\"
                     echo \"WARNINGS=$(cat /tmp/err.* | joined)\"
                     echo \"LATE_WARNINGS=$(cat /tmp/err.1[1-9] /tmp/err.20 | joined)\"
                     call VERIFY $w verify
                     ls /tmp/state /run/iptables-wrapper 2>/dev/null | grep -c tmp- | sed 's/^/TEMPS=/' || true
                     links AFTER",
                    read_only(c.layout)
                ),
            );
            expect(&r, "RCS", &["0"; 20].join(" "));
            expect(&r, "AFTER", &r.get("BEFORE"));
            let warnings = lines(&r, "WARNINGS");
            match c.what {
                StateDir::Variable | StateDir::Default => {
                    let dir = match c.what {
                        StateDir::Variable => "/tmp/state",
                        _ => "/run/iptables-wrapper",
                    };
                    expect(&r, "MODES", &["legacy"; 20].join(" "));
                    assert_eq!(warnings.len(), 1, "one warning in twenty calls\n{r}");
                    assert!(
                        warnings[0].contains(&format!(
                            "the decision is kept in {dir}/decision-%2Fusr%2Fsbin.json"
                        )),
                        "{r}"
                    );
                    expect(&r, "LATE_WARNINGS", "");
                    let v = r.get("VERIFY_OUT");
                    assert!(
                        v.starts_with("not switched (read-only); decided legacy at ")
                            && v.contains(&format!(", kept in {dir} (the first call of ip")),
                        "{r}"
                    );
                    expect(&r, "TEMPS", "0");
                }
                StateDir::Nowhere => {
                    // Nothing remembers: every call warns, and the late
                    // hint changes the mode (the behaviour a state
                    // directory prevents).
                    assert_eq!(warnings.len(), 20, "{r}");
                    assert!(
                        warnings
                            .iter()
                            .all(|w| w.contains("no state directory could be written")),
                        "{r}"
                    );
                    expect(
                        &r,
                        "MODES",
                        &[["legacy"; 10].join(" "), ["nf_tables"; 10].join(" ")].join(" "),
                    );
                    expect(
                        &r,
                        "VERIFY_OUT",
                        "not yet switched: the six names lead to iptables-wrapper",
                    );
                }
            }
        },
    );
}
