# shellcheck shell=sh
# The shell functions every sandboxed integration scenario starts with
# (tests/first_call.rs, tests/detect_v2.rs): setting up rulesets, running a
# command and printing what it did as KEY=value lines for the Rust side, and
# reading where the names lead. POSIX sh: it runs under the root file
# system's /bin/sh (dash).
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset IPTABLES_WRAPPER_MODE IPTABLES_WRAPPER_DEBUG IPTABLES_WRAPPER_PROBE_TIMEOUT
unset IPTABLES_WRAPPER_HINT_WAIT IPTABLES_WRAPPER_PROBES IPTABLES_WRAPPER_HINT_CHAINS
unset IPTABLES_WRAPPER_STATE_DIR
cd /tmp
# The wrapper, as the scenarios call it by its own name.
# shellcheck disable=SC2034 # used by the scenario bodies
w=/usr/sbin/iptables-wrapper

# hint MODE FAMILY [CHAIN]: the chain a kubelet leaves in its mode's mangle table.
hint() { "$2-$1" -t mangle -N "${3:-KUBE-IPTABLES-HINT}"; }

# np CMD...: runs CMD without CAP_NET_ADMIN and CAP_NET_RAW (neither
# inherited nor in the bounding set), as in a container without them.
np() { setpriv --inh-caps -net_admin,-net_raw --bounding-set -net_admin,-net_raw "$@"; }

# rules MODE FAMILY N: N filter rules in that back end.
rules() {
    i=0
    while [ "$i" -lt "$3" ]; do
        i=$((i + 1))
        "$2-$1" -A INPUT -p tcp --dport "$((1000 + i))" -j ACCEPT
    done
}

# joined: stdin's lines on one line, separated by " | ".
joined() { awk 'NR > 1 { printf " | " } { printf "%s", $0 }'; }

# call KEY CMD...: runs CMD, prints KEY_RC, KEY_OUT, KEY_ERR and KEY_MS
# (how long it took, in milliseconds).
call() {
    k=$1
    shift
    rc=0
    start=$(date +%s%N)
    "$@" >"/tmp/$k.out" 2>"/tmp/$k.err" || rc=$?
    echo "${k}_MS=$((($(date +%s%N) - start) / 1000000))"
    echo "${k}_RC=$rc"
    echo "${k}_OUT=$(joined <"/tmp/$k.out")"
    echo "${k}_ERR=$(joined <"/tmp/$k.err")"
}

# resolved [KEY] [DIR]: the file each of the six names finally leads to.
resolved() {
    r=
    for n in $NAMES; do
        r="$r $(basename "$(readlink -f "${2:-/usr/sbin}/$n")")"
    done
    echo "${1:-RESOLVED}=${r# }"
}

# links KEY [DIR]: each name's link, and where /etc/alternatives sends it.
links() {
    s=
    for n in $NAMES; do
        t=$(readlink "${2:-/usr/sbin}/$n" || echo "not-a-link")
        case $t in /etc/alternatives/*) t="$t>$(readlink "$t" || echo missing)" ;; esac
        s="$s $n->$t"
    done
    echo "$1=${s# }"
}

# sleepers KEY: how many `sleep` processes (hanging stand-in probes) live in
# this PID namespace.
sleepers() {
    n=0
    for f in /proc/[0-9]*/comm; do
        if [ "$(cat "$f" 2>/dev/null)" = sleep ]; then n=$((n + 1)); fi
    done
    echo "$1=$n"
}

# sleepers_become KEY N: waits up to 10 s for the count of `sleep` processes
# to become N, then reports the count as sleepers does. Polling, not a fixed
# pause, so a loaded machine cannot make the count early; a count that never
# becomes N is still reported as it is, and fails the test.
sleepers_become() {
    i=0
    while [ "$(sleepers X)" != "X=$2" ] && [ $i -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    sleepers "$1"
}

# legacy_tables KEY: the legacy tables the kernel lists in this namespace.
legacy_tables() {
    echo "$1=$(cat /proc/net/ip_tables_names /proc/net/ip6_tables_names 2>/dev/null | sort | tr '\n' ' ')"
}

# rules_digest KEY: a digest of every rule in both back ends and families.
rules_digest() {
    d=$(for c in iptables-legacy-save ip6tables-legacy-save iptables-nft-save ip6tables-nft-save; do
        "$c" | grep -v '^#'
    done | md5sum | cut -c1-32)
    echo "$1=$d"
}

# count_rule KEY RULE: how often RULE is in the legacy and the nft IPv4 saves
# (KEY_LEGACY, KEY_NFT), read without any filter.
count_rule() {
    echo "$1_LEGACY=$(iptables-legacy-save | grep -c -x -e "$2" || true)"
    echo "$1_NFT=$(iptables-nft-save | grep -c -x -e "$2" || true)"
}

# leftovers: temporary files left next to the names or the alternatives
# (the decision record is not one).
leftovers() {
    # shellcheck disable=SC2010 # names we make are plain ASCII
    echo "LEFTOVERS=$(ls -A /usr/sbin /etc/alternatives | grep -v -x -F .iptables-wrapper-decision.json | grep -E '^\.|dpkg-(tmp|new)$' | tr '\n' ' ' || true)"
}
