/*
 * The kernel's view of the structs and constants the wrapper's probes parse,
 * for the target this program is compiled for: built by that target's gcc
 * against its linux-libc-dev uapi headers and run on it (or under
 * qemu-user), it prints one "name value" line per fact. The crate's unit
 * test (src/probe/uapi_layout.rs) holds every Rust size, offset and
 * constant to these lines, and fails on any difference or missing name.
 *
 * It also prints byte fixtures built from the real uapi structs, as the
 * kernel would hand them over: x_tables GET_INFO answers and entry blobs
 * laid out as libiptc writes them (IPv4 and IPv6), and nf_tables netlink
 * replies. Each comes twice: "fixture.native.*" in the target's byte order,
 * and "fixture.swapped.*" as a machine of the other byte order would give
 * it (every host-order field byte-swapped; network-order payloads such as
 * NFTA_GEN_ID unchanged). The unit tests parse both, the swapped ones with
 * the parsers' host order flipped, and expect the same answers.
 *
 * Build and run:  cc -o uapi_layout tests/layout/uapi_layout.c && ./uapi_layout
 * For another target: its cross gcc (-static), then run under qemu-user,
 * and point IPTABLES_WRAPPER_UAPI_LAYOUT at the output for `cargo test`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netlink.h>

/* ---- layout ---------------------------------------------------------- */

#define SIZE(name, type) printf("sizeof.%s %zu\n", name, sizeof(type))
#define ALIGNOF(name, type) printf("alignof.%s %zu\n", name, (size_t)__alignof__(type))
#define OFF(name, type, field) printf("offsetof.%s %zu\n", name, offsetof(type, field))
#define CONST(c) printf("const.%s %lld\n", #c, (long long)(c))
#define STRING(c) printf("string.%s \"%s\"\n", #c, c)

/* The same facts for the IPv4 and IPv6 twins of a struct. */
#define GETINFO_FACTS(n, T)                                \
	do {                                                   \
		SIZE(n, T);                                        \
		OFF(n ".name", T, name);                           \
		OFF(n ".valid_hooks", T, valid_hooks);             \
		OFF(n ".hook_entry", T, hook_entry);               \
		OFF(n ".underflow", T, underflow);                 \
		OFF(n ".num_entries", T, num_entries);             \
		OFF(n ".size", T, size);                           \
	} while (0)
#define GET_ENTRIES_FACTS(n, T)                            \
	do {                                                   \
		SIZE(n, T);                                        \
		OFF(n ".size", T, size);                           \
		OFF(n ".entrytable", T, entrytable);               \
	} while (0)
#define IP_FACTS(n, T)                                     \
	do {                                                   \
		SIZE(n, T);                                        \
		OFF(n ".iniface", T, iniface);                     \
		OFF(n ".proto", T, proto);                         \
		OFF(n ".invflags", T, invflags);                   \
	} while (0)
#define ENTRY_FACTS(n, T)                                  \
	do {                                                   \
		SIZE(n, T);                                        \
		ALIGNOF(n, T);                                     \
		OFF(n ".nfcache", T, nfcache);                     \
		OFF(n ".target_offset", T, target_offset);         \
		OFF(n ".next_offset", T, next_offset);             \
		OFF(n ".comefrom", T, comefrom);                   \
		OFF(n ".counters", T, counters);                   \
		OFF(n ".elems", T, elems);                         \
	} while (0)

static const char *arch(void)
{
#if defined(__x86_64__)
	return "x86_64";
#elif defined(__i386__)
	return "x86";
#elif defined(__aarch64__)
	return "aarch64";
#elif defined(__arm__)
	return "arm";
#elif defined(__powerpc64__)
	return "powerpc64";
#elif defined(__s390x__)
	return "s390x";
#else
	return "unknown";
#endif
}

static void target(void)
{
	printf("target.arch %s\n", arch());
	printf("target.endian %s\n",
	       __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? "big" : "little");
	printf("target.pointer_width %zu\n", sizeof(void *) * 8);
}

static void xtables_layout(void)
{
	CONST(IPT_SO_GET_INFO);
	CONST(IPT_SO_GET_ENTRIES);
	CONST(IP6T_SO_GET_INFO);
	CONST(IP6T_SO_GET_ENTRIES);
	CONST(XT_TABLE_MAXNAMELEN);
	CONST(XT_EXTENSION_MAXNAMELEN);
	CONST(XT_FUNCTION_MAXNAMELEN);
	CONST(NF_INET_NUMHOOKS);
	CONST(IFNAMSIZ);
	CONST(XT_RETURN);
	STRING(XT_ERROR_TARGET);
	STRING(XT_STANDARD_TARGET);

	GETINFO_FACTS("ipt_getinfo", struct ipt_getinfo);
	GETINFO_FACTS("ip6t_getinfo", struct ip6t_getinfo);
	GET_ENTRIES_FACTS("ipt_get_entries", struct ipt_get_entries);
	GET_ENTRIES_FACTS("ip6t_get_entries", struct ip6t_get_entries);
	SIZE("xt_counters", struct xt_counters);
	OFF("xt_counters.bcnt", struct xt_counters, bcnt);
	IP_FACTS("ipt_ip", struct ipt_ip);
	IP_FACTS("ip6t_ip6", struct ip6t_ip6);
	ENTRY_FACTS("ipt_entry", struct ipt_entry);
	ENTRY_FACTS("ip6t_entry", struct ip6t_entry);

	SIZE("xt_entry_target", struct xt_entry_target);
	ALIGNOF("xt_entry_target", struct xt_entry_target);
	OFF("xt_entry_target.u.user.target_size", struct xt_entry_target, u.user.target_size);
	OFF("xt_entry_target.u.user.name", struct xt_entry_target, u.user.name);
	OFF("xt_entry_target.u.user.revision", struct xt_entry_target, u.user.revision);
	OFF("xt_entry_target.data", struct xt_entry_target, data);
	SIZE("xt_standard_target", struct xt_standard_target);
	OFF("xt_standard_target.verdict", struct xt_standard_target, verdict);
	SIZE("xt_error_target", struct xt_error_target);
	OFF("xt_error_target.errorname", struct xt_error_target, errorname);

	ALIGNOF("_xt_align", struct _xt_align);
	printf("XT_ALIGN.xt_standard_target %zu\n", (size_t)XT_ALIGN(sizeof(struct xt_standard_target)));
	printf("XT_ALIGN.xt_error_target %zu\n", (size_t)XT_ALIGN(sizeof(struct xt_error_target)));
	printf("XT_ALIGN.xt_entry_target %zu\n", (size_t)XT_ALIGN(sizeof(struct xt_entry_target)));
}

static void netlink_layout(void)
{
	SIZE("nlmsghdr", struct nlmsghdr);
	OFF("nlmsghdr.nlmsg_len", struct nlmsghdr, nlmsg_len);
	OFF("nlmsghdr.nlmsg_type", struct nlmsghdr, nlmsg_type);
	OFF("nlmsghdr.nlmsg_flags", struct nlmsghdr, nlmsg_flags);
	OFF("nlmsghdr.nlmsg_seq", struct nlmsghdr, nlmsg_seq);
	OFF("nlmsghdr.nlmsg_pid", struct nlmsghdr, nlmsg_pid);
	SIZE("nfgenmsg", struct nfgenmsg);
	OFF("nfgenmsg.nfgen_family", struct nfgenmsg, nfgen_family);
	OFF("nfgenmsg.version", struct nfgenmsg, version);
	OFF("nfgenmsg.res_id", struct nfgenmsg, res_id);
	SIZE("nlattr", struct nlattr);
	OFF("nlattr.nla_len", struct nlattr, nla_len);
	OFF("nlattr.nla_type", struct nlattr, nla_type);
	SIZE("nlmsgerr", struct nlmsgerr);
	OFF("nlmsgerr.error", struct nlmsgerr, error);
	OFF("nlmsgerr.msg", struct nlmsgerr, msg);

	CONST(NLMSG_ALIGNTO);
	CONST(NLA_ALIGNTO);
	CONST(NLMSG_HDRLEN);
	CONST(NLA_HDRLEN);
	CONST(NETLINK_NETFILTER);
	CONST(NLMSG_NOOP);
	CONST(NLMSG_ERROR);
	CONST(NLMSG_DONE);
	CONST(NLMSG_OVERRUN);
	CONST(NLM_F_REQUEST);
	CONST(NLM_F_ACK);
	CONST(NLM_F_DUMP_INTR);
	CONST(NLM_F_DUMP);
	/* An int in C; the u16 nla_type it masks is what matters. */
	printf("const.NLA_TYPE_MASK %u\n", (unsigned)(uint16_t)NLA_TYPE_MASK);
	CONST(NFNL_SUBSYS_NFTABLES);
	CONST(NFNETLINK_V0);
	CONST(NFT_MSG_NEWTABLE);
	CONST(NFT_MSG_GETTABLE);
	CONST(NFT_MSG_NEWCHAIN);
	CONST(NFT_MSG_GETCHAIN);
	CONST(NFT_MSG_NEWRULE);
	CONST(NFT_MSG_GETRULE);
	CONST(NFT_MSG_NEWGEN);
	CONST(NFT_MSG_GETGEN);
	CONST(NFTA_TABLE_NAME);
	CONST(NFTA_CHAIN_TABLE);
	CONST(NFTA_CHAIN_NAME);
	CONST(NFTA_RULE_TABLE);
	CONST(NFTA_RULE_CHAIN);
	CONST(NFTA_GEN_ID);
	CONST(NFPROTO_UNSPEC);
	CONST(NFPROTO_INET);
	CONST(NFPROTO_IPV4);
	CONST(NFPROTO_ARP);
	CONST(NFPROTO_NETDEV);
	CONST(NFPROTO_BRIDGE);
	CONST(NFPROTO_IPV6);
}

/* ---- fixtures -------------------------------------------------------- */

/* Host-order fields go through these; with `swapped` set they give what a
 * machine of the other byte order would hold. Network-order fields use
 * htonl/htons and are the same either way. */
static int swapped;

static uint16_t h16(uint16_t v) { return swapped ? __builtin_bswap16(v) : v; }
static uint32_t h32(uint32_t v) { return swapped ? __builtin_bswap32(v) : v; }
static uint64_t h64(uint64_t v) { return swapped ? __builtin_bswap64(v) : v; }
static uint64_t be64(uint64_t v)
{
	return __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? v : __builtin_bswap64(v);
}

struct blob {
	_Alignas(8) unsigned char buf[8192];
	size_t len;
};

static void *grow(struct blob *b, size_t n)
{
	void *p = b->buf + b->len;
	if (b->len + n > sizeof(b->buf)) {
		fprintf(stderr, "uapi_layout: fixture too large\n");
		exit(1);
	}
	memset(p, 0, n);
	b->len += n;
	return p;
}

static void hex(const char *name, const void *data, size_t len)
{
	const unsigned char *p = data;
	printf("fixture.%s.%s ", swapped ? "swapped" : "native", name);
	for (size_t i = 0; i < len; i++)
		printf("%02x", p[i]);
	printf("\n");
}

/* Verdicts as libiptc writes them: -NF_<verdict> - 1. */
#define V_ACCEPT (-NF_ACCEPT - 1)
#define V_DROP (-NF_DROP - 1)

/*
 * One builder per family over its real entry struct. A rule is an entry,
 * its matches (here at most one "tcp" match with a destination port), then
 * its target; every piece XT_ALIGNed, as libiptc lays them out.
 */
#define ENTRY_BUILDERS(fam, ENTRY, IP, SET_PROTO)                                   \
	static ENTRY *fam##_entry(struct blob *b, size_t matches, size_t target)        \
	{                                                                               \
		ENTRY *e = grow(b, sizeof(ENTRY) + matches + target);                       \
		SET_PROTO(e, matches);                                                      \
		e->nfcache = h32(0);                                                        \
		e->target_offset = h16(sizeof(ENTRY) + matches);                            \
		e->next_offset = h16(sizeof(ENTRY) + matches + target);                     \
		e->comefrom = h32(0x00000102);                                              \
		e->counters.pcnt = h64(0x0102030405060708ULL);                              \
		e->counters.bcnt = h64(0x1112131415161718ULL);                              \
		return e;                                                                   \
	}                                                                               \
	static void fam##_tcp_match(ENTRY *e, uint16_t dport)                           \
	{                                                                               \
		struct xt_entry_match *m = (void *)e->elems;                                \
		struct xt_tcp *tcp = (void *)m->data;                                       \
		m->u.user.match_size = h16(XT_ALIGN(sizeof(*m)) + XT_ALIGN(sizeof(*tcp)));  \
		strcpy(m->u.user.name, "tcp");                                              \
		tcp->spts[0] = h16(0);                                                      \
		tcp->spts[1] = h16(0xffff);                                                 \
		tcp->dpts[0] = h16(dport);                                                  \
		tcp->dpts[1] = h16(dport);                                                  \
	}                                                                               \
	/* A rule: optionally "-p tcp --dport PORT", with a standard verdict. */      \
	static void fam##_rule(struct blob *b, int tcp_dport, int verdict)              \
	{                                                                               \
		size_t matches = tcp_dport ? XT_ALIGN(sizeof(struct xt_entry_match)) +      \
						     XT_ALIGN(sizeof(struct xt_tcp))                        \
					   : 0;                                                         \
		size_t tsize = XT_ALIGN(sizeof(struct xt_standard_target));                 \
		ENTRY *e = fam##_entry(b, matches, tsize);                                  \
		struct xt_standard_target *t = (void *)(e->elems + matches);                \
		if (tcp_dport)                                                              \
			fam##_tcp_match(e, tcp_dport);                                          \
		t->target.u.user.target_size = h16(tsize);                                  \
		strcpy(t->target.u.user.name, XT_STANDARD_TARGET);                          \
		t->verdict = (int)h32((uint32_t)verdict);                                   \
	}                                                                               \
	/* A chain head (errorname = chain name) or the table's final entry. */       \
	static void fam##_error(struct blob *b, const char *name)                       \
	{                                                                               \
		size_t tsize = XT_ALIGN(sizeof(struct xt_error_target));                    \
		ENTRY *e = fam##_entry(b, 0, tsize);                                        \
		struct xt_error_target *t = (void *)e->elems;                               \
		t->target.u.user.target_size = h16(tsize);                                  \
		strcpy(t->target.u.user.name, XT_ERROR_TARGET);                             \
		strncpy(t->errorname, name, sizeof(t->errorname) - 1);                      \
	}

#define SET_PROTO4(e, tcp)                                  \
	do {                                                    \
		if (tcp) {                                          \
			(e)->ip.proto = h16(IPPROTO_TCP);               \
			inet_pton(AF_INET, "10.0.0.0", &(e)->ip.dst);   \
			inet_pton(AF_INET, "255.0.0.0", &(e)->ip.dmsk); \
		}                                                   \
	} while (0)
#define SET_PROTO6(e, tcp)                                        \
	do {                                                          \
		if (tcp) {                                                \
			(e)->ipv6.proto = h16(IPPROTO_TCP);                   \
			(e)->ipv6.flags = IP6T_F_PROTO;                       \
			inet_pton(AF_INET6, "fd00::", &(e)->ipv6.dst);        \
			inet_pton(AF_INET6, "ffff:ff00::", &(e)->ipv6.dmsk);  \
		}                                                         \
	} while (0)

ENTRY_BUILDERS(v4, struct ipt_entry, ip, SET_PROTO4)
ENTRY_BUILDERS(v6, struct ip6t_entry, ipv6, SET_PROTO6)

/* GET_INFO's answer, filled in field by field. */
struct info {
	unsigned hooks, hook_entry[NF_INET_NUMHOOKS], underflow[NF_INET_NUMHOOKS], entries;
};

#define GETINFO(INFO_T, fam, label, tab, in, b)                         \
	do {                                                                \
		INFO_T gi;                                                      \
		memset(&gi, 0, sizeof(gi));                                     \
		strcpy(gi.name, tab);                                           \
		gi.valid_hooks = h32((in)->hooks);                              \
		for (int h = 0; h < NF_INET_NUMHOOKS; h++) {                    \
			gi.hook_entry[h] = h32((in)->hook_entry[h]);                \
			gi.underflow[h] = h32((in)->underflow[h]);                  \
		}                                                               \
		gi.num_entries = h32((in)->entries);                            \
		gi.size = h32((uint32_t)(b)->len);                              \
		hex(fam "." label ".info", &gi, sizeof(gi));                    \
		hex(fam "." label ".entries", (b)->buf, (b)->len);              \
	} while (0)

/*
 * The tables, the same for both families (the Rust tests expect these):
 * - "full": filter; INPUT "-p tcp --dport 22 -j ACCEPT", policy ACCEPT;
 *   FORWARD empty, policy DROP; OUTPUT "-j KUBE-SERVICES", policy ACCEPT;
 *   user chain KUBE-SERVICES with "-j RETURN" and "-p tcp --dport 80 -j
 *   DROP"; empty user chain KUBE-EMPTY. 4 rules, 12 entries.
 * - "fresh": nat as the kernel creates it: four empty builtin chains.
 * - "heads": filter with empty builtins and one empty user chain.
 * - "userrule": filter with empty builtins and one user chain of 1 rule.
 */
#define TABLES(fam, FAMNAME, INFO_T, ENTRY)                                           \
	static void fam##_tables(void)                                               \
	{                                                                            \
		struct blob b;                                                           \
		struct info in;                                                          \
		unsigned filter = (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_FORWARD) |     \
				  (1 << NF_INET_LOCAL_OUT);                                       \
		/* full */                                                               \
		memset(&b, 0, sizeof(b));                                                \
		memset(&in, 0, sizeof(in));                                              \
		in.hooks = filter;                                                       \
		in.hook_entry[NF_INET_LOCAL_IN] = b.len;                                 \
		fam##_rule(&b, 22, V_ACCEPT);                                            \
		in.underflow[NF_INET_LOCAL_IN] = b.len;                                  \
		fam##_rule(&b, 0, V_ACCEPT);                                             \
		in.hook_entry[NF_INET_FORWARD] = in.underflow[NF_INET_FORWARD] = b.len;  \
		fam##_rule(&b, 0, V_DROP);                                               \
		in.hook_entry[NF_INET_LOCAL_OUT] = b.len;                                \
		size_t jump = b.len; /* patched below: the chain's first rule */          \
		fam##_rule(&b, 0, 0);                                                    \
		in.underflow[NF_INET_LOCAL_OUT] = b.len;                                 \
		fam##_rule(&b, 0, V_ACCEPT);                                             \
		fam##_error(&b, "KUBE-SERVICES");                                        \
		size_t first = b.len;                                                    \
		fam##_rule(&b, 0, XT_RETURN);                                            \
		fam##_rule(&b, 80, V_DROP);                                              \
		fam##_rule(&b, 0, XT_RETURN);                                            \
		fam##_error(&b, "KUBE-EMPTY");                                           \
		fam##_rule(&b, 0, XT_RETURN);                                            \
		fam##_error(&b, XT_ERROR_TARGET);                                        \
		in.entries = 12;                                                         \
		{                                                                        \
			struct xt_standard_target *t =                                       \
				(void *)(b.buf + jump + sizeof(ENTRY));                          \
			t->verdict = (int)h32((uint32_t)first);                              \
		}                                                                        \
		GETINFO(INFO_T, FAMNAME, "full", "filter", &in, &b);                     \
		/* fresh */                                                              \
		memset(&b, 0, sizeof(b));                                                \
		memset(&in, 0, sizeof(in));                                              \
		in.hooks = (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_IN) |        \
			   (1 << NF_INET_LOCAL_OUT) | (1 << NF_INET_POST_ROUTING);           \
		for (int h = 0; h < NF_INET_NUMHOOKS; h++) {                             \
			if (!(in.hooks & (1u << h)))                                         \
				continue;                                                        \
			in.hook_entry[h] = in.underflow[h] = b.len;                          \
			fam##_rule(&b, 0, V_ACCEPT);                                         \
		}                                                                        \
		fam##_error(&b, XT_ERROR_TARGET);                                        \
		in.entries = 5;                                                          \
		GETINFO(INFO_T, FAMNAME, "fresh", "nat", &in, &b);                       \
		/* heads, userrule */                                                    \
		for (int rules = 0; rules <= 1; rules++) {                               \
			memset(&b, 0, sizeof(b));                                            \
			memset(&in, 0, sizeof(in));                                          \
			in.hooks = filter;                                                   \
			for (int h = 0; h < NF_INET_NUMHOOKS; h++) {                         \
				if (!(in.hooks & (1u << h)))                                     \
					continue;                                                    \
				in.hook_entry[h] = in.underflow[h] = b.len;                      \
				fam##_rule(&b, 0, V_ACCEPT);                                     \
			}                                                                    \
			fam##_error(&b, "KUBE-FORWARD");                                     \
			if (rules)                                                           \
				fam##_rule(&b, 443, V_ACCEPT);                                   \
			fam##_rule(&b, 0, XT_RETURN);                                        \
			fam##_error(&b, XT_ERROR_TARGET);                                    \
			in.entries = 3 + 2 + rules + 1;                                      \
			if (rules)                                                           \
				GETINFO(INFO_T, FAMNAME, "userrule", "filter", &in, &b);         \
			else                                                                 \
				GETINFO(INFO_T, FAMNAME, "heads", "filter", &in, &b);            \
		}                                                                        \
	}

TABLES(v4, "xt4", struct ipt_getinfo, struct ipt_entry)
TABLES(v6, "xt6", struct ip6t_getinfo, struct ip6t_entry)

/* ---- netlink fixtures ------------------------------------------------ */

/* Every reply answers this sequence number (asymmetric, so that a seq read
 * in the wrong byte order does not match). */
#define SEQ 0x0000a1b2u
#define GEN_ID 0x01020304u

static struct nlmsghdr *msg_start(struct blob *b, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *h = grow(b, NLMSG_HDRLEN);
	h->nlmsg_type = h16(type);
	h->nlmsg_flags = h16(flags);
	h->nlmsg_seq = h32(seq);
	h->nlmsg_pid = h32(0x00003039);
	return h;
}

/* Sets nlmsg_len once the message is complete; pads to NLMSG_ALIGNTO. */
static void msg_end(struct blob *b, struct nlmsghdr *h)
{
	size_t len = b->buf + b->len - (unsigned char *)h;
	h->nlmsg_len = h32((uint32_t)len);
	grow(b, NLMSG_ALIGN(len) - len);
}

static struct nlmsghdr *nft_start(struct blob *b, uint8_t cmd, uint16_t flags, uint8_t family)
{
	struct nlmsghdr *h = msg_start(b, (NFNL_SUBSYS_NFTABLES << 8) | cmd, flags, SEQ);
	struct nfgenmsg *g = grow(b, NLMSG_ALIGN(sizeof(*g)));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(0x0304);
	return h;
}

static struct nlattr *attr(struct blob *b, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = grow(b, NLA_HDRLEN);
	a->nla_len = h16((uint16_t)(NLA_HDRLEN + len));
	a->nla_type = h16(type);
	memcpy(grow(b, len), data, len);
	grow(b, NLA_ALIGN(len) - len);
	return a;
}

static void attr_str(struct blob *b, uint16_t type, const char *s)
{
	attr(b, type, s, strlen(s) + 1);
}

static void attr_be32(struct blob *b, uint16_t type, uint32_t v)
{
	uint32_t n = htonl(v);
	attr(b, type, &n, sizeof(n));
}

static void attr_be64(struct blob *b, uint16_t type, uint64_t v)
{
	uint64_t n = be64(v);
	attr(b, type, &n, sizeof(n));
}

static struct nlattr *nest_start(struct blob *b, uint16_t type)
{
	return attr(b, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct blob *b, struct nlattr *a)
{
	a->nla_len = h16((uint16_t)(b->buf + b->len - (unsigned char *)a));
}

static void done(struct blob *b, int error)
{
	struct nlmsghdr *h = msg_start(b, NLMSG_DONE, NLM_F_MULTI, SEQ);
	int *e = grow(b, sizeof(int));
	*e = (int)h32((uint32_t)error);
	msg_end(b, h);
}

/* NLMSG_ERROR answering request `type`: error 0 is the ACK. */
static void error_msg(struct blob *b, int error, uint16_t type)
{
	struct nlmsghdr *h = msg_start(b, NLMSG_ERROR, 0, SEQ);
	struct nlmsgerr *e = grow(b, sizeof(*e));
	e->error = (int)h32((uint32_t)error);
	e->msg.nlmsg_len = h32(NLMSG_HDRLEN + sizeof(struct nfgenmsg) + 12);
	e->msg.nlmsg_type = h16(type);
	e->msg.nlmsg_flags = h16(NLM_F_REQUEST | NLM_F_ACK);
	e->msg.nlmsg_seq = h32(SEQ);
	msg_end(b, h);
}

static void chain(struct blob *b, uint8_t family, const char *table, const char *name,
		  int hook)
{
	struct nlmsghdr *h = nft_start(b, NFT_MSG_NEWCHAIN, NLM_F_MULTI, family);
	attr_str(b, NFTA_CHAIN_TABLE, table);
	attr_be64(b, NFTA_CHAIN_HANDLE, 0x0000000000000102ULL);
	attr_str(b, NFTA_CHAIN_NAME, name);
	if (hook >= 0) {
		struct nlattr *n = nest_start(b, NFTA_CHAIN_HOOK);
		attr_be32(b, NFTA_HOOK_HOOKNUM, (uint32_t)hook);
		attr_be32(b, NFTA_HOOK_PRIORITY, 0);
		nest_end(b, n);
		attr_be32(b, NFTA_CHAIN_POLICY, NF_ACCEPT);
		attr_str(b, NFTA_CHAIN_TYPE, "filter");
	}
	attr_be32(b, NFTA_CHAIN_FLAGS, 0);
	attr_be32(b, NFTA_CHAIN_USE, 3);
	msg_end(b, h);
}

static void rule(struct blob *b, uint8_t family, const char *table, const char *chain,
		 uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *h = nft_start(b, NFT_MSG_NEWRULE, flags, family);
	h->nlmsg_seq = h32(seq);
	attr_str(b, NFTA_RULE_TABLE, table);
	attr_str(b, NFTA_RULE_CHAIN, chain);
	attr_be64(b, NFTA_RULE_HANDLE, 0x0000000000000205ULL);
	struct nlattr *exprs = nest_start(b, NFTA_RULE_EXPRESSIONS);
	struct nlattr *elem = nest_start(b, NFTA_LIST_ELEM);
	attr_str(b, NFTA_EXPR_NAME, "counter");
	nest_end(b, elem);
	nest_end(b, exprs);
	msg_end(b, h);
}

/*
 * The replies (the Rust tests expect these, all answering SEQ):
 * - "nl.gen": NEWGEN with NFTA_GEN_ID GEN_ID, then the ACK.
 * - "nl.tables": a table dump: ip filter, ip6 nat, inet kube-proxy; DONE.
 * - "nl.chains": a chain dump: ip filter INPUT (base chain), ip nat
 *   POSTROUTING, ip6 filter FORWARD, ip filter KUBE-FIREWALL; DONE.
 * - "nl.rules": a rule dump: a stale rule of another seq, ip filter
 *   INPUT, ip nat POSTROUTING, ip filter INPUT flagged NLM_F_DUMP_INTR;
 *   DONE. Two rules of ip filter, interrupted.
 * - "nl.enoent": NLMSG_ERROR -ENOENT for a GETTABLE.
 * - "nl.dumperr": a rule, then DONE carrying -EBUSY.
 */
static void netlink_fixtures(void)
{
	struct blob b;
	struct nlmsghdr *h;

	memset(&b, 0, sizeof(b));
	h = nft_start(&b, NFT_MSG_NEWGEN, 0, NFPROTO_UNSPEC);
	attr_be32(&b, NFTA_GEN_ID, GEN_ID);
	attr_be32(&b, NFTA_GEN_PROC_PID, 4242);
	attr_str(&b, NFTA_GEN_PROC_NAME, "nft");
	msg_end(&b, h);
	error_msg(&b, 0, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN);
	hex("nl.gen", b.buf, b.len);

	memset(&b, 0, sizeof(b));
	const struct {
		uint8_t family;
		const char *name;
	} tables[] = { { NFPROTO_IPV4, "filter" }, { NFPROTO_IPV6, "nat" },
		       { NFPROTO_INET, "kube-proxy" } };
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		h = nft_start(&b, NFT_MSG_NEWTABLE, NLM_F_MULTI, tables[i].family);
		attr_str(&b, NFTA_TABLE_NAME, tables[i].name);
		attr_be32(&b, NFTA_TABLE_FLAGS, 0);
		attr_be32(&b, NFTA_TABLE_USE, 4);
		attr_be64(&b, NFTA_TABLE_HANDLE, 0x0000000000000001ULL + i);
		msg_end(&b, h);
	}
	done(&b, 0);
	hex("nl.tables", b.buf, b.len);

	memset(&b, 0, sizeof(b));
	chain(&b, NFPROTO_IPV4, "filter", "INPUT", NF_INET_LOCAL_IN);
	chain(&b, NFPROTO_IPV4, "nat", "POSTROUTING", NF_INET_POST_ROUTING);
	chain(&b, NFPROTO_IPV6, "filter", "FORWARD", NF_INET_FORWARD);
	chain(&b, NFPROTO_IPV4, "filter", "KUBE-FIREWALL", -1);
	done(&b, 0);
	hex("nl.chains", b.buf, b.len);

	memset(&b, 0, sizeof(b));
	rule(&b, NFPROTO_IPV4, "filter", "INPUT", NLM_F_MULTI, SEQ - 1);
	rule(&b, NFPROTO_IPV4, "filter", "INPUT", NLM_F_MULTI, SEQ);
	rule(&b, NFPROTO_IPV4, "nat", "POSTROUTING", NLM_F_MULTI, SEQ);
	rule(&b, NFPROTO_IPV4, "filter", "INPUT", NLM_F_MULTI | NLM_F_DUMP_INTR, SEQ);
	done(&b, 0);
	hex("nl.rules", b.buf, b.len);

	memset(&b, 0, sizeof(b));
	error_msg(&b, -ENOENT, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE);
	hex("nl.enoent", b.buf, b.len);

	memset(&b, 0, sizeof(b));
	rule(&b, NFPROTO_IPV4, "filter", "INPUT", NLM_F_MULTI, SEQ);
	done(&b, -EBUSY);
	hex("nl.dumperr", b.buf, b.len);
}

int main(void)
{
	target();
	xtables_layout();
	netlink_layout();
	for (swapped = 0; swapped <= 1; swapped++) {
		v4_tables();
		v6_tables();
		netlink_fixtures();
	}
	return ferror(stdout) ? 1 : 0;
}
