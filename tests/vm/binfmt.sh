#!/bin/bash
# Registers qemu-user's arm64 handler with binfmt_misc, so that mmdebstrap
# can run an arm64 root's maintainer scripts (--architectures=arm64).
#
#   tests/vm/binfmt.sh
#
# Idempotent: mounts binfmt_misc if it is not mounted, and registers the line
# from qemu-user-static's /usr/lib/binfmt.d/qemu-aarch64.conf only when no
# qemu-aarch64 handler exists. That line carries flag F (the interpreter is
# opened now, so it also works inside a chroot that lacks it). A handler
# registered without F fails here with a reason rather than half-working.
# Stand-in until the release helper's tests/release/binfmt.sh exists; the
# Makefile calls it through $(VM_BINFMT).
set -euo pipefail

conf=/usr/lib/binfmt.d/qemu-aarch64.conf
dir=/proc/sys/fs/binfmt_misc
if [ ! -r "$conf" ]; then
    echo "binfmt: $conf is missing; install qemu-user-static" >&2
    exit 1
fi
if [ ! -e "$dir/register" ]; then
    mount -t binfmt_misc binfmt_misc "$dir"
fi
if [ ! -e "$dir/qemu-aarch64" ]; then
    # A racing registration by someone else gives EEXIST; that is fine if
    # the handler is there afterwards.
    grep -v '^#' "$conf" >"$dir/register" 2>/dev/null || true
fi
if [ ! -e "$dir/qemu-aarch64" ]; then
    echo "binfmt: could not register qemu-aarch64 from $conf" >&2
    exit 1
fi
if ! grep -q '^flags:.*F' "$dir/qemu-aarch64"; then
    echo "binfmt: the qemu-aarch64 handler lacks flag F, so it fails in chroots;" \
        "remove it (echo -1 > $dir/qemu-aarch64) and run this again" >&2
    exit 1
fi
if [ "$(cat "$dir/status")" != enabled ]; then
    echo "binfmt: binfmt_misc is disabled; echo 1 > $dir/status" >&2
    exit 1
fi
