//! The vocabulary shared by every module: the two iptables modes, the two
//! address families and the six command names the wrapper stands in for.

use std::fmt;

/// An iptables back end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The kernel's x_tables API (`xtables-legacy-multi`).
    Legacy,
    /// The kernel's nf_tables API (`xtables-nft-multi`).
    Nft,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Legacy, Mode::Nft];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Legacy => "legacy",
            Mode::Nft => "nft",
        }
    }

    /// The multi-call binary that implements every command of this mode.
    pub fn multi(self) -> &'static str {
        match self {
            Mode::Legacy => "xtables-legacy-multi",
            Mode::Nft => "xtables-nft-multi",
        }
    }

    /// Parses the value of `IPTABLES_WRAPPER_MODE`-style settings. Case does
    /// not matter (`NFT`, `Legacy`), as Calico's FELIX_IPTABLESBACKEND.
    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }

    pub fn other(self) -> Mode {
        match self {
            Mode::Legacy => Mode::Nft,
            Mode::Nft => Mode::Legacy,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// IPv4 (`iptables*`) or IPv6 (`ip6tables*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    /// The command prefix: `iptables` or `ip6tables`.
    pub fn prefix(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }

    /// The family's head: in the plain-link layout its other two names
    /// link to it (`iptables-save` -> `iptables`), so that a switch repoints
    /// the head alone (see `switch.rs`).
    pub fn head(self) -> &'static str {
        self.prefix()
    }

    /// The other family.
    pub fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }

    /// As JSON and people name it: `ipv4`, `ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    /// Index into per-family arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The family whose commands `command` (one of [`COMMANDS`]) belongs to.
    pub fn of_command(command: &str) -> Family {
        if command.starts_with("ip6tables") {
            Family::V6
        } else {
            Family::V4
        }
    }

    /// The kernel's list of legacy tables that exist in this network namespace.
    pub fn legacy_tables_file(self) -> &'static str {
        match self {
            Family::V4 => "/proc/net/ip_tables_names",
            Family::V6 => "/proc/net/ip6_tables_names",
        }
    }
}

/// The six names an image points at the wrapper. The multi binaries of both
/// modes dispatch on exactly these basenames, so the wrapper can exec them
/// with argv[0] unchanged.
pub const COMMANDS: [&str; 6] = [
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
];

/// Returns the command if `name` is one of the six names.
pub fn command(name: &str) -> Option<&'static str> {
    COMMANDS.iter().copied().find(|c| *c == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_six_names_are_commands() {
        for c in COMMANDS {
            assert_eq!(command(c), Some(c));
        }
        for other in [
            "iptables-wrapper",
            "iptables-legacy",
            "iptables-nft-save",
            "",
            "xtables-nft-multi",
        ] {
            assert_eq!(command(other), None, "{other}");
        }
    }

    #[test]
    fn modes_parse_and_print() {
        for m in Mode::ALL {
            assert_eq!(Mode::parse(m.as_str()), Some(m));
        }
        assert_eq!(Mode::parse("auto"), None);
        assert_eq!(Mode::parse("NFT"), Some(Mode::Nft));
        assert_eq!(Mode::parse("Legacy"), Some(Mode::Legacy));
        assert_eq!(Mode::parse("nf_tables"), None);
    }
}
