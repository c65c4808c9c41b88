//! The real [`Evidence`]: runs `*-save` commands through the installed multi
//! binaries, with a deadline, and reads the kernel's legacy table lists.
//!
//! Each probe runs under `deadline.rs`, its stdout scanned as it streams
//! (never buffered whole). All probes of a batch start at once, so a batch
//! costs about as long as its slowest member. A probe still running at the
//! deadline is killed and reaped, and counts as no evidence.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::deadline::{self, Ended, Finished};
use crate::detect::{Evidence, Outcome, Probe, Tables};
use crate::names::{Family, Mode};
use crate::scan::{self, Scan};

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

    /// Starts one probe, its stdout scanned as it streams.
    fn start(&self, probe: &Probe) -> Result<deadline::Started<Scan>, Outcome> {
        let multi = self.multi(probe.mode);
        let format = probe.format();
        deadline::start(&multi, &probe.command(), &probe.args(), move |out| {
            scan::scan_reader(out, format)
        })
        .map_err(|e| Outcome::Failed(format!("cannot run {}: {e}", multi.display())))
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
                Ok(r) => outcome(r.finish(deadline, self.timeout)),
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

/// What a finished probe is worth as evidence.
fn outcome(finished: Finished<Scan>) -> Outcome {
    match finished {
        Finished::TimedOut(after) => Outcome::TimedOut(after),
        Finished::Ended(Ended {
            output,
            status,
            said,
            elapsed,
        }) => match (output, status) {
            (Ok(scan), Ok(s)) if s.success() => Outcome::Done { scan, elapsed },
            (Ok(_), Ok(s)) => Outcome::Failed(match said {
                Some(line) => format!("exited with {s}: {line}"),
                None => format!("exited with {s}"),
            }),
            (Err(e), _) => Outcome::Failed(format!("reading its output: {e}")),
            (_, Err(e)) => Outcome::Failed(format!("waiting for it: {e}")),
        },
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
        crate::test_exe::write_executable(&p, format!("#!/bin/sh\n{script_nft}\n").as_bytes());
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
