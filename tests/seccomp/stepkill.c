/*
 * stepkill K -- CMD [ARGS...]
 *
 * Runs CMD and kills it (its process group, made for it) with SIGKILL
 * just before the K-th (from 1) call, by it or a process it started, of
 * a system call that changes names in a directory: symlink, symlinkat,
 * link, linkat, rename, renameat, renameat2, unlink, unlinkat. Each of
 * those system calls is atomic, so killing CMD before the 1st, 2nd, ...
 * of them, and letting it finish, visits every state the directory can be
 * left in, without timing: the kill test of the wrapper's switch.
 *
 * How: a seccomp filter (raw BPF) returns SECCOMP_RET_USER_NOTIF for those
 * calls, so that CMD waits in each until this process, holding the
 * listener, answers. It lets the first K-1 go on
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE) and kills CMD at the K-th, before the
 * call runs. The filter is inherited by threads and children, and kept
 * across execve. x86_64 only; a system call through another ABI kills the
 * process.
 *
 * Prints one line: "killed before NAME" (the K-th call), or "finished
 * after N" when CMD made only N such calls. Exit status: 0 when killed, 1
 * when CMD finished, 125 for bad arguments or a filter that cannot be
 * installed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "stepkill.c only builds for x86_64"
#endif

static const struct {
    int nr;
    const char *name;
} calls[] = {
    {__NR_symlink, "symlink"},   {__NR_symlinkat, "symlinkat"}, {__NR_link, "link"},
    {__NR_linkat, "linkat"},     {__NR_rename, "rename"},       {__NR_renameat, "renameat"},
    {__NR_renameat2, "renameat2"}, {__NR_unlink, "unlink"},     {__NR_unlinkat, "unlinkat"},
};
#define NCALLS (sizeof calls / sizeof calls[0])

static const char *name_of(int nr)
{
    for (unsigned i = 0; i < NCALLS; i++)
        if (calls[i].nr == nr)
            return calls[i].name;
    return "?";
}

/* Installs the filter and returns its listener. */
static int install(void)
{
    struct sock_filter prog[4 + NCALLS + 2];
    unsigned n = 0;
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (unsigned i = 0; i < NCALLS; i++) {
        /* Matched: jump to the USER_NOTIF return after the last test. */
        unsigned char to_notif = (unsigned char)(NCALLS - i);
        prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, calls[i].nr, to_notif, 0);
    }
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
}

/* Sends the descriptor `fd` over the unix socket `sock` (SCM_RIGHTS), or
 * with `fd` < 0 receives one. Returns the descriptor sent or received, or
 * -1. */
static int pass_fd(int sock, int fd)
{
    char byte = 0;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (fd >= 0) {
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        return sendmsg(sock, &msg, 0) == 1 ? fd : -1;
    }
    if (recvmsg(sock, &msg, 0) != 1)
        return -1;
    c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
        return -1;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

int main(int argc, char **argv)
{
    char *end;
    long k = argc >= 4 ? strtol(argv[1], &end, 10) : 0;
    if (argc < 4 || *end || k < 1 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: stepkill K -- CMD [ARGS...]  (K >= 1)\n");
        return 125;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("stepkill: socketpair");
        return 125;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("stepkill: fork");
        return 125;
    }
    if (pid == 0) {
        setpgid(0, 0);
        close(sv[0]);
        int listener = install();
        if (listener < 0) {
            perror("stepkill: seccomp");
            _exit(125);
        }
        if (pass_fd(sv[1], listener) < 0)
            _exit(125);
        close(listener);
        close(sv[1]);
        execvp(argv[3], argv + 3);
        _exit(127);
    }
    close(sv[1]);
    int listener = pass_fd(sv[0], -1);
    close(sv[0]);
    if (listener < 0) {
        fprintf(stderr, "stepkill: the child could not install the filter\n");
        waitpid(pid, NULL, 0);
        return 125;
    }

    long seen = 0;
    const char *killed_at = NULL;
    for (;;) {
        struct pollfd p = {.fd = listener, .events = POLLIN};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (!(p.revents & POLLIN))
            break; /* POLLHUP: every process under the filter is gone */
        struct seccomp_notif req;
        memset(&req, 0, sizeof req);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0)
            continue; /* the caller died meanwhile */
        if (++seen == k) {
            killed_at = name_of(req.data.nr);
            kill(-pid, SIGKILL);
            kill((pid_t)req.pid, SIGKILL);
            break;
        }
        struct seccomp_notif_resp resp;
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp); /* ENOENT if it died */
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (killed_at) {
        printf("killed before %s\n", killed_at);
        return 0;
    }
    printf("finished after %ld\n", seen);
    return 1;
}
