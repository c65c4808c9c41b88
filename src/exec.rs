//! Becomes the real command. `execve(2)` of the mode's multi binary by
//! absolute path, with argv[0] set to the name we were called as (the multi
//! binary dispatches on it). No child and no PATH search: stdin (which
//! iptables-restore reads), every open descriptor, the PID, signal handling
//! and the exit status are exactly those of a direct call.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use anyhow::{Context, Result};
use nix::unistd::execv;
/// Replaces the process with `program` (a mode's multi binary). Returns
/// only on failure.
pub fn exec_multi(program: &Path, argv0: &str, args: Vec<OsString>) -> anyhow::Error {
    match exec(program, argv0, args) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn exec(program: &Path, argv0: &str, args: Vec<OsString>) -> Result<std::convert::Infallible> {
    let path = CString::new(program.as_os_str().to_os_string().into_vec())
        .with_context(|| format!("{} contains a NUL byte", program.display()))?;
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(CString::new(argv0).context("argv[0] contains a NUL byte")?);
    for a in args {
        // Arguments that came from execve cannot hold NUL bytes.
        argv.push(CString::new(a.into_vec()).context("an argument contains a NUL byte")?);
    }
    execv(&path, &argv).with_context(|| format!("cannot execute {}", program.display()))
}
