# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# The release architectures, sourced by the scripts in tests/release/.
# arch_info NAME sets, for a release name (the Go/Kubernetes GOARCH):
#   deb     Debian architecture of its build root and packages
#   triple  Rust target
#   linker  gcc inside the build root for the target's C (glibc) programs
#   rust_linker  what links the Rust target inside the build root
#   std     where the target's Rust standard library comes from: "package"
#           (Debian's libstd-rust-dev) or "source" (rust-src, built by cargo
#           -Zbuild-std; see prepare_std)
#   qemu    qemu-user binary that runs it on this machine (empty: native)
#   machine what readelf -h says under Machine:
#   class   ELF32/ELF64, endian little/big
ALL_ARCHES="amd64 arm64 arm ppc64le s390x"

arch_info() {
  case $1 in
    # musl, not glibc: glibc's start-up on x86 asks the CPU about its
    # features and caches with about 70 cpuid instructions, and under a
    # hypervisor (most nodes) each one exits to it. Here that made glibc's
    # start-up 0.27 ms of a first call (BENCHMARKS.md, "The C library's
    # start-up"); musl's asks nothing. Debian ships no musl standard library
    # for Rust, so it is built from rust-src.
    amd64) deb=amd64 triple=x86_64-unknown-linux-musl linker=x86_64-linux-gnu-gcc rust_linker=x86_64-linux-musl-gcc std=source qemu='' \
      machine="Advanced Micro Devices X86-64" class=ELF64 endian=little ;;
    # musl as well, for one C library in both image architectures and for
    # size: 853 KB against 1,516 KB with glibc, which missed 1.5 MB. (arm64's
    # glibc reads the CPU's features from the auxiliary vector; its start-up
    # on a real arm64 CPU is not measured here.)
    arm64) deb=arm64 triple=aarch64-unknown-linux-musl linker=aarch64-linux-gnu-gcc rust_linker=aarch64-linux-musl-gcc std=source qemu=qemu-aarch64-static \
      machine=AArch64 class=ELF64 endian=little ;;
    arm) deb=armhf triple=armv7-unknown-linux-gnueabihf linker=arm-linux-gnueabihf-gcc rust_linker=arm-linux-gnueabihf-gcc std=package qemu=qemu-arm-static \
      machine=ARM class=ELF32 endian=little ;;
    ppc64le) deb=ppc64el triple=powerpc64le-unknown-linux-gnu linker=powerpc64le-linux-gnu-gcc rust_linker=powerpc64le-linux-gnu-gcc std=package qemu=qemu-ppc64le-static \
      machine=PowerPC64 class=ELF64 endian=little ;;
    s390x) deb=s390x triple=s390x-unknown-linux-gnu linker=s390x-linux-gnu-gcc rust_linker=s390x-linux-gnu-gcc std=package qemu=qemu-s390x-static \
      machine="IBM S/390" class=ELF64 endian=big ;;
    *)
      echo "iptables-wrapper: unknown release architecture '$1' (known: $ALL_ARCHES)" >&2
      return 1
      ;;
  esac
}

# Cargo's per-target variable prefix: CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU.
cargo_target_var() {
  local t=${1^^}
  echo "CARGO_TARGET_${t//-/_}"
}

# prepare_std PROFILE DIR: what building $triple (set by arch_info) needs,
# for PROFILE "release" (panic=abort) or "test" (the test harness, which
# unwinds). Sets std_args, the extra cargo arguments, and std_flags, the
# extra RUSTFLAGS (both empty when Debian packages the target's standard
# library), and exports RUSTC_BOOTSTRAP=1 or unsets it.
#
# With std=source (the musl targets), cargo builds the standard library from
# rust-src (-Zbuild-std, which a stable cargo allows with RUSTC_BOOTSTRAP=1)
# and links with x86_64-linux-musl-gcc or aarch64-linux-musl-gcc from
# musl-dev, without rustc's self-contained crt objects, which only rustup
# ships: musl's crt and libc.a come from Debian's musl-dev, the unwinder
# from the gcc's libgcc_eh.a (named libunwind.a for the std's link line)
# with tests/release/dl_find_object.c beside it, both put in DIR-<hash>
# inside the build root. The hash covers the shim's source and the root's
# toolchain, so that RUSTFLAGS change with them and cargo relinks: it does
# not track files named in link arguments.
#
# RUSTC_BOOTSTRAP is for those targets only. Build scripts see it too, and
# anyhow's then turns on an unstable std API wherever its probe compiles:
# for a glibc target, whose standard library is installed, not for a musl
# one, whose standard library is only built later by -Zbuild-std.
prepare_std() {
  local profile=$1 base=$2 root hash dir
  std_args=()
  std_flags=
  if [ "$std" != source ]; then
    unset RUSTC_BOOTSTRAP
    return 0
  fi
  export RUSTC_BOOTSTRAP=1
  case $profile in
    release) std_args=("-Zbuild-std=std,panic_abort") ;;
    test) std_args=(-Zbuild-std) ;;
  esac
  root=$(tests/release/buildroot.sh "$deb")
  hash=$(cat tests/release/dl_find_object.c "$root/.toolchain" | sha256sum | cut -c1-12)
  dir=$base-$hash
  mkdir -p "$dir"
  # shellcheck disable=SC2016 # expanded by the shell inside the root
  tests/release/inroot.sh "$deb" sh -ec '
    eh=$("$2" -print-file-name=libgcc_eh.a)
    [ -f "$eh" ] || { echo "iptables-wrapper: $2 has no libgcc_eh.a (it answered $eh)" >&2; exit 1; }
    ln -sfn "$eh" "$1/libunwind.a"
    "$3" -O2 -fPIE -Wall -c -o "$1/dl_find_object.o" tests/release/dl_find_object.c' \
    sh "$dir" "$linker" "$rust_linker"
  std_flags="-C link-self-contained=no -L $dir -C link-arg=$dir/dl_find_object.o"
}
