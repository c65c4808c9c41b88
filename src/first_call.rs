//! A call under one of the six names: settle the mode (`settle.rs`: decide,
//! repoint the names, remember), then become the real command. Normally the
//! deciding happens once per image; after the switch the names lead to the
//! multi binaries (the others of a family through its head), and on a
//! read-only root a kept decision stands in for the switch.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::exec::exec_multi;
use crate::locate::{self, FileId};
use crate::names::{Family, Mode};
use crate::record::Trigger;
use crate::settings::Settings;
use crate::settle::{self, Call};
use crate::Failure;

pub fn run(command: &'static str, argv0: &OsStr, args: Vec<OsString>) -> Result<(), Failure> {
    let settings = Settings::from_env()?;
    let me = FileId::current_exe();
    let path = locate::called_path(argv0, me)?;
    let dir = locate::dir_of(&path)?;
    // Without /proc, the path we were called through (which led here a
    // moment ago) has to stand for this binary.
    let wrapper = me.or_else(|| FileId::of(&path));
    let outcome = settle::settle(&Call {
        dir: &dir,
        settings: &settings,
        wrapper,
        trigger: Trigger::FirstCall(command.to_string()),
        names: &[command],
    })?;
    // Its own name was looked at, so its family has a mode.
    let mode = outcome.mode(Family::of_command(command)).ok_or_else(|| {
        Failure::from(anyhow::anyhow!(
            "{} leads to no mode; run `iptables-wrapper verify`",
            path.display()
        ))
    })?;
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
