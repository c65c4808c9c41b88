//! The wrapper under its own name: subcommands only. Anything else, such as
//! `iptables-wrapper -L`, is a usage error. The wrapper never re-executes
//! itself, so a mistaken call cannot recurse.

use std::ffi::{OsStr, OsString};
use std::fmt::Write;
use std::path::{Path, PathBuf};

use lexopt::prelude::*;

use crate::decide;
use crate::install;
use crate::installed;
use crate::names::Mode;
use crate::report;
use crate::root::Root;
use crate::settings::Settings;
use crate::switch_command;
use crate::verify;
use crate::Failure;

/// One subcommand: how it is called, what it does, and its entry point.
/// Every list of subcommands (the usage, `--help`, `help NAME`, dispatch)
/// is made from [`SUBCOMMANDS`], so a new one is one entry there.
pub struct Subcommand {
    pub name: &'static str,
    /// The options after the name, as the usage shows them.
    pub synopsis: &'static str,
    /// What it does, for `--help`: lines of at most 72 columns.
    pub about: &'static str,
    run: fn(&OsStr, lexopt::Parser) -> Result<(), Failure>,
}

pub const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "detect",
        synopsis: "[--json] [--dir DIR]",
        about: "\
Print the mode a first call would choose for each family and why, and
every warning, changing nothing. --json adds every probe's result.
DIR is the directory holding xtables-*-multi (default: this binary's
directory, else where xtables-*-multi is found in PATH).",
        run: detect_cmd,
    },
    Subcommand {
        name: "switch",
        synopsis: "[--dir DIR] [--json] [-- COMMAND [ARGS...]]",
        about: "\
Detect and switch the names now, as a first call would, and print the
decision (--json: as detect --json does). Names already switched are
left alone and their recorded decision is printed. Exit status 3 when
the names cannot be switched (a read-only root, or probes refused).
With -- COMMAND, the report goes to stderr and COMMAND (found through
PATH) is executed with ARGS, even when the names could not be switched.",
        run: switch_cmd,
    },
    Subcommand {
        name: "verify",
        synopsis: "[--json] [--dir DIR]",
        about: "\
Check that the six names exist and lead to the wrapper or to one mode
per family, and show the recorded decision. Exit status 0 when
consistent, 1 when not, 127 when DIR holds no xtables-*-multi. DIR as
for detect.",
        run: verify_cmd,
    },
    Subcommand {
        name: "install",
        synopsis: "[--no-sanity-check] [--symlinks] [--root DIR [--wrapper FILE]]",
        about: "\
Put the wrapper in front of the six names, in the directory this
binary is in (run it by absolute path). Registers it with
update-alternatives/alternatives where those manage iptables,
otherwise links the names. Refuses iptables older than 1.8.4 unless
--no-sanity-check. --symlinks links the names even where an
alternatives system exists. --root DIR sets up the image whose root
file system is DIR from outside, running nothing in it: copies this
binary into its iptables directory (the first of /usr/sbin, /sbin,
/usr/bin, /bin holding xtables-*-multi), reads the iptables version
from its package database or binaries, and uses this machine's
update-alternatives --root where Debian's alternatives manage it.
--wrapper FILE copies FILE instead: the build for the image's
architecture when it is not this machine's.",
        run: install_cmd,
    },
    Subcommand {
        name: "help",
        synopsis: "[SUBCOMMAND]",
        about: "\
Print this help, or SUBCOMMAND's.",
        run: help_cmd,
    },
];

const INTRO: &str = "\
iptables-wrapper: picks the iptables mode (legacy or nft) the host uses.

Installed in place of iptables, iptables-save, iptables-restore, ip6tables,
ip6tables-save and ip6tables-restore. The first call under one of those names
finds the host's mode for IPv4 and IPv6, repoints the six names at it and runs
the command; later calls go straight to the real iptables.";

pub const ENVIRONMENT: &str = "\
Environment (a bad value is refused with exit status 2):
  IPTABLES_WRAPPER_MODE=auto|legacy|nft   force a mode (default auto; any case)
  IPTABLES_WRAPPER_HINT_WAIT=SECONDS      without a kubelet hint, wait up to this
                                          long for one (default 0, at most 300)
  IPTABLES_WRAPPER_HINT_CHAINS=NAME,...   more chain names that count as hints,
                                          after KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY
  IPTABLES_WRAPPER_PROBE_TIMEOUT=SECONDS  deadline of each probe (default 5; above 0,
                                          at most 3600, fractions allowed)
  IPTABLES_WRAPPER_PROBES=auto|kernel|process  where probes get their answers
  IPTABLES_WRAPPER_DEBUG=0|1              1: a first call prints its decision and
                                          changes to stderr (default 0; empty is 0)
  IPTABLES_WRAPPER_STATE_DIR=DIR          where to keep the decision when the names
                                          cannot be switched (read-only root; tried
                                          before /run/iptables-wrapper, /tmp/iptables-wrapper)";

/// The usage: one line per subcommand, then the options of the wrapper.
pub fn usage() -> String {
    let mut lines: Vec<String> = SUBCOMMANDS
        .iter()
        .map(|c| format!("iptables-wrapper {} {}", c.name, c.synopsis))
        .collect();
    lines.push("iptables-wrapper --help | --version".into());
    let mut s = String::from("usage: ");
    s.push_str(&lines.join("\n       "));
    s
}

/// `--help`: what the wrapper is, every subcommand, the variables.
pub fn help() -> String {
    let mut s = format!("{INTRO}\n\nCommands:\n");
    for c in SUBCOMMANDS {
        let _ = writeln!(s, "  {} {}", c.name, c.synopsis);
        for l in c.about.lines() {
            let _ = writeln!(s, "      {l}");
        }
    }
    let _ = write!(s, "\n{ENVIRONMENT}\n\n{}", usage());
    s
}

/// `SUBCOMMAND --help`: its usage and what it does.
pub fn help_of(c: &Subcommand) -> String {
    format!(
        "usage: iptables-wrapper {} {}\n\n{}\n\nEnvironment variables: see iptables-wrapper --help.",
        c.name, c.synopsis, c.about
    )
}

fn find(name: &OsStr) -> Option<&'static Subcommand> {
    SUBCOMMANDS.iter().find(|c| name == c.name)
}

pub fn run(argv0: &OsStr, args: Vec<OsString>) -> Result<(), Failure> {
    let mut parser = lexopt::Parser::from_args(args.clone());
    let arg = parser.next().map_err(usage_error)?;
    match arg {
        Some(Long("help") | Short('h')) => {
            println!("{}", help());
            Ok(())
        }
        Some(Long("version") | Short('V')) => {
            println!("{}", crate::build_info::version_line());
            Ok(())
        }
        Some(Value(cmd)) => match find(&cmd) {
            // `--help` or `-h` anywhere among its options (before a `--`)
            // asks for the subcommand's help, whatever else is there.
            Some(c) if asks_help(&args[1..]) => {
                println!("{}", help_of(c));
                Ok(())
            }
            Some(c) => (c.run)(argv0, parser),
            None => Err(not_a_subcommand(Value(cmd))),
        },
        Some(other) => Err(not_a_subcommand(other)),
        None => Err(Failure::usage("a subcommand is needed")),
    }
}

/// The error for a first argument that names no subcommand.
fn not_a_subcommand(arg: lexopt::Arg) -> Failure {
    Failure::usage(format!(
        "{} is not a subcommand. iptables arguments go to the names the wrapper is installed as (iptables, ip6tables, iptables-save, ...), never to iptables-wrapper itself",
        describe(arg)
    ))
}

/// Whether `args` hold `--help` or `-h` before any `--`.
fn asks_help(args: &[OsString]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--help" || a == "-h")
}

/// `help [SUBCOMMAND]`.
fn help_cmd(_argv0: &OsStr, mut parser: lexopt::Parser) -> Result<(), Failure> {
    match parser.next().map_err(usage_error)? {
        None => println!("{}", help()),
        Some(Value(name)) => match find(&name) {
            Some(c) if parser.next().map_err(usage_error)?.is_none() => {
                println!("{}", help_of(c))
            }
            Some(_) => return Err(Failure::usage("help takes one subcommand")),
            None => {
                return Err(Failure::usage(format!(
                    "{} is not a subcommand; the subcommands are {}",
                    describe(Value(name)),
                    SUBCOMMANDS
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        },
        Some(other) => return Err(usage_error(other.unexpected())),
    }
    Ok(())
}

fn describe(arg: lexopt::Arg) -> String {
    match arg {
        Short(c) => format!("-{c}"),
        Long(l) => format!("--{l}"),
        Value(v) => format!("{v:?}"),
    }
}

fn usage_error(e: lexopt::Error) -> Failure {
    Failure::usage(e.to_string())
}

/// `--json` and `--dir DIR`, the options `detect` and `verify` share.
fn json_and_dir(parser: &mut lexopt::Parser) -> Result<(bool, Option<PathBuf>), Failure> {
    let mut json = false;
    let mut dir: Option<PathBuf> = None;
    while let Some(arg) = parser.next().map_err(usage_error)? {
        match arg {
            Long("json") => json = true,
            Long("dir") => dir = Some(parser.value().map_err(usage_error)?.into()),
            other => return Err(usage_error(other.unexpected())),
        }
    }
    Ok((json, dir))
}

fn detect_cmd(argv0: &OsStr, mut parser: lexopt::Parser) -> Result<(), Failure> {
    let (json, dir) = json_and_dir(&mut parser)?;
    let settings = Settings::from_env()?;
    let dir = match dir {
        Some(d) => d,
        None => default_dir(argv0)?,
    };
    let decision = decide::decide(&dir, &settings, true)?;
    if json {
        println!("{}", report::json(&decision));
    } else {
        println!("{}", report::text(&decision));
    }
    Ok(())
}

/// `switch`'s options, then everything after the first `--` as COMMAND
/// and its arguments, untouched.
fn switch_cmd(argv0: &OsStr, mut parser: lexopt::Parser) -> Result<(), Failure> {
    let mut rest: Vec<OsString> = parser.raw_args().map_err(usage_error)?.collect();
    let command = match rest.iter().position(|a| a == "--") {
        Some(at) => {
            let mut after = rest.split_off(at + 1);
            rest.pop();
            if after.is_empty() {
                return Err(Failure::usage("switch: a COMMAND is needed after --"));
            }
            let program = after.remove(0);
            Some((program, after))
        }
        None => None,
    };
    let (json, dir) = json_and_dir(&mut lexopt::Parser::from_args(rest))?;
    let dir = match dir {
        Some(d) => d,
        None => default_dir(argv0)?,
    };
    switch_command::run(switch_command::Options { dir, json, command })
}

fn verify_cmd(argv0: &OsStr, mut parser: lexopt::Parser) -> Result<(), Failure> {
    let (json, dir) = json_and_dir(&mut parser)?;
    let dir = match dir {
        Some(d) => d,
        None => default_dir(argv0)?,
    };
    // Nothing to check the names against: the status detect gives.
    if !holds_multi(&dir) {
        return Err(crate::decide::refusal(
            crate::detect::Refusal::NothingInstalled,
            &dir,
            true,
        ));
    }
    let settings = Settings::from_env()?;
    let report = verify::check(&dir, crate::locate::FileId::current_exe(), &settings);
    if json {
        println!("{}", report.json());
    } else {
        println!("{}", report.text());
    }
    if report.consistent() {
        Ok(())
    } else {
        // The report above is the message; this line only sums it up.
        Err(Failure::from(anyhow::anyhow!(
            "the iptables names in {} are inconsistent",
            dir.display()
        )))
    }
}

/// Whether `dir` holds either multi binary.
fn holds_multi(dir: &Path) -> bool {
    !installed::modes(&Root::HOST, dir).is_empty()
}

/// This binary's directory if it holds a multi binary (the installed case),
/// else the directory of the first multi binary in PATH.
fn default_dir(argv0: &OsStr) -> Result<PathBuf, Failure> {
    let own = crate::locate::called_path(argv0, crate::locate::FileId::current_exe())
        .and_then(|p| crate::locate::dir_of(&p));
    if let Ok(d) = &own {
        if holds_multi(d) {
            return Ok(d.clone());
        }
    }
    Mode::ALL
        .iter()
        .rev()
        .find_map(|m| crate::path_search::find(m.multi()).ok().and_then(|p| p.parent().map(PathBuf::from)))
        .ok_or_else(|| {
            Failure::not_installed(
                "no xtables-legacy-multi or xtables-nft-multi next to this binary or in PATH; pass --dir with the directory that holds them",
            )
        })
}

fn install_cmd(argv0: &OsStr, mut parser: lexopt::Parser) -> Result<(), Failure> {
    let mut opts = install::Options {
        sanity_check: true,
        symlinks: false,
        root: None,
        wrapper: None,
    };
    while let Some(arg) = parser.next().map_err(usage_error)? {
        match arg {
            Long("no-sanity-check") => opts.sanity_check = false,
            Long("symlinks") => opts.symlinks = true,
            Long("root") => opts.root = Some(parser.value().map_err(usage_error)?.into()),
            Long("wrapper") => opts.wrapper = Some(parser.value().map_err(usage_error)?.into()),
            other => return Err(usage_error(other.unexpected())),
        }
    }
    if opts.wrapper.is_some() && opts.root.is_none() {
        return Err(Failure::usage(
            "--wrapper only goes with --root: without it, install sets up the binary it is",
        ));
    }
    let settings = Settings::from_env()?;
    install::run(argv0, opts, &settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_is_in_the_usage_and_the_help() {
        let (u, h) = (usage(), help());
        for (i, c) in SUBCOMMANDS.iter().enumerate() {
            assert!(
                !SUBCOMMANDS[..i].iter().any(|d| d.name == c.name),
                "{} twice",
                c.name
            );
            assert!(u.contains(&format!("iptables-wrapper {} {}", c.name, c.synopsis)));
            assert!(h.contains(c.about.lines().next().unwrap()));
            assert!(help_of(c).starts_with(&format!("usage: iptables-wrapper {} ", c.name)));
            for l in c.about.lines() {
                assert!(l.len() <= 72, "{}: {l:?} is too wide", c.name);
            }
        }
    }

    #[test]
    fn help_is_asked_before_a_double_dash_only() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(asks_help(&a(&["--json", "--help"])));
        assert!(asks_help(&a(&["-h"])));
        assert!(!asks_help(&a(&["--json"])));
        assert!(!asks_help(&a(&["--", "cmd", "--help"])), "COMMAND's own");
    }
}
