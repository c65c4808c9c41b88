//! Rust mirrors of the x_tables uapi structs the table reader uses
//! (`<linux/netfilter_ipv4/ip_tables.h>`, `<linux/netfilter_ipv6/ip6_tables.h>`,
//! `<linux/netfilter/x_tables.h>`). Every size and offset the reader needs is
//! derived from these with `size_of`/`offset_of!`, so it follows the target's
//! C layout rules rather than x86_64's numbers: the alignment of the u64
//! counters decides the size of `ip6t_entry` (168 where u64 is 8-aligned,
//! 164 on i386) and of `ipt_get_entries` (40 or 36), and pointer width
//! decides the alignment of `xt_entry_target` (so `sizeof(struct
//! xt_standard_target)` is 40 on 64-bit targets and 36 on 32-bit ARM, where
//! `XT_ALIGN` pads it to 40 inside an entry).
//!
//! The structs are never built: only their layouts are used. The unit test
//! in `probe::uapi_layout` holds every size, offset and constant here to the
//! output of `tests/layout/uapi_layout.c` compiled for the same target.
//!
//! A 32-bit binary on a 64-bit kernel gets the kernel's compat layout, which
//! on arm64 is the 32-bit ARM EABI layout these mirrors produce when built
//! for armv7 (`compat_u64` is 8-aligned there; only x86_64 has a 4-aligned
//! one, for i386).

#![allow(dead_code)]

use std::mem::{align_of, offset_of, size_of};

/// `IPT_SO_GET_INFO` / `IP6T_SO_GET_INFO` (`IPT_BASE_CTL`).
pub const SO_GET_INFO: i32 = 64;
/// `IPT_SO_GET_ENTRIES` / `IP6T_SO_GET_ENTRIES`.
pub const SO_GET_ENTRIES: i32 = 65;
pub const XT_TABLE_MAXNAMELEN: usize = 32;
pub const XT_EXTENSION_MAXNAMELEN: usize = 29;
pub const XT_FUNCTION_MAXNAMELEN: usize = 30;
pub const NF_INET_NUMHOOKS: usize = 5;
pub const IFNAMSIZ: usize = 16;
pub const XT_ERROR_TARGET: &[u8] = b"ERROR";
/// The standard target's name is the empty string.
pub const XT_STANDARD_TARGET: &[u8] = b"";
/// `-NF_REPEAT - 1`.
pub const XT_RETURN: i32 = -5;

/// `struct ipt_getinfo` / `struct ip6t_getinfo` (identical layouts).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GetInfo {
    pub name: [u8; XT_TABLE_MAXNAMELEN],
    pub valid_hooks: u32,
    pub hook_entry: [u32; NF_INET_NUMHOOKS],
    pub underflow: [u32; NF_INET_NUMHOOKS],
    pub num_entries: u32,
    pub size: u32,
}

/// `struct ipt_get_entries` / `struct ip6t_get_entries`, with `E` the
/// family's entry: the flexible `entrytable[]` gives the struct the entry's
/// alignment, and so the padding after `size`.
#[repr(C)]
pub struct GetEntries<E> {
    pub name: [u8; XT_TABLE_MAXNAMELEN],
    pub size: u32,
    pub entrytable: [E; 0],
}

/// `struct xt_counters`.
#[repr(C)]
pub struct XtCounters {
    pub pcnt: u64,
    pub bcnt: u64,
}

/// `struct ipt_ip` (`struct in_addr` is one u32).
#[repr(C)]
pub struct IptIp {
    pub src: u32,
    pub dst: u32,
    pub smsk: u32,
    pub dmsk: u32,
    pub iniface: [u8; IFNAMSIZ],
    pub outiface: [u8; IFNAMSIZ],
    pub iniface_mask: [u8; IFNAMSIZ],
    pub outiface_mask: [u8; IFNAMSIZ],
    pub proto: u16,
    pub flags: u8,
    pub invflags: u8,
}

/// `struct ipt_entry` (`Ip` = [`IptIp`]) and `struct ip6t_entry` (`Ip` =
/// [`Ip6tIp6`]): the same fields after a family's address part.
#[repr(C)]
pub struct Entry<Ip> {
    pub ip: Ip,
    pub nfcache: u32,
    pub target_offset: u16,
    pub next_offset: u16,
    pub comefrom: u32,
    pub counters: XtCounters,
    pub elems: [u8; 0],
}

pub type IptEntry = Entry<IptIp>;
pub type Ip6tEntry = Entry<Ip6tIp6>;

/// `struct in6_addr`: a union whose widest member is `__be32[4]`.
pub type In6Addr = [u32; 4];

/// `struct ip6t_ip6`.
#[repr(C)]
pub struct Ip6tIp6 {
    pub src: In6Addr,
    pub dst: In6Addr,
    pub smsk: In6Addr,
    pub dmsk: In6Addr,
    pub iniface: [u8; IFNAMSIZ],
    pub outiface: [u8; IFNAMSIZ],
    pub iniface_mask: [u8; IFNAMSIZ],
    pub outiface_mask: [u8; IFNAMSIZ],
    pub proto: u16,
    pub tos: u8,
    pub flags: u8,
    pub invflags: u8,
}

/// `u.user` of `struct xt_entry_target`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct XtTargetUser {
    pub target_size: u16,
    pub name: [u8; XT_EXTENSION_MAXNAMELEN],
    pub revision: u8,
}

/// `u.kernel` of `struct xt_entry_target`: its pointer sets the union's
/// alignment (8 on 64-bit targets, 4 on 32-bit ones).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct XtTargetKernel {
    pub target_size: u16,
    pub target: *const u8,
}

#[repr(C)]
pub union XtTargetU {
    pub user: XtTargetUser,
    pub kernel: XtTargetKernel,
    pub target_size: u16,
}

/// `struct xt_entry_target`.
#[repr(C)]
pub struct XtEntryTarget {
    pub u: XtTargetU,
    pub data: [u8; 0],
}

/// `struct xt_standard_target`.
#[repr(C)]
pub struct XtStandardTarget {
    pub target: XtEntryTarget,
    pub verdict: i32,
}

/// `struct xt_error_target`.
#[repr(C)]
pub struct XtErrorTarget {
    pub target: XtEntryTarget,
    pub errorname: [u8; XT_FUNCTION_MAXNAMELEN],
}

/// `struct _xt_align`: its alignment is `XT_ALIGN`'s unit.
#[repr(C)]
pub struct XtAlign {
    pub u8: u8,
    pub u16: u16,
    pub u32: u32,
    pub u64: u64,
}

/// `XT_ALIGN(n)`: matches and targets inside an entry are padded to this.
pub const fn xt_align(n: usize) -> usize {
    let a = align_of::<XtAlign>();
    (n + a - 1) & !(a - 1)
}

/// Where the fields of an entry are, per family.
#[derive(Clone, Copy, Debug)]
pub struct EntryLayout {
    /// sizeof(struct ipt_get_entries): the request header before the blob.
    pub get_entries_hdr: usize,
    /// offsetof(struct ipt_get_entries, size).
    pub get_entries_size: usize,
    /// sizeof(struct ipt_entry): where the matches start.
    pub header: usize,
    pub target_offset: usize,
    pub next_offset: usize,
}

pub const IPT_ENTRY: EntryLayout = EntryLayout {
    get_entries_hdr: size_of::<GetEntries<IptEntry>>(),
    get_entries_size: offset_of!(GetEntries<IptEntry>, size),
    header: size_of::<IptEntry>(),
    target_offset: offset_of!(IptEntry, target_offset),
    next_offset: offset_of!(IptEntry, next_offset),
};

pub const IP6T_ENTRY: EntryLayout = EntryLayout {
    get_entries_hdr: size_of::<GetEntries<Ip6tEntry>>(),
    get_entries_size: offset_of!(GetEntries<Ip6tEntry>, size),
    header: size_of::<Ip6tEntry>(),
    target_offset: offset_of!(Ip6tEntry, target_offset),
    next_offset: offset_of!(Ip6tEntry, next_offset),
};

/// sizeof(struct xt_entry_target): the smallest target.
pub const TARGET_HDR: usize = size_of::<XtEntryTarget>();
pub const TARGET_SIZE_OFF: usize = offset_of!(XtEntryTarget, u.user.target_size);
pub const TARGET_NAME_OFF: usize = offset_of!(XtEntryTarget, u.user.name);
/// Where a standard target's verdict is, from the target's start.
pub const VERDICT_OFF: usize = offset_of!(XtStandardTarget, verdict);
/// Where an error target's name is, from the target's start.
pub const ERRORNAME_OFF: usize = offset_of!(XtErrorTarget, errorname);
/// Bytes a standard target takes in an entry (libiptc writes
/// `XT_ALIGN(sizeof(struct xt_standard_target))`).
pub const STANDARD_TARGET_SIZE: usize = xt_align(size_of::<XtStandardTarget>());
/// Bytes an error target takes in an entry.
pub const ERROR_TARGET_SIZE: usize = xt_align(size_of::<XtErrorTarget>());

/// Every size, offset and constant above, named as `tests/layout/uapi_layout.c`
/// prints them.
#[cfg(test)]
pub fn layout() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut put = |name: String, value: &dyn std::fmt::Display| v.push((name, value.to_string()));
    /// sizeof one struct and the offsets of `fields`, under its C name.
    macro_rules! layout_of {
        ($c:expr, $t:ty, [$($f:ident),*]) => {
            put(format!("sizeof.{}", $c), &size_of::<$t>());
            $(put(format!("offsetof.{}.{}", $c, stringify!($f)), &offset_of!($t, $f));)*
        };
    }
    for (c, v) in [
        ("IPT_SO_GET_INFO", SO_GET_INFO),
        ("IPT_SO_GET_ENTRIES", SO_GET_ENTRIES),
        ("IP6T_SO_GET_INFO", SO_GET_INFO),
        ("IP6T_SO_GET_ENTRIES", SO_GET_ENTRIES),
        ("XT_TABLE_MAXNAMELEN", XT_TABLE_MAXNAMELEN as i32),
        ("XT_EXTENSION_MAXNAMELEN", XT_EXTENSION_MAXNAMELEN as i32),
        ("XT_FUNCTION_MAXNAMELEN", XT_FUNCTION_MAXNAMELEN as i32),
        ("NF_INET_NUMHOOKS", NF_INET_NUMHOOKS as i32),
        ("IFNAMSIZ", IFNAMSIZ as i32),
        ("XT_RETURN", XT_RETURN),
    ] {
        put(format!("const.{c}"), &v);
    }
    for (c, v) in [
        ("XT_ERROR_TARGET", XT_ERROR_TARGET),
        ("XT_STANDARD_TARGET", XT_STANDARD_TARGET),
    ] {
        put(
            format!("string.{c}"),
            &format!("{:?}", String::from_utf8_lossy(v)),
        );
    }
    for c in ["ipt_getinfo", "ip6t_getinfo"] {
        layout_of!(
            c,
            GetInfo,
            [name, valid_hooks, hook_entry, underflow, num_entries, size]
        );
    }
    layout_of!("ipt_get_entries", GetEntries<IptEntry>, [size, entrytable]);
    layout_of!(
        "ip6t_get_entries",
        GetEntries<Ip6tEntry>,
        [size, entrytable]
    );
    layout_of!("xt_counters", XtCounters, [bcnt]);
    layout_of!("ipt_ip", IptIp, [iniface, proto, invflags]);
    layout_of!("ip6t_ip6", Ip6tIp6, [iniface, proto, invflags]);
    macro_rules! entry {
        ($c:expr, $t:ty) => {
            layout_of!(
                $c,
                $t,
                [
                    nfcache,
                    target_offset,
                    next_offset,
                    comefrom,
                    counters,
                    elems
                ]
            );
            put(format!("alignof.{}", $c), &align_of::<$t>());
        };
    }
    entry!("ipt_entry", IptEntry);
    entry!("ip6t_entry", Ip6tEntry);
    layout_of!("xt_entry_target", XtEntryTarget, [data]);
    put(
        "alignof.xt_entry_target".into(),
        &align_of::<XtEntryTarget>(),
    );
    let user = |f| format!("offsetof.xt_entry_target.u.user.{f}");
    put(user("target_size"), &TARGET_SIZE_OFF);
    put(user("name"), &TARGET_NAME_OFF);
    put(
        user("revision"),
        &offset_of!(XtEntryTarget, u.user.revision),
    );
    layout_of!("xt_standard_target", XtStandardTarget, [verdict]);
    layout_of!("xt_error_target", XtErrorTarget, [errorname]);
    put("alignof._xt_align".into(), &align_of::<XtAlign>());
    put("XT_ALIGN.xt_standard_target".into(), &STANDARD_TARGET_SIZE);
    put("XT_ALIGN.xt_error_target".into(), &ERROR_TARGET_SIZE);
    put("XT_ALIGN.xt_entry_target".into(), &xt_align(TARGET_HDR));
    v
}
