#!/bin/bash
# The first-call benchmark (`make bench`). Prints a Markdown table and writes
# it, with the machine, date and command, into the generated block of
# BENCHMARKS.md (the rest of that file is left as it is).
#
# For every ruleset size N and every case (legacy or nft host, with or
# without the kubelet hint chain) it starts fresh network, mount and PID
# namespaces, loads N filter rules in one iptables-<mode>-restore call and
# runs tests/bench/measure.py there: the wrapper's first `iptables -t nat -S`
# with each probe source (IPTABLES_WRAPPER_PROBES=kernel, =process) against
# a direct call of the same command and a bare exec (tests/bench/hop.c, the
# floor of any wrapper), back to back, with the links
# reinstalled before every first call; a full save of the host's mode when
# there is no hint; peak memory; the size of the legacy tables; and
# per-probe times per source. The host's own rules are never touched. See
# BENCHMARKS.md for the method.
#
# Settings (environment):
#   BENCH_SIZES       rule counts (default "0 1000 10000 100000")
#   BENCH_CASES       cases, "MODE:HINT ..." (default
#                     "legacy:yes nft:yes legacy:no nft:no")
#   BENCH_FS          where the iptables directory is (default "tmpfs overlay"):
#                     tmpfs; overlay (overlayfs with lower, upper and work
#                     directories on the disk under /tmp, a fresh upper layer
#                     for every first call, as in a new pod); ext4 (a plain
#                     directory on that disk); alternatives (Debian's
#                     alternatives layout: the cached bookworm root with the
#                     wrapper installed, under a fresh overlay, chroot)
#   BENCH_ROOT        the Debian root for alternatives (default
#                     $ROOTFS_CACHE/bookworm, see `make rootfs`)
#   BENCH_FSOPS_REPS  repetitions of the switch's system calls timed alone
#                     (measure.py fsops), per plain-link kind in BENCH_FS
#                     (default 200; 0 for none)
#   BENCH_SOURCES     probe sources to compare, values of IPTABLES_WRAPPER_PROBES
#                     (default "kernel process"; "auto" is allowed too)
#   BENCH_RULES_PER_CHAIN  put the rules in user chains of this many rules,
#                     so that chains grow with N as in kube-proxy's rulesets
#                     (default 0: four chains in all)
#   BENCH_REPS        repetitions per case (default 20)
#   BENCH_REPS_LARGE  repetitions when N >= 100000 (default 20)
#   BENCH_OUT         file to update (default BENCHMARKS.md; "-" for none)
#   BENCH_MULTI_DIR   where xtables-*-multi are (default /usr/sbin)
#   IPTABLES_WRAPPER_BIN  the wrapper (default bin/iptables-wrapper)
#   BENCH_KEEP_RESULTS    also copy the raw results (JSON lines) to this file
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
sizes=${BENCH_SIZES:-0 1000 10000 100000}
cases=${BENCH_CASES:-legacy:yes nft:yes legacy:no nft:no}
sources=${BENCH_SOURCES:-kernel process}
kinds=${BENCH_FS:-tmpfs overlay}
root_base=${BENCH_ROOT:-${ROOTFS_CACHE:-/var/cache/iptables-wrapper-tests/v2}/bookworm}
reps=${BENCH_REPS:-20}
reps_large=${BENCH_REPS_LARGE:-20}
out=${BENCH_OUT:-$here/BENCHMARKS.md}
multi_dir=${BENCH_MULTI_DIR:-/usr/sbin}
bin=${IPTABLES_WRAPPER_BIN:-$here/bin/iptables-wrapper}

die() {
    echo "bench: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (it uses unshare and mount)"
[ -x "$bin" ] || die "no wrapper binary at $bin; run 'make build'"
for m in legacy nft; do
    [ -x "$multi_dir/xtables-$m-multi" ] || die "no $multi_dir/xtables-$m-multi; install iptables"
done
for s in $sources; do
    case $s in
    kernel | process | auto) ;;
    *) die "BENCH_SOURCES: unknown source '$s' (use kernel, process, auto)" ;;
    esac
done
[ -n "${sources// /}" ] || die "BENCH_SOURCES is empty"
for k in $kinds; do
    case $k in
    tmpfs | overlay | ext4) ;;
    alternatives)
        [ -x "$root_base/usr/sbin/xtables-nft-multi" ] || die "no Debian root at $root_base for BENCH_FS=alternatives; run 'make rootfs'"
        ;;
    *) die "BENCH_FS: unknown kind '$k' (use tmpfs, overlay, ext4, alternatives)" ;;
    esac
done
[ -n "${kinds// /}" ] || die "BENCH_FS is empty"
command -v unshare >/dev/null || die "unshare (util-linux) is needed"
command -v cc >/dev/null || die "a C compiler (cc) is needed for tests/bench/maxrss.c"
# The system Python, not a pyenv shim that may point elsewhere.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3) || die "python3 is needed"

# The command line, for the record: any settings given, then how it was run.
cmd="bash tests/bench.sh"
[ -n "${MAKELEVEL:-}" ] && cmd="make bench"
for v in BENCH_SIZES BENCH_CASES BENCH_FS BENCH_FSOPS_REPS BENCH_SOURCES BENCH_RULES_PER_CHAIN BENCH_REPS BENCH_REPS_LARGE BENCH_MULTI_DIR IPTABLES_WRAPPER_BIN; do
    [ -n "${!v:-}" ] && cmd="$v=\"${!v}\" $cmd"
done

work=$(mktemp -d /tmp/iptables-wrapper-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A snapshot of the binary, so a rebuild during the run changes nothing.
cp "$bin" "$work/iptables-wrapper"
cc -O2 -static -o "$work/maxrss" "$here/tests/bench/maxrss.c" 2>/dev/null ||
    cc -O2 -o "$work/maxrss" "$here/tests/bench/maxrss.c"
"$work/maxrss" "$work/floor" /bin/true true
# The bare exec is linked as the wrapper is: on x86_64 against musl, by the
# compiler that links the amd64 release in its build root (arches.sh; `make
# build` made the root; the output lands under the worktree, which the root
# sees), since a glibc start-up there costs more than the whole exec
# (BENCHMARKS.md, "The C library's start-up"); elsewhere against glibc, as
# the wrapper is there.
if [ "$(uname -m)" = x86_64 ]; then
    mkdir -p "$here/target/bench"
    musl_cc=$(. "$here/tests/release/arches.sh" && arch_info amd64 && echo "$rust_linker")
    "$here/tests/release/inroot.sh" amd64 "$musl_cc" -O2 -static -o "$here/target/bench/hop" "$here/tests/bench/hop.c" ||
        die "cannot build tests/bench/hop.c with $musl_cc in the amd64 build root"
    cp "$here/target/bench/hop" "$work/hop"
    # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
    hop_built="static, musl $("$here/tests/release/inroot.sh" amd64 dpkg-query -W -f='${Version}' musl-dev)"
else
    cc -O2 -static -o "$work/hop" "$here/tests/bench/hop.c" || die "cannot build tests/bench/hop.c statically (libc6-dev)"
    hop_built="static, glibc $(dpkg-query -W -f='${Version}' libc6-dev 2>/dev/null || echo '?')"
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: load average $load_before on $(nproc) cores; launcher floor $(cat "$work/floor") KiB" >&2

results=$work/results.jsonl
: >"$results"
for n in $sizes; do
    r=$reps
    [ "$n" -ge 100000 ] && r=$reps_large
    "$python" "$here/tests/bench/measure.py" gen "$n" --per-chain "${BENCH_RULES_PER_CHAIN:-0}" >"$work/rules"
    for k in $kinds; do
        for c in $cases; do
            mode=${c%%:*} hint=${c#*:}
            echo "bench: $k, $mode host, hint $hint, $n rules, sources $sources, $r repetitions; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
            rm -rf "$work/scratch"
            mkdir "$work/scratch"
            unshare --net --mount --pid --fork --kill-child --mount-proc -- \
                "$python" "$here/tests/bench/measure.py" case \
                --mode "$mode" --hint "$hint" --n "$n" --reps "$r" --fs "$k" \
                --root-base "$root_base" \
                --rules "$work/rules" --bin "$work/iptables-wrapper" \
                --scratch "$work/scratch" --maxrss "$work/maxrss" --hop "$work/hop" \
                --multi-dir "$multi_dir" --sources "$sources" >>"$results"
        done
    done
    rm -f "$work/rules"
done
fsops=$work/fsops.jsonl
: >"$fsops"
if [ "${BENCH_FSOPS_REPS:-200}" -gt 0 ]; then
    for k in $kinds; do
        [ "$k" = alternatives ] && continue
        echo "bench: $k, the switch's system calls alone, ${BENCH_FSOPS_REPS:-200} repetitions; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        rm -rf "$work/scratch"
        mkdir "$work/scratch"
        unshare --mount -- "$python" "$here/tests/bench/measure.py" fsops --fs "$k" \
            --scratch "$work/scratch" --bin "$work/iptables-wrapper" \
            --reps "${BENCH_FSOPS_REPS:-200}" --multi-dir "$multi_dir" >>"$fsops"
    done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

report_out=()
[ "$out" != "-" ] && report_out=(--out "$out")
"$python" "$here/tests/bench/measure.py" report "$results" \
    --bin "$work/iptables-wrapper" --multi-dir "$multi_dir" --command "$cmd" \
    --load-before "$load_before" --load-after "$load_after" \
    --floor "$(cat "$work/floor")" --fsops "$fsops" \
    --version "$("$work/iptables-wrapper" --version)" --hop-built "$hop_built" "${report_out[@]}"
if [ "$out" != "-" ]; then
    echo "bench: wrote $out" >&2
fi
if [ -n "${BENCH_KEEP_RESULTS:-}" ]; then
    cp "$results" "$BENCH_KEEP_RESULTS"
fi
