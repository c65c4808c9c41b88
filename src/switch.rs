//! How the six names are pointed somewhere: at a mode (the first call) or at
//! the wrapper (`install`). The one module that knows the two layouts:
//!
//! - **Alternatives.** Names that link into /etc/alternatives belong to an
//!   alternatives group (Debian: `iptables` and `ip6tables`; Fedora: one
//!   `iptables` group whose slaves include the ip6tables names). They are
//!   changed only through the tool, so its database and the links agree and
//!   the next package upgrade or `--auto` does not undo us.
//! - **Plain links.** Every other name is a symlink that we replace
//!   atomically: a new link under a temporary name in the same directory,
//!   then `rename(2)` over the old one. No name is ever missing or dangling,
//!   and a link is only ever pointed at a file that exists. `install` links
//!   each family's head (`iptables`, `ip6tables`) to the wrapper and the
//!   family's other names to its head (`iptables-save` -> `iptables`), so a
//!   switch repoints the two heads and the other names follow: on a pod's
//!   overlayfs each `link(2)` or `rename(2)` costs about 15 µs. Names that
//!   lead to the wrapper themselves (as earlier versions installed them)
//!   are each repointed. The names of one mode share one new symlink inode:
//!   creating a symlink is the costly step on a pod's overlayfs over disk
//!   (30 to 700 µs each), and a hard link to a symlink is one more name for
//!   the same symlink, not for its target.
//!
//! Each family can have its own mode where the layout allows it: plain
//! links always, alternatives when each group covers one family.
//!
//! One switch at a time: an exclusive `flock(2)` on the iptables directory
//! itself. Every caller of the six names agrees on that directory, locking
//! it needs no lock file (so it also works on a read-only image), and the
//! lock vanishes with the process that held it.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};

use crate::alternatives::{self, Group, System, Tool};
use crate::installed::{self, is_executable};
use crate::locate::{self, FileId};
use crate::names::{self, Family, Mode, COMMANDS};
use crate::root::Root;

/// Above Debian's nft (20) and legacy (10), so `--auto` keeps the wrapper.
pub const PRIORITY: &str = "100";

/// Holds the switch lock until dropped.
pub struct Lock(#[allow(dead_code)] Flock<File>);

/// Blocks until this process holds the directory's switch lock.
pub fn lock(dir: &Path) -> Result<Lock> {
    let f = File::open(dir).with_context(|| format!("cannot open {} to lock it", dir.display()))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map(Lock)
        .map_err(|(_, e)| anyhow!("cannot lock {}: {e}", dir.display()))
}

/// Makes `link` a symlink to `target`, replacing whatever was there in one
/// `rename(2)`.
pub fn replace_link(link: &Path, target: &Path) -> Result<()> {
    replace_links(&[link.to_path_buf()], target, another_name)
}

/// Gives the file `old` (a symlink itself, not what it leads to) the name
/// `new`: std's `hard_link` is `linkat(2)` without `AT_SYMLINK_FOLLOW` here.
fn another_name(old: &Path, new: &Path) -> io::Result<()> {
    fs::hard_link(old, new)
}

/// The temporary name of `link` while it is being replaced: hidden, in the
/// same directory (`rename(2)` does not cross directories), unique to this
/// process.
fn tmp_name(link: &Path) -> PathBuf {
    let dir = link.parent().unwrap_or(Path::new("."));
    let name = link.file_name().unwrap_or_default().to_string_lossy();
    dir.join(format!(".{name}.iptables-wrapper-{}", std::process::id()))
}

/// Runs `make(tmp)`; a file already at `tmp` is a leftover of a killed
/// process that had our pid, removed only when met.
fn fresh(tmp: &Path, make: impl Fn(&Path) -> io::Result<()>) -> io::Result<()> {
    match make(tmp) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(tmp)?;
            make(tmp)
        }
        r => r,
    }
}

/// Makes each of `links` (all in one directory) a symlink to `target`,
/// each replaced in one `rename(2)`, with one new inode for all: a symlink
/// under the first name's temporary name, given every other name's
/// temporary name by `hard_link` (`link(2)`, which does not follow it) and
/// renamed over that name at once, then renamed over the first name. Where
/// a hard link fails (EPERM where the file system or a policy refuses it,
/// EMLINK, EXDEV, ENOTSUP...), that name and the rest get a symlink each.
/// At most two temporary names exist at any moment; every one is removed
/// on every error path, and a kill leaves at most those two, hidden and
/// leading to `target`.
fn replace_links(
    links: &[PathBuf],
    target: &Path,
    hard_link: impl Fn(&Path, &Path) -> io::Result<()>,
) -> Result<()> {
    let Some((first, rest)) = links.split_first() else {
        return Ok(());
    };
    let shared = tmp_name(first);
    fresh(&shared, |tmp| symlink(target, tmp))
        .with_context(|| format!("cannot repoint {}", first.display()))?;
    let mut linked = true;
    let done = rest
        .iter()
        .try_for_each(|link| -> Result<()> {
            let tmp = tmp_name(link);
            if linked {
                linked = fresh(&tmp, |tmp| hard_link(&shared, tmp)).is_ok();
            }
            if !linked {
                fresh(&tmp, |tmp| symlink(target, tmp))
                    .with_context(|| format!("cannot repoint {}", link.display()))?;
            }
            fs::rename(&tmp, link)
                .inspect_err(|_| {
                    let _ = fs::remove_file(&tmp);
                })
                .with_context(|| format!("cannot repoint {}", link.display()))
        })
        .and_then(|()| {
            fs::rename(&shared, first)
                .with_context(|| format!("cannot repoint {}", first.display()))
        });
    if done.is_err() {
        let _ = fs::remove_file(&shared);
    }
    done
}

/// The alternatives groups that exist in `root`, by name, and the system
/// that keeps each.
fn groups(root: &Root) -> Result<Vec<(&'static str, Group, System)>> {
    let mut found = Vec::new();
    for name in alternatives::GROUPS {
        if let Some((g, system)) = Group::read(root, name)? {
            found.push((name, g, system));
        }
    }
    Ok(found)
}

/// Whether any of the six names in the in-image directory `dir` of `root`
/// links into /etc/alternatives.
fn managed(root: &Root, dir: &Path) -> bool {
    COMMANDS
        .iter()
        .any(|c| alternatives::is_managed(&root.path(dir.join(c))))
}

/// Whether a group links names of both families (Fedora's `iptables`).
fn covers_both_families(g: &Group) -> bool {
    let names = g.names();
    let covers = |f: Family| names.iter().any(|n| Family::of_command(n) == f);
    covers(Family::V4) && covers(Family::V6)
}

/// The alternatives group that keeps the families of `dir` from having
/// different modes, if any: one group linking names of both (Fedora).
pub fn split_blocker(dir: &Path) -> Option<String> {
    if !managed(&Root::HOST, dir) {
        return None;
    }
    groups(&Root::HOST)
        .ok()?
        .into_iter()
        .find(|(_, g, _)| covers_both_families(g))
        .map(|(name, _, _)| name.to_string())
}

/// Points the six names in `dir` that still lead to the wrapper at their
/// family's mode in `modes` (indexed by [`Family::index`]): through the
/// alternatives groups, or by repointing each plain link that leads to the
/// wrapper and does not follow its family's head (the head's rename takes
/// those along). Returns one line per change made.
pub fn to_modes(dir: &Path, modes: [Mode; 2], wrapper: Option<FileId>) -> Result<Vec<String>> {
    for (i, mode) in modes.iter().enumerate() {
        if !modes[..i].contains(mode) && !installed::has(&Root::HOST, dir, *mode) {
            bail!(
                "{} is missing or not executable",
                dir.join(mode.multi()).display()
            );
        }
    }
    // Each name's link is read once: where it points says whether it goes
    // through alternatives, and whether it follows its family's head.
    let names = COMMANDS.map(|name| {
        let path = dir.join(name);
        let target = fs::read_link(&path).ok();
        (name, path, target)
    });
    let managed =
        |target: &Option<PathBuf>| target.as_deref().is_some_and(alternatives::leads_into);
    let mut changes = Vec::new();
    if names.iter().any(|(_, _, target)| managed(target)) {
        changes.extend(alternatives_to_modes(modes)?);
    }
    // The plain links that lead to the wrapper, by the mode they get. A name
    // that follows its head is left as it is: it leads wherever the head
    // does, so the head's one rename switches it too.
    let plain: Vec<(&str, PathBuf)> = names
        .into_iter()
        .filter(|(name, path, target)| {
            !managed(target)
                && !follows_head(name, target.as_deref())
                && wrapper.is_some()
                && FileId::of(path) == wrapper
        })
        .map(|(name, path, _)| (modes[Family::of_command(name).index()].multi(), path))
        .collect();
    for mode in Mode::ALL {
        let links: Vec<PathBuf> = plain
            .iter()
            .filter(|(multi, _)| *multi == mode.multi())
            .map(|(_, path)| path.clone())
            .collect();
        replace_links(&links, Path::new(mode.multi()), another_name)?;
        changes.extend(
            links
                .iter()
                .map(|l| format!("{} -> {}", l.display(), mode.multi())),
        );
    }
    Ok(changes)
}

/// Whether the name `command`, a symlink to `target`, follows its family's
/// head as `install` links the plain layout: `iptables-save` ->
/// `iptables`, by the bare name, in the same directory.
fn follows_head(command: &str, target: Option<&Path>) -> bool {
    let head = Family::of_command(command).head();
    command != head && target == Some(Path::new(head))
}

/// Sets each group to its family's mode: the `iptables` group to IPv4's,
/// `ip6tables` to IPv6's. A group covering both families gets IPv4's.
fn alternatives_to_modes(modes: [Mode; 2]) -> Result<Vec<String>> {
    let tool = Tool::find().with_context(|| {
        format!(
            "the iptables names go through /etc/alternatives, but no update-alternatives or alternatives was found in {}",
            alternatives::TOOL_DIRS.join(", ")
        )
    })?;
    let mut changes = Vec::new();
    for (group, g, _) in groups(&Root::HOST)? {
        let family = Family::of_command(group);
        let mode = modes[family.index()];
        let wanted = format!("{group}-{mode}");
        let choice = g.registered(&wanted).with_context(|| {
            format!("the {group} alternatives group has no {wanted} registered")
        })?;
        if !is_executable(&choice.path) {
            bail!(
                "{} is registered for {group} but missing",
                choice.path.display()
            );
        }
        let choice = choice.path.to_string_lossy().into_owned();
        tool.run(&["--set", group, &choice])?;
        changes.push(format!("alternatives {group} -> {choice}"));
    }
    if changes.is_empty() {
        bail!("the iptables names go through /etc/alternatives, but neither alternatives group iptables nor ip6tables exists");
    }
    Ok(changes)
}

/// One change `install` makes, worked out before anything is changed.
pub enum Step {
    /// Register the wrapper in an alternatives group and make it selected.
    Alternative {
        tool: Tool,
        group: &'static str,
        links: Group,
        /// The wrapper, spelled in the directory of the group's master link
        /// (`/usr/sbin/iptables-wrapper` even when called as
        /// `/sbin/iptables-wrapper` on a merged-/usr image), so that every
        /// install registers the same path.
        alt: PathBuf,
    },
    /// Point a name (in-image path) at `target`, as the link will hold it:
    /// the wrapper's file name, or the family's head (`iptables`) that
    /// leads to the wrapper.
    Link { path: PathBuf, target: PathBuf },
}

/// What it takes to put the wrapper `own`, in `dir` (both in-image paths of
/// `root`), in front of the six names: through the alternatives groups where
/// they manage the names, unless `symlinks`; as plain links otherwise
/// (each family's head to the wrapper, its other names to the head). Names
/// already linked so are left alone. The error says what is wrong and what
/// to do.
pub fn plan_install(root: &Root, dir: &Path, own: &Path, symlinks: bool) -> Result<Vec<Step>> {
    let own_id = root.file_id(own);
    let mut steps = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    if managed(root, dir) && !symlinks {
        let real_dir = root.resolve(dir).and_then(|d| fs::canonicalize(d).ok());
        let same_dir = |p: &Path| {
            p.parent()
                .and_then(|d| root.resolve(d))
                .and_then(|d| fs::canonicalize(d).ok())
                == real_dir
        };
        let found = groups(root).map_err(|e| anyhow!("{e:#}; pass --symlinks"))?;
        // The tool for each alternatives system, found (and, for another
        // root, tried with a query) once however many groups it keeps.
        let mut tools: Vec<(System, Tool)> = Vec::new();
        for (group, mut links, system) in found {
            let tool = match tools.iter().find(|(s, _)| *s == system) {
                Some((_, t)) => t.clone(),
                None => {
                    let t = Tool::for_root(root, system)?;
                    tools.push((system, t.clone()));
                    t
                }
            };
            if !same_dir(&links.master) {
                bail!(
                    "the {group} alternative manages {}, but the wrapper is in {}; install it next to the iptables it stands in for",
                    links.master.display(),
                    dir.display()
                );
            }
            links
                .slaves
                .retain(|(name, link)| names::command(name).is_some() && same_dir(link));
            covered.extend(links.names());
            let alt = links
                .master
                .with_file_name(own.file_name().unwrap_or_default());
            steps.push(Step::Alternative {
                tool,
                group,
                links,
                alt,
            });
        }
    }
    // Plain links: each family's head (`iptables`, `ip6tables`) links to
    // the wrapper and the family's other names link to the head, so that a
    // switch repoints two names instead of six (on a pod's overlayfs every
    // rename or link costs about 15 µs, see BENCHMARKS.md). A name whose head
    // goes through alternatives links to the wrapper itself.
    //
    // A name already linked so is left alone, and so is a name to be
    // linked to the wrapper that already leads there by another way (`/sbin`
    // spellings, absolute targets), unless it goes through
    // /etc/alternatives: then it is either in a group handled above or the
    // caller asked for --symlinks. A name linked straight to the wrapper as
    // earlier versions did is linked to its head instead.
    let uncovered = |c: &str| !covered.iter().any(|n| n == c);
    let wrapper_name = PathBuf::from(own.file_name().unwrap_or_default());
    for name in COMMANDS.iter().filter(|c| uncovered(c)) {
        let path = dir.join(name);
        let head = Family::of_command(name).head();
        let (target, to_wrapper) = if *name != head && uncovered(head) {
            (PathBuf::from(head), false)
        } else {
            (wrapper_name.clone(), true)
        };
        let now = fs::read_link(root.path(&path)).ok();
        let done = now.as_ref() == Some(&target)
            || (to_wrapper && already_leads_to_wrapper(root, &path, now.as_deref(), own_id));
        if !done {
            steps.push(Step::Link { path, target });
        }
    }
    Ok(steps)
}

/// Whether the name at the in-image `path`, a link to `target` (as read;
/// `None` if it is no link), already leads to the wrapper `own_id` by a way
/// `install` may leave as it is: not through /etc/alternatives, and not
/// through another of the six names (`iptables -> iptables-save`, made by
/// hand), since those names are about to be linked to it, which would close
/// a loop.
fn already_leads_to_wrapper(
    root: &Root,
    path: &Path,
    target: Option<&Path>,
    own_id: Option<FileId>,
) -> bool {
    let through_a_name = target
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .is_some_and(|n| names::command(n).is_some());
    own_id.is_some()
        && !target.is_some_and(alternatives::leads_into)
        && !through_a_name
        && root.file_id(path) == own_id
}

impl Step {
    /// Makes the change in `root`, for the wrapper `own` (an in-image
    /// path); returns one line per change made.
    pub fn apply(&self, root: &Root, own: &Path) -> Result<Vec<String>> {
        match self {
            Step::Link { path, target } => {
                let real = root.path(path);
                replace_link(&real, target)?;
                Ok(vec![format!(
                    "linked {} -> {}",
                    real.display(),
                    target.display()
                )])
            }
            Step::Alternative {
                tool,
                group,
                links,
                alt,
            } => {
                let own_s = alt.to_string_lossy();
                let mut changes = Vec::new();
                let registered = Group::read(root, group)?
                    .and_then(|(g, _)| {
                        g.alternatives
                            .into_iter()
                            .find(|a| a.path == *alt && a.priority_number() == PRIORITY)
                    })
                    .is_some();
                if !registered {
                    let master = links.master.to_string_lossy();
                    let mut args: Vec<String> = vec![
                        "--install".into(),
                        master.into(),
                        group.to_string(),
                        own_s.to_string(),
                        PRIORITY.into(),
                    ];
                    for (name, link) in &links.slaves {
                        args.extend([
                            "--slave".into(),
                            link.to_string_lossy().into(),
                            name.clone(),
                            own_s.to_string(),
                        ]);
                    }
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    tool.run(&args)?;
                    changes.push(format!(
                        "registered {own_s} as the {group} alternative with priority {PRIORITY}"
                    ));
                }
                let selected = || root.file_id(&links.master) == root.file_id(own);
                if !selected() {
                    tool.run(&["--auto", group])?;
                    if !selected() {
                        tool.run(&["--set", group, &own_s])?;
                    }
                    changes.push(format!("selected {own_s} for the {group} alternative"));
                }
                Ok(changes)
            }
        }
    }
}

/// Where one name leads, for `verify` and the first call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leads {
    Wrapper,
    Mode(Mode),
    Missing,
    /// A symlink whose target does not exist.
    Dangling,
    /// Some other file.
    Other,
}

/// Where `path` leads once every link is followed.
pub fn leads(path: &Path, wrapper: Option<FileId>) -> Leads {
    if fs::symlink_metadata(path).is_err() {
        return Leads::Missing;
    }
    let Some(id) = FileId::of(path) else {
        return Leads::Dangling;
    };
    if wrapper == Some(id) {
        return Leads::Wrapper;
    }
    match locate::resolved_mode(path) {
        Some(m) => Leads::Mode(m),
        None => Leads::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locate::resolved_mode;

    fn scratch(tag: &str) -> PathBuf {
        crate::test_exe::iptables_dir(&format!("switch-{tag}"))
    }

    #[test]
    fn repoints_only_the_names_that_lead_to_the_wrapper() {
        let d = scratch("links");
        for c in ["iptables", "iptables-save", "ip6tables-restore"] {
            symlink("iptables-wrapper", d.join(c)).unwrap();
        }
        symlink("xtables-legacy-multi", d.join("ip6tables")).unwrap();
        let wrapper = FileId::of(&d.join("iptables-wrapper"));
        let changes = to_modes(&d, [Mode::Nft; 2], wrapper).unwrap();
        assert_eq!(changes.len(), 3, "{changes:?}");
        for c in ["iptables", "iptables-save", "ip6tables-restore"] {
            assert_eq!(
                fs::read_link(d.join(c)).unwrap(),
                PathBuf::from("xtables-nft-multi")
            );
        }
        assert_eq!(
            resolved_mode(&d.join("ip6tables")),
            Some(Mode::Legacy),
            "left alone"
        );
        assert!(
            !d.join("ip6tables-save").exists(),
            "absent names are not created"
        );
        // A second switch finds nothing left to do.
        assert!(to_modes(&d, [Mode::Nft; 2], wrapper).unwrap().is_empty());
        let leftovers = hidden(&d);
        assert!(leftovers.is_empty(), "{leftovers:?}");
        fs::remove_dir_all(&d).unwrap();
    }

    /// The hidden names left in `d` (temporary names).
    fn hidden(d: &Path) -> Vec<String> {
        fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    }

    /// (inode, link count) of the file at `p` itself, not what it leads to.
    fn inode(p: &Path) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        let m = fs::symlink_metadata(p).unwrap();
        assert!(
            m.file_type().is_symlink(),
            "{} is not a symlink",
            p.display()
        );
        (m.ino(), m.nlink())
    }

    fn names_in(d: &Path, names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(|n| d.join(n)).collect()
    }

    #[test]
    fn the_names_of_one_mode_share_one_new_symlink() {
        let d = scratch("shared");
        for c in COMMANDS {
            symlink("iptables-wrapper", d.join(c)).unwrap();
        }
        let wrapper = FileId::of(&d.join("iptables-wrapper"));
        to_modes(&d, [Mode::Legacy, Mode::Nft], wrapper).unwrap();
        let v4: Vec<_> = ["iptables", "iptables-save", "iptables-restore"]
            .map(|c| inode(&d.join(c)))
            .to_vec();
        let v6: Vec<_> = ["ip6tables", "ip6tables-save", "ip6tables-restore"]
            .map(|c| inode(&d.join(c)))
            .to_vec();
        assert!(v4.iter().all(|i| *i == (v4[0].0, 3)), "{v4:?}");
        assert!(v6.iter().all(|i| *i == (v6[0].0, 3)), "{v6:?}");
        assert_ne!(v4[0].0, v6[0].0, "one inode per mode");
        assert!(hidden(&d).is_empty(), "{:?}", hidden(&d));
        // A later install gives each name a link of its own again.
        replace_link(&d.join("iptables"), Path::new("iptables-wrapper")).unwrap();
        assert_eq!(leads(&d.join("iptables"), wrapper), Leads::Wrapper);
        assert_eq!(inode(&d.join("iptables-save")).1, 2);
        assert_eq!(
            leads(&d.join("iptables-save"), wrapper),
            Leads::Mode(Mode::Legacy)
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn where_hard_links_fail_each_name_gets_its_own_symlink() {
        use std::cell::Cell;
        for (tag, allowed, errno) in [
            ("eperm", 0, nix::libc::EPERM),
            ("emlink", 1, nix::libc::EMLINK),
            ("exdev", 0, nix::libc::EXDEV),
            ("enotsup", 0, nix::libc::EOPNOTSUPP),
        ] {
            let d = scratch(&format!("fallback-{tag}"));
            let names = ["iptables", "iptables-save", "iptables-restore", "ip6tables"];
            for c in names {
                symlink("iptables-wrapper", d.join(c)).unwrap();
            }
            // link(2) works `allowed` times, then fails with `errno`.
            let calls = Cell::new(0);
            let failing = |old: &Path, new: &Path| {
                calls.set(calls.get() + 1);
                if calls.get() > allowed {
                    return Err(io::Error::from_raw_os_error(errno));
                }
                another_name(old, new)
            };
            replace_links(
                &names_in(&d, &names),
                Path::new("xtables-nft-multi"),
                failing,
            )
            .unwrap();
            assert_eq!(
                calls.get(),
                allowed + 1,
                "{tag}: no link(2) after a failure"
            );
            for c in names {
                assert_eq!(
                    fs::read_link(d.join(c)).unwrap(),
                    PathBuf::from("xtables-nft-multi"),
                    "{tag}: {c}"
                );
            }
            let mut inodes: Vec<u64> = names.iter().map(|c| inode(&d.join(c)).0).collect();
            inodes.sort();
            inodes.dedup();
            // The first name and the `allowed` linked ones share one inode.
            assert_eq!(inodes.len(), names.len() - allowed, "{tag}");
            assert!(hidden(&d).is_empty(), "{tag}: {:?}", hidden(&d));
            fs::remove_dir_all(&d).unwrap();
        }
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_name() {
        let d = scratch("rename-fails");
        for c in ["iptables", "iptables-restore"] {
            symlink("iptables-wrapper", d.join(c)).unwrap();
        }
        // A name that is a non-empty directory cannot be renamed over.
        fs::create_dir(d.join("iptables-save")).unwrap();
        fs::write(d.join("iptables-save/x"), "").unwrap();
        let names = names_in(&d, &["iptables", "iptables-restore", "iptables-save"]);
        let err = replace_links(&names, Path::new("xtables-nft-multi"), another_name).unwrap_err();
        assert!(
            format!("{err:#}").starts_with(&format!(
                "cannot repoint {}",
                d.join("iptables-save").display()
            )),
            "{err:#}"
        );
        assert!(hidden(&d).is_empty(), "{:?}", hidden(&d));
        // Every name is either as before or switched, never missing.
        assert_eq!(
            fs::read_link(d.join("iptables")).unwrap(),
            PathBuf::from("iptables-wrapper")
        );
        assert_eq!(
            fs::read_link(d.join("iptables-restore")).unwrap(),
            PathBuf::from("xtables-nft-multi")
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_leftover_with_our_pid_is_replaced() {
        let d = scratch("leftover");
        for c in ["iptables", "iptables-save"] {
            symlink("iptables-wrapper", d.join(c)).unwrap();
            // What a killed process with our pid would have left.
            symlink("elsewhere", tmp_name(&d.join(c))).unwrap();
        }
        let names = names_in(&d, &["iptables", "iptables-save"]);
        replace_links(&names, Path::new("xtables-legacy-multi"), another_name).unwrap();
        for n in &names {
            assert_eq!(
                fs::read_link(n).unwrap(),
                PathBuf::from("xtables-legacy-multi")
            );
        }
        assert!(hidden(&d).is_empty(), "{:?}", hidden(&d));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn each_family_gets_its_own_mode() {
        let d = scratch("split");
        for c in COMMANDS {
            symlink("iptables-wrapper", d.join(c)).unwrap();
        }
        let wrapper = FileId::of(&d.join("iptables-wrapper"));
        to_modes(&d, [Mode::Legacy, Mode::Nft], wrapper).unwrap();
        for c in COMMANDS {
            let want = if c.starts_with("ip6") {
                Mode::Nft
            } else {
                Mode::Legacy
            };
            assert_eq!(leads(&d.join(c), wrapper), Leads::Mode(want), "{c}");
        }
        assert_eq!(split_blocker(&d), None, "plain links can split");
        fs::remove_dir_all(&d).unwrap();
    }

    /// Plans and applies a plain-link install of `d`'s wrapper in `d`.
    fn install_plain(d: &Path) -> Vec<String> {
        let own = d.join("iptables-wrapper");
        let steps = plan_install(&Root::HOST, d, &own, true).unwrap();
        steps
            .iter()
            .flat_map(|s| s.apply(&Root::HOST, &own).unwrap())
            .collect()
    }

    /// Asserts `install`'s plain layout in `d`: each family's head links to
    /// the wrapper, its other names to the head.
    fn assert_heads_layout(d: &Path) {
        for c in COMMANDS {
            let head = Family::of_command(c).head();
            let want = if c == head { "iptables-wrapper" } else { head };
            assert_eq!(
                fs::read_link(d.join(c)).unwrap(),
                PathBuf::from(want),
                "{c}"
            );
        }
    }

    #[test]
    fn install_links_each_head_to_the_wrapper_and_the_rest_to_their_head() {
        let d = scratch("install-heads");
        // As a package leaves them: every name straight to a multi binary.
        for c in COMMANDS {
            symlink("xtables-nft-multi", d.join(c)).unwrap();
        }
        let changes = install_plain(&d);
        assert_eq!(changes.len(), 6, "{changes:?}");
        assert_heads_layout(&d);
        // Again: nothing to do.
        assert!(install_plain(&d).is_empty());
        // Each name straight to the wrapper, as earlier versions linked
        // them: the heads are kept, the other four are linked to them.
        for c in COMMANDS {
            replace_link(&d.join(c), Path::new("iptables-wrapper")).unwrap();
        }
        let relinked = install_plain(&d);
        assert_eq!(relinked.len(), 4, "{relinked:?}");
        assert!(install_plain(&d).is_empty());
        // A head that reaches the wrapper through one of its family's other
        // names, by hand: linked afresh, so that no loop forms.
        let wrapper = FileId::of(&d.join("iptables-wrapper"));
        replace_link(&d.join("iptables-save"), Path::new("iptables-wrapper")).unwrap();
        replace_link(&d.join("iptables"), Path::new("iptables-save")).unwrap();
        install_plain(&d);
        assert_heads_layout(&d);
        for c in COMMANDS {
            assert_eq!(leads(&d.join(c), wrapper), Leads::Wrapper, "{c}");
        }
        // After a switch, only the heads are linked back.
        to_modes(&d, [Mode::Legacy; 2], wrapper).unwrap();
        let again = install_plain(&d);
        assert_eq!(again.len(), 2, "{again:?}");
        for c in COMMANDS {
            assert_eq!(leads(&d.join(c), wrapper), Leads::Wrapper, "{c}");
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_switch_repoints_the_heads_and_the_other_names_follow() {
        for (tag, modes) in [
            ("same", [Mode::Nft; 2]),
            ("split", [Mode::Legacy, Mode::Nft]),
        ] {
            let d = scratch(&format!("heads-{tag}"));
            for c in COMMANDS {
                symlink("xtables-nft-multi", d.join(c)).unwrap();
            }
            install_plain(&d);
            let wrapper = FileId::of(&d.join("iptables-wrapper"));
            let changes = to_modes(&d, modes, wrapper).unwrap();
            assert_eq!(changes.len(), 2, "{tag}: {changes:?}");
            for c in COMMANDS {
                let head = Family::of_command(c).head();
                let want = modes[Family::of_command(c).index()];
                assert_eq!(leads(&d.join(c), wrapper), Leads::Mode(want), "{tag}: {c}");
                if c != head {
                    assert_eq!(fs::read_link(d.join(c)).unwrap(), PathBuf::from(head));
                }
            }
            // The heads of one mode share one new symlink.
            let heads = [inode(&d.join("iptables")), inode(&d.join("ip6tables"))];
            assert_eq!(
                heads[0] == heads[1],
                modes[0] == modes[1],
                "{tag}: {heads:?}"
            );
            assert!(hidden(&d).is_empty(), "{tag}: {:?}", hidden(&d));
            fs::remove_dir_all(&d).unwrap();
        }
    }

    #[test]
    fn a_name_linked_to_the_other_familys_head_is_repointed_itself() {
        let d = scratch("cross-family");
        symlink("iptables-wrapper", d.join("iptables")).unwrap();
        symlink("iptables", d.join("ip6tables")).unwrap();
        let wrapper = FileId::of(&d.join("iptables-wrapper"));
        to_modes(&d, [Mode::Legacy, Mode::Nft], wrapper).unwrap();
        assert_eq!(
            leads(&d.join("iptables"), wrapper),
            Leads::Mode(Mode::Legacy)
        );
        assert_eq!(leads(&d.join("ip6tables"), wrapper), Leads::Mode(Mode::Nft));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn never_points_at_a_missing_binary() {
        let d = scratch("missing");
        symlink("iptables-wrapper", d.join("iptables")).unwrap();
        fs::remove_file(d.join("xtables-legacy-multi")).unwrap();
        let w = FileId::of(&d.join("iptables-wrapper"));
        let err = to_modes(&d, [Mode::Legacy; 2], w).unwrap_err();
        assert!(
            err.to_string().contains("xtables-legacy-multi is missing"),
            "{err}"
        );
        assert_eq!(
            fs::read_link(d.join("iptables")).unwrap(),
            PathBuf::from("iptables-wrapper")
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn where_names_lead() {
        let d = scratch("leads");
        let w = FileId::of(&d.join("iptables-wrapper"));
        symlink("iptables-wrapper", d.join("iptables")).unwrap();
        symlink("xtables-nft-multi", d.join("iptables-save")).unwrap();
        symlink("nowhere", d.join("iptables-restore")).unwrap();
        assert_eq!(leads(&d.join("iptables"), w), Leads::Wrapper);
        assert_eq!(leads(&d.join("iptables-save"), w), Leads::Mode(Mode::Nft));
        assert_eq!(leads(&d.join("iptables-restore"), w), Leads::Dangling);
        assert_eq!(leads(&d.join("ip6tables"), w), Leads::Missing);
        fs::write(d.join("ip6tables-save"), "").unwrap();
        assert_eq!(leads(&d.join("ip6tables-save"), w), Leads::Other);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_lock_is_exclusive() {
        let d = scratch("lock");
        let held = lock(&d).unwrap();
        let f = File::open(&d).unwrap();
        assert!(Flock::lock(f, FlockArg::LockExclusiveNonblock).is_err());
        drop(held);
        let f = File::open(&d).unwrap();
        assert!(Flock::lock(f, FlockArg::LockExclusiveNonblock).is_ok());
        fs::remove_dir_all(&d).unwrap();
    }
}
