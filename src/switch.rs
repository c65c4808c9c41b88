//! Repoints the six names at a mode, safely under concurrency.
//!
//! - One switch at a time: an exclusive `flock(2)` on the iptables directory
//!   itself. Every caller of the six names agrees on that directory, locking
//!   it needs no lock file to create (so it also works on a read-only image),
//!   and the lock vanishes with the process that held it.
//! - Each link is replaced atomically: a new link under a temporary name in
//!   the same directory, then `rename(2)` over the old one. No name is ever
//!   missing or dangling, and a link is only ever pointed at a multi binary
//!   that exists.
//! - Names that go through /etc/alternatives are switched with the
//!   alternatives tool (see `alternatives.rs`).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};

use crate::alternatives;
use crate::locate::FileId;
use crate::names::{Mode, COMMANDS};
use crate::probe::is_executable;

/// Holds the switch lock until dropped.
pub struct Lock(#[allow(dead_code)] Flock<File>);

/// Blocks until this process holds the directory's switch lock.
pub fn lock(dir: &Path) -> Result<Lock> {
    let f = File::open(dir).with_context(|| format!("cannot open {} to lock it", dir.display()))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map(Lock)
        .map_err(|(_, e)| anyhow::anyhow!("cannot lock {}: {e}", dir.display()))
}

/// Makes `link` a symlink to `target`, replacing whatever was there in one
/// `rename(2)`. The temporary name is unique to this process.
pub fn replace_link(link: &Path, target: &Path) -> io::Result<()> {
    let dir = link.parent().unwrap_or(Path::new("."));
    let name = link.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.iptables-wrapper-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    symlink(target, &tmp)?;
    fs::rename(&tmp, link).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Points every one of the six names in `dir` that still leads to the
/// wrapper at `mode`. Returns one line per change made.
pub fn switch(dir: &Path, mode: Mode, wrapper: Option<FileId>) -> Result<Vec<String>> {
    let multi = dir.join(mode.multi());
    if !is_executable(&multi) {
        bail!("{} is missing or not executable", multi.display());
    }
    let mut changes = Vec::new();
    let paths: Vec<PathBuf> = COMMANDS.iter().map(|c| dir.join(c)).collect();
    if paths.iter().any(|p| alternatives::is_managed(p)) {
        changes.extend(switch_alternatives(mode)?);
    }
    for path in paths.iter().filter(|p| !alternatives::is_managed(p)) {
        if wrapper.is_some() && FileId::of(path) == wrapper {
            replace_link(path, Path::new(mode.multi()))
                .with_context(|| format!("cannot repoint {}", path.display()))?;
            changes.push(format!("{} -> {}", path.display(), mode.multi()));
        }
    }
    Ok(changes)
}

fn switch_alternatives(mode: Mode) -> Result<Vec<String>> {
    let tool = alternatives::find_tool().with_context(|| {
        format!(
            "the iptables names go through /etc/alternatives, but no update-alternatives or alternatives was found in {}",
            alternatives::TOOL_DIRS.join(", ")
        )
    })?;
    let mut changes = Vec::new();
    for group in alternatives::GROUPS {
        let Some(admin) = alternatives::admin_file(group) else {
            continue;
        };
        let text = fs::read_to_string(&admin)
            .with_context(|| format!("cannot read {}", admin.display()))?;
        let wanted = format!("{group}-{mode}");
        let choice = alternatives::registered_choice(&text, &wanted).with_context(|| {
            format!(
                "the {group} alternatives group has no {wanted} registered ({})",
                admin.display()
            )
        })?;
        if !is_executable(&choice) {
            bail!("{} is registered for {group} but missing", choice.display());
        }
        let choice = choice.to_string_lossy().into_owned();
        alternatives::run(&tool, &["--set", group, &choice])?;
        changes.push(format!("alternatives {group} -> {choice}"));
    }
    if changes.is_empty() {
        bail!("the iptables names go through /etc/alternatives, but neither alternatives group iptables nor ip6tables exists");
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locate::resolved_mode;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ipw-switch-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        for f in [
            "xtables-nft-multi",
            "xtables-legacy-multi",
            "iptables-wrapper",
        ] {
            fs::write(d.join(f), "#!/bin/sh\n").unwrap();
            fs::set_permissions(d.join(f), fs::Permissions::from_mode(0o755)).unwrap();
        }
        d
    }

    #[test]
    fn repoints_only_the_names_that_lead_to_the_wrapper() {
        let d = scratch("links");
        for c in ["iptables", "iptables-save", "ip6tables-restore"] {
            symlink("iptables-wrapper", d.join(c)).unwrap();
        }
        symlink("xtables-legacy-multi", d.join("ip6tables")).unwrap();
        let wrapper = FileId::of(&d.join("iptables-wrapper"));
        let changes = switch(&d, Mode::Nft, wrapper).unwrap();
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
        assert!(switch(&d, Mode::Nft, wrapper).unwrap().is_empty());
        let leftovers: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn never_points_at_a_missing_binary() {
        let d = scratch("missing");
        symlink("iptables-wrapper", d.join("iptables")).unwrap();
        fs::remove_file(d.join("xtables-legacy-multi")).unwrap();
        let err = switch(&d, Mode::Legacy, FileId::of(&d.join("iptables-wrapper"))).unwrap_err();
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
