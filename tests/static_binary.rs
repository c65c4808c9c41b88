//! The release binary is fully static: `ldd` finds nothing to load, and it
//! runs in a chroot that holds nothing but itself (no libc, no /proc).
//! Needs root (chroot) and `make build`; fails with the reason otherwise.

mod common;

use common::binary;

use std::fs;
use std::process::Command;

#[test]
fn ldd_says_it_is_not_dynamic() {
    let out = Command::new("ldd")
        .arg(binary())
        .output()
        .expect("cannot run ldd");
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("statically linked") || said.contains("not a dynamic executable"),
        "ldd: {said}"
    );
}

#[test]
fn runs_alone_in_an_empty_chroot() {
    let root = std::env::temp_dir().join(format!("ipw-empty-root-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).unwrap();
    // Copied by `cp`, not fs::copy: a write descriptor held by this process
    // could leak into the other test's forked child and make the exec below
    // fail with ETXTBSY ("Text file busy").
    let copied = Command::new("cp")
        .arg(binary())
        .arg(root.join("iptables-wrapper"))
        .status()
        .expect("cannot run cp");
    assert!(copied.success());
    let run = |args: &[&str]| {
        Command::new("chroot")
            .arg(&root)
            .arg("/iptables-wrapper")
            .args(args)
            .output()
            .expect("cannot run chroot (needs root)")
    };
    let version = run(&["--version"]);
    let usage = run(&["-L"]);
    let detect = run(&["detect", "--dir", "/"]);
    fs::remove_dir_all(&root).unwrap();

    assert!(version.status.success(), "{version:?}");
    let v = String::from_utf8_lossy(&version.stdout);
    assert!(v.starts_with("iptables-wrapper "), "{v}");
    // Errors are reported, not crashed on, with nothing else in the root.
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");
    // 127: neither mode installed, the same status a first call ends with.
    assert_eq!(detect.status.code(), Some(127), "{detect:?}");
    let said = String::from_utf8_lossy(&detect.stderr);
    assert!(
        said.starts_with("iptables-wrapper: neither xtables-legacy-multi nor xtables-nft-multi"),
        "{said}"
    );
}
