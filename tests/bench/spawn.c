/* Times PROGRAM [ARGS...] from posix_spawn to its reaping, N times, and
 * prints the median and the 10th and 90th percentiles in microseconds:
 *   spawn N PROGRAM [ARGS...]
 * Used by tests/bench-startup.sh to compare C libraries' start-up. A
 * program that fails to start, or exits other than 0, ends the run with 1. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: spawn N PROGRAM [ARGS...]\n");
		return 2;
	}
	int n = atoi(argv[1]);
	double *t = calloc(n > 0 ? n : 1, sizeof *t);
	for (int i = 0; i < n; i++) {
		pid_t pid;
		int status;
		double start = now_us();
		int rc = posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ);
		if (rc != 0) {
			fprintf(stderr, "spawn: %s: %s\n", argv[2], strerror(rc));
			return 1;
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "spawn: %s did not exit 0 (wait status %d)\n", argv[2], status);
			return 1;
		}
		t[i] = now_us() - start;
	}
	qsort(t, n, sizeof *t, by_value);
	printf("%.1f %.1f %.1f\n", t[n / 2], t[n / 10], t[n * 9 / 10]);
	return 0;
}
