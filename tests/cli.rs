//! The wrapper's own command line, run directly (no sandbox: nothing here
//! probes or changes netfilter): `--help` and `-h` on every subcommand,
//! `help [SUBCOMMAND]`, that every line it prints on stderr is prefixed
//! `iptables-wrapper:`, `IPTABLES_WRAPPER_DEBUG`'s values, and the exit
//! status and advice when a directory holds no iptables.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::binary;
use iptables_wrapper::cli::SUBCOMMANDS;
use iptables_wrapper::settings::{
    DEBUG_VAR, HINT_CHAINS_VAR, HINT_WAIT_VAR, MODE_VAR, PROBES_VAR, STATE_DIR_VAR, TIMEOUT_VAR,
};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_as(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = Command::new(program);
    c.args(args);
    for var in [
        MODE_VAR,
        DEBUG_VAR,
        TIMEOUT_VAR,
        HINT_WAIT_VAR,
        PROBES_VAR,
        HINT_CHAINS_VAR,
        STATE_DIR_VAR,
    ] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied());
    let o = c.output().expect("cannot run the wrapper");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Out {
    run_as(&binary(), args, &[])
}

/// Every line on stderr is the wrapper's.
fn prefixed(o: &Out, ctx: &str) {
    for l in o.stderr.lines() {
        assert!(
            l.starts_with("iptables-wrapper: "),
            "{ctx}: stderr line {l:?} lacks the prefix:\n{}",
            o.stderr
        );
    }
}

/// An empty directory of our own, removed by the caller.
fn empty_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipw-cli-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_subcommand_has_help() {
    let general = run(&["--help"]);
    assert_eq!(general.code, Some(0), "{}", general.stderr);
    assert_eq!(run(&["-h"]).stdout, general.stdout);
    assert_eq!(run(&["help"]).stdout, general.stdout, "help alone");
    assert!(
        general
            .stdout
            .contains("IPTABLES_WRAPPER_PROBE_TIMEOUT=SECONDS")
            && general.stdout.contains("at most 3600"),
        "the help gives the probe timeout's range:\n{}",
        general.stdout
    );
    assert!(general.stdout.contains("IPTABLES_WRAPPER_DEBUG=0|1"));
    for c in SUBCOMMANDS {
        let usage = format!("usage: iptables-wrapper {} {}", c.name, c.synopsis);
        assert!(
            general
                .stdout
                .contains(&format!("  {} {}\n", c.name, c.synopsis)),
            "--help lists {}:\n{}",
            c.name,
            general.stdout
        );
        let long = run(&[c.name, "--help"]);
        assert_eq!(long.code, Some(0), "{} --help: {}", c.name, long.stderr);
        assert!(
            long.stdout.starts_with(&usage),
            "{}: {}",
            c.name,
            long.stdout
        );
        assert!(long.stderr.is_empty(), "{}: {}", c.name, long.stderr);
        assert_eq!(run(&[c.name, "-h"]).stdout, long.stdout, "{} -h", c.name);
        assert_eq!(
            run(&["help", c.name]).stdout,
            long.stdout,
            "help {}",
            c.name
        );
    }
    // Among other options too: install --symlinks --help installs nothing.
    let install = run(&["install", "--symlinks", "--help"]);
    assert_eq!(install.code, Some(0));
    assert!(install
        .stdout
        .starts_with("usage: iptables-wrapper install"));
}

#[test]
fn usage_errors_are_prefixed_on_every_line() {
    for (args, says) in [
        (&["help", "nosuch"][..], "\"nosuch\" is not a subcommand"),
        (&["install", "--frobnicate"][..], "--frobnicate"),
        (&["-L"][..], "-L is not a subcommand"),
        (&[][..], "a subcommand is needed"),
        (
            &["help", "detect", "verify"][..],
            "help takes one subcommand",
        ),
    ] {
        let o = run(args);
        assert_eq!(o.code, Some(2), "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?}");
        assert!(o.stderr.contains(says), "{args:?}: {}", o.stderr);
        assert!(
            o.stderr
                .contains("iptables-wrapper: usage: iptables-wrapper detect"),
            "{args:?}: the usage follows:\n{}",
            o.stderr
        );
        prefixed(&o, &format!("{args:?}"));
    }
}

#[test]
fn debug_takes_0_or_1() {
    let dir = empty_dir("debug");
    let d = dir.to_str().unwrap();
    for (value, code) in [
        ("1", 127),
        ("0", 127),
        ("", 127),
        ("yes", 2),
        ("true", 2),
        ("2", 2),
    ] {
        let o = run_as(
            &binary(),
            &["detect", "--dir", d],
            &[("IPTABLES_WRAPPER_DEBUG", value)],
        );
        assert_eq!(o.code, Some(code), "DEBUG={value:?}: {}", o.stderr);
        if code == 2 {
            assert!(
                o.stderr.starts_with(&format!(
                    "iptables-wrapper: IPTABLES_WRAPPER_DEBUG={value:?} is not 0 or 1"
                )),
                "{}",
                o.stderr
            );
        }
        prefixed(&o, value);
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_directory_without_iptables_is_127_everywhere() {
    let dir = empty_dir("none");
    let d = dir.to_str().unwrap();
    let detect = run(&["detect", "--dir", d]);
    let verify = run(&["verify", "--dir", d]);
    let verify_json = run(&["verify", "--json", "--dir", d]);
    let want = format!(
        "iptables-wrapper: neither xtables-legacy-multi nor xtables-nft-multi is installed in {d}; install iptables (both modes) in the image, or pass --dir with the directory that holds them\n"
    );
    for (what, o) in [
        ("detect", &detect),
        ("verify", &verify),
        ("verify --json", &verify_json),
    ] {
        assert_eq!(o.code, Some(127), "{what}: {}", o.stderr);
        assert_eq!(o.stderr, want, "{what}: the same message as detect");
        assert!(o.stdout.is_empty(), "{what}: {}", o.stdout);
    }
    // A first call cannot pass a directory: its advice is the install.
    // The name as an install makes it: a link to the wrapper.
    let name = dir.join("iptables");
    std::os::unix::fs::symlink(binary().canonicalize().unwrap(), &name).unwrap();
    let first = run_as(&name, &["-V"], &[]);
    assert_eq!(first.code, Some(127), "{}", first.stderr);
    assert!(
        first.stderr.starts_with(&format!(
            "iptables-wrapper: neither xtables-legacy-multi nor xtables-nft-multi is installed in {d}; install iptables (both modes) in the image, then run `iptables-wrapper install` again"
        )),
        "{}",
        first.stderr
    );
    assert!(!first.stderr.contains("--dir"), "{}", first.stderr);
    prefixed(&first, "first call");
    fs::remove_dir_all(dir).unwrap();
}
