#!/bin/sh
# The first-call scenario, run inside a test container (as root, in the
# container's own network namespace, which stands in for the host's). Modelled
# on the upstream iptables-wrappers test: kubelet's hint chain in one mode,
# junk rules in the other, then the first call through one of the six names,
# then the names must lead to the hinted mode and -V must agree.
#
#   scenario.sh MODE FIRST
#
# MODE is the hinted mode (legacy or nft). FIRST is the first call:
#   iptables          iptables -L, as upstream
#   ip6tables-save    its output must be the hinted mode's IPv6 ruleset
#   iptables-restore  rules on stdin, which must land in the hinted mode
# POSIX sh: it runs under dash and busybox ash. Exit status 0 means passed.
set -eu

mode=${1:-}
first=${2:-}
case $mode in
legacy) wrong=nft ;;
nft) wrong=legacy ;;
*)
    echo "usage: $0 legacy|nft iptables|ip6tables-save|iptables-restore" >&2
    exit 2
    ;;
esac
case $first in
iptables | iptables-restore) fam=iptables ;;
ip6tables-save) fam=ip6tables ;;
*)
    echo "usage: $0 legacy|nft iptables|ip6tables-save|iptables-restore" >&2
    exit 2
    ;;
esac

fail() {
    echo "scenario: FAILED: $*" >&2
    exit 1
}
ok() {
    echo "scenario: ok: $*"
}

names="iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore"
# Where callers find the names: the directory PATH leads to.
iptables_path=$(command -v iptables) || fail "iptables is not in PATH ($PATH)"
sbin=$(dirname "$iptables_path")

# The file a name finally leads to.
final() {
    basename "$(readlink -f "$sbin/$1")"
}

undecided() {
    for n in $names; do
        f=$(final "$n")
        [ "$f" = iptables-wrapper ] || fail "$sbin/$n leads to $f before the first call; it should lead to iptables-wrapper"
    done
}

undecided
ok "the six names in $sbin lead to iptables-wrapper"

# What kubelet leaves: the hint chain in the mangle table of the mode in use.
"$fam-$mode" -t mangle -N KUBE-IPTABLES-HINT
# Junk in the other mode, outnumbering the hint in rule counts.
"$fam-$wrong" -t filter -N BAD-1
"$fam-$wrong" -t filter -A BAD-1 -j ACCEPT
"$fam-$wrong" -t filter -N BAD-2
"$fam-$wrong" -t filter -A BAD-2 -j DROP
ok "hint chain in $fam-$mode, junk rules in $fam-$wrong"

undecided

case $first in
iptables)
    out=$(iptables -L -n) || fail "the first call, iptables -L, failed"
    case $out in
    *BAD-1*) fail "iptables -L listed the $wrong ruleset: $out" ;;
    esac
    ;;
ip6tables-save)
    out=$(ip6tables-save) || fail "the first call, ip6tables-save, failed"
    case $out in
    *KUBE-IPTABLES-HINT*) ;;
    *) fail "ip6tables-save did not print the $mode ruleset (no hint chain): $out" ;;
    esac
    case $out in
    *BAD-1*) fail "ip6tables-save printed the $wrong ruleset: $out" ;;
    esac
    ;;
iptables-restore)
    printf '%s\n' '*filter' ':WRAPPER-TEST - [0:0]' '-A WRAPPER-TEST -j RETURN' 'COMMIT' |
        iptables-restore --noflush || fail "the first call, iptables-restore, failed"
    "iptables-$mode-save" -t filter | grep -q -- '-A WRAPPER-TEST -j RETURN' ||
        fail "the rules given to iptables-restore on stdin are not in the $mode ruleset"
    if "iptables-$wrong-save" -t filter | grep -q WRAPPER-TEST; then
        fail "iptables-restore wrote to the $wrong ruleset"
    fi
    ;;
esac
ok "first call: $first"

for n in $names; do
    f=$(final "$n")
    [ "$f" = "xtables-$mode-multi" ] || fail "after the first call $sbin/$n leads to $f, not xtables-$mode-multi"
done
ok "the six names lead to xtables-$mode-multi"

case $mode in
legacy) want='(legacy)' ;;
nft) want='(nf_tables)' ;;
esac
for n in iptables ip6tables; do
    v=$("$n" -V)
    case $v in
    *"$want"*) ok "$n -V: $v" ;;
    *) fail "$n -V says $v, expected $want" ;;
    esac
done

# Where an alternatives system manages the names, its links must agree too.
managed=
if [ -L "$sbin/iptables" ]; then
    case $(readlink "$sbin/iptables") in
    /etc/alternatives/*) managed=yes ;;
    esac
fi
if [ -n "$managed" ]; then
    for n in iptables ip6tables; do
        t=$(readlink "/etc/alternatives/$n")
        case $t in
        */"$n-$mode") ok "/etc/alternatives/$n -> $t" ;;
        *) fail "/etc/alternatives/$n -> $t, expected .../$n-$mode" ;;
        esac
    done
fi
