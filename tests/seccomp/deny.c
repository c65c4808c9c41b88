/*
 * deny RULES -- CMD [ARGS...]
 *
 * Runs CMD under a seccomp filter that makes some socket(2) calls fail, to
 * stand in for a kernel without one of the iptables back ends. The filter is
 * inherited by every child, so it covers the wrapper and the iptables it
 * runs. RULES is a comma-separated list of:
 *
 *   nft-eprotonosupport  socket(AF_NETLINK, *, NETLINK_NETFILTER) fails with
 *                        EPROTONOSUPPORT: a kernel without nf_tables
 *   netlink-eperm        the same socket fails with EPERM
 *   raw-eperm            socket(AF_INET or AF_INET6, SOCK_RAW, *) fails with
 *                        EPERM
 *   raw-eafnosupport     the same fails with EAFNOSUPPORT: no legacy x_tables
 *   netlink-cloexec-eperm   socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
 *                        NETLINK_NETFILTER) fails with EPERM
 *   raw-nonblock-eperm   socket(AF_INET or AF_INET6, SOCK_RAW | SOCK_NONBLOCK,
 *                        *) fails with EPERM
 *   link-eperm           link(2) and linkat(2) fail with EPERM: a file
 *                        system or a policy that refuses hard links (the
 *                        wrapper then makes one symlink per name)
 *
 * These two refuse only the sockets the wrapper's kernel probes open, not
 * those of the iptables commands it falls back to: libmnl's mnl_socket_open
 * opens its netlink socket without SOCK_CLOEXEC (iptables 1.8.9 and 1.8.11),
 * and libiptc its raw socket without SOCK_NONBLOCK (1.8.11 does use
 * SOCK_CLOEXEC there). They stand in for a filter or a policy that refuses
 * the wrapper's own requests, so that the fallback to a process can be seen
 * deciding.
 *
 * The first rule that matches a call decides it (link-eperm is checked
 * before the socket rules, whatever its place in RULES). SOCK_CLOEXEC and
 * SOCK_NONBLOCK or'ed into the type are ignored. Builds for x86_64 and
 * arm64 (the arm64 VM tests, tests/vm/), and refuses to build elsewhere: the
 * filter compares the audit architecture and system call numbers, which are
 * per ABI (x86_64: AUDIT_ARCH_X86_64, socket 41; arm64: AUDIT_ARCH_AARCH64,
 * socket 198; arm64 has linkat(2) but no link(2)). A system call made
 * through another ABI (x86_64's 32-bit int 0x80, arm64's 32-bit compat mode)
 * kills the process rather than slip past the filter. Both are
 * little-endian, so an argument's low 32 bits are at its offset. Raw BPF,
 * no libseccomp.
 *
 * Exit status: CMD's, or 125 for bad arguments or a filter that cannot be
 * installed, 127 when CMD cannot be run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__) && defined(__AARCH64EL__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "deny.c only builds for x86_64 and little-endian arm64"
#endif

#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define MAX_INSNS 128

static struct sock_filter prog[MAX_INSNS];
static unsigned n;

static void emit(struct sock_filter f)
{
    if (n == MAX_INSNS) {
        fprintf(stderr, "deny: too many rules\n");
        exit(125);
    }
    prog[n++] = f;
}

/* socket(AF_NETLINK, *, NETLINK_NETFILTER) -> errno */
static void netfilter_netlink(int err)
{
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 3));
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NETLINK_NETFILTER, 0, 1));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)));
}

/* socket(AF_INET or AF_INET6, SOCK_RAW [| flags], *) -> errno */
static void raw_inet(int err)
{
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 1, 0));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 4));
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)));
    emit((struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOCK_RAW, 0, 1));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)));
}

/* socket(AF_NETLINK, * | SOCK_CLOEXEC, NETLINK_NETFILTER) -> errno */
static void netfilter_netlink_cloexec(int err)
{
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 6));
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NETLINK_NETFILTER, 0, 4));
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)));
    emit((struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, SOCK_CLOEXEC));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOCK_CLOEXEC, 0, 1));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)));
}

/* socket(AF_INET or AF_INET6, SOCK_RAW | SOCK_NONBLOCK, *) -> errno */
static void raw_inet_nonblock(int err)
{
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 1, 0));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 7));
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)));
    emit((struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOCK_RAW, 0, 4));
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)));
    emit((struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, SOCK_NONBLOCK));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOCK_NONBLOCK, 0, 1));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)));
}

/* link(2), linkat(2) -> errno; the accumulator holds the system call number */
static void hard_link(int err)
{
#ifdef __NR_link
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_link, 1, 0));
#endif
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_linkat, 0, 1));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)));
}

static void usage(void)
{
    fprintf(stderr,
            "usage: deny RULES -- CMD [ARGS...]\n"
            "RULES: comma list of nft-eprotonosupport, netlink-eperm, raw-eperm, raw-eafnosupport,\n"
            "       netlink-cloexec-eperm, raw-nonblock-eperm, link-eperm\n");
    exit(125);
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--") != 0)
        usage();

    /* Header: another ABI's system call kills the process; the rules on
     * system call numbers (link-eperm) come next; then anything but
     * socket(2) is allowed. Jump targets to the final ALLOW are patched
     * once the length is known. */
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    char *rules = strdup(argv[1]);
    if (!rules || !*rules)
        usage();
    char *copy = strdup(rules);
    for (char *save = NULL, *r = strtok_r(copy, ",", &save); r; r = strtok_r(NULL, ",", &save))
        if (strcmp(r, "link-eperm") == 0)
            hard_link(EPERM);
    unsigned to_allow = n;
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 0));

    for (char *save = NULL, *r = strtok_r(rules, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        if (strcmp(r, "link-eperm") == 0)
            continue;
        else if (strcmp(r, "nft-eprotonosupport") == 0)
            netfilter_netlink(EPROTONOSUPPORT);
        else if (strcmp(r, "netlink-eperm") == 0)
            netfilter_netlink(EPERM);
        else if (strcmp(r, "raw-eperm") == 0)
            raw_inet(EPERM);
        else if (strcmp(r, "raw-eafnosupport") == 0)
            raw_inet(EAFNOSUPPORT);
        else if (strcmp(r, "netlink-cloexec-eperm") == 0)
            netfilter_netlink_cloexec(EPERM);
        else if (strcmp(r, "raw-nonblock-eperm") == 0)
            raw_inet_nonblock(EPERM);
        else {
            fprintf(stderr, "deny: unknown rule %s\n", r);
            usage();
        }
    }
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    unsigned skip = n - 1 - (to_allow + 1);
    if (skip > 255) {
        fprintf(stderr, "deny: too many rules\n");
        return 125;
    }
    prog[to_allow].jf = (unsigned char)skip;

    struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("deny: PR_SET_NO_NEW_PRIVS");
        return 125;
    }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) {
        perror("deny: PR_SET_SECCOMP");
        return 125;
    }
    execvp(argv[3], argv + 3);
    fprintf(stderr, "deny: %s: %s\n", argv[3], strerror(errno));
    return 127;
}
