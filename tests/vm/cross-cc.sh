#!/bin/bash
# Runs the arm64 cross gcc (aarch64-linux-gnu-gcc) of a Debian build root on
# this worktree, for the VM tests' static helpers.
#
#   tests/vm/cross-cc.sh GCC-ARGS...   (run from the worktree; relative paths)
#
# The root is $VM_CROSS_ROOT (default /var/tmp/bootstrap/root, a trixie root
# with gcc-aarch64-linux-gnu and libc6-dev-arm64-cross). In a private mount
# namespace the worktree is bound at the root's /src and gcc runs in the same
# relative directory, so relative paths mean the same inside; the root itself
# is not changed. Stand-in until the release build root is merged: the
# Makefile's VM_CC can then be `bash tests/release/inroot.sh arm64
# aarch64-linux-gnu-gcc`, which takes the same arguments.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
root=${VM_CROSS_ROOT:-/var/tmp/bootstrap/root}
if [ "${1:-}" = --inside ]; then
    shift
    mount --bind "$here" "$root/src"
    mount -t tmpfs tmpfs "$root/tmp"
    rel=${PWD#"$here"}
    # shellcheck disable=SC2016 # expanded by the inner sh
    exec chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin \
        /bin/sh -c 'cd "/src$1" && shift && exec aarch64-linux-gnu-gcc "$@"' cross-cc "$rel" "$@"
fi
if [ ! -x "$root/usr/bin/aarch64-linux-gnu-gcc" ] || [ ! -d "$root/src" ]; then
    echo "iptables-wrapper: no arm64 cross gcc in the build root $root (set VM_CROSS_ROOT," \
        "or VM_CC to a command that runs aarch64-linux-gnu-gcc)" >&2
    exit 1
fi
case $PWD/ in
"$here"/*) ;;
*)
    echo "iptables-wrapper: cross-cc.sh must run inside the worktree $here" >&2
    exit 1
    ;;
esac
exec unshare --mount --propagation private -- "$0" --inside "$@"
