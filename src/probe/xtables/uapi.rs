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

/// `struct ipt_entry`.
#[repr(C)]
pub struct IptEntry {
    pub ip: IptIp,
    pub nfcache: u32,
    pub target_offset: u16,
    pub next_offset: u16,
    pub comefrom: u32,
    pub counters: XtCounters,
    pub elems: [u8; 0],
}

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

/// `struct ip6t_entry`.
#[repr(C)]
pub struct Ip6tEntry {
    pub ipv6: Ip6tIp6,
    pub nfcache: u32,
    pub target_offset: u16,
    pub next_offset: u16,
    pub comefrom: u32,
    pub counters: XtCounters,
    pub elems: [u8; 0],
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
    macro_rules! off {
        ($c:literal, $t:ty, $($f:tt)+) => {
            (concat!("offsetof.", $c).to_string(), offset_of!($t, $($f)+).to_string())
        };
    }
    macro_rules! size {
        ($c:literal, $t:ty) => {
            (
                concat!("sizeof.", $c).to_string(),
                size_of::<$t>().to_string(),
            )
        };
    }
    macro_rules! align {
        ($c:literal, $t:ty) => {
            (
                concat!("alignof.", $c).to_string(),
                align_of::<$t>().to_string(),
            )
        };
    }
    macro_rules! konst {
        ($c:literal, $v:expr) => {
            (concat!("const.", $c).to_string(), $v.to_string())
        };
    }
    let string = |v: &[u8]| format!("{:?}", String::from_utf8_lossy(v));
    vec![
        konst!("IPT_SO_GET_INFO", SO_GET_INFO),
        konst!("IPT_SO_GET_ENTRIES", SO_GET_ENTRIES),
        konst!("IP6T_SO_GET_INFO", SO_GET_INFO),
        konst!("IP6T_SO_GET_ENTRIES", SO_GET_ENTRIES),
        konst!("XT_TABLE_MAXNAMELEN", XT_TABLE_MAXNAMELEN),
        konst!("XT_EXTENSION_MAXNAMELEN", XT_EXTENSION_MAXNAMELEN),
        konst!("XT_FUNCTION_MAXNAMELEN", XT_FUNCTION_MAXNAMELEN),
        konst!("NF_INET_NUMHOOKS", NF_INET_NUMHOOKS),
        konst!("IFNAMSIZ", IFNAMSIZ),
        konst!("XT_RETURN", XT_RETURN),
        ("string.XT_ERROR_TARGET".into(), string(XT_ERROR_TARGET)),
        (
            "string.XT_STANDARD_TARGET".into(),
            string(XT_STANDARD_TARGET),
        ),
        size!("ipt_getinfo", GetInfo),
        off!("ipt_getinfo.name", GetInfo, name),
        off!("ipt_getinfo.valid_hooks", GetInfo, valid_hooks),
        off!("ipt_getinfo.hook_entry", GetInfo, hook_entry),
        off!("ipt_getinfo.underflow", GetInfo, underflow),
        off!("ipt_getinfo.num_entries", GetInfo, num_entries),
        off!("ipt_getinfo.size", GetInfo, size),
        size!("ip6t_getinfo", GetInfo),
        off!("ip6t_getinfo.valid_hooks", GetInfo, valid_hooks),
        off!("ip6t_getinfo.hook_entry", GetInfo, hook_entry),
        off!("ip6t_getinfo.underflow", GetInfo, underflow),
        off!("ip6t_getinfo.num_entries", GetInfo, num_entries),
        off!("ip6t_getinfo.size", GetInfo, size),
        size!("ipt_get_entries", GetEntries<IptEntry>),
        off!("ipt_get_entries.size", GetEntries<IptEntry>, size),
        off!(
            "ipt_get_entries.entrytable",
            GetEntries<IptEntry>,
            entrytable
        ),
        size!("ip6t_get_entries", GetEntries<Ip6tEntry>),
        off!("ip6t_get_entries.size", GetEntries<Ip6tEntry>, size),
        off!(
            "ip6t_get_entries.entrytable",
            GetEntries<Ip6tEntry>,
            entrytable
        ),
        size!("xt_counters", XtCounters),
        off!("xt_counters.bcnt", XtCounters, bcnt),
        size!("ipt_ip", IptIp),
        off!("ipt_ip.iniface", IptIp, iniface),
        off!("ipt_ip.proto", IptIp, proto),
        off!("ipt_ip.invflags", IptIp, invflags),
        size!("ipt_entry", IptEntry),
        align!("ipt_entry", IptEntry),
        off!("ipt_entry.nfcache", IptEntry, nfcache),
        off!("ipt_entry.target_offset", IptEntry, target_offset),
        off!("ipt_entry.next_offset", IptEntry, next_offset),
        off!("ipt_entry.comefrom", IptEntry, comefrom),
        off!("ipt_entry.counters", IptEntry, counters),
        off!("ipt_entry.elems", IptEntry, elems),
        size!("ip6t_ip6", Ip6tIp6),
        off!("ip6t_ip6.iniface", Ip6tIp6, iniface),
        off!("ip6t_ip6.proto", Ip6tIp6, proto),
        off!("ip6t_ip6.invflags", Ip6tIp6, invflags),
        size!("ip6t_entry", Ip6tEntry),
        align!("ip6t_entry", Ip6tEntry),
        off!("ip6t_entry.nfcache", Ip6tEntry, nfcache),
        off!("ip6t_entry.target_offset", Ip6tEntry, target_offset),
        off!("ip6t_entry.next_offset", Ip6tEntry, next_offset),
        off!("ip6t_entry.comefrom", Ip6tEntry, comefrom),
        off!("ip6t_entry.counters", Ip6tEntry, counters),
        off!("ip6t_entry.elems", Ip6tEntry, elems),
        size!("xt_entry_target", XtEntryTarget),
        align!("xt_entry_target", XtEntryTarget),
        off!(
            "xt_entry_target.u.user.target_size",
            XtEntryTarget,
            u.user.target_size
        ),
        off!("xt_entry_target.u.user.name", XtEntryTarget, u.user.name),
        off!(
            "xt_entry_target.u.user.revision",
            XtEntryTarget,
            u.user.revision
        ),
        off!("xt_entry_target.data", XtEntryTarget, data),
        size!("xt_standard_target", XtStandardTarget),
        off!("xt_standard_target.verdict", XtStandardTarget, verdict),
        size!("xt_error_target", XtErrorTarget),
        off!("xt_error_target.errorname", XtErrorTarget, errorname),
        align!("_xt_align", XtAlign),
        (
            "XT_ALIGN.xt_standard_target".into(),
            STANDARD_TARGET_SIZE.to_string(),
        ),
        (
            "XT_ALIGN.xt_error_target".into(),
            ERROR_TARGET_SIZE.to_string(),
        ),
        (
            "XT_ALIGN.xt_entry_target".into(),
            xt_align(TARGET_HDR).to_string(),
        ),
    ]
}
