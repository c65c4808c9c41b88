#!/bin/bash
# Reproducibility: two release builds of the committed tree, from clones at
# different paths (so that a path left in a binary shows), must give the
# same bytes for each architecture in $REPRO_ARCHES (default amd64 arm64). Each
# clone builds from scratch in its own target directory; the toolchain is the
# same cached build root.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
arches=${REPRO_ARCHES:-amd64 arm64}
work=$(mktemp -d /var/tmp/iptables-wrapper-repro.XXXXXX)
trap 'rm -rf "$work"' EXIT
commit=$(git -C "$here" rev-parse HEAD)

start=$(date +%s)
for clone in "$work/a" "$work/second/clone-b"; do
  git clone --quiet --no-checkout "$here" "$clone"
  git -C "$clone" checkout --quiet "$commit"
  RELEASE_ARCHES=$arches bash "$clone/tests/release/build.sh" | grep -v '^ '
done
status=0
for a in $arches; do
  f=iptables-wrapper-linux-$a
  if cmp "$work/a/dist/$f" "$work/second/clone-b/dist/$f"; then
    echo "reproducible: $f identical from two clones ($(sha256sum <"$work/a/dist/$f" | cut -c1-16)...)"
  else
    echo "iptables-wrapper: $f differs between builds from $work/a and $work/second/clone-b" >&2
    status=1
  fi
done
cmp "$work/a/dist/SHA256SUMS" "$work/second/clone-b/dist/SHA256SUMS" || status=1
echo "reproducible: commit ${commit:0:7}, $arches, two builds in $(($(date +%s) - start)) s"
exit "$status"
