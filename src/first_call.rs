//! A call under one of the six names: decide the mode, repoint the names,
//! then become the real command. Normally this runs once per image; after
//! the switch the names lead straight to the multi binaries.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::detect::{self, Decision, Overall, Refusal, Request};
use crate::exec::exec_multi;
use crate::locate::{self, resolved_mode, FileId};
use crate::names::{Family, Mode};
use crate::probe::Host;
use crate::report;
use crate::settings::{Settings, MODE_VAR};
use crate::switch;
use crate::Failure;

pub fn run(command: &'static str, argv0: &OsStr, args: Vec<OsString>) -> Result<(), Failure> {
    let settings = Settings::from_env()?;
    let me = FileId::current_exe();
    let path = locate::called_path(argv0, me)?;
    let dir = locate::dir_of(&path)?;
    let link = dir.join(command);
    // Without /proc, the path we were called through (which led here a
    // moment ago) has to stand for this binary.
    let wrapper = me.or_else(|| FileId::of(&path));

    // Another call may have switched the names between our exec and now.
    if let Some(mode) = resolved_mode(&link) {
        return become_mode(&dir, mode, command, args, wrapper);
    }
    let lock = match switch::lock(&dir) {
        Ok(l) => Some(l),
        Err(e) => {
            warn(format_args!("{e:#}; detecting without the switch lock"));
            None
        }
    };
    // Checked again under the lock: the holder before us may have switched.
    if let Some(mode) = resolved_mode(&link) {
        if settings.debug {
            eprintln!(
                "iptables-wrapper: {} already switched to {mode} by another call",
                link.display()
            );
        }
        drop(lock);
        return become_mode(&dir, mode, command, args, wrapper);
    }

    let decision = decide(&dir, &settings, false)?;
    if settings.debug {
        eprintln!("iptables-wrapper: {}", report::line(&decision));
    }
    for w in &decision.warnings {
        warn(format_args!("{w}"));
    }
    let modes = Family::ALL.map(|f| decision.mode(f));
    let mode = modes[Family::of_command(command).index()];
    if !decision.may_commit() {
        // The probes could not look (see the probes-refused warning): run
        // the default and leave the names to a call that can.
        drop(lock);
        return become_mode(&dir, mode, command, args, wrapper);
    }
    match switch::to_modes(&dir, modes, wrapper) {
        Ok(changes) if resolved_mode(&link) == Some(mode) => {
            if settings.debug {
                for c in changes {
                    eprintln!("iptables-wrapper: switched {c}");
                }
            }
        }
        Ok(_) => warn(format_args!(
            "{} still does not lead to {} after switching (the alternatives tool changed nothing); running {} directly (each call detects again until the names lead there)",
            link.display(),
            mode.multi(),
            dir.join(mode.multi()).display()
        )),
        Err(e) => warn(format_args!(
            "cannot switch the iptables names to {mode}: {e:#}; running {} directly (each call detects again until the names can be changed)",
            dir.join(mode.multi()).display()
        )),
    }
    drop(lock);
    become_mode(&dir, mode, command, args, wrapper)
}

fn become_mode(
    dir: &Path,
    mode: Mode,
    command: &str,
    args: Vec<OsString>,
    wrapper: Option<FileId>,
) -> Result<(), Failure> {
    let multi = dir.join(mode.multi());
    // A multi binary that is really this wrapper (a bad link in the image)
    // would run us again under the same name, forever.
    if wrapper.is_some() && FileId::of(&multi) == wrapper {
        return Err(Failure::cannot_exec(anyhow::anyhow!(
            "{} is this wrapper, not iptables; reinstall the iptables package so it holds the real binary",
            multi.display()
        )));
    }
    let err = exec_multi(&multi, command, args);
    Err(Failure::cannot_exec(
        err.context("the real iptables command could not be started"),
    ))
}

fn warn(msg: std::fmt::Arguments) {
    eprintln!("iptables-wrapper: warning: {msg}");
}

/// Detects the host's modes for the iptables in `dir`, as the layout of its
/// names allows them: where one alternatives group covers both families,
/// IPv4's mode for both. `thorough` is `detect`'s: all the evidence.
pub fn decide(dir: &Path, settings: &Settings, thorough: bool) -> Result<Decision, Failure> {
    let host = Host::new(dir.to_path_buf(), settings.probe_timeout, settings.sources)
        .with_hints(settings.hint_chains);
    let request = Request {
        setting: settings.mode,
        hint_wait: settings.hint_wait,
        thorough,
    };
    // `thorough` is detect's, which takes --dir; a first call cannot.
    let mut decision = detect::decide(&request, &host).map_err(|r| refusal(r, dir, thorough))?;
    if decision.overall() == Overall::Split {
        if let Some(group) = switch::split_blocker(dir) {
            decision.unsplit(&group);
        }
    }
    Ok(decision)
}

/// Why detection could not choose, as the failure every entry point ends
/// with: 127 when neither mode is installed, 2 for a forced mode that is not.
/// `takes_dir`: the command has `--dir` (detect, verify); a first call
/// looks where the name it was called by is, so its advice is the install.
pub fn refusal(r: Refusal, dir: &Path, takes_dir: bool) -> Failure {
    match r {
        Refusal::NothingInstalled => Failure::not_installed(format_args!(
            "neither xtables-legacy-multi nor xtables-nft-multi is installed in {}; {}",
            dir.display(),
            if takes_dir {
                "install iptables (both modes) in the image, or pass --dir with the directory that holds them"
            } else {
                "install iptables (both modes) in the image, then run `iptables-wrapper install` again, which puts the names where iptables is"
            }
        )),
        Refusal::ForcedButMissing(mode) => Failure::setting(format_args!(
            "{MODE_VAR}={mode}, but {} is not installed; install that mode or change the setting",
            dir.join(mode.multi()).display()
        )),
    }
}
