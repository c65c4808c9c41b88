//! A call under one of the six names: decide the mode, repoint the names,
//! then become the real command. Normally this runs once per image; after
//! the switch the names lead straight to the multi binaries.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::detect::{self, Refusal, Setting};
use crate::exec::exec_multi;
use crate::locate::{self, resolved_mode, FileId};
use crate::names::Mode;
use crate::probe::Host;
use crate::report;
use crate::settings;
use crate::switch;
use crate::Failure;

pub const DEBUG_VAR: &str = "IPTABLES_WRAPPER_DEBUG";

fn debug() -> bool {
    std::env::var_os(DEBUG_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

pub fn run(command: &'static str, argv0: &OsStr, args: Vec<OsString>) -> Result<(), Failure> {
    let setting = settings::mode()?;
    let timeout = settings::probe_timeout()?;
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
        if debug() {
            eprintln!(
                "iptables-wrapper: {} already switched to {mode} by another call",
                link.display()
            );
        }
        drop(lock);
        return become_mode(&dir, mode, command, args, wrapper);
    }

    let host = Host {
        dir: dir.clone(),
        timeout,
    };
    let decision = detect::decide(setting, &host).map_err(|r| refusal(r, &dir))?;
    if debug() {
        eprintln!("iptables-wrapper: {}", report::line(&decision));
    }
    let mode = decision.mode;
    match switch::switch(&dir, mode, wrapper) {
        Ok(changes) if resolved_mode(&link) == Some(mode) => {
            if debug() {
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
        return Err(Failure {
            code: 126,
            error: anyhow::anyhow!(
                "{} is this wrapper, not iptables; reinstall the iptables package so it holds the real binary",
                multi.display()
            ),
        });
    }
    let err = exec_multi(&multi, command, args);
    Err(Failure {
        code: 126,
        error: err.context("the real iptables command could not be started"),
    })
}

fn warn(msg: std::fmt::Arguments) {
    eprintln!("iptables-wrapper: warning: {msg}");
}

fn refusal(r: Refusal, dir: &Path) -> Failure {
    match r {
        Refusal::NothingInstalled => Failure {
            code: 127,
            error: anyhow::anyhow!(
                "neither xtables-legacy-multi nor xtables-nft-multi is installed in {}; install iptables (both modes) in the image",
                dir.display()
            ),
        },
        Refusal::ForcedButMissing(mode) => Failure::usage(format!(
            "{}={mode}, but {} is not installed; install that mode or change the setting",
            Setting::VAR,
            dir.join(mode.multi()).display()
        )),
    }
}
