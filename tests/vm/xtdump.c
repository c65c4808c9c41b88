/*
 * xtdump 4|6 TABLE
 *
 * Prints the kernel's raw answers to the legacy x_tables getsockopt calls the
 * wrapper's kernel source makes, for one table of one family, as two lines
 * of hex:
 *
 *   info <IPT_SO_GET_INFO's struct ipt_getinfo, as the kernel filled it>
 *   entries <IPT_SO_GET_ENTRIES's whole buffer: struct ipt_get_entries'
 *            header (name, size) and the entry blob>
 *
 * (IP6T_ twins for 6.) Used by tests/vm/run.sh to capture fixtures on the
 * arm64 kernel (tests/fixtures/arm64/): bytes from a real kernel, not from
 * the parser's own encoder. Asking for a table the kernel does not list in
 * /proc/net/ip{,6}_tables_names creates it, so the caller makes the table
 * first. Exit status 1 with a message on any failure.
 */
#include <errno.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void hex(const char *label, const unsigned char *p, size_t n)
{
    printf("%s ", label);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

static int fail(const char *what)
{
    fprintf(stderr, "xtdump: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "4") != 0 && strcmp(argv[1], "6") != 0) ||
        strlen(argv[2]) >= XT_TABLE_MAXNAMELEN) {
        fprintf(stderr, "usage: xtdump 4|6 TABLE\n");
        return 2;
    }
    int v6 = argv[1][0] == '6';
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0)
        return fail("socket");
    int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;

    /* ipt_getinfo and ip6t_getinfo have the same layout. */
    struct ipt_getinfo info;
    memset(&info, 0, sizeof info);
    strcpy(info.name, argv[2]);
    socklen_t len = sizeof info;
    if (getsockopt(fd, level, v6 ? IP6T_SO_GET_INFO : IPT_SO_GET_INFO, &info, &len) != 0)
        return fail("GET_INFO");
    hex("info", (const unsigned char *)&info, len);

    size_t hdr = v6 ? sizeof(struct ip6t_get_entries) : sizeof(struct ipt_get_entries);
    size_t total = hdr + info.size;
    struct ipt_get_entries *e = calloc(1, total);
    if (!e)
        return fail("calloc");
    strcpy(e->name, argv[2]);
    e->size = info.size;
    len = (socklen_t)total;
    if (getsockopt(fd, level, v6 ? IP6T_SO_GET_ENTRIES : IPT_SO_GET_ENTRIES, e, &len) != 0)
        return fail("GET_ENTRIES");
    hex("entries", (const unsigned char *)e, len);
    return 0;
}
