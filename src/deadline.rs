//! Runs a child process with a deadline. Used for every iptables command the
//! wrapper runs before it execs: the detection probes and install's
//! `--version` check. iptables-nft 1.8.3 spins forever when nf_tables cannot
//! be loaded, so nothing may wait on iptables unbounded.
//!
//! The child gets its own process group, so the deadline kills whatever it
//! spawned, and a parent-death signal, so it also dies if we are killed
//! first. A thread hands its stdout to the caller's reader as it streams (a
//! dump is never buffered here), then keeps the first line of its stderr and
//! reaps it.
//!
//! Setting the death signal needs code between fork and exec, and on that
//! path std execs with `execvp(3)`, which hands a file the kernel refuses
//! (ENOEXEC: a binary for another architecture) to /bin/sh as a script. We
//! must see that refusal: install falls back to the package database on it,
//! and a probe should report "Exec format error", not a shell's complaint.
//! So the child calls `execv(2)` itself, with everything it needs built
//! before the fork.

use std::ffi::CString;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// A child that ran to its end.
pub struct Ended<T> {
    /// What the reader made of its stdout.
    pub output: io::Result<T>,
    pub status: io::Result<ExitStatus>,
    /// The first non-empty line it printed on stderr, if any.
    pub said: Option<String>,
    pub elapsed: Duration,
}

pub enum Finished<T> {
    Ended(Ended<T>),
    /// Killed at the deadline, after this long.
    TimedOut(Duration),
}

/// A running child and the thread that reads it.
pub struct Started<T> {
    pid: Pid,
    started: Instant,
    done: mpsc::Receiver<Ended<T>>,
    thread: thread::JoinHandle<()>,
}

/// Starts `program` with `argv0` and `args`, stdin on /dev/null and `read`
/// consuming its stdout. The error is the exec's: "Exec format error", "No
/// such file or directory" come back here.
pub fn start<T, R>(program: &Path, argv0: &str, args: &[&str], read: R) -> io::Result<Started<T>>
where
    T: Send + 'static,
    R: FnOnce(ChildStdout) -> io::Result<T> + Send + 'static,
{
    let exec = Execv::new(program, argv0, args)?;
    let mut command = Command::new(program);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: the closure runs in the child between fork and exec and makes
    // only async-signal-safe calls, with no allocation: prctl(2) and
    // execv(2) on pointers built before the fork. The death signal asks the
    // kernel to kill the child if the wrapper dies first (killed by its
    // caller, say), so a wedged iptables never outlives us. Children are
    // started from the main thread, which lives until every child has been
    // reaped, so the thread-exit quirk of PDEATHSIG cannot fire. If execv
    // returns, its error goes back to spawn(), which returns it.
    unsafe {
        command.pre_exec(move || {
            set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            Err(exec.exec())
        });
    }
    let mut child = command.spawn()?;
    let pid = Pid::from_raw(child.id() as i32);
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let started = Instant::now();
    let (tx, done) = mpsc::channel();
    let thread = thread::spawn(move || {
        let output = read(stdout);
        // Read after stdout's end: iptables writes a line or two there, far
        // below the pipe's 64 KiB, so it cannot block on it.
        let said = first_line(stderr);
        let status = child.wait();
        let _ = tx.send(Ended {
            output,
            status,
            said,
            elapsed: started.elapsed(),
        });
    });
    Ok(Started {
        pid,
        started,
        done,
        thread,
    })
}

impl<T> Started<T> {
    /// Waits until `deadline`; past it, kills the child's process group.
    /// `timeout` is what the deadline allowed, reported for a killed child.
    pub fn finish(self, deadline: Instant, timeout: Duration) -> Finished<T> {
        let left = deadline.saturating_duration_since(Instant::now());
        let finished = match self.done.recv_timeout(left) {
            Ok(ended) => Finished::Ended(ended),
            Err(_) => {
                // The child is still ours to kill: the reader thread has not
                // reaped it (it sends only after wait()), so the pid cannot
                // have been reused. Killing the group closes the pipe, the
                // thread sees EOF, reaps the child and exits.
                let _ = killpg(self.pid, Signal::SIGKILL);
                let reaped = self.done.recv_timeout(Duration::from_secs(1)).is_ok();
                if !reaped {
                    // Something outside the group still holds the pipe open.
                    // Leave the thread behind rather than wait on it.
                    return Finished::TimedOut(timeout);
                }
                Finished::TimedOut(timeout.min(self.started.elapsed()))
            }
        };
        let _ = self.thread.join();
        finished
    }
}

/// Program and argv as C strings and a NULL-terminated pointer array,
/// ready for execv(2) in a child that must not allocate.
struct Execv {
    path: CString,
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
}

// SAFETY: the pointers point into `_strings`, owned by the same value and
// never changed after construction; the value is only read.
unsafe impl Send for Execv {}
unsafe impl Sync for Execv {}

impl Execv {
    fn new(program: &Path, argv0: &str, args: &[&str]) -> io::Result<Execv> {
        let c =
            |b: &[u8]| CString::new(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e));
        let path = c(program.as_os_str().as_bytes())?;
        let strings = std::iter::once(argv0)
            .chain(args.iter().copied())
            .map(|a| c(a.as_bytes()))
            .collect::<io::Result<Vec<_>>>()?;
        let argv = strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Ok(Execv {
            path,
            _strings: strings,
            argv,
        })
    }

    /// Replaces the process; returns only the error if that failed.
    /// Async-signal-safe: no allocation.
    fn exec(&self) -> io::Error {
        // SAFETY: `path` and every non-null entry of `argv` are live,
        // NUL-terminated C strings, and `argv` ends with a null pointer.
        unsafe { libc::execv(self.path.as_ptr(), self.argv.as_ptr()) };
        io::Error::last_os_error()
    }
}

/// A reader for [`start`] that keeps all of a short output, such as
/// `--version`'s; dumps are scanned as they stream instead.
pub fn read_all(mut out: ChildStdout) -> io::Result<String> {
    let mut text = String::new();
    out.read_to_string(&mut text).map(|_| text)
}

/// The first non-empty line of what a child said on stderr, at most 200
/// bytes of it; the rest is read and dropped.
fn first_line(mut r: impl Read) -> Option<String> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        let room = 4096usize.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    let text = String::from_utf8_lossy(&kept);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut end = line.len().min(200);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    Some(line[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_gets_argv0_and_args_and_its_output_is_read() {
        let t = Duration::from_secs(5);
        // argv[0] as the kernel saw it, then the arguments after the script.
        let script = "head -c 10 /proc/$$/cmdline; echo \" $0 $1\"; echo oops >&2; exit 3";
        let child = start(
            Path::new("/bin/sh"),
            "probe-name",
            &["-c", script, "a", "b"],
            read_all,
        )
        .unwrap();
        match child.finish(Instant::now() + t, t) {
            Finished::Ended(e) => {
                assert_eq!(e.output.unwrap(), "probe-name a b\n");
                assert_eq!(e.status.unwrap().code(), Some(3));
                assert_eq!(e.said.as_deref(), Some("oops"));
            }
            Finished::TimedOut(_) => panic!("timed out"),
        }
    }

    #[test]
    fn a_file_the_kernel_will_not_run_is_an_error_not_a_shell_script() {
        let p = std::env::temp_dir().join(format!("ipw-deadline-{}", std::process::id()));
        crate::test_exe::write_executable(&p, b"echo ran as a script\n");
        let err = start(&p, "iptables", &["--version"], read_all).err();
        std::fs::remove_file(&p).unwrap();
        assert_eq!(err.and_then(|e| e.raw_os_error()), Some(libc::ENOEXEC));
    }

    #[test]
    fn stderr_is_cut_to_its_first_line() {
        assert_eq!(
            first_line("\n  \nfirst\nsecond\n".as_bytes()).as_deref(),
            Some("first")
        );
        assert_eq!(first_line("x".repeat(300).as_bytes()).unwrap().len(), 200);
        assert_eq!(first_line("".as_bytes()), None);
    }
}
