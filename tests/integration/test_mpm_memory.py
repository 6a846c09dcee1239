"""Memory per process (PSS from /proc/PID/smaps_rollup) after 10,000 requests, for each
fastcore MPM next to Apache's prefork and event children measured the same way.

`python tests/integration/test_mpm_memory.py [runs]` prints the table of docs/bench/mpm.md.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mpm_harness import ApacheServer, FastcoreServer, ab  # noqa: E402

from fastcore.mpm import pss  # noqa: E402

SIZING = {
    "prefork": "StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\nMaxRequestWorkers 8\n",
    "worker": "StartServers 2\nThreadsPerChild 25\nMinSpareThreads 25\nMaxSpareThreads 75\n"
              "MaxRequestWorkers 50\nServerLimit 2\n",
    "event": "StartServers 2\nThreadsPerChild 25\nMinSpareThreads 25\nMaxSpareThreads 75\n"
             "MaxRequestWorkers 50\nServerLimit 2\n",
}
CHILDREN = {"prefork": 4, "worker": 2, "event": 2}
REQUESTS = 10000


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Rss:"):
                return int(line.split()[1])
    raise OSError("no Rss")


def measure(server_cls: type, mpm: str, tmp: str) -> dict[str, float]:
    """Start, serve 10,000 keep-alive requests, read PSS/RSS of parent and children."""
    srv = server_cls(tmp, mpm, SIZING[mpm] + "KeepAlive On\n").start()
    try:
        kids = srv.wait_children(CHILDREN[mpm])
        res = ab(srv.port, REQUESTS, 8, keepalive=True)
        assert (res.complete, res.failed) == (REQUESTS, 0), res.output
        kids = srv.children()
        child_pss = pss.children_pss(srv.pid)
        return {
            "parent_pss": pss.parent_pss(srv.pid),
            "children": len(kids),
            "child_pss": statistics.mean(child_pss),
            "child_rss": statistics.mean(_rss_kb(k) for k in kids),
            "per_worker_pss": sum(child_pss) / (len(kids) * (1 if mpm == "prefork" else 25)),
            "rps": res.rps,
        }
    finally:
        srv.stop()


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_children_share_the_parents_pages(tmp_path, mpm: str) -> None:
    m = measure(FastcoreServer, mpm, str(tmp_path))
    assert m["children"] >= CHILDREN[mpm]
    assert 0 < m["child_pss"] < m["child_rss"]  # part of each child is shared, not copied
    assert m["parent_pss"] > 0


def test_apache_children_measured_the_same_way(tmp_path) -> None:
    m = measure(ApacheServer, "prefork", str(tmp_path))
    assert 0 < m["child_pss"] < m["child_rss"]


def main(runs: int) -> None:
    rows = [("fastcore", FastcoreServer, "prefork"), ("fastcore", FastcoreServer, "worker"),
            ("fastcore", FastcoreServer, "event"), ("apache", ApacheServer, "prefork"),
            ("apache", ApacheServer, "event")]
    print("| server | MPM | children | parent PSS kB | child PSS kB (avg) | child RSS kB (avg)"
          " | PSS per worker kB | req/s (ab -k -c 8) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, cls, mpm in rows:
        samples = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                samples.append(measure(cls, mpm, tmp))
        med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
        print(f"| {name} | {mpm} | {med['children']:.0f} | {med['parent_pss']:.0f} | "
              f"{med['child_pss']:.0f} | {med['child_rss']:.0f} | {med['per_worker_pss']:.0f} | "
              f"{med['rps']:.0f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
