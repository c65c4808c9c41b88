//! The operator's settings, read from the environment the same way by every
//! entry point (first call, `detect`, `install`). How a value is parsed
//! lives with what it configures (`detect::Setting::parse`,
//! `probe::parse_timeout`); this file only fetches it and turns a bad value
//! into a usage error (exit status 2).

use std::time::Duration;

use crate::detect::Setting;
use crate::probe;
use crate::Failure;

/// `IPTABLES_WRAPPER_MODE`: legacy, nft or auto.
pub fn mode() -> Result<Setting, Failure> {
    Setting::parse(std::env::var(Setting::VAR).ok().as_deref()).map_err(Failure::usage)
}

/// `IPTABLES_WRAPPER_PROBE_TIMEOUT`: the deadline of each iptables child.
pub fn probe_timeout() -> Result<Duration, Failure> {
    probe::parse_timeout(std::env::var(probe::TIMEOUT_VAR).ok().as_deref()).map_err(Failure::usage)
}
