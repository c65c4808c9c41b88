//! iptables-wrapper as a library: the binary (`main.rs`) only dispatches on
//! the name it was called as, and the integration tests use these types
//! (modes, families, reason and warning kinds) instead of copies.
//!
//! The map: `detect` decides (pure, over the [`detect::Evidence`] trait);
//! `probe` gathers evidence from the kernel and from iptables processes;
//! `decide` applies the rules to one directory on this host; `settle` is
//! the one path from "not switched" to a mode (lock, detect, warn, switch,
//! record) for a first call and `switch`; `switch` repoints the six names
//! (alternatives or plain links) for `settle` and `install` alike;
//! `record` and `state` remember decisions (beside the names, or in a state
//! directory on a read-only root); `first_call`, `cli`, `install` and
//! `verify` are the entry points; `report` renders decisions and `json`
//! writes and reads our JSON.

pub mod alternatives;
pub mod build_info;
pub mod cli;
pub mod deadline;
pub mod decide;
pub mod detect;
pub mod elf;
pub mod exec;
pub mod first_call;
pub mod install;
pub mod installed;
pub mod json;
pub mod locate;
pub mod names;
pub mod path_search;
pub mod probe;
pub mod record;
pub mod report;
pub mod root;
pub mod scan;
pub mod settings;
pub mod settle;
pub mod state;
pub mod switch;
pub mod switch_command;
#[cfg(test)]
mod test_exe;
pub mod utc;
pub mod verify;
pub mod version;

use std::fmt::Display;

/// An error with the exit status it should end the process with. The exit
/// statuses are the same for every entry point (see README, "Exit status").
pub struct Failure {
    pub code: i32,
    /// Whether the usage text should follow the message: only for a command
    /// line the wrapper could not parse.
    pub usage: bool,
    pub error: anyhow::Error,
}

impl Failure {
    /// A command line we cannot parse: exit status 2, as iptables uses for
    /// parameter problems, followed by the usage text.
    pub fn usage(msg: impl Display) -> Failure {
        Failure {
            code: 2,
            usage: true,
            error: anyhow::anyhow!("{msg}"),
        }
    }

    /// A bad `IPTABLES_WRAPPER_*` value, or a setting this image cannot
    /// honour: exit status 2, without the usage text.
    pub fn setting(msg: impl Display) -> Failure {
        Failure {
            code: 2,
            usage: false,
            error: anyhow::anyhow!("{msg}"),
        }
    }

    /// Neither mode is installed: 127, as a shell reports a missing command.
    pub fn not_installed(msg: impl Display) -> Failure {
        Failure {
            code: 127,
            usage: false,
            error: anyhow::anyhow!("{msg}"),
        }
    }

    /// `switch` could not switch the names (a read-only root file system,
    /// an alternatives tool that changes nothing, probes that were
    /// refused): 3. Only `switch` without a command ends with it.
    pub fn not_switched(msg: impl Display) -> Failure {
        Failure {
            code: 3,
            usage: false,
            error: anyhow::anyhow!("{msg}"),
        }
    }

    /// The real command cannot be executed: 126, as a shell reports it.
    pub fn cannot_exec(error: anyhow::Error) -> Failure {
        Failure {
            code: 126,
            usage: false,
            error,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure {
            code: 1,
            usage: false,
            error,
        }
    }
}
