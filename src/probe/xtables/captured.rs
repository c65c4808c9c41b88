//! The table reader on bytes a real kernel wrote: the x_tables answers of
//! Debian's arm64 kernel captured in `tests/fixtures/arm64/` (see its
//! README), checked against `iptables-legacy-save`'s text of the same
//! tables. Neither the bytes nor the text come from this crate's encoder,
//! so a field read at the wrong offset, with the wrong width or in the
//! wrong order gives a count, a chain or a bound the text contradicts.
//!
//! The bytes are compiled in (`include_bytes!`), so these tests run in every
//! target's test binary, under qemu-user too. What that proves per target:
//! - amd64 and arm64: x_tables' layout is the same on both (`uapi_layout`
//!   holds the mirrors to each target's headers), so the 64-bit parsers read
//!   the real kernel's native answers right;
//! - 32-bit arm: its EABI layout aligns u64 to 8, like arm64, so every size
//!   and offset the reader uses is arm64's (`sizeof(struct
//!   xt_standard_target)` is 36 there, but `XT_ALIGN` pads it to the same 40
//!   in an entry). The captured bytes are thus also what a 32-bit ARM kernel
//!   answers, and what an arm64 kernel's compat translation hands a 32-bit
//!   binary, which is the layout the armv7 mirrors produce;
//! - big endian (s390x, not built here): the same tables byte-swapped field
//!   by field, read with the host order flipped ([`with_swapped_host`]).

use super::*;
use crate::detect::HINT_CHAINS;
use crate::probe::uapi_layout::in_order;

/// One table of one family, as the kernel answered and as
/// `iptables-legacy-save -t TABLE` printed it.
struct Capture {
    name: &'static str,
    table: &'static str,
    layout: EntryLayout,
    /// `IPT_SO_GET_INFO`'s `struct ipt_getinfo`.
    info: &'static [u8],
    /// `IPT_SO_GET_ENTRIES`' whole buffer: `struct ipt_get_entries`, entries.
    entries: &'static [u8],
    save: &'static str,
    /// What GET_INFO's sizes alone bound the rules to (see [`bounds`]).
    /// filter: 9 entries (3 policies, INPUT's and FORWARD's rule,
    /// KUBE-SERVICES' head, rule and tail, the final ERROR), 2 busy builtin
    /// chains: 2 to 5 rules. mangle: 5 policies, the hint chain's head and
    /// tail, the final entry: heads and tails alone would fit, so the count
    /// has to read the entries.
    bounds: Option<(u64, u64)>,
}

macro_rules! capture {
    ($name:literal, $table:literal, $layout:expr, $bounds:expr) => {
        Capture {
            name: $name,
            table: $table,
            layout: $layout,
            info: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/arm64/",
                $name,
                ".info.bin"
            )),
            entries: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/arm64/",
                $name,
                ".entries.bin"
            )),
            save: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/arm64/",
                $name,
                ".save"
            )),
            bounds: $bounds,
        }
    };
}

fn captures() -> [Capture; 4] {
    [
        capture!("ipv4-filter", "filter", IPT_ENTRY, Some((2, 5))),
        capture!("ipv4-mangle", "mangle", IPT_ENTRY, None),
        capture!("ipv6-filter", "filter", IP6T_ENTRY, Some((2, 5))),
        capture!("ipv6-mangle", "mangle", IP6T_ENTRY, None),
    ]
}

/// What one table's `iptables-legacy-save` text says.
#[derive(Debug)]
struct Saved {
    /// `-A` lines.
    rules: u64,
    /// `:NAME - [0:0]` lines: user chains have no policy, builtins do.
    user_chains: Vec<String>,
}

fn saved(table: &str, text: &str) -> Saved {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(format!("*{table}").as_str()), "{text}");
    let mut s = Saved {
        rules: 0,
        user_chains: Vec::new(),
    };
    let mut committed = false;
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["-A", ..] => s.rules += 1,
            [chain, "-", _] if chain.starts_with(':') => s.user_chains.push(chain[1..].into()),
            [chain, _policy, _] if chain.starts_with(':') => {}
            ["COMMIT"] => committed = true,
            _ => panic!("unexpected save line {line:?}"),
        }
    }
    assert!(committed, "no COMMIT in {text}");
    s
}

/// Feeds one capture's bytes to the reader, as [`read_table`] and
/// [`count_bounds`] would get them, and compares with the save text.
fn check(c: &Capture, info: &[u8], entries: &[u8]) -> Saved {
    let ctx = c.name;
    let want = saved(c.table, c.save);
    let info = parse_info(info.try_into().expect(ctx));
    assert_eq!(cstr(&info.name), c.table.as_bytes(), "{ctx}");

    // The buffer is exactly our request's header (xtdump.c wrote it from the
    // C struct) and then `size` bytes of entries.
    let hdr = c.layout.get_entries_hdr;
    assert_eq!(entries.len(), hdr + info.size as usize, "{ctx}");
    let name = table_name(c.table).unwrap();
    let request = entries_request(c.layout, &name, info.size);
    assert_eq!(entries[..hdr], request[..hdr], "{ctx}: request header");
    let blob = &entries[hdr..];

    let s = summarize(c.layout, &info, blob).expect(ctx);
    assert_eq!(s.rules, want.rules, "{ctx}: rules");
    assert_eq!(s.user_chains, want.user_chains, "{ctx}: user chains");
    assert_eq!(s.entries, info.num_entries, "{ctx}: entries walked");
    assert_eq!(
        (s.size, blob.len()),
        (info.size, info.size as usize),
        "{ctx}"
    );
    let hint = HINT_CHAINS
        .iter()
        .copied()
        .find(|h| want.user_chains.iter().any(|c| c == h));
    assert_eq!(s.hint(HINT_CHAINS), hint, "{ctx}: hint");

    assert_eq!(bounds(c.layout, &info), c.bounds, "{ctx}: bounds");
    let mut read = false;
    let (at_least, at_most) = bounds_or_read(c.layout, info, |info| {
        read = true;
        summarize(c.layout, &info, blob)
    })
    .expect(ctx);
    assert!(
        at_least <= want.rules && want.rules <= at_most,
        "{ctx}: {at_least}..={at_most} misses {}",
        want.rules
    );
    assert_eq!(read, c.bounds.is_none(), "{ctx}: entries read");
    want
}

/// The byte order the captures are in: arm64's, little endian. As
/// `uapi_layout`'s fixture orders: "native" on a little-endian target.
fn captured_order() -> (&'static str, &'static str) {
    if cfg!(target_endian = "little") {
        ("native", "swapped")
    } else {
        ("swapped", "native")
    }
}

#[test]
fn arm64_kernel_tables_read_like_iptables_save() {
    let (order, _) = captured_order();
    let mut rules = 0;
    let mut hints = 0;
    for c in captures() {
        let want = in_order(order, || check(&c, c.info, c.entries));
        rules += want.rules;
        hints += usize::from(want.user_chains.iter().any(|c| c == "KUBE-IPTABLES-HINT"));
    }
    // The save texts hold what the capture made (fixtures README): three
    // rules per family, a hint chain in each mangle.
    assert_eq!((rules, hints), (6, 2));
}

#[test]
fn arm64_kernel_tables_byte_swapped_read_the_same() {
    let (_, other) = captured_order();
    for c in captures() {
        let (info, entries) = swapped(&c);
        assert_ne!(info, c.info, "{}", c.name);
        assert_ne!(entries, c.entries, "{}", c.name);
        in_order(other, || check(&c, &info, &entries));
    }
}

/// The arm64 wrapper's own legacy probes on that kernel, during the capture
/// (`detect-probes.jsonl`): what it found is what the reader finds here in
/// the same tables' bytes.
#[test]
fn the_wrappers_probes_in_the_vm_agree() {
    let (order, _) = captured_order();
    let read: Vec<(&str, &str, TableSummary)> = in_order(order, || {
        captures()
            .iter()
            .map(|c| {
                let info = parse_info(c.info.try_into().unwrap());
                let blob = &c.entries[c.layout.get_entries_hdr..];
                let (family, _) = c.name.split_once('-').unwrap();
                (family, c.table, summarize(c.layout, &info, blob).unwrap())
            })
            .collect()
    });
    let jsonl = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/arm64/detect-probes.jsonl"
    ));
    let mut probes = 0;
    for line in jsonl.lines() {
        let p: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (&p["mode"], &p["source"], &p["result"]),
            (&"legacy".into(), &"kernel".into(), &"ok".into()),
            "{line}"
        );
        let family = p["family"].as_str().unwrap();
        let tables: Vec<&TableSummary> = read
            .iter()
            .filter(|(f, t, _)| *f == family && (p["table"] == "all" || p["table"] == *t))
            .map(|(_, _, s)| s)
            .collect();
        assert!(!tables.is_empty(), "{line}");
        let rules: u64 = tables.iter().map(|s| s.rules).sum();
        assert_eq!(p["rules"], rules, "{line}");
        if p["table"] == "mangle" {
            assert_eq!(p["hint"].as_str(), tables[0].hint(HINT_CHAINS), "{line}");
        }
        probes += 1;
    }
    assert_eq!(probes, 4);
}

/// A little-endian u16 of the capture, read without [`Host`]: the walk
/// that swaps must not share the reader's byte order.
fn le16(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]).into()
}

fn swap(b: &mut [u8], at: usize, width: usize) {
    b[at..at + width].reverse();
}

/// An entry's host-order fields, (offset, width): the ip part's `proto`
/// (its addresses are in network order either way), nfcache, the offsets,
/// comefrom and the counters.
macro_rules! entry_fields {
    ($t:ty) => {
        [
            (offset_of!($t, ip.proto), 2),
            (offset_of!($t, nfcache), 4),
            (offset_of!($t, target_offset), 2),
            (offset_of!($t, next_offset), 2),
            (offset_of!($t, comefrom), 4),
            (offset_of!($t, counters.pcnt), 8),
            (offset_of!($t, counters.bcnt), 8),
        ]
    };
}

/// The capture as a big-endian kernel would write it: every host-order
/// field of the structs the reader knows swapped. GET_INFO's words; the
/// request's size; per entry its fields ([`entry_fields!`]), each match's
/// `match_size` (at offset 0, where a target's `target_size` is: the same
/// union), the target's `target_size` and a standard target's verdict.
/// Names are bytes either way. The matches' own data (tcp's ports) stay as
/// captured: nothing reads them.
fn swapped(c: &Capture) -> (Vec<u8>, Vec<u8>) {
    let mut info = c.info.to_vec();
    for at in (XT_TABLE_MAXNAMELEN..size_of::<GetInfo>()).step_by(size_of::<u32>()) {
        swap(&mut info, at, size_of::<u32>());
    }
    let mut entries = c.entries.to_vec();
    swap(&mut entries, c.layout.get_entries_size, size_of::<u32>());
    let fields: &[(usize, usize)] = if c.layout.header == IPT_ENTRY.header {
        &entry_fields!(IptEntry)
    } else {
        &entry_fields!(Ip6tEntry)
    };
    let mut offset = c.layout.get_entries_hdr;
    while offset < entries.len() {
        let e = &mut entries[offset..];
        let target = le16(e, c.layout.target_offset);
        let next = le16(e, c.layout.next_offset);
        for &(at, width) in fields {
            swap(e, at, width);
        }
        let mut m = c.layout.header;
        while m < target {
            let size = le16(e, m + TARGET_SIZE_OFF);
            assert!(size > 0, "{}: empty match at {offset}+{m}", c.name);
            swap(e, m + TARGET_SIZE_OFF, 2);
            m += size;
        }
        assert_eq!(m, target, "{}: matches overrun the target", c.name);
        swap(e, target + TARGET_SIZE_OFF, 2);
        if cstr(&e[target + TARGET_NAME_OFF..][..XT_EXTENSION_MAXNAMELEN]) == XT_STANDARD_TARGET {
            swap(e, target + VERDICT_OFF, size_of::<i32>());
        }
        assert!(next > 0, "{}: zero next_offset at {offset}", c.name);
        offset += next;
    }
    assert_eq!(offset, entries.len(), "{}", c.name);
    (info, entries)
}
