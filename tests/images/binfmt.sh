#!/bin/bash
# Registers qemu-user's binfmt_misc handler for each architecture named
# (qemu names: aarch64, arm, ...), so that foreign binaries run in chroots and
# containers: mmdebstrap --architectures=arm64 runs the foreign maintainer
# scripts, and podman runs and builds arm64 images, through it.
#
# The handler is the line Debian's qemu-user-static ships in
# /usr/lib/binfmt.d/qemu-ARCH.conf, with the interpreter
# /usr/bin/qemu-ARCH-static and the flags P and F:
# - F: the kernel opens the interpreter when the handler is registered, so it
#   works inside a chroot or container that has no qemu of its own;
# - P: argv[0] is passed on as the caller gave it. Without P, qemu-user sees
#   the file's path as argv[0], and a multi-call binary dispatching on it
#   breaks: `xtables-legacy-multi` run as `iptables --version` (the install's
#   sanity check) says "No valid subcommand given" and prints no version, so
#   `iptables-wrapper install` refuses in an arm64 image build.
# Idempotent: a handler that is already registered and enabled with P and F
# is left alone, whatever its interpreter (qemu-user-static's own
# registration, through systemd-binfmt or binfmt-support, uses
# /usr/libexec/qemu-binfmt/ARCH-binfmt-P with the flags POF); one without
# them is replaced. Needs root; mounts binfmt_misc when it is missing.
set -euo pipefail

die() {
    echo "binfmt: $*" >&2
    exit 1
}

[ "$#" -ge 1 ] || die "usage: $0 QEMU-ARCH..."
[ "$(id -u)" = 0 ] || die "must run as root (binfmt_misc registration)"
dir=/proc/sys/fs/binfmt_misc
if [ ! -e "$dir/register" ]; then
    mount -t binfmt_misc binfmt_misc "$dir" || die "cannot mount binfmt_misc on $dir (is the module available?)"
fi
[ "$(cat "$dir/status")" = enabled ] || die "binfmt_misc is disabled ($dir/status); enable it with: echo 1 > $dir/status"

for arch in "$@"; do
    conf=/usr/lib/binfmt.d/qemu-$arch.conf
    interp=/usr/bin/qemu-$arch-static
    if [ ! -f "$conf" ] || [ ! -x "$interp" ]; then die "no $conf or $interp; install qemu-user-static"; fi
    entry=$dir/qemu-$arch
    if [ -e "$entry" ]; then
        if grep -qx enabled "$entry" && grep -q '^flags: .*P' "$entry" && grep -q '^flags: .*F' "$entry"; then
            echo "binfmt: qemu-$arch already registered ($(sed -n 's/^interpreter //p' "$entry"), flags P and F)"
            continue
        fi
        echo "binfmt: replacing the qemu-$arch handler (disabled, or without the flags P and F):"
        sed 's/^/    /' "$entry"
        echo -1 >"$entry"
    fi
    # :name:type:offset:magic:mask:interpreter:flags
    line=$(awk -F: -v OFS=: -v interp="$interp" 'NF == 8 { $7 = interp; $8 = "PF"; print; exit }' "$conf")
    [ -n "$line" ] || die "$conf has no handler line"
    printf '%s' "$line" >"$dir/register"
    echo "binfmt: registered qemu-$arch ($interp, flags P and F)"
done
