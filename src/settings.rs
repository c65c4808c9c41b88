//! Every `IPTABLES_WRAPPER_*` variable, read here and nowhere else, the same
//! way for every entry point (first call, `detect`, `install`, `verify`).
//! A bad value is bad input: exit status 2, a message that names the
//! variable and what it takes, no usage text, and nothing changed. A value
//! that is not valid UTF-8 is refused too, rather than read as unset.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::detect;
use crate::names::Mode;
use crate::Failure;

/// What the operator asked for through `IPTABLES_WRAPPER_MODE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    Auto,
    Force(Mode),
}

/// Which sources the probes may use (`IPTABLES_WRAPPER_PROBES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sources {
    /// Ask the kernel directly; fall back to a process where it cannot answer.
    Auto,
    /// The kernel only: a probe it cannot answer fails.
    Kernel,
    /// Run the iptables commands only, as version 1 did.
    Process,
}

pub const MODE_VAR: &str = "IPTABLES_WRAPPER_MODE";
pub const TIMEOUT_VAR: &str = "IPTABLES_WRAPPER_PROBE_TIMEOUT";
pub const HINT_WAIT_VAR: &str = "IPTABLES_WRAPPER_HINT_WAIT";
pub const DEBUG_VAR: &str = "IPTABLES_WRAPPER_DEBUG";
pub const PROBES_VAR: &str = "IPTABLES_WRAPPER_PROBES";
pub const STATE_DIR_VAR: &str = "IPTABLES_WRAPPER_STATE_DIR";
pub const HINT_CHAINS_VAR: &str = "IPTABLES_WRAPPER_HINT_CHAINS";

/// Default per-probe deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `IPTABLES_WRAPPER_PROBE_TIMEOUT` accepted (the help and the
/// README give it).
pub const MAX_PROBE_TIMEOUT: f64 = 3600.0;
/// The longest `IPTABLES_WRAPPER_HINT_WAIT` accepted: a pod that waits
/// longer for its kubelet has a bigger problem than detection.
pub const MAX_HINT_WAIT: f64 = 300.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub mode: Setting,
    pub probe_timeout: Duration,
    pub hint_wait: Duration,
    pub debug: bool,
    pub sources: Sources,
    /// Where a decision is kept when the names cannot be switched, tried
    /// before the default places (see `state.rs`). Leaked, as
    /// `hint_chains` is, so that settings stay `Copy`.
    pub state_dir: Option<&'static Path>,
    /// The chain names that count as hints: the kubelet's
    /// ([`detect::HINT_CHAINS`]), then `IPTABLES_WRAPPER_HINT_CHAINS`'s.
    /// Leaked once per process, so that settings stay `Copy` and a hint
    /// found is a `&'static str` like the kubelet's.
    pub hint_chains: &'static [&'static str],
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            mode: Setting::Auto,
            probe_timeout: DEFAULT_TIMEOUT,
            hint_wait: Duration::ZERO,
            debug: false,
            sources: Sources::Auto,
            state_dir: None,
            hint_chains: detect::HINT_CHAINS,
        }
    }
}

impl Settings {
    /// Reads every variable from the process environment.
    pub fn from_env() -> Result<Settings, Failure> {
        Settings::from_lookup(|k| std::env::var_os(k))
    }

    /// Reads every variable through `get`, so tests need no environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Result<Settings, Failure> {
        let text = |var: &str| -> Result<Option<String>, Failure> {
            match get(var) {
                None => Ok(None),
                Some(v) => v.into_string().map(Some).map_err(|v| {
                    Failure::setting(format!(
                        "{var}={v:?} is not valid UTF-8; unset it or give one of the values listed in iptables-wrapper --help"
                    ))
                }),
            }
        };
        let text = |var: &str| text(var).map(|v| v.filter(|s| !s.is_empty()));
        Ok(Settings {
            mode: parse_mode(text(MODE_VAR)?.as_deref()).map_err(Failure::setting)?,
            probe_timeout: parse_seconds(
                TIMEOUT_VAR,
                text(TIMEOUT_VAR)?.as_deref(),
                false,
                MAX_PROBE_TIMEOUT,
            )
            .map_err(Failure::setting)?
            .unwrap_or(DEFAULT_TIMEOUT),
            hint_wait: parse_seconds(
                HINT_WAIT_VAR,
                text(HINT_WAIT_VAR)?.as_deref(),
                true,
                MAX_HINT_WAIT,
            )
            .map_err(Failure::setting)?
            .unwrap_or(Duration::ZERO),
            debug: parse_debug(text(DEBUG_VAR)?.as_deref()).map_err(Failure::setting)?,
            sources: parse_sources(text(PROBES_VAR)?.as_deref()).map_err(Failure::setting)?,
            state_dir: parse_state_dir(text(STATE_DIR_VAR)?)
                .map_err(Failure::setting)?
                .map(|p| &*Box::leak(p.into_boxed_path())),
            hint_chains: match parse_hint_chains(text(HINT_CHAINS_VAR)?.as_deref())
                .map_err(Failure::setting)?
            {
                extra if extra.is_empty() => detect::HINT_CHAINS,
                extra => {
                    let all: Vec<&'static str> = detect::HINT_CHAINS
                        .iter()
                        .copied()
                        .chain(extra.into_iter().map(|n| &*Box::leak(n.into_boxed_str())))
                        .collect();
                    Box::leak(all.into_boxed_slice())
                }
            },
        })
    }
}

/// `IPTABLES_WRAPPER_MODE`: unset, empty or `auto` means auto; case does not
/// matter.
pub fn parse_mode(value: Option<&str>) -> Result<Setting, String> {
    match value {
        None => Ok(Setting::Auto),
        Some(v) if v.eq_ignore_ascii_case("auto") => Ok(Setting::Auto),
        Some(v) => Mode::parse(v).map(Setting::Force).ok_or_else(|| {
            format!("{MODE_VAR}={v:?} is not a mode; use legacy, nft or auto (or leave it unset)")
        }),
    }
}

/// `IPTABLES_WRAPPER_DEBUG`: `1` on; `0`, empty or unset off. Anything
/// else (`yes`, `true`) is refused rather than guessed at.
pub fn parse_debug(value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(v) => Err(format!(
            "{DEBUG_VAR}={v:?} is not 0 or 1; use 1 to print a first call's decision, 0 (or leave it unset) for none"
        )),
    }
}

/// `IPTABLES_WRAPPER_PROBES`: auto, kernel or process.
pub fn parse_sources(value: Option<&str>) -> Result<Sources, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("auto") => Ok(Sources::Auto),
        Some("kernel") => Ok(Sources::Kernel),
        Some("process") => Ok(Sources::Process),
        Some(_) => Err(format!(
            "{PROBES_VAR}={:?} is not a probe source; use auto, kernel or process (or leave it unset)",
            value.unwrap_or_default()
        )),
    }
}

/// `IPTABLES_WRAPPER_STATE_DIR`: an absolute path. A relative one would
/// depend on each caller's working directory, so calls would not find each
/// other's decision.
pub fn parse_state_dir(value: Option<String>) -> Result<Option<PathBuf>, String> {
    match value {
        None => Ok(None),
        Some(v) if v.starts_with('/') => Ok(Some(PathBuf::from(v))),
        Some(v) => Err(format!(
            "{STATE_DIR_VAR}={v:?} is not an absolute path; give the directory as /path (an emptyDir volume, say), or leave it unset"
        )),
    }
}

/// `IPTABLES_WRAPPER_HINT_CHAINS=NAME[,NAME...]`: the extra hint chains, in
/// order, without the kubelet's own or repeats. Each must be a name
/// iptables would create with `-N` ([`chain_name_problem`]); a comma
/// separates names, so no name can hold one.
pub fn parse_hint_chains(value: Option<&str>) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = vec![];
    for name in value.map(|v| v.split(',')).into_iter().flatten() {
        if let Some(problem) = chain_name_problem(name) {
            return Err(format!(
                "{HINT_CHAINS_VAR}={:?}: {problem}; give chain names as iptables -N takes them, separated by commas",
                value.unwrap_or_default()
            ));
        }
        if !detect::HINT_CHAINS.contains(&name) && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// The longest chain name iptables takes: `XT_EXTENSION_MAXNAMELEN` (29)
/// less the NUL. `-N` refuses longer ones ("must be under 29 chars").
pub const MAX_CHAIN_NAME: usize = 28;

/// The targets iptables 1.8 can load, which `-N` refuses as chain names
/// ("chain name may not clash with target name"): the standard target and
/// its verdicts, and every upper-case target extension Debian ships
/// (`lib{xt,ipt,ip6t}_NAME.so`, less `NAT`, which holds no target). A name
/// refused by either family is refused, as a hint lives in both.
const TARGETS: &[&str] = &[
    "standard",
    "ACCEPT",
    "DROP",
    "QUEUE",
    "RETURN",
    "AUDIT",
    "CHECKSUM",
    "CLASSIFY",
    "CLUSTERIP",
    "CONNMARK",
    "CONNSECMARK",
    "CT",
    "DNAT",
    "DNPT",
    "DSCP",
    "ECN",
    "HL",
    "HMARK",
    "IDLETIMER",
    "LED",
    "LOG",
    "MARK",
    "MASQUERADE",
    "NETMAP",
    "NFLOG",
    "NFQUEUE",
    "NOTRACK",
    "RATEEST",
    "REDIRECT",
    "REJECT",
    "SECMARK",
    "SET",
    "SNAT",
    "SNPT",
    "SYNPROXY",
    "TCPMSS",
    "TCPOPTSTRIP",
    "TEE",
    "TOS",
    "TPROXY",
    "TRACE",
    "TTL",
    "ULOG",
];

/// The builtin chains of the mangle table: `-N` says they exist, and the
/// kernel source would find them in every mangle table, hint or not.
const BUILTIN_CHAINS: &[&str] = &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"];

/// Why iptables would refuse `name` as a new chain, following its
/// `assert_valid_chain_name` (iptables/xshared.c), if it would.
pub fn chain_name_problem(name: &str) -> Option<String> {
    // C's isspace(): space, \t, \n, \v, \f, \r.
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    Some(if name.is_empty() {
        "an empty chain name".to_string()
    } else if name.len() > MAX_CHAIN_NAME {
        format!(
            "chain name {name:?} is {} bytes long; iptables takes at most {MAX_CHAIN_NAME}",
            name.len()
        )
    } else if name.starts_with(['-', '!']) {
        format!("chain name {name:?} starts with '-' or '!', which iptables refuses")
    } else if name.as_bytes().iter().any(space) {
        format!("chain name {name:?} holds white space, which iptables refuses")
    } else if TARGETS.contains(&name) {
        format!("{name} is a target, which iptables refuses as a chain name")
    } else if BUILTIN_CHAINS.contains(&name) {
        format!("{name} is a builtin chain of mangle, in every table whether hinted or not")
    } else {
        return None;
    })
}

/// A number of seconds, fractions allowed, above zero (or zero too, when
/// `zero_ok`) and at most `max`. `None` when unset.
fn parse_seconds(
    var: &str,
    value: Option<&str>,
    zero_ok: bool,
    max: f64,
) -> Result<Option<Duration>, String> {
    let Some(v) = value else { return Ok(None) };
    let low = if zero_ok { "from 0" } else { "above 0" };
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && (*s > 0.0 || (zero_ok && *s == 0.0)) && *s <= max)
        .map(|s| Some(Duration::from_secs_f64(s)))
        .ok_or_else(|| format!("{var}={v:?} is not a number of seconds {low} to {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let env: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Settings::from_lookup(|k| env.get(k).cloned()).map_err(|f| {
            assert_eq!(f.code, 2, "a bad setting is bad input");
            assert!(!f.usage, "no usage text for a bad setting");
            f.error.to_string()
        })
    }

    #[test]
    fn defaults() {
        assert_eq!(read(&[]).unwrap(), Settings::default());
        let empty = read(&[(MODE_VAR, ""), (HINT_WAIT_VAR, ""), (DEBUG_VAR, "")]).unwrap();
        assert_eq!(empty, Settings::default());
    }

    #[test]
    fn modes_are_case_insensitive() {
        for (v, want) in [
            ("nft", Setting::Force(Mode::Nft)),
            ("NFT", Setting::Force(Mode::Nft)),
            ("Legacy", Setting::Force(Mode::Legacy)),
            ("AUTO", Setting::Auto),
        ] {
            assert_eq!(read(&[(MODE_VAR, v)]).unwrap().mode, want, "{v}");
        }
        let e = read(&[(MODE_VAR, "nf_tables")]).unwrap_err();
        assert!(
            e.contains("IPTABLES_WRAPPER_MODE=\"nf_tables\" is not a mode"),
            "{e}"
        );
    }

    #[test]
    fn timeouts_and_waits() {
        let s = read(&[(TIMEOUT_VAR, "0.5"), (HINT_WAIT_VAR, "2.25")]).unwrap();
        assert_eq!(s.probe_timeout, Duration::from_millis(500));
        assert_eq!(s.hint_wait, Duration::from_millis(2250));
        assert_eq!(
            read(&[(HINT_WAIT_VAR, "0")]).unwrap().hint_wait,
            Duration::ZERO
        );
        assert_eq!(
            read(&[(HINT_WAIT_VAR, "300")]).unwrap().hint_wait,
            Duration::from_secs(300)
        );
        for bad in ["x", "-1", "301", "inf", "NaN", "1s"] {
            let e = read(&[(HINT_WAIT_VAR, bad)]).unwrap_err();
            assert!(e.starts_with("IPTABLES_WRAPPER_HINT_WAIT="), "{e}");
        }
        for bad in ["0", "-1", "x", "inf", "99999", "3600.5"] {
            assert!(read(&[(TIMEOUT_VAR, bad)]).is_err(), "{bad}");
        }
        assert_eq!(
            read(&[(TIMEOUT_VAR, "3600")]).unwrap().probe_timeout,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn debug_and_sources() {
        assert!(read(&[(DEBUG_VAR, "1")]).unwrap().debug);
        assert!(!read(&[(DEBUG_VAR, "0")]).unwrap().debug);
        assert!(!read(&[(DEBUG_VAR, "")]).unwrap().debug, "empty is unset");
        for bad in ["yes", "true", "2", " 1", "on"] {
            let e = read(&[(DEBUG_VAR, bad)]).unwrap_err();
            assert!(e.starts_with("IPTABLES_WRAPPER_DEBUG="), "{e}");
            assert!(e.contains("is not 0 or 1"), "{e}");
        }
        assert_eq!(
            read(&[(PROBES_VAR, "Kernel")]).unwrap().sources,
            Sources::Kernel
        );
        assert_eq!(
            read(&[(PROBES_VAR, "process")]).unwrap().sources,
            Sources::Process
        );
        assert!(read(&[(PROBES_VAR, "netlink")]).is_err());
    }

    #[test]
    fn state_dir_is_absolute() {
        assert_eq!(
            read(&[(STATE_DIR_VAR, "/var/run/w")]).unwrap().state_dir,
            Some(Path::new("/var/run/w"))
        );
        assert_eq!(read(&[(STATE_DIR_VAR, "")]).unwrap().state_dir, None);
        let e = read(&[(STATE_DIR_VAR, "run/w")]).unwrap_err();
        assert!(e.contains("is not an absolute path"), "{e}");
    }

    #[test]
    fn hint_chains_are_validated_as_iptables_does() {
        assert_eq!(read(&[]).unwrap().hint_chains, detect::HINT_CHAINS);
        let s = read(&[(
            HINT_CHAINS_VAR,
            "CILIUM-CANARY,KUBE-IPTABLES-HINT,x!,CILIUM-CANARY,a234567890123456789012345678",
        )])
        .unwrap();
        assert_eq!(
            s.hint_chains,
            [
                "KUBE-IPTABLES-HINT",
                "KUBE-KUBELET-CANARY",
                "CILIUM-CANARY",
                "x!",
                "a234567890123456789012345678"
            ]
        );
        for (bad, says) in [
            ("A,,B", "an empty chain name"),
            ("A,", "an empty chain name"),
            (
                "a2345678901234567890123456789",
                "29 bytes long; iptables takes at most 28",
            ),
            ("-X", "starts with '-' or '!'"),
            ("!X", "starts with '-' or '!'"),
            ("A, B", "holds white space"),
            ("A\u{b}B", "holds white space"),
            ("ACCEPT", "ACCEPT is a target"),
            ("standard", "standard is a target"),
            ("MARK", "MARK is a target"),
            ("PREROUTING", "builtin chain"),
        ] {
            let e = read(&[(HINT_CHAINS_VAR, bad)]).unwrap_err();
            assert!(
                e.starts_with(&format!("{HINT_CHAINS_VAR}={bad:?}: ")) && e.contains(says),
                "{bad:?}: {e}"
            );
        }
        // What iptables takes, the wrapper takes: NAT and ERROR are no
        // targets, and case matters.
        for good in ["NAT", "ERROR", "mark", "log", "Accept"] {
            assert!(read(&[(HINT_CHAINS_VAR, good)]).is_ok(), "{good}");
        }
    }

    #[test]
    fn non_utf8_is_refused() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'n', 0xff]);
        let r = Settings::from_lookup(|k| (k == MODE_VAR).then(|| bad.clone()));
        assert!(r.is_err());
    }
}
