//! Where `/` is. Every path the wrapper reads or writes about an image (its
//! iptables directory, the alternatives admin files, dpkg's status file)
//! is an absolute path *as the image sees it*. Normally the image is the
//! running system and those paths are used as they are. `install --root
//! DIR` works on an image from outside: the same paths then live under
//! DIR, and links inside it must be followed as the image will follow them
//! once DIR is its `/`, never into the host (Debian's
//! `/usr/sbin/iptables -> /etc/alternatives/iptables` is an absolute link).
//!
//! Link targets we write stay in-image paths (relative, or absolute as the
//! image sees them); only the places we read and write are mapped.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::locate::{FileId, MAX_LINKS};

/// The root of the image the wrapper works on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// `None`: the running system's own `/`, where the kernel resolves paths.
    dir: Option<PathBuf>,
}

impl Root {
    /// The running system: every path is used as it is.
    pub const HOST: Root = Root { dir: None };

    /// The image whose `/` is `dir` on this machine. `dir` must be a
    /// directory; it is made absolute and canonical once, here. `/` is
    /// handled as any other root, so that `install --root /` does what it
    /// says (copies the wrapper in, uses `update-alternatives --root /`).
    pub fn at(dir: &Path) -> Result<Root> {
        let real =
            fs::canonicalize(dir).with_context(|| format!("cannot open {}", dir.display()))?;
        if !real.is_dir() {
            bail!("{} is not a directory", dir.display());
        }
        Ok(Root { dir: Some(real) })
    }

    /// The root directory on this machine, unless this is the host.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Where the in-image absolute path `p` is on this machine, without
    /// following any link: for files we create, replace or read where the
    /// directories on the way are known to be real.
    pub fn path(&self, p: impl AsRef<Path>) -> PathBuf {
        let p = p.as_ref();
        match &self.dir {
            None => p.to_path_buf(),
            Some(d) => d.join(p.strip_prefix("/").unwrap_or(p)),
        }
    }

    /// The in-image path `p` with every link on the way followed as the
    /// image will follow it (an absolute target starts again at the root,
    /// `..` never leaves it), as a path on this machine; `None` if it does
    /// not exist, a link dangles or links loop. On the host the kernel does
    /// that at each use, so `p` is returned unchanged.
    pub fn resolve(&self, p: &Path) -> Option<PathBuf> {
        let Some(base) = &self.dir else {
            return Some(p.to_path_buf());
        };
        let mut done = PathBuf::from("/");
        let mut todo: Vec<OsString> = Vec::new();
        push_components(&mut todo, p);
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == "." {
                continue;
            }
            if c == ".." {
                done.pop();
                continue;
            }
            let next = done.join(&c);
            match fs::read_link(self.path(&next)) {
                Ok(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return None;
                    }
                    if target.is_absolute() {
                        done = PathBuf::from("/");
                    }
                    push_components(&mut todo, &target);
                }
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => done = next,
                Err(_) => return None,
            }
        }
        Some(base.join(done.strip_prefix("/").unwrap_or(&done)))
    }

    /// The identity of the file the in-image path `p` leads to.
    pub fn file_id(&self, p: &Path) -> Option<FileId> {
        FileId::of(&self.resolve(p)?)
    }

    /// How to show the in-image path `p` to people: as it is on the host,
    /// `p (in DIR)` otherwise.
    pub fn show(&self, p: &Path) -> String {
        match &self.dir {
            None => p.display().to_string(),
            Some(d) => format!("{} (in {})", p.display(), d.display()),
        }
    }
}

/// Pushes `p`'s components onto `todo` so that popping gives them in order.
fn push_components(todo: &mut Vec<OsString>, p: &Path) {
    let parts: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    todo.extend(parts.into_iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_are_followed_inside_the_root() {
        let d = std::env::temp_dir().join(format!("ipw-root-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("usr/bin")).unwrap();
        fs::create_dir_all(d.join("etc/alternatives")).unwrap();
        fs::write(d.join("usr/bin/xtables-nft-multi"), "").unwrap();
        // Fedora 42's merged sbin, Debian's absolute alternatives links, a
        // `..` that would leave the root, a dangling link and a loop.
        symlink("bin", d.join("usr/sbin")).unwrap();
        symlink("/etc/alternatives/iptables", d.join("usr/bin/iptables")).unwrap();
        symlink(
            "/usr/sbin/xtables-nft-multi",
            d.join("etc/alternatives/iptables"),
        )
        .unwrap();
        symlink(
            "../../../../usr/bin/xtables-nft-multi",
            d.join("usr/bin/up"),
        )
        .unwrap();
        symlink("/nowhere", d.join("usr/bin/dangling")).unwrap();
        symlink("loop", d.join("usr/bin/loop")).unwrap();
        let root = Root::at(&d).unwrap();
        let real = d.canonicalize().unwrap().join("usr/bin/xtables-nft-multi");
        for p in [
            "/usr/sbin/iptables",
            "/usr/bin/up",
            "/usr/sbin/../bin/iptables",
        ] {
            assert_eq!(root.resolve(Path::new(p)), Some(real.clone()), "{p}");
        }
        assert_eq!(root.resolve(Path::new("/usr/bin/dangling")), None);
        assert_eq!(root.resolve(Path::new("/usr/bin/loop")), None);
        assert_eq!(
            root.file_id(Path::new("/usr/sbin/iptables")),
            FileId::of(&real)
        );
        assert_eq!(
            root.path("/etc/os-release"),
            d.canonicalize().unwrap().join("etc/os-release")
        );
        assert!(root
            .show(Path::new("/usr/sbin"))
            .starts_with("/usr/sbin (in /"));
        // The host maps nothing and leaves resolving to the kernel.
        let slash = Root::at(Path::new("/")).unwrap();
        assert_eq!(slash.dir(), Some(Path::new("/")));
        assert_eq!(slash.path("/usr/sbin"), PathBuf::from("/usr/sbin"));
        assert_eq!(Root::HOST.path("/usr/sbin"), PathBuf::from("/usr/sbin"));
        assert_eq!(
            Root::HOST.resolve(Path::new("/x/../y")),
            Some(PathBuf::from("/x/../y"))
        );
        assert!(Root::at(&d.join("usr/bin/xtables-nft-multi")).is_err());
        assert!(Root::at(&d.join("missing")).is_err());
        fs::remove_dir_all(&d).unwrap();
    }
}
