//! Which iptables release an image carries, and whether the wrapper can rely
//! on it. Versions come from `iptables --version` when the binary can run,
//! or from the package database when it cannot (a multi-arch build under
//! emulation, where exec fails with "Exec format error").

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The oldest release whose nft mode behaves like legacy for kubelet-style
/// callers.
pub const MINIMUM: Version = Version(1, 8, 4);

fn numbers(re: &Regex, s: &str) -> Option<Version> {
    let c = re.captures(s)?;
    let n = |i: usize| c.get(i).map_or(Some(0), |m| m.as_str().parse().ok());
    Some(Version(n(1)?, n(2)?, n(3)?))
}

/// From `iptables --version` output: `iptables v1.8.7 (nf_tables)`,
/// `iptables v1.8.11 (legacy)`, `iptables v1.8.4-vendor (legacy)`.
pub fn from_output(s: &str) -> Option<Version> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"(?-u:\b)v([0-9]+)\.([0-9]+)(?:\.([0-9]+))?").expect("valid regex")
    });
    numbers(re, s)
}

/// From the bytes of a multi binary, without running it: iptables compiles
/// its version in with the mode as one string, `1.8.11 (nf_tables)` or
/// `1.8.9 (legacy)` (checked on Debian's 1.8.9 and 1.8.11), which its
/// `--version` prints after `iptables v`. A lone `1.8.11` could be any
/// library's; the mode suffix makes it this binary's.
pub fn from_binary(bytes: &[u8]) -> Option<Version> {
    static RE: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::bytes::Regex::new(
            r"(?-u)\x00([0-9]+)\.([0-9]+)(?:\.([0-9]+))? \((?:nf_tables|legacy)\)\x00",
        )
        .expect("valid regex")
    });
    let c = re.captures(bytes)?;
    let n = |i: usize| {
        c.get(i).map_or(Some(0), |m| {
            std::str::from_utf8(m.as_bytes()).ok()?.parse().ok()
        })
    };
    Some(Version(n(1)?, n(2)?, n(3)?))
}

/// From a package version: dpkg's `1.8.9-2`, `1:1.8.7-1ubuntu5` (with an
/// epoch), apk's `1.8.10-r5`.
pub fn from_package(s: &str) -> Option<Version> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^(?:[0-9]+:)?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?").expect("valid regex")
    });
    numbers(re, s.trim())
}

/// Why a version cannot be used, or None if it can.
pub fn problem(v: Version) -> Option<String> {
    if v >= MINIMUM {
        return None;
    }
    let why = if v < Version(1, 8, 0) {
        "it predates the nft mode that this wrapper chooses between".to_string()
    } else if v <= Version(1, 8, 2) {
        format!("in {v} nft mode's exit codes differ from legacy and `-C` misses rules just added with `-A`, so callers add them again forever")
    } else {
        format!("{v} loops forever in nft mode when nf_tables cannot be loaded")
    };
    Some(format!(
        "iptables {v} is too old: {why}. Use iptables {MINIMUM} or newer"
    ))
}

/// The `Version:` of an installed package in dpkg's status file.
pub fn from_dpkg_status(status: &str, package: &str) -> Option<Version> {
    status.split("\n\n").find_map(|para| {
        let field = |name: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
                .map(str::trim)
        };
        let installed = field("Status").is_some_and(|s| s.ends_with(" installed"));
        (field("Package") == Some(package) && installed)
            .then(|| field("Version").and_then(from_package))
            .flatten()
    })
}

/// The `V:` of a package in apk's installed database (`P:` names it).
pub fn from_apk_installed(db: &str, package: &str) -> Option<Version> {
    db.split("\n\n").find_map(|rec| {
        let field = |key: &str| rec.lines().find_map(|l| l.strip_prefix(key));
        (field("P:") == Some(package))
            .then(|| field("V:").and_then(from_package))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_output() {
        for (text, v) in [
            ("iptables v1.8.7 (nf_tables)", Version(1, 8, 7)),
            ("iptables v1.8.11 (legacy)\n", Version(1, 8, 11)),
            ("iptables v1.8.4-fedora (legacy)", Version(1, 8, 4)),
            ("ip6tables-restore v1.8.10 (nf_tables)", Version(1, 8, 10)),
            ("iptables v1.6.1", Version(1, 6, 1)),
            ("iptables v1.8 (legacy)", Version(1, 8, 0)),
            (
                "iptables v1.8.3 (nf_tables): Could not fetch rule set generation id",
                Version(1, 8, 3),
            ),
        ] {
            assert_eq!(from_output(text), Some(v), "{text}");
        }
        for junk in [
            "",
            "iptables (legacy)",
            "nv1.2.3",
            "iptables version unknown",
        ] {
            assert_eq!(from_output(junk), None, "{junk}");
        }
    }

    #[test]
    fn reads_the_version_compiled_into_a_binary() {
        let elf = |s: &[u8]| {
            [
                b"\x7fELF\x02\x01junk\x00%s v%s\x00".as_slice(),
                s,
                b"\x00more",
            ]
            .concat()
        };
        assert_eq!(
            from_binary(&elf(b"1.8.11 (nf_tables)")),
            Some(Version(1, 8, 11))
        );
        assert_eq!(from_binary(&elf(b"1.8.9 (legacy)")), Some(Version(1, 8, 9)));
        assert_eq!(from_binary(&elf(b"1.8 (legacy)")), Some(Version(1, 8, 0)));
        // Without the mode, or not a string of its own: not iptables' version.
        assert_eq!(from_binary(&elf(b"1.8.9")), None);
        assert_eq!(from_binary(&elf(b"v1.8.9 (legacy)")), None);
        assert_eq!(from_binary(b"iptables v1.8.2 (legacy)\n"), None);
        assert_eq!(from_binary(b""), None);
    }

    #[test]
    fn reads_package_versions() {
        assert_eq!(from_package("1.8.9-2"), Some(Version(1, 8, 9)));
        assert_eq!(from_package("1:1.8.7-1ubuntu5"), Some(Version(1, 8, 7)));
        assert_eq!(from_package("1.8.10-r5"), Some(Version(1, 8, 10)));
        assert_eq!(from_package("1.8.11-2+b1"), Some(Version(1, 8, 11)));
        assert_eq!(from_package("v1.8.9"), None);
    }

    #[test]
    fn refuses_1_8_0_to_1_8_3_and_says_why() {
        assert!(problem(Version(1, 8, 3)).unwrap().contains("loops forever"));
        for v in [Version(1, 8, 0), Version(1, 8, 2)] {
            let p = problem(v).unwrap();
            assert!(p.contains("exit codes") && p.contains("-C"), "{p}");
        }
        assert!(problem(Version(1, 6, 2)).is_some());
        assert_eq!(problem(Version(1, 8, 4)), None);
        assert_eq!(problem(Version(1, 8, 11)), None);
        assert_eq!(problem(Version(1, 10, 0)), None);
        assert!(Version(1, 8, 11) > Version(1, 8, 4), "numeric, not lexical");
    }

    #[test]
    fn reads_dpkg_status() {
        let status = "Package: iptables-dev\nStatus: install ok installed\nVersion: 1.2.3\n\n\
Package: iptables\nStatus: install ok installed\nPriority: optional\nVersion: 1.8.9-2\nDescription: x\n with: colons\n\n\
Package: libxtables12\nStatus: install ok installed\nVersion: 1.8.9-2\n";
        assert_eq!(from_dpkg_status(status, "iptables"), Some(Version(1, 8, 9)));
        assert_eq!(from_dpkg_status(status, "nftables"), None);
        let removed = "Package: iptables\nStatus: deinstall ok config-files\nVersion: 1.8.2-4\n";
        assert_eq!(from_dpkg_status(removed, "iptables"), None);
    }

    #[test]
    fn dpkg_status_edge_cases() {
        // Only an exact `Package:` field at the start of a line names a package:
        // not a continuation line of another paragraph, nor a longer name.
        let status = "Package: foo\nStatus: install ok installed\nVersion: 9.9.9\nDescription: x\n Package: iptables\n\n\
Package: iptables-legacy\nStatus: install ok installed\nVersion: 1.8.2\n\n\
Package: iptables\nStatus: hold ok installed\nVersion: 1:1.8.10-3ubuntu2 \nArchitecture: arm64\n";
        assert_eq!(
            from_dpkg_status(status, "iptables"),
            Some(Version(1, 8, 10))
        );
        // Half-installed or unpacked is not installed; no Version, no answer.
        let unpacked = "Package: iptables\nStatus: install ok unpacked\nVersion: 1.8.9-2\n";
        assert_eq!(from_dpkg_status(unpacked, "iptables"), None);
        let no_version = "Package: iptables\nStatus: install ok installed\n";
        assert_eq!(from_dpkg_status(no_version, "iptables"), None);
        assert_eq!(from_dpkg_status("", "iptables"), None);
        // The faked entry the integration tests use: too old.
        let old = "Package: iptables\nStatus: install ok installed\nVersion: 1.8.2-4\n";
        let v = from_dpkg_status(old, "iptables").unwrap();
        assert!(problem(v).unwrap().contains("1.8.2"));
    }

    #[test]
    fn reads_apk_installed_db() {
        let db = "C:Q1abc=\nP:iptables-legacy\nV:1.8.10-r3\nA:x86_64\n\nC:Q1def=\nP:iptables\nV:1.8.10-r3\nA:x86_64\nT:Linux kernel firewall\n\n";
        assert_eq!(from_apk_installed(db, "iptables"), Some(Version(1, 8, 10)));
        assert_eq!(
            from_apk_installed(db, "iptables-legacy"),
            Some(Version(1, 8, 10))
        );
        assert_eq!(from_apk_installed(db, "ip6tables"), None);
        let no_version = "C:Q1abc=\nP:iptables\nA:x86_64\n";
        assert_eq!(from_apk_installed(no_version, "iptables"), None);
        // The last record of the file has no blank line after it.
        let last = "P:busybox\nV:1.36.1-r15\n\nP:iptables\nV:1.8.11-r1";
        assert_eq!(
            from_apk_installed(last, "iptables"),
            Some(Version(1, 8, 11))
        );
    }
}
