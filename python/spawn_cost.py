"""What one child costs the prefork parent to spawn while the CPU is saturated.

With 64 keep-alive connections, prefork needs 64 children (one connection each); the
parent spawns them by httpd's rule (1, 2, 4 ... 32 per second while fewer than
MinSpareServers are idle). When every process shares one CPU, how fast that ramp goes
depends on how much CPU each fork costs the parent: the scheduler gives it a fair share
and no more. This runs the load harness's first two steps (ab -k -c16 10,000 requests,
then wrk -c64 for a few seconds, server on CPU 0 and the clients on CPU 1) against
fastcore prefork and Apache prefork, and reads the parent's /proc/PID/schedstat (CPU
time, time waiting for a CPU, slices) before and after the wrk run:

    python3 python/spawn_cost.py --rounds 3
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import servers, workloads  # noqa: E402

SERVER_CPU, CLIENT_CPU = 0, 1


def schedstat(pid: int) -> tuple[int, int, int]:
    """(ns on a CPU, ns waiting for one, slices) of one process."""
    with open(f"/proc/{pid}/schedstat") as f:
        cpu, wait, slices = f.read().split()
    return int(cpu), int(wait), int(slices)


def one_round(spec: servers.ServerSpec, docroot: str, seconds: float) -> dict[str, float]:
    run = spec.start(docroot, SERVER_CPU)
    try:
        workloads.run_ab(run.port, "10k.html", 10000, 16, True, pin_cpu=CLIENT_CPU)
        parent = run.proc.pid
        before, kids0 = schedstat(parent), len(run.pids()) - 1
        w = next(x for x in workloads.WORKLOADS if x.key == "10k-ka")
        r = workloads.run_wrk(w, run.port, seconds, CLIENT_CPU)
        after, kids1 = schedstat(parent), len(run.pids()) - 1
    finally:
        run.stop()
        servers.cleanup(run)
    spawned = max(kids1 - kids0, 0)
    cpu_ms = (after[0] - before[0]) / 1e6
    return {"children before": kids0, "children after": kids1, "spawned": spawned,
            "parent CPU ms": cpu_ms, "parent waiting ms": (after[1] - before[1]) / 1e6,
            "parent slices": after[2] - before[2],
            "CPU ms per spawn": cpu_ms / spawned if spawned else float("nan"),
            "wrk errors": r.errors, "p99 ms": r.p99_ms}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    servers.ensure_installed()
    specs = [servers.fastcore_spec("prefork")]
    specs += [s for s in servers.peer_specs() if s.name == "apache-prefork"]
    base = tempfile.mkdtemp(prefix="fc-spawn-")
    os.chmod(base, 0o755)
    try:
        docroot = servers.make_docroot(base)
        results: dict[str, list[dict[str, float]]] = {s.name: [] for s in specs}
        for i in range(args.rounds):
            for spec in specs if i % 2 == 0 else specs[::-1]:
                results[spec.name].append(one_round(spec, docroot, args.seconds))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    keys = list(next(iter(results.values()))[0])
    print("| server | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, rows in results.items():
        cells = [f"{statistics.median(r[k] for r in rows):,.2f}" for k in keys]
        print(f"| {name} (median of {len(rows)}) | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
