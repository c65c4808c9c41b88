//! `iptables-wrapper install`: puts the wrapper in front of the six names in
//! an image. Everything is checked before anything changes, so a refusal
//! leaves the image exactly as it was. Running it twice changes nothing the
//! second time.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use crate::deadline::{self, Finished};
use crate::elf::Machine;
use crate::installed::{self, is_executable};
use crate::locate::{self, FileId};
use crate::names::{self, Mode};
use crate::root::Root;
use crate::settings::Settings;
use crate::switch;
use crate::version::{self, Version};
use crate::Failure;

#[derive(Debug, Default)]
pub struct Options {
    pub sanity_check: bool,
    pub symlinks: bool,
    /// `--root DIR`: set up the image whose root file system is DIR, from
    /// outside, running nothing inside it.
    pub root: Option<PathBuf>,
    /// `--wrapper FILE` (with `--root`): the wrapper to copy into DIR, for
    /// an image of another architecture; this binary by default.
    pub wrapper: Option<PathBuf>,
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

/// Where an image keeps iptables, in the order `--root` looks: the first
/// that holds a multi binary wins. Debian and Ubuntu install it in
/// /usr/sbin (/sbin is a link there on merged-/usr images), Alpine in
/// /sbin, Fedora 42 and later in /usr/bin (/usr/sbin is a link to it). The
/// sbin directories come first because every distribution that keeps them
/// apart puts iptables there, as the shell installer assumes.
pub const IPTABLES_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The wrapper's name inside an image set up with `--root`.
const WRAPPER: &str = "iptables-wrapper";

pub fn run(argv0: &OsStr, opts: Options, settings: &Settings) -> Result<(), Failure> {
    let own = own_path(argv0)?;
    // Where the image's `/` is, its iptables directory and the wrapper's
    // path in it, as the image sees them.
    let (root, dir, target) = match &opts.root {
        None => {
            let own_name = locate::basename(own.as_os_str());
            if names::command(&own_name).is_some() {
                return Err(refuse(format_args!(
                    "the wrapper must keep a name of its own, not {own_name}; call it iptables-wrapper"
                )));
            }
            let dir = locate::dir_of(&own)?;
            (Root::HOST, dir, own.clone())
        }
        Some(d) => {
            let root = Root::at(d).map_err(|e| {
                Failure::setting(format_args!(
                    "install --root {}: {e:#}. Give the directory that holds the image's root file system",
                    d.display()
                ))
            })?;
            let dir = iptables_dir(&root)?;
            let target = dir.join(WRAPPER);
            (root, dir, target)
        }
    };
    let present = installed::modes(&root, &dir);
    if present.is_empty() {
        return Err(refuse(format_args!(
            "{} holds neither xtables-legacy-multi nor xtables-nft-multi. Put iptables-wrapper in the directory that holds iptables (usually /usr/sbin or /sbin), where the names it stands in for live",
            root.show(&dir)
        )));
    }
    // What goes into another root: this binary, or the one given for it.
    let source = match (&opts.root, &opts.wrapper) {
        (Some(_), Some(w)) => {
            if !is_executable(w) {
                return Err(Failure::setting(format_args!(
                    "install --wrapper {}: not an executable file. Give the iptables-wrapper binary built for the image's architecture",
                    w.display()
                )));
            }
            w.clone()
        }
        _ => own.clone(),
    };
    if root.dir().is_some() {
        same_machine(&root, &dir, present[0], &source, opts.wrapper.is_some())?;
    }
    if opts.sanity_check {
        sanity_check(&root, &dir, &present, settings.probe_timeout)?;
    }
    let plan = switch::plan_install(&root, &dir, &target, opts.symlinks)
        .map_err(|e| refuse(format_args!("{e:#}")))?;
    if root.dir().is_some() {
        // The alternatives tool checks that the path it registers exists,
        // so the copy goes first.
        let real_dir = root
            .resolve(&dir)
            .ok_or_else(|| refuse(format_args!("{} is gone", root.show(&dir))))?;
        let to = real_dir.join(WRAPPER);
        if put_copy(&source, &to)
            .with_context(|| format!("cannot copy {} to {}", source.display(), to.display()))?
        {
            println!(
                "iptables-wrapper: copied {} to {}",
                source.display(),
                to.display()
            );
        }
    }
    for step in plan {
        for line in step.apply(&root, &target)? {
            println!("iptables-wrapper: {line}");
        }
    }
    Ok(())
}

/// Refuses a wrapper built for another machine than the image's iptables
/// (`mode`'s multi binary in `dir`): every call of the six names would fail
/// with "Exec format error". A multi binary that is no ELF file (a script)
/// says nothing about the machine.
fn same_machine(
    root: &Root,
    dir: &Path,
    mode: Mode,
    wrapper: &Path,
    given: bool,
) -> Result<(), Failure> {
    let multi = dir.join(mode.multi());
    let Some(image) = root.resolve(&multi).and_then(|p| Machine::of(&p)) else {
        return Ok(());
    };
    let what = if given { "" } else { " (this binary)" };
    match Machine::of(wrapper) {
        Some(m) if m == image => Ok(()),
        Some(m) => Err(refuse(format_args!(
            "{}{what} is built for {m}, but {} is built for {image}. Give the iptables-wrapper built for {image} with --wrapper FILE",
            wrapper.display(),
            root.show(&multi)
        ))),
        None => Err(refuse(format_args!(
            "{}{what} is not an ELF executable, but {} is one built for {image}. Give the iptables-wrapper built for {image} with --wrapper FILE",
            wrapper.display(),
            root.show(&multi)
        ))),
    }
}

/// The image's iptables directory: the first of [`IPTABLES_DIRS`] that
/// holds a multi binary, as the image spells it.
fn iptables_dir(root: &Root) -> Result<PathBuf, Failure> {
    IPTABLES_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| !installed::modes(root, d).is_empty())
        .ok_or_else(|| {
            refuse(format_args!(
                "no iptables in {}: none of {} holds xtables-legacy-multi or xtables-nft-multi. Install iptables (both modes) in the image first",
                root.dir().unwrap_or(Path::new("/")).display(),
                IPTABLES_DIRS.join(", ")
            ))
        })
}

/// Puts a copy of `from` at `to` unless an identical executable is already
/// there: written under a temporary name in the same directory, flushed,
/// then renamed over `to`, so that `to` is never a partial file. Returns
/// whether it changed anything.
fn put_copy(from: &Path, to: &Path) -> std::io::Result<bool> {
    let bytes = fs::read(from)?;
    if is_executable(to) && fs::read(to).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let tmp = to.with_file_name(format!(".{WRAPPER}.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(&bytes)?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, to));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map(|()| true)
}

/// How the sanity-check refusals end: the way past them.
const OVERRIDE: &str = "To install anyway, rerun with --no-sanity-check";

fn sanity_check(
    root: &Root,
    dir: &Path,
    present: &[Mode],
    timeout: Duration,
) -> Result<(), Failure> {
    for mode in Mode::ALL {
        if !present.contains(&mode) {
            return Err(refuse(format_args!(
                "{} is missing, so the wrapper could not follow a host that uses {mode}. {}. {OVERRIDE}",
                root.show(&dir.join(mode.multi())),
                package_advice(root, mode)
            )));
        }
    }
    // Mode::ALL puts legacy first, so nft can fall back on its version.
    let mut legacy: Option<Version> = None;
    // The package database names one version for both modes: read once.
    let package = std::cell::OnceCell::new();
    for mode in Mode::ALL {
        let multi = dir.join(mode.multi());
        // Another root's binaries are never run: they may be built for
        // another architecture, and they are not this machine's to run.
        let ran = match root.dir() {
            None => {
                run_version(&multi, timeout).map_err(|e| refuse(format_args!("{e}. {OVERRIDE}")))?
            }
            Some(d) => Ran::NotRun(format!("the binaries in {} are not run", d.display())),
        };
        let (v, source) = match ran {
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
            Ran::NotRun(why) => {
                let package = package.get_or_init(|| package_version(root));
                let (v, from) = without_running(root, *package, &multi).ok_or_else(|| {
                    refuse(format_args!(
                        "cannot tell the iptables version: {why}; neither dpkg's status file ({DPKG_STATUS}) nor apk's database ({}) lists an installed iptables package, and {} holds no version string. If you know it is {} or newer, rerun with --no-sanity-check",
                        APK_INSTALLED.join(", "),
                        root.show(&multi),
                        version::MINIMUM
                    ))
                })?;
                (v, format!("{from}, since {why}"))
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

/// The iptables version without running `multi`: the package database's
/// (`package`, from [`package_version`]) when it lists iptables (what the
/// package manager and image scanners go by), else the version compiled
/// into the binary. Returns it with where it came from.
fn without_running(
    root: &Root,
    package: Option<(Version, &'static str)>,
    multi: &Path,
) -> Option<(Version, String)> {
    package
        .map(|(v, db)| (v, root.show(Path::new(db))))
        .or_else(|| {
            let bytes = fs::read(root.resolve(multi)?).ok()?;
            version::from_binary(&bytes)
                .map(|v| (v, format!("the version string in {}", root.show(multi))))
        })
}

/// What running `--version` told us.
enum Ran {
    Version(Version),
    /// Not run, and why: exec failed (a binary for another architecture,
    /// "Exec format error"; a missing loader; no permission), or it belongs
    /// to another root (`--root`).
    NotRun(String),
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
        Err(e) => {
            return Ok(Ran::NotRun(format!(
                "{} cannot be run ({e})",
                multi.display()
            )))
        }
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

/// The installed iptables package's version in `root`, and the file it came
/// from (as the image names it).
fn package_version(root: &Root) -> Option<(Version, &'static str)> {
    let read = |p: &str| fs::read_to_string(root.resolve(Path::new(p))?).ok();
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
fn package_advice(root: &Root, mode: Mode) -> String {
    let os = root
        .resolve(Path::new("/etc/os-release"))
        .and_then(|p| fs::read_to_string(p).ok())
        .unwrap_or_default();
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
        assert!(matches!(run_version(&garbage, t), Ok(Ran::NotRun(_))));
        let script = stand_in("noshebang", b"echo iptables v1.8.9\n");
        assert!(matches!(run_version(&script, t), Ok(Ran::NotRun(_))));
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
        assert!(sanity_check(&Root::HOST, &good, &Mode::ALL, t).is_ok());
        // Legacy printing no version is refused: nothing stands in for it.
        let none = multis(
            "nolegacy",
            b"#!/bin/sh\nexit 1\n",
            b"#!/bin/sh\necho 'iptables v1.8.11 (nf_tables)'\n",
        );
        let e = format!(
            "{:#}",
            sanity_check(&Root::HOST, &none, &Mode::ALL, t)
                .err()
                .unwrap()
                .error
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
