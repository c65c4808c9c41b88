//! The one path from "the names still lead to the wrapper" to a mode, for a
//! first call and `switch` alike: look, use a kept decision, lock, look
//! again, detect, warn, switch, check the result, and record the decision
//! (beside the names, or in a state directory when they cannot be changed).
//! The caller then execs or reports; nothing here knows which. A decision
//! made without looking (`probes-refused`, see [`Decision::may_commit`]) is
//! neither switched to nor kept.
//!
//! Looking twice is what makes concurrent calls safe: a call that waited
//! for the lock finds the names switched (or the decision kept) by the
//! holder before it, and follows that instead of deciding again.

use std::path::{Path, PathBuf};

use crate::decide;
use crate::detect::Decision;
use crate::locate::{resolved_mode, FileId};
use crate::names::{Family, Mode};
use crate::record::{self, Record, Trigger};
use crate::report;
use crate::settings::Settings;
use crate::state;
use crate::switch;
use crate::Failure;

/// Who is asking, about which names.
pub struct Call<'a> {
    /// The iptables directory.
    pub dir: &'a Path,
    pub settings: &'a Settings,
    /// The wrapper's identity: the names that lead to it are switched.
    pub wrapper: Option<FileId>,
    pub trigger: Trigger,
    /// The names whose targets say whether the work is done: a first
    /// call's own name (one readlink on the common path), all six for
    /// `switch`.
    pub names: &'a [&'static str],
}

/// How the call ended.
#[derive(Debug)]
pub enum Outcome {
    /// The names already led to a mode: switched before, by another call
    /// or by hand. Each family's mode, where one of its names was looked at.
    Already([Option<Mode>; 2]),
    /// The names cannot be switched, and a call before this one decided and
    /// kept its decision in a state directory.
    Kept { path: PathBuf, record: Record },
    /// Decided now; the names were switched.
    Switched(Decision),
    /// Decided now; the names could not be switched, or must not be (the
    /// probes were refused). `kept` is where the decision was kept for
    /// later calls, if anywhere.
    NotSwitched {
        decision: Decision,
        kept: Option<PathBuf>,
    },
}

impl Outcome {
    /// The mode `family` runs with.
    pub fn mode(&self, family: Family) -> Option<Mode> {
        match self {
            Outcome::Already(modes) => modes[family.index()],
            Outcome::Kept { record, .. } => Some(record.modes()[family.index()]),
            Outcome::Switched(d) | Outcome::NotSwitched { decision: d, .. } => Some(d.mode(family)),
        }
    }

    /// Whether the names lead to a mode now.
    pub fn switched(&self) -> bool {
        matches!(self, Outcome::Already(_) | Outcome::Switched(_))
    }
}

pub fn settle(call: &Call) -> Result<Outcome, Failure> {
    let (dir, settings) = (call.dir, call.settings);
    let place = state::Place::of(dir, settings);
    if let Some(done) = done_before(call, &place, false) {
        return Ok(done);
    }
    let lock = match switch::lock(dir) {
        Ok(l) => Some(l),
        Err(e) => {
            warn(format_args!("{e:#}; detecting without the switch lock"));
            None
        }
    };
    // Looked at again under the lock: the holder before us may have
    // switched, or kept its decision.
    if let Some(done) = done_before(call, &place, true) {
        return Ok(done);
    }

    let decision = decide::decide(dir, settings, false)?;
    if settings.debug {
        eprintln!("iptables-wrapper: {}", report::line(&decision));
    }
    for w in &decision.warnings {
        warn(format_args!("{w}"));
    }
    if !decision.may_commit() {
        // The probes could not look (see the probes-refused warning): run
        // the default and leave the names, and remember nothing, so that a
        // call with the privileges decides.
        return Ok(Outcome::NotSwitched {
            decision,
            kept: None,
        });
    }
    let modes = Family::ALL.map(|f| decision.mode(f));
    let record = Record::new(call.trigger.clone(), dir, &decision);
    let failed = match switch::to_modes(dir, modes, call.wrapper) {
        Ok(changes) if leads_to(call, modes) => {
            if settings.debug {
                for c in changes {
                    eprintln!("iptables-wrapper: switched {c}");
                }
            }
            let path = record::beside(dir);
            if let Err(e) = record.write(&path) {
                warn(format_args!(
                    "cannot write the decision record {}: {e}; the names are switched, but `iptables-wrapper verify` cannot say why",
                    path.display()
                ));
            }
            return Ok(Outcome::Switched(decision));
        }
        Ok(_) => format!(
            "the iptables names in {} still do not lead to {} after switching (the alternatives tool changed nothing)",
            dir.display(),
            describe(modes)
        ),
        Err(e) => format!(
            "cannot switch the iptables names in {} to {}: {e:#}",
            dir.display(),
            describe(modes)
        ),
    };
    let kept = keep(call, &place, &record, &failed);
    drop(lock);
    Ok(Outcome::NotSwitched { decision, kept })
}

/// What a call before this one left, if anything: the names switched, or a
/// decision kept. `under_lock`: looking again after waiting for the lock.
fn done_before(call: &Call, place: &state::Place, under_lock: bool) -> Option<Outcome> {
    let debug = call.settings.debug;
    if let Some(modes) = look(call) {
        if debug && under_lock {
            let mode = Family::ALL.iter().find_map(|f| modes[f.index()]);
            eprintln!(
                "iptables-wrapper: {} already switched to {} by another call",
                call.dir.join(call.names[0]).display(),
                mode.map_or("a mode", Mode::as_str)
            );
        }
        return Some(Outcome::Already(modes));
    }
    let (path, record) = place.find()?;
    if debug {
        eprintln!(
            "iptables-wrapper: {}; kept in {} by {} at {}",
            record.decision.line(),
            path.display(),
            record.by(),
            record.time
        );
    }
    Some(Outcome::Kept { path, record })
}

/// Keeps the decision of names that could not be switched (`failed` says
/// why) in a state directory, and warns once: where it was kept, or that
/// nothing can remember it. Returns where it was kept.
fn keep(call: &Call, place: &state::Place, record: &Record, failed: &str) -> Option<PathBuf> {
    let kept = place.keep(record);
    let running = match &call.trigger {
        Trigger::FirstCall(command) => format!(
            "running {} directly; ",
            call.dir
                .join(record.modes()[Family::of_command(command).index()].multi())
                .display()
        ),
        Trigger::Switch => String::new(),
    };
    match &kept {
        Ok(path) => warn(format_args!(
            "{failed}; {running}the decision is kept in {}, so later calls use it without detecting or warning again",
            path.display()
        )),
        Err(why) => warn(format_args!(
            "{failed}; {running}{why}, so each call detects again until the names can be changed (set IPTABLES_WRAPPER_STATE_DIR to a writable directory)"
        )),
    }
    kept.ok()
}

/// `legacy`, or `IPv4 legacy, IPv6 nft`.
pub fn describe(modes: [Mode; 2]) -> String {
    match modes {
        [a, b] if a == b => a.to_string(),
        [a, b] => format!("IPv4 {a}, IPv6 {b}"),
    }
}

/// Each family's mode if every one of the call's names that exists leads
/// to a mode; `None` while any still leads elsewhere (the wrapper).
fn look(call: &Call) -> Option<[Option<Mode>; 2]> {
    let mut modes = [None; 2];
    for name in call.names {
        let path = call.dir.join(name);
        match resolved_mode(&path) {
            Some(m) => modes[Family::of_command(name).index()] = Some(m),
            // A name the image does not have is not waiting for a switch.
            None if std::fs::symlink_metadata(&path).is_err() => {}
            None => return None,
        }
    }
    modes.iter().any(Option::is_some).then_some(modes)
}

/// Whether the call's names now lead to `modes`.
fn leads_to(call: &Call, modes: [Mode; 2]) -> bool {
    look(call).is_some_and(|found| {
        Family::ALL
            .iter()
            .all(|f| found[f.index()].is_none_or(|m| m == modes[f.index()]))
    })
}

fn warn(msg: std::fmt::Arguments) {
    eprintln!("iptables-wrapper: warning: {msg}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::COMMANDS;
    use crate::settings::Setting;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// An iptables directory whose six names link to the wrapper, and
    /// settings that force legacy (so nothing is probed) with a state
    /// directory of its own.
    fn setup(tag: &str) -> (PathBuf, Settings) {
        let d = crate::test_exe::iptables_dir(&format!("settle-{tag}"));
        for c in COMMANDS {
            symlink("iptables-wrapper", d.join(c)).unwrap();
        }
        let settings = Settings {
            mode: Setting::Force(Mode::Legacy),
            state_dir: Some(Box::leak(d.join("state").into_boxed_path())),
            ..Settings::default()
        };
        (d, settings)
    }

    fn call<'a>(d: &'a Path, s: &'a Settings, wrapper: Option<FileId>) -> Call<'a> {
        Call {
            dir: d,
            settings: s,
            wrapper,
            trigger: Trigger::Switch,
            names: &COMMANDS,
        }
    }

    #[test]
    fn switches_records_then_finds_it_done() {
        let (d, s) = setup("switch");
        let w = FileId::of(&d.join("iptables-wrapper"));
        let first = settle(&call(&d, &s, w)).unwrap_or_else(|f| panic!("{:#}", f.error));
        assert!(matches!(first, Outcome::Switched(_)), "{first:?}");
        for c in COMMANDS {
            assert_eq!(resolved_mode(&d.join(c)), Some(Mode::Legacy), "{c}");
        }
        let r = Record::read(&record::beside(&d)).unwrap().unwrap();
        assert_eq!(
            (&r.trigger, r.modes()),
            (&Trigger::Switch, [Mode::Legacy; 2])
        );
        assert_eq!(r.decision.families[0].reason.kind, "override");
        // Again: nothing to do, the names' modes reported.
        let again = settle(&call(&d, &s, w)).unwrap_or_else(|f| panic!("{:#}", f.error));
        assert!(
            matches!(
                again,
                Outcome::Already([Some(Mode::Legacy), Some(Mode::Legacy)])
            ),
            "{again:?}"
        );
        assert!(
            !d.join("state").exists(),
            "nothing kept when the names switch"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn names_that_do_not_switch_keep_the_decision() {
        let (d, mut s) = setup("keep");
        // Without the wrapper's identity no name is repointed, as when the
        // alternatives tool silently does nothing.
        let first = settle(&call(&d, &s, None)).unwrap_or_else(|f| panic!("{:#}", f.error));
        let kept = match &first {
            Outcome::NotSwitched {
                kept: Some(path), ..
            } => path.clone(),
            other => panic!("{other:?}"),
        };
        assert!(kept.starts_with(d.join("state")), "{}", kept.display());
        assert!(!first.switched());
        // A later call uses it, even under another forced mode (the kept
        // decision stands for switched names), and probes nothing.
        s.mode = Setting::Force(Mode::Nft);
        let later = settle(&call(&d, &s, None)).unwrap_or_else(|f| panic!("{:#}", f.error));
        match &later {
            Outcome::Kept { path, record } => {
                assert_eq!(*path, kept);
                assert_eq!(record.modes(), [Mode::Legacy; 2]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(later.mode(Family::V6), Some(Mode::Legacy));
        assert_eq!(resolved_mode(&d.join("iptables")), None, "names untouched");
        assert!(
            !record::beside(&d).exists(),
            "no record beside unswitched names"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn describes_modes() {
        assert_eq!(describe([Mode::Nft; 2]), "nft");
        assert_eq!(describe([Mode::Legacy, Mode::Nft]), "IPv4 legacy, IPv6 nft");
    }
}
