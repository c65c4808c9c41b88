#!/bin/bash
# Builds the images in images/ (and two test-only layouts) with podman and
# runs the first-call scenarios in them, the way a hostNetwork pod runs the
# wrapper. `make image-test` runs it as root after `make release` (for amd64
# and arm64), `make rootfs`, `make rootfs-arm64` and `make binfmt`.
#
# No registry can be reached, so every base image is made here:
# - each Debian suite in $SUITES is imported from the root file system that
#   `make rootfs` cached in $ROOTFS_CACHE (tar | podman import), and the last
#   suite's arm64 root from $IMAGE_ROOTFS_CACHE (`podman import --arch arm64`);
# - images/Dockerfile.debian is built on each suite, and
#   images/Dockerfile.distroless, tests/images/Dockerfile.alpine-layout and
#   tests/images/Dockerfile.fedora-layout (twice: merged /usr/sbin as on
#   Fedora 42+, and a separate /usr/sbin as on Fedora 41) on the last suite;
# - images/Dockerfile.debian and images/Dockerfile.distroless are built
#   again on the last suite for linux/arm64 (`--platform`), their RUN steps
#   running under qemu-user through binfmt_misc.
# Every image takes its binary from a release directory
# ($IPTABLES_WRAPPER_DIST, `make release`'s dist/) by TARGETARCH and checks
# it against its SHA256SUMS; a build from a release whose sum is wrong must
# fail (Debian, distroless, and the Alpine layout, whose sha256sum is
# busybox's). The test-only layouts put the wrapper in with the same lines as
# images/Dockerfile.alpine and images/Dockerfile.fedora, which cannot be
# built here (their base images cannot be fetched); that the lines are the
# same is checked first. The Debian image, the Alpine layout and the Fedora
# layout (merged /usr/sbin), built again with a layer per step as Docker
# builds, must each hold the binary in exactly one layer file, at its final
# path (the release is bind-mounted, never copied into a layer).
# The Debian and distroless images of the last suite are joined into one
# manifest list per image (`podman manifest`) and saved as an OCI archive,
# whose index must list linux/amd64 and linux/arm64, each manifest's config
# naming the same architecture.
#
# The arm64 images run under qemu-user, with --network none like every
# container here. They get what does not touch the kernel's netfilter:
# `iptables-wrapper --version`, `iptables-wrapper verify` (text and JSON),
# where the six names point (and update-alternatives' state on Debian), that
# the installed wrapper is the release's arm64 binary (ELF machine and
# SHA256SUMS) next to arm64 iptables, and that the distroless image has no
# shell. No first call, `detect` or iptables command runs there: qemu-user
# refuses socket(AF_NETLINK, NETLINK_NETFILTER) with EPROTONOSUPPORT (and the
# x_tables getsockopt with ENOPROTOOPT), so the wrapper would conclude that
# nf_tables is unusable and switch wrongly. The arm64 kernel paths are tested
# in an emulated arm64 machine instead.
# Builds run under `unshare --net` with chroot isolation, so their RUN steps
# see an empty network namespace and never the machine's rules (apt-get update
# fails there, harmlessly: the imported roots already hold iptables).
#
# Every container gets its own network namespace (--network none, so podman
# sets up no networking and touches no firewall on the machine), which stands
# in for the host's. In it, tests/images/scenario.sh puts kubelet's hint chain
# in one mode and junk rules in the other, makes the first call (iptables -L,
# ip6tables-save, or iptables-restore with rules on stdin) and checks that the
# six names now lead to the hinted mode and that iptables -V agrees. Each image
# also gets the split scenario: the IPv4 hint in legacy and the IPv6 hint in
# nft. Where the names can be switched per family (plain links, Debian's two
# alternatives groups) the iptables names must lead to legacy and the
# ip6tables names to nft; under Fedora's one `iptables` group all six lead to
# legacy and the first call warns (split-not-possible). Around the first call
# the scenario checks `iptables-wrapper verify` (after the install: not yet
# switched; after the first call: switched, in which mode; with a name broken
# on purpose: inconsistent, exit 1), `detect` and `detect --json` (each
# family's mode and the warnings), and which warnings the first call prints.
#
# The distroless image has no shell to run that script, and mounting one in
# would make it a different image. There the scenario is driven from outside:
# a holder container (the Debian base) owns the network namespace and sets up
# the rulesets; the distroless container joins it (--network container:) and
# runs only the first call, as its command; the links are read through
# `podman mount`, and the container's file system is committed so that
# `iptables -V` and `iptables-wrapper verify` (as the command, in exec form)
# run on exactly that state; verify also runs on the image as built. That it
# has no shell is shown by `podman run IMAGE /bin/sh` failing and by its file
# list.
#
# Images and containers are named with this run's id, and only those are
# removed at the end (also on failure or interrupt). Every podman command
# holds /tmp/iptables-wrapper-podman.lock while it runs, so that another run
# never builds or removes at the same time. The last line printed is
# "N passed, M failed"; the exit status is non-zero if anything failed. A
# failed check's output is shown; IMAGE_TEST_VERBOSE=1 shows every check's.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${ROOTFS_CACHE:-/var/cache/iptables-wrapper-tests/v2}
read -ra suites <<<"${SUITES:-bookworm trixie}"
# The release directory the user-facing images take their binary from, and
# where the arm64 root file system is cached (see the Makefile).
dist=${IPTABLES_WRAPPER_DIST:-$here/dist}
foreign_cache=${IMAGE_ROOTFS_CACHE:-/var/cache/iptables-wrapper-tests/images-v1}
scenario=$here/tests/images/scenario.sh
run_id="$$-$RANDOM"

lock=(flock /tmp/iptables-wrapper-podman.lock)
# Every podman command runs under the lock: bare `podman` calls through this
# function, the others (under timeout or unshare) through ${lock[@]} by hand.
podman() {
    "${lock[@]}" podman "$@"
}
podman=("${lock[@]}" podman --runtime runc --cgroup-manager=cgroupfs)
# Raising rlimits is not permitted here, so containers get lower ones.
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
run_opts=(--privileged --network none "${limits[@]}")

die() {
    echo "images: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (podman import/build/run, unshare)"
for tool in podman runc unshare tar flock jq od sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is not installed; run 'make deps'"
done
busybox=$(command -v busybox) || die "busybox is not installed; run 'make deps' (busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked; the Alpine-layout image needs busybox-static"
fi
[ "$(dpkg --print-architecture)" = amd64 ] || die "the image test builds amd64 and arm64 images on an amd64 machine"
for a in amd64 arm64; do
    [ -x "$dist/iptables-wrapper-linux-$a" ] || die "no $dist/iptables-wrapper-linux-$a; run 'make release' (RELEASE_ARCHES=\"amd64 arm64\" at least)"
done
[ -f "$dist/SHA256SUMS" ] || die "no $dist/SHA256SUMS; run 'make release'"
binfmt=/proc/sys/fs/binfmt_misc/qemu-aarch64
# F, so that it works in chroots; P, so that argv[0] reaches the multi
# binaries (see tests/release/binfmt.sh).
if ! grep -qx enabled "$binfmt" 2>/dev/null || ! grep -q '^flags: .*P' "$binfmt" || ! grep -q '^flags: .*F' "$binfmt"; then
    die "no enabled qemu-aarch64 binfmt_misc handler with the flags P and F ($binfmt); run 'make binfmt'"
fi
[ "${#suites[@]}" -ge 2 ] || die "SUITES must name at least two Debian suites (got: ${suites[*]:-none})"
for s in "${suites[@]}"; do
    [ -x "$cache/$s/usr/sbin/xtables-nft-multi" ] || die "no $s root file system in $cache; run 'make rootfs'"
done
layout_suite=${suites[${#suites[@]} - 1]}
arm64_root=$foreign_cache/$layout_suite-arm64
[ -x "$arm64_root/usr/sbin/xtables-nft-multi" ] || die "no $layout_suite arm64 root file system in $foreign_cache; run 'make rootfs-arm64'"

work=$(mktemp -d /tmp/iptables-wrapper-images.XXXXXX)
track=$work/created
: >"$track"
mkdir "$work/logs"

# Everything this run creates is written to $track first, and only that is
# removed: containers, then manifest lists, then images, newest first.
track() {
    echo "$1 $2" >>"$track"
}
cleaned=
cleanup() {
    [ -z "$cleaned" ] || return 0
    cleaned=yes
    local kind name
    if [ -f "$track" ]; then
        while read -r kind name; do
            [ "$kind" = container ] || continue
            podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
        done < <(tac "$track")
        while read -r kind name; do
            [ "$kind" = manifest ] || continue
            if podman manifest exists "$name" 2>/dev/null; then
                podman manifest rm "$name" >/dev/null 2>&1 || echo "images: warning: could not remove manifest list $name" >&2
            fi
        done < <(tac "$track")
        while read -r kind name; do
            [ "$kind" = image ] || continue
            if podman image exists "$name" 2>/dev/null; then
                podman rmi "$name" >/dev/null 2>&1 || echo "images: warning: could not remove image $name" >&2
            fi
        done < <(tac "$track")
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
# check NAME FUNCTION [ARGS...]: runs the function with errexit in a
# subshell, its output in a log that is shown when it fails.
check() {
    local name=$1 log
    shift
    log=$work/logs/$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_').log
    local start=$SECONDS rc=0
    set +e
    (
        set -e
        "$@"
    ) >"$log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS: $name ($((SECONDS - start))s)"
        if [ "${IMAGE_TEST_VERBOSE:-}" = 1 ]; then sed 's/^/    /' "$log"; fi
    else
        failed=$((failed + 1))
        echo "FAIL: $name (exit $rc)"
        tail -n 60 "$log" | sed 's/^/    /'
    fi
    return 0
}
# skip NAME WHY: a check that could not run counts as failed.
skip() {
    failed=$((failed + 1))
    echo "FAIL: $1 (not run: $2)"
}

# Build contexts. The user-facing one holds just what images/ expects at its
# root: the release's dist/. The test one holds the same dist/ and what the
# test-only Dockerfiles copy besides (busybox, the model of Fedora's
# alternatives); a third is the test one with a wrong sum for each
# architecture in SHA256SUMS, which must fail any build.
ctx=$work/context
test_ctx=$work/test-context
bad_ctx=$work/bad-sums-context
mkdir -p "$ctx/dist" "$test_ctx/dist" "$bad_ctx/dist"
cp -p "$dist/SHA256SUMS" "$dist"/iptables-wrapper-linux-* "$ctx/dist/"
cp -p "$dist/SHA256SUMS" "$dist"/iptables-wrapper-linux-* "$test_ctx/dist/"
cp -p "$dist"/iptables-wrapper-linux-* "$bad_ctx/dist/"
# Each sum with its first hex digit changed.
sed -E 's/^0/x/; s/^[1-9a-f]/0/; s/^x/1/' "$dist/SHA256SUMS" >"$bad_ctx/dist/SHA256SUMS"
for c in "$test_ctx" "$bad_ctx"; do
    cp "$busybox" "$c/busybox"
    install -m 0755 "$here/tests/images/fedora-alternatives.sh" "$c/fedora-alternatives.sh"
done

# same_install LAYOUT REAL: the test-only Dockerfile LAYOUT puts the wrapper
# in with exactly the lines of images/REAL, from `ARG TARGETARCH` to the
# `iptables-wrapper install` that ends them, so that building LAYOUT tests
# them.
same_install() {
    local range='/^ARG TARGETARCH$/,/iptables-wrapper install$/p' want got
    want=$(sed -n "$range" "$here/images/$2")
    got=$(sed -n "$range" "$here/tests/images/$1")
    printf '%s\n' "$got"
    [ -n "$want" ] || { echo "images/$2 has no lines from ARG TARGETARCH to iptables-wrapper install"; return 1; }
    if [ "$got" != "$want" ]; then
        echo "tests/images/$1 puts the wrapper in otherwise than images/$2 (diff images/$2 tests/images/$1):"
        diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") || true
        return 1
    fi
}
check "tests/images/Dockerfile.alpine-layout puts the wrapper in as images/Dockerfile.alpine does" \
    same_install Dockerfile.alpine-layout Dockerfile.alpine
check "tests/images/Dockerfile.fedora-layout puts the wrapper in as images/Dockerfile.fedora does" \
    same_install Dockerfile.fedora-layout Dockerfile.fedora

echo "images: $(podman --version), run $run_id, suites: ${suites[*]} (layouts on $layout_suite)"

base_image() { # SUITE [ARCH]
    echo "localhost/ipw-test-base-$1${2:+-$2}:$run_id"
}
# image_arch IMAGE ARCH: podman's metadata says linux/ARCH.
image_arch() {
    local got
    got=$(podman image inspect -f '{{.Os}}/{{.Architecture}}' "$1")
    echo "$1: $got"
    [ "$got" = "linux/$2" ] || { echo "expected linux/$2"; return 1; }
}
import_base() { # SUITE [ARCH]
    local image root=$cache/$1
    image=$(base_image "$1" "${2:-}")
    [ -z "${2:-}" ] || root=$foreign_cache/$1-$2
    track image "$image"
    tar -C "$root" -c . | podman import -q --os linux --arch "${2:-amd64}" - "$image"
    image_arch "$image" "${2:-amd64}"
}

built=()
build() { # NAME DOCKERFILE CONTEXT [BUILD ARGS...]
    local name=$1 file=$2 context=$3
    shift 3
    local image=localhost/ipw-test-$name:$run_id
    track image "$image"
    "${lock[@]}" unshare --net podman build --isolation=chroot --pull=never --layers=false --force-rm \
        "$@" -f "$file" -t "$image" "$context"
}
is_built() {
    local b
    for b in "${built[@]}"; do [ "$b" = "$1" ] && return 0; done
    return 1
}
build_check() { # NAME DOCKERFILE CONTEXT [BUILD ARGS...]
    local before=$failed
    check "build $1 ($(basename "$2"))" build "$@"
    [ "$failed" -ne "$before" ] || built+=("$1")
}

# The scenario inside a container of an image that has a shell.
scenario_in() { # NAME MODE FIRST [GROUPS]
    local name=ipw-test-$run_id-$1-$2-$3
    track container "$name"
    timeout 180 "${podman[@]}" run --rm --name "$name" "${run_opts[@]}" \
        -e IPTABLES_WRAPPER_DEBUG=1 -v "$scenario:/ipw-scenario.sh:ro" \
        "localhost/ipw-test-$1:$run_id" /bin/sh /ipw-scenario.sh "$2" "$3" ${4:+"$4"}
}

first_calls=(iptables ip6tables-save iptables-restore)
describe_first() {
    case $1 in
    iptables) echo "iptables -L" ;;
    ip6tables-save) echo "ip6tables-save" ;;
    iptables-restore) echo "iptables-restore <rules" ;;
    esac
}
describe_mode() {
    case $1 in
    split) echo "IPv4 hint in legacy, IPv6 hint in nft" ;;
    *) echo "hint in $1" ;;
    esac
}
scenarios() { # NAME GROUPS (per-family, or one-group: see scenario.sh)
    local mode first label
    for mode in legacy nft split; do
        for first in "${first_calls[@]}"; do
            label="$1: $(describe_mode "$mode"), first call $(describe_first "$first")"
            if is_built "$1"; then
                check "$label" scenario_in "$1" "$mode" "$first" "$2"
            else
                skip "$label" "image not built"
            fi
        done
    done
}

# How the install left each layout, before any first call.
in_image() { # NAME SCRIPT
    timeout 120 "${podman[@]}" run --rm "${run_opts[@]}" "localhost/ipw-test-$1:$run_id" /bin/sh -c "$2"
}
debian_layout() { # NAME
    # shellcheck disable=SC2016 # expanded in the container
    in_image "$1" '
        set -e
        for g in iptables ip6tables; do
            update-alternatives --query "$g" >"/tmp/$g.query"
            cat "/tmp/$g.query"
            grep -qx "Value: /usr/sbin/iptables-wrapper" "/tmp/$g.query"
            grep -qx "Status: auto" "/tmp/$g.query"
            grep -qx "Best: /usr/sbin/iptables-wrapper" "/tmp/$g.query"
        done
        test "$(readlink /usr/sbin/iptables)" = /etc/alternatives/iptables
        for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
            echo "/usr/sbin/$n -> $(readlink "/usr/sbin/$n") -> $(readlink -f "/usr/sbin/$n")"
            test "$(readlink -f "/usr/sbin/$n")" = /usr/sbin/iptables-wrapper
        done'
}
alpine_layout() { # NAME
    # shellcheck disable=SC2016 # expanded in the container
    in_image "$1" '
        set -e
        test "$(readlink /bin/sh)" = /bin/busybox
        # The sha256sum the build ran: the shell runs applets first.
        sha256sum --help 2>&1 | grep -q "^BusyBox v"
        if command -v update-alternatives || command -v alternatives; then exit 1; fi
        test ! -e /etc/alternatives
        for n in iptables ip6tables; do
            test "$(readlink "/sbin/$n")" = iptables-wrapper
            test "$(readlink "/sbin/$n-save")" = "$n"
            test "$(readlink "/sbin/$n-restore")" = "$n"
        done
        test "$(readlink /sbin/iptables-legacy)" = xtables-legacy-multi
        test ! -L /sbin/iptables-wrapper
        test -x /sbin/iptables-wrapper
        test ! -e /usr/sbin/iptables-wrapper'
}
fedora_layout() { # NAME SBINDIR
    # shellcheck disable=SC2016 # expanded in the container
    in_image "$1" '
        set -e
        sbindir='"$2"'
        if command -v update-alternatives; then exit 1; fi
        test ! -e /var/lib/dpkg/alternatives/iptables
        if [ "$sbindir" = /usr/bin ]; then test "$(readlink /usr/sbin)" = bin; else test ! -L /usr/sbin; fi
        alternatives --display iptables >/tmp/display
        cat /tmp/display
        grep -qx "iptables - status is auto." /tmp/display
        grep -qx "$sbindir/iptables-wrapper - priority 100" /tmp/display
        test "$(readlink /etc/alternatives/iptables)" = "$sbindir/iptables-wrapper"
        test ! -L "$sbindir/iptables-wrapper"
        test -x "$sbindir/iptables-wrapper"
        for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
            test "$(readlink "$sbindir/$n")" = "/etc/alternatives/$n"
            test "$(readlink -f "$sbindir/$n")" = "$sbindir/iptables-wrapper"
        done'
}

# The distroless image, driven from outside (see the top of this file).
dl_names="iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore"
dl_links() { # CONTAINER WANT4 WANT6: iptables in /usr/sbin links to WANT4, ip6tables to WANT6, and each family's other names to its head (iptables-save -> iptables)
    local mnt n t want rc=0
    mnt=$(podman mount "$1")
    for n in $dl_names; do
        case $n in
        ip6tables) want=$3 ;;
        iptables) want=$2 ;;
        ip6*) want=ip6tables ;;
        *) want=iptables ;;
        esac
        t=$(readlink "$mnt/usr/sbin/$n" || true)
        if [ "$t" != "$want" ]; then
            echo "/usr/sbin/$n -> ${t:-(not a link)}, expected $want"
            rc=1
        fi
    done
    podman unmount "$1" >/dev/null
    if [ "$rc" -eq 0 ]; then
        if [ "$2" = "$3" ]; then
            echo "iptables and ip6tables in /usr/sbin link to $2, the other names to them"
        else
            echo "iptables in /usr/sbin links to $2, ip6tables to $3, the other names to them"
        fi
    fi
    return "$rc"
}
# dl_verify IMAGE FIRST-LINE [JSON PATTERN]...: the image's own
# `/usr/sbin/iptables-wrapper verify`, run as its command in exec form (there
# is no shell), exits 0 and prints FIRST-LINE first (or FIRST-LINE and the
# record's " (by ...)"); `verify --json` exits 0 and its output, blanks taken
# out, contains each pattern.
dl_verify() {
    local image=$1 want=$2 out rc line json p
    shift 2
    rc=0
    out=$(timeout 120 "${podman[@]}" run --rm "${run_opts[@]}" "$image" /usr/sbin/iptables-wrapper verify) || rc=$?
    echo "verify (exit $rc):"
    printf '%s\n' "$out"
    [ "$rc" -eq 0 ] || { echo "iptables-wrapper verify exited $rc, expected 0"; return 1; }
    line=$(printf '%s\n' "$out" | head -n 1)
    [[ $line == "$want" || $line == "$want (by "* ]] || { echo "iptables-wrapper verify printed '$line' first, expected '$want'"; return 1; }
    rc=0
    out=$(timeout 120 "${podman[@]}" run --rm "${run_opts[@]}" "$image" /usr/sbin/iptables-wrapper verify --json) || rc=$?
    echo "verify --json (exit $rc):"
    printf '%s\n' "$out"
    [ "$rc" -eq 0 ] || { echo "iptables-wrapper verify --json exited $rc, expected 0"; return 1; }
    json=$(printf '%s' "$out" | tr -d ' \t\n')
    for p in "$@"; do
        [[ $json == *"$p"* ]] || { echo "iptables-wrapper verify --json has no $p"; return 1; }
    done
}
verify_installed() { # NAME
    dl_verify "localhost/ipw-test-$1:$run_id" "not yet switched: the six names lead to iptables-wrapper" \
        '"consistent":true' '"state":"not-switched"' '"ipv4":"wrapper"' '"ipv6":"wrapper"'
}
# The commands that put two junk rules in COMMAND's filter table.
dl_junk() { # COMMAND
    echo "$1 -t filter -N BAD-1; $1 -t filter -A BAD-1 -j ACCEPT; $1 -t filter -N BAD-2; $1 -t filter -A BAD-2 -j DROP"
}
# dl_holder NAME SETUP: starts the container that owns the network
# namespace, the stand-in for the host's, and runs the shell commands SETUP
# in it.
dl_holder() {
    track container "$1"
    "${podman[@]}" run -d --name "$1" "${run_opts[@]}" "$(base_image "$layout_suite")" sleep infinity >/dev/null
    "${podman[@]}" exec "$1" /bin/sh -ec "$2"
}
# dl_start CONTAINER OUT ERR [LINE...]: starts the created CONTAINER
# attached, with the LINEs on its stdin when given, its stdout in OUT and
# its stderr in ERR; shows both and sets dl_status to its exit status.
dl_start() {
    local c=$1 out=$2 err=$3
    shift 3
    if [ "$#" -gt 0 ]; then
        printf '%s\n' "$@" | timeout 120 "${podman[@]}" start -a -i "$c" >"$out" 2>"$err" || true
    else
        timeout 120 "${podman[@]}" start -a "$c" >"$out" 2>"$err" || true
    fi
    dl_status=$(podman inspect -f '{{.State.ExitCode}}' "$c")
    cat "$out"
    echo "stderr:"
    cat "$err"
}
# dl_remove CONTAINER IMAGE HOLDER: what a scenario made.
dl_remove() {
    podman rm -f -t 0 "$1" >/dev/null
    podman rmi "$2" >/dev/null
    podman rm -f -t 0 "$3" >/dev/null
}
distroless_scenario() { # MODE FIRST
    local mode=$1 first=$2 m4 m6 fam fm setup
    fam=iptables
    [ "$first" != ip6tables-save ] || fam=ip6tables
    case $mode in
    legacy)
        m4=legacy m6=legacy
        setup="$fam-legacy -t mangle -N KUBE-IPTABLES-HINT; $(dl_junk "$fam-nft")"
        ;;
    nft)
        m4=nft m6=nft
        setup="$fam-nft -t mangle -N KUBE-IPTABLES-HINT; $(dl_junk "$fam-legacy")"
        ;;
    split)
        m4=legacy m6=nft
        setup="iptables-legacy -t mangle -N KUBE-IPTABLES-HINT; $(dl_junk iptables-nft)
            ip6tables-nft -t mangle -N KUBE-IPTABLES-HINT; $(dl_junk ip6tables-legacy)"
        ;;
    esac
    # The mode the first call must run: its family's, which holds the hint.
    if [ "$fam" = iptables ]; then fm=$m4; else fm=$m6; fi
    local wrong=nft
    [ "$fm" = nft ] && wrong=legacy
    local holder=ipw-test-$run_id-holder-$mode-$first dl=ipw-test-$run_id-distroless-$mode-$first
    local after=localhost/ipw-test-distroless-after-$mode-$first:$run_id
    # The holder first: cleanup removes in reverse order, and podman
    # refuses to remove a container whose network another one shares.
    dl_holder "$holder" "$setup"
    track container "$dl"
    track image "$after"
    echo "set up: $setup"

    local cmd=("$first") interactive=()
    case $first in
    iptables) cmd=(iptables -L -n) ;;
    iptables-restore) cmd=(iptables-restore --noflush) interactive=(-i) ;;
    esac
    "${podman[@]}" create --name "$dl" --privileged --network "container:$holder" "${limits[@]}" \
        "${interactive[@]}" -e IPTABLES_WRAPPER_DEBUG=1 "localhost/ipw-test-distroless:$run_id" "${cmd[@]}" >/dev/null
    dl_links "$dl" iptables-wrapper iptables-wrapper

    local out=$work/logs/distroless-$mode-$first.out err=$work/logs/distroless-$mode-$first.err
    if [ "$first" = iptables-restore ]; then
        dl_start "$dl" "$out" "$err" '*filter' ':WRAPPER-TEST - [0:0]' '-A WRAPPER-TEST -j RETURN' 'COMMIT'
    else
        dl_start "$dl" "$out" "$err"
    fi
    [ "$dl_status" = 0 ] || { echo "the first call, ${cmd[*]}, exited $dl_status"; return 1; }
    case $first in
    iptables)
        if grep -q BAD-1 "$out"; then echo "iptables -L listed the $wrong ruleset"; return 1; fi
        ;;
    ip6tables-save)
        grep -q KUBE-IPTABLES-HINT "$out" || { echo "ip6tables-save did not print the $fm ruleset"; return 1; }
        if grep -q BAD-1 "$out"; then echo "ip6tables-save printed the $wrong ruleset"; return 1; fi
        ;;
    iptables-restore)
        "${podman[@]}" exec "$holder" "iptables-$fm-save" -t filter | grep -q -- '-A WRAPPER-TEST -j RETURN' ||
            { echo "the rules given on stdin are not in the $fm ruleset"; return 1; }
        if "${podman[@]}" exec "$holder" "iptables-$wrong-save" -t filter | grep -q WRAPPER-TEST; then
            echo "iptables-restore wrote to the $wrong ruleset"
            return 1
        fi
        ;;
    esac
    # With a hint, a first call has no warning to give (plain links can split).
    if grep '^iptables-wrapper: warning: ' "$err"; then
        echo "the first call printed the warnings above; expected none"
        return 1
    fi
    echo "first call: ${cmd[*]}"
    dl_links "$dl" "xtables-$m4-multi" "xtables-$m6-multi"

    # Later calls run on the file system the first call left.
    podman commit -q "$dl" "$after" >/dev/null
    local n v want
    for n in iptables ip6tables; do
        want='(legacy)'
        if [ "$n" = iptables ] && [ "$m4" = nft ]; then want='(nf_tables)'; fi
        if [ "$n" = ip6tables ] && [ "$m6" = nft ]; then want='(nf_tables)'; fi
        v=$(timeout 120 "${podman[@]}" run --rm --privileged --network "container:$holder" "${limits[@]}" "$after" "$n" -V)
        case $v in
        *"$want"*) echo "$n -V: $v" ;;
        *) echo "$n -V says $v, expected $want"; return 1 ;;
        esac
    done
    if [ "$m4" = "$m6" ]; then
        dl_verify "$after" "switched: $m4" '"consistent":true' '"state":"switched"' "\"mode\":\"$m4\"" '"status":"current"'
    else
        dl_verify "$after" "switched: IPv4 $m4, IPv6 $m6" '"consistent":true' '"state":"switched"' '"mode":"split"' '"status":"current"' \
            "\"ipv4\":\"$m4\"" "\"ipv6\":\"$m6\""
    fi
    dl_remove "$dl" "$after" "$holder"
}
distroless_has_no_shell() { # NAME
    local image=localhost/ipw-test-$1:$run_id probe=ipw-test-$run_id-$1-files rc=0
    if "${podman[@]}" run --rm "${run_opts[@]}" "$image" /bin/sh -c true 2>"$work/logs/sh.err"; then
        echo "podman run $image /bin/sh succeeded"
        return 1
    fi
    cat "$work/logs/sh.err"
    grep -q 'no such file or directory' "$work/logs/sh.err" || { echo "/bin/sh failed for another reason"; return 1; }
    track container "$probe"
    podman create --name "$probe" "$image" /usr/sbin/iptables-wrapper --version >/dev/null
    podman export "$probe" | tar -t >"$work/logs/$1.files"
    podman rm -f -t 0 "$probe" >/dev/null
    echo "$(wc -l <"$work/logs/$1.files") entries in the image's file system"
    if grep -E '(^|/)(s?bin)/(sh|bash|dash|ash|busybox|apt|apt-get|dpkg|apk|dnf)$' "$work/logs/$1.files"; then
        echo "the distroless image has a shell or a package manager (listed above)"
        rc=1
    fi
    grep -qx 'usr/sbin/iptables-wrapper' "$work/logs/$1.files" || { echo "no usr/sbin/iptables-wrapper"; rc=1; }
    return "$rc"
}
# `switch -- COMMAND` as a distroless ENTRYPOINT runs it (exec form, no
# shell): it switches the names to the hinted mode at container start, prints
# its decision on stderr, writes the record, then becomes COMMAND (here
# iptables-restore, with rules on stdin) with its stdin and exit status.
distroless_switch() { # MODE
    local mode=$1
    local holder=ipw-test-$run_id-holder-switch-$mode dl=ipw-test-$run_id-distroless-switch-$mode
    local after=localhost/ipw-test-distroless-switch-after-$mode:$run_id
    local out=$work/logs/distroless-switch-$mode.out err=$work/logs/distroless-switch-$mode.err
    local wrong=nft
    [ "$mode" = nft ] && wrong=legacy
    dl_holder "$holder" "iptables-$mode -t mangle -N KUBE-IPTABLES-HINT; $(dl_junk "iptables-$wrong")"
    track container "$dl"
    track image "$after"
    "${podman[@]}" create --name "$dl" --privileged --network "container:$holder" "${limits[@]}" -i \
        --entrypoint '["/usr/sbin/iptables-wrapper", "switch", "--"]' \
        "localhost/ipw-test-distroless:$run_id" iptables-restore --noflush >/dev/null
    dl_links "$dl" iptables-wrapper iptables-wrapper
    dl_start "$dl" "$out" "$err" '*filter' ':SWITCH-TEST - [0:0]' '-A SWITCH-TEST -j RETURN' 'COMMIT'
    [ "$dl_status" = 0 ] || { echo "switch -- iptables-restore exited $dl_status"; return 1; }
    grep -q "^iptables-wrapper: $mode (" "$err" || { echo "switch did not print its decision ($mode) on stderr"; return 1; }
    [ ! -s "$out" ] || { echo "switch printed on stdout, which belongs to the command"; return 1; }
    "${podman[@]}" exec "$holder" "iptables-$mode-save" -t filter | grep -q -- '-A SWITCH-TEST -j RETURN' ||
        { echo "the rules given on stdin are not in the $mode ruleset"; return 1; }
    dl_links "$dl" "xtables-$mode-multi" "xtables-$mode-multi"
    podman commit -q "$dl" "$after" >/dev/null
    # The committed image keeps the ENTRYPOINT: verify runs as switch's
    # COMMAND, after switch's "already switched" note on stderr.
    dl_verify "$after" "switched: $mode" '"consistent":true' '"state":"switched"' "\"mode\":\"$mode\"" \
        '"status":"current"' '"trigger":"switch"'
    dl_remove "$dl" "$after" "$holder"
}
distroless_scenarios() {
    local mode first label
    for mode in legacy nft split; do
        for first in "${first_calls[@]}"; do
            label="distroless: $(describe_mode "$mode"), first call $(describe_first "$first")"
            if is_built distroless; then
                check "$label" distroless_scenario "$mode" "$first"
            else
                skip "$label" "image not built"
            fi
        done
    done
}

# What the release's SHA256SUMS says for ARCH's binary.
release_sum() { # ARCH
    awk -v f="iptables-wrapper-linux-$1" '$2 == f || $2 == "*" f { print $1 }' "$dist/SHA256SUMS"
}
# The ELF machine field (e_machine, bytes 18-19, little-endian) of a file.
elf_machine() {
    od -An -tx1 -j18 -N2 "$1" | tr -d ' \n'
}
# installed_binary NAME ARCH [DIR]: the image's DIR/iptables-wrapper
# (/usr/sbin by default) is the release's binary for ARCH (same SHA-256 as
# SHA256SUMS gives) and the iptables beside it is built for ARCH too. Read
# from outside through `podman mount` of a container that is created but
# never started.
installed_binary() {
    local name=$1 arch=$2 dir=${3:-usr/sbin} probe=ipw-test-$run_id-$1-binary mnt want machine f got rc=0
    case $arch in
    amd64) machine=3e00 ;;
    arm64) machine=b700 ;;
    esac
    want=$(release_sum "$arch")
    [ -n "$want" ] || { echo "$dist/SHA256SUMS has no line for iptables-wrapper-linux-$arch"; return 1; }
    track container "$probe"
    podman create --name "$probe" "localhost/ipw-test-$name:$run_id" "/$dir/iptables-wrapper" --version >/dev/null
    mnt=$(podman mount "$probe")
    got=$(sha256sum <"$mnt/$dir/iptables-wrapper" | cut -d' ' -f1)
    echo "/$dir/iptables-wrapper: sha256 $got"
    if [ "$got" != "$want" ]; then
        echo "expected $want, the sum of iptables-wrapper-linux-$arch in $dist/SHA256SUMS"
        rc=1
    fi
    for f in "$dir/iptables-wrapper" "$dir/xtables-nft-multi" "$dir/xtables-legacy-multi"; do
        got=$(elf_machine "$mnt/$f")
        echo "/$f: ELF machine $got"
        [ "$got" = "$machine" ] || { echo "expected $machine ($arch)"; rc=1; }
    done
    podman unmount "$probe" >/dev/null
    podman rm -f -t 0 "$probe" >/dev/null
    return "$rc"
}
# runs_emulated NAME: the image's binaries run as aarch64, under qemu-user
# (the machine is x86_64), and `iptables-wrapper --version` works there. No
# first call: see the top of this file.
runs_emulated() {
    local image=localhost/ipw-test-$1:$run_id out
    image_arch "$image" arm64
    out=$(timeout 120 "${podman[@]}" run --rm "${run_opts[@]}" "$image" /usr/sbin/iptables-wrapper --version)
    echo "iptables-wrapper --version: $out"
    # A release names its target: `iptables-wrapper 0.1.0
    # (aarch64-unknown-linux-musl, commit ...)`.
    case $out in
    "iptables-wrapper "*" (aarch64-"*) ;;
    "iptables-wrapper "*" ("*) echo "--version names another target than aarch64"; return 1 ;;
    "iptables-wrapper "*) echo "(this build's --version names no target)" ;;
    *) echo "expected a line starting 'iptables-wrapper '"; return 1 ;;
    esac
}
# uname_aarch64 NAME: in an image with a shell, `uname -m` says aarch64.
uname_aarch64() {
    local out
    out=$(in_image "$1" 'uname -m')
    echo "uname -m: $out"
    [ "$out" = aarch64 ] || { echo "expected aarch64"; return 1; }
}
# distroless_installed NAME: the six names in /usr/sbin lead to the wrapper.
distroless_installed() {
    local probe=ipw-test-$run_id-$1-links
    track container "$probe"
    podman create --name "$probe" "localhost/ipw-test-$1:$run_id" /usr/sbin/iptables-wrapper --version >/dev/null
    dl_links "$probe" iptables-wrapper iptables-wrapper
    podman rm -f -t 0 "$probe" >/dev/null
}
# bad_sums NAME DOCKERFILE [BUILD ARGS...]: a build from a release whose
# SHA256SUMS does not match the binary fails, and sha256sum (coreutils' or
# busybox's) says why.
bad_sums() {
    local name=$1 file=$2 rc=0
    shift 2
    build "$name" "$file" "$bad_ctx" "$@" >"$work/logs/$name.build" 2>&1 || rc=$?
    tail -n 20 "$work/logs/$name.build"
    [ "$rc" -ne 0 ] || { echo "the build succeeded with a wrong sum in SHA256SUMS"; return 1; }
    grep -q 'iptables-wrapper-linux-amd64: FAILED' "$work/logs/$name.build" ||
        { echo "the build failed, but not at the checksum (no 'iptables-wrapper-linux-amd64: FAILED')"; return 1; }
}

# one_copy NAME DOCKERFILE CONTEXT PATH [BUILD ARGS...]: built with a layer
# per step, as Docker builds, the image's layers hold the wrapper binary
# exactly once, at PATH (as a layer spells it, e.g. usr/sbin/iptables-wrapper):
# the release is bind-mounted, never copied into a layer that a later step
# deletes from (podman's --layers=false, used for the other builds, would
# squash such a copy away and hide it).
one_copy() {
    local name=$1 file=$2 context=$3 want=$4 archive=$work/$1.oci.tar x=$work/$1.oci blob copies
    shift 4
    # With a layer per step, podman keeps each earlier stage of a multi-stage
    # build (the Alpine layout's `iptables` stage) as an untagged image,
    # which removing the tagged one leaves behind: the untagged images that
    # appear with this build are tracked as this run's, to be removed too.
    local before id
    before=$(podman images -q --no-trunc --filter dangling=true | sort)
    build "$name" "$file" "$context" "$@" --layers=true
    while read -r id; do
        [ -z "$id" ] || track image "$id"
    done < <(comm -13 <(echo "$before") <(podman images -q --no-trunc --filter dangling=true | sort))
    podman save -q --format oci-archive -o "$archive" "localhost/ipw-test-$name:$run_id"
    mkdir "$x"
    tar -C "$x" -xf "$archive"
    : >"$work/$name.copies"
    for blob in "$x"/blobs/sha256/*; do
        # Layers are tars (compressed or not); the JSON blobs are not.
        tar -tvf "$blob" 2>/dev/null | awk '/^-/ && $NF ~ /(^|\/)iptables-wrapper(-linux-[a-z0-9]+)?$/ { print $NF }' \
            >>"$work/$name.copies" || true
    done
    copies=$(sort "$work/$name.copies" | tr '\n' ' ')
    echo "wrapper binaries in the layers: ${copies:-none}"
    [ "$copies" = "$want " ] || { echo "expected exactly $want"; return 1; }
}

# manifest NAME AMD64-NAME ARM64-NAME: one manifest list holding both images,
# pushed with its images to an OCI archive; the archive's index lists exactly
# linux/amd64 and linux/arm64, and each platform's image config names that
# architecture.
manifest() {
    local list=localhost/ipw-test-$1-multi:$run_id archive=$work/$1.oci.tar x=$work/$1.oci
    track manifest "$list"
    podman manifest create "$list" >/dev/null
    podman manifest add "$list" "containers-storage:localhost/ipw-test-$2:$run_id" >/dev/null
    podman manifest add "$list" "containers-storage:localhost/ipw-test-$3:$run_id" >/dev/null
    podman manifest push --all -q "$list" "oci-archive:$archive"
    echo "$archive: $(stat -c %s "$archive") bytes"
    mkdir "$x"
    tar -C "$x" -xf "$archive"
    blob() { echo "$x/blobs/${1%%:*}/${1#*:}"; }
    jq . "$x/index.json"
    # index.json points at the image index that `manifest push` wrote.
    local top digest platforms p cfg arch
    top=$(jq -r '.manifests | if length == 1 then .[0].digest else error("expected one entry in index.json") end' "$x/index.json")
    jq . "$(blob "$top")"
    jq -e '.mediaType == "application/vnd.oci.image.index.v1+json" or .mediaType == "application/vnd.docker.distribution.manifest.list.v2+json"' \
        "$(blob "$top")" >/dev/null || { echo "index.json does not point at a manifest list"; return 1; }
    platforms=$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | sort | join(" ")' "$(blob "$top")")
    echo "platforms: $platforms"
    [ "$platforms" = "linux/amd64 linux/arm64" ] || { echo "expected linux/amd64 linux/arm64"; return 1; }
    for p in amd64 arm64; do
        digest=$(jq -r --arg a "$p" '.manifests[] | select(.platform.architecture == $a) | .digest' "$(blob "$top")")
        cfg=$(jq -r .config.digest "$(blob "$digest")")
        arch=$(jq -r '.os + "/" + .architecture' "$(blob "$cfg")")
        echo "linux/$p: manifest $digest, config $cfg says $arch"
        [ "$arch" = "linux/$p" ] || { echo "expected linux/$p"; return 1; }
    done
    podman manifest rm "$list" >/dev/null
}

start=$SECONDS

for s in "${suites[@]}"; do
    check "import the $s root file system as $(base_image "$s")" import_base "$s"
done
check "import the $layout_suite arm64 root file system as $(base_image "$layout_suite" arm64)" \
    import_base "$layout_suite" arm64

amd64=(--platform linux/amd64)
for s in "${suites[@]}"; do
    build_check "debian-$s" "$here/images/Dockerfile.debian" "$ctx" "${amd64[@]}" --build-arg "BASE=$(base_image "$s")"
done
layout_base=(--build-arg "BASE=$(base_image "$layout_suite")")
build_check distroless "$here/images/Dockerfile.distroless" "$ctx" "${amd64[@]}" "${layout_base[@]}"
arm64_base=(--platform linux/arm64 --build-arg "BASE=$(base_image "$layout_suite" arm64)")
build_check "debian-$layout_suite-arm64" "$here/images/Dockerfile.debian" "$ctx" "${arm64_base[@]}"
build_check distroless-arm64 "$here/images/Dockerfile.distroless" "$ctx" "${arm64_base[@]}"
check "Dockerfile.debian refuses a binary whose sum is wrong in SHA256SUMS" \
    bad_sums debian-bad-sums "$here/images/Dockerfile.debian" "${amd64[@]}" "${layout_base[@]}"
check "Dockerfile.debian, built with a layer per step, holds the binary once" \
    one_copy debian-layers "$here/images/Dockerfile.debian" "$ctx" usr/sbin/iptables-wrapper \
    "${amd64[@]}" "${layout_base[@]}"
check "Dockerfile.distroless refuses a binary whose sum is wrong in SHA256SUMS" \
    bad_sums distroless-bad-sums "$here/images/Dockerfile.distroless" "${amd64[@]}" "${layout_base[@]}"
alpine_file=$here/tests/images/Dockerfile.alpine-layout
fedora_file=$here/tests/images/Dockerfile.fedora-layout
build_check alpine-layout "$alpine_file" "$test_ctx" "${amd64[@]}" "${layout_base[@]}"
build_check fedora-layout "$fedora_file" "$test_ctx" "${amd64[@]}" "${layout_base[@]}"
build_check fedora41-layout "$fedora_file" "$test_ctx" "${amd64[@]}" "${layout_base[@]}" \
    --build-arg SBINDIR=/usr/sbin
check "Dockerfile.alpine-layout refuses a binary whose sum is wrong in SHA256SUMS (busybox sha256sum)" \
    bad_sums alpine-bad-sums "$alpine_file" "${amd64[@]}" "${layout_base[@]}"
check "Dockerfile.alpine-layout, built with a layer per step, holds the binary once" \
    one_copy alpine-layers "$alpine_file" "$test_ctx" sbin/iptables-wrapper "${amd64[@]}" "${layout_base[@]}"
# With /usr/sbin a link to bin, the file installed as /usr/sbin/iptables-wrapper
# is usr/bin/iptables-wrapper in the layer.
check "Dockerfile.fedora-layout, built with a layer per step, holds the binary once" \
    one_copy fedora-layers "$fedora_file" "$test_ctx" usr/bin/iptables-wrapper "${amd64[@]}" "${layout_base[@]}"

for s in "${suites[@]}"; do
    if is_built "debian-$s"; then
        check "debian-$s: wrapper registered with update-alternatives" debian_layout "debian-$s"
        check "debian-$s: the release's amd64 binary, next to amd64 iptables" installed_binary "debian-$s" amd64
    else
        skip "debian-$s: wrapper registered with update-alternatives" "image not built"
    fi
    scenarios "debian-$s" per-family
done

if is_built distroless; then
    check "distroless: no shell or package manager in the image" distroless_has_no_shell distroless
    check "distroless: verify after install (exec form)" verify_installed distroless
    check "distroless: the release's amd64 binary, next to amd64 iptables" installed_binary distroless amd64
else
    skip "distroless: no shell or package manager in the image" "image not built"
    skip "distroless: verify after install (exec form)" "image not built"
fi
distroless_scenarios
for mode in legacy nft; do
    label="distroless: switch -- iptables-restore as the entrypoint, $(describe_mode "$mode")"
    if is_built distroless; then
        check "$label" distroless_switch "$mode"
    else
        skip "$label" "image not built"
    fi
done

if is_built alpine-layout; then
    check "alpine-layout: busybox /bin/sh, names in /sbin linked to the wrapper, no alternatives tool" alpine_layout alpine-layout
    check "alpine-layout: the release's amd64 binary in /sbin, next to amd64 iptables" \
        installed_binary alpine-layout amd64 sbin
else
    skip "alpine-layout: layout" "image not built"
fi
scenarios alpine-layout per-family

for f in fedora-layout:/usr/bin fedora41-layout:/usr/sbin; do
    name=${f%%:*}
    if is_built "$name"; then
        check "$name: wrapper registered with alternatives (model) in ${f#*:}" fedora_layout "$name" "${f#*:}"
        check "$name: the release's amd64 binary as /usr/sbin/iptables-wrapper, next to amd64 iptables" \
            installed_binary "$name" amd64 usr/sbin
    else
        skip "$name: layout" "image not built"
    fi
    scenarios "$name" one-group
done

# The arm64 images, under qemu-user: no first call, no detect (see the top).
arm64_checks() { # NAME LABEL FUNCTION [ARGS...]
    local name=$1 label=$2
    shift 2
    if is_built "$name"; then
        check "$name (qemu-user): $label" "$@"
    else
        skip "$name (qemu-user): $label" "image not built"
    fi
}
debian_arm64=debian-$layout_suite-arm64
arm64_checks "$debian_arm64" "arm64 image, runs as aarch64, --version" runs_emulated "$debian_arm64"
arm64_checks "$debian_arm64" "uname -m says aarch64" uname_aarch64 "$debian_arm64"
arm64_checks "$debian_arm64" "wrapper registered with update-alternatives" debian_layout "$debian_arm64"
arm64_checks "$debian_arm64" "the release's arm64 binary, next to arm64 iptables" installed_binary "$debian_arm64" arm64
arm64_checks "$debian_arm64" "verify after install" verify_installed "$debian_arm64"
arm64_checks distroless-arm64 "arm64 image, runs as aarch64, --version" runs_emulated distroless-arm64
arm64_checks distroless-arm64 "no shell or package manager in the image" distroless_has_no_shell distroless-arm64
arm64_checks distroless-arm64 "the six names in /usr/sbin lead to the wrapper" distroless_installed distroless-arm64
arm64_checks distroless-arm64 "the release's arm64 binary, next to arm64 iptables" installed_binary distroless-arm64 arm64
arm64_checks distroless-arm64 "verify after install (exec form)" verify_installed distroless-arm64

for pair in "debian:debian-$layout_suite:$debian_arm64" distroless:distroless:distroless-arm64; do
    IFS=: read -r list a b <<<"$pair"
    label="$list: one manifest list for linux/amd64 and linux/arm64, saved as an OCI archive"
    if is_built "$a" && is_built "$b"; then
        check "$label" manifest "$list" "$a" "$b"
    else
        skip "$label" "image not built"
    fi
done

cleanup
echo "images: done in $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
