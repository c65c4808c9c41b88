//! What `--version` says about the build: the crate version, the target the
//! binary was compiled for and the commit it came from, so that a binary
//! found in an image can be traced back to a release.
//!
//! No build script: the Makefile and tests/release/build.sh pass the commit
//! and the target triple in `IPTABLES_WRAPPER_COMMIT` and
//! `IPTABLES_WRAPPER_TARGET` when they run cargo, read here with
//! `option_env!` (cargo rebuilds when they change). A plain `cargo build`
//! says `commit unknown` and composes the target from the compiler's cfgs.

/// `iptables-wrapper 0.1.0 (aarch64-unknown-linux-musl, commit 286b7f0)`.
pub fn version_line() -> String {
    render(
        env!("CARGO_PKG_VERSION"),
        option_env!("IPTABLES_WRAPPER_TARGET"),
        option_env!("IPTABLES_WRAPPER_COMMIT"),
    )
}

fn render(version: &str, target: Option<&str>, commit: Option<&str>) -> String {
    let target = match target.filter(|t| !t.is_empty()) {
        Some(t) => t.to_string(),
        None => composed_target(),
    };
    let commit = commit.filter(|c| !c.is_empty()).unwrap_or("unknown");
    format!("iptables-wrapper {version} ({target}, commit {commit})")
}

/// The triple as far as cfgs tell it: `arch-unknown-os-envabi`. It cannot
/// tell armv7 from other 32-bit Arm targets, which is why builds pass the
/// exact triple.
fn composed_target() -> String {
    let env = if cfg!(target_env = "gnu") {
        "gnu"
    } else if cfg!(target_env = "musl") {
        "musl"
    } else {
        ""
    };
    let abi = if cfg!(target_abi = "eabihf") {
        "eabihf"
    } else if cfg!(target_abi = "eabi") {
        "eabi"
    } else {
        ""
    };
    format!(
        "{}-unknown-{}-{env}{abi}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_version_target_and_commit() {
        assert_eq!(
            render("0.1.0", Some("aarch64-unknown-linux-musl"), Some("286b7f0")),
            "iptables-wrapper 0.1.0 (aarch64-unknown-linux-musl, commit 286b7f0)"
        );
    }

    #[test]
    fn without_build_variables_says_commit_unknown_and_composes_the_target() {
        let line = render("0.1.0", None, Some(""));
        let target = format!("{}-unknown-linux-", std::env::consts::ARCH);
        assert!(
            line.starts_with(&format!("iptables-wrapper 0.1.0 ({target}")),
            "{line}"
        );
        assert!(line.ends_with(", commit unknown)"), "{line}");
    }
}
