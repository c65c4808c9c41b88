#!/bin/sh
# PID 1 of the arm64 test VM (booted by tests/vm/run.sh with init=/vm/init.sh).
#
# Runs each scenario named in /vm/plan (functions of /vm/scenarios.sh) in its
# own network, mount and PID namespaces, on a throwaway overlay of the VM's
# root, so that every scenario starts from the same names and empty
# rulesets. Everything goes to the serial console as lines the host reads:
#
#   VMTEST BOOTED <seconds since the kernel started>
#   VMTEST <name> | <each line the scenario printed>
#   VMTEST RESULT <name> pass|fail <milliseconds>
#   VMTEST END <seconds since the kernel started>
#
# then the machine powers off (sysrq o). The host decides pass or fail; this
# side only reports. Not `set -e`: PID 1 must reach the power-off.
#
#   /vm/init.sh --sandbox NAME    (inside the namespaces) runs one scenario
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

if [ "${1:-}" = --sandbox ]; then
    set -eu
    s=/run/sandbox
    mkdir -p "$s"
    mount -t tmpfs -o mode=0755 sandbox "$s"
    mkdir "$s/upper" "$s/work" "$s/root"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$s/upper,workdir=$s/work" "$s/root"
    mount -t proc proc "$s/root/proc"
    mount --bind /dev "$s/root/dev"
    mount -t tmpfs tmpfs "$s/root/tmp"
    mount -t tmpfs tmpfs "$s/root/run"
    # shellcheck disable=SC2016 # expanded by the inner sh
    exec chroot "$s/root" /bin/sh -c '. /vm/prelude.sh; . /vm/scenarios.sh; "sc_$1"; [ "$failures" = 0 ]' \
        scenario "$(echo "$2" | tr - _)"
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
uptime() { cut -d' ' -f1 /proc/uptime; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
echo "VMTEST BOOTED $(uptime)"
echo "VMTEST kernel $(uname -r) $(uname -m), $(nproc) cpus; $(/usr/sbin/iptables-wrapper --version 2>&1 | head -n 1)"
if [ -e /usr/local/bin/iptables-wrapper-arm ]; then
    echo "VMTEST kernel 32-bit: $(/usr/local/bin/iptables-wrapper-arm --version 2>&1 | head -n 1)"
fi
while read -r name; do
    start=$(now_ms)
    rc=0
    timeout --kill-after=5 "${VMTEST_SCENARIO_TIMEOUT:-300}" \
        unshare --net --mount --pid --fork --kill-child /bin/sh /vm/init.sh --sandbox "$name" \
        </dev/null >"/tmp/$name.log" 2>&1 || rc=$?
    ms=$(($(now_ms) - start))
    sed "s/^/VMTEST $name | /" "/tmp/$name.log"
    if [ "$rc" = 0 ]; then
        echo "VMTEST RESULT $name pass $ms"
    else
        echo "VMTEST $name | exit status $rc"
        echo "VMTEST RESULT $name fail $ms"
    fi
done </vm/plan
echo "VMTEST END $(uptime)"
echo o >/proc/sysrq-trigger
sleep 30
