//! Becomes the real command. `execve(2)` of the mode's multi binary by
//! absolute path, with argv[0] set to the name we were called as (the multi
//! binary dispatches on it); for `switch -- COMMAND`, of COMMAND. No child and no PATH search: stdin (which
//! iptables-restore reads), every open descriptor, the PID, signal handling
//! and the exit status are exactly those of a direct call.
//!
//! Two things make that true, and [`prepare`] sets both up at start:
//! - **SIGPIPE.** A disposition of "ignore" survives `execve` (POSIX), so
//!   the caller's disposition is recorded and put back just before the
//!   exec. Until then we ignore SIGPIPE ourselves, as std programs do: a
//!   caller that closed our stderr must not kill us halfway through
//!   repointing the names.
//! - **Descriptors 0 to 2.** If the caller closed one, the next socket or
//!   directory we open would take its number and our messages would go
//!   there. The gap is filled with /dev/null opened close-on-exec, so the
//!   real command finds it closed, as the caller left it.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::execv;

/// SIGPIPE's disposition as the caller gave it to us.
static CALLER_SIGPIPE: OnceLock<SigAction> = OnceLock::new();

/// Run first, before anything opens a file or writes a message.
pub fn prepare() {
    fill_closed_std_fds();
    if let Some(old) = ignore_sigpipe() {
        let _ = CALLER_SIGPIPE.set(old);
    }
}

/// Ignores SIGPIPE; returns the disposition it replaced.
fn ignore_sigpipe() -> Option<SigAction> {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: installs no handler of ours, only the kernel's "ignore".
    unsafe { sigaction(Signal::SIGPIPE, &ignore) }.ok()
}

/// Opens /dev/null, close-on-exec, on each of descriptors 0 to 2 that is
/// closed. One poll(2) tells which: a closed descriptor reports POLLNVAL.
fn fill_closed_std_fds() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three pollfd for the whole call.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } < 0 {
        return;
    }
    for p in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
        // open(2) returns the lowest free number, which is this one unless
        // a lower gap was filled first: they are filled in order.
        // SAFETY: a NUL-terminated literal path; the descriptor is left
        // open on purpose, holding the number.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd >= 0 && fd != p.fd {
            // SAFETY: `fd` was opened just above and is ours to close.
            unsafe { libc::close(fd) };
        }
    }
}

/// Puts SIGPIPE back the way the caller had it.
fn restore_sigpipe() {
    if let Some(old) = CALLER_SIGPIPE.get() {
        // SAFETY: reinstalls the caller's disposition; any handler address
        // it held is meaningless after the exec, which resets handlers to
        // the default and keeps only "ignore".
        let _ = unsafe { sigaction(Signal::SIGPIPE, old) };
    }
}

/// Replaces the process with `program` (a mode's multi binary). Returns
/// only on failure.
pub fn exec_multi(program: &Path, argv0: &str, args: Vec<OsString>) -> anyhow::Error {
    exec_program(program, OsStr::new(argv0), args)
}

/// Replaces the process with `program`, argv[0] `argv0`, exactly `args`
/// after it. Returns only on failure; the error's root cause is the
/// [`nix::errno::Errno`] of the exec when it got that far.
pub fn exec_program(program: &Path, argv0: &OsStr, args: Vec<OsString>) -> anyhow::Error {
    match exec(program, argv0, args) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn exec(program: &Path, argv0: &OsStr, args: Vec<OsString>) -> Result<std::convert::Infallible> {
    let path = CString::new(program.as_os_str().to_os_string().into_vec())
        .with_context(|| format!("{} contains a NUL byte", program.display()))?;
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(
        CString::new(argv0.to_os_string().into_vec()).context("argv[0] contains a NUL byte")?,
    );
    for a in args {
        // Arguments that came from execve cannot hold NUL bytes.
        argv.push(CString::new(a.into_vec()).context("an argument contains a NUL byte")?);
    }
    restore_sigpipe();
    let err = execv(&path, &argv);
    // Still us: messages to a closed pipe must not kill us now either.
    ignore_sigpipe();
    err.with_context(|| format!("cannot execute {}", program.display()))
}
