#!/bin/bash
# Captures the arm64 kernel's raw x_tables answers as test fixtures.
#
#   tests/vm/fixtures.sh OUTDIR
#
# Boots the VM (tests/vm/run.sh) with only the `fixtures` scenario
# (tests/vm/scenarios.sh) and tests/vm/xtdump.c built for arm64 ($VM_XTDUMP),
# then writes, per family and table of that small legacy ruleset:
#   ipv4-filter.info.bin     IPT_SO_GET_INFO's struct ipt_getinfo
#   ipv4-filter.entries.bin  IPT_SO_GET_ENTRIES' buffer: struct
#                            ipt_get_entries' 40-byte header, then the entries
#   ipv4-filter.save         iptables-legacy-save -t filter (no # lines)
# (ipv6-*: the IP6T_ twins), and detect-probes.jsonl: the wrapper's legacy
# probes on the same kernel, one JSON object a line.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: fixtures.sh OUTDIR}
xtdump=${VM_XTDUMP:-$here/target/vm/xtdump-arm64}
console=$(mktemp /tmp/iptables-wrapper-vm-console.XXXXXX)
trap 'rm -f "$console"' EXIT
VM_SCENARIOS=fixtures VM_COPY="$xtdump:/usr/local/bin/xtdump" VM_CONSOLE=$console \
    bash "$here/tests/vm/run.sh"
mkdir -p "$out"
lines=$(sed -n 's/^VMTEST fixtures | FIXTURE //p' "$console")
for name in ipv4-filter ipv4-mangle ipv6-filter ipv6-mangle; do
    for kind in info entries; do
        echo "$lines" | awk -v n="$name" -v k="$kind" '$1 == n && $2 == k { print $3 }' |
            perl -ne 'chomp; print pack("H*", $_)' >"$out/$name.$kind.bin"
        [ -s "$out/$name.$kind.bin" ] || {
            echo "iptables-wrapper: no $kind for $name in the VM's output" >&2
            exit 1
        }
    done
    echo "$lines" | awk -v n="$name" '$1 == n && $2 == "save" { sub(/^[^ ]+ save /, ""); print }' >"$out/$name.save"
done
echo "$lines" | sed -n 's/^detect probe //p' >"$out/detect-probes.jsonl"
ls -l "$out"
