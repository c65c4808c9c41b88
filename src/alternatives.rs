//! Talking to an alternatives system: Debian's `update-alternatives` (groups
//! `iptables` and `ip6tables`, admin files in /var/lib/dpkg/alternatives) and
//! Fedora's `alternatives` from chkconfig (one `iptables` group whose slaves
//! include the ip6tables names, admin files in /var/lib/alternatives).
//!
//! When the six names go through /etc/alternatives, rewriting the links
//! ourselves would be undone by the next package upgrade or `--auto`; going
//! through the tool keeps its database and the links in agreement.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Where the tool lives. Debian 12 and later keep `update-alternatives` in
/// /usr/bin; Fedora keeps `alternatives` in /usr/sbin (in /usr/bin since 42).
pub const TOOL_DIRS: [&str; 4] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const TOOL_NAMES: [&str; 2] = ["update-alternatives", "alternatives"];
const ADMIN_DIRS: [&str; 2] = ["/var/lib/dpkg/alternatives", "/var/lib/alternatives"];
const LINK_DIR: &str = "/etc/alternatives/";

/// The alternatives groups that can hold the six names.
pub const GROUPS: [&str; 2] = ["iptables", "ip6tables"];

/// The tool, by absolute path: never trust PATH in someone else's image.
pub fn find_tool() -> Option<PathBuf> {
    TOOL_NAMES
        .iter()
        .flat_map(|n| TOOL_DIRS.iter().map(move |d| Path::new(d).join(n)))
        .find(|p| crate::probe::is_executable(p))
}

/// Whether `link` is a symlink into /etc/alternatives.
pub fn is_managed(link: &Path) -> bool {
    fs::read_link(link).is_ok_and(|t| t.starts_with(LINK_DIR))
}

/// The admin file that describes `group`, if the group exists.
pub fn admin_file(group: &str) -> Option<PathBuf> {
    ADMIN_DIRS
        .iter()
        .map(|d| Path::new(d).join(group))
        .find(|p| p.is_file())
}

/// One alternative registered in a group.
#[derive(Debug, PartialEq, Eq)]
pub struct Alternative {
    pub path: PathBuf,
    /// As the file has it: `20` (Debian), `10` or `10@family` (chkconfig).
    pub priority: String,
}

impl Alternative {
    /// The priority's number, without chkconfig's `@family` suffix.
    pub fn priority_number(&self) -> &str {
        self.priority.split('@').next().unwrap_or_default()
    }
}

/// A group, as its admin file describes it. Both formats share the layout:
/// status, master link, slave name/link pairs up to a blank line; then per
/// alternative its path, its priority and one line per slave.
#[derive(Debug, PartialEq, Eq)]
pub struct Group {
    pub master: PathBuf,
    /// (slave name, slave link)
    pub slaves: Vec<(String, PathBuf)>,
    pub alternatives: Vec<Alternative>,
}

impl Group {
    /// Parses an admin file; `None` if it is not in the shape above.
    pub fn parse(admin: &str) -> Option<Group> {
        let mut lines = admin.lines();
        let _status = lines.next()?;
        let master = PathBuf::from(lines.next()?);
        let mut slaves = Vec::new();
        loop {
            let name = lines.next()?;
            if name.is_empty() {
                break;
            }
            slaves.push((name.to_string(), PathBuf::from(lines.next()?)));
        }
        let mut alternatives = Vec::new();
        while let Some(path) = lines.next().filter(|l| !l.is_empty()) {
            let priority = lines.next()?.to_string();
            for _ in &slaves {
                lines.next()?;
            }
            alternatives.push(Alternative {
                path: PathBuf::from(path),
                priority,
            });
        }
        Some(Group {
            master,
            slaves,
            alternatives,
        })
    }

    /// Reads and parses the admin file of `group`, if the group exists.
    pub fn read(group: &str) -> Result<Option<Group>> {
        let Some(admin) = admin_file(group) else {
            return Ok(None);
        };
        let text = fs::read_to_string(&admin)
            .with_context(|| format!("cannot read {}", admin.display()))?;
        Group::parse(&text).map(Some).with_context(|| {
            format!(
                "{} is not an alternatives file this tool understands",
                admin.display()
            )
        })
    }

    /// The names the group links: its master's and its slaves'.
    pub fn names(&self) -> Vec<String> {
        let mut names = vec![crate::locate::basename(self.master.as_os_str())];
        names.extend(self.slaves.iter().map(|(n, _)| n.clone()));
        names
    }

    /// The registered alternative whose file name is `basename` (for
    /// example `iptables-nft`), as the admin file spells its path.
    pub fn registered(&self, basename: &str) -> Option<&Alternative> {
        self.alternatives
            .iter()
            .find(|a| a.path.file_name().is_some_and(|n| n == basename))
    }
}

/// Runs the tool with `args`, keeping its chatter off our stdout (which
/// belongs to the iptables command being run) and into the error on failure.
pub fn run(tool: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(tool)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said.trim();
        bail!(
            "`{} {}` failed ({}): {said}",
            tool.display(),
            args.join(" "),
            out.status
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /var/lib/dpkg/alternatives/iptables on Debian 12 (iptables 1.8.9).
    const DEBIAN: &str = "auto
/usr/sbin/iptables
iptables-restore
/usr/sbin/iptables-restore
iptables-save
/usr/sbin/iptables-save

/usr/sbin/iptables-legacy
10
/usr/sbin/iptables-legacy-restore
/usr/sbin/iptables-legacy-save
/usr/sbin/iptables-nft
20
/usr/sbin/iptables-nft-restore
/usr/sbin/iptables-nft-save

";

    /// A Fedora-style group: one `iptables` group whose slaves carry the
    /// ip6tables names, and a priority line with a family suffix.
    const FEDORA: &str = "auto
/usr/sbin/iptables
ip6tables
/usr/sbin/ip6tables
ip6tables-restore
/usr/sbin/ip6tables-restore
ip6tables-save
/usr/sbin/ip6tables-save
iptables-restore
/usr/sbin/iptables-restore
iptables-save
/usr/sbin/iptables-save

/usr/sbin/iptables-nft
10
/usr/sbin/ip6tables-nft
/usr/sbin/ip6tables-nft-restore
/usr/sbin/ip6tables-nft-save
/usr/sbin/iptables-nft-restore
/usr/sbin/iptables-nft-save
/usr/sbin/iptables-legacy
10
/usr/sbin/ip6tables-legacy
/usr/sbin/ip6tables-legacy-restore
/usr/sbin/ip6tables-legacy-save
/usr/sbin/iptables-legacy-restore
/usr/sbin/iptables-legacy-save
";

    #[test]
    fn finds_the_registered_path_of_a_mode() {
        let d = Group::parse(DEBIAN).unwrap();
        let path = |g: &Group, n: &str| g.registered(n).map(|a| a.path.clone());
        assert_eq!(
            path(&d, "iptables-nft"),
            Some("/usr/sbin/iptables-nft".into())
        );
        assert_eq!(
            path(&d, "iptables-legacy"),
            Some("/usr/sbin/iptables-legacy".into())
        );
        assert_eq!(d.registered("iptables-nft").unwrap().priority, "20");
        assert_eq!(path(&d, "ip6tables-nft"), None);
        assert_eq!(
            path(&d, "iptables-nft-save"),
            None,
            "slave targets are not alternatives"
        );
        let f = Group::parse(FEDORA).unwrap();
        assert_eq!(
            path(&f, "iptables-legacy"),
            Some("/usr/sbin/iptables-legacy".into())
        );
        assert_eq!(f.alternatives.len(), 2);
        assert_eq!(path(&f, "iptables-wrapper"), None);
        let with_family = Alternative {
            path: "/x".into(),
            priority: "100@ipv4".into(),
        };
        assert_eq!(with_family.priority_number(), "100");
    }

    #[test]
    fn reads_the_links_of_a_group() {
        let d = Group::parse(DEBIAN).unwrap();
        assert_eq!(d.master, PathBuf::from("/usr/sbin/iptables"));
        assert_eq!(
            d.slaves,
            vec![
                (
                    "iptables-restore".to_string(),
                    PathBuf::from("/usr/sbin/iptables-restore")
                ),
                (
                    "iptables-save".to_string(),
                    PathBuf::from("/usr/sbin/iptables-save")
                ),
            ]
        );
        assert_eq!(d.names(), ["iptables", "iptables-restore", "iptables-save"]);
        let f = Group::parse(FEDORA).unwrap();
        assert_eq!(f.slaves.len(), 5);
        assert_eq!(f.slaves[0].0, "ip6tables");
        assert_eq!(Group::parse("auto\n"), None);
        assert_eq!(
            Group::parse("auto\n/usr/sbin/iptables\nslave-without-link"),
            None
        );
        // An alternative cut short.
        assert_eq!(
            Group::parse("auto\n/usr/sbin/iptables\nx\n/x\n\n/alt\n10\n"),
            None
        );
    }
}
