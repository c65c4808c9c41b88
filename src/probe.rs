//! The real [`Evidence`]: runs `*-save` commands through the installed multi
//! binaries, with a deadline, and reads the kernel's legacy table lists.
//!
//! Each probe is a child in its own process group whose stdout is scanned by
//! a thread as it streams (never buffered whole). All probes of a batch run at
//! once, so a batch costs about as long as its slowest member. A probe still
//! running at the deadline has its process group killed and is reaped: a
//! wedged iptables (1.8.3 nft spins forever without nf_tables) must neither
//! hang the wrapper nor outlive it.

use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::detect::{Evidence, Outcome, Probe, Tables};
use crate::names::{Family, Mode};
use crate::scan;

/// Default per-probe deadline, and the variable that changes it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const TIMEOUT_VAR: &str = "IPTABLES_WRAPPER_PROBE_TIMEOUT";

/// Parses `IPTABLES_WRAPPER_PROBE_TIMEOUT` (seconds, fractions allowed).
pub fn parse_timeout(value: Option<&str>) -> Result<Duration, String> {
    match value {
        None | Some("") => Ok(DEFAULT_TIMEOUT),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| {
                format!("{TIMEOUT_VAR}={v:?} is not a number of seconds between 0 and 3600")
            }),
    }
}

/// The iptables installation in one directory, on this kernel.
pub struct Host {
    pub dir: PathBuf,
    pub timeout: Duration,
}

impl Host {
    pub fn multi(&self, mode: Mode) -> PathBuf {
        self.dir.join(mode.multi())
    }
}

/// True if `path` is a regular file (after links) that someone may execute.
pub fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl Evidence for Host {
    fn installed(&self, mode: Mode) -> bool {
        is_executable(&self.multi(mode))
    }

    fn legacy_tables(&self, family: Family) -> Tables {
        read_tables(Path::new(family.legacy_tables_file()))
    }

    fn run(&self, probes: &[Probe]) -> Vec<Outcome> {
        let deadline = Instant::now() + self.timeout;
        let running: Vec<_> = probes.iter().map(|p| self.start(p)).collect();
        running
            .into_iter()
            .map(|r| match r {
                Ok(r) => r.finish(deadline, self.timeout),
                Err(o) => o,
            })
            .collect()
    }
}

/// Reads `/proc/net/ip{,6}_tables_names`. A missing file under a mounted
/// /proc means the x_tables module for that family is not loaded, so no
/// legacy tables exist; without /proc we cannot know.
pub fn read_tables(path: &Path) -> Tables {
    match fs::read_to_string(path) {
        Ok(s) => Tables::Listed(
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
        ),
        Err(e) if e.kind() == ErrorKind::NotFound && Path::new("/proc/self").exists() => {
            Tables::Listed(vec![])
        }
        Err(e) => Tables::Unknown(format!("cannot read {}: {e}", path.display())),
    }
}

/// The first non-empty line of what a probe said on stderr, at most 200
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

struct Running {
    pid: Pid,
    started: Instant,
    done: mpsc::Receiver<Outcome>,
    thread: thread::JoinHandle<()>,
}

impl Host {
    fn start(&self, probe: &Probe) -> Result<Running, Outcome> {
        let multi = self.multi(probe.mode);
        let mut command = Command::new(&multi);
        command
            .arg0(probe.command())
            .args(probe.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills whatever it spawned.
            .process_group(0);
        // SAFETY: the closure runs in the child between fork and exec and
        // only makes one prctl(2) call, which is async-signal-safe. It asks
        // the kernel to kill the probe if the wrapper dies first (killed by
        // its caller, say), so a wedged iptables never outlives us. Probes
        // are started from the main thread, which lives until every probe
        // has been reaped, so the thread-exit quirk of PDEATHSIG cannot fire.
        unsafe {
            command.pre_exec(|| set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from));
        }
        let mut child = command
            .spawn()
            .map_err(|e| Outcome::Failed(format!("cannot run {}: {e}", multi.display())))?;
        let pid = Pid::from_raw(child.id() as i32);
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let started = Instant::now();
        let (tx, done) = mpsc::channel();
        let format = probe.format();
        let thread = thread::spawn(move || {
            let scanned = scan::scan_reader(stdout, format);
            // Read after stdout's end: iptables writes a line or two there,
            // far below the pipe's 64 KiB, so it cannot block on it.
            let said = first_line(stderr);
            let status = child.wait();
            let outcome = match (scanned, status) {
                (Ok(scan), Ok(s)) if s.success() => Outcome::Done {
                    scan,
                    elapsed: started.elapsed(),
                },
                (Ok(_), Ok(s)) => Outcome::Failed(match said {
                    Some(line) => format!("exited with {s}: {line}"),
                    None => format!("exited with {s}"),
                }),
                (Err(e), _) => Outcome::Failed(format!("reading its output: {e}")),
                (_, Err(e)) => Outcome::Failed(format!("waiting for it: {e}")),
            };
            let _ = tx.send(outcome);
        });
        Ok(Running {
            pid,
            started,
            done,
            thread,
        })
    }
}

impl Running {
    fn finish(self, deadline: Instant, timeout: Duration) -> Outcome {
        let left = deadline.saturating_duration_since(Instant::now());
        let outcome = match self.done.recv_timeout(left) {
            Ok(o) => o,
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
                    return Outcome::TimedOut(timeout);
                }
                Outcome::TimedOut(timeout.min(self.started.elapsed()))
            }
        };
        let _ = self.thread.join();
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_setting() {
        assert_eq!(parse_timeout(None), Ok(DEFAULT_TIMEOUT));
        assert_eq!(parse_timeout(Some("0.5")), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout(Some("2")), Ok(Duration::from_secs(2)));
        for bad in ["0", "-1", "x", "inf", "NaN", "99999"] {
            assert!(parse_timeout(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_lists() {
        let dir = std::env::temp_dir().join(format!("ipw-tables-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("names");
        fs::write(&f, "mangle\nfilter\n").unwrap();
        assert_eq!(
            read_tables(&f),
            Tables::Listed(vec!["mangle".into(), "filter".into()])
        );
        fs::write(&f, "").unwrap();
        assert_eq!(read_tables(&f), Tables::Listed(vec![]));
        assert_eq!(read_tables(&dir.join("missing")), Tables::Listed(vec![]));
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Runs probes against stand-in multi binaries made of shell scripts.
    fn host_with(script_nft: &str, timeout: Duration) -> (Host, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "ipw-probe-{}-{}",
            std::process::id(),
            script_nft.len()
        ));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("xtables-nft-multi");
        fs::write(&p, format!("#!/bin/sh\n{script_nft}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        (
            Host {
                dir: dir.clone(),
                timeout,
            },
            dir,
        )
    }

    #[test]
    fn a_probe_sees_its_args_and_its_output_is_streamed() {
        let (host, dir) = host_with(
            r#"[ "$1 $2 $3" = "-t mangle -S" ] || exit 3
echo '-P INPUT ACCEPT'; echo '-N KUBE-KUBELET-CANARY'; i=0; while [ $i -lt 1000 ]; do echo "-A X -j ACCEPT"; i=$((i+1)); done"#,
            DEFAULT_TIMEOUT,
        );
        assert!(host.installed(Mode::Nft) && !host.installed(Mode::Legacy));
        let out = host.run(&[
            Probe::hint(Mode::Nft, Family::V6),
            Probe::full(Mode::Nft, Family::V4),
        ]);
        match &out[0] {
            Outcome::Done { scan, .. } => {
                assert_eq!(scan.rules, 1000);
                assert_eq!(scan.hint, Some("KUBE-KUBELET-CANARY"));
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(out[1], Outcome::Failed("exited with exit status: 3".into()));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failing_probe_says_why() {
        let (host, dir) = host_with(
            "echo >&2; echo 'iptables-save v1.8.9 (legacy): Cannot initialize: Permission denied (you must be root)' >&2; echo more >&2; exit 4",
            DEFAULT_TIMEOUT,
        );
        let out = host.run(&[Probe::full(Mode::Nft, Family::V4)]);
        assert_eq!(
            out[0],
            Outcome::Failed(
                "exited with exit status: 4: iptables-save v1.8.9 (legacy): Cannot initialize: Permission denied (you must be root)".into()
            )
        );
        assert_eq!(first_line("x".repeat(300).as_bytes()).unwrap().len(), 200);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_hanging_probe_is_killed_at_the_deadline() {
        let (host, dir) = host_with("echo '-A X'; exec sleep 30", Duration::from_millis(300));
        let t = Instant::now();
        let out = host.run(&[
            Probe::full(Mode::Nft, Family::V4),
            Probe::full(Mode::Nft, Family::V6),
        ]);
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "took {:?}",
            t.elapsed()
        );
        assert!(matches!(out[0], Outcome::TimedOut(_)), "{out:?}");
        assert!(matches!(out[1], Outcome::TimedOut(_)), "{out:?}");
        let missing = Host {
            dir: dir.join("nowhere"),
            timeout: DEFAULT_TIMEOUT,
        };
        assert!(
            matches!(&missing.run(&[Probe::full(Mode::Legacy, Family::V4)])[0], Outcome::Failed(m) if m.contains("cannot run"))
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
