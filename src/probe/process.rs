//! The process source: runs the installed multi binaries as iptables
//! commands, with a deadline, and reads their output as it streams. This is
//! how version 1 probed; it is the fallback where the kernel cannot be asked
//! directly, and the oracle the kernel sources are tested against.
//!
//! Each probe runs under `deadline.rs`, its stdout scanned as it streams
//! (never buffered whole). All probes of a batch start at once, so a batch
//! costs about as long as its slowest member. A probe still running at the
//! deadline is killed and reaped, and counts as no evidence.
//!
//! nft's hint is read with `iptables -t mangle -S`, not `iptables-nft-save
//! -t mangle`: nft-save fetches every rule of every table from the kernel
//! before printing the one asked for (1.3 s with 100,000 filter rules),
//! while the listing fetches mangle alone (a few ms whatever the ruleset's
//! size; see BENCHMARKS.md). Both create nothing. Legacy's save of one
//! table reads only that table.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::deadline::{self, Ended, Finished};
use crate::detect::{Answer, Count, Observation, Probe, Source, Table};
use crate::names::Mode;
use crate::scan::{self, Format, Scan};

/// What iptables-nft prints when the kernel has no nf_tables: the socket is
/// refused (`Protocol not supported`), or, on some older kernels, the first
/// request is (`Could not fetch rule set generation id: Invalid argument`).
/// These are the kernel's answer, not a failure of the probe.
const NFT_UNUSABLE: [&str; 2] = [
    "Failed to initialize nft: Protocol not supported",
    "Could not fetch rule set generation id: Invalid argument",
];

/// Which command's output a probe reads.
fn format(p: &Probe) -> Format {
    match (p.mode, p.table) {
        (Mode::Nft, Table::Mangle) => Format::List,
        _ => Format::Save,
    }
}

/// The command name the multi binary dispatches on, e.g. `ip6tables-save`.
pub fn argv0(p: &Probe) -> String {
    match format(p) {
        Format::List => p.family.prefix().to_string(),
        Format::Save => format!("{}-save", p.family.prefix()),
    }
}

/// The arguments after the command name.
pub fn args(p: &Probe) -> Vec<&'static str> {
    match (p.table, format(p)) {
        (Table::Mangle, Format::List) => vec!["-t", "mangle", "-S"],
        (Table::Mangle, Format::Save) => vec!["-t", "mangle"],
        (Table::All, _) => vec![],
    }
}

/// As an operator would type it: `ip6tables-legacy-save -t mangle`,
/// `iptables-nft -t mangle -S`.
pub fn command(p: &Probe) -> String {
    let name = argv0(p);
    let (family, rest) = name.split_at(p.family.prefix().len());
    let mut s = format!("{family}-{}{rest}", p.mode);
    for a in args(p) {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// Runs `probes` at once through the multi binaries in `dir`, each for at
/// most `timeout`.
pub fn run(
    dir: &Path,
    timeout: Duration,
    hints: &'static [&'static str],
    probes: &[Probe],
) -> Vec<Observation> {
    let deadline = Instant::now() + timeout;
    let asked: Vec<(Probe, Instant)> = probes.iter().map(|p| (*p, deadline)).collect();
    run_until(dir, timeout, hints, &asked)
}

/// Runs each probe at once until its own deadline (what is left of a
/// `timeout` that a kernel source began). A probe whose deadline has
/// passed is not started. `hints` are the chain names that count as hints.
pub fn run_until(
    dir: &Path,
    timeout: Duration,
    hints: &'static [&'static str],
    probes: &[(Probe, Instant)],
) -> Vec<Observation> {
    let started: Vec<_> = probes
        .iter()
        .map(|(p, deadline)| {
            if Instant::now() >= *deadline {
                return Err(None);
            }
            start(dir, p, hints).map_err(Some)
        })
        .collect();
    probes
        .iter()
        .zip(started)
        .map(|((p, deadline), s)| {
            let (answer, detail, elapsed) = match s {
                Ok(s) => judge(p, s.finish(*deadline, timeout)),
                Err(Some(why)) => (Answer::Failed, Some(why), None),
                Err(None) => (
                    Answer::TimedOut,
                    Some(format!(
                        "not run: no time left of its {} s",
                        timeout.as_secs_f64()
                    )),
                    None,
                ),
            };
            Observation {
                probe: *p,
                answer,
                source: Source::Process,
                command: command(p),
                detail,
                elapsed,
            }
        })
        .collect()
}

fn multi(dir: &Path, mode: Mode) -> PathBuf {
    dir.join(mode.multi())
}

/// Starts one probe, its stdout scanned as it streams.
fn start(
    dir: &Path,
    p: &Probe,
    hints: &'static [&'static str],
) -> Result<deadline::Started<Scan>, String> {
    let multi = multi(dir, p.mode);
    let format = format(p);
    deadline::start(&multi, &argv0(p), &args(p), move |out| {
        scan::scan_reader(out, format, hints)
    })
    .map_err(|e| format!("cannot run {}: {e}", multi.display()))
}

/// What a finished probe is worth as evidence.
fn judge(p: &Probe, finished: Finished<Scan>) -> (Answer, Option<String>, Option<Duration>) {
    let failed = Answer::Failed;
    match finished {
        Finished::TimedOut(after) => (
            Answer::TimedOut,
            Some(format!("killed after {:.1} s", after.as_secs_f64())),
            Some(after),
        ),
        Finished::Ended(Ended {
            output,
            status,
            said,
            elapsed,
        }) => match (output, status) {
            // A count reports rules only, as the kernel source does: hints
            // are what the mangle probes are for.
            (Ok(scan), Ok(s)) if s.success() => (
                Answer::Found {
                    rules: Count::exact(scan.rules),
                    hint: scan.hint.filter(|_| p.table == Table::Mangle),
                },
                None,
                Some(elapsed),
            ),
            (Ok(_), Ok(s)) => {
                let detail = match &said {
                    Some(line) => format!("exited with {s}: {line}"),
                    None => format!("exited with {s}"),
                };
                let answer = match said {
                    Some(line)
                        if p.mode == Mode::Nft && NFT_UNUSABLE.iter().any(|m| line.contains(m)) =>
                    {
                        Answer::NftUnusable(line)
                    }
                    _ => Answer::Failed,
                };
                (answer, Some(detail), Some(elapsed))
            }
            (Err(e), _) => (
                failed,
                Some(format!("reading its output: {e}")),
                Some(elapsed),
            ),
            (_, Err(e)) => (failed, Some(format!("waiting for it: {e}")), Some(elapsed)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::HINT_CHAINS;
    use crate::names::Family;
    use std::fs;

    #[test]
    fn probes_print_as_commands() {
        use Family::{V4, V6};
        use Mode::{Legacy, Nft};
        assert_eq!(
            command(&Probe::hint(Legacy, V6)),
            "ip6tables-legacy-save -t mangle"
        );
        assert_eq!(command(&Probe::count(Nft, V4)), "iptables-nft-save");
        assert_eq!(command(&Probe::hint(Nft, V6)), "ip6tables-nft -t mangle -S");
        assert_eq!(argv0(&Probe::count(Nft, V6)), "ip6tables-save");
        assert_eq!(argv0(&Probe::hint(Nft, V4)), "iptables");
        assert_eq!(args(&Probe::hint(Nft, V4)), ["-t", "mangle", "-S"]);
        assert_eq!(args(&Probe::hint(Legacy, V4)), ["-t", "mangle"]);
    }

    /// A directory with a stand-in xtables-nft-multi made of a shell script.
    fn dir_with(script_nft: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ipw-probe-{}-{}",
            std::process::id(),
            script_nft.len()
        ));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("xtables-nft-multi");
        crate::test_exe::write_executable(&p, format!("#!/bin/sh\n{script_nft}\n").as_bytes());
        dir
    }

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn a_probe_sees_its_args_and_its_output_is_streamed() {
        let dir = dir_with(
            r#"[ "$1 $2 $3" = "-t mangle -S" ] || exit 3
echo '-P INPUT ACCEPT'; echo '-N KUBE-KUBELET-CANARY'; i=0; while [ $i -lt 1000 ]; do echo "-A X -j ACCEPT"; i=$((i+1)); done"#,
        );
        let out = run(
            &dir,
            T,
            HINT_CHAINS,
            &[
                Probe::hint(Mode::Nft, Family::V6),
                Probe::count(Mode::Nft, Family::V4),
            ],
        );
        assert_eq!(
            out[0].answer,
            Answer::Found {
                rules: Count::exact(1000),
                hint: Some("KUBE-KUBELET-CANARY")
            }
        );
        assert_eq!(out[0].source, Source::Process);
        assert_eq!(out[0].command, "ip6tables-nft -t mangle -S");
        assert_eq!(out[1].answer, Answer::Failed);
        assert_eq!(out[1].detail.as_deref(), Some("exited with exit status: 3"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failing_probe_says_why_and_a_kernel_without_nf_tables_is_recognised() {
        let dir = dir_with(
            "echo >&2; echo 'iptables-save/1.8.11 (nf_tables) Failed to initialize nft: Protocol not supported' >&2; echo more >&2; exit 1",
        );
        let out = run(&dir, T, HINT_CHAINS, &[Probe::count(Mode::Nft, Family::V4)]);
        assert_eq!(
            out[0].answer,
            Answer::NftUnusable(
                "iptables-save/1.8.11 (nf_tables) Failed to initialize nft: Protocol not supported"
                    .into()
            )
        );
        assert_eq!(
            out[0].detail.as_deref(),
            Some("exited with exit status: 1: iptables-save/1.8.11 (nf_tables) Failed to initialize nft: Protocol not supported")
        );
        fs::remove_dir_all(dir).unwrap();
        let dir = dir_with(
            "echo 'iptables v1.8.9 (nf_tables): Permission denied (you must be root)' >&2; exit 4",
        );
        let out = run(&dir, T, HINT_CHAINS, &[Probe::count(Mode::Nft, Family::V4)]);
        assert_eq!(
            out[0].answer,
            Answer::Failed,
            "only the kernel's answer means unusable"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_hanging_probe_is_killed_at_the_deadline() {
        let dir = dir_with("echo '-A X'; exec sleep 30");
        let t = Instant::now();
        let out = run(
            &dir,
            Duration::from_millis(300),
            HINT_CHAINS,
            &[
                Probe::count(Mode::Nft, Family::V4),
                Probe::count(Mode::Nft, Family::V6),
            ],
        );
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(out[0].answer, Answer::TimedOut, "{out:?}");
        assert_eq!(out[1].answer, Answer::TimedOut, "{out:?}");
        // A fallback whose probe's deadline a kernel source used up is not
        // started, and the probe timed out; one with time left gets only that.
        let now = Instant::now();
        let left = run_until(
            &dir,
            Duration::from_secs(5),
            HINT_CHAINS,
            &[
                (Probe::count(Mode::Nft, Family::V4), now),
                (
                    Probe::count(Mode::Nft, Family::V6),
                    now + Duration::from_millis(300),
                ),
            ],
        );
        assert_eq!(left[0].answer, Answer::TimedOut, "{left:?}");
        assert_eq!(left[0].elapsed, None, "never started: {left:?}");
        assert_eq!(left[1].answer, Answer::TimedOut, "{left:?}");
        assert!(
            now.elapsed() < Duration::from_secs(4),
            "the fallback had its own deadline, not a fresh 5 s: {:?}",
            now.elapsed()
        );
        let missing = run(
            &dir.join("nowhere"),
            T,
            HINT_CHAINS,
            &[Probe::count(Mode::Legacy, Family::V4)],
        );
        assert!(missing[0]
            .detail
            .as_deref()
            .is_some_and(|m| m.contains("cannot run")));
        fs::remove_dir_all(dir).unwrap();
    }
}
