//! `iptables-wrapper switch [--dir DIR] [--json] [-- COMMAND [ARGS...]]`:
//! the first call's work at a moment the operator chooses (container start),
//! through the same path (`settle.rs`), then a report of the decision, or
//! the workload itself: `switch -- kube-proxy ...` becomes COMMAND, found
//! through PATH, with the same stdin, PID and signal dispositions, as a
//! first call becomes iptables. A distroless image (no shell) can then
//! write `ENTRYPOINT ["/usr/sbin/iptables-wrapper", "switch", "--",
//! "/usr/local/bin/kube-proxy"]`.
//!
//! What it prints (on stdout alone; on stderr with a COMMAND, whose stdout
//! is its own): the decision line, or with `--json` the object `detect
//! --json` prints. Names switched before: the decision of their record,
//! unchanged, or where no record matches them, what they lead to. Nothing
//! is changed then. The names not switched (read-only): the decision, a
//! warning, and exit status 3, unless there is a COMMAND to run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::exec::exec_program;
use crate::locate::FileId;
use crate::names::{Family, Mode, COMMANDS};
use crate::record::{self, Record, Trigger};
use crate::report::{self, Note, Stated, Summary};
use crate::settings::Settings;
use crate::settle::{self, Call, Outcome};
use crate::Failure;

pub struct Options {
    pub dir: PathBuf,
    pub json: bool,
    /// COMMAND and its arguments, after `--`.
    pub command: Option<(OsString, Vec<OsString>)>,
}

pub fn run(opts: Options) -> Result<(), Failure> {
    let settings = Settings::from_env()?;
    let dir = &opts.dir;
    if !COMMANDS
        .iter()
        .any(|c| std::fs::symlink_metadata(dir.join(c)).is_ok())
    {
        return Err(Failure::from(anyhow::anyhow!(
            "none of the six iptables names is in {}; run `iptables-wrapper install` there first, or pass the --dir that holds them",
            dir.display()
        )));
    }
    // `--dir` may name another copy's directory: its own wrapper counts.
    let wrapper = FileId::of(&dir.join("iptables-wrapper")).or_else(FileId::current_exe);
    let outcome = settle::settle(&Call {
        dir,
        settings: &settings,
        wrapper,
        trigger: Trigger::Switch,
        names: &COMMANDS,
    })?;
    let shown = match &outcome {
        Outcome::Switched(d) | Outcome::NotSwitched { decision: d, .. } => {
            if opts.json {
                report::json(d)
            } else {
                report::line(d)
            }
        }
        Outcome::Already(modes) => {
            let (summary, note) = already(dir, *modes);
            eprintln!("iptables-wrapper: {note}; nothing changed");
            render(&summary, opts.json)
        }
        Outcome::Kept { path, record } => {
            eprintln!(
                "iptables-wrapper: warning: the names in {} are not switched; using the decision made {}, kept in {}",
                dir.display(),
                record.explained(),
                path.display()
            );
            render(&record.decision, opts.json)
        }
    };
    match &opts.command {
        None => println!("{shown}"),
        Some(_) => eprintln!("iptables-wrapper: {shown}"),
    }
    match opts.command {
        Some((program, args)) => Err(become_command(program, args)),
        None if outcome.switched() => Ok(()),
        None => Err(Failure::not_switched(format_args!(
            "the iptables names in {} were not switched; {}",
            dir.display(),
            match &outcome {
                Outcome::Kept { path, .. }
                | Outcome::NotSwitched {
                    kept: Some(path), ..
                } => format!(
                    "calls under them run the decision kept in {} directly",
                    path.display()
                ),
                _ => "each call under them detects again".to_string(),
            }
        ))),
    }
}

fn render(summary: &Summary, json: bool) -> String {
    if json {
        summary.json_with_probes(vec![]).to_string()
    } else {
        summary.line()
    }
}

/// The decision behind names that already lead to `modes`: their record's,
/// when it matches them, or a summary saying what they lead to. And a note
/// on how they got there.
fn already(dir: &Path, modes: [Option<Mode>; 2]) -> (Summary, String) {
    // A family without names follows the other.
    let Some(any) = modes.iter().flatten().next().copied() else {
        unreachable!("settle reports Already only with a mode")
    };
    let modes = modes.map(|m| m.unwrap_or(any));
    let path = record::beside(dir);
    let (reason, note) = match Record::read(&path) {
        Ok(Some(r)) if r.modes() == modes => {
            let note = format!("already switched {}", r.explained());
            return (r.decision, note);
        }
        Ok(Some(r)) => (
            format!(
                "already switched; the record in {} says {}, so the names were re-pointed since",
                path.display(),
                settle::describe(r.modes())
            ),
            "already switched (the record is stale)".to_string(),
        ),
        Ok(None) => (
            "already switched; no record of why".to_string(),
            "already switched (no record)".to_string(),
        ),
        Err(e) => (
            format!("already switched; {e}"),
            "already switched".to_string(),
        ),
    };
    let summary = Summary {
        families: Family::ALL.map(|f| Stated {
            mode: modes[f.index()],
            reason: Note::new("already-switched", reason.clone()),
        }),
        warnings: vec![],
        native_tables: None,
    };
    (summary, note)
}

/// Execs COMMAND: by its path when it has a slash, else found through PATH
/// as `execvp(3)` would. Returns only the failure: 127 when it cannot be
/// found, 126 when it cannot be executed, as a shell reports them.
fn become_command(program: OsString, args: Vec<OsString>) -> Failure {
    let shown = Path::new(&program).display().to_string();
    let path = if program.as_encoded_bytes().contains(&b'/') {
        PathBuf::from(&program)
    } else {
        match crate::path_search::find(&program) {
            Ok(p) => p,
            Err(_) => {
                return Failure::not_installed(format_args!(
                "cannot run {shown}: no executable {shown} in PATH ({}); give its absolute path",
                std::env::var("PATH").unwrap_or_default()
            ))
            }
        }
    };
    let err = exec_program(&path, &program, args);
    let missing =
        err.root_cause().downcast_ref::<nix::errno::Errno>() == Some(&nix::errno::Errno::ENOENT);
    let err = err.context(format!("cannot run {shown} after switching"));
    if missing {
        Failure {
            code: 127,
            ..Failure::from(err)
        }
    } else {
        Failure::cannot_exec(err)
    }
}
