#!/bin/bash
# The C library's start-up, alone: how long an empty program takes from
# posix_spawn to its reaping with no C library, with musl and with glibc
# (static and static-pie), next to `iptables-wrapper --version`, and what
# one cpuid instruction costs on this machine (BENCHMARKS.md, "The C
# library's start-up"). x86_64 only; root, for the amd64 build root whose
# musl compiler (the amd64 release's, tests/release/arches.sh) builds the
# musl programs.
#
#   bash tests/bench-startup.sh [SPAWNS]
#
# SPAWNS (default 1000) spawns per program and round; three rounds, the
# programs interleaved, each round's median printed.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
spawns=${1:-1000}
bin=${IPTABLES_WRAPPER_BIN:-$here/bin/iptables-wrapper}
die() {
  echo "iptables-wrapper: bench-startup: $*" >&2
  exit 1
}
[ "$(uname -m)" = x86_64 ] || die "cpuid and the no-libc program are x86_64 only"
[ -x "$bin" ] || die "no $bin; run \`make build\` first"
# Under the worktree, which the build root sees at the same path.
work=$here/target/bench-startup
mkdir -p "$work"

cc -O2 -o "$work/spawn" tests/bench/spawn.c
cc -O2 -o "$work/cpuid" tests/bench/cpuid.c
cc -O2 -nostdlib -static -o "$work/none-static" tests/bench/nolibc.c
cc -O2 -static -o "$work/glibc-static" tests/bench/empty.c
cc -O2 -static-pie -o "$work/glibc-static-pie" tests/bench/empty.c
# The compiler that links the amd64 release (arches.sh).
musl_cc=$(. tests/release/arches.sh && arch_info amd64 && echo "$rust_linker")
tests/release/inroot.sh amd64 "$musl_cc" -O2 -static -o "$work/musl-static" tests/bench/empty.c
tests/release/inroot.sh amd64 "$musl_cc" -O2 -static-pie -o "$work/musl-static-pie" tests/bench/empty.c
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
musl=$(tests/release/inroot.sh amd64 dpkg-query -W -f='${Version}' musl-dev)
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
glibc=$(dpkg-query -W -f='${Version}' libc6-dev)

# linked_as FILE: "static-pie" or "static", from its ELF type.
linked_as() {
  case $(readelf -h "$1" | sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p') in
    DYN) echo static-pie ;;
    EXEC) echo static ;;
    *) echo "?" ;;
  esac
}

programs=(none-static musl-static musl-static-pie glibc-static glibc-static-pie wrapper)
declare -A medians
for round in 1 2 3; do
  for p in "${programs[@]}"; do
    if [ "$p" = wrapper ]; then
      cmd=("$bin" --version)
    else
      cmd=("$work/$p")
    fi
    line=$("$work/spawn" "$spawns" "${cmd[@]}" | tail -n 1) || die "${cmd[*]} failed (above)"
    read -r median _ <<<"$line"
    medians[$p]="${medians[$p]:+${medians[$p]} / }$median"
  done
  echo "bench-startup: round $round of 3 done" >&2
done

echo "- Date: $(date -u '+%Y-%m-%d %H:%M') UTC"
echo "- Machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores, Linux $(uname -r)"
echo "- One cpuid (leaf 4): $("$work/cpuid") µs, the mean of 1000"
echo "- Load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| program | C library | linked | µs from posix_spawn to reaped, median of $spawns, three rounds |"
echo "|---|---|---|---|"
for p in "${programs[@]}"; do
  case $p in
    none-static) row="empty (\`_start\` exits) | none | static" ;;
    musl-static) row="empty \`main\` | musl $musl | static" ;;
    musl-static-pie) row="empty \`main\` | musl $musl | static-pie" ;;
    glibc-static) row="empty \`main\` | glibc $glibc | static" ;;
    glibc-static-pie) row="empty \`main\` | glibc $glibc | static-pie" ;;
    wrapper) row="\`iptables-wrapper --version\` ($("$bin" --version | sed 's/^iptables-wrapper //')) | | $(linked_as "$bin")" ;;
  esac
  echo "| $row | ${medians[$p]} |"
done
