//! The real [`Evidence`]: what is installed, which legacy tables the kernel
//! lists, and the probes, answered by one of the sources below.
//!
//! - `process.rs`: runs the iptables commands (version 1's probes); the
//!   fallback, and the oracle for the kernel sources.
//!
//! `IPTABLES_WRAPPER_PROBES` picks the sources (see `settings.rs`).

pub mod process;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::detect::{Evidence, Observation, Probe, Source, Tables};
use crate::names::{Family, Mode};
use crate::settings::Sources;

/// The iptables installation in one directory, on this kernel.
pub struct Host {
    pub dir: PathBuf,
    pub timeout: Duration,
    pub sources: Sources,
    started: Instant,
}

impl Host {
    pub fn new(dir: PathBuf, timeout: Duration, sources: Sources) -> Host {
        Host {
            dir,
            timeout,
            sources,
            started: Instant::now(),
        }
    }

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

    fn command(&self, probe: &Probe) -> (String, Source) {
        (process::command(probe), Source::Process)
    }

    fn run(&self, probes: &[Probe]) -> Vec<Observation> {
        process::run(&self.dir, self.timeout, probes)
    }

    fn clock(&self) -> Duration {
        self.started.elapsed()
    }

    fn pause(&self, d: Duration) {
        std::thread::sleep(d);
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
