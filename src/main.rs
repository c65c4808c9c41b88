//! Entry point: what to do depends on the name we were called as. Under one
//! of the six iptables names, do the first-call work (`first_call.rs`);
//! under any other name, take subcommands (`cli.rs`).

mod alternatives;
mod cli;
mod deadline;
mod detect;
mod exec;
mod first_call;
mod install;
mod locate;
mod names;
mod path_search;
mod probe;
mod report;
mod scan;
mod settings;
mod switch;
#[cfg(test)]
mod test_exe;
mod version;

use std::fmt::Display;

/// An error with the exit status it should end the process with.
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl Failure {
    /// Bad input from the operator: exit status 2, as iptables uses for
    /// parameter problems.
    pub fn usage(msg: impl Display) -> Failure {
        Failure {
            code: 2,
            error: anyhow::anyhow!("{msg}"),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure { code: 1, error }
    }
}

fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let rest: Vec<_> = args.collect();
    let name = locate::basename(&argv0);
    let result = match names::command(&name) {
        Some(command) => first_call::run(command, &argv0, rest),
        None => cli::run(&argv0, rest),
    };
    if let Err(f) = result {
        eprintln!("iptables-wrapper: {:#}", f.error);
        if f.code == 2 && names::command(&name).is_none() {
            eprintln!("{}", cli::USAGE);
        }
        std::process::exit(f.code);
    }
}
