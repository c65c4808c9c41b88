//! Test-only: stand-in executables and directories for the unit tests.
//!
//! Why not `fs::write` and `chmod`: unit tests run on many threads of one
//! process. While this thread holds the new file open for writing, another
//! thread may fork to start a child; that child inherits the write descriptor
//! and keeps it until its own exec closes it (close-on-exec). If this thread
//! execs the file inside that window, the kernel refuses with ETXTBSY ("Text
//! file busy"). Letting a child process open and write the file means this
//! process never holds a write descriptor to it, so no sibling fork can
//! inherit one.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes `body` to `path` with mode 0755, from a short-lived child process.
pub fn write_executable(path: &Path, body: &[u8]) {
    let mut child = Command::new("/bin/sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("start /bin/sh to write a test executable");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(body)
        .expect("write the test executable's body");
    let status = child.wait().expect("wait for /bin/sh");
    assert!(
        status.success(),
        "writing {} failed: {status}",
        path.display()
    );
}

/// A fresh directory in the temp dir, unique to `tag` and this process,
/// holding stand-ins for the two multi binaries and the wrapper (executable
/// files, each its own inode), as an iptables directory does. Nothing in it
/// is run, so plain writes are safe here.
pub fn iptables_dir(tag: &str) -> std::path::PathBuf {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    let d = std::env::temp_dir().join(format!("ipw-{tag}-{}", std::process::id()));
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
