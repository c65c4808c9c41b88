//! The decision record: what a switch decided, when, by which call, and
//! why, so that "why legacy on this node?" has an answer after the fact.
//!
//! Whoever decides writes one: beside the six names after switching them
//! ([`FILE`] in the iptables directory), or in a state directory when the
//! names cannot be switched (`state.rs`). Same format in both places:
//!
//! ```text
//! {"format":1,"time":"2026-11-29T23:00:00Z","trigger":"first-call",
//!  "command":"iptables-restore","version":"0.1.0","dir":"/usr/sbin",
//!  "decision":{...detect --json without probes...}}
//! ```
//!
//! Written atomically: a temporary file in the same directory, then
//! `rename(2)` over the old record, so a reader sees the old record or the
//! new one, never half of one. That is one file creation and one rename.
//! Not fsync'd: the record explains, it does not decide, and after a crash
//! a torn record reads as unreadable, not as a wrong answer.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::detect::Decision;
use crate::json::{self, Value};
use crate::names::Mode;
use crate::report::Summary;
use crate::utc;

/// The record's name beside the names. A leading dot keeps it out of `ls`,
/// out of command completion and out of any name a package installs; the
/// six names have no dot, so it can never be one of them, and the
/// `iptables-wrapper` prefix says whose it is.
pub const FILE: &str = ".iptables-wrapper-decision.json";

const FORMAT: &str = "1";

/// What made the decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The first call under one of the six names.
    FirstCall(String),
    /// `iptables-wrapper switch`.
    Switch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// RFC 3339, UTC.
    pub time: String,
    pub trigger: Trigger,
    /// The wrapper's version.
    pub version: String,
    /// The iptables directory decided for.
    pub dir: PathBuf,
    pub decision: Summary,
}

impl Record {
    /// A record of `decision`, made now.
    pub fn new(trigger: Trigger, dir: &Path, decision: &Decision) -> Record {
        Record {
            time: utc::rfc3339(SystemTime::now()),
            trigger,
            version: env!("CARGO_PKG_VERSION").to_string(),
            dir: dir.to_path_buf(),
            decision: Summary::of(decision),
        }
    }

    pub fn modes(&self) -> [Mode; 2] {
        self.decision.modes()
    }

    /// `the first call of iptables-restore` or `iptables-wrapper switch`.
    pub fn by(&self) -> String {
        match &self.trigger {
            Trigger::FirstCall(c) => format!("the first call of {c}"),
            Trigger::Switch => "iptables-wrapper switch".into(),
        }
    }

    /// `by the first call of iptables-restore at 2026-11-29T23:00:00Z: why`
    pub fn explained(&self) -> String {
        format!("by {} at {}: {}", self.by(), self.time, self.decision.why())
    }

    pub fn json(&self) -> Value {
        let (trigger, command) = match &self.trigger {
            Trigger::FirstCall(c) => ("first-call", Value::str(c)),
            Trigger::Switch => ("switch", Value::Null),
        };
        Value::object([
            ("format", Value::Number(FORMAT.into())),
            ("time", Value::str(&self.time)),
            ("trigger", Value::str(trigger)),
            ("command", command),
            ("version", Value::str(&self.version)),
            ("dir", Value::str(self.dir.to_string_lossy())),
            ("decision", self.decision.json()),
        ])
    }

    pub fn from_json(v: &Value) -> Option<Record> {
        if v.get("format") != Some(&Value::Number(FORMAT.into())) {
            return None;
        }
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        let trigger = match text("trigger")?.as_str() {
            "first-call" => Trigger::FirstCall(text("command")?),
            "switch" => Trigger::Switch,
            _ => return None,
        };
        Some(Record {
            time: text("time")?,
            trigger,
            version: text("version")?,
            dir: PathBuf::from(text("dir")?),
            decision: Summary::from_json(v.get("decision")?)?,
        })
    }

    /// Writes the record to `path` atomically (see the module comment).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = path.with_file_name(format!("{name}.tmp-{}", std::process::id()));
        let write = || -> io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(format!("{}\n", self.json()).as_bytes())?;
            drop(f);
            fs::rename(&tmp, path)
        };
        write().inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }

    /// The record at `path`: `Ok(None)` when there is none, an error saying
    /// why when it cannot be read or is not a record.
    pub fn read(path: &Path) -> Result<Option<Record>, String> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let v = json::parse(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        Record::from_json(&v).map(Some).ok_or_else(|| {
            format!(
                "{} is not a decision record of this wrapper",
                path.display()
            )
        })
    }
}

/// Where the record of the names in `dir` is kept: beside them.
pub fn beside(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// A legacy decision by a hint, with a warning, for tests.
#[cfg(test)]
pub(crate) fn sample_decision() -> Decision {
    use crate::detect::{Choice, Reason, Warning};
    use crate::names::Family;
    {
        let hint = Reason::Hint {
            chain: "KUBE-IPTABLES-HINT",
            mode: Mode::Legacy,
            family: Family::V4,
        };
        Decision {
            families: [
                Choice {
                    mode: Mode::Legacy,
                    reason: hint.clone(),
                },
                Choice {
                    mode: Mode::Legacy,
                    reason: hint,
                },
            ],
            warnings: vec![Warning::LegacyMaybeMissing],
            probes: vec![],
            native_tables: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision() -> Decision {
        sample_decision()
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "iptables-wrapper-record-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_and_explanation() {
        let d = scratch("trip");
        let mut r = Record::new(
            Trigger::FirstCall("iptables-restore".into()),
            Path::new("/usr/sbin"),
            &decision(),
        );
        r.time = "2026-11-29T23:00:00Z".into();
        assert_eq!(
            r.explained(),
            "by the first call of iptables-restore at 2026-11-29T23:00:00Z: KUBE-IPTABLES-HINT in iptables-legacy mangle"
        );
        let path = beside(&d);
        r.write(&path).unwrap();
        assert_eq!(Record::read(&path).unwrap(), Some(r.clone()));
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(r#"{"format":1,"time":"2026-11-29T23:00:00Z","trigger":"first-call","command":"iptables-restore","version":""#), "{text}");
        assert!(text.contains(r#""decision":{"mode":"legacy","families":{"ipv4":{"mode":"legacy","reason":{"kind":"hint","text":"KUBE-IPTABLES-HINT in iptables-legacy mangle"}}"#), "{text}");

        // Rewritten by `switch`: replaced whole, nothing left beside it.
        r.trigger = Trigger::Switch;
        r.write(&path).unwrap();
        let back = Record::read(&path).unwrap().unwrap();
        assert_eq!(back.by(), "iptables-wrapper switch");
        let names: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_damaged_and_foreign_records() {
        let d = scratch("bad");
        let path = beside(&d);
        assert_eq!(Record::read(&path), Ok(None));
        fs::write(&path, "{\"format\":1,").unwrap();
        assert!(Record::read(&path).unwrap_err().contains("is not JSON"));
        fs::write(&path, "{\"format\":2}").unwrap();
        assert!(Record::read(&path)
            .unwrap_err()
            .contains("is not a decision record"));
        fs::write(&path, "{\"format\":1,\"time\":\"x\",\"trigger\":\"cron\"}").unwrap();
        assert!(Record::read(&path).is_err());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_unwritable_place_is_an_error_and_leaves_nothing() {
        let d = scratch("unwritable");
        // A directory where the record should be: the rename fails.
        let path = beside(&d);
        fs::create_dir(&path).unwrap();
        let r = Record::new(Trigger::Switch, &d, &decision());
        assert!(r.write(&path).is_err());
        let names: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE], "the temporary file is removed");
        fs::remove_dir_all(&d).unwrap();
    }
}
