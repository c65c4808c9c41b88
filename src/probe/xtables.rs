//! Legacy x_tables (ip_tables / ip6_tables) read with getsockopt, the way
//! libiptc does it, without running iptables-legacy-save.
//!
//! Kernel interface: a raw socket, `socket(AF_INET, SOCK_RAW, IPPROTO_RAW)`
//! (`AF_INET6` for IPv6), then two getsockopt calls at level `IPPROTO_IP`
//! (`IPPROTO_IPV6`):
//! - `IPT_SO_GET_INFO` / `IP6T_SO_GET_INFO` = 64 (`SO_GET_INFO` in
//!   `<linux/netfilter_ipv4/ip_tables.h>` / `<linux/netfilter_ipv6/ip6_tables.h>`,
//!   base `IPT_BASE_CTL` = 64): fills `struct ipt_getinfo` for the table named
//!   in it: valid_hooks, hook_entry[], underflow[], num_entries, size.
//! - `IPT_SO_GET_ENTRIES` / `IP6T_SO_GET_ENTRIES` = 65: `struct
//!   ipt_get_entries` (name, size) followed by `size` bytes that the kernel
//!   fills with the whole table: a packed sequence of `struct ipt_entry`
//!   (`ip6t_entry`), each followed by its matches and its target
//!   (`struct xt_entry_target`, `<linux/netfilter/x_tables.h>`), chained by
//!   `next_offset`. The option length must be exactly
//!   `sizeof(struct ipt_get_entries)` + size, else EINVAL;
//!   if the table's size changed since GET_INFO the kernel answers EAGAIN.
//!
//! The layout of a table, as iptables writes it (libiptc): the builtin
//! chains first, each a run of rules closed by its policy entry (a standard
//! target at `underflow[hook]`); then every user chain as a head entry (target
//! "ERROR", data = the chain name), its rules, and a standard RETURN entry
//! that closes it; finally one "ERROR" entry (errorname "ERROR") ending the
//! table.
//!
//! Struct sizes and offsets come from the `#[repr(C)]` mirrors of the uapi
//! structs in [`uapi`], never from bare numbers: they differ between
//! targets (on x86_64 `ipt_entry` is 112 bytes and `ip6t_entry` 168, a
//! standard target takes 40 and an error target 64; on i386 `ip6t_entry`
//! is 164). The unit tests hold the mirrors to the target's own headers
//! (`tests/layout/uapi_layout.c`). The kernel fills these structs in the
//! host's byte order; every read goes through `bytes::Order::Host`, which the
//! tests flip to prove the parsing for big-endian targets.
//!
//! # Danger: asking creates the table
//!
//! GET_INFO for a table that does not exist in this network namespace makes
//! the kernel load `iptable_<name>` and CREATE the table (with empty builtin
//! chains and ACCEPT policies). That is exactly the "legacy rules exist"
//! signal the mode detection looks for, so probing a missing table would
//! poison it. The caller must only pass names listed in
//! `/proc/net/ip_tables_names` (`/proc/net/ip6_tables_names` for IPv6).

#[cfg(test)]
mod captured;
pub(super) mod uapi;

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{FromRawFd, OwnedFd};

use nix::libc;

use super::bytes::Host;
use uapi::*;

/// GET_ENTRIES answers EAGAIN when the table changed size after GET_INFO.
const TRIES: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// User-defined chains in table order (what `iptables-legacy-save` prints
    /// as `:NAME - [0:0]`).
    pub user_chains: Vec<String>,
    /// Rules, i.e. `-A` lines of `iptables-legacy-save -t TABLE`.
    pub rules: u64,
    /// Every entry walked in the table, chain heads, tails, policies and the
    /// final ERROR entry included (equals GET_INFO's num_entries).
    pub entries: u32,
    /// Bytes of the entry blob (GET_INFO's size).
    pub size: u32,
}

impl TableSummary {
    /// The first of `hints` that is one of the table's user chains.
    pub fn hint(&self, hints: &[&'static str]) -> Option<&'static str> {
        hints
            .iter()
            .copied()
            .find(|h| self.user_chains.iter().any(|c| c == h))
    }
}

impl Family {
    fn socket_params(self) -> (libc::c_int, libc::c_int, EntryLayout) {
        match self {
            Family::V4 => (libc::AF_INET, libc::IPPROTO_IP, IPT_ENTRY),
            Family::V6 => (libc::AF_INET6, libc::IPPROTO_IPV6, IP6T_ENTRY),
        }
    }
}

/// Reads one table: GET_INFO (for size and num_entries, valid_hooks, underflow offsets) then GET_ENTRIES with that size
/// (retry a few times with EAGAIN if the table changed size in between). Walks the entries by next_offset.
/// user_chains: the names from user-chain head entries (target name "ERROR", errorname = chain name), not the final "ERROR" entry.
/// rules: must EQUAL the number of `-A` lines that `iptables-legacy-save -t TABLE` prints: so not counting
/// user-chain heads, the RETURN entry that ends each user chain, builtin chains' policy entries (at the underflow offsets),
/// or the final ERROR entry.
///
/// **The caller guarantees that `table` is listed in `/proc/net/ip_tables_names`
/// (`ip6_tables_names` for V6) of the calling thread's network namespace.**
/// Asking for an unlisted table makes the kernel create it (see the module
/// documentation), which would turn "no legacy rules" into "legacy in use".
///
/// Memory: GET_ENTRIES hands the whole table over in one buffer of exactly
/// `size` bytes plus the request header, about 50 MB for 100,000 rules.
/// Measured on x86_64, 6.18
/// with 100,000 IPv4 rules `-A CHAIN -s ADDR/32 -p tcp --dport N -m comment
/// --comment C -j ACCEPT`: size 48,800,552 bytes, 488 bytes per rule
/// (entry 112 + tcp match 48 + comment match 288 + standard target 40). A
/// rule without matches is 152 bytes (IPv4) or 208 (IPv6).
///
/// Errors come back raw: EPERM/EACCES (seccomp, no CAP_NET_ADMIN/NET_RAW),
/// EAFNOSUPPORT, ENOPROTOOPT (x_tables not in this kernel), ENOENT (no
/// such table and no module to create it), EAGAIN (the table kept changing).
/// A reply that cannot be walked is InvalidData.
pub fn read_table(family: Family, table: &str) -> io::Result<TableSummary> {
    let name = table_name(table)?;
    let (domain, level, layout) = family.socket_params();
    let fd = raw_socket(domain)?;
    let info = get_info(&fd, level, &name)?;
    read_entries(&fd, level, layout, &name, info)
}

/// GET_ENTRIES for the table `info` describes, asking GET_INFO again when
/// the table changed size in between (EAGAIN), a few times.
fn read_entries(
    fd: &OwnedFd,
    level: libc::c_int,
    layout: EntryLayout,
    name: &[u8; XT_TABLE_MAXNAMELEN],
    mut info: GetInfo,
) -> io::Result<TableSummary> {
    for _ in 0..TRIES {
        match get_entries(fd, level, layout, name, info.size) {
            Ok(blob) => return summarize(layout, &info, &blob),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => info = get_info(fd, level, name)?,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::EAGAIN))
}

/// Bounds on a table's rules from GET_INFO alone: a few hundred bytes from
/// the kernel where GET_ENTRIES copies the whole table (100 ms of kernel
/// time for 100,000 rules, most of it per-match copies that the hardened
/// usercopy checks make slow). `(at_least, at_most)`; where the sizes
/// cannot tell whether the table holds any rule, the table is read after
/// all, on the same socket, and the count is exact.
///
/// Same guarantee as [`read_table`]: only for a table the kernel lists.
pub fn count_bounds(family: Family, table: &str) -> io::Result<(u64, u64)> {
    let name = table_name(table)?;
    let (domain, level, layout) = family.socket_params();
    let fd = raw_socket(domain)?;
    let info = get_info(&fd, level, &name)?;
    bounds_or_read(layout, info, |info| {
        read_entries(&fd, level, layout, &name, info)
    })
}

/// [`count_bounds`]' answer for the table `info` describes: the
/// [`bounds`] where they say enough, else the exact count of what `read`
/// returns for the table.
fn bounds_or_read(
    layout: EntryLayout,
    info: GetInfo,
    read: impl FnOnce(GetInfo) -> io::Result<TableSummary>,
) -> io::Result<(u64, u64)> {
    if let Some(b) = bounds(layout, &info) {
        return Ok(b);
    }
    let rules = read(info)?.rules;
    Ok((rules, rules))
}

/// What GET_INFO's entry count and size say about the rules, given the
/// table layout libiptc writes (module documentation). Entries that are not
/// rules: one policy per builtin chain, the final ERROR entry, and a head
/// and a RETURN tail per user chain. The number of user chains is not in
/// GET_INFO, so:
/// - at most: every entry but the policies and the final one is a rule;
/// - exactly that, when no bytes are left for user chains between the last
///   policy and the final entry;
/// - at least one per builtin chain whose first entry is not its policy
///   (`hook_entry` != `underflow`);
/// - at least one, when every builtin chain is empty and the user chains'
///   bytes and entries are not those of heads and tails alone (each user
///   chain is exactly one head and one tail of known sizes). If they are,
///   the table may hold no rule at all: `None`.
fn bounds(layout: EntryLayout, info: &GetInfo) -> Option<(u64, u64)> {
    let standard = (layout.header + STANDARD_TARGET_SIZE) as u64;
    let error = (layout.header + ERROR_TARGET_SIZE) as u64;
    let hooks: Vec<usize> = (0..NF_INET_NUMHOOKS)
        .filter(|h| info.valid_hooks & (1 << h) != 0)
        .collect();
    let builtins = hooks.len() as u64;
    let at_most = u64::from(info.num_entries).checked_sub(builtins + 1)?;
    if at_most == 0 {
        return Some((0, 0));
    }
    // The builtin chains come first, from offset 0, in hook order, each
    // closed by its policy; anything else is a layout we do not know.
    if hooks.iter().map(|h| info.hook_entry[*h]).min() != Some(0) {
        return None;
    }
    let builtin_end = u64::from(*hooks.iter().map(|h| &info.underflow[*h]).max()?) + standard;
    let user_bytes = u64::from(info.size).checked_sub(builtin_end + error)?;
    if user_bytes == 0 {
        return Some((at_most, at_most));
    }
    let busy = hooks
        .iter()
        .filter(|h| info.hook_entry[**h] != info.underflow[**h])
        .count() as u64;
    if busy > 0 {
        return Some((busy, at_most));
    }
    // Only policies before the user chains: the rest of the entries are
    // user chains, whose heads and tails alone would be an even number of
    // entries in exactly half as many (head + tail) pairs of bytes.
    if builtin_end != builtins * standard {
        return None;
    }
    let heads_and_tails_only = at_most % 2 == 0 && user_bytes == at_most / 2 * (error + standard);
    if heads_and_tails_only {
        None
    } else {
        Some((1, at_most))
    }
}

/// The table name as the kernel wants it: NUL-padded to 32 bytes.
fn table_name(table: &str) -> io::Result<[u8; XT_TABLE_MAXNAMELEN]> {
    let bytes = table.as_bytes();
    if bytes.is_empty() || bytes.len() >= XT_TABLE_MAXNAMELEN || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad x_tables table name {table:?}"),
        ));
    }
    let mut name = [0u8; XT_TABLE_MAXNAMELEN];
    name[..bytes.len()].copy_from_slice(bytes);
    Ok(name)
}

/// A raw socket for the getsockopt calls. IPPROTO_RAW: such a socket only
/// sends, so the kernel never queues received packets to it. Non-blocking:
/// getsockopt never waits anyway, and the flag tells our socket apart from
/// libiptc's (which has none) for a seccomp filter that should refuse only
/// the wrapper's, as tests/seccomp/deny.c does to exercise the fallback.
fn raw_socket(domain: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::IPPROTO_RAW,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// getsockopt into `buf`; the kernel reads the request (table name, size)
/// from the same buffer.
fn getsockopt_buf(
    fd: &OwnedFd,
    level: libc::c_int,
    opt: libc::c_int,
    buf: &mut [u8],
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut len = libc::socklen_t::try_from(buf.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "table too large"))?;
    // SAFETY: buf is valid for writes of len bytes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn get_info(
    fd: &OwnedFd,
    level: libc::c_int,
    name: &[u8; XT_TABLE_MAXNAMELEN],
) -> io::Result<GetInfo> {
    let mut buf = [0u8; size_of::<GetInfo>()];
    buf[..XT_TABLE_MAXNAMELEN].copy_from_slice(name);
    getsockopt_buf(fd, level, SO_GET_INFO, &mut buf)?;
    Ok(parse_info(&buf))
}

/// GET_INFO's answer: every field where `struct ipt_getinfo` has it, in
/// the host's byte order.
fn parse_info(buf: &[u8; size_of::<GetInfo>()]) -> GetInfo {
    let word = |off: usize| Host.u32_at(buf, off);
    let array = |off: usize| -> [u32; NF_INET_NUMHOOKS] {
        std::array::from_fn(|h| word(off + h * size_of::<u32>()))
    };
    let mut name = [0; XT_TABLE_MAXNAMELEN];
    name.copy_from_slice(&buf[offset_of!(GetInfo, name)..][..XT_TABLE_MAXNAMELEN]);
    GetInfo {
        name,
        valid_hooks: word(offset_of!(GetInfo, valid_hooks)),
        hook_entry: array(offset_of!(GetInfo, hook_entry)),
        underflow: array(offset_of!(GetInfo, underflow)),
        num_entries: word(offset_of!(GetInfo, num_entries)),
        size: word(offset_of!(GetInfo, size)),
    }
}

/// The entry blob (without the `struct ipt_get_entries` request header).
fn get_entries(
    fd: &OwnedFd,
    level: libc::c_int,
    layout: EntryLayout,
    name: &[u8; XT_TABLE_MAXNAMELEN],
    size: u32,
) -> io::Result<Vec<u8>> {
    let mut buf = entries_request(layout, name, size);
    getsockopt_buf(fd, level, SO_GET_ENTRIES, &mut buf)?;
    buf.drain(..layout.get_entries_hdr);
    Ok(buf)
}

/// GET_ENTRIES' buffer as we hand it to the kernel: `struct
/// ipt_get_entries` (name, size) and room for `size` bytes of entries.
fn entries_request(layout: EntryLayout, name: &[u8; XT_TABLE_MAXNAMELEN], size: u32) -> Vec<u8> {
    let mut buf = vec![0u8; layout.get_entries_hdr + size as usize];
    buf[..XT_TABLE_MAXNAMELEN].copy_from_slice(name);
    buf[layout.get_entries_size..][..4].copy_from_slice(&Host.u32_bytes(size));
    buf
}

/// One entry's fields we look at.
#[derive(Debug)]
struct Entry<'a> {
    offset: usize,
    next_offset: usize,
    target_name: &'a [u8],
    /// The whole target, from its `struct xt_entry_target` header on.
    target: &'a [u8],
}

impl Entry<'_> {
    fn is_error(&self) -> bool {
        self.target_name == XT_ERROR_TARGET
    }

    fn is_return(&self) -> bool {
        self.target_name == XT_STANDARD_TARGET
            && self.target.len() >= VERDICT_OFF + size_of::<i32>()
            && Host.i32_at(self.target, VERDICT_OFF) == XT_RETURN
    }

    fn error_name(&self) -> io::Result<String> {
        let raw = self
            .target
            .get(ERRORNAME_OFF..ERRORNAME_OFF + XT_FUNCTION_MAXNAMELEN)
            .ok_or_else(|| invalid("ERROR target too short"))?;
        Ok(String::from_utf8_lossy(cstr(raw)).into_owned())
    }
}

/// Reads the entry at `offset`, checking that it and its target lie inside
/// the blob and that next_offset moves forward.
fn entry_at(layout: EntryLayout, blob: &[u8], offset: usize) -> io::Result<Entry<'_>> {
    let rest = &blob[offset..];
    if rest.len() < layout.header {
        return Err(invalid("entry header past the end"));
    }
    let target_offset = Host.u16_at(rest, layout.target_offset) as usize;
    let next_offset = Host.u16_at(rest, layout.next_offset) as usize;
    if next_offset > rest.len() {
        return Err(invalid("next_offset past the end"));
    }
    if target_offset < layout.header || target_offset + TARGET_HDR > next_offset {
        return Err(invalid("target_offset out of the entry"));
    }
    let target = &rest[target_offset..next_offset];
    let target_name = cstr(&target[TARGET_NAME_OFF..][..XT_EXTENSION_MAXNAMELEN]);
    Ok(Entry {
        offset,
        next_offset,
        target_name,
        target,
    })
}

/// Walks the blob by next_offset and counts as iptables-legacy-save would.
fn summarize(layout: EntryLayout, info: &GetInfo, blob: &[u8]) -> io::Result<TableSummary> {
    let policies = policy_offsets(info);
    let mut walk = Walk::default();
    let mut offset = 0;
    let mut finished = false;
    while offset < blob.len() {
        let e = entry_at(layout, blob, offset)?;
        let last = e.offset + e.next_offset == blob.len();
        walk.step(&e, last, policies.contains(&(e.offset as u32)))?;
        finished = last && e.is_error();
        offset += e.next_offset;
    }
    if !finished {
        return Err(invalid("table does not end with an ERROR entry"));
    }
    Ok(TableSummary {
        user_chains: walk.user_chains,
        rules: walk.rules,
        entries: walk.entries,
        size: info.size,
    })
}

/// The policy entries of the builtin chains: underflow[h] of each valid hook.
fn policy_offsets(info: &GetInfo) -> Vec<u32> {
    (0..NF_INET_NUMHOOKS)
        .filter(|h| info.valid_hooks & (1 << h) != 0)
        .map(|h| info.underflow[h])
        .collect()
}

/// State of the walk: which chain we are in and whether its last entry so
/// far could be the RETURN that closes a user chain.
#[derive(Default)]
struct Walk {
    user_chains: Vec<String>,
    rules: u64,
    entries: u32,
    in_user_chain: bool,
    /// The previous entry was a standard RETURN inside a user chain; if the
    /// next one starts a chain (ERROR), it was the chain's tail, not a rule.
    /// This is how libiptc tells them apart.
    pending_tail: bool,
}

impl Walk {
    fn step(&mut self, e: &Entry, last: bool, policy: bool) -> io::Result<()> {
        self.entries = self
            .entries
            .checked_add(1)
            .ok_or_else(|| invalid("too many entries"))?;
        if e.is_error() {
            if self.pending_tail {
                self.rules -= 1;
            }
            self.pending_tail = false;
            if !last {
                self.user_chains.push(e.error_name()?);
                self.in_user_chain = true;
            }
        } else if policy {
            self.pending_tail = false;
        } else {
            self.rules += 1;
            self.pending_tail = self.in_user_chain && e.is_return();
        }
        Ok(())
    }
}

fn cstr(raw: &[u8]) -> &[u8] {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    &raw[..end]
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("x_tables: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::bytes::both_orders;
    use crate::probe::uapi_layout::{fixture, in_order, ORDERS};

    /// Builds an entry as libiptc lays it out: header of `layout` size,
    /// `matches` bytes of matches, then a target named `target` with `data`
    /// after its header, padded to XT_ALIGN. Multi-byte fields are written
    /// in `Host` order, so the tests run in both orders.
    fn entry(layout: EntryLayout, matches: usize, target: &str, data: &[u8]) -> Vec<u8> {
        let target_offset = layout.header + matches;
        let tsize = xt_align(TARGET_HDR + data.len());
        let next = target_offset + tsize;
        let mut e = vec![0u8; next];
        e[layout.target_offset..][..2].copy_from_slice(&Host.u16_bytes(target_offset as u16));
        e[layout.next_offset..][..2].copy_from_slice(&Host.u16_bytes(next as u16));
        let t = &mut e[target_offset..];
        t[TARGET_SIZE_OFF..][..2].copy_from_slice(&Host.u16_bytes(tsize as u16));
        t[TARGET_NAME_OFF..][..target.len()].copy_from_slice(target.as_bytes());
        t[TARGET_HDR..][..data.len()].copy_from_slice(data);
        e
    }

    /// The data of a standard target with `verdict`.
    fn verdict(verdict: i32) -> Vec<u8> {
        let mut d = vec![0u8; size_of::<XtStandardTarget>() - TARGET_HDR];
        d[VERDICT_OFF - TARGET_HDR..][..4].copy_from_slice(&Host.u32_bytes(verdict as u32));
        d
    }

    fn standard(layout: EntryLayout, v: i32) -> Vec<u8> {
        entry(layout, 0, "", &verdict(v))
    }

    fn error(layout: EntryLayout, name: &str) -> Vec<u8> {
        let mut data = vec![0u8; size_of::<XtErrorTarget>() - TARGET_HDR];
        data[ERRORNAME_OFF - TARGET_HDR..][..name.len()].copy_from_slice(name.as_bytes());
        entry(layout, 0, "ERROR", &data)
    }

    const ACCEPT: i32 = -2; // -NF_ACCEPT - 1

    /// A filter-like table: INPUT with 2 rules (one with a 48-byte match),
    /// FORWARD empty, user chain A with a RETURN rule and a jump, user chain
    /// B empty. Returns (info, blob).
    fn sample(layout: EntryLayout) -> (GetInfo, Vec<u8>) {
        let mut blob = Vec::new();
        let mut info = two_hooks();
        info.hook_entry[1] = 0;
        blob.extend(entry(layout, 48, "", &verdict(ACCEPT)));
        blob.extend(entry(layout, 0, "MARK", &[0u8; 16]));
        info.underflow[1] = blob.len() as u32;
        blob.extend(standard(layout, ACCEPT));
        info.hook_entry[2] = blob.len() as u32;
        info.underflow[2] = blob.len() as u32;
        blob.extend(standard(layout, ACCEPT));
        blob.extend(error(layout, "KUBE-A"));
        blob.extend(standard(layout, XT_RETURN)); // "-A KUBE-A -j RETURN"
        blob.extend(standard(layout, 0)); // a jump
        blob.extend(standard(layout, XT_RETURN)); // tail
        blob.extend(error(layout, "KUBE-B"));
        blob.extend(standard(layout, XT_RETURN)); // tail
        blob.extend(error(layout, "ERROR"));
        info.size = blob.len() as u32;
        info.num_entries = 11;
        (info, blob)
    }

    #[test]
    fn walks_a_table_like_iptables_save() {
        both_orders(|| {
            for layout in [IPT_ENTRY, IP6T_ENTRY] {
                let (info, blob) = sample(layout);
                let s = summarize(layout, &info, &blob).unwrap();
                assert_eq!(s.user_chains, vec!["KUBE-A", "KUBE-B"]);
                assert_eq!(s.rules, 4); // 2 in INPUT, 2 in KUBE-A
                assert_eq!(s.entries, 11);
                assert_eq!(s.size, blob.len() as u32);
            }
        });
    }

    /// GET_INFO of a blob whose entries and size are known.
    fn info_of(mut info: GetInfo, blob: &[u8], entries: u32) -> GetInfo {
        info.size = blob.len() as u32;
        info.num_entries = entries;
        info
    }

    fn two_hooks() -> GetInfo {
        GetInfo {
            name: [0; 32],
            valid_hooks: (1 << 1) | (1 << 2),
            hook_entry: [0; 5],
            underflow: [0; 5],
            num_entries: 0,
            size: 0,
        }
    }

    /// Builtin chains with `builtin_rules` rules each, then user chains
    /// with the given number of rules each (rules with a 48-byte match when
    /// `big`), then the final entry: (info, blob).
    fn table(
        layout: EntryLayout,
        builtin_rules: usize,
        chains: &[usize],
        big: bool,
    ) -> (GetInfo, Vec<u8>) {
        let rule = |l| {
            if big {
                entry(l, 48, "", &verdict(ACCEPT))
            } else {
                standard(l, ACCEPT)
            }
        };
        let mut info = two_hooks();
        let mut blob = Vec::new();
        let mut entries = 1;
        for h in [1, 2] {
            info.hook_entry[h] = blob.len() as u32;
            for _ in 0..builtin_rules {
                blob.extend(rule(layout));
            }
            info.underflow[h] = blob.len() as u32;
            blob.extend(standard(layout, ACCEPT));
            entries += builtin_rules as u32 + 1;
        }
        for (i, n) in chains.iter().enumerate() {
            blob.extend(error(layout, &format!("C{i}")));
            for _ in 0..*n {
                blob.extend(rule(layout));
            }
            blob.extend(standard(layout, XT_RETURN));
            entries += *n as u32 + 2;
        }
        blob.extend(error(layout, "ERROR"));
        (info_of(info, &blob, entries), blob)
    }

    #[test]
    fn bounds_hold_the_walked_count() {
        both_orders(|| {
            let shapes: &[(usize, &[usize])] = &[
                (0, &[]),
                (3, &[]),
                (0, &[0]),
                (0, &[0, 0, 0]),
                (0, &[1]),
                (0, &[5, 0, 7]),
                (2, &[0, 4]),
                (1, &[3]),
            ];
            for layout in [IPT_ENTRY, IP6T_ENTRY] {
                for big in [false, true] {
                    for (builtin, chains) in shapes {
                        let (info, blob) = table(layout, *builtin, chains, big);
                        let exact = summarize(layout, &info, &blob).unwrap().rules;
                        let b = bounds(layout, &info);
                        let ctx = format!("{builtin} {chains:?} big {big}: {b:?}, exact {exact}");
                        match b {
                            // Unsure only where heads and tails alone fit.
                            None => assert_eq!(exact, 0, "{ctx}"),
                            Some((lo, hi)) => {
                                assert!(lo <= exact && exact <= hi, "{ctx}");
                                // A table with rules is always known to have some.
                                assert_eq!(lo == 0, exact == 0, "{ctx}");
                            }
                        }
                        if chains.is_empty() {
                            assert_eq!(b, Some((exact, exact)), "{ctx}");
                        }
                    }
                }
            }
            // The walked sample (2 rules in INPUT, user chains): at least one
            // per busy builtin chain.
            let (info, _) = sample(IPT_ENTRY);
            assert_eq!(bounds(IPT_ENTRY, &info), Some((1, 8)));
        });
    }

    #[test]
    fn bounds_of_unknown_layouts_ask_for_the_entries() {
        let (mut info, _) = table(IPT_ENTRY, 1, &[2], false);
        info.hook_entry[1] = 8;
        assert_eq!(bounds(IPT_ENTRY, &info), None);
        let (mut info, _) = table(IPT_ENTRY, 0, &[], false);
        info.num_entries = 1;
        assert_eq!(bounds(IPT_ENTRY, &info), None);
    }

    #[test]
    fn empty_table() {
        both_orders(|| {
            let l = IPT_ENTRY;
            let mut blob = standard(l, ACCEPT);
            blob.extend(error(l, "ERROR"));
            let info = GetInfo {
                name: [0; 32],
                valid_hooks: 1,
                hook_entry: [0; 5],
                underflow: [0; 5],
                num_entries: 2,
                size: blob.len() as u32,
            };
            let s = summarize(l, &info, &blob).unwrap();
            assert_eq!((s.rules, s.entries, s.user_chains.len()), (0, 2, 0));
        });
    }

    fn set_u16(blob: &mut [u8], at: usize, v: u16) {
        blob[at..at + 2].copy_from_slice(&Host.u16_bytes(v));
    }

    #[test]
    fn malformed_offsets_are_invalid_data() {
        both_orders(|| {
            let l = IPT_ENTRY;
            let (info, blob) = sample(l);
            let next_at = l.next_offset;
            let mut cases = Vec::new();
            // zero next_offset: would loop forever.
            let mut b = blob.clone();
            set_u16(&mut b, next_at, 0);
            cases.push(b);
            // next_offset past the end.
            let mut b = blob.clone();
            set_u16(&mut b, next_at, u16::MAX);
            cases.push(b);
            // target_offset inside the header, or past next_offset.
            let mut b = blob.clone();
            set_u16(&mut b, l.target_offset, 8);
            cases.push(b);
            let mut b = blob.clone();
            set_u16(&mut b, l.target_offset, 4000);
            cases.push(b);
            // truncated blob, and one without the final ERROR entry.
            cases.push(blob[..blob.len() - 10].to_vec());
            let last = error(l, "ERROR").len();
            cases.push(blob[..blob.len() - last].to_vec());
            // half an entry header.
            cases.push(blob[..50].to_vec());
            for c in cases {
                let e = summarize(l, &info, &c).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            }
        });
    }

    #[test]
    fn garbage_never_panics() {
        for b in crate::probe::bytes::garbage(99, 3000, 600) {
            let (info, _) = sample(IPT_ENTRY);
            let _ = summarize(IPT_ENTRY, &info, &b);
            let _ = summarize(IP6T_ENTRY, &info, &b);
        }
    }

    #[test]
    fn info_parsing() {
        both_orders(|| {
            let mut buf = [0u8; size_of::<GetInfo>()];
            buf[..6].copy_from_slice(b"filter");
            let mut put = |off: usize, v: u32| buf[off..][..4].copy_from_slice(&Host.u32_bytes(v));
            put(offset_of!(GetInfo, valid_hooks), 14);
            put(offset_of!(GetInfo, underflow) + 4, 300);
            put(offset_of!(GetInfo, num_entries), 4);
            put(offset_of!(GetInfo, size), 912);
            let i = parse_info(&buf);
            assert_eq!(
                (i.valid_hooks, i.underflow[1], i.num_entries, i.size),
                (14, 300, 4, 912)
            );
            assert_eq!(&i.name[..6], b"filter");
            assert_eq!(policy_offsets(&i), vec![300, 0, 0]);
        });
    }

    /// Tables built in C from the real uapi structs (see
    /// `tests/layout/uapi_layout.c`), in the target's byte order and in the
    /// other one: the same answers either way.
    #[test]
    fn fixtures_from_the_targets_headers() {
        type Expect = (u64, u32, &'static [&'static str], Option<(u64, u64)>);
        let tables: [(&str, &str, Expect); 4] = [
            (
                "full",
                "filter",
                (4, 12, &["KUBE-SERVICES", "KUBE-EMPTY"], Some((2, 8))),
            ),
            ("fresh", "nat", (0, 5, &[], Some((0, 0)))),
            ("heads", "filter", (0, 6, &["KUBE-FORWARD"], None)),
            (
                "userrule",
                "filter",
                (1, 7, &["KUBE-FORWARD"], Some((1, 3))),
            ),
        ];
        for order in ORDERS {
            in_order(order, || {
                for (fam, layout) in [("xt4", IPT_ENTRY), ("xt6", IP6T_ENTRY)] {
                    for (shape, table, expect) in tables {
                        let ctx = format!("{order} {fam}.{shape}");
                        let raw = fixture(order, &format!("{fam}.{shape}.info"));
                        let info = parse_info(raw.as_slice().try_into().expect(&ctx));
                        let blob = fixture(order, &format!("{fam}.{shape}.entries"));
                        assert_eq!(cstr(&info.name), table.as_bytes(), "{ctx}");
                        assert_eq!(info.size as usize, blob.len(), "{ctx}");
                        let s = summarize(layout, &info, &blob).expect(&ctx);
                        let (rules, entries, chains, b) = expect;
                        assert_eq!((s.rules, s.entries), (rules, entries), "{ctx}");
                        assert_eq!(s.entries, info.num_entries, "{ctx}");
                        assert_eq!(s.user_chains, chains, "{ctx}");
                        assert_eq!(bounds(layout, &info), b, "{ctx}");
                    }
                }
            });
        }
    }

    #[test]
    fn table_names() {
        assert!(table_name("filter").is_ok());
        assert!(table_name("").is_err());
        assert!(table_name(&"x".repeat(32)).is_err());
        assert!(table_name("a\0b").is_err());
    }
}
