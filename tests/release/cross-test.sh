#!/bin/bash
# `make cross-test`: the crate's unit tests for each architecture in
# $CROSS_ARCHES (default amd64 arm64 arm), built in that architecture's build
# root and run under qemu-user (cargo's runner), plus `--version` of each
# release binary in dist/ through binfmt_misc.
#
# The unit tests hold the parsers' struct sizes and offsets to the target's
# own kernel headers: tests/layout/uapi_layout.c is compiled by the target's
# cross gcc (static), run under qemu-user, and its output (`name value`
# lines) is handed to `cargo test` in IPTABLES_WRAPPER_UAPI_LAYOUT.
#
# qemu-user runs the test binaries' user-space code only: it refuses
# NETLINK_NETFILTER sockets and x_tables getsockopt, so the kernel paths are
# tested on a real arm64 kernel instead (make vm-test).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/release/arches.sh
. "$here/tests/release/arches.sh"
cd "$here"
arches=${CROSS_ARCHES:-amd64 arm64 arm}
layout_c=${UAPI_LAYOUT_C:-tests/layout/uapi_layout.c}
work=$here/target/cross-test
export BUILD_CARGO_HOME=${BUILD_CARGO_HOME:-/var/cache/iptables-wrapper-build/cargo}
export CARGO_TARGET_DIR=$here/target/cross
rustflags="-C target-feature=+crt-static"

if [ ! -f "$layout_c" ]; then
  if [ "${CROSS_TEST_LAYOUT:-}" != skip ]; then
    echo "iptables-wrapper: $layout_c is missing: the unit tests cannot be held to each target's uapi layout, which cross-test requires (CROSS_TEST_LAYOUT=skip runs without it, for debugging only)." >&2
    exit 1
  fi
  echo "cross-test: WARNING: CROSS_TEST_LAYOUT=skip, running without $layout_c" >&2
fi
tests/release/binfmt.sh >&2
mkdir -p "$work"

failed=()
for a in $arches; do
  arch_info "$a"
  start=$(date +%s)
  bin=dist/iptables-wrapper-linux-$a
  if [ ! -x "$bin" ]; then
    echo "iptables-wrapper: no $bin; run \`make release RELEASE_ARCHES=\"$arches\"\` first" >&2
    exit 1
  fi
  # The release binary, executed as any other program: binfmt_misc hands
  # it to qemu-user.
  said=$("$bin" --version)
  if [[ $said != "iptables-wrapper "*" ($triple, commit "*")" ]]; then
    echo "iptables-wrapper: $bin --version said '$said', not the $triple target" >&2
    failed+=("$a")
  fi

  var=$(cargo_target_var "$triple")
  export "${var}_LINKER=$rust_linker"
  prepare_std test "$CARGO_TARGET_DIR/link-$a"
  RUSTFLAGS="$rustflags $std_flags"
  export RUSTFLAGS
  run=()
  if [ -n "$qemu" ]; then
    export "${var}_RUNNER=$qemu"
    export QEMU_USER=$qemu
    run=("$qemu")
  fi
  unset IPTABLES_WRAPPER_UAPI_LAYOUT
  if [ -f "$layout_c" ]; then
    layout=$work/uapi_layout-$a
    tests/release/inroot.sh "$deb" "$linker" -static -O2 -Wall -o "$layout" "$layout_c"
    "${run[@]}" "$layout" >"$layout.txt"
    export IPTABLES_WRAPPER_UAPI_LAYOUT=$layout.txt
  fi
  tests/release/inroot.sh "$deb" cargo fetch --locked --quiet "${std_args[@]}" --target "$triple"
  # A deadline, so that a hang cannot stall CI silently: once, a test
  # binary's forked child hung under qemu-user (its known trouble with a
  # fork in a multi-threaded program) and never recurred. A run that times
  # out is said so and tried once more; a test that fails is not retried.
  for try in 1 2; do
    rc=0
    out=$(timeout -k 10 "${CROSS_TEST_TIMEOUT:-600}" \
      tests/release/inroot.sh "$deb" cargo test --offline --locked --lib "${std_args[@]}" --target "$triple" 2>&1) || rc=$?
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || break
    echo "iptables-wrapper: cross-test: $a: the unit tests did not finish within ${CROSS_TEST_TIMEOUT:-600} s (try $try of 2)" >&2
  done
  if [ "$rc" -ne 0 ]; then
    echo "$out" | tail -n 40 >&2
    failed+=("$a")
  fi
  summary=$(grep -E '^test result:' <<<"$out" | tail -n 1)
  echo "cross-test: $a ($triple${qemu:+, under $qemu}): $said; unit tests: ${summary:-none ran}; $(($(date +%s) - start)) s"
  unset "${var}_RUNNER" QEMU_USER
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "iptables-wrapper: cross-test failed for: ${failed[*]}" >&2
  exit 1
fi
