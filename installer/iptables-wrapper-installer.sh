#!/bin/sh
# iptables-wrapper-installer.sh [--no-sanity-check] [--no-cleanup]
#
# Installs iptables-wrapper in an image that has iptables. Meant for a
# Dockerfile that copies this script and the static iptables-wrapper binary
# side by side and runs the script:
#
#   COPY iptables-wrapper-installer.sh iptables-wrapper /iptables-wrapper/
#   RUN /iptables-wrapper/iptables-wrapper-installer.sh
#
# 1. The binary is looked for next to this script (the directory of $0), and
#    in the working directory when it is not there or $0 names no file (the
#    script fed to sh on stdin).
# 2. The iptables directory is the first of /usr/sbin and /sbin that holds
#    xtables-legacy-multi or xtables-nft-multi.
# 3. The binary is copied to <dir>/iptables-wrapper (atomically, by rename)
#    and `<dir>/iptables-wrapper install` runs; --no-sanity-check is passed
#    on to it.
# 4. Unless --no-cleanup is given, the script and the binary it copied from
#    are deleted afterwards.
#
# If anything fails, the image is left as it was: a copied binary is removed
# again (or the one it replaced put back) and nothing is cleaned up. Exit
# status: 0 done, 1 failure (the install's own status when it refuses),
# 2 bad option. Runs under any POSIX sh (dash, busybox ash).
set -eu

# Every line it prints starts with the wrapper's own prefix, as the
# wrapper's do, so a build log reads as one tool's.
prog=iptables-wrapper
usage="usage: $0 [--no-sanity-check] [--no-cleanup]"

say() {
    printf '%s: %s\n' "$prog" "$*"
}

warn() {
    printf '%s: %s\n' "$prog" "$*" >&2
}

die() {
    warn "$*"
    exit 1
}

sanity=
cleanup=yes
for arg in "$@"; do
    case $arg in
    --no-sanity-check) sanity=--no-sanity-check ;;
    --no-cleanup) cleanup= ;;
    -h | --help)
        printf '%s\n' "$usage"
        exit 0
        ;;
    *)
        warn "unknown option $arg"
        warn "$usage"
        exit 2
        ;;
    esac
done

# Where the script is: the directory of $0 when $0 names this file.
script=
case $0 in
*/*) [ -f "$0" ] && script=$0 ;;
*) [ -f "./$0" ] && script=./$0 ;;
esac
if [ -n "$script" ]; then
    script_dir=$(cd -P "$(dirname "$script")" && pwd -P)
    script=$script_dir/$(basename "$script")
else
    script_dir=$(pwd -P)
fi

src=$script_dir/iptables-wrapper
if [ ! -f "$src" ]; then
    src=$(pwd -P)/iptables-wrapper
fi
if [ ! -f "$src" ]; then
    die "no iptables-wrapper binary next to the script ($script_dir) or in the working directory ($(pwd -P)); copy it there"
fi

dir=
for d in /usr/sbin /sbin; do
    if [ -x "$d/xtables-legacy-multi" ] || [ -x "$d/xtables-nft-multi" ]; then
        dir=$d
        break
    fi
done
if [ -z "$dir" ]; then
    die "iptables is not installed: neither /usr/sbin nor /sbin holds xtables-legacy-multi or xtables-nft-multi; install iptables (both modes) before running this script"
fi

dest=$dir/iptables-wrapper
real_dir=$(cd -P "$dir" && pwd -P)
same=
[ "$real_dir/iptables-wrapper" = "$src" ] && same=yes

# Put the binary in place, keeping what it replaces until the install is done.
tmp=$dir/.iptables-wrapper.new.$$
old=$dir/.iptables-wrapper.old.$$
copied=
kept=
if [ -z "$same" ] && ! { [ -f "$dest" ] && cmp -s "$src" "$dest" 2>/dev/null; }; then
    if [ -e "$dest" ] || [ -L "$dest" ]; then
        ln "$dest" "$old" 2>/dev/null || cp -p "$dest" "$old" || die "cannot keep a copy of $dest"
        kept=yes
    fi
    if ! { cp "$src" "$tmp" && chmod 0755 "$tmp" && mv -f "$tmp" "$dest"; }; then
        rm -f "$tmp"
        [ -z "$kept" ] || rm -f "$old"
        die "cannot copy $src to $dest"
    fi
    copied=yes
    say "copied $src to $dest"
fi

rc=0
if [ -n "$sanity" ]; then
    "$dest" install "$sanity" || rc=$?
else
    "$dest" install || rc=$?
fi
if [ "$rc" -ne 0 ]; then
    if [ -n "$kept" ]; then
        mv -f "$old" "$dest"
        warn "put the previous $dest back; nothing changed"
    elif [ -n "$copied" ]; then
        rm -f "$dest"
        warn "removed $dest again; nothing changed"
    fi
    exit "$rc"
fi
[ -z "$kept" ] || rm -f "$old"

if [ -n "$cleanup" ]; then
    if [ -z "$same" ]; then
        rm -f "$src"
        say "removed $src"
    fi
    if [ -n "$script" ]; then
        rm -f "$script"
        say "removed $script"
    fi
fi
