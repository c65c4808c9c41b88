#!/bin/bash
# Runs the arm64 wrapper's kernel paths on a real arm64 kernel: boots Debian's
# arm64 cloud kernel in qemu-system-aarch64 (TCG, 2 cores, no network device)
# on a disk made from the cached VM root (tests/vm/root.sh) plus the wrapper,
# the seccomp launcher and the scenarios, and checks what the VM reports.
#
#   tests/vm/run.sh
#
# qemu-user cannot test these paths: it refuses NETLINK_NETFILTER sockets and
# x_tables getsockopt, so under it the wrapper concludes that nf_tables is
# unusable. A whole machine runs the real kernel's netfilter.
#
# Environment:
#   VM_BINARY    the arm64 wrapper (default dist/iptables-wrapper-linux-arm64)
#   VM_BINARY_ARM the 32-bit arm wrapper (default dist/iptables-wrapper-linux-arm),
#                which the compat-* scenarios run next to the arm64 one
#   VM_DENY      tests/seccomp/deny.c built static for arm64 (default
#                target/vm/deny-arm64)
#   VM_SCENARIOS the scenarios to run (default: all of them, see below)
#   VM_TIMEOUT   seconds before the machine is killed (default 600)
#   VM_CPU       qemu's -cpu (default cortex-a72: -cpu max emulates pointer
#                authentication, which made the same run take 150 s, not 97 s)
#   VM_CACHE     the VM root's cache (see tests/vm/root.sh)
#   VM_COPY      more files for the disk, as "src:dest ..." pairs
#   VM_CONSOLE   where to keep the serial console's text (default: not kept)
#
# It passes only if the machine booted, reached its init, and reported `pass`
# for every scenario asked for, within the time; anything else (a boot that
# never reaches the script, a hang, a missing or failing result) fails, and
# the whole serial console is printed. The timings it prints: boot (kernel
# start to the init script), each scenario, and the wall time of the run.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
binary=${VM_BINARY:-$here/dist/iptables-wrapper-linux-arm64}
binary_arm=${VM_BINARY_ARM:-$here/dist/iptables-wrapper-linux-arm}
deny=${VM_DENY:-$here/target/vm/deny-arm64}
scenarios=${VM_SCENARIOS:-hint-legacy hint-nft counts-legacy counts-nft split no-nf-tables verify concurrent kernel-vs-process kernel-vs-process-hints compat-detect compat-hint-legacy compat-bounds}
timeout=${VM_TIMEOUT:-600}
cpu=${VM_CPU:-cortex-a72}

fail() {
    echo "iptables-wrapper: vm-test: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root (mke2fs of a root-owned tree, mounts)"
command -v qemu-system-aarch64 >/dev/null || fail "qemu-system-aarch64 is missing: install qemu-system-arm"
# An arm64 ELF: e_machine (offset 18, little-endian) is 183 (0xb7).
is_arm64() { [ -f "$1" ] && [ "$(od -An -tx1 -j18 -N2 "$1" | tr -d ' ')" = b700 ]; }
is_arm64 "$binary" || fail "$binary is not an arm64 executable; build it (make release RELEASE_ARCHES=arm64) or set VM_BINARY"
# A 32-bit ARM ELF: class (offset 4) 1, e_machine 40 (0x28).
is_arm() { [ -f "$1" ] && [ "$(od -An -tx1 -j4 -N1 "$1" | tr -d ' ') $(od -An -tx1 -j18 -N2 "$1" | tr -d ' ')" = "01 2800" ]; }
is_arm "$binary_arm" || fail "$binary_arm is not a 32-bit arm executable; build it (make release RELEASE_ARCHES=arm) or set VM_BINARY_ARM"
is_arm64 "$deny" || fail "$deny is not an arm64 executable; build it from tests/seccomp/deny.c or set VM_DENY"

started=$SECONDS
cache=$("$here/tests/vm/root.sh") # says so on stderr when it builds
root_s=$((SECONDS - started))

work=$(mktemp -d /tmp/iptables-wrapper-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "$scenarios" | tr ' ' '\n' | grep . >"$work/plan"

# The disk: the cached root with the run's files laid over it (an overlay in
# a private mount namespace, so the cache is never written), made into ext4.
disk_start=$SECONDS
# shellcheck disable=SC2016 # expanded by the inner bash
unshare --mount --propagation private -- bash -euc '
    here=$1 work=$2 lower=$3 binary=$4 deny=$5 binary_arm=$6
    mkdir "$work/layer"
    mount -t tmpfs tmpfs "$work/layer"
    mkdir -p "$work/layer/upper/vm" "$work/layer/upper/usr/sbin" "$work/layer/upper/usr/local/bin" \
        "$work/layer/work" "$work/layer/merged"
    install -m 755 "$binary" "$work/layer/upper/usr/sbin/iptables-wrapper"
    install -m 755 "$deny" "$work/layer/upper/usr/local/bin/deny"
    install -m 755 "$binary_arm" "$work/layer/upper/usr/local/bin/iptables-wrapper-arm"
    install -m 755 "$here/tests/vm/init.sh" "$work/layer/upper/vm/init.sh"
    install -m 644 "$here/tests/vm/scenarios.sh" "$here/tests/common/prelude.sh" \
        "$here/tests/common/rich-ruleset.sh" "$work/plan" "$work/layer/upper/vm/"
    for pair in ${VM_COPY:-}; do
        mkdir -p "$(dirname "$work/layer/upper/${pair#*:}")"
        install -m 755 "${pair%%:*}" "$work/layer/upper/${pair#*:}"
    done
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/layer/upper,workdir=$work/layer/work" \
        "$work/layer/merged"
    truncate -s 1G "$work/disk.img"
    mke2fs -q -F -t ext4 -L vmroot -d "$work/layer/merged" "$work/disk.img"
' vm-disk "$here" "$work" "$cache/root" "$binary" "$deny" "$binary_arm"
disk_s=$((SECONDS - disk_start))

echo "booting $(cat "$cache/kernel-version") (qemu-system-aarch64 TCG, -cpu $cpu, 2 cores) with $(basename "$binary") and $(basename "$binary_arm");" \
    "scenarios: $scenarios"
boot_start=$SECONDS
rc=0
timeout --kill-after=10 "$timeout" qemu-system-aarch64 \
    -M virt -cpu "$cpu" -smp 2 -m 1024 -accel tcg,thread=multi \
    -kernel "$cache/vmlinuz" -initrd "$cache/initrd.img" \
    -append "root=/dev/vda rw console=ttyAMA0 init=/vm/init.sh panic=1 loglevel=1" \
    -drive "file=$work/disk.img,format=raw,if=virtio" \
    -nic none -display none -monitor none -serial "file:$work/console.log" -no-reboot \
    </dev/null || rc=$?
vm_s=$((SECONDS - boot_start))
console=$work/console.log
touch "$console"
tr -d '\r' <"$console" >"$work/console.txt"
if [ -n "${VM_CONSOLE:-}" ]; then cp "$work/console.txt" "$VM_CONSOLE"; fi

problems=()
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    problems+=("the machine did not power off within $timeout s (killed)")
elif [ "$rc" != 0 ]; then
    problems+=("qemu-system-aarch64 exited with status $rc")
fi
grep -q '^VMTEST BOOTED ' "$work/console.txt" || problems+=("the machine never reached /vm/init.sh")
grep -q '^VMTEST END ' "$work/console.txt" || problems+=("/vm/init.sh did not finish")
printf '%-26s %8s  %s\n' scenario seconds result
for name in $scenarios; do
    line=$(grep "^VMTEST RESULT $name " "$work/console.txt" || true)
    result=$(echo "$line" | awk '{print $4}')
    ms=$(echo "$line" | awk '{print $5}')
    printf '%-26s %8s  %s\n' "$name" "$(awk -v m="${ms:-0}" 'BEGIN { printf "%.1f", m / 1000 }')" "${result:-missing}"
    if [ "$(echo "$line" | grep -c .)" != 1 ] || [ "$result" != pass ]; then
        problems+=("scenario $name: ${result:-no result}")
    fi
done
booted=$(awk '/^VMTEST BOOTED /{print $3}' "$work/console.txt")
ended=$(awk '/^VMTEST END /{print $3}' "$work/console.txt")
grep '^VMTEST kernel ' "$work/console.txt" | sed 's/^VMTEST //' || true
scenarios_s='?'
if [ -n "$booted" ] && [ -n "$ended" ]; then
    scenarios_s=$(awk -v a="$booted" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')
fi
echo "times: root ${root_s} s, disk ${disk_s} s, boot to init ${booted:-?} s, scenarios $scenarios_s s," \
    "machine ${vm_s} s, total $((SECONDS - started)) s"

if [ "${#problems[@]}" != 0 ]; then
    echo "--- serial console" >&2
    cat "$work/console.txt" >&2
    echo "---" >&2
    for p in "${problems[@]}"; do echo "iptables-wrapper: vm-test: FAILED: $p" >&2; done
    exit 1
fi
if [ -n "${VM_VERBOSE:-}" ]; then cat "$work/console.txt"; fi
echo "vm-test: all $(echo "$scenarios" | wc -w) scenarios passed on arm64 (the arm binary's through compat)"
