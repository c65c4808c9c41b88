# shellcheck shell=sh
# The scenarios the arm64 VM runs (tests/vm/init.sh starts each one in its
# own network, mount and PID namespaces, on a throwaway overlay of the VM's
# root). Each is a function `sc_NAME` that sets up rulesets with the real
# iptables-legacy/iptables-nft of bookworm's arm64 iptables 1.8.9, runs the
# arm64 wrapper installed as the six names, and checks what a user cares
# about: where the names lead, which back end holds the rules written
# through them, what detect/verify printed and returned. Every check prints
# `ok: ...` or `FAIL: ...`; a scenario passes when it ends without a FAIL.
# Sourced after tests/common/prelude.sh (call, hint, rules, resolved, ...),
# under the root's /bin/sh (dash).

failures=0
J=/tmp/detect.json
w=${w:-/usr/sbin/iptables-wrapper}

# check WHAT GOT WANT
check() {
    if [ "$2" = "$3" ]; then
        echo "ok: $1 = $3"
    else
        echo "FAIL: $1: got '$2', want '$3'"
        failures=$((failures + 1))
    fi
}

# check_prefix WHAT GOT PREFIX
check_prefix() {
    case $2 in
    "$3"*) echo "ok: $1 starts with '$3'" ;;
    *)
        echo "FAIL: $1: got '$2', want it to start with '$3'"
        failures=$((failures + 1))
        ;;
    esac
}

# js FILTER [FILE]: jq's raw answer from a detect/verify JSON document.
js() { jq -r "$1" "${2:-$J}"; }

# detect_json [ENV=VALUE...]: runs `detect --json` (through env, so a
# prefix such as `deny RULES --` can go first: DENY) into $J, checks that it
# exited 0 and printed one JSON document, and shows it.
detect_json() {
    rc=0
    ${DENY:-} env "$@" "$w" detect --json >"$J" 2>/tmp/detect.err || rc=$?
    check "detect --json exit status" "$rc" 0
    check "detect --json is one JSON document" "$(jq -s length "$J" 2>&1)" 1
    echo "detect --json: $(cat "$J")"
}

# kernel_sources: every probe in $J came from the kernel (netlink or
# getsockopt in the wrapper's process), none from an iptables command.
kernel_sources() {
    check "probes in detect --json" "$(js '.probes | length > 0')" true
    check "sources of the probes" "$(js '[.probes[].source] | unique | join(",")')" kernel
}

# decided MODE KIND4 KIND6: detect's overall mode and each family's reason.
decided() {
    check "detect mode" "$(js .mode)" "$1"
    check "ipv4 reason" "$(js .families.ipv4.reason.kind)" "$2"
    check "ipv6 reason" "$(js .families.ipv6.reason.kind)" "$3"
}

# names_lead V4 V6: the three names of each family resolve to that mode's
# multi binary, and `-V` through them says so.
names_lead() {
    for n in iptables iptables-save iptables-restore; do
        check "$n resolves to" "$(basename "$(readlink -f "/usr/sbin/$n")")" "xtables-$1-multi"
    done
    for n in ip6tables ip6tables-save ip6tables-restore; do
        check "$n resolves to" "$(basename "$(readlink -f "/usr/sbin/$n")")" "xtables-$2-multi"
    done
    check "iptables -V" "$(iptables -V | sed 's/.*(//')" "$(tag "$1")"
    check "ip6tables -V" "$(ip6tables -V | sed 's/.*(//')" "$(tag "$2")"
}

tag() { if [ "$1" = nft ]; then echo 'nf_tables)'; else echo 'legacy)'; fi; }

# holds FAMILY MODE RULE WHAT COUNT: RULE is COUNT times in that back end's save.
holds() {
    check "$4 in $1-$2" "$("$1-$2-save" 2>/dev/null | grep -c -x -e "$3" || true)" "$5"
}

# cmd KEY CMD...: runs CMD with its output in /tmp/KEY.out and .err, and
# its exit status in $rc.
cmd() {
    k=$1
    shift
    rc=0
    "$@" >"/tmp/$k.out" 2>"/tmp/$k.err" || rc=$?
    echo "$k: $* -> $rc; stdout: $(joined <"/tmp/$k.out"); stderr: $(joined <"/tmp/$k.err")"
}

# first_call KEY MODE CMD...: a first call, with the decision line on
# stderr; it must succeed and say MODE.
first_call() {
    k=$1 mode=$2
    shift 2
    cmd "$k" env IPTABLES_WRAPPER_DEBUG=1 "$@"
    check "$k exit status" "$rc" 0
    check_prefix "$k decision" "$(head -n 1 "/tmp/$k.err")" "iptables-wrapper: $mode ("
}

install_alternatives() { "$w" install >/dev/null; }
install_symlinks() { "$w" install --symlinks >/dev/null; }

R4='-A INPUT -s 10.0.0.1/32 -j DROP'
R6='-A INPUT -s fd00::1/128 -j DROP'

# 1. A kubelet hint in legacy beats counts that favour nft.
sc_hint_legacy() {
    install_alternatives
    hint legacy iptables
    rules nft iptables 3
    detect_json
    kernel_sources
    decided legacy hint other-family-hint
    check "ipv4 reason text" "$(js .families.ipv4.reason.text)" "KUBE-IPTABLES-HINT in iptables-legacy mangle"
    first_call FIRST legacy iptables -A INPUT -s 10.0.0.1 -j DROP
    holds iptables legacy "$R4" "the rule" 1
    holds iptables nft "$R4" "the rule" 0
    names_lead legacy legacy
}

# 2. A hint in nft, in IPv6 only, beats counts that favour legacy; IPv4
# follows it.
sc_hint_nft() {
    install_symlinks
    hint nft ip6tables
    rules legacy iptables 3
    detect_json
    kernel_sources
    decided nft other-family-hint hint
    check "ipv6 reason text" "$(js .families.ipv6.reason.text)" "KUBE-IPTABLES-HINT in ip6tables-nft mangle"
    first_call FIRST nft ip6tables -A INPUT -s fd00::1 -j DROP
    holds ip6tables nft "$R6" "the rule" 1
    holds ip6tables legacy "$R6" "the rule" 0
    names_lead nft nft
}

# 3. No hint: legacy holds more rules (over both families), so legacy.
sc_counts_legacy() {
    install_alternatives
    rules legacy iptables 3
    rules nft ip6tables 2
    detect_json
    kernel_sources
    decided legacy rule-count rule-count
    check "ipv4 reason text" "$(js .families.ipv4.reason.text)" "legacy 3 rules > nft 2 rules"
    check "legacy ipv4 rules counted" "$(js '.probes[] | select(.mode=="legacy" and .family=="ipv4" and .table=="all") | .rules')" 3
    check "nft ipv6 rules counted" "$(js '.probes[] | select(.mode=="nft" and .family=="ipv6" and .table=="all") | .rules')" 2
    first_call FIRST legacy iptables -A INPUT -s 10.0.0.1 -j DROP
    holds iptables legacy "$R4" "the rule" 1
    holds iptables nft "$R4" "the rule" 0
    names_lead legacy legacy
}

# 4. No hint: nft holds more (over both families), so nft. Legacy holds
# rules too, and more in IPv4 alone than nft's IPv6 count.
sc_counts_nft() {
    install_symlinks
    rules legacy iptables 2
    rules nft iptables 2
    rules nft ip6tables 1
    detect_json
    kernel_sources
    decided nft rule-count rule-count
    check "ipv4 reason text" "$(js .families.ipv4.reason.text)" "nft 3 rules > legacy 2 rules"
    first_call FIRST nft iptables -A INPUT -s 10.0.0.1 -j DROP
    holds iptables nft "$R4" "the rule" 1
    holds iptables legacy "$R4" "the rule" 0
    names_lead nft nft
}

# 5. IPv4 on legacy and IPv6 on nft: each family is switched to its own.
sc_split() {
    install_alternatives
    hint legacy iptables
    hint nft ip6tables
    detect_json
    kernel_sources
    decided split hint hint
    check "ipv4 mode" "$(js .families.ipv4.mode)" legacy
    check "ipv6 mode" "$(js .families.ipv6.mode)" nft
    first_call FIRST split ip6tables -A INPUT -s fd00::1 -j DROP
    cmd SECOND iptables -A INPUT -s 10.0.0.1 -j DROP
    check "second call exit status" "$rc" 0
    check "second call stderr" "$(cat /tmp/SECOND.err)" ""
    holds ip6tables nft "$R6" "the IPv6 rule" 1
    holds ip6tables legacy "$R6" "the IPv6 rule" 0
    holds iptables legacy "$R4" "the IPv4 rule" 1
    holds iptables nft "$R4" "the IPv4 rule" 0
    names_lead legacy nft
    cmd VERIFY "$w" verify
    # The state, then the record of who switched, when and why.
    check_prefix "verify" "$(cat /tmp/VERIFY.out)" \
        "switched: IPv4 legacy, IPv6 nft (by the first call of ip6tables at "
}

# 6. A kernel without nf_tables (the seccomp launcher refuses its netlink
# socket with EPROTONOSUPPORT): legacy, although nft holds more rules, which
# without the filter would win.
sc_no_nf_tables() {
    install_symlinks
    rules legacy iptables 2
    rules legacy ip6tables 1
    rules nft iptables 5
    detect_json
    kernel_sources
    check "without the filter" "$(js .mode)" nft
    DENY="deny nft-eprotonosupport --" detect_json
    kernel_sources
    decided legacy nft-unusable nft-unusable
    check "ipv4 reason text" "$(js .families.ipv4.reason.text)" \
        "nf_tables unusable in this kernel: socket(AF_NETLINK, NETLINK_NETFILTER): Protocol not supported"
    check "nft probes failed" "$(js '[.probes[] | select(.mode=="nft") | .result] | unique | join(",")')" failed
    first_call FIRST legacy deny nft-eprotonosupport -- iptables -A INPUT -s 10.0.0.1 -j DROP
    holds iptables legacy "$R4" "the rule" 1
    holds iptables nft "$R4" "the rule" 0
    names_lead legacy legacy
}

# 7. verify: before the first call, after it, and once a name is broken.
sc_verify() {
    install_alternatives
    cmd V0 "$w" verify
    check "verify after install: exit status" "$rc" 0
    check "verify after install" "$(cat /tmp/V0.out)" "not yet switched: the six names lead to iptables-wrapper"
    hint nft iptables
    iptables -V >/dev/null 2>&1
    cmd V1 "$w" verify
    check "verify after the switch: exit status" "$rc" 0
    check_prefix "verify after the switch" "$(cat /tmp/V1.out)" "switched: nft (by the first call of iptables at "
    "$w" verify --json >/tmp/v.json || true
    check "verify --json state" "$(js .state /tmp/v.json)" switched
    check "verify --json record" "$(js '.record.status + " " + .record.record.trigger' /tmp/v.json)" "current first-call"
    check "verify --json leads_to" "$(js '[.names[].leads_to] | join(" ")' /tmp/v.json)" "nft nft nft nft nft nft"
    ln -sf /usr/sbin/xtables-missing-multi /usr/sbin/iptables-save
    cmd V2 "$w" verify
    check "verify of a dangling name: exit status" "$rc" 1
    check "verify of a dangling name" "$(head -n 1 /tmp/V2.out)" "inconsistent:"
    rc=0
    "$w" verify --json >/tmp/v.json || rc=$?
    check "verify --json of a dangling name: exit status" "$rc" 1
    check "verify --json consistent" "$(js .consistent /tmp/v.json)" false
    check "verify --json iptables-save" "$(js '.names[] | select(.name=="iptables-save") | .leads_to' /tmp/v.json)" dangling
}

# 8. Twenty first calls at once, through all six names: all succeed, all
# run legacy, exactly one of them decides, and each alternatives group is
# switched once.
sc_concurrent() {
    install_alternatives
    hint legacy iptables
    export IPTABLES_WRAPPER_DEBUG=1
    exec 9>/tmp/barrier
    flock 9
    for i in $(seq 20); do
        (
            flock -s /tmp/barrier true
            status=0
            case $((i % 6)) in
            0) iptables -V ;;
            1) iptables-save -V ;;
            2) iptables-restore -V ;;
            3) ip6tables -V ;;
            4) ip6tables-save -V ;;
            5) ip6tables-restore -V ;;
            esac >"/tmp/out.$i" 2>"/tmp/err.$i" || status=$?
            echo "$status" >"/tmp/status.$i"
        ) 9>&- &
    done
    sleep 1
    flock -u 9
    wait
    unset IPTABLES_WRAPPER_DEBUG
    s=
    for i in $(seq 20); do s="$s $(cat "/tmp/status.$i" 2>/dev/null || echo none)"; done
    check "exit statuses" "${s# }" "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"
    check "modes the commands ran in" "$(cat /tmp/out.* | sed 's/.*(//' | sort | uniq -c | sed 's/^ *//')" "20 legacy)"
    cat /tmp/err.* >/tmp/err.all
    echo "stderr of the calls: $(joined </tmp/err.all)"
    check "calls that decided" "$(grep -c '^iptables-wrapper: legacy (' /tmp/err.all || true)" 1
    check "switches of the iptables group" "$(grep -c '^iptables-wrapper: switched alternatives iptables ' /tmp/err.all || true)" 1
    check "switches of the ip6tables group" "$(grep -c '^iptables-wrapper: switched alternatives ip6tables ' /tmp/err.all || true)" 1
    check "other stderr lines" "$(grep -v -e '^iptables-wrapper: legacy (' -e '^iptables-wrapper: switched alternatives ' \
        -e '^iptables-wrapper: /usr/sbin/.* already switched to legacy by another call$' /tmp/err.all || true)" ""
    names_lead legacy legacy
    leftovers >/tmp/leftovers
    check "files left behind" "$(cat /tmp/leftovers)" "LEFTOVERS="
}

# kernel_vs_process SETUP: after SETUP, `detect --json` through the kernel
# and through the iptables commands give the same answer on every probe, the
# same decision, and looking through the kernel creates no table.
kernel_vs_process() {
    eval "$1"
    tables() { cat /proc/net/ip_tables_names /proc/net/ip6_tables_names 2>/dev/null | sort | tr '\n' ' '; }
    before="$(tables) / $(nft list tables | sort | tr '\n' ' ')"
    detect_json IPTABLES_WRAPPER_PROBES=kernel
    cp "$J" /tmp/kernel.json
    kernel_sources
    check "kernel probe results" "$(js '[.probes[].result | select(. != "not-run")] | unique | join(",")')" ok
    check "tables after the kernel looked" "$(tables) / $(nft list tables | sort | tr '\n' ' ')" "$before"
    detect_json IPTABLES_WRAPPER_PROBES=process IPTABLES_WRAPPER_PROBE_TIMEOUT=120
    cp "$J" /tmp/process.json
    check "sources of the process probes" "$(js '[.probes[].source] | unique | join(",")')" process
    same_detect "kernel against process" /tmp/kernel.json /tmp/process.json
    J=/tmp/kernel.json
    for m in legacy nft; do
        for f in ipv4 ipv6; do
            check "$m $f rules" "$(js ".probes[] | select(.mode==\"$m\" and .family==\"$f\" and .table==\"all\") | .rules")" 10
        done
    done
    echo "probes: $(js "$each" | tr '\n' ';')"
}

# 9. Kernel against process on the rich ruleset: counts decide (a tie).
sc_kernel_vs_process() {
    kernel_vs_process ". /vm/rich-ruleset.sh"
    decided nft tie tie
}

# 10. The same with hint chains in one mode per family.
sc_kernel_vs_process_hints() {
    kernel_vs_process ". /vm/rich-ruleset.sh
        iptables-nft -t mangle -N KUBE-IPTABLES-HINT
        ip6tables-legacy -t mangle -N KUBE-KUBELET-CANARY"
    decided split hint hint
    check "nft ipv4 mangle hint" "$(js '.probes[] | select(.mode=="nft" and .family=="ipv4" and .table=="mangle") | .hint')" KUBE-IPTABLES-HINT
    check "legacy ipv6 mangle hint" "$(js '.probes[] | select(.mode=="legacy" and .family=="ipv6" and .table=="mangle") | .hint')" KUBE-KUBELET-CANARY
}

# Not a test: prints the arm64 kernel's raw x_tables answers for a small
# legacy ruleset, as `FIXTURE NAME KIND DATA` lines that tests/vm/fixtures.sh
# turns into tests/fixtures/arm64/ (xtdump is copied in by it). Also what
# iptables-legacy-save and detect --json say about the same tables.
sc_fixtures() {
    for f in iptables ip6tables; do
        "$f-legacy" -N KUBE-SERVICES
        "$f-legacy" -A INPUT -j KUBE-SERVICES
        "$f-legacy" -A KUBE-SERVICES -p tcp --dport 443 -j ACCEPT
        "$f-legacy" -A FORWARD -m comment --comment "a comment" -j DROP
        "$f-legacy" -t mangle -N KUBE-IPTABLES-HINT
    done
    for v in 4 6; do
        f=iptables
        if [ $v = 6 ]; then f=ip6tables; fi
        for t in filter mangle; do
            xtdump $v $t >/tmp/dump
            sed "s/^/FIXTURE ipv$v-$t /" /tmp/dump
            "$f-legacy-save" -t $t | grep -v '^#' | sed "s/^/FIXTURE ipv$v-$t save /"
        done
    done
    detect_json
    kernel_sources
    js '.probes[] | select(.mode=="legacy") | del(.ms) | tojson' | sed 's/^/FIXTURE detect probe /'
}

# --- The 32-bit arm wrapper on the same 64-bit kernel (compat) -----------
# tests/vm/run.sh puts the arm (armv7, EABI5) release binary at $ARM, next
# to the arm64 one at /usr/sbin/iptables-wrapper. A 32-bit process on arm64
# makes the same x_tables getsockopt calls through the kernel's compat
# translation (compat_get_entries: the 32-bit ipt_getinfo, ipt_get_entries
# and entry layouts, sizes recomputed for 32-bit targets and matches), so
# the arm binary's legacy reads take another path through the kernel than
# the arm64 binary's. Netlink (nf_tables) has no layout of its own to
# translate. These scenarios hold the arm binary's answers to the arm64
# binary's on the same rulesets.
ARM=/usr/local/bin/iptables-wrapper-arm
ARM64=/usr/sbin/iptables-wrapper

# elf_of FILE: its ELF class and e_machine ("01 2800": 32-bit ARM).
elf_of() { echo "$(od -An -tx1 -j4 -N1 "$1" | tr -d ' ') $(od -An -tx1 -j18 -N2 "$1" | tr -d ' ')"; }

# is_arm: the arm binary is a 32-bit ARM executable that runs here, on the
# 64-bit kernel, and names its target.
is_arm() {
    check "uname -m" "$(uname -m)" aarch64
    check "ELF class and machine of $ARM" "$(elf_of "$ARM")" "01 2800"
    check_prefix "$ARM --version" "$("$ARM" --version 2>&1)" "iptables-wrapper 0.1.0 (armv7-unknown-linux-gnueabihf, "
}

# same_detect WHAT A B: two detect --json documents give the same probes
# (each probe's result, rules and hint) and the same decision.
same_detect() {
    each='.probes | sort_by(.mode, .family, .table) | .[] | "\(.mode) \(.family) \(.table): \(.result) rules=\(.rules) hint=\(.hint)"'
    check "probes, $1" "$(js "$each" "$2" | tr '\n' ';')" "$(js "$each" "$3" | tr '\n' ';')"
    check "decision, $1" "$(js '[.mode, .families] | tojson' "$2")" "$(js '[.mode, .families] | tojson' "$3")"
}

# detect_by BINARY [ENV=VALUE...]: detect_json through BINARY.
detect_by() {
    w=$1
    shift
    detect_json "$@"
    w=$ARM64
}

# arm_vs_arm64 KEY: `detect --json` with the default source through the arm
# binary, the arm64 binary, and the arm binary's process source; the arm
# binary's is in /tmp/KEY.json.
arm_vs_arm64() {
    detect_by "$ARM"
    cp "$J" "/tmp/$1.json"
    kernel_sources
    check "arm probe results" "$(js '[.probes[].result | select(. != "not-run")] | unique | join(",")')" ok
    detect_by "$ARM64"
    cp "$J" "/tmp/$1-arm64.json"
    kernel_sources
    detect_by "$ARM" IPTABLES_WRAPPER_PROBES=process IPTABLES_WRAPPER_PROBE_TIMEOUT=120
    cp "$J" "/tmp/$1-process.json"
    check "sources of the process probes" "$(js '[.probes[].source] | unique | join(",")')" process
    same_detect "arm kernel against arm64 kernel" "/tmp/$1.json" "/tmp/$1-arm64.json"
    same_detect "arm kernel against process" "/tmp/$1.json" "/tmp/$1-process.json"
    J=/tmp/$1.json
    echo "arm probes: $(js "$each" | tr '\n' ';')"
}

# 11. The rich ruleset (every kind of rule, user chains, four tables, both
# families and modes): the arm binary reads it through compat exactly as the
# arm64 binary and the iptables commands do; then again with hint chains.
sc_compat_detect() {
    is_arm
    # shellcheck source=/dev/null # tests/common/rich-ruleset.sh
    . /vm/rich-ruleset.sh
    arm_vs_arm64 rich
    for m in legacy nft; do
        for f in ipv4 ipv6; do
            check "$m $f rules (arm)" "$(js ".probes[] | select(.mode==\"$m\" and .family==\"$f\" and .table==\"all\") | .rules")" 10
        done
    done
    decided nft tie tie
    iptables-nft -t mangle -N KUBE-IPTABLES-HINT
    ip6tables-legacy -t mangle -N KUBE-KUBELET-CANARY
    # limit's match data holds a kernel pointer (xt_rateinfo.master), so
    # compat gives it another size: the entries the arm binary walks are
    # laid out differently from the arm64 binary's.
    iptables-legacy -A INPUT -m limit --limit 5/s -j ACCEPT
    ip6tables-legacy -A INPUT -m limit --limit 5/s -j ACCEPT
    arm_vs_arm64 hints
    decided split hint hint
    check "legacy ipv4 rules with limit (arm)" "$(js '.probes[] | select(.mode=="legacy" and .family=="ipv4" and .table=="all") | .rules')" 11
    check "legacy ipv6 mangle hint (arm)" "$(js '.probes[] | select(.mode=="legacy" and .family=="ipv6" and .table=="mangle") | .hint')" KUBE-KUBELET-CANARY
    check "nft ipv4 mangle hint (arm)" "$(js '.probes[] | select(.mode=="nft" and .family=="ipv4" and .table=="mangle") | .hint')" KUBE-IPTABLES-HINT
}

# 12. The arm binary installed as the six names: a first call with a hint in
# legacy (against nft counts that say otherwise) switches to legacy, and the
# rule it writes lands in legacy.
sc_compat_hint_legacy() {
    is_arm
    install -m 755 "$ARM" /usr/sbin/iptables-wrapper
    sc_hint_legacy
    check "the wrapper the names were installed for" "$(elf_of /usr/sbin/iptables-wrapper)" "01 2800"
    cmd VERIFY "$ARM" verify
    check "verify through the arm binary: exit status" "$rc" 0
    check_prefix "verify through the arm binary" "$(cat /tmp/VERIFY.out)" "switched: legacy (by the first call of iptables at "
}

# in_copy BINARY CMD...: runs CMD with BINARY as /usr/sbin/iptables-wrapper,
# on copies of the names' directories (a mount namespace of its own), so a
# first call there leaves this sandbox's names as they were; same rulesets.
in_copy() {
    # shellcheck disable=SC2016 # expanded by the inner sh
    unshare --mount --propagation private -- /bin/sh -euc '
        b=$1
        shift
        for d in /usr/sbin /etc/alternatives /var/lib/dpkg/alternatives; do
            mkdir -p "/tmp/copy$d"
            cp -a "$d/." "/tmp/copy$d/"
            mount --bind "/tmp/copy$d" "$d"
        done
        [ "$b" = /usr/sbin/iptables-wrapper ] || install -m 755 "$b" /usr/sbin/iptables-wrapper
        exec "$@"' in-copy "$@"
    rm -rf /tmp/copy
}

# bounds KEY BINARY: a first call with no hint, through BINARY as the six
# names (on copies, see in_copy); its decision line is in /tmp/KEY.err.
bounds() {
    status=0
    in_copy "$2" env IPTABLES_WRAPPER_DEBUG=1 iptables -V >"/tmp/$1.out" 2>"/tmp/$1.err" || status=$?
    echo "$1: first call through $2 -> $status; stdout: $(joined <"/tmp/$1.out"); stderr: $(joined <"/tmp/$1.err")"
    check "$1 exit status" "$status" 0
    check "$1 ran" "$(sed 's/.*(//' "/tmp/$1.out")" "legacy)"
}

# 13. No hint, legacy ahead: a first call decides from legacy's bounds
# (x_tables GET_INFO's entry count and size, which compat translates to
# the 32-bit layout) without reading the rules, and the arm binary's
# bounds are the arm64 binary's. User chains in both families make the
# bounds a range that holds the exact count.
sc_compat_bounds() {
    is_arm
    install_alternatives
    for f in iptables ip6tables; do
        "$f-legacy" -N KUBE-SERVICES
        "$f-legacy" -A INPUT -j KUBE-SERVICES
        "$f-legacy" -A KUBE-SERVICES -p tcp --dport 443 -j ACCEPT
        "$f-legacy" -A KUBE-SERVICES -p tcp -m multiport --dports 80,8080 -m comment --comment web -j ACCEPT
        "$f-legacy" -A KUBE-SERVICES -m limit --limit 5/s -j ACCEPT
        "$f-legacy" -t nat -N KUBE-POSTROUTING
        "$f-legacy" -t nat -A KUBE-POSTROUTING -j MASQUERADE
    done
    rules nft iptables 2
    bounds ARM "$ARM"
    bounds ARM64 "$ARM64"
    arm=$(head -n 1 /tmp/ARM.err)
    check "decision, arm against arm64" "$arm" "$(head -n 1 /tmp/ARM64.err)"
    # Both families decide by the counts of both.
    reason=$(echo "$arm" | grep -o 'legacy [0-9]* to [0-9]* rules > nft 2 rules' | head -n 1)
    check "arm first call's decision" "$arm" "iptables-wrapper: legacy ($reason)"
    least=$(echo "$reason" | awk '{print $2}')
    most=$(echo "$reason" | awk '{print $4}')
    # The exact count (detect reads every rule) lies within the bounds.
    detect_by "$ARM"
    kernel_sources
    exact=$(($(js '.probes[] | select(.mode=="legacy" and .family=="ipv4" and .table=="all") | .rules') + \
        $(js '.probes[] | select(.mode=="legacy" and .family=="ipv6" and .table=="all") | .rules')))
    check "legacy rules, exact" "$exact" 10
    check "bounds hold the exact count" "$([ "$least" -ge 1 ] && [ "$least" -le "$exact" ] && [ "$exact" -le "$most" ] && echo yes)" yes
    check "bounds are a range" "$([ "$least" -lt "$most" ] && echo yes)" yes
    check "names after the copies" "$(basename "$(readlink -f /usr/sbin/iptables)")" iptables-wrapper
}
