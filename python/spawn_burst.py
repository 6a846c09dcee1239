"""Prefork with httpd's default sizing against more keep-alive clients than children.

StartServers 5, MinSpareServers 5, MaxSpareServers 10, MaxRequestWorkers 256 (no MPM
directive in the harness's httpd.conf), a fresh server per run, then wrk -c32/-c64/-c256
on keep-alive connections from the first second: how many requests time out or fail while
the parent starts the children, and the p99. Apache prefork and fastcore prefork in the
same run, server on CPU 0 and wrk on CPU 1 (or, --unpinned, wherever the scheduler puts
them).

wrk 4.1 counts a timeout only when a late answer arrives: a client that is never
answered during the run is not an error to wrk at all (and once wrk closes, the server
may still accept it and answer its request into the void).  So the listening socket's
accept queue is read shortly before the run ends (`ss -lnt`, Recv-Q): each connection
still waiting there has had no answer, and counts as an error too; the "never answered"
column is that count alone:

    python3 python/spawn_burst.py --rounds 3 --duration 4 [--unpinned]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import servers, workloads  # noqa: E402

SERVER_CPU, CLIENT_CPU = 0, 1
CONNECTIONS = (32, 64, 256)


QUEUE_PROBE_BEFORE_END = 0.3  # seconds before wrk's end that the accept queue is read


@dataclasses.dataclass(frozen=True)
class BurstResult:
    """One run: wrk's figures, and how many of its clients were still unanswered (never
    accepted) near its end."""

    wrk: workloads.WrkResult
    unanswered: int

    @property
    def errors(self) -> int:
        return self.wrk.errors + self.unanswered


def accept_queue(port: int) -> int:
    """Connections waiting in the accept queue of the listener on 127.0.0.1:port."""
    out = subprocess.run(["ss", "-Hlnt", f"( sport = :{port} )"], capture_output=True,
                         text=True, timeout=10).stdout
    return sum(int(line.split()[1]) for line in out.splitlines() if line.strip())


def one_run(spec: servers.ServerSpec, docroot: str, conns: int, seconds: float,
            pinned: bool) -> BurstResult:
    run = spec.start(docroot, SERVER_CPU if pinned else None)
    queued: list[int] = []
    probe = threading.Timer(seconds - QUEUE_PROBE_BEFORE_END,
                            lambda: queued.append(accept_queue(run.port)))
    try:
        w = dataclasses.replace(next(x for x in workloads.WORKLOADS if x.key == "10k-ka"),
                                connections=conns)
        probe.start()
        r = workloads.run_wrk(w, run.port, seconds, CLIENT_CPU if pinned else None)
        probe.join()
        return BurstResult(r, queued[0] if queued else conns)
    finally:
        probe.cancel()
        run.stop()
        servers.cleanup(run)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--unpinned", action="store_true", help="no taskset for either side")
    ap.add_argument("--connections", type=int, nargs="+", default=list(CONNECTIONS),
                    help="wrk -c values, one table row pair each")
    ap.add_argument("--servers", nargs="+", default=["apache-prefork", "fastcore-prefork"],
                    choices=["apache-prefork", "fastcore-prefork"])
    a = ap.parse_args()
    known = {s.name: s for s in servers.peer_specs()}
    known["fastcore-prefork"] = servers.fastcore_spec("prefork")
    specs = [known[name] for name in a.servers]
    base = tempfile.mkdtemp(prefix="spawn-burst-")
    try:
        docroot = servers.make_docroot(base)
        print("| clients | server | errors per run (median; each round) | never answered "
              "(each round) | p99 ms (median) | req/s (median) |")
        print("|---|---|---|---|---|---|")
        for conns in a.connections:
            for spec in specs:
                rs = [one_run(spec, docroot, conns, a.duration, not a.unpinned) for _ in range(a.rounds)]
                errs = [r.errors for r in rs]
                print(f"| {conns} | {spec.name} | {statistics.median(errs):g} "
                      f"({', '.join(str(e) for e in errs)}) | "
                      f"{', '.join(str(r.unanswered) for r in rs)} | "
                      f"{statistics.median(r.wrk.p99_ms for r in rs):,.0f} | "
                      f"{statistics.median(r.wrk.rps for r in rs):,.0f} |", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
