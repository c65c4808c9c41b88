#!/bin/bash
# What a call under the wrapper costs on a read-only root once the decision
# is kept in a state directory, against a direct call and the bare exec
# floor (see tests/bench/kept.py). Prints the figures; asserts nothing.
#
#   tests/bench-kept.sh [REPS]     (default 200; IPTABLES_WRAPPER_BIN as for bench.sh)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${IPTABLES_WRAPPER_BIN:-$here/bin/iptables-wrapper}
reps=${1:-200}
[ "$(id -u)" = 0 ] || { echo "bench-kept: must run as root" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench-kept: no wrapper binary at $bin; run 'make build'" >&2; exit 1; }
work=$(mktemp -d /tmp/iptables-wrapper-kept.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$bin" "$work/iptables-wrapper"
cc -O2 -static -o "$work/hop" "$here/tests/bench/hop.c"
mkdir "$work/scratch" "$work/state"
echo "bench-kept: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
unshare --net --mount --pid --fork --kill-child --mount-proc -- \
    /usr/bin/python3 "$here/tests/bench/kept.py" --bin "$work/iptables-wrapper" \
    --hop "$work/hop" --scratch "$work/scratch" --state "$work/state" --reps "$reps"
