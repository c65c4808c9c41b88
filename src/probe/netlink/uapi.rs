//! Rust mirrors of the netlink headers the nf_tables client reads and
//! writes (`<linux/netlink.h>`, `<linux/netfilter/nfnetlink.h>`). The header
//! lengths and field offsets come from these with `size_of`/`offset_of!`;
//! the unit test in `probe::uapi_layout` holds them, and the protocol
//! constants of the parent module, to the output of
//! `tests/layout/uapi_layout.c` compiled for the same target.
//!
//! Byte order: the headers (`nlmsghdr`, `nlattr`, `nlmsgerr`) are in the
//! host's order; `nfgenmsg.res_id` and nf_tables attribute payloads are big
//! endian.

#![allow(dead_code)]

use std::mem::{offset_of, size_of};

/// `NLMSG_ALIGNTO` and `NLA_ALIGNTO`: messages and attributes are padded
/// to 4 bytes.
pub const NL_ALIGNTO: usize = 4;

/// `struct nlmsghdr`.
#[repr(C)]
pub struct NlMsgHdr {
    pub nlmsg_len: u32,
    pub nlmsg_type: u16,
    pub nlmsg_flags: u16,
    pub nlmsg_seq: u32,
    pub nlmsg_pid: u32,
}

/// `struct nfgenmsg`.
#[repr(C)]
pub struct NfGenMsg {
    pub nfgen_family: u8,
    pub version: u8,
    /// Big endian.
    pub res_id: u16,
}

/// `struct nlattr`.
#[repr(C)]
pub struct NlAttr {
    pub nla_len: u16,
    pub nla_type: u16,
}

/// `struct nlmsgerr`: the error, then the header of the request it answers.
#[repr(C)]
pub struct NlMsgErr {
    pub error: i32,
    pub msg: NlMsgHdr,
}

/// `NLMSG_ALIGN` / `NLA_ALIGN`.
pub const fn align4(n: usize) -> usize {
    (n + NL_ALIGNTO - 1) & !(NL_ALIGNTO - 1)
}

/// `NLMSG_HDRLEN`.
pub const NLMSG_HDRLEN: usize = align4(size_of::<NlMsgHdr>());
pub const NLMSG_LEN_OFF: usize = offset_of!(NlMsgHdr, nlmsg_len);
pub const NLMSG_TYPE_OFF: usize = offset_of!(NlMsgHdr, nlmsg_type);
pub const NLMSG_FLAGS_OFF: usize = offset_of!(NlMsgHdr, nlmsg_flags);
pub const NLMSG_SEQ_OFF: usize = offset_of!(NlMsgHdr, nlmsg_seq);
pub const NLMSG_PID_OFF: usize = offset_of!(NlMsgHdr, nlmsg_pid);
/// What an nf_tables message carries before its attributes.
pub const NFGENMSG_LEN: usize = align4(size_of::<NfGenMsg>());
pub const NFGEN_FAMILY_OFF: usize = offset_of!(NfGenMsg, nfgen_family);
pub const NFGEN_VERSION_OFF: usize = offset_of!(NfGenMsg, version);
/// `NLA_HDRLEN`.
pub const NLA_HDRLEN: usize = align4(size_of::<NlAttr>());
pub const NLA_LEN_OFF: usize = offset_of!(NlAttr, nla_len);
pub const NLA_TYPE_OFF: usize = offset_of!(NlAttr, nla_type);
pub const NLMSGERR_ERROR_OFF: usize = offset_of!(NlMsgErr, error);

/// Every size, offset and constant the client uses, named as
/// `tests/layout/uapi_layout.c` prints them.
#[cfg(test)]
pub fn layout() -> Vec<(String, String)> {
    use super::*;
    let mut v: Vec<(String, String)> = Vec::new();
    let mut put =
        |name: &str, value: &dyn std::fmt::Display| v.push((name.to_string(), value.to_string()));
    put("sizeof.nlmsghdr", &size_of::<NlMsgHdr>());
    put("offsetof.nlmsghdr.nlmsg_len", &NLMSG_LEN_OFF);
    put("offsetof.nlmsghdr.nlmsg_type", &NLMSG_TYPE_OFF);
    put("offsetof.nlmsghdr.nlmsg_flags", &NLMSG_FLAGS_OFF);
    put("offsetof.nlmsghdr.nlmsg_seq", &NLMSG_SEQ_OFF);
    put("offsetof.nlmsghdr.nlmsg_pid", &NLMSG_PID_OFF);
    put("sizeof.nfgenmsg", &size_of::<NfGenMsg>());
    put("offsetof.nfgenmsg.nfgen_family", &NFGEN_FAMILY_OFF);
    put("offsetof.nfgenmsg.version", &NFGEN_VERSION_OFF);
    put("offsetof.nfgenmsg.res_id", &offset_of!(NfGenMsg, res_id));
    put("sizeof.nlattr", &size_of::<NlAttr>());
    put("offsetof.nlattr.nla_len", &NLA_LEN_OFF);
    put("offsetof.nlattr.nla_type", &NLA_TYPE_OFF);
    put("sizeof.nlmsgerr", &size_of::<NlMsgErr>());
    put("offsetof.nlmsgerr.error", &NLMSGERR_ERROR_OFF);
    put("offsetof.nlmsgerr.msg", &offset_of!(NlMsgErr, msg));
    put("const.NLMSG_ALIGNTO", &NL_ALIGNTO);
    put("const.NLA_ALIGNTO", &NL_ALIGNTO);
    put("const.NLMSG_HDRLEN", &NLMSG_HDRLEN);
    put("const.NLA_HDRLEN", &NLA_HDRLEN);
    put("const.NETLINK_NETFILTER", &nix::libc::NETLINK_NETFILTER);
    put("const.NLMSG_NOOP", &NLMSG_NOOP);
    put("const.NLMSG_ERROR", &NLMSG_ERROR);
    put("const.NLMSG_DONE", &NLMSG_DONE);
    put("const.NLMSG_OVERRUN", &NLMSG_OVERRUN);
    put("const.NLM_F_REQUEST", &NLM_F_REQUEST);
    put("const.NLM_F_ACK", &NLM_F_ACK);
    put("const.NLM_F_DUMP_INTR", &NLM_F_DUMP_INTR);
    put("const.NLM_F_DUMP", &NLM_F_DUMP);
    put("const.NLA_TYPE_MASK", &NLA_TYPE_MASK);
    put("const.NFNL_SUBSYS_NFTABLES", &NFNL_SUBSYS_NFTABLES);
    put("const.NFNETLINK_V0", &NFNETLINK_V0);
    put("const.NFT_MSG_NEWTABLE", &NFT_MSG_NEWTABLE);
    put("const.NFT_MSG_GETTABLE", &NFT_MSG_GETTABLE);
    put("const.NFT_MSG_NEWCHAIN", &NFT_MSG_NEWCHAIN);
    put("const.NFT_MSG_GETCHAIN", &NFT_MSG_GETCHAIN);
    put("const.NFT_MSG_NEWRULE", &NFT_MSG_NEWRULE);
    put("const.NFT_MSG_GETRULE", &NFT_MSG_GETRULE);
    put("const.NFT_MSG_NEWGEN", &NFT_MSG_NEWGEN);
    put("const.NFT_MSG_GETGEN", &NFT_MSG_GETGEN);
    put("const.NFTA_TABLE_NAME", &NFTA_TABLE_NAME);
    put("const.NFTA_CHAIN_TABLE", &NFTA_CHAIN_TABLE);
    put("const.NFTA_CHAIN_NAME", &NFTA_CHAIN_NAME);
    put("const.NFTA_RULE_TABLE", &NFTA_RULE_TABLE);
    put("const.NFTA_RULE_CHAIN", &NFTA_RULE_CHAIN);
    put("const.NFTA_GEN_ID", &NFTA_GEN_ID);
    put("const.NFPROTO_UNSPEC", &NFPROTO_UNSPEC);
    put("const.NFPROTO_INET", &NFPROTO_INET);
    put("const.NFPROTO_IPV4", &NFPROTO_IPV4);
    put("const.NFPROTO_ARP", &NFPROTO_ARP);
    put("const.NFPROTO_NETDEV", &NFPROTO_NETDEV);
    put("const.NFPROTO_BRIDGE", &NFPROTO_BRIDGE);
    put("const.NFPROTO_IPV6", &NFPROTO_IPV6);
    v
}
