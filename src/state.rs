//! Decisions kept for names that cannot be switched (a read-only root file
//! system, as pods with `readOnlyRootFilesystem: true` have). The first
//! call that decides keeps its record in a writable state directory; later
//! calls find it there and run its mode without probing or warning, for the
//! container's life, even if a hint appears later.
//!
//! The state directory is the first of `IPTABLES_WRAPPER_STATE_DIR`,
//! `/run/iptables-wrapper` and `/tmp/iptables-wrapper` that can be written
//! (created if missing). Readers look in the same places in the same order.
//! Each record is named after the iptables directory it decides for, as the
//! kernel resolves it, so `/sbin/iptables` and `/usr/sbin/iptables` on a
//! merged-/usr image share one decision while two iptables installations
//! in one container keep one each. Writes are atomic (`record.rs`), and the
//! one that decides holds the directory's switch lock, so concurrent first
//! calls agree: the others wait, look again and find the record.

use std::cell::OnceCell;
use std::fs;
use std::path::{Path, PathBuf};

use crate::record::Record;
use crate::settings::Settings;

/// The places tried after `IPTABLES_WRAPPER_STATE_DIR`: /run is a tmpfs
/// that lives as long as the container; /tmp is the last resort.
pub const DEFAULT_DIRS: [&str; 2] = ["/run/iptables-wrapper", "/tmp/iptables-wrapper"];

/// The state directories, in the order they are tried.
pub fn dirs(settings: &Settings) -> Vec<PathBuf> {
    settings
        .state_dir
        .into_iter()
        .chain(DEFAULT_DIRS.iter().map(Path::new))
        .map(Path::to_path_buf)
        .collect()
}

/// The file name of the decision for the iptables directory `dir`:
/// `decision-%2Fusr%2Fsbin.json`. Every byte outside `[A-Za-z0-9._-]` is
/// written `%XX`, so two directories never share a name.
pub fn file_name(dir: &Path) -> String {
    let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut name = String::from("decision-");
    for &b in real.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    name.push_str(".json");
    name
}

/// Where the decision for one iptables directory is kept: the state
/// directories in the order they are tried, and the record's name in them.
/// Made once per call, so that the name (which resolves the directory's
/// path, a readlink per component) is worked out at most once however often
/// the call looks, and only once a state directory exists: on a writable
/// root none does, and a first call looks twice.
pub struct Place {
    dirs: Vec<PathBuf>,
    dir: PathBuf,
    name: OnceCell<String>,
}

impl Place {
    pub fn of(dir: &Path, settings: &Settings) -> Place {
        Place {
            dirs: dirs(settings),
            dir: dir.to_path_buf(),
            name: OnceCell::new(),
        }
    }

    fn name(&self) -> &str {
        self.name.get_or_init(|| file_name(&self.dir))
    }

    /// The decision kept here, and where: the first state directory that
    /// holds a readable record. A damaged record counts as none, so the
    /// next call decides again and replaces it.
    pub fn find(&self) -> Option<(PathBuf, Record)> {
        self.dirs.iter().filter(|d| d.is_dir()).find_map(|d| {
            let path = d.join(self.name());
            Record::read(&path).ok().flatten().map(|r| (path, r))
        })
    }

    /// Keeps `record` in the first state directory that can be written;
    /// returns its path, or why no place could take it.
    pub fn keep(&self, record: &Record) -> Result<PathBuf, String> {
        let mut tried = Vec::new();
        for d in &self.dirs {
            let path = d.join(self.name());
            match fs::create_dir_all(d).and_then(|()| record.write(&path)) {
                Ok(()) => return Ok(path),
                Err(e) => tried.push(format!("{}: {e}", d.display())),
            }
        }
        Err(format!(
            "no state directory could be written ({})",
            tried.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Trigger;

    #[test]
    fn names_are_unique_and_readable() {
        assert_eq!(
            file_name(Path::new("/nonexistent/usr/sbin")),
            "decision-%2Fnonexistent%2Fusr%2Fsbin.json"
        );
        assert_ne!(
            file_name(Path::new("/nonexistent/a_b")),
            file_name(Path::new("/nonexistent/a/b"))
        );
        assert_eq!(
            file_name(Path::new("/nonexistent/a%2Fb")),
            "decision-%2Fnonexistent%2Fa%252Fb.json"
        );
    }

    #[test]
    fn spellings_of_one_directory_share_a_name() {
        let base =
            std::env::temp_dir().join(format!("iptables-wrapper-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("usr/sbin")).unwrap();
        std::os::unix::fs::symlink("usr/sbin", base.join("sbin")).unwrap();
        assert_eq!(
            file_name(&base.join("sbin")),
            file_name(&base.join("usr/sbin"))
        );
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn the_variable_comes_first() {
        let s = Settings {
            state_dir: Some(Path::new("/srv/w")),
            ..Settings::default()
        };
        assert_eq!(
            dirs(&s),
            ["/srv/w", "/run/iptables-wrapper", "/tmp/iptables-wrapper"].map(PathBuf::from)
        );
        assert_eq!(dirs(&Settings::default()).len(), 2);
    }

    #[test]
    fn kept_in_the_first_writable_place_and_found_there() {
        let base =
            std::env::temp_dir().join(format!("iptables-wrapper-keep-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        // A file where the first directory should be: it cannot be created,
        // so the next place is used.
        fs::write(base.join("blocked"), "").unwrap();
        let places = vec![base.join("blocked/state"), base.join("state")];
        let iptables = base.join("sbin");
        fs::create_dir_all(&iptables).unwrap();
        let place = |dirs: &[PathBuf], dir: &Path| Place {
            dirs: dirs.to_vec(),
            dir: dir.to_path_buf(),
            name: OnceCell::new(),
        };
        let record = Record::new(
            Trigger::FirstCall("iptables".into()),
            &iptables,
            &crate::record::sample_decision(),
        );
        let path = place(&places, &iptables).keep(&record).unwrap();
        assert_eq!(path, base.join("state").join(file_name(&iptables)));
        assert_eq!(
            place(&places, &iptables).find(),
            Some((path.clone(), record.clone()))
        );
        assert_eq!(
            place(&places, &base).find(),
            None,
            "another directory has no decision"
        );

        let e = place(&places[..1], &iptables).keep(&record).unwrap_err();
        assert!(
            e.starts_with("no state directory could be written (") && e.contains("blocked/state"),
            "{e}"
        );

        // A damaged record reads as none.
        fs::write(&path, "{").unwrap();
        assert_eq!(place(&places, &iptables).find(), None);
        fs::remove_dir_all(&base).unwrap();
    }
}
