#!/bin/bash
# `cargo test ARGS -- TEST_ARGS` for a machine without a recent Rust: the
# build root's cargo compiles the tests (statically, so that they run against
# any glibc), and they run here on the machine, as root, exactly as under the
# host's cargo: the integration tests need this machine's kernel, namespaces,
# the cached Debian roots and tools (unshare, chroot, cc). The worktree is at
# the same path in the root, so the paths compiled in stay valid.
#
#   tests/release/root-tests.sh [CARGO_TEST_ARGS...] [-- TEST_ARGS...]
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
build=() run=()
while [ "$#" -gt 0 ]; do
  if [ "$1" = -- ]; then
    shift
    run=("$@")
    break
  fi
  build+=("$1")
  shift
done
target=x86_64-unknown-linux-gnu
echo "iptables-wrapper: building the tests with the build root's cargo 1.85.1 (trixie), running them on this machine" >&2
json=$(RUSTFLAGS="-C target-feature=+crt-static" tests/release/inroot.sh amd64 \
  cargo test --no-run --message-format=json --target "$target" "${build[@]}")
# Test harnesses only: the package's own binary is built for the tests too.
mapfile -t exes < <(grep -E '"profile":\{[^}]*"test":true' <<<"$json" | grep -o '"executable":"[^"]*"' | cut -d'"' -f4)
if [ "${#exes[@]}" -eq 0 ]; then
  echo "iptables-wrapper: cargo built no test binaries for: cargo test ${build[*]}" >&2
  exit 1
fi
status=0
for exe in "${exes[@]}"; do
  echo "     Running $exe"
  "$exe" "${run[@]}" || status=1
done
exit "$status"
