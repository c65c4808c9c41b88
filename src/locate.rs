//! Where the wrapper was called from: the name (argv[0]'s basename) and the
//! iptables directory, which is the directory of the path it was called
//! through. That path is kept as called, not canonicalised: `/sbin/iptables`
//! on a merged-usr system is a different spelling of the same file, and the
//! links we repoint are the ones the caller uses.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::names::Mode;

/// The kernel's link to the running executable.
pub const SELF_EXE: &str = "/proc/self/exe";

/// The basename of argv[0], lossily decoded (the six names are ASCII).
pub fn basename(argv0: &OsStr) -> String {
    Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The path the program was run through. A bare name was found through PATH
/// by whoever exec'd us; a relative path is made absolute against the
/// working directory. `me` is this binary's identity
/// ([`FileId::current_exe`]), `None` without /proc.
pub fn called_path(argv0: &OsStr, me: Option<FileId>) -> Result<PathBuf> {
    called_path_given(argv0, me, exec_file_name().as_deref())
}

/// [`called_path`], with the file name the caller passed to `execve(2)`
/// given (`execfn`), so that tests need not exec.
fn called_path_given(argv0: &OsStr, me: Option<FileId>, execfn: Option<&Path>) -> Result<PathBuf> {
    let p = Path::new(argv0);
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    if p.components().count() > 1 {
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        return Ok(cwd.join(p));
    }
    // A bare name: the caller searched PATH (Go's exec and the shells pass
    // the absolute path they found), and the kernel kept that path for us.
    // It is trusted when it is absolute, ends in that very name (not, say,
    // a descriptor run as /dev/fd/3, whose directory holds no iptables) and
    // leads to this very binary. That costs one stat of a path the exec has
    // just looked up, where a PATH search looks up every directory before
    // the one that holds the name (about 5 µs each on a pod's overlayfs,
    // the first time).
    if let Some(found) = execfn.filter(|f| f.is_absolute() && f.file_name() == Some(argv0)) {
        if me.is_some() && FileId::of(found) == me {
            return Ok(found.to_path_buf());
        }
    }
    // Otherwise look the name up as the caller may have: it may have
    // searched another PATH, or run an explicit path with a bare argv[0],
    // so trust the lookup only if it leads to this very binary, and
    // otherwise use where the binary really is.
    match crate::path_search::find(argv0) {
        Ok(found) if me.is_none() || FileId::of(&found) == me => Ok(found),
        _ => fs::read_link(SELF_EXE).with_context(|| {
            format!("cannot find {argv0:?} in PATH, and {SELF_EXE} is not readable")
        }),
    }
}

/// The file name our caller passed to `execve(2)`, from the auxiliary
/// vector (`AT_EXECFN`); `None` where the kernel gave none.
fn exec_file_name() -> Option<PathBuf> {
    // SAFETY: getauxval only reads the auxiliary vector; AT_EXECFN's value,
    // when present, points at a NUL-terminated string on the initial stack,
    // which lives as long as the process.
    let p = unsafe { nix::libc::getauxval(nix::libc::AT_EXECFN) } as *const std::ffi::c_char;
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null, NUL-terminated as above.
    let name = unsafe { std::ffi::CStr::from_ptr(p) };
    Some(PathBuf::from(OsStr::from_bytes(name.to_bytes())))
}

/// The directory holding `path`, which must exist.
pub fn dir_of(path: &Path) -> Result<PathBuf> {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .with_context(|| format!("{} has no parent directory", path.display()))
}

/// Which mode `path` leads to once every link is followed, judged by the
/// basename of the final file: the multi binaries are the only files that
/// implement a mode.
pub fn resolved_mode(path: &Path) -> Option<Mode> {
    let real = final_file(path)?;
    let name = real.file_name()?.to_str()?;
    Mode::ALL.into_iter().find(|m| m.multi() == name)
}

/// Links followed before giving up, as many as the kernel follows (ELOOP).
pub(crate) const MAX_LINKS: usize = 40;

/// The existing file `path` leads to, spelt through the links' targets;
/// `None` if a link dangles or they loop. Only the last component is
/// followed, one readlink(2) per link: a directory on the way that is a link
/// moves the file but does not rename it, and each relative target is
/// joined as written, so the kernel resolves its `..` against the real
/// directory. `fs::canonicalize` would also read every directory on the way,
/// twice as many syscalls on the first call's path.
fn final_file(path: &Path) -> Option<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::read_link(&p) {
            // An absolute target replaces the path; a relative one is
            // relative to the link's directory.
            Ok(target) => p = p.parent().unwrap_or(Path::new("/")).join(target),
            // EINVAL: it exists and is not a link.
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => return Some(p),
            Err(_) => return None,
        }
    }
    None
}

/// A file's identity, to tell whether a name still leads to the wrapper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    pub fn of(path: &Path) -> Option<FileId> {
        fs::metadata(path).ok().map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    /// The running executable; `None` without /proc.
    pub fn current_exe() -> Option<FileId> {
        FileId::of(Path::new(SELF_EXE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basenames() {
        assert_eq!(
            basename(OsStr::new("/usr/sbin/iptables-restore")),
            "iptables-restore"
        );
        assert_eq!(basename(OsStr::new("ip6tables")), "ip6tables");
        assert_eq!(
            basename(OsStr::new("./bin/iptables-wrapper")),
            "iptables-wrapper"
        );
        assert_eq!(basename(OsStr::new("")), "");
    }

    #[test]
    fn called_paths_keep_the_spelling_used() {
        assert_eq!(
            called_path(OsStr::new("/sbin/iptables"), None).unwrap(),
            PathBuf::from("/sbin/iptables")
        );
        let rel = called_path(OsStr::new("x/iptables"), None).unwrap();
        assert!(rel.is_absolute() && rel.ends_with("x/iptables"));
        assert_eq!(
            dir_of(Path::new("/usr/sbin/iptables")).unwrap(),
            PathBuf::from("/usr/sbin")
        );
    }

    #[test]
    fn a_bare_name_is_where_the_caller_found_it() {
        let dir = std::env::temp_dir().join(format!("ipw-execfn-{}", std::process::id()));
        fs::create_dir_all(dir.join("elsewhere")).unwrap();
        fs::write(dir.join("iptables-wrapper"), "").unwrap();
        std::os::unix::fs::symlink("iptables-wrapper", dir.join("iptables")).unwrap();
        // A descriptor run with fexecve(3) leaves /dev/fd/3 as the path: a
        // name that leads here but is not the one called.
        std::os::unix::fs::symlink("iptables-wrapper", dir.join("3")).unwrap();
        fs::write(dir.join("elsewhere/iptables"), "").unwrap();
        let me = FileId::of(&dir.join("iptables-wrapper"));
        let name = OsStr::new("iptables");
        // The path the caller ran, leading to us: taken as it is.
        let called = dir.join("iptables");
        assert_eq!(called_path_given(name, me, Some(&called)).unwrap(), called);
        // Not trusted, so PATH and then /proc/self/exe decide (here the test
        // binary itself: no `iptables` in PATH is this file): another name
        // leading to us, the same name leading elsewhere, and a relative
        // path (that would lead to us from the working directory).
        let exe = fs::read_link(SELF_EXE).unwrap();
        let cwd = std::env::current_dir().unwrap();
        let up: PathBuf = cwd.components().skip(1).map(|_| "..").collect();
        let relative = up.join(called.strip_prefix("/").unwrap());
        assert_eq!(FileId::of(&relative), me, "{}", relative.display());
        for (execfn, me) in [
            (dir.join("3"), me),
            (dir.join("elsewhere/iptables"), me),
            (relative, me),
        ] {
            let got = called_path_given(name, me, Some(&execfn)).unwrap();
            assert_eq!(got, exe, "{}", execfn.display());
        }
        // Without an identity to check it against (no /proc), not trusted
        // either: PATH decides, as before.
        let got = called_path_given(name, None, Some(&called));
        assert!(got.as_ref().map_or(true, |p| *p != called), "{got:?}");
        // The process's own: this test binary, as cargo (or qemu-user, whose
        // /proc/self/exe is only right when read as a link) ran it.
        assert_eq!(
            fs::canonicalize(exec_file_name().unwrap()).unwrap(),
            fs::canonicalize(exe).unwrap()
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn modes_are_read_from_the_final_file() {
        let dir = std::env::temp_dir().join(format!("ipw-locate-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("xtables-nft-multi"), "").unwrap();
        std::os::unix::fs::symlink("xtables-nft-multi", dir.join("iptables-nft")).unwrap();
        std::os::unix::fs::symlink("iptables-nft", dir.join("iptables")).unwrap();
        std::os::unix::fs::symlink("missing", dir.join("ip6tables")).unwrap();
        // Through a linked directory and `..`, by an absolute target, and
        // round in a loop.
        fs::create_dir_all(dir.join("real/sbin")).unwrap();
        std::os::unix::fs::symlink("real/sbin", dir.join("sbin")).unwrap();
        fs::write(dir.join("real/xtables-legacy-multi"), "").unwrap();
        std::os::unix::fs::symlink("../xtables-legacy-multi", dir.join("real/sbin/iptables"))
            .unwrap();
        std::os::unix::fs::symlink(dir.join("iptables"), dir.join("iptables-save")).unwrap();
        std::os::unix::fs::symlink("loop-b", dir.join("loop-a")).unwrap();
        std::os::unix::fs::symlink("loop-a", dir.join("loop-b")).unwrap();
        assert_eq!(resolved_mode(&dir.join("iptables")), Some(Mode::Nft));
        assert_eq!(
            resolved_mode(&dir.join("sbin/iptables")),
            Some(Mode::Legacy)
        );
        assert_eq!(resolved_mode(&dir.join("iptables-save")), Some(Mode::Nft));
        assert_eq!(resolved_mode(&dir.join("ip6tables")), None);
        assert_eq!(resolved_mode(&dir.join("loop-a")), None);
        assert_eq!(
            FileId::of(&dir.join("iptables")),
            FileId::of(&dir.join("xtables-nft-multi"))
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
