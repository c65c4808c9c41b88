//! `iptables-wrapper verify`: is the image's (or the node's) set of six
//! names in a state that works? For image builds (after `install`) and for
//! startup probes (after the first call).
//!
//! Each name must exist and lead to the wrapper or to a multi binary, and
//! the three names of a family must agree. Either both families still lead
//! to the wrapper (not yet switched) or both have been switched (to the same
//! mode or, where the layout allows, each to its own). Anything else is a
//! problem, reported with what to do about it.
//!
//! It also shows what was decided, from the decision record (`record.rs`):
//! the one beside switched names, believed only while it matches where they
//! lead (names re-pointed by hand make it stale), or for names that could
//! not be switched, the decision kept in a state directory (`state.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::json::Value;
use crate::locate::FileId;
use crate::names::{Family, Mode, COMMANDS};
use crate::record::{self, Record};
use crate::settings::Settings;
use crate::settle::describe as modes_text;
use crate::state;
use crate::switch::{self, Leads};

/// One name and where it leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub name: &'static str,
    pub path: PathBuf,
    pub leads: Leads,
}

/// Something wrong, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub text: String,
    pub fix: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    NotSwitched,
    /// Each family's mode, indexed by [`Family::index`].
    Switched([Mode; 2]),
    Inconsistent,
}

/// What was decided, as remembered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remembered {
    /// The record beside the names, which matches where they lead.
    Current(PathBuf, Record),
    /// A record beside the names that does not match them.
    Stale(PathBuf, Record),
    /// A record beside the names that cannot be read.
    Unreadable(PathBuf, String),
    /// The names are not switched; a decision kept in a state directory.
    Kept(PathBuf, Record),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub names: Vec<Name>,
    /// What each family's names agree on, if they do.
    pub families: [Option<Leads>; 2],
    pub problems: Vec<Problem>,
    pub state: State,
    pub remembered: Option<Remembered>,
}

/// Where `path` leads, counting any file named `iptables-wrapper` as the
/// wrapper: `verify --dir` may look at another copy than the one running.
fn lead(path: &Path, me: Option<FileId>) -> Leads {
    match switch::leads(path, me) {
        Leads::Other
            if fs::canonicalize(path)
                .is_ok_and(|p| p.file_name().is_some_and(|n| n == "iptables-wrapper")) =>
        {
            Leads::Wrapper
        }
        l => l,
    }
}

fn describe(l: Leads) -> &'static str {
    match l {
        Leads::Wrapper => "wrapper",
        Leads::Mode(m) => m.as_str(),
        Leads::Missing => "missing",
        Leads::Dangling => "dangling",
        Leads::Other => "other",
    }
}

const REINSTALL: &str = "run `iptables-wrapper install` in the image (or reinstall the iptables package, then install again)";

/// Looks at the six names in `dir`, and at what was decided for them.
pub fn check(dir: &Path, me: Option<FileId>, settings: &Settings) -> Report {
    let mut report = check_names(dir, me);
    report.remembered = remembered(dir, report.state, settings);
    report
}

/// The record for names in `state`: the one beside them, or for names not
/// switched, a decision kept in a state directory.
fn remembered(dir: &Path, names: State, settings: &Settings) -> Option<Remembered> {
    if names == State::NotSwitched {
        if let Some((path, r)) = state::Place::of(dir, settings).find() {
            return Some(Remembered::Kept(path, r));
        }
    }
    let path = record::beside(dir);
    match Record::read(&path) {
        Ok(None) => None,
        Err(e) => Some(Remembered::Unreadable(path, e)),
        Ok(Some(r)) if names == State::Switched(r.modes()) => Some(Remembered::Current(path, r)),
        Ok(Some(r)) => Some(Remembered::Stale(path, r)),
    }
}

fn check_names(dir: &Path, me: Option<FileId>) -> Report {
    let names: Vec<Name> = COMMANDS
        .iter()
        .map(|&name| {
            let path = dir.join(name);
            let leads = lead(&path, me);
            Name { name, path, leads }
        })
        .collect();
    let mut problems = Vec::new();
    for n in &names {
        let text = match n.leads {
            Leads::Missing => "does not exist".to_string(),
            Leads::Dangling => format!(
                "is a dangling link (to {})",
                fs::read_link(&n.path).map_or("?".into(), |t| t.display().to_string())
            ),
            Leads::Other => format!(
                "leads to {}, which is neither iptables-wrapper nor an xtables-*-multi binary",
                fs::canonicalize(&n.path).map_or("?".into(), |t| t.display().to_string())
            ),
            _ => continue,
        };
        problems.push(Problem {
            path: n.path.clone(),
            text,
            fix: REINSTALL.into(),
        });
    }
    let mut families = [None; 2];
    for f in Family::ALL {
        let mine: Vec<&Name> = names
            .iter()
            .filter(|n| Family::of_command(n.name) == f)
            .collect();
        let good = |l: Leads| matches!(l, Leads::Wrapper | Leads::Mode(_));
        if !mine.iter().all(|n| good(n.leads)) {
            continue;
        }
        let head = mine[0];
        let mut agree = true;
        for n in &mine[1..] {
            if n.leads != head.leads {
                agree = false;
                problems.push(Problem {
                    path: n.path.clone(),
                    text: format!(
                        "leads to {} while {} leads to {}",
                        describe(n.leads),
                        head.name,
                        describe(head.leads)
                    ),
                    fix: format!(
                        "point it where {} leads, or rerun `iptables-wrapper install` and let the next call switch the names again",
                        head.name
                    ),
                });
            }
        }
        if agree {
            families[f.index()] = Some(head.leads);
        }
    }
    let state = match families {
        _ if !problems.is_empty() => State::Inconsistent,
        [Some(Leads::Wrapper), Some(Leads::Wrapper)] => State::NotSwitched,
        [Some(Leads::Mode(a)), Some(Leads::Mode(b))] => State::Switched([a, b]),
        [Some(a), Some(b)] => {
            let (switched, waiting) = if a == Leads::Wrapper {
                (Family::V6, Family::V4)
            } else {
                (Family::V4, Family::V6)
            };
            let mode = describe(if a == Leads::Wrapper { b } else { a });
            problems.push(Problem {
                path: dir.join(waiting.prefix()),
                text: format!(
                    "the {waiting} names still lead to iptables-wrapper while the {switched} names were switched to {mode}"
                ),
                fix: format!(
                    "run one {} command so the wrapper switches them too, or rerun `iptables-wrapper install`",
                    waiting.prefix()
                ),
            });
            State::Inconsistent
        }
        _ => State::Inconsistent,
    };
    Report {
        names,
        families,
        problems,
        state,
        remembered: None,
    }
}

impl Report {
    pub fn consistent(&self) -> bool {
        self.state != State::Inconsistent
    }

    pub fn text(&self) -> String {
        let why = match &self.remembered {
            Some(Remembered::Current(_, r)) => format!(" ({})", r.explained()),
            Some(Remembered::Stale(path, r)) => format!(
                " (the record in {} says {}, {}; it is stale: the names were re-pointed since)",
                path.display(),
                modes_text(r.modes()),
                r.explained()
            ),
            Some(Remembered::Unreadable(_, e)) => format!(" (no record of why: {e})"),
            Some(Remembered::Kept(..)) | None => String::new(),
        };
        match self.state {
            State::NotSwitched => match &self.remembered {
                Some(Remembered::Kept(path, r)) => format!(
                    "not switched (read-only); decided {} at {}, kept in {} ({}: {})",
                    modes_text(r.modes()),
                    r.time,
                    path.parent().unwrap_or(path).display(),
                    r.by(),
                    r.decision.why()
                ),
                _ => "not yet switched: the six names lead to iptables-wrapper".into(),
            },
            State::Switched(modes) => format!("switched: {}{why}", modes_text(modes)),
            State::Inconsistent => {
                let mut s = String::from("inconsistent:");
                for p in &self.problems {
                    s.push_str(&format!("\n  {}: {}; {}", p.path.display(), p.text, p.fix));
                }
                s
            }
        }
    }

    pub fn json(&self) -> String {
        let (state, mode) = match self.state {
            State::NotSwitched => ("not-switched", Value::Null),
            State::Switched([a, b]) if a == b => ("switched", Value::str(a.as_str())),
            State::Switched(_) => ("switched", Value::str("split")),
            State::Inconsistent => ("inconsistent", Value::Null),
        };
        let fam =
            |f: Family| self.families[f.index()].map_or(Value::Null, |l| Value::str(describe(l)));
        let names = self.names.iter().map(|n| {
            Value::object([
                ("name", Value::str(n.name)),
                ("path", Value::str(n.path.to_string_lossy())),
                ("leads_to", Value::str(describe(n.leads))),
            ])
        });
        let problems = self.problems.iter().map(|p| {
            Value::object([
                ("path", Value::str(p.path.to_string_lossy())),
                ("text", Value::str(&p.text)),
                ("fix", Value::str(&p.fix)),
            ])
        });
        Value::object([
            ("consistent", Value::Bool(self.consistent())),
            ("state", Value::str(state)),
            ("mode", mode),
            (
                "families",
                Value::object([("ipv4", fam(Family::V4)), ("ipv6", fam(Family::V6))]),
            ),
            ("names", Value::Array(names.collect())),
            ("problems", Value::Array(problems.collect())),
            (
                "record",
                self.remembered
                    .as_ref()
                    .map_or(Value::Null, remembered_json),
            ),
        ])
        .to_string()
    }
}

/// `{"status": "current" | "stale" | "kept" | "unreadable", "path",
/// "error", "record"}`.
fn remembered_json(r: &Remembered) -> Value {
    let (status, path, error, record) = match r {
        Remembered::Current(p, r) => ("current", p, None, Some(r)),
        Remembered::Stale(p, r) => ("stale", p, None, Some(r)),
        Remembered::Kept(p, r) => ("kept", p, None, Some(r)),
        Remembered::Unreadable(p, e) => ("unreadable", p, Some(e.as_str()), None),
    };
    Value::object([
        ("status", Value::str(status)),
        ("path", Value::str(path.to_string_lossy())),
        ("error", Value::opt_str(error)),
        ("record", record.map_or(Value::Null, Record::json)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(tag: &str) -> PathBuf {
        crate::test_exe::iptables_dir(&format!("verify-{tag}"))
    }

    fn link_all(d: &Path, target: impl Fn(&str) -> &'static str) {
        for c in COMMANDS {
            let _ = fs::remove_file(d.join(c));
            symlink(target(c), d.join(c)).unwrap();
        }
    }

    #[test]
    fn every_state() {
        let d = scratch("states");
        let me = FileId::of(&d.join("iptables-wrapper"));
        link_all(&d, |_| "iptables-wrapper");
        let r = check_names(&d, me);
        assert_eq!(r.state, State::NotSwitched);
        assert!(r.text().starts_with("not yet switched"));

        link_all(&d, |_| "xtables-legacy-multi");
        let r = check_names(&d, me);
        assert_eq!(r.state, State::Switched([Mode::Legacy; 2]));
        assert_eq!(r.text(), "switched: legacy");
        assert!(r.json().starts_with(r#"{"consistent":true,"state":"switched","mode":"legacy","families":{"ipv4":"legacy","ipv6":"legacy"}"#));

        link_all(&d, |c| {
            if c.starts_with("ip6") {
                "xtables-nft-multi"
            } else {
                "xtables-legacy-multi"
            }
        });
        let r = check_names(&d, me);
        assert_eq!(r.text(), "switched: IPv4 legacy, IPv6 nft");
        assert!(r.json().contains(r#""mode":"split""#));

        // Half switched: IPv4 switched, IPv6 still the wrapper.
        link_all(&d, |c| {
            if c.starts_with("ip6") {
                "iptables-wrapper"
            } else {
                "xtables-nft-multi"
            }
        });
        let r = check_names(&d, me);
        assert_eq!(r.state, State::Inconsistent);
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn broken_names_are_problems_with_fixes() {
        let d = scratch("broken");
        let me = FileId::of(&d.join("iptables-wrapper"));
        link_all(&d, |_| "xtables-nft-multi");
        fs::remove_file(d.join("ip6tables-save")).unwrap();
        symlink("gone", d.join("iptables")).unwrap_or(());
        fs::remove_file(d.join("iptables")).unwrap();
        symlink("gone", d.join("iptables")).unwrap();
        fs::remove_file(d.join("iptables-restore")).unwrap();
        symlink("xtables-legacy-multi", d.join("iptables-restore")).unwrap();
        let r = check_names(&d, me);
        assert_eq!(r.state, State::Inconsistent);
        let texts: Vec<(String, &str)> = r
            .problems
            .iter()
            .map(|p| {
                (
                    p.path.file_name().unwrap().to_string_lossy().into_owned(),
                    p.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            texts[0],
            ("iptables".into(), "is a dangling link (to gone)")
        );
        assert_eq!(texts[1], ("ip6tables-save".into(), "does not exist"));
        assert_eq!(
            texts.len(),
            2,
            "IPv4 is broken anyway, so no disagreement: {texts:?}"
        );

        // Only a disagreement.
        link_all(&d, |_| "xtables-nft-multi");
        fs::remove_file(d.join("iptables-save")).unwrap();
        symlink("xtables-legacy-multi", d.join("iptables-save")).unwrap();
        let r = check_names(&d, me);
        assert_eq!(r.problems.len(), 1);
        assert_eq!(
            r.problems[0].text,
            "leads to legacy while iptables leads to nft"
        );
        assert!(r.text().starts_with("inconsistent:\n  "));
        assert!(r.json().starts_with(r#"{"consistent":false,"state":"inconsistent","mode":null,"families":{"ipv4":null,"ipv6":"nft"}"#));
        fs::remove_dir_all(&d).unwrap();
    }
}
