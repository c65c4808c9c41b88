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
//! works as usual (`process::exit` flushes stdout), but the arguments are
//! taken from this `main`'s own `argc`/`argv`, not `std::env::args_os()`:
//! std fills those this early only on glibc (from `.init_array`), and a
//! musl or other build would otherwise see no arguments at all.

// Test builds keep the harness's own main (this file has no tests).
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
mod entry {
    use std::ffi::{c_char, c_int, CStr, OsString};
    use std::os::unix::ffi::OsStrExt;

    use iptables_wrapper::{cli, exec, first_call, locate, names};

    #[no_mangle]
    pub extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
        exec::prepare();
        // SAFETY: the C runtime passes argc valid NUL-terminated strings.
        let mut args = unsafe { arguments(argc, argv) }.into_iter();
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
                    eprintln!("{}", cli::USAGE);
                }
                f.code
            }
        };
        std::process::exit(code)
    }

    /// The C `main`'s arguments as owned strings, in order.
    ///
    /// # Safety
    /// `argv` must point to `argc` pointers to NUL-terminated strings that
    /// live as long as the process, as the C runtime guarantees.
    unsafe fn arguments(argc: c_int, argv: *const *const c_char) -> Vec<OsString> {
        let count = usize::try_from(argc).unwrap_or(0);
        if argv.is_null() {
            return Vec::new();
        }
        (0..count)
            .map(|i| *argv.add(i))
            .take_while(|p| !p.is_null())
            .map(|p| std::ffi::OsStr::from_bytes(CStr::from_ptr(p).to_bytes()).to_os_string())
            .collect()
    }
}
