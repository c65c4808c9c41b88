//! Shared harness for the integration tests: runs a shell script inside a
//! throwaway Debian root file system in private network, mount and PID
//! namespaces (see tests/sandbox.sh), on the real kernel.
//!
//! These tests need root and the cached root file systems (`make rootfs`).
//! When they cannot run they fail with the reason; they never skip.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The Debian suites every scenario runs on, from `$SUITES` (the Makefile's)
/// or bookworm and trixie.
pub fn suites() -> Vec<String> {
    std::env::var("SUITES")
        .unwrap_or_else(|_| "bookworm trixie".into())
        .split_whitespace()
        .map(String::from)
        .collect()
}

pub use iptables_wrapper::names::Mode;

/// How `iptables -V` names a mode: `iptables v1.8.9 (nf_tables)`.
pub fn version_tag(mode: Mode) -> &'static str {
    match mode {
        Mode::Legacy => "(legacy)",
        Mode::Nft => "(nf_tables)",
    }
}

/// How a scenario puts the wrapper in front of the six names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Debian's alternatives groups, the wrapper registered with priority 100.
    Alternatives,
    /// The six names are symlinks to the wrapper, as on Alpine.
    Symlinks,
}

/// Where one family's three names lead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Wrapper,
    Mode(Mode),
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::Alternatives, Layout::Symlinks];

    pub fn install_command(self) -> &'static str {
        match self {
            Layout::Alternatives => "/usr/sbin/iptables-wrapper install",
            Layout::Symlinks => "/usr/sbin/iptables-wrapper install --symlinks",
        }
    }

    /// What the prelude's `links KEY` prints once IPv4's names lead to `v4`
    /// and IPv6's to `v6`: for the alternatives layout, NAME ->
    /// /etc/alternatives/NAME -> /usr/sbin/<target path>; for plain links,
    /// NAME -> <target link> for each family's head (`iptables`,
    /// `ip6tables`) and NAME -> head for its other names, as `install` links
    /// them.
    pub fn links(self, v4: Target, v6: Target) -> String {
        NAMES
            .iter()
            .map(|n| {
                // iptables-save -> iptables-legacy-save, ip6tables -> ip6tables-nft
                let (family, rest) = n.split_at(n.find('-').unwrap_or(n.len()));
                let target = if family == "iptables" { v4 } else { v6 };
                match (self, target) {
                    (Layout::Alternatives, Target::Wrapper) => {
                        format!("{n}->/etc/alternatives/{n}>/usr/sbin/iptables-wrapper")
                    }
                    (Layout::Alternatives, Target::Mode(m)) => format!(
                        "{n}->/etc/alternatives/{n}>/usr/sbin/{family}-{}{rest}",
                        m.as_str()
                    ),
                    // Each family's head leads on; its other names to it.
                    (Layout::Symlinks, target) => match (plain_target(n), target) {
                        ("iptables-wrapper", Target::Mode(m)) => format!("{n}->{}", m.multi()),
                        (t, _) => format!("{n}->{t}"),
                    },
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// [`Layout::links`] with both families leading to `target`.
    pub fn links_both(self, target: Target) -> String {
        self.links(target, target)
    }
}

/// The shell functions every scenario script starts with (see there).
pub const PRELUDE: &str = include_str!("prelude.sh");

/// The six names the wrapper stands in for.
pub const NAMES: [&str; 6] = [
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
];

/// Where `install` links the name `n` in the plain layout: each family's
/// head (`iptables`, `ip6tables`) to the wrapper, the other names to their
/// head.
pub fn plain_target(n: &str) -> &'static str {
    let head = if n.starts_with("ip6tables") {
        "ip6tables"
    } else {
        "iptables"
    };
    if n == head {
        "iptables-wrapper"
    } else {
        head
    }
}

/// The shell line that sets `$NAMES` to the six names, for scenario scripts.
pub fn names_sh() -> String {
    format!("NAMES=\"{}\"", NAMES.join(" "))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The wrapper binary under test: `$IPTABLES_WRAPPER_BIN`, else
/// bin/iptables-wrapper (`make build`).
pub fn binary() -> PathBuf {
    let bin = std::env::var_os("IPTABLES_WRAPPER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("bin/iptables-wrapper"));
    assert!(
        bin.is_file(),
        "no wrapper binary at {}; run `make build`",
        bin.display()
    );
    bin
}

/// What a sandboxed script did.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics with the whole transcript unless the script exited 0.
    pub fn ok(self) -> Run {
        assert_eq!(self.status, 0, "script failed:\n{self}");
        self
    }

    /// The value printed by the script as a line `KEY=value`.
    pub fn get(&self, key: &str) -> String {
        let prefix = format!("{key}=");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key}= line in the output:\n{self}"))
            .to_string()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit status {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `script` under /bin/sh in a fresh sandbox of `suite`, with `args`
/// as $1... The wrapper is at /usr/sbin/iptables-wrapper (not installed:
/// the script installs it the way the scenario needs). `copy` lists
/// (host path, path in the root) pairs to copy in first.
pub fn sandbox_with(suite: &str, script: &str, args: &[&str], copy: &[(&str, &str)]) -> Run {
    sandbox_env(suite, script, args, copy, &[])
}

/// [`sandbox_with`], with `env` set for tests/sandbox.sh (`SANDBOX_OUTSIDE`,
/// `SANDBOX_NO_WRAPPER`: see there).
pub fn sandbox_env(
    suite: &str,
    script: &str,
    args: &[&str],
    copy: &[(&str, &str)],
    env: &[(&str, &str)],
) -> Run {
    let pairs: Vec<String> = copy.iter().map(|(s, d)| format!("{s}:{d}")).collect();
    let out = Command::new("bash")
        .arg(repo().join("tests/sandbox.sh"))
        .arg(suite)
        .arg(script)
        .args(args)
        .env("SANDBOX_COPY", pairs.join(" "))
        .envs(env.iter().copied())
        .output()
        .expect("cannot run tests/sandbox.sh");
    let run = Run::from(out);
    if run.status == 97 {
        panic!("the sandbox cannot run here (needs root, `make rootfs` and `make build`):\n{run}");
    }
    run
}

pub fn sandbox(suite: &str, script: &str) -> Run {
    sandbox_with(suite, script, &[], &[])
}

/// One scenario on one suite in one layout.
pub struct Case<T> {
    pub suite: String,
    pub layout: Layout,
    pub what: T,
}

impl<T: std::fmt::Display> std::fmt::Display for Case<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {:?}, {}", self.suite, self.layout, self.what)
    }
}

/// Every suite × layout × scenario.
pub fn cases<T: Clone>(what: &[T]) -> Vec<Case<T>> {
    let mut v = Vec::new();
    for suite in suites() {
        for layout in Layout::ALL {
            for w in what {
                v.push(Case {
                    suite: suite.clone(),
                    layout,
                    what: w.clone(),
                });
            }
        }
    }
    v
}

/// Runs `body` in a sandbox of `suite` after installing the wrapper in
/// `layout`, with `copy` copied in (see [`sandbox_with`]). Checks that the
/// script ran to its end and that the install put the wrapper in front.
/// `$w` is the wrapper, and the prelude's functions are defined.
pub fn installed(suite: &str, layout: Layout, body: &str, copy: &[(&str, &str)]) -> Run {
    let script = format!(
        "{}\n{PRELUDE}\n{} >/dev/null\nlinks INSTALLED\n{body}\necho END=ok\n",
        names_sh(),
        layout.install_command()
    );
    let run = sandbox_with(suite, &script, &[], copy);
    assert_eq!(run.status, 0, "the script failed\n{run}");
    assert_eq!(run.get("END"), "ok", "the script stopped early\n{run}");
    assert_eq!(
        run.get("INSTALLED"),
        layout.links(Target::Wrapper, Target::Wrapper),
        "install did not put the wrapper in front of the names\n{run}"
    );
    run
}

/// The JSON document printed by the script as `KEY=...`.
pub fn json(run: &Run, key: &str) -> serde_json::Value {
    let text = run.get(key);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {text}\n{run}"))
}

pub fn expect(run: &Run, key: &str, want: &str) {
    assert_eq!(run.get(key), want, "{key}\n{run}");
}

/// Asserts that `iptables -V` (printed as KEY_*) ran `mode` successfully.
pub fn expect_version(run: &Run, key: &str, mode: Mode) {
    expect(run, &format!("{key}_RC"), "0");
    let out = run.get(&format!("{key}_OUT"));
    assert!(
        out.starts_with("ip") && out.contains(" v1.8.") && out.ends_with(version_tag(mode)),
        "{key} printed {out:?}, not the {} version line\n{run}",
        mode.as_str()
    );
}

/// What `resolved` prints when IPv4's names lead to `v4` and IPv6's to `v6`.
pub fn resolved(v4: Mode, v6: Mode) -> String {
    [
        v4.multi(),
        v4.multi(),
        v4.multi(),
        v6.multi(),
        v6.multi(),
        v6.multi(),
    ]
    .join(" ")
}

/// The lines printed as `KEY=` (joined by `call`).
pub fn lines(run: &Run, key: &str) -> Vec<String> {
    let joined = run.get(key);
    if joined.is_empty() {
        vec![]
    } else {
        joined.split(" | ").map(String::from).collect()
    }
}

/// Runs `f` on every case, each under `catch_unwind`, so that one failing
/// scenario does not hide the others. Panics at the end, listing every
/// failing case with its message and how many passed; returns quietly when
/// all pass. A case's Display is its label (suite, layout, scenario).
pub fn each<C: std::fmt::Display>(cases: impl IntoIterator<Item = C>, f: impl Fn(&C)) {
    let mut failed = Vec::new();
    let mut passed = 0;
    for case in cases {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&case))) {
            Ok(()) => passed += 1,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "(a panic without a message)".into());
                failed.push(format!("=== FAILED: {case}\n{msg}"));
            }
        }
    }
    if !failed.is_empty() {
        panic!(
            "{} case(s) failed, {passed} passed:\n\n{}\n\nfailing cases:\n{}",
            failed.len(),
            failed.join("\n\n"),
            failed
                .iter()
                .map(|f| format!("  {}", f.lines().next().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// The host's static busybox, which `make deps` installs: the sandboxes'
/// Debian roots have no `mount`, and the shell installer is also run under
/// busybox's sh. Copy it into a sandbox with `sandbox_with`'s `copy`.
/// Panics, saying what to install, when it is missing.
pub fn busybox() -> &'static str {
    let path = "/usr/bin/busybox";
    assert!(
        std::path::Path::new(path).is_file(),
        "{path} is missing: install busybox-static (make deps)"
    );
    path
}

/// The host path of tests/seccomp/deny (see there), compiled once per test
/// process. Copy it into a sandbox with `sandbox_with`'s `copy`, e.g. to
/// /usr/local/bin/deny.
pub fn deny() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| seccomp_helper("deny"))
}

/// The host path of tests/seccomp/stepkill (see there), compiled once per
/// test process.
pub fn stepkill() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| seccomp_helper("stepkill"))
}

/// tests/seccomp/NAME.c compiled with `cc -O2 -static`. The binary's name
/// carries a hash of the source, and it is compiled under a unique
/// temporary name and renamed into place, so test binaries running in
/// parallel neither race nor reuse a stale build.
fn seccomp_helper(name: &str) -> String {
    use std::hash::{Hash, Hasher};
    let src = repo().join(format!("tests/seccomp/{name}.c"));
    let text = std::fs::read(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let out = dir.join(format!("{name}-{:016x}", h.finish()));
    if !out.is_file() {
        std::fs::create_dir_all(&dir).expect("cannot create CARGO_TARGET_TMPDIR");
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let cc = Command::new("cc")
            .args(["-O2", "-static", "-Wall", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .expect("cannot run cc (install gcc and libc6-dev)");
        assert!(
            cc.status.success(),
            "cc failed on {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&cc.stderr)
        );
        std::fs::rename(&tmp, &out)
            .unwrap_or_else(|e| panic!("cannot rename the compiled {name} into place: {e}"));
    }
    out.to_str().expect("non-UTF-8 target dir").to_string()
}
