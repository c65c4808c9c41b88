#!/bin/bash
# cargo for the Makefile: the one on PATH when it is at least Cargo.toml's
# rust-version, otherwise the amd64 build root's (trixie's cargo 1.85.1, with
# rustfmt and clippy; tests/release/buildroot.sh), run there with this
# worktree at the same path. Says which when it is the build root's.
#
#   tests/release/cargo.sh ARGS...    run cargo
#   tests/release/cargo.sh --which    print "host" or "build-root"
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
need=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$here/Cargo.toml")
have=$(cargo --version 2>/dev/null | awk '{print $2}') || true
if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$need" "${have%%-*}" | sort -V | head -n 1)" = "$need" ]; then
  where=host
else
  where=build-root
fi
if [ "${1:-}" = --which ]; then
  echo "$where"
  exit 0
fi
if [ "$where" = host ]; then
  exec cargo "$@"
fi
echo "iptables-wrapper: no cargo $need or newer on PATH (found: ${have:-none}); using the build root's cargo 1.85.1 (trixie) for: cargo $*" >&2
exec "$here/tests/release/inroot.sh" amd64 cargo "$@"
