#!/bin/bash
# Runs a shell script inside a throwaway copy of a cached Debian root file
# system, in private network, mount and PID namespaces.
#
#   tests/sandbox.sh SUITE SCRIPT [ARGS...]
#
# The copy is an overlay whose upper layer is a tmpfs mounted inside the
# private mount namespace: every change, and /proc and /dev mounted for the
# chroot, vanish with the namespace. The network namespace starts with empty
# rulesets in both iptables back ends, so nothing reaches the host's rules.
# The wrapper ($IPTABLES_WRAPPER_BIN, default bin/iptables-wrapper) is copied
# to /usr/sbin/iptables-wrapper, and files named in $SANDBOX_COPY
# ("src:dest ..." pairs) are copied in too; with SANDBOX_NO_WRAPPER=1 the
# wrapper is not copied. $SANDBOX_OUTSIDE, if set, is a bash script run next,
# outside the chroot but inside the namespaces, with the root's path as $1
# and the wrapper's as $SANDBOX_BIN: for work done on the root from outside
# (`install --root`). SCRIPT then runs under /bin/sh in the chroot with ARGS;
# the output of both and SCRIPT's exit status are the sandbox's.
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 SUITE SCRIPT [ARGS...]" >&2
    exit 2
fi
suite=$1
shift
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${ROOTFS_CACHE:-/var/cache/iptables-wrapper-tests/v2}
lower=$cache/$suite
bin=${IPTABLES_WRAPPER_BIN:-$here/bin/iptables-wrapper}

if [ "$(id -u)" != 0 ]; then
    echo "sandbox: must run as root (it uses unshare, mount and chroot)" >&2
    exit 97
fi
if [ ! -x "$lower/usr/sbin/xtables-nft-multi" ]; then
    echo "sandbox: no $suite root file system in $cache; run 'make rootfs'" >&2
    exit 97
fi
if [ ! -x "$bin" ]; then
    echo "sandbox: no wrapper binary at $bin; run 'make build'" >&2
    exit 97
fi

work=$(mktemp -d /tmp/iptables-wrapper-sandbox.XXXXXX)
trap 'rm -rf "$work"' EXIT

# shellcheck disable=SC2016 # expanded by the inner shell
unshare --net --mount --pid --fork --kill-child -- /bin/bash -euc '
    work=$1 lower=$2 bin=$3
    shift 3
    mount -t tmpfs -o mode=0755 sandbox "$work"
    mkdir "$work/upper" "$work/work" "$work/root"
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$work/root"
    root=$work/root
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/tmp"
    if [ -z "${SANDBOX_NO_WRAPPER:-}" ]; then
        cp "$bin" "$root/usr/sbin/iptables-wrapper"
    fi
    for pair in ${SANDBOX_COPY:-}; do
        cp -a "${pair%%:*}" "$root/${pair#*:}"
    done
    if [ -n "${SANDBOX_OUTSIDE:-}" ]; then
        SANDBOX_BIN=$bin bash -c "$SANDBOX_OUTSIDE" sandbox-outside "$root"
    fi
    script=$1
    shift
    exec chroot "$root" /bin/sh -c "$script" sandbox-script "$@"
' sandbox "$work" "$lower" "$bin" "$@"
