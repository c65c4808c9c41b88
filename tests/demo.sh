#!/bin/bash
# `make demo`: the wrapper on three sandboxed hosts: one whose kubelet uses
# legacy, one whose kubelet uses nft, and one whose IPv4 and IPv6 are on
# different back ends. Each host is a throwaway Debian
# root file system in its own network namespace (tests/sandbox.sh), so the
# machine's own rules are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${DEMO_SUITE:-trixie}

# shellcheck disable=SC2016 # runs inside the sandbox
host='
set -e
mode=$1
say() { printf "\n\033[1m%s\033[0m\n" "$*"; }
# Prints every hop of a link chain: a -> /etc/alternatives/a -> ... -> multi
chain() {
    p=$1 out=$1
    while [ -L "$p" ]; do
        t=$(readlink "$p")
        case $t in /*) p=$t ;; *) p=$(dirname "$p")/$t ;; esac
        out="$out -> $p"
    done
    echo "  $out"
}
if [ "$mode" = split ]; then
    say "== a host whose IPv4 is on legacy and IPv6 on nft =="
    iptables-legacy -t mangle -N KUBE-IPTABLES-HINT
    ip6tables-nft -t mangle -N KUBE-IPTABLES-HINT
else
    say "== a host whose kubelet uses $mode =="
    echo "# the kubelet made its hint chain in $mode; some other agent left junk rules in the other mode"
    other=nft; [ "$mode" = nft ] && other=legacy
    iptables-$mode -t mangle -N KUBE-IPTABLES-HINT
    iptables-$mode -A INPUT -s 10.0.0.0/8 -j ACCEPT
    for i in 1 2 3 4 5; do iptables-$other -A FORWARD -s 192.0.2.$i -j DROP; done
fi

say "\$ /usr/sbin/iptables-wrapper install"
/usr/sbin/iptables-wrapper install
say "links before the first call:"
for n in iptables ip6tables-restore; do chain /usr/sbin/$n; done

say "\$ iptables-wrapper verify"
iptables-wrapper verify

say "\$ iptables-wrapper detect   (changes nothing)"
iptables-wrapper detect

say "\$ IPTABLES_WRAPPER_DEBUG=1 iptables -V   (the first call)"
IPTABLES_WRAPPER_DEBUG=1 iptables -V

say "links after the first call:"
for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    chain /usr/sbin/$n
done
say "\$ iptables-wrapper verify"
iptables-wrapper verify
say "\$ iptables -S INPUT   (now straight to the real binary)"
iptables -S INPUT
'

for mode in legacy nft split; do
    bash tests/sandbox.sh "$suite" "$host" "$mode"
done
