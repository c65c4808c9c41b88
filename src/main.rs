//! Entry point: what to do depends on the name we were called as. Under one
//! of the six iptables names, do the first-call work
//! ([`iptables_wrapper::first_call`]); under any other name, take
//! subcommands ([`iptables_wrapper::cli`]).
//!
//! The C `main` is ours (`no_main`), not std's runtime start-up. std's
//! start-up sets SIGPIPE to "ignore" before `main`, and that disposition
//! would survive our `execve` into iptables: `iptables-save | head` would
//! then see EPIPE and carry on formatting instead of dying of SIGPIPE as it
//! does when called directly. Here [`exec::prepare`] first records what the
//! caller gave us, and the exec restores it. Skipping std's start-up also
//! skips work a first call does not need (reading /proc/self/maps for the
//! stack guard, an alternate signal stack), about 25 syscalls. std itself
//! works as usual: on glibc it receives the arguments from `.init_array`,
//! and `process::exit` flushes stdout.

// Test builds keep the harness's own main (this file has no tests).
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
mod entry {
    use std::ffi::{c_char, c_int};

    use iptables_wrapper::{cli, exec, first_call, locate, names};

    #[no_mangle]
    pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
        exec::prepare();
        let mut args = std::env::args_os();
        let argv0 = args.next().unwrap_or_default();
        let rest: Vec<_> = args.collect();
        let name = locate::basename(&argv0);
        let result = match names::command(&name) {
            Some(command) => first_call::run(command, &argv0, rest),
            None => cli::run(&argv0, rest),
        };
        let code = match result {
            Ok(()) => 0,
            Err(f) => {
                eprintln!("iptables-wrapper: {:#}", f.error);
                if f.usage {
                    // Every line on stderr is the wrapper's, usage included.
                    for line in cli::usage().lines() {
                        eprintln!("iptables-wrapper: {line}");
                    }
                }
                f.code
            }
        };
        std::process::exit(code)
    }
}
