//! The kernel's layout, as the target's own headers describe it: the
//! output of `tests/layout/uapi_layout.c` (see that file), which prints
//! every size, offset and constant the probes parse, and byte fixtures built
//! from the real uapi structs. Tests only.
//!
//! Where the output comes from:
//! - `IPTABLES_WRAPPER_UAPI_LAYOUT` names a file holding it: the program
//!   built by the target's cross gcc and run under qemu-user, for a test
//!   binary of another architecture;
//! - otherwise the program is compiled here with `cc` and run, which fits a
//!   native test run only (the output names its architecture, and a
//!   mismatch fails with what to do).
//!
//! Nothing passes silently: without the file or a working `cc` every test
//! that needs the layout fails and says why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::bytes::with_swapped_host;

pub const ENV: &str = "IPTABLES_WRAPPER_UAPI_LAYOUT";

/// The fixtures come in the target's byte order and in the other one.
pub const ORDERS: [&str; 2] = ["native", "swapped"];

pub struct Layout {
    /// Where the lines came from, for messages.
    source: String,
    /// Every `name value` line but the fixtures.
    facts: BTreeMap<String, String>,
    /// `fixture.ORDER.NAME` lines, by `ORDER.NAME`.
    fixtures: BTreeMap<String, Vec<u8>>,
}

/// The layout for this target, loaded once per test binary.
pub fn layout() -> &'static Layout {
    static LAYOUT: OnceLock<Result<Layout, String>> = OnceLock::new();
    match LAYOUT.get_or_init(|| load().and_then(|(text, source)| parse(&text, source))) {
        Ok(l) => l,
        Err(e) => panic!("uapi layout: {e}"),
    }
}

/// The bytes of fixture `name` in `order` ("native" or "swapped").
pub fn fixture(order: &str, name: &str) -> Vec<u8> {
    let l = layout();
    match l.fixtures.get(&format!("{order}.{name}")) {
        Some(b) => b.clone(),
        None => panic!("uapi layout: no fixture.{order}.{name} in {}", l.source),
    }
}

/// Runs `f` as a parser of `order`'s fixtures would run: with the host
/// byte order swapped for the "swapped" ones.
pub fn in_order<R>(order: &str, f: impl FnOnce() -> R) -> R {
    match order {
        "native" => f(),
        "swapped" => with_swapped_host(f),
        _ => panic!("unknown fixture order {order}"),
    }
}

fn load() -> Result<(String, String), String> {
    if let Some(path) = std::env::var_os(ENV) {
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {ENV}={}: {e}", path.display()))?;
        return Ok((text, path.display().to_string()));
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/layout/uapi_layout.c");
    compile_and_run(&src).map(|text| (text, format!("{} built by cc", src.display())))
}

fn compile_and_run(src: &Path) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("iptables-wrapper-uapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let exe = dir.join("uapi_layout");
    let result = (|| {
        let no_cc = |why: &dyn std::fmt::Display| {
            format!(
                "cannot run cc to compile {}: {why}; install gcc and linux-libc-dev \
                 (make deps), or set {ENV} to the program's output for this target",
                src.display()
            )
        };
        let cc = Command::new("cc")
            .args(["-std=gnu11", "-Wall", "-o"])
            .arg(&exe)
            .arg(src)
            .output()
            .map_err(|e| no_cc(&e))?;
        // 127: the spawn itself failed where it could not report why (a
        // test binary under qemu-user).
        if cc.status.code() == Some(127) {
            return Err(no_cc(&cc.status));
        }
        if !cc.status.success() {
            return Err(format!(
                "cc could not compile {} ({}); are linux-libc-dev's headers installed?\n{}",
                src.display(),
                cc.status,
                String::from_utf8_lossy(&cc.stderr)
            ));
        }
        let run = Command::new(&exe)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        if !run.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                exe.display(),
                run.status,
                String::from_utf8_lossy(&run.stderr)
            ));
        }
        String::from_utf8(run.stdout)
            .map_err(|e| format!("{}: output not UTF-8: {e}", exe.display()))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn parse(text: &str, source: String) -> Result<Layout, String> {
    let mut facts = BTreeMap::new();
    let mut fixtures = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let (name, value) = line
            .split_once(' ')
            .ok_or_else(|| format!("{source}:{}: not `name value`: {line:?}", n + 1))?;
        let new = match name.strip_prefix("fixture.") {
            Some(f) => fixtures.insert(f.to_string(), unhex(value)?).is_none(),
            None => facts.insert(name.to_string(), value.to_string()).is_none(),
        };
        if !new {
            return Err(format!("{source}:{}: {name} given twice", n + 1));
        }
    }
    if facts.is_empty() {
        return Err(format!("{source}: no layout lines"));
    }
    Ok(Layout {
        source,
        facts,
        fixtures,
    })
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .filter(|p| p.len() == 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("not hex bytes: {s:?}"))
        })
        .collect()
}

/// What the Rust side says, under the names the C program prints.
fn rust_facts() -> Vec<(String, String)> {
    let endian = if cfg!(target_endian = "big") {
        "big"
    } else {
        "little"
    };
    let mut v = vec![
        (
            "target.arch".to_string(),
            std::env::consts::ARCH.to_string(),
        ),
        ("target.endian".to_string(), endian.to_string()),
        ("target.pointer_width".to_string(), usize::BITS.to_string()),
    ];
    v.extend(super::xtables::uapi::layout());
    v.extend(super::netlink::uapi::layout());
    v
}

#[test]
fn layout_is_for_this_target() {
    let l = layout();
    for name in ["target.arch", "target.endian", "target.pointer_width"] {
        let (_, rust) = rust_facts().into_iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(
            l.facts.get(name),
            Some(&rust),
            "{name} of {} is not this test binary's: for another target, build \
             tests/layout/uapi_layout.c with its gcc, run it there (qemu-user) and set {ENV} \
             to its output",
            l.source
        );
    }
}

#[test]
fn rust_layout_matches_the_targets_headers() {
    let l = layout();
    let rust = rust_facts();
    let mut problems = Vec::new();
    for (name, value) in &rust {
        match l.facts.get(name) {
            None => problems.push(format!(
                "{name}: Rust has {value}, the C output has no such line"
            )),
            Some(c) if c != value => problems.push(format!("{name}: Rust {value}, C {c}")),
            Some(_) => {}
        }
    }
    for name in l.facts.keys() {
        if !rust.iter().any(|(n, _)| n == name) {
            problems.push(format!(
                "{name}: printed by the C program, not checked in Rust"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "Rust layout differs from {}:\n{}",
        l.source,
        problems.join("\n")
    );
    assert!(rust.len() > 100, "only {} facts compared", rust.len());
}

#[test]
fn fixtures_come_in_both_orders() {
    let l = layout();
    for name in l.fixtures.keys() {
        let (order, rest) = name.split_once('.').unwrap();
        assert!(ORDERS.contains(&order), "fixture.{name}: unknown order");
        let other = ORDERS.iter().find(|o| **o != order).unwrap();
        assert!(
            l.fixtures.contains_key(&format!("{other}.{rest}")),
            "fixture.{name} has no {other} twin"
        );
    }
    assert!(l.fixtures.len() >= 2 * 16, "{} fixtures", l.fixtures.len());
}
