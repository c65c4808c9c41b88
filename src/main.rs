//! Entry point: what to do depends on the name we were called as. Under one
//! of the six iptables names, do the first-call work
//! ([`iptables_wrapper::first_call`]); under any other name, take
//! subcommands ([`iptables_wrapper::cli`]).

use iptables_wrapper::{cli, first_call, locate, names};

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
        if f.usage {
            eprintln!("{}", cli::USAGE);
        }
        std::process::exit(f.code);
    }
}
