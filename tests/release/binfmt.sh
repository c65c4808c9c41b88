#!/bin/bash
# Registers qemu-user's binfmt_misc handlers on this machine, so that
# binaries of another architecture run when executed, in chroots and
# containers too. Idempotent: a handler already registered and enabled with
# the flags P and F is left alone; one without them is replaced. Without F
# the interpreter is looked up inside each chroot, where it is missing;
# without P, qemu sees the file's path as argv[0], and a multi-call binary
# dispatching on it breaks (`xtables-legacy-multi` run as `iptables
# --version` says "No valid subcommand given").
#
#   tests/release/binfmt.sh [QEMU_ARCH...]   (default: aarch64 arm ppc64le s390x)
#
# The handlers are Debian's qemu-user-static lines from /usr/lib/binfmt.d:
# flags OPF, interpreter /usr/libexec/qemu-binfmt/<arch>-binfmt-P (a link to
# qemu-<arch>-static). F opens the interpreter when registering, so it works
# inside any root; P keeps argv[0], which the wrapper dispatches on.
set -euo pipefail

dir=/proc/sys/fs/binfmt_misc
if [ "$(id -u)" != 0 ]; then
  echo "iptables-wrapper: binfmt.sh must run as root" >&2
  exit 1
fi
if [ ! -e "$dir/register" ]; then
  mount -t binfmt_misc binfmt_misc "$dir"
  echo "binfmt: mounted binfmt_misc on $dir"
fi
if [ "$#" -eq 0 ]; then
  set -- aarch64 arm ppc64le s390x
fi
exec 9>/tmp/iptables-wrapper-binfmt.lock
flock 9
for a in "$@"; do
  name=qemu-$a
  conf=/usr/lib/binfmt.d/$name.conf
  if [ ! -f "$conf" ]; then
    echo "iptables-wrapper: no $conf; install Debian's qemu-user-static" >&2
    exit 1
  fi
  if [ -e "$dir/$name" ]; then
    if grep -q '^enabled$' "$dir/$name" && grep -q '^flags: .*P' "$dir/$name" && grep -q '^flags: .*F' "$dir/$name"; then
      continue
    fi
    echo -1 >"$dir/$name"
    echo "binfmt: replacing the $name handler, which lacked flag P or F or was disabled"
  fi
  grep -v '^#' "$conf" | head -n 1 | tr -d '\n' >"$dir/register"
  echo "binfmt: registered $name ($(sed -n 's/^interpreter //p' "$dir/$name"), flags $(sed -n 's/^flags: //p' "$dir/$name"))"
done
