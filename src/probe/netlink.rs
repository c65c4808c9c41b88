//! nf_tables over netlink: a read-only client for the few questions the
//! mode detection asks (does nf_tables answer, which tables exist, which
//! chains a table has, how many rules it holds).
//!
//! Kernel interface: a `NETLINK_NETFILTER` socket. Every message is a
//! `struct nlmsghdr` followed by a `struct nfgenmsg` (family, version, res_id
//! in big endian) and then netlink attributes (`struct nlattr`, each padded to
//! 4 bytes). The message type carries the nfnetlink subsystem in its high byte
//! (`NFNL_SUBSYS_NFTABLES`) and the `NFT_MSG_*` command in its low byte. A
//! dump (`NLM_F_DUMP`) is answered by a series of datagrams, each holding one
//! or more `NLM_F_MULTI` messages, closed by `NLMSG_DONE`; errors come as
//! `NLMSG_ERROR` carrying a negative errno. Everything here only reads: no
//! message we send can create or change a table.
//!
//! Constants and where they come from (uapi headers, Debian `linux-libc-dev`):
//! - `<linux/netlink.h>`: `NETLINK_NETFILTER` = 12, `NLMSG_ERROR` = 2,
//!   `NLMSG_DONE` = 3, `NLM_F_REQUEST` = 1, `NLM_F_ACK` = 4,
//!   `NLM_F_DUMP_INTR` = 16, `NLM_F_DUMP` = 0x300, `NLA_F_NESTED`/
//!   `NLA_F_NET_BYTEORDER` (masked off by `NLA_TYPE_MASK`). The header
//!   structs (`nlmsghdr`, `nlattr`, `nlmsgerr`, `nfgenmsg`) are mirrored in
//!   [`uapi`], and their sizes and offsets come from there.
//! - `<linux/netfilter/nfnetlink.h>`: `NFNL_SUBSYS_NFTABLES` = 10,
//!   `NFNETLINK_V0` = 0.
//! - `<linux/netfilter/nf_tables.h>`: `NFT_MSG_NEWTABLE` = 0,
//!   `NFT_MSG_GETTABLE` = 1, `NFT_MSG_NEWCHAIN` = 3, `NFT_MSG_GETCHAIN` = 4,
//!   `NFT_MSG_NEWRULE` = 6, `NFT_MSG_GETRULE` = 7, `NFT_MSG_NEWGEN` = 15,
//!   `NFT_MSG_GETGEN` = 16; `NFTA_TABLE_NAME` = 1, `NFTA_CHAIN_TABLE` = 1,
//!   `NFTA_CHAIN_NAME` = 3, `NFTA_RULE_TABLE` = 1, `NFTA_RULE_CHAIN` = 2,
//!   `NFTA_GEN_ID` = 1.
//! - `<linux/netfilter.h>`: the `NFPROTO_*` families below.
//!
//! Kernel behaviour this code relies on (checked on 6.18):
//! - A GETCHAIN dump ignores `NFTA_CHAIN_TABLE` and returns every chain of
//!   the family, so chains are filtered on the reply's `NFTA_CHAIN_TABLE`.
//! - A GETRULE dump honours `NFTA_RULE_TABLE` and `NFTA_RULE_CHAIN`; the
//!   reply's table attribute is still checked so a kernel that dumps all
//!   rules gives the same answer.
//! - Dumps resume each batch by re-walking the list from its start, so a
//!   dump's cost grows with the square of its length (see `count_rules`).
//! - A dump restricted to a missing table is simply empty (no ENOENT), so a
//!   missing table is recognised by a plain (non-dump) GETTABLE, which
//!   answers ENOENT.
//!
//! Byte order: netlink headers are in the host's order, nf_tables
//! attribute payloads in network order; every multi-byte read says which
//! through `bytes::Order`, which the unit tests flip to prove the parsing
//! for big-endian targets. The layout and constants are held to the
//! target's headers by the unit tests (`tests/layout/uapi_layout.c`).

pub(super) mod uapi;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::libc;

use super::bytes::{Host, Network};
use nix::sys::socket::{
    bind, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::TimeVal;
use uapi::*;

pub const NFPROTO_INET: u8 = 1;
pub const NFPROTO_IPV4: u8 = 2;
pub const NFPROTO_ARP: u8 = 3;
pub const NFPROTO_NETDEV: u8 = 5;
pub const NFPROTO_BRIDGE: u8 = 7;
pub const NFPROTO_IPV6: u8 = 10;
/// "All families": only meaningful for dumps and GETGEN.
const NFPROTO_UNSPEC: u8 = 0;

// <linux/netlink.h>
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP_INTR: u16 = 16;
const NLM_F_DUMP: u16 = 0x300;
/// Clears NLA_F_NESTED (1 << 15) and NLA_F_NET_BYTEORDER (1 << 14).
const NLA_TYPE_MASK: u16 = !((1 << 15) | (1 << 14));

// <linux/netfilter/nfnetlink.h>
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNETLINK_V0: u8 = 0;

// <linux/netfilter/nf_tables.h>
const NFT_MSG_NEWTABLE: u8 = 0;
const NFT_MSG_GETTABLE: u8 = 1;
const NFT_MSG_NEWCHAIN: u8 = 3;
const NFT_MSG_GETCHAIN: u8 = 4;
const NFT_MSG_NEWRULE: u8 = 6;
const NFT_MSG_GETRULE: u8 = 7;
const NFT_MSG_NEWGEN: u8 = 15;
const NFT_MSG_GETGEN: u8 = 16;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_GEN_ID: u16 = 1;

/// The kernel sizes dump datagrams by the largest buffer we have offered,
/// capped near 32 KiB, so 64 KiB always holds one whole datagram. The
/// buffer is never zeroed: a first call's replies fill a few hundred bytes
/// of it, and zeroing all of it would fault in 16 pages (about 0.03 ms of
/// a budget of 1 ms).
const RECV_BUF_LEN: usize = 64 * 1024;
/// A dump that keeps being interrupted by ruleset changes is given up after
/// this many tries (EINTR, as libmnl reports it).
const DUMP_TRIES: usize = 5;

/// "ip", "ip6", "inet", "arp", "bridge", "netdev", or the number
pub fn family_name(f: u8) -> String {
    match f {
        NFPROTO_INET => "inet".into(),
        NFPROTO_IPV4 => "ip".into(),
        NFPROTO_ARP => "arp".into(),
        NFPROTO_NETDEV => "netdev".into(),
        NFPROTO_BRIDGE => "bridge".into(),
        NFPROTO_IPV6 => "ip6".into(),
        n => n.to_string(),
    }
}

/// A netlink socket speaking to nf_tables.
pub struct Nft {
    fd: OwnedFd,
    seq: u32,
    /// Capacity [`RECV_BUF_LEN`]; its length is that of the last datagram.
    buf: Vec<u8>,
    timeout: Duration,
    /// When the current probe must have its answer ([`Nft::set_deadline`]).
    deadline: Option<Instant>,
    /// The socket's SO_RCVTIMEO as last set.
    rcvtimeo: Duration,
}

/// A rule count, and whether it is all of them: a count asked to stop at a
/// number of rules may have left some uncounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub rules: u64,
    pub complete: bool,
}

impl Tally {
    /// Sums the tallies of `parts` (chains of a table, tables of a family),
    /// each counted by `count` up to what is left of `reach`. Counting ends
    /// at the first part that stopped early, or once `reach` is met with
    /// parts left: the sum is then incomplete. `count` answers `None` for a
    /// part that does not exist, which holds nothing.
    pub fn sum<P>(
        parts: impl IntoIterator<Item = P>,
        reach: Option<u64>,
        mut count: impl FnMut(P, Option<u64>) -> io::Result<Option<Tally>>,
    ) -> io::Result<Tally> {
        let mut sum = Tally {
            rules: 0,
            complete: true,
        };
        for part in parts {
            let left = reach.map(|r| r.saturating_sub(sum.rules));
            if left == Some(0) {
                sum.complete = false;
                break;
            }
            let Some(t) = count(part, left)? else {
                continue;
            };
            sum.rules += t.rules;
            if !t.complete {
                sum.complete = false;
                break;
            }
        }
        Ok(sum)
    }
}

impl Nft {
    /// socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_NETFILTER) + bind. Errors are returned raw (io::Error with errno):
    /// EPROTONOSUPPORT means no nf_tables in this kernel; EPERM/EACCES means refused (seccomp, capability).
    ///
    /// EPROTONOSUPPORT comes from the socket call itself when `nfnetlink` is
    /// neither built in nor loadable. A kernel with nfnetlink but without
    /// nf_tables opens fine and fails later, in [`Nft::generation`].
    /// `timeout` bounds every wait for a reply (SO_RCVTIMEO): a kernel that
    /// never answers makes a call fail instead of hanging. A deadline, once
    /// set, bounds everything after it: the waits, and a dump that answers
    /// quickly but goes on for longer. Either way the call fails with
    /// [`io::ErrorKind::TimedOut`].
    pub fn open(timeout: Duration) -> io::Result<Nft> {
        Ok(Nft {
            fd: Nft::socket(timeout)?,
            seq: initial_seq(),
            buf: Vec::with_capacity(RECV_BUF_LEN),
            timeout,
            deadline: None,
            rcvtimeo: timeout,
        })
    }

    /// Every call from now on must end by `at`: one probe's deadline.
    pub fn set_deadline(&mut self, at: Instant) {
        self.deadline = Some(at);
    }

    fn socket(timeout: Duration) -> io::Result<OwnedFd> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )?;
        // Port id 0: the kernel picks a unique one for us.
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        setsockopt(&fd, sockopt::ReceiveTimeout, &timeval(timeout))?;
        Ok(fd)
    }

    /// NFT_MSG_GETGEN: the ruleset generation id. Proves nf_tables answers.
    ///
    /// A kernel too old for GETGEN answers EINVAL; one whose nfnetlink cannot
    /// load the nf_tables subsystem answers EOPNOTSUPP.
    pub fn generation(&mut self) -> io::Result<u32> {
        let mut gen = None;
        let req = Request::new(NFT_MSG_GETGEN, NFPROTO_UNSPEC, false);
        self.exchange(&req, &mut |m| {
            if m.kind == NFT_MSG_NEWGEN {
                gen = Some(parse_gen_id(m.attrs)?);
            }
            Ok(Flow::More)
        })?;
        gen.ok_or_else(|| invalid("GETGEN: no NEWGEN in the reply"))
    }

    /// Names of all chains of table `table` in `family`, or `None` if the
    /// table is missing: a NFT_MSG_GETCHAIN dump with NFTA_CHAIN_TABLE in the
    /// request.
    ///
    /// The chain dump cannot tell a missing table (its dump is just empty,
    /// like that of a table without chains), so a plain GETTABLE asks first
    /// and its ENOENT means "missing". Kernel 6.18 ignores NFTA_CHAIN_TABLE
    /// in a dump request (a chain dump lists every chain of the family): it
    /// is sent anyway (harmless, and used by kernels that filter) and the
    /// reply is filtered here.
    pub fn chains(&mut self, family: u8, table: &str) -> io::Result<Option<Vec<String>>> {
        if !self.table_exists(family, table)? {
            return Ok(None);
        }
        let mut req = Request::new(NFT_MSG_GETCHAIN, family, true);
        req.put_str(NFTA_CHAIN_TABLE, table);
        let names = self.dump(&req, Vec::new, |names, m| {
            if m.kind == NFT_MSG_NEWCHAIN && m.family == family {
                if let Some(name) = chain_of_table(m.attrs, table)? {
                    names.push(name);
                }
            }
            Ok(())
        })?;
        Ok(Some(names))
    }

    /// Whether chain `chain` of table `table` exists in `family`: a plain
    /// NFT_MSG_GETCHAIN naming both, which the kernel answers by lookup, with
    /// ENOENT for a missing table or chain. One round trip, whatever the
    /// size of the ruleset: a chain dump would carry every chain of the
    /// family (20,000 chains of a kube-proxy nat table cost 10 ms).
    pub fn chain_exists(&mut self, family: u8, table: &str, chain: &str) -> io::Result<bool> {
        let mut req = Request::new(NFT_MSG_GETCHAIN, family, false);
        req.put_str(NFTA_CHAIN_TABLE, table);
        req.put_str(NFTA_CHAIN_NAME, chain);
        self.exists(&req)
    }

    /// Number of rules in table `table` of `family`: a NFT_MSG_GETRULE dump restricted to the table
    /// (NFTA_RULE_TABLE attribute in the dump request), counting NFT_MSG_NEWRULE messages, decoding no expressions.
    /// Missing table: Ok(None).
    ///
    /// With `reach`, counting stops as soon as that many rules were seen
    /// (the tally is then incomplete): the rest of the dump is abandoned
    /// with its socket, so the kernel never formats those rules. That is
    /// what makes a first call on a host with 100,000 nft rules cheap,
    /// since the decision only needs to know that nft holds more rules than
    /// legacy can.
    ///
    /// The dump is done chain by chain (NFTA_RULE_TABLE plus
    /// NFTA_RULE_CHAIN), not as one dump of the table, because the kernel
    /// resumes a rule dump by walking the rule list from the start up to the
    /// index where the previous 32 KiB batch stopped: one dump costs
    /// O(rules^2 / rules-per-batch). With 100,000 rules in a table (6.18; an
    /// iptables-nft rule with two matches and a comment is about 735 bytes
    /// on the wire, so about 44 rules per batch) a single table dump took
    /// 17-22 s of kernel time whether the rules sat in 1, 10 or 1,000 chains;
    /// chain by chain over 1,000 or 10,000 chains it takes about 0.4 s, nearly
    /// all of it the kernel formatting the rules (parsing here is under
    /// 10 ms). One huge chain stays quadratic either way. The separate dumps are made consistent by
    /// comparing the generation id before and after (retried like
    /// NLM_F_DUMP_INTR).
    ///
    /// Only the first attribute of each rule is read (the kernel puts
    /// NFTA_RULE_TABLE first) to make sure the rule belongs to `table` even on
    /// a kernel that does not filter the dump. Memory stays at the 64 KiB
    /// receive buffer plus the chain names, whatever the number of rules.
    pub fn count_rules(
        &mut self,
        family: u8,
        table: &str,
        reach: Option<u64>,
    ) -> io::Result<Option<Tally>> {
        for _ in 0..DUMP_TRIES {
            let gen = self.generation()?;
            let Some(chains) = self.chains(family, table)? else {
                return Ok(None);
            };
            let tally = Tally::sum(&chains, reach, |chain, left| {
                self.count_chain_rules(family, table, chain, left).map(Some)
            })?;
            // The per-chain dumps are separate reads: only a generation id
            // that did not move proves they saw one ruleset.
            if self.generation()? == gen {
                return Ok(Some(tally));
            }
        }
        Err(io::Error::from_raw_os_error(libc::EINTR))
    }

    /// Number of rules in `table` from one dump restricted to the table
    /// (none for a missing table, whose dump is just empty), for a table
    /// known to be small (mangle, read for a hint): one round trip where [`Nft::count_rules`] makes several, and
    /// a table of a few rules cannot make the dump's quadratic walk matter.
    pub fn count_small_table(&mut self, family: u8, table: &str) -> io::Result<u64> {
        let mut req = Request::new(NFT_MSG_GETRULE, family, true);
        req.put_str(NFTA_RULE_TABLE, table);
        Ok(self.count_dump(&req, family, table, None)?.rules)
    }

    fn count_chain_rules(
        &mut self,
        family: u8,
        table: &str,
        chain: &str,
        reach: Option<u64>,
    ) -> io::Result<Tally> {
        let mut req = Request::new(NFT_MSG_GETRULE, family, true);
        req.put_str(NFTA_RULE_TABLE, table);
        req.put_str(NFTA_RULE_CHAIN, chain);
        self.count_dump(&req, family, table, reach)
    }

    /// Runs a rule dump and counts the rules of `family` and `table` in it,
    /// stopping once `reach` rules were counted.
    fn count_dump(
        &mut self,
        req: &Request,
        family: u8,
        table: &str,
        reach: Option<u64>,
    ) -> io::Result<Tally> {
        let (rules, complete) = self.dump_until(
            req,
            || 0u64,
            |n, m| {
                if m.kind == NFT_MSG_NEWRULE && m.family == family && rule_in_table(m.attrs, table)?
                {
                    *n += 1;
                }
                Ok(match reach {
                    Some(r) if *n >= r => Flow::Enough,
                    _ => Flow::More,
                })
            },
        )?;
        Ok(Tally { rules, complete })
    }

    /// Every table in every family: NFT_MSG_GETTABLE dump with family NFPROTO_UNSPEC. (family, name).
    pub fn tables(&mut self) -> io::Result<Vec<(u8, String)>> {
        let req = Request::new(NFT_MSG_GETTABLE, NFPROTO_UNSPEC, true);
        self.dump(&req, Vec::new, |tables, m| {
            if m.kind == NFT_MSG_NEWTABLE {
                let name = find_attr(m.attrs, NFTA_TABLE_NAME)?
                    .ok_or_else(|| invalid("NEWTABLE without NFTA_TABLE_NAME"))?;
                tables.push((m.family, attr_string(name)));
            }
            Ok(())
        })
    }

    /// A plain GETTABLE for one table: Ok(false) on ENOENT.
    fn table_exists(&mut self, family: u8, table: &str) -> io::Result<bool> {
        let mut req = Request::new(NFT_MSG_GETTABLE, family, false);
        req.put_str(NFTA_TABLE_NAME, table);
        self.exists(&req)
    }

    /// Sends a plain request that names one object: `Ok(false)` when the
    /// kernel answers ENOENT.
    fn exists(&mut self, req: &Request) -> io::Result<bool> {
        match self.exchange(req, &mut |_| Ok(Flow::More)) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Runs a dump, starting over (with fresh state from `fresh`) when the
    /// kernel flags it NLM_F_DUMP_INTR: the ruleset changed while it was
    /// being read, so what we collected may be inconsistent.
    fn dump<T>(
        &mut self,
        req: &Request,
        fresh: impl FnMut() -> T,
        mut each: impl FnMut(&mut T, &NftMsg) -> io::Result<()>,
    ) -> io::Result<T> {
        let every = |acc: &mut T, m: &NftMsg| each(acc, m).map(|()| Flow::More);
        Ok(self.dump_until(req, fresh, every)?.0)
    }

    /// [`Nft::dump`] for a reader that may stop early: with what it
    /// gathered, whether the dump was read to its end. A dump cut short is
    /// not started over even if it was interrupted: what was counted was
    /// there, so it is still a lower bound.
    fn dump_until<T>(
        &mut self,
        req: &Request,
        mut fresh: impl FnMut() -> T,
        mut each: impl FnMut(&mut T, &NftMsg) -> io::Result<Flow>,
    ) -> io::Result<(T, bool)> {
        for _ in 0..DUMP_TRIES {
            let mut acc = fresh();
            match self.exchange(req, &mut |m| each(&mut acc, m))? {
                Completion::Clean => return Ok((acc, true)),
                Completion::Stopped => return Ok((acc, false)),
                Completion::Interrupted => {}
            }
        }
        Err(io::Error::from_raw_os_error(libc::EINTR))
    }

    /// Sends one request and feeds every nf_tables message of its reply to
    /// `each`, until NLMSG_DONE (dump) or the ACK (plain request), or until
    /// `each` has seen enough. The kernel goes on with a dump only as we
    /// read it, and refuses a new one on a socket whose dump is unfinished
    /// (EBUSY), so a dump left early is dropped with its socket: the
    /// socket is replaced by a fresh one.
    fn exchange(
        &mut self,
        req: &Request,
        each: &mut dyn FnMut(&NftMsg) -> io::Result<Flow>,
    ) -> io::Result<Completion> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = req.encode(seq);
        let sent = send(self.fd.as_raw_fd(), &bytes, MsgFlags::empty())?;
        if sent != bytes.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short netlink send",
            ));
        }
        let mut interrupted = false;
        loop {
            if let Err(e) = self.recv_datagram() {
                if e.kind() == io::ErrorKind::TimedOut {
                    // The rest of the reply would meet the next request:
                    // drop it with the socket, as for a dump left early.
                    self.fresh_socket()?;
                }
                return Err(e);
            }
            match handle_datagram(&self.buf, seq, &mut interrupted, each)? {
                Step::More => {}
                Step::Finished if interrupted => return Ok(Completion::Interrupted),
                Step::Finished => return Ok(Completion::Clean),
                Step::Enough => {
                    self.fresh_socket()?;
                    return Ok(Completion::Stopped);
                }
            }
        }
    }

    /// Replaces the socket, dropping whatever reply is still under way.
    fn fresh_socket(&mut self) -> io::Result<()> {
        self.fd = Nft::socket(self.timeout)?;
        self.rcvtimeo = self.timeout;
        Ok(())
    }

    /// One datagram into the fixed buffer. MSG_TRUNC makes netlink report
    /// the datagram's real length, so a cut message is detected rather than
    /// misparsed.
    fn recv_datagram(&mut self) -> io::Result<()> {
        if let Some(at) = self.deadline {
            let left = at.saturating_duration_since(Instant::now());
            let slack = (self.timeout / 16).min(MAX_SLACK);
            if let Some(wait) = receive_wait(left, self.rcvtimeo, slack)? {
                setsockopt(&self.fd, sockopt::ReceiveTimeout, &timeval(wait))?;
                self.rcvtimeo = wait;
            }
        }
        self.buf.clear();
        let room = self.buf.spare_capacity_mut();
        let n = loop {
            // SAFETY: the kernel writes at most `room.len()` bytes, into
            // memory `room` owns for the whole call.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    room.as_mut_ptr().cast(),
                    room.len(),
                    libc::MSG_TRUNC,
                )
            };
            match usize::try_from(n) {
                Ok(n) if n > room.len() => {
                    return Err(invalid("netlink datagram larger than the receive buffer"))
                }
                Ok(n) => break n,
                Err(_) => {
                    let e = io::Error::last_os_error();
                    // SO_RCVTIMEO ran out: no reply in time.
                    if e.kind() == io::ErrorKind::WouldBlock {
                        return Err(timed_out());
                    }
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        };
        // SAFETY: recv(2) wrote the first `n` bytes.
        unsafe { self.buf.set_len(n) };
        Ok(())
    }
}

/// How late past its deadline a receive may end: setting SO_RCVTIMEO
/// before every datagram of a long dump would cost a syscall each, so the
/// wait is only shortened once it reaches this far past the deadline (or a
/// sixteenth of the timeout, if less).
const MAX_SLACK: Duration = Duration::from_millis(10);

/// Before a receive with `left` until the deadline and SO_RCVTIMEO at
/// `set`: the error once the deadline has passed, or the shorter wait to
/// set when `set` would overrun the deadline by more than `slack`.
fn receive_wait(left: Duration, set: Duration, slack: Duration) -> io::Result<Option<Duration>> {
    if left.is_zero() {
        return Err(timed_out());
    }
    Ok((set > left + slack).then_some(left))
}

/// A probe's deadline passed before nf_tables had answered.
fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "not finished in time")
}

/// SO_RCVTIMEO's value. A zero would mean "wait forever": never pass one.
fn timeval(d: Duration) -> TimeVal {
    TimeVal::new(d.as_secs() as _, d.subsec_micros().max(1) as _)
}

/// How a request's reply ended.
#[derive(Debug, PartialEq, Eq)]
enum Completion {
    Clean,
    /// Some message carried NLM_F_DUMP_INTR.
    Interrupted,
    /// The caller had seen enough and the rest was dropped.
    Stopped,
}

/// What a reader of a reply wants after one message.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    More,
    Enough,
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    More,
    Finished,
    /// The reader has seen enough.
    Enough,
}

/// One nf_tables message of a reply, with the nfgenmsg already taken off.
#[derive(Debug)]
struct NftMsg<'a> {
    /// The NFT_MSG_* command (low byte of the message type).
    kind: u8,
    family: u8,
    attrs: &'a [u8],
}

/// A netlink message header and its payload, borrowed from the buffer.
#[derive(Debug, PartialEq, Eq)]
struct NlMsg<'a> {
    ty: u16,
    flags: u16,
    seq: u32,
    payload: &'a [u8],
}

/// Handles every message of one datagram that answers `seq`; messages of
/// other sequence numbers (late replies to an earlier, timed-out request)
/// are skipped.
fn handle_datagram(
    data: &[u8],
    seq: u32,
    interrupted: &mut bool,
    each: &mut dyn FnMut(&NftMsg) -> io::Result<Flow>,
) -> io::Result<Step> {
    for msg in NlMsgs::new(data) {
        let msg = msg?;
        if msg.seq != seq {
            continue;
        }
        if msg.flags & NLM_F_DUMP_INTR != 0 {
            *interrupted = true;
        }
        match msg.ty {
            NLMSG_NOOP => {}
            NLMSG_ERROR => {
                parse_error(msg.payload)?;
                // error 0 is the ACK that closes a plain request.
                return Ok(Step::Finished);
            }
            NLMSG_DONE => {
                // The kernel may put a negative errno here when a dump fails
                // half way.
                parse_done(msg.payload)?;
                return Ok(Step::Finished);
            }
            NLMSG_OVERRUN => return Err(invalid("NLMSG_OVERRUN")),
            ty if ty >> 8 != NFNL_SUBSYS_NFTABLES => {}
            ty => {
                if each(&parse_nft_msg(ty, msg.payload)?)? == Flow::Enough {
                    return Ok(Step::Enough);
                }
            }
        }
    }
    Ok(Step::More)
}

/// Iterator over the nlmsghdr-framed messages of a datagram. Stops after
/// the first error (a malformed length makes the rest unreadable).
struct NlMsgs<'a> {
    rest: &'a [u8],
}

impl<'a> NlMsgs<'a> {
    fn new(data: &'a [u8]) -> Self {
        NlMsgs { rest: data }
    }
}

impl<'a> Iterator for NlMsgs<'a> {
    type Item = io::Result<NlMsg<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = split_nlmsg(self.rest);
        match r {
            Ok((msg, rest)) => {
                self.rest = rest;
                Some(Ok(msg))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Takes the first message off `data`: nlmsg_len covers header and payload;
/// the next message starts at the 4-byte aligned end.
fn split_nlmsg(data: &[u8]) -> io::Result<(NlMsg<'_>, &[u8])> {
    if data.len() < NLMSG_HDRLEN {
        return Err(invalid("truncated nlmsghdr"));
    }
    let len = Host.u32_at(data, NLMSG_LEN_OFF) as usize;
    if len < NLMSG_HDRLEN || len > data.len() {
        return Err(invalid("nlmsg_len out of bounds"));
    }
    let msg = NlMsg {
        ty: Host.u16_at(data, NLMSG_TYPE_OFF),
        flags: Host.u16_at(data, NLMSG_FLAGS_OFF),
        seq: Host.u32_at(data, NLMSG_SEQ_OFF),
        payload: &data[NLMSG_HDRLEN..len],
    };
    let next = align4(len).min(data.len());
    Ok((msg, &data[next..]))
}

/// NLMSG_ERROR payload: struct nlmsgerr, an int error then the request's
/// header. 0 is an ACK, a negative value an errno.
fn parse_error(payload: &[u8]) -> io::Result<()> {
    if payload.len() < NLMSGERR_ERROR_OFF + 4 {
        return Err(invalid("truncated NLMSG_ERROR"));
    }
    errno_result(Host.i32_at(payload, NLMSGERR_ERROR_OFF))
}

/// NLMSG_DONE payload: an int, 0 or a negative errno; may be absent.
fn parse_done(payload: &[u8]) -> io::Result<()> {
    if payload.len() < 4 {
        return Ok(());
    }
    errno_result(Host.i32_at(payload, 0))
}

fn errno_result(err: i32) -> io::Result<()> {
    match err {
        0 => Ok(()),
        e if e < 0 => Err(io::Error::from_raw_os_error(-e)),
        _ => Err(invalid("positive error code in netlink reply")),
    }
}

fn parse_nft_msg(ty: u16, payload: &[u8]) -> io::Result<NftMsg<'_>> {
    if payload.len() < NFGENMSG_LEN {
        return Err(invalid("truncated nfgenmsg"));
    }
    Ok(NftMsg {
        kind: (ty & 0xff) as u8,
        family: payload[NFGEN_FAMILY_OFF],
        attrs: &payload[NFGENMSG_LEN..],
    })
}

/// Iterator over netlink attributes: (type without flag bits, payload).
struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attrs<'a> {
    type Item = io::Result<(u16, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match split_attr(self.rest) {
            Ok((ty, payload, rest)) => {
                self.rest = rest;
                Some(Ok((ty, payload)))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

fn attrs(data: &[u8]) -> Attrs<'_> {
    Attrs { rest: data }
}

fn split_attr(data: &[u8]) -> io::Result<(u16, &[u8], &[u8])> {
    if data.len() < NLA_HDRLEN {
        return Err(invalid("truncated nlattr"));
    }
    let len = Host.u16_at(data, NLA_LEN_OFF) as usize;
    if len < NLA_HDRLEN || len > data.len() {
        return Err(invalid("nla_len out of bounds"));
    }
    let ty = Host.u16_at(data, NLA_TYPE_OFF) & NLA_TYPE_MASK;
    let next = align4(len).min(data.len());
    Ok((ty, &data[NLA_HDRLEN..len], &data[next..]))
}

/// The payload of the first attribute of type `ty`. Every attribute before
/// it is checked; those after it are not read.
fn find_attr(data: &[u8], ty: u16) -> io::Result<Option<&[u8]>> {
    for a in attrs(data) {
        let (t, payload) = a?;
        if t == ty {
            return Ok(Some(payload));
        }
    }
    Ok(None)
}

/// NLA_STRING payloads end in a NUL. Names are bytes to the kernel; a
/// non-UTF-8 one is shown lossily rather than failing the whole listing.
fn attr_string(payload: &[u8]) -> String {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    String::from_utf8_lossy(&payload[..end]).into_owned()
}

fn attr_is(payload: &[u8], name: &str) -> bool {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    &payload[..end] == name.as_bytes()
}

fn parse_gen_id(data: &[u8]) -> io::Result<u32> {
    let id = find_attr(data, NFTA_GEN_ID)?.ok_or_else(|| invalid("NEWGEN without NFTA_GEN_ID"))?;
    if id.len() != 4 {
        return Err(invalid("NFTA_GEN_ID is not 4 bytes"));
    }
    // NLA_U32 attributes of nf_tables are in network byte order.
    Ok(Network.u32_at(id, 0))
}

/// The chain's name if the NEWCHAIN message belongs to `table`.
fn chain_of_table(data: &[u8], table: &str) -> io::Result<Option<String>> {
    let (mut in_table, mut name) = (None, None);
    for a in attrs(data) {
        match a? {
            (NFTA_CHAIN_TABLE, p) => in_table = Some(attr_is(p, table)),
            (NFTA_CHAIN_NAME, p) => name = Some(attr_string(p)),
            _ => {}
        }
    }
    match (in_table, name) {
        (Some(true), Some(name)) => Ok(Some(name)),
        (Some(false), Some(_)) => Ok(None),
        _ => Err(invalid("NEWCHAIN without table or name")),
    }
}

fn rule_in_table(data: &[u8], table: &str) -> io::Result<bool> {
    let t = find_attr(data, NFTA_RULE_TABLE)?.ok_or_else(|| invalid("NEWRULE without table"))?;
    Ok(attr_is(t, table))
}

/// An outgoing nf_tables request: nfgenmsg plus attributes.
struct Request {
    kind: u8,
    flags: u16,
    body: Vec<u8>,
}

impl Request {
    fn new(kind: u8, family: u8, dump: bool) -> Request {
        // A plain request asks for an ACK so its reply has a definite end
        // even when it carries no data message.
        let flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
        // nfgenmsg: family, version, res_id (big endian, 0 for GET requests).
        let mut body = vec![0u8; NFGENMSG_LEN];
        body[NFGEN_FAMILY_OFF] = family;
        body[NFGEN_VERSION_OFF] = NFNETLINK_V0;
        Request { kind, flags, body }
    }

    /// Adds a NUL-terminated string attribute, padded to 4 bytes.
    fn put_str(&mut self, ty: u16, s: &str) {
        let len = NLA_HDRLEN + s.len() + 1;
        let mut header = [0u8; NLA_HDRLEN];
        header[NLA_LEN_OFF..][..2].copy_from_slice(&Host.u16_bytes(len as u16));
        header[NLA_TYPE_OFF..][..2].copy_from_slice(&Host.u16_bytes(ty));
        self.body.extend_from_slice(&header);
        self.body.extend_from_slice(s.as_bytes());
        self.body.push(0);
        self.body.resize(align4(self.body.len()), 0);
    }

    fn encode(&self, seq: u32) -> Vec<u8> {
        let len = NLMSG_HDRLEN + self.body.len();
        let ty = (NFNL_SUBSYS_NFTABLES << 8) | u16::from(self.kind);
        let mut out = vec![0u8; NLMSG_HDRLEN];
        out[NLMSG_LEN_OFF..][..4].copy_from_slice(&Host.u32_bytes(len as u32));
        out[NLMSG_TYPE_OFF..][..2].copy_from_slice(&Host.u16_bytes(ty));
        out[NLMSG_FLAGS_OFF..][..2].copy_from_slice(&Host.u16_bytes(self.flags));
        out[NLMSG_SEQ_OFF..][..4].copy_from_slice(&Host.u32_bytes(seq));
        // nlmsg_pid stays 0: to the kernel.
        out.extend_from_slice(&self.body);
        out
    }
}

/// Sequence numbers start from the clock, like libmnl, so two sockets of one
/// process are not easily confused when reading a capture.
fn initial_seq() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("nf_tables netlink: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::bytes::both_orders;
    use crate::probe::uapi_layout::{fixture, in_order, ORDERS};

    /// Builds one netlink message: header, then `payload`, padded.
    fn nlmsg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&Host.u32_bytes(len as u32));
        m.extend_from_slice(&Host.u16_bytes(ty));
        m.extend_from_slice(&Host.u16_bytes(flags));
        m.extend_from_slice(&Host.u32_bytes(seq));
        m.extend_from_slice(&[0u8; 4]);
        m.extend_from_slice(payload);
        m.resize(align4(m.len()), 0);
        m
    }

    fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&Host.u16_bytes((NLA_HDRLEN + payload.len()) as u16));
        a.extend_from_slice(&Host.u16_bytes(ty));
        a.extend_from_slice(payload);
        a.resize(align4(a.len()), 0);
        a
    }

    fn nft(kind: u8, family: u8, attrs: &[Vec<u8>]) -> (u16, Vec<u8>) {
        let mut p = vec![family, 0, 0, 0];
        for a in attrs {
            p.extend_from_slice(a);
        }
        ((NFNL_SUBSYS_NFTABLES << 8) | u16::from(kind), p)
    }

    fn cstr(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    fn errmsg(seq: u32, err: i32) -> Vec<u8> {
        let mut p = Host.u32_bytes(err as u32).to_vec();
        p.extend_from_slice(&[0u8; 16]);
        nlmsg(NLMSG_ERROR, 0, seq, &p)
    }

    /// Runs handle_datagram collecting (kind, family, table attribute).
    fn collect(data: &[u8], seq: u32) -> (io::Result<Step>, Vec<(u8, u8)>, bool) {
        let mut seen = Vec::new();
        let mut intr = false;
        let r = handle_datagram(data, seq, &mut intr, &mut |m| {
            seen.push((m.kind, m.family));
            Ok(Flow::More)
        });
        (r, seen, intr)
    }

    #[test]
    fn request_encoding() {
        both_orders(|| {
            let mut r = Request::new(NFT_MSG_GETRULE, NFPROTO_IPV4, true);
            r.put_str(NFTA_RULE_TABLE, "nat");
            let b = r.encode(7);
            // 16 header + 4 nfgenmsg + 4 nla header + "nat\0"
            assert_eq!(b.len(), 28);
            assert_eq!(Host.u32_at(&b, 0), 28);
            assert_eq!(Host.u16_at(&b, 4), 0x0a07);
            assert_eq!(Host.u16_at(&b, 6), NLM_F_REQUEST | NLM_F_DUMP);
            assert_eq!(Host.u32_at(&b, 8), 7);
            assert_eq!(&b[16..20], &[2, 0, 0, 0]);
            assert_eq!(Host.u16_at(&b, 20), 8);
            assert_eq!(Host.u16_at(&b, 22), NFTA_RULE_TABLE);
            assert_eq!(&b[24..28], b"nat\0");
            // Padding: "filter\0" is 7 bytes, padded to 8.
            let mut r = Request::new(NFT_MSG_GETTABLE, NFPROTO_IPV6, false);
            r.put_str(NFTA_TABLE_NAME, "filter");
            let b = r.encode(1);
            assert_eq!(b.len(), 16 + 4 + 4 + 8);
            assert_eq!(Host.u16_at(&b, 6), NLM_F_REQUEST | NLM_F_ACK);
            assert_eq!(Host.u16_at(&b, 20), 11);
        });
    }

    #[test]
    fn datagram_with_several_messages_and_done() {
        both_orders(|| {
            let (ty, p) = nft(
                NFT_MSG_NEWTABLE,
                2,
                &[attr(NFTA_TABLE_NAME, &cstr("filter"))],
            );
            let (ty6, p6) = nft(NFT_MSG_NEWTABLE, 10, &[attr(NFTA_TABLE_NAME, &cstr("nat"))]);
            let mut d = nlmsg(ty, 2, 5, &p);
            d.extend(nlmsg(ty6, 2, 5, &p6));
            d.extend(nlmsg(NLMSG_DONE, 2, 5, &Host.u32_bytes(0)));
            let (r, seen, intr) = collect(&d, 5);
            assert_eq!(r.unwrap(), Step::Finished);
            assert_eq!(seen, vec![(NFT_MSG_NEWTABLE, 2), (NFT_MSG_NEWTABLE, 10)]);
            assert!(!intr);
        });
    }

    #[test]
    fn a_reader_that_has_enough_stops_mid_datagram() {
        both_orders(|| {
            let (ty, p) = nft(NFT_MSG_NEWRULE, 2, &[attr(NFTA_RULE_TABLE, &cstr("nat"))]);
            let mut d = nlmsg(ty, 2, 5, &p);
            d.extend(nlmsg(ty, 2, 5, &p));
            d.extend(nlmsg(NLMSG_DONE, 2, 5, &Host.u32_bytes(0)));
            let mut seen = 0;
            let r = handle_datagram(&d, 5, &mut false, &mut |_| {
                seen += 1;
                Ok(Flow::Enough)
            });
            assert_eq!(r.unwrap(), Step::Enough);
            assert_eq!(seen, 1);
        });
    }

    #[test]
    fn tallies_sum_until_the_reach() {
        let t = |rules, complete| Tally { rules, complete };
        // Parts of 3 rules, one missing; each counted as a dump does: it
        // stops, incomplete, once it has what is left of the reach.
        let sum = |reach| {
            let mut asked = vec![];
            let parts = [Some(3), None, Some(3), Some(3)];
            let total = Tally::sum(parts, reach, |p: Option<u64>, left| {
                asked.push(left);
                Ok(p.map(|n| match left {
                    Some(l) if l <= n => t(l, false),
                    _ => t(n, true),
                }))
            });
            (total.unwrap(), asked)
        };
        assert_eq!(sum(None).0, t(9, true));
        assert_eq!(sum(Some(10)).0, t(9, true));
        // Stopped inside a part: the rest is not asked.
        assert_eq!(sum(Some(4)), (t(4, false), vec![Some(4), Some(1), Some(1)]));
        // Met exactly at a part's end, with parts left.
        assert_eq!(sum(Some(3)), (t(3, false), vec![Some(3)]));
    }

    #[test]
    fn multipart_without_done_asks_for_more() {
        both_orders(|| {
            let (ty, p) = nft(NFT_MSG_NEWRULE, 2, &[attr(NFTA_RULE_TABLE, &cstr("nat"))]);
            let d = nlmsg(ty, 2, 5, &p);
            let (r, seen, _) = collect(&d, 5);
            assert_eq!(r.unwrap(), Step::More);
            assert_eq!(seen.len(), 1);
        });
    }

    #[test]
    fn other_sequence_numbers_are_skipped() {
        both_orders(|| {
            let (ty, p) = nft(NFT_MSG_NEWRULE, 2, &[]);
            let mut d = nlmsg(ty, 2, 4, &p);
            d.extend(errmsg(4, -libc::ENOENT));
            d.extend(nlmsg(NLMSG_DONE, 2, 4, &Host.u32_bytes(0)));
            let (r, seen, _) = collect(&d, 5);
            assert_eq!(r.unwrap(), Step::More);
            assert!(seen.is_empty());
        });
    }

    #[test]
    fn error_message_carries_errno() {
        both_orders(|| {
            let (r, _, _) = collect(&errmsg(9, -libc::ENOENT), 9);
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENOENT));
            let (r, _, _) = collect(&errmsg(9, 0), 9);
            assert_eq!(r.unwrap(), Step::Finished);
            let (r, _, _) = collect(&errmsg(9, 3), 9);
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidData);
        });
    }

    #[test]
    fn done_with_error_and_done_without_payload() {
        both_orders(|| {
            let d = nlmsg(NLMSG_DONE, 2, 1, &Host.u32_bytes(-libc::EBUSY as u32));
            let (r, _, _) = collect(&d, 1);
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBUSY));
            let (r, _, _) = collect(&nlmsg(NLMSG_DONE, 2, 1, &[]), 1);
            assert_eq!(r.unwrap(), Step::Finished);
        });
    }

    #[test]
    fn dump_intr_flag_is_reported() {
        both_orders(|| {
            let (ty, p) = nft(NFT_MSG_NEWRULE, 2, &[]);
            let mut d = nlmsg(ty, 2 | NLM_F_DUMP_INTR, 3, &p);
            d.extend(nlmsg(NLMSG_DONE, 2, 3, &Host.u32_bytes(0)));
            let (r, _, intr) = collect(&d, 3);
            assert_eq!(r.unwrap(), Step::Finished);
            assert!(intr);
        });
    }

    #[test]
    fn garbage_and_truncated_messages_are_invalid_data() {
        both_orders(|| {
            let (ty, p) = nft(NFT_MSG_NEWRULE, 2, &[attr(NFTA_RULE_TABLE, &cstr("nat"))]);
            let good = nlmsg(ty, 2, 3, &p);
            let cases: Vec<Vec<u8>> = vec![
                good[..10].to_vec(),                     // shorter than a header
                good[..good.len() - 4].to_vec(),         // nlmsg_len beyond the data
                vec![0u8; 16],                           // nlmsg_len 0 (would loop)
                nlmsg(ty, 2, 3, &[2, 0]),                // nfgenmsg cut
                nlmsg(NLMSG_ERROR, 0, 3, &[0xff, 0xff]), // nlmsgerr cut
            ];
            for c in cases {
                let (r, _, _) = collect(&c, 3);
                let e = r.unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{c:?}");
            }
            // Random bytes never panic.
            for d in crate::probe::bytes::garbage(12345, 2000, 64) {
                let _ = collect(&d, 3);
                for a in attrs(&d) {
                    if a.is_err() {
                        break;
                    }
                }
            }
        });
    }

    #[test]
    fn attribute_parsing() {
        both_orders(|| {
            let mut data = attr(NFTA_CHAIN_TABLE, &cstr("mangle"));
            data.extend(attr(2, &7u64.to_be_bytes()));
            // Nested flag set on the type: masked off.
            data.extend(attr(NFTA_CHAIN_NAME | 0x8000, &cstr("KUBE-IPTABLES-HINT")));
            assert_eq!(
                chain_of_table(&data, "mangle").unwrap().as_deref(),
                Some("KUBE-IPTABLES-HINT")
            );
            assert_eq!(chain_of_table(&data, "filter").unwrap(), None);
            let name_only = attr(NFTA_CHAIN_NAME, &cstr("X"));
            assert!(chain_of_table(&name_only, "filter").is_err());
            // A raw attribute: nla_len, nla_type, then `rest`.
            let raw = |len: u16, rest: &[u8]| -> Vec<u8> {
                [&Host.u16_bytes(len)[..], &Host.u16_bytes(1), rest].concat()
            };
            // nla_len below the header size, or past the end.
            assert!(find_attr(&raw(3, &[]), 1).is_err());
            assert!(find_attr(&raw(9, &[0; 4]), 1).is_err());
            assert!(find_attr(&raw(8, &[])[..2], 1).is_err());
            // Last attribute without trailing padding is accepted.
            assert_eq!(find_attr(&raw(5, b"x"), 1).unwrap(), Some(&b"x"[..]));
            assert_eq!(attr_string(b"nat\0"), "nat");
            assert!(attr_is(b"nat\0", "nat"));
            assert!(!attr_is(b"nat2\0", "nat"));
        });
    }

    #[test]
    fn gen_id_is_big_endian() {
        both_orders(|| {
            let data = attr(NFTA_GEN_ID, &0x01020304u32.to_be_bytes());
            assert_eq!(parse_gen_id(&data).unwrap(), 0x01020304);
            assert!(parse_gen_id(&attr(NFTA_GEN_ID, &[1, 2])).is_err());
            assert!(parse_gen_id(&[]).is_err());
        });
    }

    /// Replies built in C from the real uapi structs (see
    /// `tests/layout/uapi_layout.c`), netlink headers in the target's byte
    /// order and in the other one, attribute payloads in network order.
    #[test]
    fn fixtures_from_the_targets_headers() {
        const SEQ: u32 = 0xa1b2;
        /// Every message of a reply with the outcome and the interrupt flag.
        fn read(
            data: &[u8],
            mut each: impl FnMut(&NftMsg) -> io::Result<()>,
        ) -> (io::Result<Step>, bool) {
            let mut intr = false;
            let r = handle_datagram(data, SEQ, &mut intr, &mut |m| each(m).map(|()| Flow::More));
            (r, intr)
        }
        for order in ORDERS {
            in_order(order, || {
                let fx = |name: &str| fixture(order, name);

                let mut gen = None;
                let (r, intr) = read(&fx("nl.gen"), |m| {
                    assert_eq!(m.kind, NFT_MSG_NEWGEN);
                    gen = Some(parse_gen_id(m.attrs)?);
                    Ok(())
                });
                assert_eq!(
                    (r.unwrap(), intr, gen),
                    (Step::Finished, false, Some(0x0102_0304)),
                    "{order}"
                );

                let mut tables = Vec::new();
                let (r, _) = read(&fx("nl.tables"), |m| {
                    assert_eq!(m.kind, NFT_MSG_NEWTABLE);
                    let name = find_attr(m.attrs, NFTA_TABLE_NAME)?.unwrap();
                    tables.push((m.family, attr_string(name)));
                    Ok(())
                });
                assert_eq!(r.unwrap(), Step::Finished, "{order}");
                let want = [
                    (NFPROTO_IPV4, "filter"),
                    (NFPROTO_IPV6, "nat"),
                    (NFPROTO_INET, "kube-proxy"),
                ];
                assert_eq!(tables, want.map(|(f, n)| (f, n.to_string())), "{order}");

                let mut chains = Vec::new();
                let (r, _) = read(&fx("nl.chains"), |m| {
                    if m.kind == NFT_MSG_NEWCHAIN && m.family == NFPROTO_IPV4 {
                        chains.extend(chain_of_table(m.attrs, "filter")?);
                    }
                    Ok(())
                });
                assert_eq!(r.unwrap(), Step::Finished, "{order}");
                assert_eq!(chains, ["INPUT", "KUBE-FIREWALL"], "{order}");

                let count = |name: &str| {
                    let mut n = 0;
                    let (r, intr) = read(&fx(name), |m| {
                        if m.kind == NFT_MSG_NEWRULE
                            && m.family == NFPROTO_IPV4
                            && rule_in_table(m.attrs, "filter")?
                        {
                            n += 1;
                        }
                        Ok(())
                    });
                    (r, intr, n)
                };
                let (r, intr, n) = count("nl.rules");
                assert_eq!((r.unwrap(), intr, n), (Step::Finished, true, 2), "{order}");
                let (r, _, n) = count("nl.dumperr");
                assert_eq!(
                    (r.unwrap_err().raw_os_error(), n),
                    (Some(libc::EBUSY), 1),
                    "{order}"
                );

                let (r, _) = read(&fx("nl.enoent"), |_| Ok(()));
                assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENOENT), "{order}");
            });
        }
    }

    #[test]
    fn receives_end_at_the_deadline() {
        let ms = Duration::from_millis;
        let slack = ms(10);
        // Passed: time out without receiving.
        let e = receive_wait(Duration::ZERO, ms(5000), slack).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // Far from it: the wait set stays (no syscall).
        assert_eq!(receive_wait(ms(4995), ms(5000), slack).unwrap(), None);
        // Closer than the wait set, beyond the slack: shortened to what is left.
        assert_eq!(
            receive_wait(ms(4000), ms(5000), slack).unwrap(),
            Some(ms(4000))
        );
        assert_eq!(receive_wait(ms(3), ms(20), slack).unwrap(), Some(ms(3)));
        // Within the slack: left as it is, at most `slack` late.
        assert_eq!(receive_wait(ms(15), ms(20), slack).unwrap(), None);
        assert_eq!(
            timeval(Duration::ZERO).tv_usec(),
            1,
            "zero would wait forever"
        );
    }

    #[test]
    fn family_names() {
        assert_eq!(family_name(NFPROTO_IPV4), "ip");
        assert_eq!(family_name(NFPROTO_IPV6), "ip6");
        assert_eq!(family_name(NFPROTO_INET), "inet");
        assert_eq!(family_name(NFPROTO_ARP), "arp");
        assert_eq!(family_name(NFPROTO_BRIDGE), "bridge");
        assert_eq!(family_name(NFPROTO_NETDEV), "netdev");
        assert_eq!(family_name(42), "42");
    }
}
