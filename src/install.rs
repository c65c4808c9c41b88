//! `iptables-wrapper install`: puts the wrapper in front of the six names in
//! an image. Everything is checked before anything changes, so a refusal
//! leaves the image exactly as it was. Running it twice changes nothing the
//! second time.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::deadline::{self, Finished};
use crate::locate::{self, FileId};
use crate::names::{self, Mode};
use crate::probe::is_executable;
use crate::settings::Settings;
use crate::switch;
use crate::version::{self, Version};
use crate::Failure;

#[derive(Debug, Default)]
pub struct Options {
    pub sanity_check: bool,
    pub symlinks: bool,
}

fn refuse(msg: impl std::fmt::Display) -> Failure {
    Failure::from(anyhow!("install refused: {msg}"))
}

/// The wrapper's own path without needing /proc: argv[0] when absolute
/// (Docker `RUN ["/usr/sbin/iptables-wrapper", "install"]`), else
/// /proc/self/exe.
fn own_path(argv0: &OsStr) -> Result<PathBuf, Failure> {
    let p = Path::new(argv0);
    if p.is_absolute() {
        if FileId::of(p).is_none() {
            return Err(refuse(format_args!(
                "this binary was called as {}, which does not exist; run it by its real absolute path",
                p.display()
            )));
        }
        return Ok(p.to_path_buf());
    }
    fs::read_link(locate::SELF_EXE).map_err(|e| {
        refuse(format_args!(
            "cannot tell where this binary is ({:?} is not an absolute path and {} is unreadable: {e}); run it by absolute path, for example /usr/sbin/iptables-wrapper install",
            argv0,
            locate::SELF_EXE
        ))
    })
}

pub fn run(argv0: &OsStr, opts: Options, settings: &Settings) -> Result<(), Failure> {
    let own = own_path(argv0)?;
    let own_name = locate::basename(own.as_os_str());
    if names::command(&own_name).is_some() {
        return Err(refuse(format_args!(
            "the wrapper must keep a name of its own, not {own_name}; call it iptables-wrapper"
        )));
    }
    let dir = locate::dir_of(&own)?;
    let present: Vec<Mode> = Mode::ALL
        .into_iter()
        .filter(|m| is_executable(&dir.join(m.multi())))
        .collect();
    if present.is_empty() {
        return Err(refuse(format_args!(
            "{} holds neither xtables-legacy-multi nor xtables-nft-multi. Put iptables-wrapper in the directory that holds iptables (usually /usr/sbin or /sbin), where the names it stands in for live",
            dir.display()
        )));
    }
    if opts.sanity_check {
        sanity_check(&dir, &present, settings.probe_timeout)?;
    }
    let plan = switch::plan_install(&dir, &own, opts.symlinks)
        .map_err(|e| refuse(format_args!("{e:#}")))?;
    for step in plan {
        for line in step.apply(&own)? {
            println!("{line}");
        }
    }
    Ok(())
}

/// How the sanity-check refusals end: the way past them.
const OVERRIDE: &str = "To install anyway, rerun with --no-sanity-check";

fn sanity_check(dir: &Path, present: &[Mode], timeout: Duration) -> Result<(), Failure> {
    for mode in Mode::ALL {
        if !present.contains(&mode) {
            return Err(refuse(format_args!(
                "{} is missing, so the wrapper could not follow a host that uses {mode}. {}. {OVERRIDE}",
                dir.join(mode.multi()).display(),
                package_advice(mode)
            )));
        }
    }
    // Mode::ALL puts legacy first, so nft can fall back on its version.
    let mut legacy: Option<Version> = None;
    for mode in Mode::ALL {
        let multi = dir.join(mode.multi());
        let (v, source) = match run_version(&multi, timeout)
            .map_err(|e| refuse(format_args!("{e}. {OVERRIDE}")))?
        {
            Ran::Version(v) => (v, format!("`{} --version`", multi.display())),
            // iptables-nft sets up nf_tables before it reads its options, so
            // where nf_tables cannot be reached it exits with "Failed to
            // initialize nft" and no version: under qemu-user (a multi-arch
            // image build), which refuses NETLINK_NETFILTER, or in a build
            // sandbox without it. Both multi binaries come from one iptables
            // source release, so legacy's version stands for nft's.
            Ran::NoVersion(e) => match (mode, legacy) {
                (Mode::Nft, Some(v)) => (
                    v,
                    format!(
                        "`{} --version`, since `{} --version` printed none (nf_tables cannot be reached here)",
                        dir.join(Mode::Legacy.multi()).display(),
                        multi.display()
                    ),
                ),
                _ => return Err(refuse(format_args!("{e}. {OVERRIDE}"))),
            },
            Ran::CannotExec(why) => {
                let (v, db) = package_version().ok_or_else(|| {
                    refuse(format_args!(
                        "cannot tell the iptables version: {} cannot be run ({why}); neither dpkg's status file ({DPKG_STATUS}) nor apk's database ({}) lists an installed iptables package. If you know it is {} or newer, rerun with --no-sanity-check",
                        multi.display(),
                        APK_INSTALLED.join(", "),
                        version::MINIMUM
                    ))
                })?;
                (
                    v,
                    format!("{db}, since {} cannot be run: {why}", multi.display()),
                )
            }
        };
        if let Some(problem) = version::problem(v) {
            return Err(refuse(format_args!(
                "{problem}. Version from {source}. {OVERRIDE}"
            )));
        }
        if mode == Mode::Legacy {
            legacy = Some(v);
        }
    }
    Ok(())
}

/// What running `--version` told us.
enum Ran {
    Version(Version),
    /// exec failed: a binary for another architecture ("Exec format
    /// error"), a missing loader, no permission.
    CannotExec(std::io::Error),
    /// It ran (and ended in time) but printed no version: what to say.
    NoVersion(String),
}

/// `xtables-<mode>-multi iptables --version`, parsed, within `timeout`.
/// Only a failed exec is worth asking the package database about; a binary
/// that hangs is refused, and one that runs but prints no version is left to
/// the caller.
fn run_version(multi: &Path, timeout: Duration) -> Result<Ran, String> {
    let started = match deadline::start(multi, "iptables", &["--version"], deadline::read_all) {
        Ok(s) => s,
        Err(e) => return Ok(Ran::CannotExec(e)),
    };
    let text = match started.finish(Instant::now() + timeout, timeout) {
        Finished::Ended(ended) => ended.output.unwrap_or_default(),
        Finished::TimedOut(_) => {
            return Err(format!(
                "`{} --version` did not finish within {:.1} s (iptables 1.8.3 in nft mode hangs like this when nf_tables cannot be loaded)",
                multi.display(),
                timeout.as_secs_f64()
            ))
        }
    };
    Ok(version::from_output(&text).map_or_else(
        || {
            Ran::NoVersion(format!(
                "`{} --version` printed no version ({:?})",
                multi.display(),
                text.trim()
            ))
        },
        Ran::Version,
    ))
}

const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// apk's database; usr-merged images (Wolfi) keep the real file in /usr.
const APK_INSTALLED: [&str; 2] = ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"];

/// The installed iptables package's version, and the file it came from.
fn package_version() -> Option<(Version, &'static str)> {
    let read = |p: &str| fs::read_to_string(p).ok();
    read(DPKG_STATUS)
        .and_then(|s| version::from_dpkg_status(&s, "iptables"))
        .map(|v| (v, DPKG_STATUS))
        .or_else(|| {
            APK_INSTALLED.into_iter().find_map(|p| {
                read(p)
                    .and_then(|s| version::from_apk_installed(&s, "iptables"))
                    .map(|v| (v, p))
            })
        })
}

/// Which package brings the missing mode, by the distribution's ID.
fn package_advice(mode: Mode) -> String {
    let os = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let ids: Vec<&str> = os
        .lines()
        .filter_map(|l| l.strip_prefix("ID=").or_else(|| l.strip_prefix("ID_LIKE=")))
        .flat_map(|v| v.trim_matches('"').split_whitespace())
        .collect();
    let has = |id: &str| ids.contains(&id);
    // Alpine 3.19 moved legacy out of `iptables`, which keeps nft.
    let alpine = match mode {
        Mode::Legacy => "iptables-legacy",
        Mode::Nft => "iptables",
    };
    if has("alpine") {
        format!("Alpine 3.19 and later ship {mode} in the {alpine} package: apk add {alpine}")
    } else if has("fedora") || has("rhel") {
        format!("Fedora ships each mode in its own package: dnf install iptables-{mode}")
    } else if has("debian") {
        "Debian's iptables package ships both modes: apt-get install iptables".to_string()
    } else {
        format!("Install the package that provides it (Debian: iptables; Alpine 3.19+: {alpine}; Fedora: iptables-{mode})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stand_in(tag: &str, body: &[u8]) -> PathBuf {
        let p = std::env::temp_dir().join(format!("ipw-install-{tag}-{}", std::process::id()));
        crate::test_exe::write_executable(&p, body);
        p
    }

    #[test]
    fn versions_come_from_running_the_binary() {
        let t = Duration::from_secs(5);
        let ok = stand_in(
            "ok",
            b"#!/bin/sh\n[ \"$1\" = --version ] && echo 'iptables v1.8.3 (nf_tables)'\n",
        );
        assert!(matches!(
            run_version(&ok, t),
            Ok(Ran::Version(Version(1, 8, 3)))
        ));
        // Garbage: exec fails, and it must not be handed to /bin/sh instead.
        let garbage = stand_in("garbage", b"\x7fELF\x00\x01junk");
        assert!(matches!(run_version(&garbage, t), Ok(Ran::CannotExec(_))));
        let script = stand_in("noshebang", b"echo iptables v1.8.9\n");
        assert!(matches!(run_version(&script, t), Ok(Ran::CannotExec(_))));
        let silent = stand_in("silent", b"#!/bin/sh\necho hello\n");
        match run_version(&silent, t) {
            Ok(Ran::NoVersion(e)) => assert!(
                e.contains("printed no version") && e.contains("hello"),
                "{e}"
            ),
            _ => panic!("a binary that prints no version gives NoVersion"),
        }
        let hang = stand_in("hang", b"#!/bin/sh\nsleep 30 & wait\n");
        let start = Instant::now();
        let e = run_version(&hang, Duration::from_millis(200))
            .err()
            .unwrap();
        assert!(e.contains("did not finish within 0.2 s"), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "killed at the deadline"
        );
        for p in [ok, garbage, script, silent, hang] {
            fs::remove_file(p).unwrap();
        }
    }

    /// A directory holding the two multi binaries as stand-ins.
    fn multis(tag: &str, legacy: &[u8], nft: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ipw-install-{tag}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        crate::test_exe::write_executable(&dir.join(Mode::Legacy.multi()), legacy);
        crate::test_exe::write_executable(&dir.join(Mode::Nft.multi()), nft);
        dir
    }

    #[test]
    fn nft_without_nf_tables_takes_legacys_version() {
        let t = Duration::from_secs(5);
        // What iptables-nft does under qemu-user: no version, exit 1.
        let no_nft = b"#!/bin/sh\necho 'iptables: Failed to initialize nft: Protocol not supported' >&2\nexit 1\n";
        let good = multis(
            "nonft",
            b"#!/bin/sh\necho 'iptables v1.8.11 (legacy)'\n",
            no_nft,
        );
        assert!(sanity_check(&good, &Mode::ALL, t).is_ok());
        // Legacy printing no version is refused: nothing stands in for it.
        let none = multis(
            "nolegacy",
            b"#!/bin/sh\nexit 1\n",
            b"#!/bin/sh\necho 'iptables v1.8.11 (nf_tables)'\n",
        );
        let e = format!(
            "{:#}",
            sanity_check(&none, &Mode::ALL, t).err().unwrap().error
        );
        assert!(
            e.contains("xtables-legacy-multi --version` printed no version"),
            "{e}"
        );
        for d in [good, none] {
            fs::remove_dir_all(d).unwrap();
        }
    }
}
