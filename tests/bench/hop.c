/* The cheapest possible wrapper, for the benchmark's floor: a static C
 * program that does nothing but exec the multi binary named by HOP_TARGET,
 * with its own argv. Whatever any exec'ing wrapper costs over a direct call
 * on this machine (one more execve, one more C library start-up), this
 * costs too; the first call's cost above it is the wrapper's own work. */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *target = getenv("HOP_TARGET");
    (void)argc;
    if (target == NULL)
        return 127;
    execv(target, argv);
    return 126;
}
