#!/bin/sh
# The first-call scenario, run inside a test container (as root, in the
# container's own network namespace, which stands in for the host's). Modelled
# on the upstream iptables-wrappers test: kubelet's hint chain in one mode,
# junk rules in the other, then the first call through one of the six names,
# then the names must lead to the hinted mode and -V must agree.
#
#   scenario.sh MODE FIRST [GROUPS]
#
# MODE is where the hints are:
#   legacy, nft  the first call's family has the hint in that mode and junk
#                rules in the other; both families must end up in that mode
#   split        the IPv4 hint in legacy and the IPv6 hint in nft, with junk
#                rules in iptables-nft and ip6tables-legacy
# FIRST is the first call:
#   iptables          iptables -L, as upstream
#   ip6tables-save    its output must be the IPv6 ruleset of IPv6's mode
#   iptables-restore  rules on stdin, which must land in IPv4's mode
# GROUPS says what the image's layout can switch (it matters for split):
#   per-family   (default) plain links, or Debian's iptables and ip6tables
#                alternatives groups: each family gets its own mode
#   one-group    Fedora's single iptables alternatives group: all six names
#                get IPv4's mode, and the first call warns (split-not-possible)
#
# Around the first call it also checks `iptables-wrapper verify` (after the
# install, after the first call, and once a name is broken), `detect` and
# `detect --json` (the mode per family, the warnings), and which warnings the
# first call prints on stderr.
# POSIX sh: it runs under dash and busybox ash. Exit status 0 means passed.
set -eu

usage() {
    echo "usage: $0 legacy|nft|split iptables|ip6tables-save|iptables-restore [per-family|one-group]" >&2
    exit 2
}
mode=${1:-}
first=${2:-}
groups=${3:-per-family}
case $first in
iptables | iptables-restore) fam=iptables ;;
ip6tables-save) fam=ip6tables ;;
*) usage ;;
esac
case $groups in
per-family | one-group) ;;
*) usage ;;
esac
# hint4/hint6: the mode holding each family's hint chain ("" for none);
# m4/m6: the mode each family's names must lead to after the first call.
case $mode in
legacy | nft)
    hint4="" hint6=""
    if [ "$fam" = iptables ]; then hint4=$mode; else hint6=$mode; fi
    m4=$mode m6=$mode
    ;;
split)
    hint4=legacy hint6=nft
    m4=legacy
    if [ "$groups" = one-group ]; then m6=legacy; else m6=nft; fi
    ;;
*) usage ;;
esac

fail() {
    echo "scenario: FAILED: $*" >&2
    exit 1
}
ok() {
    echo "scenario: ok: $*"
}
other() {
    if [ "$1" = legacy ]; then echo nft; else echo legacy; fi
}
# One-line JSON with the blanks taken out, so that patterns need not care
# about the spacing (texts lose theirs too, which no check looks at).
compact() {
    tr -d ' \t\n'
}
# has TEXT PATTERN: TEXT contains PATTERN (a shell pattern).
has() {
    case $1 in
    *$2*) return 0 ;;
    esac
    return 1
}
# Compact JSON, one member or array element a line (split at every comma
# and brace; texts may be cut too, which no check minds).
members() {
    # shellcheck disable=SC2020 # three characters, each to a newline
    printf '%s\n' "$1" | tr ',{}' '\n\n\n'
}
# count JSON STRING: how many members of a compact JSON are STRING. (Not
# grep -o: busybox's prints only the first match of a line.)
count() {
    members "$1" | grep -cxF -e "$2" || true
}
# The kinds of the warnings in a compact detect --json: every "kind" that is
# not a reason's, sorted, separated and ended by blanks.
reason_kinds="override only-installed nft-unusable hint other-family-hint rule-count tie default"
warning_kinds() {
    members "$1" | sed -n 's/^"kind":"\([a-z-]*\)"$/\1/p' | while read -r k; do
        case " $reason_kinds " in
        *" $k "*) ;;
        *) echo "$k" ;;
        esac
    done | sort | tr '\n' ' '
}
sorted_words() {
    for w in "$@"; do echo "$w"; done | sort | tr '\n' ' '
}

names="iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore"
# Where callers find the names: the directory PATH leads to.
iptables_path=$(command -v iptables) || fail "iptables is not in PATH ($PATH)"
sbin=$(dirname "$iptables_path")
command -v iptables-wrapper >/dev/null || fail "iptables-wrapper is not in PATH ($PATH)"

# The file a name finally leads to.
final() {
    basename "$(readlink -f "$sbin/$1")"
}
# The mode a name's family must have after the first call.
mode_of() {
    case $1 in
    ip6*) echo "$m6" ;;
    *) echo "$m4" ;;
    esac
}

undecided() {
    for n in $names; do
        f=$(final "$n")
        [ "$f" = iptables-wrapper ] || fail "$sbin/$n leads to $f before the first call; it should lead to iptables-wrapper"
    done
}

# verify_state STATUS FIRST-LINE [JSON PATTERN]...: `iptables-wrapper verify`
# exits STATUS and prints a first line that is FIRST-LINE, or FIRST-LINE and
# the record's " (by ...)"; `verify --json` exits STATUS too and its compact
# form contains each pattern.
verify_state() {
    want_rc=$1 want_line=$2
    shift 2
    if out=$(iptables-wrapper verify 2>/tmp/verify.err); then rc=0; else rc=$?; fi
    echo "\$ iptables-wrapper verify  (exit $rc)"
    printf '%s\n' "$out"
    cat /tmp/verify.err
    [ "$rc" = "$want_rc" ] || fail "iptables-wrapper verify exited $rc, expected $want_rc"
    line=$(printf '%s\n' "$out" | head -n 1)
    case $line in
    "$want_line" | "$want_line (by "*) ;;
    *) fail "iptables-wrapper verify printed '$line' first, expected '$want_line'" ;;
    esac
    if out=$(iptables-wrapper verify --json 2>/tmp/verify.err); then rc=0; else rc=$?; fi
    echo "\$ iptables-wrapper verify --json  (exit $rc)"
    printf '%s\n' "$out"
    cat /tmp/verify.err
    [ "$rc" = "$want_rc" ] || fail "iptables-wrapper verify --json exited $rc, expected $want_rc"
    json=$(printf '%s' "$out" | compact)
    for p in "$@"; do
        has "$json" "$p" || fail "iptables-wrapper verify --json has no $p"
    done
    ok "verify: $want_line"
}

undecided
ok "the six names in $sbin lead to iptables-wrapper"
verify_state 0 "not yet switched: the six names lead to iptables-wrapper" \
    '"consistent":true' '"state":"not-switched"' '"mode":null' '"ipv4":"wrapper"' '"ipv6":"wrapper"'
json_names=$(printf '%s' "$out" | compact)
[ "$(count "$json_names" '"leads_to":"wrapper"')" = 6 ] || fail "verify --json does not list six names leading to the wrapper"

# What kubelet leaves: the hint chain in the mangle table of the mode in use.
# Junk in the other mode, outnumbering the hint in rule counts.
junk() { # COMMAND
    "$1" -t filter -N BAD-1
    "$1" -t filter -A BAD-1 -j ACCEPT
    "$1" -t filter -N BAD-2
    "$1" -t filter -A BAD-2 -j DROP
}
junk4="" junk6=""
if [ -n "$hint4" ]; then
    junk4=$(other "$hint4")
    iptables-"$hint4" -t mangle -N KUBE-IPTABLES-HINT
    junk "iptables-$junk4"
    ok "IPv4: hint chain in iptables-$hint4, junk rules in iptables-$junk4"
fi
if [ -n "$hint6" ]; then
    junk6=$(other "$hint6")
    ip6tables-"$hint6" -t mangle -N KUBE-IPTABLES-HINT
    junk "ip6tables-$junk6"
    ok "IPv6: hint chain in ip6tables-$hint6, junk rules in ip6tables-$junk6"
fi

undecided

# What detect says before the first call (it changes nothing).
if [ "$m4" = "$m6" ]; then dmode=$m4; else dmode="split"; fi
# Warnings detect must give: the junk is stranded in each family that has
# some in its losing back end; Fedora's one group cannot split.
want_warnings=""
if [ -n "$junk4" ] && [ "$junk4" != "$m4" ]; then want_warnings="$want_warnings stranded-rules"; fi
if [ -n "$junk6" ] && [ "$junk6" != "$m6" ]; then want_warnings="$want_warnings stranded-rules"; fi
if [ "$mode" = split ] && [ "$groups" = one-group ]; then want_warnings="$want_warnings split-not-possible"; fi
# shellcheck disable=SC2086 # a list of words
want_kinds=$(sorted_words $want_warnings)

detect_text=$(iptables-wrapper detect) || fail "iptables-wrapper detect exited $?"
echo "\$ iptables-wrapper detect"
printf '%s\n' "$detect_text"
line=$(printf '%s\n' "$detect_text" | head -n 1)
case $line in
"$dmode ("*) ;;
*) fail "iptables-wrapper detect printed '$line' first, expected '$dmode (...)'" ;;
esac
detect_json=$(iptables-wrapper detect --json) || fail "iptables-wrapper detect --json exited $?"
echo "\$ iptables-wrapper detect --json"
printf '%s\n' "$detect_json"
dj=$(printf '%s' "$detect_json" | compact)
has "$dj" "{\"mode\":\"$dmode\"" || fail "detect --json: the mode is not $dmode"
# One family's object: {"mode":...,"reason":{...}}, in either order.
family_json() { # FAMILY
    printf '%s\n' "$dj" | sed -n "s/.*\"$1\":\({[^}]*}[^}]*}\).*/\1/p"
}
for f in ipv4 ipv6; do
    if [ "$f" = ipv4 ]; then want=$m4 hint=$hint4 ohint=$hint6; else want=$m6 hint=$hint6 ohint=$hint4; fi
    fj=$(family_json "$f")
    has "$fj" "\"mode\":\"$want\"" || fail "detect --json: $f is not $want: $fj"
    # A family with its own hint, whose mode it got, says so; one without
    # follows the other family's.
    if [ "$hint" = "$want" ]; then
        has "$fj" '"kind":"hint"' || fail "detect --json: $f's reason is not its hint: $fj"
    elif [ -z "$hint" ] && [ -n "$ohint" ]; then
        has "$fj" '"kind":"other-family-hint"' || fail "detect --json: $f's reason is not the other family's hint: $fj"
    fi
done
kinds=$(warning_kinds "$dj")
[ "$kinds" = "$want_kinds" ] || fail "detect --json warns of [$kinds], expected [$want_kinds]"
n=$(printf '%s\n' "$detect_text" | grep -c '^warning: ' || true)
nwant=$(echo "$want_kinds" | wc -w | tr -d ' ')
[ "$n" = "$nwant" ] || fail "detect printed $n warning lines, expected $nwant"
ok "detect: $dmode, warnings [$want_kinds]"
undecided

# The first call. Its stderr is kept: the warnings it prints are checked below.
err=/tmp/first-call.err
# The ruleset the first call must have used: in its family, the mode that
# holds the hint, or the one that holds the junk.
fm=$(mode_of "$fam")
if [ "$fam" = iptables ]; then fh=$hint4; else fh=$hint6; fi
case $first in
iptables)
    out=$(iptables -L -n 2>"$err") || { cat "$err"; fail "the first call, iptables -L, failed"; }
    if [ "$fm" = "$fh" ]; then
        case $out in
        *BAD-1*) fail "iptables -L listed the $(other "$fm") ruleset: $out" ;;
        esac
    else
        case $out in
        *BAD-1*) ;;
        *) fail "iptables -L did not list the $fm ruleset (no junk chain): $out" ;;
        esac
    fi
    ;;
ip6tables-save)
    out=$(ip6tables-save 2>"$err") || { cat "$err"; fail "the first call, ip6tables-save, failed"; }
    if [ "$fm" = "$fh" ]; then yes=KUBE-IPTABLES-HINT no=BAD-1; else yes=BAD-1 no=KUBE-IPTABLES-HINT; fi
    case $out in
    *"$yes"*) ;;
    *) fail "ip6tables-save did not print the $fm ruleset (no $yes): $out" ;;
    esac
    case $out in
    *"$no"*) fail "ip6tables-save printed the $(other "$fm") ruleset ($no): $out" ;;
    esac
    ;;
iptables-restore)
    printf '%s\n' '*filter' ':WRAPPER-TEST - [0:0]' '-A WRAPPER-TEST -j RETURN' 'COMMIT' |
        iptables-restore --noflush 2>"$err" || { cat "$err"; fail "the first call, iptables-restore, failed"; }
    "iptables-$fm-save" -t filter | grep -q -- '-A WRAPPER-TEST -j RETURN' ||
        fail "the rules given to iptables-restore on stdin are not in the $fm ruleset"
    if "iptables-$(other "$fm")-save" -t filter | grep -q WRAPPER-TEST; then
        fail "iptables-restore wrote to the $(other "$fm") ruleset"
    fi
    ;;
esac
echo "first call's stderr:"
cat "$err"
ok "first call: $first"

# Of the warnings, a first call shows only those its own evidence shows: with
# a hint it counts no rules, so only split-not-possible, once.
warned=$(grep -c '^iptables-wrapper: warning: ' "$err" || true)
if [ "$mode" = split ] && [ "$groups" = one-group ]; then
    [ "$warned" = 1 ] || fail "the first call printed $warned warning lines on stderr, expected 1 (split not possible)"
    text=$(sed -n 's/^iptables-wrapper: warning: //p' "$err")
    printf '%s\n' "$detect_text" | grep -qxF "warning: $text" ||
        fail "the first call's warning '$text' is not one detect printed"
    printf '%s\n' "$detect_json" | grep -qF "\"kind\":\"split-not-possible\",\"text\":\"$text\"" ||
        fail "the first call's warning '$text' is not detect --json's split-not-possible"
    ok "the first call warned: $text"
else
    [ "$warned" = 0 ] || fail "the first call printed $warned warning lines on stderr, expected none"
fi

for n in $names; do
    f=$(final "$n")
    want=$(mode_of "$n")
    [ "$f" = "xtables-$want-multi" ] || fail "after the first call $sbin/$n leads to $f, not xtables-$want-multi"
done
ok "the iptables names lead to xtables-$m4-multi, the ip6tables names to xtables-$m6-multi"

for n in iptables ip6tables; do
    case $(mode_of "$n") in
    legacy) want='(legacy)' ;;
    nft) want='(nf_tables)' ;;
    esac
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
        want=$(mode_of "$n")
        t=$(readlink "/etc/alternatives/$n")
        case $t in
        */"$n-$want") ok "/etc/alternatives/$n -> $t" ;;
        *) fail "/etc/alternatives/$n -> $t, expected .../$n-$want" ;;
        esac
    done
fi

if [ "$m4" = "$m6" ]; then
    verify_state 0 "switched: $m4" '"consistent":true' '"state":"switched"' "\"mode\":\"$m4\"" \
        "\"ipv4\":\"$m4\"" "\"ipv6\":\"$m4\"" '"status":"current"' '"trigger":"first-call"'
else
    verify_state 0 "switched: IPv4 $m4, IPv6 $m6" '"consistent":true' '"state":"switched"' '"mode":"split"' \
        "\"ipv4\":\"$m4\"" "\"ipv6\":\"$m6\"" '"status":"current"' '"trigger":"first-call"'
fi

# A broken image: one IPv6 name pointed at the other mode. verify must say so
# and fail.
bad=$(other "$m6")
rm -f "$sbin/ip6tables-save"
ln -s "xtables-$bad-multi" "$sbin/ip6tables-save"
ok "$sbin/ip6tables-save now links to xtables-$bad-multi"
verify_state 1 "inconsistent:" '"consistent":false' '"state":"inconsistent"'
printf '%s\n' "$out" | compact | grep -q '"problems":\[{' || fail "verify --json lists no problem"
iptables-wrapper verify | grep -q '^  .*ip6tables-save: ' || fail "verify does not name ip6tables-save as the problem"
ok "verify names ip6tables-save"
