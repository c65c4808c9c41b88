#!/bin/bash
# Runs a command inside a cached build root (tests/release/buildroot.sh), in
# a private mount namespace, with this worktree and the build's cargo home
# bind-mounted at the same paths as outside. Paths therefore mean the same
# thing on both sides: a test binary built inside can run outside, and
# --remap-path-prefix names the same directories. /proc, /dev, /sys and a
# fresh /tmp are mounted for the command; all of it vanishes with the
# namespace, and the root's own files are left as they were.
#
#   tests/release/inroot.sh DEBIAN_ARCH COMMAND [ARGS...]
#
# The environment is cleared except PATH/HOME/TERM, RUSTFLAGS,
# RUSTC_BOOTSTRAP, SOURCE_DATE_EPOCH and variables named CARGO_* or
# IPTABLES_WRAPPER_*.
# CARGO_HOME is $BUILD_CARGO_HOME (default /var/cache/iptables-wrapper-build/
# cargo): the crates registry the build roots share, filled by `cargo fetch`.
# QEMU_USER names host qemu-user binaries (e.g. "qemu-aarch64-static") to
# bind into the root's /usr/local/bin, for cargo's test runner.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${1:-}" = --inside ]; then
  shift
  root=$1 src=$2 cargo_home=$3
  shift 3
  # The fresh /tmp first: a worktree or cargo home under /tmp (a CI clone
  # in /tmp/...) is bound on top of it, not hidden under it.
  mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root$src" "$root$cargo_home"
  mount --bind "$src" "$root$src"
  mount --bind "$cargo_home" "$root$cargo_home"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount --rbind /sys "$root/sys"
  # The machine's name server and trusted certificates (a proxy's own CA
  # included) for `cargo fetch`.
  if [ -f /etc/resolv.conf ]; then
    mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
  fi
  if [ -d /etc/ssl/certs ]; then
    mount --bind -o ro /etc/ssl/certs "$root/etc/ssl/certs"
  fi
  for q in ${QEMU_USER:-}; do
    host=$(command -v "$q") || {
      echo "iptables-wrapper: $q is not installed on this machine (Debian package qemu-user-static)" >&2
      exit 1
    }
    [ -e "$root/usr/local/bin/$q" ] || : >"$root/usr/local/bin/$q"
    mount --bind "$host" "$root/usr/local/bin/$q"
  done
  keep=(PATH=/usr/local/bin:/usr/bin:/bin HOME=/root "CARGO_HOME=$cargo_home" "TERM=${TERM:-dumb}")
  while IFS= read -r name; do
    case $name in
      CARGO_HOME) ;;
      CARGO_* | IPTABLES_WRAPPER_* | RUSTFLAGS | RUSTC_BOOTSTRAP | SOURCE_DATE_EPOCH) keep+=("$name=${!name}") ;;
    esac
  done < <(compgen -e)
  # shellcheck disable=SC2016 # expanded by the inner bash
  exec chroot "$root" /usr/bin/env -i "${keep[@]}" bash -c 'cd "$1" && shift && exec "$@"' inroot "$PWD" "$@"
fi

arch=${1:?usage: inroot.sh DEBIAN_ARCH COMMAND [ARGS...]}
shift
if [ "$(id -u)" != 0 ]; then
  echo "iptables-wrapper: building in the build root needs root (unshare, mount, chroot)" >&2
  exit 1
fi
root=$("$here/tests/release/buildroot.sh" "$arch")
cargo_home=${BUILD_CARGO_HOME:-/var/cache/iptables-wrapper-build/cargo}
mkdir -p "$cargo_home"
exec unshare --mount --propagation private -- "$0" --inside "$root" "$here" "$cargo_home" "$@"
