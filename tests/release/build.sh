#!/bin/bash
# `make release`: static, stripped binaries for each architecture in
# $RELEASE_ARCHES (default: all five), built inside that architecture's
# cached build root (tests/release/buildroot.sh), amd64 included, so that a
# release never depends on this machine's compiler. Writes
# dist/iptables-wrapper-linux-<arch> and dist/SHA256SUMS.
#
# Reproducible: one toolchain per root (trixie's rustc 1.85.1), --locked
# dependencies fetched once then built --offline, SOURCE_DATE_EPOCH from the
# commit, and --remap-path-prefix for the source and cargo home directories,
# so the same commit gives the same bytes from any clone path.
#
# An architecture whose root cannot be built fails the run with the
# archive's answer (the others are still built and checked); it is never
# skipped. RELEASE_ARCHES leaves architectures out on purpose.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/release/arches.sh
. "$here/tests/release/arches.sh"
cd "$here"
dist=${RELEASE_DIST:-$here/dist}
arches=${RELEASE_ARCHES:-$ALL_ARCHES}
cargo_home=${BUILD_CARGO_HOME:-/var/cache/iptables-wrapper-build/cargo}
export BUILD_CARGO_HOME=$cargo_home

commit=$(git rev-parse --short=7 HEAD)
git diff --quiet HEAD -- || commit=$commit-dirty
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
export SOURCE_DATE_EPOCH
export IPTABLES_WRAPPER_COMMIT=$commit
export CARGO_TARGET_DIR=$here/target/release-build
rustflags="-C target-feature=+crt-static --remap-path-prefix=$here=/build/iptables-wrapper --remap-path-prefix=$cargo_home=/cargo"

for a in $arches; do arch_info "$a" >/dev/null; done
# Every target's linker is set for every build, whichever architectures
# are asked for, so that a build's environment does not depend on the list.
# (When amd64 was x86_64-unknown-linux-gnu, its linker also linked the
# dependencies' build scripts, and `make test`'s later releases, without
# amd64 in their list, rebuilt arm64 and arm from scratch.)
for a in $ALL_ARCHES; do
  arch_info "$a"
  export "$(cargo_target_var "$triple")_LINKER=$rust_linker"
done
rm -rf "$dist"
mkdir -p "$dist"

# check FILE: static (no interpreter, nothing NEEDED), stripped, and the ELF
# class, byte order and machine of $a. readelf runs in the build root.
check() {
  local file=$1 header
  header=$(tests/release/inroot.sh "$deb" readelf -hlSdW "$file")
  local problems=()
  grep -Eq "^ *Class: +$class\$" <<<"$header" || problems+=("not $class")
  grep -Eq "^ *Data: +2's complement, $endian endian\$" <<<"$header" || problems+=("not $endian endian")
  grep -Eq "^ *Machine: +$machine\$" <<<"$header" || problems+=("machine is not $machine")
  if grep -q 'INTERP' <<<"$header"; then problems+=("has an interpreter"); fi
  if grep -q '(NEEDED)' <<<"$header"; then problems+=("needs shared libraries"); fi
  if grep -q ' \.symtab ' <<<"$header"; then problems+=("is not stripped"); fi
  if [ "${#problems[@]}" -gt 0 ]; then
    echo "iptables-wrapper: $file is wrong for $a: $(IFS=,; echo "${problems[*]}")" >&2
    grep -E '^ *(Class|Data|Machine):' <<<"$header" >&2
    return 1
  fi
}

failed=()
total_start=$(date +%s)
for a in $arches; do
  arch_info "$a"
  start=$(date +%s)
  if ! root=$(tests/release/buildroot.sh "$deb"); then
    failed+=("$a")
    continue
  fi
  export IPTABLES_WRAPPER_TARGET=$triple
  prepare_std release "$CARGO_TARGET_DIR/link-$a"
  RUSTFLAGS="$rustflags $std_flags"
  export RUSTFLAGS
  tests/release/inroot.sh "$deb" cargo fetch --locked --quiet "${std_args[@]}" --target "$triple"
  tests/release/inroot.sh "$deb" cargo build --offline --release --locked --quiet "${std_args[@]}" --target "$triple"
  out=$dist/iptables-wrapper-linux-$a
  cp "$CARGO_TARGET_DIR/$triple/release/iptables-wrapper" "$out"
  touch -d "@$SOURCE_DATE_EPOCH" "$out"
  if ! check "$out"; then
    failed+=("$a")
    rm -f "$out"
    continue
  fi
  echo "release: $a ($triple, $(sed -n 's/^rustc:amd64 //p' "$root/.toolchain")): $(stat -c %s "$out") bytes, static, stripped, $machine, $(($(date +%s) - start)) s"
done

(cd "$dist" && for f in iptables-wrapper-linux-*; do [ -e "$f" ] && sha256sum "$f"; done >SHA256SUMS)
touch -d "@$SOURCE_DATE_EPOCH" "$dist/SHA256SUMS"
echo "release: commit $commit, $(($(date +%s) - total_start)) s, $dist/SHA256SUMS:"
sed 's/^/  /' "$dist/SHA256SUMS"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "iptables-wrapper: release failed for: ${failed[*]} (see the messages above). Set RELEASE_ARCHES to build only the others on purpose." >&2
  exit 1
fi
