//! Which iptables modes a directory holds: the one answer every entry point
//! uses (detection's "only one installed", `install`'s checks, the switch
//! that must never point a name at a missing binary, and finding the
//! directory to work on). A mode is installed when its multi binary,
//! `xtables-<mode>-multi`, is a regular file that may be executed: the
//! six names of that mode are all links to it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::names::Mode;
use crate::root::Root;

/// True if `path` is a regular file (after links) that someone may execute.
pub fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Whether the in-image directory `dir` of `root` holds `mode`.
pub fn has(root: &Root, dir: &Path, mode: Mode) -> bool {
    root.resolve(&dir.join(mode.multi()))
        .is_some_and(|p| is_executable(&p))
}

/// The modes `dir` holds, legacy first.
pub fn modes(root: &Root, dir: &Path) -> Vec<Mode> {
    Mode::ALL
        .into_iter()
        .filter(|m| has(root, dir, *m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mode_is_an_executable_multi_binary() {
        let d = crate::test_exe::iptables_dir("installed");
        assert_eq!(modes(&Root::HOST, &d), Mode::ALL);
        fs::set_permissions(
            d.join("xtables-nft-multi"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(modes(&Root::HOST, &d), [Mode::Legacy]);
        fs::remove_file(d.join("xtables-legacy-multi")).unwrap();
        fs::create_dir(d.join("xtables-legacy-multi")).unwrap();
        assert!(
            modes(&Root::HOST, &d).is_empty(),
            "a directory is no binary"
        );
        assert!(!has(&Root::HOST, &d.join("missing"), Mode::Nft));
        fs::remove_dir_all(&d).unwrap();
    }
}
