# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# The release architectures, sourced by the scripts in tests/release/.
# arch_info NAME sets, for a release name (the Go/Kubernetes GOARCH):
#   deb     Debian architecture of its build root and packages
#   triple  Rust target
#   linker  cross gcc inside the build root
#   qemu    qemu-user binary that runs it on this machine (empty: native)
#   machine what readelf -h says under Machine:
#   class   ELF32/ELF64, endian little/big
ALL_ARCHES="amd64 arm64 arm ppc64le s390x"

arch_info() {
  case $1 in
    amd64) deb=amd64 triple=x86_64-unknown-linux-gnu linker=x86_64-linux-gnu-gcc qemu='' \
      machine="Advanced Micro Devices X86-64" class=ELF64 endian=little ;;
    arm64) deb=arm64 triple=aarch64-unknown-linux-gnu linker=aarch64-linux-gnu-gcc qemu=qemu-aarch64-static \
      machine=AArch64 class=ELF64 endian=little ;;
    arm) deb=armhf triple=armv7-unknown-linux-gnueabihf linker=arm-linux-gnueabihf-gcc qemu=qemu-arm-static \
      machine=ARM class=ELF32 endian=little ;;
    ppc64le) deb=ppc64el triple=powerpc64le-unknown-linux-gnu linker=powerpc64le-linux-gnu-gcc qemu=qemu-ppc64le-static \
      machine=PowerPC64 class=ELF64 endian=little ;;
    s390x) deb=s390x triple=s390x-unknown-linux-gnu linker=s390x-linux-gnu-gcc qemu=qemu-s390x-static \
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
