/*
 * maxrss OUT PATH ARGV0 [ARGS...]
 *
 * Runs PATH with argv ARGV0 ARGS..., waits for it with wait4(2) and writes
 * the ru_maxrss it reports (KiB) to the file OUT. Exits with the command's
 * exit status.
 *
 * ru_maxrss from wait4 is the largest resident set of the child over its
 * whole life, across execve(2), and of every descendant the child reaped
 * (the kernel folds a reaped child's peak into its parent's cmaxrss). For a
 * first call that is the wrapper, its probes and the real iptables it
 * becomes.
 *
 * A child's peak starts at the resident size of the process it was forked
 * from, so this launcher is a small static C program rather than Python:
 * the floor is its own few hundred KiB (bench.sh reports it as
 * `maxrss /bin/true`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: maxrss OUT PATH ARGV0 [ARGS...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("maxrss: fork");
		return 125;
	}
	if (pid == 0) {
		execv(argv[2], argv + 3);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("maxrss: wait4");
		return 125;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out || fprintf(out, "%ld\n", ru.ru_maxrss) < 0 || fclose(out) != 0) {
		perror("maxrss: writing the result");
		return 125;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
