//! `iptables-wrapper install` and installer/iptables-wrapper-installer.sh on
//! real Debian root file systems (see tests/common/mod.rs): the alternatives
//! registration and a first call in both modes, the shell installer under
//! dash and busybox sh (and in Alpine- and Fedora-layout roots), the
//! sanity-check refusals, and install without /proc.
//!
//! Every scenario script reports through the shell helpers in `HELPERS`:
//! `step NAME CMD...` prints `NAME.rc=`, `NAME.out=` and `NAME.err=` lines,
//! and `unchanged NAME` says whether /usr/sbin, /etc/alternatives and the
//! alternatives database are exactly as `snap > /tmp/before` recorded them.

mod common;

use common::{plain_target, repo, sandbox_with, suites, Run, NAMES};

/// `step` and `unchanged`, for scripts in the root and outside it (there
/// with $STEPS set to a private directory, since /tmp is the host's).
const STEPS_SH: &str = r#"
step() {
    name=$1
    shift
    "$@" >"${STEPS:-/tmp}/step.out" 2>"${STEPS:-/tmp}/step.err"
    echo "$name.rc=$?"
    sed "s|^|$name.out=|" "${STEPS:-/tmp}/step.out"
    sed "s|^|$name.err=|" "${STEPS:-/tmp}/step.err"
}
unchanged() {
    snap >"${STEPS:-/tmp}/after"
    if cmp -s "${STEPS:-/tmp}/before" "${STEPS:-/tmp}/after"; then
        echo "$1.unchanged=yes"
    else
        echo "$1.unchanged=no"
        diff "${STEPS:-/tmp}/before" "${STEPS:-/tmp}/after" | sed "s|^|$1.diff=|"
    fi
}
"#;

const HELPERS: &str = r#"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
W=/usr/sbin/iptables-wrapper
snap() {
    {
        ls -lA --time-style=full-iso /usr/sbin /etc/alternatives /var/lib/dpkg/alternatives
        update-alternatives --query iptables
        update-alternatives --query ip6tables
    } 2>&1
}
# resolved PREFIX: where each of the six names finally leads.
resolved() {
    for n in $NAMES; do echo "$1.$n=$(readlink -f /usr/sbin/$n)"; done
}
# value PREFIX: the selected alternative of both groups.
value() {
    for g in iptables ip6tables; do
        echo "$1.$g=$(update-alternatives --query $g | sed -n 's/^Value: //p')"
    done
}
# A stand-in xtables-nft-multi that reports VERSION.
fake_nft() {
    printf '#!/bin/sh\ncase " $* " in *" --version "*) echo "iptables v%s (nf_tables)" ;; esac\n' "$1" >/usr/sbin/xtables-nft-multi
    chmod 755 /usr/sbin/xtables-nft-multi
}
# An xtables-nft-multi that exec refuses (Exec format error).
garbage_nft() {
    printf '\001\002\003garbage\377\376' >/usr/sbin/xtables-nft-multi
    chmod 755 /usr/sbin/xtables-nft-multi
}
# Rule set evidence that makes a first call choose MODE.
evidence() {
    if [ "$1" = legacy ]; then
        /usr/sbin/iptables-legacy -A INPUT -s 192.0.2.1 -j ACCEPT
        /usr/sbin/ip6tables-legacy -A INPUT -s 2001:db8::1 -j ACCEPT
    fi
}
"#;

const INSTALLER: &str = "/root/iptables-wrapper-installer.sh";
const BUSYBOX: &str = "/bin/busybox";

/// The two lines a first install on Debian prints.
const REGISTERED: [&str; 2] = [
    "iptables-wrapper: registered /usr/sbin/iptables-wrapper as the iptables alternative with priority 100",
    "iptables-wrapper: registered /usr/sbin/iptables-wrapper as the ip6tables alternative with priority 100",
];

/// Runs `body` after the helpers in a fresh sandbox of `suite`, with the
/// shell installer at /root and busybox at /bin/busybox.
fn scenario(suite: &str, body: &str) -> Run {
    let installer = repo().join("installer/iptables-wrapper-installer.sh");
    let installer = installer.to_str().expect("a UTF-8 repository path");
    sandbox_with(
        suite,
        &format!("{}\n{STEPS_SH}\n{HELPERS}\n{body}", common::names_sh()),
        &[],
        &[(installer, INSTALLER), (common::busybox(), BUSYBOX)],
    )
}

/// What one `step` reported.
struct Step {
    rc: i32,
    out: Vec<String>,
    err: String,
}

/// Every line `name` printed, on stdout and stderr, is a message of the
/// wrapper's: it starts with `iptables-wrapper: `.
fn assert_prefixed(run: &Run, name: &str, s: &Step) {
    for l in s.out.iter().map(String::as_str).chain(s.err.lines()) {
        assert!(
            l.starts_with("iptables-wrapper: "),
            "{name} printed {l:?}, without the prefix:\n{run}"
        );
    }
}

fn step(run: &Run, name: &str) -> Step {
    let lines = |kind: &str| -> Vec<String> {
        let prefix = format!("{name}.{kind}=");
        run.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(String::from)
            .collect()
    };
    let rc = run.get(&format!("{name}.rc"));
    Step {
        rc: rc
            .parse()
            .unwrap_or_else(|_| panic!("{name}.rc={rc} is not a number:\n{run}")),
        out: lines("out"),
        err: lines("err").join("\n"),
    }
}

fn assert_unchanged(run: &Run, name: &str) {
    assert_eq!(
        run.get(&format!("{name}.unchanged")),
        "yes",
        "{name} changed the image:\n{run}"
    );
}

/// `name` succeeded and printed exactly `lines`.
fn assert_printed(run: &Run, name: &str, lines: &[&str]) {
    let s = step(run, name);
    assert_prefixed(run, name, &s);
    assert_eq!(s.rc, 0, "{name} failed:\n{run}");
    assert_eq!(s.out, lines, "{name}'s output:\n{run}");
}

/// `name` was refused with exit status 1, printed nothing on stdout, said
/// every one of `needles` on stderr, and changed nothing.
fn assert_refused(run: &Run, name: &str, needles: &[&str]) {
    let s = step(run, name);
    assert_prefixed(run, name, &s);
    assert_eq!(s.rc, 1, "{name} should have been refused:\n{run}");
    assert!(s.out.is_empty(), "{name} printed changes:\n{run}");
    assert!(
        s.err.starts_with("iptables-wrapper: install refused: "),
        "{name}'s message:\n{run}"
    );
    for n in needles {
        assert!(s.err.contains(n), "{name}'s message lacks {n:?}:\n{run}");
    }
    assert_unchanged(run, name);
}

/// Each of the six names, as reported by `resolved PREFIX`, leads to `target`.
fn assert_resolved(run: &Run, prefix: &str, target: &str) {
    for n in NAMES {
        assert_eq!(
            run.get(&format!("{prefix}.{n}")),
            target,
            "{prefix} {n}:\n{run}"
        );
    }
}

/// `iptables -V` after the first call names the mode's back end.
fn assert_mode_runs(run: &Run, name: &str, mode: &str) {
    let s = step(run, name);
    let tag = if mode == "nft" {
        "(nf_tables)"
    } else {
        "(legacy)"
    };
    assert_eq!(s.rc, 0, "{name}:\n{run}");
    assert!(
        s.out.len() == 1 && s.out[0].starts_with("iptables v1.8.") && s.out[0].ends_with(tag),
        "{name} printed {:?}, not a {mode} version:\n{run}",
        s.out
    );
}

/// After the first call: both groups are set to the mode's alternative and
/// every name leads to its multi binary.
fn assert_switched(run: &Run, mode: &str) {
    for g in ["iptables", "ip6tables"] {
        assert_eq!(
            run.get(&format!("after.{g}")),
            format!("/usr/sbin/{g}-{mode}"),
            "{g} group after the first call:\n{run}"
        );
    }
    assert_resolved(run, "switched", &format!("/usr/sbin/xtables-{mode}-multi"));
}

/// The part shared by the end-to-end scenarios, after the wrapper has been
/// installed: it is the selected alternative with priority 100, `--auto`
/// keeps it, and the first call picks MODE and switches both groups.
const FIRST_CALL: &str = r#"
for g in iptables ip6tables; do
    update-alternatives --query $g | sed -n '\|^Alternative: /usr/sbin/iptables-wrapper$|,/^$/p' | sed "s|^|query.$g=|"
done
value installed
resolved installed
update-alternatives --auto iptables
update-alternatives --auto ip6tables
value auto
resolved auto
evidence "$1"
step v iptables -V
step v6 ip6tables-save
value after
resolved switched
"#;

fn assert_first_call(run: &Run, mode: &str) {
    for g in ["iptables", "ip6tables"] {
        let block: Vec<String> = run
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("query.{g}=")))
            .map(String::from)
            .collect();
        let block = block.join("\n");
        assert!(block.contains("Priority: 100"), "{g} query:\n{run}");
        for slave in ["restore", "save"] {
            assert!(
                block.contains(&format!(" {g}-{slave} /usr/sbin/iptables-wrapper")),
                "{g}-{slave} is not a slave leading to the wrapper:\n{run}"
            );
        }
        for when in ["installed", "auto"] {
            assert_eq!(
                run.get(&format!("{when}.{g}")),
                "/usr/sbin/iptables-wrapper",
                "{g} group ({when}):\n{run}"
            );
        }
    }
    assert_resolved(run, "installed", "/usr/sbin/iptables-wrapper");
    assert_resolved(run, "auto", "/usr/sbin/iptables-wrapper");
    assert_mode_runs(run, "v", mode);
    assert_eq!(step(run, "v6").rc, 0, "ip6tables-save:\n{run}");
    assert_switched(run, mode);
}

fn install_and_first_call(mode: &str) {
    for suite in suites() {
        let run = scenario(
            &suite,
            &format!(
                r#"
set -- {mode}
step first $W install
snap >/tmp/before
step second $W install
unchanged second
{FIRST_CALL}
"#
            ),
        );
        assert_printed(&run, "first", &REGISTERED);
        assert_printed(&run, "second", &[]);
        assert_unchanged(&run, "second");
        assert_first_call(&run, mode);
    }
}

#[test]
fn install_then_first_call_chooses_nft() {
    install_and_first_call("nft");
}

#[test]
fn install_then_first_call_chooses_legacy() {
    install_and_first_call("legacy");
}

#[test]
fn install_takes_over_a_group_set_by_hand() {
    for suite in suites() {
        let run = scenario(
            &suite,
            r#"
update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
step first $W install
step second $W install
value installed
resolved installed
"#,
        );
        assert_printed(
            &run,
            "first",
            &[
                REGISTERED[0],
                "iptables-wrapper: selected /usr/sbin/iptables-wrapper for the iptables alternative",
                REGISTERED[1],
            ],
        );
        assert_printed(&run, "second", &[]);
        assert_eq!(run.get("installed.iptables"), "/usr/sbin/iptables-wrapper");
        assert_resolved(&run, "installed", "/usr/sbin/iptables-wrapper");
    }
}

/// `install --root /` run from a copy outside the iptables directory, as
/// from a Dockerfile `RUN --mount=type=bind` step, on a machine of each
/// suite: the suite's own update-alternatives does the `--root` work (dpkg
/// 1.21 on bookworm prints `Debian update-alternatives version`, dpkg 1.22
/// on trixie `update-alternatives version`; both must be taken for dpkg's).
#[test]
fn install_root_slash_from_a_copy_elsewhere_with_the_suites_own_dpkg() {
    for suite in suites() {
        let run = scenario(
            &suite,
            r#"
mkdir /opt/w
mv $W /opt/w/iptables-wrapper
step first /opt/w/iptables-wrapper install --root /
snap >/tmp/before
step second /opt/w/iptables-wrapper install --root /
unchanged second
value installed
resolved installed
"#,
        );
        let copied =
            "iptables-wrapper: copied /opt/w/iptables-wrapper to /usr/sbin/iptables-wrapper";
        assert_printed(&run, "first", &[copied, REGISTERED[0], REGISTERED[1]]);
        assert_printed(&run, "second", &[]);
        assert_unchanged(&run, "second");
        assert_eq!(run.get("installed.iptables"), "/usr/sbin/iptables-wrapper");
        assert_eq!(run.get("installed.ip6tables"), "/usr/sbin/iptables-wrapper");
        assert_resolved(&run, "installed", "/usr/sbin/iptables-wrapper");
    }
}

#[test]
fn install_symlinks_links_the_heads_and_the_rest_to_them() {
    for suite in suites() {
        let run = scenario(
            &suite,
            r#"
value before
step first $W install --symlinks
for n in $NAMES; do echo "link.$n=$(readlink /usr/sbin/$n)"; done
snap >/tmp/before
step second $W install --symlinks
unchanged second
step v iptables -V
for n in $NAMES; do echo "after.$n=$(readlink /usr/sbin/$n)"; done
value alt
"#,
        );
        let lines: Vec<String> = NAMES
            .iter()
            .map(|n| {
                format!(
                    "iptables-wrapper: linked /usr/sbin/{n} -> {}",
                    plain_target(n)
                )
            })
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_printed(&run, "first", &lines);
        assert_printed(&run, "second", &[]);
        assert_unchanged(&run, "second");
        assert_mode_runs(&run, "v", "nft");
        for n in NAMES {
            assert_eq!(run.get(&format!("link.{n}")), plain_target(n), "{run}");
            let after = match plain_target(n) {
                "iptables-wrapper" => "xtables-nft-multi",
                head => head,
            };
            assert_eq!(run.get(&format!("after.{n}")), after, "{run}");
        }
        // The alternatives database is left alone.
        for g in ["iptables", "ip6tables"] {
            assert_eq!(
                run.get(&format!("alt.{g}")),
                run.get(&format!("before.{g}")),
                "{run}"
            );
        }
    }
}

/// Puts the installer and the binary side by side in /tmp/inst, with no
/// wrapper in /usr/sbin, keeping a copy of the binary in /tmp/orig. The
/// script loses its exec bit, as a build context may: `sh SCRIPT` needs none.
const STAGE: &str = r#"
mkdir /tmp/inst
cp $W /tmp/orig
cp $W /tmp/inst/iptables-wrapper
cp /root/iptables-wrapper-installer.sh /tmp/inst/
chmod 0644 /tmp/inst/iptables-wrapper-installer.sh
rm $W
I=/tmp/inst/iptables-wrapper-installer.sh
"#;

const INSTALLER_DONE: [&str; 5] = [
    "iptables-wrapper: copied /tmp/inst/iptables-wrapper to /usr/sbin/iptables-wrapper",
    REGISTERED[0],
    REGISTERED[1],
    "iptables-wrapper: removed /tmp/inst/iptables-wrapper",
    "iptables-wrapper: removed /tmp/inst/iptables-wrapper-installer.sh",
];

fn shell_installer(shell: &str) {
    for suite in suites() {
        for mode in ["nft", "legacy"] {
            let run = scenario(
                &suite,
                &format!(
                    r#"
set -- {mode}
{STAGE}
step inst {shell} $I
echo "left=$(ls -A /tmp/inst)"
cmp -s /tmp/orig $W && echo same=yes
{FIRST_CALL}
"#
                ),
            );
            assert_printed(&run, "inst", &INSTALLER_DONE);
            assert_eq!(run.get("left"), "", "cleanup:\n{run}");
            assert_eq!(run.get("same"), "yes", "the installed binary:\n{run}");
            assert_first_call(&run, mode);
        }
    }
}

/// The shells the installer script must run under.
const SHELLS: [&str; 2] = ["dash", "/bin/busybox sh"];

#[test]
fn shell_installer_under_dash() {
    shell_installer(SHELLS[0]);
}

#[test]
fn shell_installer_under_busybox_sh() {
    shell_installer(SHELLS[1]);
}

#[test]
fn shell_installer_options() {
    for suite in suites() {
        for shell in SHELLS {
            let run = scenario(
                &suite,
                &format!(
                    r#"
{STAGE}
snap >/tmp/before
step bad {shell} $I --frobnicate
unchanged bad
echo "bad_left=$(ls -A /tmp/inst | tr '\n' ' ')"
step keep {shell} $I --no-cleanup
echo "kept=$(ls -A /tmp/inst | tr '\n' ' ')"
snap >/tmp/before
step again {shell} $I --no-cleanup
unchanged again
step last {shell} $I
echo "left=$(ls -A /tmp/inst)"
"#
                ),
            );
            let bad = step(&run, "bad");
            assert_eq!(bad.rc, 2, "{run}");
            assert_prefixed(&run, "bad", &bad);
            assert!(
                bad.err.starts_with(
                    "iptables-wrapper: unknown option --frobnicate\niptables-wrapper: usage: "
                ),
                "{run}"
            );
            assert!(bad.out.is_empty(), "{run}");
            assert_unchanged(&run, "bad");
            let both = "iptables-wrapper iptables-wrapper-installer.sh ";
            assert_eq!(run.get("bad_left"), both, "{run}");
            assert_printed(&run, "keep", &INSTALLER_DONE[..3]);
            assert_eq!(run.get("kept"), both, "--no-cleanup:\n{run}");
            assert_printed(&run, "again", &[]);
            assert_unchanged(&run, "again");
            assert_printed(&run, "last", &INSTALLER_DONE[3..]);
            assert_eq!(run.get("left"), "", "{run}");
        }
    }
}

#[test]
fn shell_installer_passes_refusals_and_no_sanity_check_through() {
    for suite in suites() {
        for shell in SHELLS {
            let run = scenario(
                &suite,
                &format!(
                    r#"
{STAGE}
fake_nft 1.8.3
snap >/tmp/before
step refused {shell} $I
unchanged refused
echo "refused_left=$(ls -A /tmp/inst | tr '\n' ' ')"
step forced {shell} $I --no-sanity-check
echo "left=$(ls -A /tmp/inst)"
"#
                ),
            );
            let s = step(&run, "refused");
            assert_eq!(s.rc, 1, "{run}");
            assert_prefixed(&run, "refused", &s);
            for needle in [
                "iptables-wrapper: install refused: iptables 1.8.3 is too old",
                "--no-sanity-check",
                "iptables-wrapper: removed /usr/sbin/iptables-wrapper again; nothing changed",
            ] {
                assert!(s.err.contains(needle), "lacks {needle:?}:\n{run}");
            }
            assert_unchanged(&run, "refused");
            assert_eq!(
                run.get("refused_left"),
                "iptables-wrapper iptables-wrapper-installer.sh ",
                "a refusal cleans nothing up:\n{run}"
            );
            assert_printed(&run, "forced", &INSTALLER_DONE);
            assert_eq!(run.get("left"), "", "{run}");
        }
    }
}

#[test]
fn shell_installer_fed_on_stdin_uses_the_working_directory() {
    for suite in suites() {
        let run = scenario(
            &suite,
            &format!(
                r#"
{STAGE}
cd /tmp/inst
step inst dash -s <$I
echo "left=$(ls -A /tmp/inst)"
"#
            ),
        );
        // $0 names no file, so only the binary is cleaned up.
        assert_printed(
            &run,
            "inst",
            &[
                INSTALLER_DONE[0],
                REGISTERED[0],
                REGISTERED[1],
                INSTALLER_DONE[3],
            ],
        );
        assert_eq!(run.get("left"), "iptables-wrapper-installer.sh", "{run}");
    }
}

/// A sanity-check refusal after `setup`: refused with `needles`, nothing
/// changed, and `--no-sanity-check` installs anyway.
fn refusal(setup: &str, needles: &[&str]) {
    for suite in suites() {
        let run = scenario(
            &suite,
            &format!(
                r#"
{setup}
snap >/tmp/before
step refused $W install
unchanged refused
step forced $W install --no-sanity-check
"#
            ),
        );
        assert_refused(&run, "refused", needles);
        assert_printed(&run, "forced", &REGISTERED);
    }
}

#[test]
fn refuses_iptables_1_8_3() {
    refusal(
        "fake_nft 1.8.3",
        &[
            "iptables 1.8.3 is too old",
            "loops forever in nft mode when nf_tables cannot be loaded",
            "Use iptables 1.8.4 or newer",
            "`/usr/sbin/xtables-nft-multi --version`",
            "--no-sanity-check",
        ],
    );
}

#[test]
fn refuses_iptables_1_8_2() {
    refusal(
        "fake_nft 1.8.2",
        &[
            "iptables 1.8.2 is too old",
            "`-C` misses rules just added with `-A`",
            "Use iptables 1.8.4 or newer",
            "--no-sanity-check",
        ],
    );
}

#[test]
fn refuses_a_missing_legacy_multi() {
    refusal(
        "rm /usr/sbin/xtables-legacy-multi",
        &[
            "/usr/sbin/xtables-legacy-multi is missing",
            "apt-get install iptables",
            "--no-sanity-check",
        ],
    );
}

#[test]
fn refuses_an_unrunnable_binary_without_a_package_entry() {
    refusal(
        "garbage_nft\nperl -00 -i -ne 'print unless /^Package: iptables$/m' /var/lib/dpkg/status",
        &[
            "cannot tell the iptables version",
            "/usr/sbin/xtables-nft-multi cannot be run",
            "Exec format error",
            "/var/lib/dpkg/status",
            "rerun with --no-sanity-check",
        ],
    );
}

#[test]
fn refuses_an_unrunnable_binary_whose_package_entry_is_too_old() {
    refusal(
        "garbage_nft\nsed -i '/^Package: iptables$/,/^$/s/^Version: .*/Version: 1.8.2-4/' /var/lib/dpkg/status",
        &[
            "iptables 1.8.2 is too old",
            "Version from /var/lib/dpkg/status, since /usr/sbin/xtables-nft-multi cannot be run",
            "Exec format error",
        ],
    );
}

#[test]
fn reads_the_version_of_an_unrunnable_binary_from_dpkg() {
    for suite in suites() {
        let run = scenario(
            &suite,
            r#"
garbage_nft
echo "dpkg=$(dpkg-query -W -f '${Version}' iptables)"
step first $W install
"#,
        );
        assert!(run.get("dpkg").starts_with("1.8."), "{run}");
        assert_printed(&run, "first", &REGISTERED);
    }
}

#[test]
fn install_works_without_proc() {
    for suite in suites() {
        let run = scenario(
            &suite,
            r#"
/bin/busybox umount /proc
echo "proc=$(ls -A /proc | wc -l)"
snap >/tmp/before
cd /usr/sbin
step relative ./iptables-wrapper install
unchanged relative
cd /
step first /usr/sbin/iptables-wrapper install
step second /usr/sbin/iptables-wrapper install
/bin/busybox mount -t proc proc /proc
set -- nft
value installed
resolved installed
step v iptables -V
value after
resolved switched
"#,
        );
        assert_eq!(run.get("proc"), "0", "/proc is still mounted:\n{run}");
        assert_refused(
            &run,
            "relative",
            &["/proc/self/exe", "run it by absolute path"],
        );
        assert_printed(&run, "first", &REGISTERED);
        assert_printed(&run, "second", &[]);
        assert_resolved(&run, "installed", "/usr/sbin/iptables-wrapper");
        assert_mode_runs(&run, "v", "nft");
        assert_switched(&run, "nft");
    }
}

#[test]
fn install_refuses_a_directory_without_iptables() {
    for suite in suites() {
        let run = scenario(
            &suite,
            r#"
mkdir /tmp/x
cp $W /tmp/x/
snap >/tmp/before
step absolute /tmp/x/iptables-wrapper install
unchanged absolute
cd /tmp/x
step relative ./iptables-wrapper install
unchanged relative
step usage $W install --frobnicate
unchanged usage
echo "x=$(ls -A /tmp/x)"
"#,
        );
        for name in ["absolute", "relative"] {
            assert_refused(
                &run,
                name,
                &[
                    "/tmp/x holds neither xtables-legacy-multi nor xtables-nft-multi",
                    "/usr/sbin",
                ],
            );
        }
        let usage = step(&run, "usage");
        assert_eq!(usage.rc, 2, "{run}");
        assert!(usage.err.contains("--frobnicate"), "{run}");
        assert_unchanged(&run, "usage");
        assert_eq!(run.get("x"), "iptables-wrapper", "{run}");
    }
}

// `install --root DIR`: the wrapper set up in a root file system from
// outside it, as image builders that run nothing inside (Bazel's
// rules_distroless, apko, `buildah mount`) would. The root is the sandbox's
// overlay of a cached Debian root, turned into the layout under test from
// outside (tests/sandbox.sh's SANDBOX_OUTSIDE); the host's wrapper binary
// does the install; then a first call inside the root (chroot, in the
// sandbox's private namespaces) must work as after a normal install.

/// The shell functions of the part that runs outside the root, on the host,
/// with the root as $R. `snap` records every file of the root (not only
/// the iptables directory), so "unchanged" means the whole image.
const OUTSIDE: &str = r#"
set -u
R=$1
W=$SANDBOX_BIN
STEPS=$(dirname "$R")
snap() {
    find "$R" -xdev \( -path "$R/proc" -o -path "$R/dev" -o -path "$R/tmp" \) -prune \
        -o -printf '%P %y %m %s %T@ %l\n' | sort
}
host_alternatives() {
    echo "$1.host=$(readlink /etc/alternatives/iptables /etc/alternatives/ip6tables | tr '\n' ' ')"
}
# no_alternatives: the Debian groups gone, and their tool, from outside.
no_alternatives() {
    update-alternatives --root "$R" --remove-all iptables >/dev/null
    update-alternatives --root "$R" --remove-all ip6tables >/dev/null
    rm -f "$R/usr/bin/update-alternatives" "$R/usr/sbin/update-alternatives"
}
# fedora_layout [SBINDIR]: what tests/images/Dockerfile.fedora-layout makes
# (with SBINDIR /usr/bin, the default, Fedora 42: /usr/sbin a link to
# /usr/bin; with /usr/sbin, Fedora 41's separate /usr/sbin; one `iptables`
# group kept by the model of chkconfig's alternatives, copied in as
# /usr/sbin/alternatives), and no dpkg status: Fedora keeps versions in rpm's
# database, which the wrapper does not read, so the version comes from the
# binaries' bytes.
fedora_layout() {
    sbindir=${1:-/usr/bin}
    no_alternatives
    if [ "$sbindir" = /usr/bin ]; then
        cp -a "$R/usr/sbin/." "$R/usr/bin/"
        rm -rf "$R/usr/sbin"
        ln -s bin "$R/usr/sbin"
    fi
    mkdir -p "$R/var/lib/alternatives"
    p=$sbindir/iptables p6=$sbindir/ip6tables
    for mode in nft legacy; do
        chroot "$R" /usr/sbin/alternatives --install "$p" iptables "$p-$mode" 10 \
            --slave "$p6" ip6tables "$p6-$mode" \
            --slave "$p-restore" iptables-restore "$p-$mode-restore" \
            --slave "$p-save" iptables-save "$p-$mode-save" \
            --slave "$p6-restore" ip6tables-restore "$p6-$mode-restore" \
            --slave "$p6-save" ip6tables-save "$p6-$mode-save"
    done
    rm "$R/var/lib/dpkg/status"
}
# alpine_layout: what tests/images/Dockerfile.alpine-layout makes (the
# names and the -nft/-legacy names in a real /sbin, linked straight to the
# multi binaries, no alternatives), with apk's database instead of dpkg's.
alpine_layout() {
    v=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Version}' iptables)
    no_alternatives
    rm "$R/sbin"
    mkdir "$R/sbin"
    mv "$R"/usr/sbin/xtables-*-multi "$R/sbin/"
    rm -f "$R"/usr/sbin/iptables* "$R"/usr/sbin/ip6tables*
    for mode in nft legacy; do
        for cmd in $NAMES; do
            fam=${cmd%%-*}
            ln -s "xtables-$mode-multi" "$R/sbin/$fam-$mode${cmd#"$fam"}"
        done
    done
    for cmd in $NAMES; do ln -s xtables-nft-multi "$R/sbin/$cmd"; done
    mkdir -p "$R/lib/apk/db"
    printf 'C:Q1x=\nP:iptables\nV:%s-r0\nA:x86_64\n\n' "${v%%-*}" >"$R/lib/apk/db/installed"
    rm "$R/var/lib/dpkg/status"
}
"#;

/// The first call inside the root: legacy rules in both families make it
/// choose legacy (not the default), then each family's names must lead to
/// legacy. `links` shows each name as the prelude reads it, in $1.
const INSIDE: &str = r#"
links INSTALLED "$1"
rules legacy iptables 1
rules legacy ip6tables 1
call V iptables -V
call V6 ip6tables -V
links SWITCHED "$1"
"#;

/// The layouts `install --root` is tested on.
#[derive(Clone, Copy, Debug)]
enum RootLayout {
    DebianAlternatives,
    DebianSymlinks,
    Fedora,
    Alpine,
}

/// One suite and one layout, of a test that runs in several layouts.
struct LayoutCase<L> {
    suite: String,
    layout: L,
}

impl<L: std::fmt::Debug> std::fmt::Display for LayoutCase<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.suite, self.layout)
    }
}

/// Every suite with each of `layouts`.
fn layout_cases<L: Copy>(layouts: &[L]) -> Vec<LayoutCase<L>> {
    suites()
        .into_iter()
        .flat_map(|suite| {
            layouts.iter().map(move |&layout| LayoutCase {
                suite: suite.clone(),
                layout,
            })
        })
        .collect()
}

/// Runs `outside` (after `$NAMES` and [`OUTSIDE`]) on a fresh root of
/// `suite` from outside, then `inside` (after the prelude) in it with
/// `args`. The wrapper is not in the root: `install --root` must put it
/// there.
fn root_scenario(suite: &str, outside: &str, inside: &str, args: &[&str]) -> Run {
    let fedora = repo().join("tests/images/fedora-alternatives.sh");
    common::sandbox_env(
        suite,
        &format!("{}\n{}\n{inside}", common::PRELUDE, common::names_sh()),
        args,
        &[(
            fedora.to_str().expect("UTF-8 path"),
            "/usr/sbin/alternatives",
        )],
        &[
            (
                "SANDBOX_OUTSIDE",
                &format!("{STEPS_SH}\n{}\n{OUTSIDE}\n{outside}", common::names_sh()),
            ),
            ("SANDBOX_NO_WRAPPER", "1"),
        ],
    )
}

/// The root's path on the host, from the line by which step `name` said it
/// copied the wrapper there.
fn root_of(run: &Run, name: &str) -> String {
    let s = step(run, name);
    let copied = s.out.first().map(String::as_str).unwrap_or_default();
    copied
        .strip_prefix("iptables-wrapper: copied ")
        .and_then(|l| l.split_once(" to "))
        .and_then(|(_, to)| to.split_once("/root/"))
        .map(|(dir, _)| format!("{dir}/root"))
        .unwrap_or_else(|| panic!("{name} did not copy the wrapper first:\n{run}"))
}

/// `name` printed that it copied the wrapper into `dir` of the root, then
/// exactly `lines` (`$R` standing for the root).
fn assert_installed(run: &Run, name: &str, dir: &str, lines: &[String]) {
    let s = step(run, name);
    assert_eq!(s.rc, 0, "{name} failed:\n{run}");
    let root = root_of(run, name);
    assert!(
        s.out[0].ends_with(&format!(" to {root}{dir}/iptables-wrapper")),
        "{name} did not copy the wrapper into {dir}:\n{run}"
    );
    let want: Vec<String> = lines.iter().map(|l| l.replace("$R", &root)).collect();
    assert_eq!(s.out[1..], want[..], "{name}'s output:\n{run}");
}

#[test]
fn install_root_then_first_call_in_each_layout() {
    use common::{Layout, Target};
    let cases = layout_cases(&[
        RootLayout::DebianAlternatives,
        RootLayout::DebianSymlinks,
        RootLayout::Fedora,
        RootLayout::Alpine,
    ]);
    common::each(cases, |c| {
        // How the root is made from the Debian one, a refusal to check first
        // (named `refused`, with its own snapshot of the root before it),
        // install's options, and where the names are.
        let (prepare, refusal, options, dir, links) = match c.layout {
            RootLayout::DebianAlternatives => ("", "", "", "/usr/sbin", Layout::Alternatives),
            RootLayout::DebianSymlinks => ("", "", "--symlinks", "/usr/sbin", Layout::Symlinks),
            // Found through the /usr/sbin link, the first place looked.
            RootLayout::Fedora => (
                "fedora_layout",
                r#"snap >"$STEPS/before"
step refused "$W" install --root "$R"
unchanged refused"#,
                "--symlinks",
                "/usr/sbin",
                Layout::Symlinks,
            ),
            RootLayout::Alpine => (
                "alpine_layout",
                r#"cp "$R/lib/apk/db/installed" "$STEPS/apk"
printf 'P:iptables\nV:1.8.3-r1\n\n' >"$R/lib/apk/db/installed"
snap >"$STEPS/before"
step refused "$W" install --root "$R"
unchanged refused
cp "$STEPS/apk" "$R/lib/apk/db/installed""#,
                "",
                "/sbin",
                Layout::Symlinks,
            ),
        };
        let run = root_scenario(
            &c.suite,
            &format!(
                r#"
host_alternatives before
{prepare}
{refusal}
step first "$W" install --root "$R" {options}
snap >"$STEPS/before"
step second "$W" install --root "$R" {options}
unchanged second
host_alternatives after
"#
            ),
            INSIDE,
            &[dir],
        );
        assert_eq!(run.status, 0, "{run}");
        assert_eq!(
            run.get("after.host"),
            run.get("before.host"),
            "host changed:\n{run}"
        );
        match c.layout {
            // Fedora's alternatives cannot work on a root from outside.
            RootLayout::Fedora => assert_refused(
                &run,
                "refused",
                &["Fedora's alternatives", "--symlinks", "inside the image"],
            ),
            // apk's database says 1.8.3.
            RootLayout::Alpine => assert_refused(
                &run,
                "refused",
                &["iptables 1.8.3 is too old", "/lib/apk/db/installed (in "],
            ),
            _ => {}
        }
        let real_dir = match c.layout {
            RootLayout::Fedora => "/usr/bin",
            _ => dir,
        };
        let lines: Vec<String> = match links {
            Layout::Alternatives => REGISTERED.iter().map(|l| l.to_string()).collect(),
            Layout::Symlinks => NAMES
                .iter()
                .map(|n| {
                    format!(
                        "iptables-wrapper: linked $R{dir}/{n} -> {}",
                        plain_target(n)
                    )
                })
                .collect(),
        };
        assert_installed(&run, "first", real_dir, &lines);
        assert_printed(&run, "second", &[]);
        assert_unchanged(&run, "second");
        assert_eq!(
            run.get("INSTALLED"),
            links.links_both(Target::Wrapper),
            "{run}"
        );
        for k in ["V", "V6"] {
            common::expect_version(&run, k, common::Mode::Legacy);
        }
        assert_eq!(
            run.get("SWITCHED"),
            links.links_both(Target::Mode(common::Mode::Legacy)),
            "{run}"
        );
    });
}

/// Bad input and what a root's binaries are for: a missing DIR (exit 2), a
/// DIR without iptables and a root whose dpkg database says 1.8.2 are
/// refused and change nothing; stand-in multi binaries that would print
/// 1.8.2 and leave a mark if run are never run (dpkg's version wins); and
/// multi binaries for another architecture (arm64's ELF machine number)
/// with no package database give their version from their bytes, and take
/// a wrapper built for it (`--wrapper`), not this one.
#[test]
fn install_root_refusals_and_binaries_it_does_not_run() {
    common::each(suites(), |suite| {
        let run = root_scenario(
            suite,
            r#"
step missing "$W" install --root "$STEPS/nope"
step alone "$W" install --wrapper "$W"
mkdir "$STEPS/empty"
step empty "$W" install --root "$STEPS/empty"
cp "$R/var/lib/dpkg/status" "$STEPS/status"
sed -i '/^Package: iptables$/,/^$/s/^Version: .*/Version: 1.8.2-4/' "$R/var/lib/dpkg/status"
snap >"$STEPS/before"
step refused "$W" install --root "$R"
unchanged refused
cp "$STEPS/status" "$R/var/lib/dpkg/status"
for m in nft legacy; do
    cp "$R/usr/sbin/xtables-$m-multi" "$STEPS/$m"
    printf '#!/bin/sh\ntouch %s/ran\necho "iptables v1.8.2 (legacy)"\n' "$STEPS" >"$R/usr/sbin/xtables-$m-multi"
done
step notrun "$W" install --root "$R"
echo "ran=$([ -e "$STEPS/ran" ] && echo yes || echo no)"
for m in nft legacy; do
    cp "$STEPS/$m" "$R/usr/sbin/xtables-$m-multi"
    printf '\267\000' | dd of="$R/usr/sbin/xtables-$m-multi" bs=1 seek=18 conv=notrunc status=none
done
rm "$R/var/lib/dpkg/status"
snap >"$STEPS/before"
step foreign_own "$W" install --root "$R" --symlinks
unchanged foreign_own
cp "$W" "$STEPS/wrapper-arm64"
printf '\267\000' | dd of="$STEPS/wrapper-arm64" bs=1 seek=18 conv=notrunc status=none
step foreign "$W" install --root "$R" --symlinks --wrapper "$STEPS/wrapper-arm64"
"#,
            "",
            &[],
        );
        assert_eq!(run.status, 0, "{run}");
        let missing = step(&run, "missing");
        assert_eq!(missing.rc, 2, "a missing DIR is bad input:\n{run}");
        assert!(missing.out.is_empty(), "{run}");
        assert!(
            missing.err.starts_with("iptables-wrapper: install --root ")
                && missing.err.contains("/nope: No such file or directory")
                && missing
                    .err
                    .contains("Give the directory that holds the image's root"),
            "{run}"
        );
        let alone = step(&run, "alone");
        assert_eq!(alone.rc, 2, "--wrapper without --root:\n{run}");
        assert!(
            alone.err.contains("--wrapper only goes with --root"),
            "{run}"
        );
        let empty = step(&run, "empty");
        assert_eq!(empty.rc, 1, "{run}");
        assert!(
            empty
                .err
                .starts_with("iptables-wrapper: install refused: no iptables in ")
                && empty
                    .err
                    .contains("none of /usr/sbin, /sbin, /usr/bin, /bin holds"),
            "{run}"
        );
        assert_refused(
            &run,
            "refused",
            &[
                "iptables 1.8.2 is too old",
                "Version from /var/lib/dpkg/status (in ",
                "--no-sanity-check",
            ],
        );
        let registered: Vec<String> = REGISTERED.iter().map(|l| l.to_string()).collect();
        assert_installed(&run, "notrun", "/usr/sbin", &registered);
        assert_eq!(run.get("ran"), "no", "a root's binary was run:\n{run}");
        // An arm64 root takes an arm64 wrapper, and its version check
        // could only read the binaries' bytes.
        assert_refused(
            &run,
            "foreign_own",
            &[
                "(this binary) is built for x86_64, but /usr/sbin/xtables-legacy-multi (in ",
                ") is built for aarch64. Give the iptables-wrapper built for aarch64 with --wrapper FILE",
            ],
        );
        let linked: Vec<String> = NAMES
            .iter()
            .map(|n| {
                format!(
                    "iptables-wrapper: linked $R/usr/sbin/{n} -> {}",
                    plain_target(n)
                )
            })
            .collect();
        assert_installed(&run, "foreign", "/usr/sbin", &linked);
    });
}

// The shell installer in the Alpine and Fedora layouts. The image test's
// layout images put the wrapper in as images/Dockerfile.alpine and
// images/Dockerfile.fedora do, with `install` and no installer, so the
// installer's own choice of directory (/sbin when /usr/sbin holds no
// iptables; /usr/sbin when it is a link to /usr/bin) is run here: on roots
// made from a Debian one from outside (see OUTSIDE), with the installer and
// the binary side by side in /tmp/inst as a Dockerfile would copy them.

/// The repository's installer keeps its exec bit: a Dockerfile that copies
/// it (COPY keeps the mode) and runs it by path, as its usage says, fails
/// with "Permission denied" without it.
#[test]
fn the_installer_is_executable() {
    use std::os::unix::fs::PermissionsExt;
    let path = repo().join("installer/iptables-wrapper-installer.sh");
    let mode = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o111,
        0o111,
        "{} has mode {:o}: `RUN /path/to/iptables-wrapper-installer.sh` fails with 'Permission denied' (fix: chmod +x, and commit the mode)",
        path.display(),
        mode & 0o7777
    );
}

/// The layouts the shell installer is run in besides Debian's.
#[derive(Clone, Copy, Debug)]
enum InstallerLayout {
    /// /sbin, busybox's sh and applets.
    Alpine,
    /// /usr/sbin a link to /usr/bin (Fedora 42 and later).
    Fedora,
    /// A separate /usr/sbin (Fedora 41).
    Fedora41,
}

#[test]
fn shell_installer_in_the_alpine_and_fedora_layouts() {
    use common::{Layout, Mode, Target};
    let installer = repo().join("installer/iptables-wrapper-installer.sh");
    let installer = installer.to_str().expect("a UTF-8 repository path");
    let busybox = common::busybox();
    let cases = layout_cases(&[
        InstallerLayout::Alpine,
        InstallerLayout::Fedora,
        InstallerLayout::Fedora41,
    ]);
    common::each(cases, |c| {
        // How the root is made, how the installer is run, the directory it
        // must choose, and where the six names are.
        let (prepare, run_it, dir, names_dir) = match c.layout {
            // Under busybox's sh, with busybox's applets first on PATH, as
            // in an Alpine image.
            InstallerLayout::Alpine => (
                "alpine_layout",
                "mkdir /tmp/bb\n/bin/busybox --install -s /tmp/bb\n\
                 step inst env PATH=/tmp/bb:$PATH /tmp/bb/sh $I",
                "/sbin",
                "/sbin",
            ),
            // By path (its #!/bin/sh is dash here), as a Dockerfile's RUN
            // runs it.
            InstallerLayout::Fedora => ("fedora_layout", "step inst $I", "/usr/sbin", "/usr/bin"),
            InstallerLayout::Fedora41 => (
                "fedora_layout /usr/sbin",
                "step inst $I",
                "/usr/sbin",
                "/usr/sbin",
            ),
        };
        let run = root_scenario(
            &c.suite,
            &format!(
                r#"
{prepare}
mkdir "$R/tmp/inst"
cp "$W" "$R/tmp/inst/iptables-wrapper"
cp -p '{installer}' "$R/tmp/inst/"
cp '{busybox}' "$R/bin/busybox"
"#
            ),
            &format!(
                r#"
{STEPS_SH}
I=/tmp/inst/iptables-wrapper-installer.sh
# The prelude's errexit would end the script at a failing step, unreported.
set +e
{run_it}
set -e
echo "left=$(ls -A /tmp/inst)"
{INSIDE}"#
            ),
            &[names_dir],
        );
        assert_eq!(run.status, 0, "{run}");
        let mut lines = vec![format!(
            "iptables-wrapper: copied /tmp/inst/iptables-wrapper to {dir}/iptables-wrapper"
        )];
        let (installed, switched) = match c.layout {
            InstallerLayout::Alpine => {
                lines.extend(
                    NAMES.iter().map(|n| {
                        format!("iptables-wrapper: linked /sbin/{n} -> {}", plain_target(n))
                    }),
                );
                (
                    Layout::Symlinks.links_both(Target::Wrapper),
                    Layout::Symlinks.links_both(Target::Mode(Mode::Legacy)),
                )
            }
            // One group for the six names, registered in the master link's
            // directory; the first call sets it to legacy.
            InstallerLayout::Fedora | InstallerLayout::Fedora41 => {
                lines.push(format!(
                    "iptables-wrapper: registered {names_dir}/iptables-wrapper as the iptables alternative with priority 100"
                ));
                let each = |target: &dyn Fn(&str) -> String| {
                    NAMES
                        .iter()
                        .map(|n| format!("{n}->/etc/alternatives/{n}>{names_dir}/{}", target(n)))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                (
                    each(&|_| "iptables-wrapper".into()),
                    each(&|n| {
                        let (family, rest) = n.split_at(n.find('-').unwrap_or(n.len()));
                        format!("{family}-legacy{rest}")
                    }),
                )
            }
        };
        lines.extend(
            [
                "iptables-wrapper: removed /tmp/inst/iptables-wrapper",
                "iptables-wrapper: removed /tmp/inst/iptables-wrapper-installer.sh",
            ]
            .map(String::from),
        );
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_printed(&run, "inst", &lines);
        assert_eq!(run.get("left"), "", "cleanup:\n{run}");
        assert_eq!(run.get("INSTALLED"), installed, "{run}");
        for k in ["V", "V6"] {
            common::expect_version(&run, k, common::Mode::Legacy);
        }
        assert_eq!(run.get("SWITCHED"), switched, "{run}");
    });
}
