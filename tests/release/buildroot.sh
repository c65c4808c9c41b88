#!/bin/bash
# The cached Debian build roots that release binaries are built in.
#
# One root per target architecture, so that an architecture the archive
# cannot serve fails alone and names itself, and the others still build.
# Each root is trixie (main only) for amd64 with rustc/cargo 1.85.1, gcc and,
# for a foreign target, its cross gcc and libc6-dev-<arch>-cross (a static
# glibc) and, for a glibc target, that architecture's Rust standard library
# (libstd-rust-dev:<arch>). amd64 and arm64 are built for musl
# (tests/release/arches.sh says why): their roots have rust-src and that
# architecture's musl-dev instead. Why trixie main: one suite serves the
# compiler and the standard library for every target at one version (bookworm's rustc is 1.63,
# its rustc-web lives in bookworm-security whose foreign indexes failed here),
# and leaving out the update suites avoids their foreign-architecture index
# errors. The foreign architecture exists only inside the root: mmdebstrap
# adds it there, never on this machine.
#
# usage: buildroot.sh DEBIAN_ARCH   (amd64 arm64 armhf ppc64el s390x)
# Prints the root's path on stdout; progress and errors go to stderr.
# BUILD_ROOT_CACHE (default /var/cache/iptables-wrapper-build/v3) holds
# <suite>-<arch>/; the version in it changes with the package lists below.
set -euo pipefail

arch=${1:?usage: buildroot.sh DEBIAN_ARCH}
cache=${BUILD_ROOT_CACHE:-/var/cache/iptables-wrapper-build/v3}
suite=trixie
mirror=${BUILD_ROOT_MIRROR:-http://deb.debian.org/debian}
root=$cache/$suite-$arch

# The amd64 root also serves `make build`/`make test` on a machine without a
# recent Rust, so it carries rustfmt and clippy for `make lint`.
common=rustc,cargo,gcc,libc6-dev,binutils,git,ca-certificates
extra=
# The foreign target's Rust standard library, where Debian's is used.
std=libstd-rust-dev:$arch
case $arch in
  amd64) gnu=x86_64-linux-gnu extra=rustfmt,rust-clippy,rust-src,musl-dev ;;
  arm64) gnu=aarch64-linux-gnu extra=rust-src,musl-dev:arm64 std= ;;
  armhf) gnu=arm-linux-gnueabihf ;;
  ppc64el) gnu=powerpc64le-linux-gnu ;;
  s390x) gnu=s390x-linux-gnu ;;
  *) echo "iptables-wrapper: buildroot.sh: unknown architecture '$arch' (amd64 arm64 armhf ppc64el s390x)" >&2; exit 2 ;;
esac
if [ "$arch" = amd64 ]; then
  packages=$common,$extra architectures=amd64
else
  packages=$common,${std:+$std,}gcc-$gnu,libc6-dev-$arch-cross${extra:+,$extra}
  architectures=amd64,$arch
fi

if [ -e "$root/.complete" ]; then
  echo "$root"
  exit 0
fi

tools=(mmdebstrap)
# arch-test tells mmdebstrap whether a foreign architecture can run here.
[ "$arch" = amd64 ] || tools+=(arch-test)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || {
    echo "iptables-wrapper: buildroot.sh needs $tool (Debian package $tool; \`make release-deps\` installs it)" >&2
    exit 1
  }
done

mkdir -p "$cache"
# One builder per root: another make (another worktree) may be building it.
exec 9>"$cache/$suite-$arch.lock"
flock 9
if [ -e "$root/.complete" ]; then
  echo "$root"
  exit 0
fi
sources=$(mktemp)
log=$cache/$suite-$arch.log
trap 'rm -f "$sources"' EXIT
cat >"$sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

echo "building the $arch build root in $root ($suite main: $packages)" >&2
rm -rf "$root.tmp"
start=$(date +%s)
if ! mmdebstrap --variant=apt --architectures="$architectures" --include="$packages" \
    "$suite" "$root.tmp" "$sources" >"$log" 2>&1; then
  rm -rf "$root.tmp"
  {
    echo "iptables-wrapper: cannot install the $arch toolchain ($packages for $architectures) from $mirror $suite."
    echo "The archive answered (full log: $log):"
    grep -E '^(E|W): |Err:|404|[Uu]nexpected size|[Hh]ash [Ss]um|unmet|[Bb]roken|Depends:' "$log" | grep -v '^W: .*Signed-By' | head -20 | sed 's/^/  /'
    echo "Retry later, or leave this architecture out with RELEASE_ARCHES."
  } >&2
  exit 1
fi
# The toolchain the binaries depend on, recorded next to the root.
IFS=, read -ra names <<<"$packages"
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
chroot "$root.tmp" dpkg-query -W -f='${Package}:${Architecture} ${Version}\n' \
  "${names[@]}" >"$root.tmp/.toolchain"
touch "$root.tmp/.complete"
rm -rf "$root"
mv "$root.tmp" "$root"
echo "built the $arch build root in $(($(date +%s) - start)) s" >&2
echo "$root"
