#!/usr/bin/env python3
"""Two fastcore configurations measured at the same time: both servers pinned to CPU 0,
one wrk per server on CPU 1, run together, so this machine's swings hit both alike.

    python3 python/sidebyside.py ideal h5bp-headers --rounds 5

Each argument is a scenario key of harness/scenarios.py (its httpd.conf and URL); the
output is each round's requests/s, and the median of the per-round ratios B/A.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import scenarios, servers  # noqa: E402
from harness.scenarios import Scenario  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(sc: Scenario, wd: str, docroot: str, port: int) -> subprocess.Popen[bytes]:
    os.makedirs(wd, exist_ok=True)
    conf = os.path.join(wd, "httpd.conf")
    with open(conf, "w") as f:
        f.write(servers.apache_syntax_config(wd, docroot, port, "event", True, sc.tuning))
    p = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "fastcore", "-f", conf,
                          "-DFOREGROUND"], cwd=REPO, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise SystemExit(f"{sc.key}: fastcore did not start (see {wd}/error_log)")


def wrk(sc: Scenario, port: int, seconds: int, connections: int) -> subprocess.Popen[str]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    for h in sc.headers:
        cmd += ["-H", h]
    return subprocess.Popen(cmd + [f"http://127.0.0.1:{port}/{sc.path}"],
                            stdout=subprocess.PIPE, text=True)


def rps(out: str) -> float:
    return float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--connections", type=int, default=32)
    args = p.parse_args()
    by_key = {s.key: s for s in scenarios.SCENARIOS}
    a, b = by_key[args.a], by_key[args.b]
    with tempfile.TemporaryDirectory(prefix="fc-sidebyside-") as tmp:
        docroot = os.path.join(tmp, "htdocs")
        os.makedirs(docroot)
        with open(os.path.join(docroot, "10k.html"), "wb") as f:
            f.write(b"<!doctype html>\n" + b"x" * (scenarios.SIZE - 17) + b"\n")
        scenarios.make_tree(docroot)
        pa = start(a, os.path.join(tmp, "a"), docroot, 18701)
        pb = start(b, os.path.join(tmp, "b"), docroot, 18702)
        ra: list[float] = []
        rb: list[float] = []
        try:
            for w in (wrk(a, 18701, 1, args.connections), wrk(b, 18702, 1, args.connections)):
                w.communicate()  # warm-up
            for _ in range(args.rounds):
                wa = wrk(a, 18701, args.duration, args.connections)
                wb = wrk(b, 18702, args.duration, args.connections)
                ra.append(rps(wa.communicate()[0]))
                rb.append(rps(wb.communicate()[0]))
                print(f"{a.key} {ra[-1]:10,.0f}  {b.key} {rb[-1]:10,.0f}  "
                      f"ratio {rb[-1] / ra[-1]:.3f}", flush=True)
        finally:
            for proc in (pa, pb):
                proc.terminate()
                proc.wait(15)
    ratios = [y / x for x, y in zip(ra, rb, strict=True)]
    print(f"medians: {a.key} {statistics.median(ra):,.0f} req/s, {b.key} "
          f"{statistics.median(rb):,.0f} req/s; median ratio {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
