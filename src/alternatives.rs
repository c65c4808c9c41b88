//! Talking to an alternatives system: Debian's `update-alternatives` (groups
//! `iptables` and `ip6tables`, admin files in /var/lib/dpkg/alternatives) and
//! Fedora's `alternatives` from chkconfig (one `iptables` group whose slaves
//! include the ip6tables names, admin files in /var/lib/alternatives).
//!
//! When the six names go through /etc/alternatives, rewriting the links
//! ourselves would be undone by the next package upgrade or `--auto`; going
//! through the tool keeps its database and the links in agreement.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::root::Root;

/// Where the tool lives. Debian 12 and later keep `update-alternatives` in
/// /usr/bin; Fedora keeps `alternatives` in /usr/sbin (in /usr/bin since 42).
pub const TOOL_DIRS: [&str; 4] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const TOOL_NAMES: [&str; 2] = ["update-alternatives", "alternatives"];
/// Where each system keeps its admin files, in the image: dpkg's; chkconfig's,
/// and chkconfig's on OSTree systems (Fedora CoreOS), whose /var is not
/// part of the image.
const ADMIN_DIRS: [(&str, System); 3] = [
    ("/var/lib/dpkg/alternatives", System::Dpkg),
    ("/var/lib/alternatives", System::Chkconfig),
    ("/etc/alternatives-admindir", System::Chkconfig),
];
const LINK_DIR: &str = "/etc/alternatives/";

/// The alternatives groups that can hold the six names.
pub const GROUPS: [&str; 2] = ["iptables", "ip6tables"];

/// Which alternatives system keeps a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    /// Debian's `update-alternatives`, from dpkg.
    Dpkg,
    /// Fedora's `alternatives`, from chkconfig.
    Chkconfig,
}

/// The alternatives tool, by absolute path (never trust PATH in someone
/// else's image), and the root it works on.
#[derive(Clone, Debug)]
pub struct Tool {
    pub path: PathBuf,
    /// `--root DIR`, when it works on an image from outside.
    root: Option<PathBuf>,
}

impl Tool {
    /// The running system's own tool.
    pub fn find() -> Option<Tool> {
        TOOL_NAMES
            .iter()
            .flat_map(|n| TOOL_DIRS.iter().map(move |d| Path::new(d).join(n)))
            .find(|p| crate::installed::is_executable(p))
            .map(|path| Tool { path, root: None })
    }

    /// The tool that manages the groups of `root`. On the host, its own.
    /// For an image worked on from outside only dpkg's `update-alternatives`
    /// will do, with `--root`: chkconfig's `alternatives` has no `--root`,
    /// and its `--altdir`/`--admindir` move the admin files but not the
    /// links, which it would write at the host's own paths (its
    /// `makeLinks` relinks each group link, `/usr/sbin/iptables`, as
    /// named in the admin file). The error says what to do instead.
    pub fn for_root(root: &Root, system: System) -> Result<Tool> {
        let Some(dir) = root.dir() else {
            return Tool::find().with_context(|| {
                format!(
                    "the iptables names go through /etc/alternatives, but no update-alternatives or alternatives is in {}. Add it, or pass --symlinks to link the names directly",
                    TOOL_DIRS.join(", ")
                )
            });
        };
        if system == System::Chkconfig {
            bail!(
                "the iptables names in {} go through Fedora's alternatives (chkconfig), which cannot change another root from outside: it has no --root, and with --altdir and --admindir it would still relink the host's own /usr/sbin/iptables. Pass --symlinks to make the names plain links to the wrapper, or run `iptables-wrapper install` inside the image (a RUN step)",
                dir.display()
            );
        }
        let dpkg = TOOL_DIRS
            .iter()
            .map(|d| Path::new(d).join("update-alternatives"))
            .find(|p| crate::installed::is_executable(p) && is_dpkgs(p))
            .with_context(|| {
                format!(
                    "the iptables names in {} go through Debian's alternatives, and this machine has no Debian update-alternatives (from dpkg) in {} to change them with --root. Install dpkg here, pass --symlinks to make the names plain links to the wrapper, or run `iptables-wrapper install` inside the image (a RUN step)",
                    dir.display(),
                    TOOL_DIRS.join(", ")
                )
            })?;
        let tool = Tool {
            path: dpkg,
            root: Some(dir.to_path_buf()),
        };
        // update-alternatives has --root since dpkg 1.20.1 (Debian 11):
        // find out now, before anything changes, with a query that changes
        // nothing.
        tool.run(&["--query", "iptables"])
            .or_else(|_| tool.run(&["--query", "ip6tables"]))
            .context("this machine's update-alternatives cannot read the image's alternatives with --root. Pass --symlinks to make the names plain links to the wrapper, or run `iptables-wrapper install` inside the image (a RUN step)")?;
        Ok(tool)
    }

    /// Runs the tool with `args`, keeping its chatter off our stdout (which
    /// belongs to the iptables command being run) and into the error on
    /// failure.
    pub fn run(&self, args: &[&str]) -> Result<()> {
        let mut all: Vec<OsString> = Vec::new();
        if let Some(r) = &self.root {
            all.extend(["--root".into(), r.clone().into_os_string()]);
        }
        all.extend(args.iter().map(OsString::from));
        let out = Command::new(&self.path)
            .args(&all)
            .output()
            .with_context(|| format!("cannot run {}", self.path.display()))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            let said = said.trim();
            bail!(
                "`{} {}` failed ({}): {said}",
                self.path.display(),
                all.iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                out.status
            );
        }
        Ok(())
    }
}

/// Whether `tool` is dpkg's update-alternatives (Fedora installs chkconfig's
/// under that name too), by what its `--version` prints.
fn is_dpkgs(tool: &Path) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| is_dpkg_banner(&String::from_utf8_lossy(&o.stdout)))
}

/// dpkg 1.21 and older print `Debian update-alternatives version 1.21.22.`,
/// dpkg 1.22 (Debian 13) `update-alternatives version 1.22.22.`; chkconfig's
/// prints `alternatives version 1.24 - Copyright ...` whatever it is called.
fn is_dpkg_banner(out: &str) -> bool {
    out.starts_with("Debian update-alternatives version ")
        || out.starts_with("update-alternatives version ")
}

/// Whether `link` is a symlink into /etc/alternatives.
pub fn is_managed(link: &Path) -> bool {
    fs::read_link(link).is_ok_and(|t| leads_into(&t))
}

/// Whether a symlink's target (as read) is in /etc/alternatives.
pub fn leads_into(target: &Path) -> bool {
    target.starts_with(LINK_DIR)
}

/// The admin file that describes `group` in `root`, and whose it is, if the
/// group exists.
pub fn admin_file(root: &Root, group: &str) -> Option<(PathBuf, System)> {
    ADMIN_DIRS
        .iter()
        .map(|(d, system)| (root.path(d).join(group), *system))
        .find(|(p, _)| p.is_file())
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

    /// Reads and parses the admin file of `group` in `root`, if the group
    /// exists, with the system that keeps it.
    pub fn read(root: &Root, group: &str) -> Result<Option<(Group, System)>> {
        let Some((admin, system)) = admin_file(root, group) else {
            return Ok(None);
        };
        let text = fs::read_to_string(&admin)
            .with_context(|| format!("cannot read {}", admin.display()))?;
        let group = Group::parse(&text).with_context(|| {
            format!(
                "{} is not an alternatives file this tool understands",
                admin.display()
            )
        })?;
        Ok(Some((group, system)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_banners_old_and_new_but_not_chkconfigs() {
        assert!(is_dpkg_banner(
            "Debian update-alternatives version 1.21.22.\n"
        ));
        assert!(is_dpkg_banner("update-alternatives version 1.22.22.\n\n"));
        assert!(!is_dpkg_banner(
            "alternatives version 1.24 - Copyright (C) 2001 Red Hat, Inc.\n"
        ));
        assert!(!is_dpkg_banner(""));
    }

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
