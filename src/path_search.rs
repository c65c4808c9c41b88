//! Finding a command in PATH the way `execvp(3)` does, which is how whoever
//! ran us by a bare name found us.
//!
//! `which`'s default system layer expands `~` in PATH entries, which execvp
//! never does, and for that it may call glibc's `getpwuid_r`. In a static
//! binary that drags in NSS and `dlopen` (about 100 KB), and at run time it
//! would load whatever `libnss_*.so` the image happens to carry, built for
//! another glibc. This layer is `which`'s own `Sys` trait over std, minus
//! the home directory.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nix::unistd::{access, AccessFlags};
use which::sys::Sys;

/// The first executable `name` in `$PATH`.
pub fn find(name: impl AsRef<OsStr>) -> which::Result<PathBuf> {
    which::WhichConfig::new_with_sys(Execvp)
        .binary_name(name.as_ref().to_os_string())
        .first_result()
}

#[derive(Clone, Copy)]
struct Execvp;

impl Sys for Execvp {
    type ReadDirEntry = fs::DirEntry;
    type Metadata = fs::Metadata;

    fn is_windows(&self) -> bool {
        false
    }

    fn current_dir(&self) -> io::Result<PathBuf> {
        std::env::current_dir()
    }

    /// No home directory: execvp takes `~` in PATH literally.
    fn home_dir(&self) -> Option<PathBuf> {
        None
    }

    fn env_split_paths(&self, paths: &OsStr) -> Vec<PathBuf> {
        std::env::split_paths(paths).collect()
    }

    fn env_path(&self) -> Option<OsString> {
        std::env::var_os("PATH")
    }

    fn env_path_ext(&self) -> Option<OsString> {
        None
    }

    fn env_windows_path_ext(&self) -> Cow<'static, [String]> {
        Cow::Borrowed(&[])
    }

    fn metadata(&self, path: &Path) -> io::Result<fs::Metadata> {
        fs::metadata(path)
    }

    fn symlink_metadata(&self, path: &Path) -> io::Result<fs::Metadata> {
        fs::symlink_metadata(path)
    }

    fn read_dir(
        &self,
        path: &Path,
    ) -> io::Result<Box<dyn Iterator<Item = io::Result<fs::DirEntry>>>> {
        Ok(Box::new(fs::read_dir(path)?))
    }

    fn is_valid_executable(&self, path: &Path) -> io::Result<bool> {
        access(path, AccessFlags::X_OK).map_err(io::Error::from)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_commands_in_path_and_nothing_else() {
        let sh = find("sh").unwrap();
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert!(find("no-such-command-iptables-wrapper").is_err());
    }
}
