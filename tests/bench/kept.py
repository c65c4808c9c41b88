#!/usr/bin/env python3
"""What a call costs on a read-only root once the decision is kept
(tests/bench-kept.sh runs this inside fresh net, mount and PID namespaces).

The iptables directory is a read-only tmpfs holding the six names (links to
the wrapper) and links to the host's multi binaries; the state directory
(IPTABLES_WRAPPER_STATE_DIR) is a writable tmpfs. One first call decides
(legacy, from a hint) and keeps the decision. Then, REPS times, back to back
and in alternating order: a direct call of the multi binary, the bare exec
floor (tests/bench/hop.c) and a call under the wrapper's name, each
`iptables -t nat -S`. Prints the medians and the paired median differences
against the direct call, in milliseconds, and how busy the rest of the
machine was meanwhile. Reuses tests/bench/measure.py's helpers.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--hop", required=True)
    p.add_argument("--scratch", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--multi-dir", default="/usr/sbin")
    p.add_argument("--reps", type=int, default=200)
    a = p.parse_args()

    s = measure.Scratch(a.scratch, a.multi_dir, a.bin, None)   # the floor runs --hop where it is
    s.install()
    subprocess.run(["mount", "-t", "tmpfs", "ipw-state", a.state], check=True)
    r = measure.run(s.env, (s.multi("legacy"), ["iptables", "-t", "mangle", "-N", measure.HINT_CHAIN]))
    if r.returncode != 0:
        sys.exit(f"cannot create the hint chain: {r.stderr}")
    subprocess.run(["mount", "-o", "remount,ro", a.scratch], check=True)
    env = {**s.env, "IPTABLES_WRAPPER_STATE_DIR": a.state}
    first = measure.run(env, s.first())
    if first.returncode != 0 or "the decision is kept in" not in first.stderr:
        sys.exit(f"the first call did not keep its decision: {first.stderr}")
    if s.switched_to() != "iptables-wrapper":
        sys.exit("the names were switched: the directory is not read-only")

    hop_env = {**env, "HOP_TARGET": s.multi("legacy")}
    calls = {
        "direct": (env, s.direct("legacy")),
        "floor": (hop_env, (a.hop, ["iptables", *measure.COMMAND])),
        "kept": (env, s.first()),
    }
    times = {k: [] for k in calls}
    for k, (e, c) in calls.items():  # warm-up, discarded
        measure.timed(e, c)
    busy0, own0, wall0 = measure.machine_busy_s(), measure.own_cpu_s(), time.perf_counter()
    order = list(calls)
    for i in range(a.reps):
        for k in (order if i % 2 == 0 else order[::-1]):
            e, c = calls[k]
            t, rc = measure.timed(e, c)
            if rc != 0:
                sys.exit(f"{k} call exited {rc}")
            times[k].append(t)
    wall = time.perf_counter() - wall0
    others = (measure.machine_busy_s() - busy0) - (measure.own_cpu_s() - own0)
    if s.switched_to() != "iptables-wrapper":
        sys.exit("the names were switched during the run")

    ms = measure.ms
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{a.reps} interleaved repetitions of `iptables -t nat -S` (legacy, hint), "
          f"other load on the machine meanwhile: {max(others, 0.0) / wall:.2f} cores")
    for k in calls:
        print(f"  {k:7} median {ms(med[k]):7.3f} ms")
    for k in ("floor", "kept"):
        d = [x - y for x, y in zip(times[k], times["direct"])]
        print(f"  {k} - direct, paired median: {ms(statistics.median(d)):+.3f} ms "
              f"(quartiles {ms(statistics.quantiles(d, n=4)[0]):+.3f} .. "
              f"{ms(statistics.quantiles(d, n=4)[2]):+.3f})")


if __name__ == "__main__":
    main()
