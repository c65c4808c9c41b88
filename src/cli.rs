//! The wrapper under its own name: subcommands only. Anything else, such as
//! `iptables-wrapper -L`, is a usage error. The wrapper never re-executes
//! itself, so a mistaken call cannot recurse.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use lexopt::prelude::*;

use crate::first_call;
use crate::install;
use crate::names::Mode;
use crate::probe;
use crate::report;
use crate::settings::Settings;
use crate::verify;
use crate::Failure;

pub const USAGE: &str = "\
usage: iptables-wrapper detect [--json] [--dir DIR]
       iptables-wrapper verify [--json] [--dir DIR]
       iptables-wrapper install [--no-sanity-check] [--symlinks]
       iptables-wrapper --help | --version";

pub const HELP: &str = "\
iptables-wrapper: picks the iptables mode (legacy or nft) the host uses.

Installed in place of iptables, iptables-save, iptables-restore, ip6tables,
ip6tables-save and ip6tables-restore. The first call under one of those names
finds the host's mode for IPv4 and IPv6, repoints the six names at it and runs
the command; later calls go straight to the real iptables.

Commands:
  detect [--json] [--dir DIR]
      Print the mode a first call would choose for each family and why, and
      every warning, changing nothing. --json adds every probe's result.
      DIR is the directory holding xtables-*-multi (default: this binary's
      directory, else where xtables-*-multi is found in PATH).
  verify [--json] [--dir DIR]
      Check that the six names exist and lead to the wrapper or to one mode
      per family. Exit status 0 when consistent, 1 when not.
  install [--no-sanity-check] [--symlinks]
      Put the wrapper in front of the six names, in the directory this
      binary is in (run it by absolute path). Registers it with
      update-alternatives/alternatives where those manage iptables,
      otherwise links the names. Refuses iptables older than 1.8.4 unless
      --no-sanity-check. --symlinks links the names even where an
      alternatives system exists.

Environment:
  IPTABLES_WRAPPER_MODE=auto|legacy|nft   force a mode (default auto; any case)
  IPTABLES_WRAPPER_HINT_WAIT=SECONDS      without a kubelet hint, wait up to this
                                          long for one (default 0, at most 300)
  IPTABLES_WRAPPER_PROBE_TIMEOUT=SECONDS  limit on each probe (default 5)
  IPTABLES_WRAPPER_PROBES=auto|kernel|process  where probes get their answers
  IPTABLES_WRAPPER_DEBUG=1                print the first call's decision to stderr
";

pub fn run(argv0: &OsStr, args: Vec<OsString>) -> Result<(), Failure> {
    let mut parser = lexopt::Parser::from_args(args);
    let arg = parser.next().map_err(usage)?;
    match arg {
        Some(Long("help") | Short('h')) => {
            print!("{HELP}\n{USAGE}\n");
            Ok(())
        }
        Some(Long("version") | Short('V')) => {
            println!("{}", crate::build_info::version_line());
            Ok(())
        }
        Some(Value(cmd)) if cmd == "detect" => detect_cmd(argv0, parser),
        Some(Value(cmd)) if cmd == "install" => install_cmd(argv0, parser),
        Some(Value(cmd)) if cmd == "verify" => verify_cmd(argv0, parser),
        Some(other) => Err(Failure::usage(format!(
            "{} is not a subcommand. iptables arguments go to the names the wrapper is installed as (iptables, ip6tables, iptables-save, ...), never to iptables-wrapper itself",
            describe(other)
        ))),
        None => Err(Failure::usage("a subcommand is needed")),
    }
}

fn describe(arg: lexopt::Arg) -> String {
    match arg {
        Short(c) => format!("-{c}"),
        Long(l) => format!("--{l}"),
        Value(v) => format!("{v:?}"),
    }
}

fn usage(e: lexopt::Error) -> Failure {
    Failure::usage(e.to_string())
}

/// `--json` and `--dir DIR`, the options `detect` and `verify` share.
fn json_and_dir(parser: &mut lexopt::Parser) -> Result<(bool, Option<PathBuf>), Failure> {
    let mut json = false;
    let mut dir: Option<PathBuf> = None;
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("json") => json = true,
            Long("dir") => dir = Some(parser.value().map_err(usage)?.into()),
            other => return Err(usage(other.unexpected())),
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
    let decision = first_call::decide(&dir, &settings, true)?;
    if json {
        println!("{}", report::json(&decision));
    } else {
        println!("{}", report::text(&decision));
    }
    Ok(())
}

fn verify_cmd(argv0: &OsStr, mut parser: lexopt::Parser) -> Result<(), Failure> {
    let (json, dir) = json_and_dir(&mut parser)?;
    let dir = match dir {
        Some(d) => d,
        None => default_dir(argv0)?,
    };
    let report = verify::check(&dir, crate::locate::FileId::current_exe());
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

/// This binary's directory if it holds a multi binary (the installed case),
/// else the directory of the first multi binary in PATH.
fn default_dir(argv0: &OsStr) -> Result<PathBuf, Failure> {
    let own = crate::locate::called_path(argv0, crate::locate::FileId::current_exe())
        .and_then(|p| crate::locate::dir_of(&p));
    let holds_multi = |d: &PathBuf| {
        Mode::ALL
            .iter()
            .any(|m| probe::is_executable(&d.join(m.multi())))
    };
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
    };
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("no-sanity-check") => opts.sanity_check = false,
            Long("symlinks") => opts.symlinks = true,
            other => return Err(usage(other.unexpected())),
        }
    }
    let settings = Settings::from_env()?;
    install::run(argv0, opts, &settings)
}
