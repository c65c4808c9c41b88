//! Detection for one iptables directory on this host: the glue between the
//! pure rules (`detect.rs`) and the world they are applied to (the probes,
//! and the alternatives layout, which may forbid a split). Every entry point
//! that decides comes through here: `detect`, a first call and `switch`.

use std::path::Path;

use crate::detect::{self, Decision, Overall, Refusal, Request};
use crate::probe::Host;
use crate::settings::{Settings, MODE_VAR};
use crate::switch;
use crate::Failure;

/// Detects the host's modes for the iptables in `dir`, as the layout of its
/// names allows them: where one alternatives group covers both families,
/// IPv4's mode for both. `thorough` is `detect`'s: all the evidence.
pub fn decide(dir: &Path, settings: &Settings, thorough: bool) -> Result<Decision, Failure> {
    let host = Host::new(dir.to_path_buf(), settings.probe_timeout, settings.sources)
        .with_hints(settings.hint_chains);
    let request = Request {
        setting: settings.mode,
        hint_wait: settings.hint_wait,
        thorough,
    };
    // `thorough` is detect's, which takes --dir; a first call cannot.
    let mut decision = detect::decide(&request, &host).map_err(|r| refusal(r, dir, thorough))?;
    if decision.overall() == Overall::Split {
        if let Some(group) = switch::split_blocker(dir) {
            decision.unsplit(&group);
        }
    }
    Ok(decision)
}

/// Why detection could not choose, as the failure every entry point ends
/// with: 127 when neither mode is installed, 2 for a forced mode that is not.
/// `takes_dir`: the command has `--dir` (detect, verify); a first call
/// looks where the name it was called by is, so its advice is the install.
pub fn refusal(r: Refusal, dir: &Path, takes_dir: bool) -> Failure {
    match r {
        Refusal::NothingInstalled => Failure::not_installed(format_args!(
            "neither xtables-legacy-multi nor xtables-nft-multi is installed in {}; {}",
            dir.display(),
            if takes_dir {
                "install iptables (both modes) in the image, or pass --dir with the directory that holds them"
            } else {
                "install iptables (both modes) in the image, then run `iptables-wrapper install` again, which puts the names where iptables is"
            }
        )),
        Refusal::ForcedButMissing(mode) => Failure::setting(format_args!(
            "{MODE_VAR}={mode}, but {} is not installed; install that mode or change the setting",
            dir.join(mode.multi()).display()
        )),
    }
}
