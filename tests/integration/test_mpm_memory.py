"""Memory per process (PSS from /proc/PID/smaps_rollup) after 10,000 requests, for each
fastcore MPM next to Apache's prefork and event children measured the same way.

`python tests/integration/test_mpm_memory.py [runs]` prints the table of docs/bench/mpm.md.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

import pytest
from support.ab import ab
from support.servers import ApacheServer, FastcoreServer

from fastcore.mpm import pss

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
        parent_pss = pss.parent_pss(srv.pid)
        return {
            "total_pss": parent_pss + sum(child_pss),
            "parent_pss": parent_pss,
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


def _private_dirty_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        return sum(int(line.split()[1]) for line in fh if line.startswith("Private_Dirty:"))


# A child's own pages right after start-up (before any request): everything else it maps
# is shared with the parent. Measured 2026-11-26 (docs/bench/memory.md), event MPM with
# 25 threads: 5.0 MB per child when the MPM module was imported after fork in each child,
# 2.7-3.1 MB with it imported in the parent. Private_Dirty, unlike PSS, does not depend on
# how many other processes map the same libraries, so the bound holds on a busy machine.
EVENT_CHILD_START_PRIVATE_KB = 4000


def test_event_children_start_with_few_private_pages(tmp_path) -> None:
    srv = FastcoreServer(str(tmp_path), "event", SIZING["event"] + "KeepAlive On\n").start()
    try:
        kids = srv.wait_children(CHILDREN["event"])
        assert len(kids) == CHILDREN["event"]
        time.sleep(1.0)  # the children's threads are up and waiting; no request yet
        private = [_private_dirty_kb(k) for k in srv.children()]
        assert private and max(private) <= EVENT_CHILD_START_PRIVATE_KB, private
    finally:
        srv.stop()


def _library_text_kb(pid: int, name: str) -> int:
    """Resident KiB of the executable mappings of the shared library `name` in pid."""
    total, text = 0, False
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            head = line.split()
            if head and "-" in head[0] and not head[0].endswith(":"):
                text = len(head) > 5 and name in head[5] and "x" in head[1]
            elif text and head[0] == "Rss:":
                total += int(head[1])
    return total


# Initialising OpenSSL (CPython's hashlib does it at import) runs about 1.4 MiB of
# libcrypto's code that only the parent ever touches: pages of its own in the tree's PSS.
# Mapping the library (the engine links it for mod_ssl) touches about 0.4 MiB.
PARENT_LIBCRYPTO_TEXT_KB = 1024


def test_a_plain_http_parent_does_not_initialise_openssl(tmp_path) -> None:
    srv = FastcoreServer(str(tmp_path), "event", SIZING["event"] + "KeepAlive On\n").start()
    try:
        srv.wait_children(CHILDREN["event"])
        res = ab(srv.port, 100, 2, keepalive=True)
        assert (res.complete, res.failed) == (100, 0), res.output
        assert _library_text_kb(srv.pid, "libcrypto") <= PARENT_LIBCRYPTO_TEXT_KB
    finally:
        srv.stop()


def test_thread_stack_holds_the_recursion_limit() -> None:
    """Threads in a child get THREAD_STACK bytes of stack instead of 8 MiB: deep C-level
    recursion in a worker thread still ends in RecursionError, not a crash."""
    code = (
        "import threading, json\n"
        "from fastcore.mpm.child import THREAD_STACK\n"
        "threading.stack_size(THREAD_STACK)\n"
        "out = []\n"
        "def deep():\n"
        "    class A:\n"
        "        def __getattr__(self, n): return getattr(self, n + 'x')\n"
        "    nested = []\n"
        "    for _ in range(100000): nested = [nested]\n"
        "    for f in (lambda: A().y, lambda: repr(nested), lambda: json.dumps(nested)):\n"
        "        try: f()\n"
        "        except RecursionError: out.append(1)\n"
        "t = threading.Thread(target=deep); t.start(); t.join()\n"
        "print(len(out))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), os.environ.get("PYTHONPATH")) if p))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env)
    assert (res.returncode, res.stdout.strip()) == (0, "3"), res.stderr


def main(runs: int) -> None:
    rows = [("fastcore", FastcoreServer, "prefork"), ("fastcore", FastcoreServer, "worker"),
            ("fastcore", FastcoreServer, "event"), ("apache", ApacheServer, "prefork"),
            ("apache", ApacheServer, "event")]
    print("| server | MPM | children | total PSS kB | parent PSS kB | child PSS kB (avg) |"
          " child RSS kB (avg) | PSS per worker kB | req/s (ab -k -c 8) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, cls, mpm in rows:
        samples = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                samples.append(measure(cls, mpm, tmp))
        med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
        print(f"| {name} | {mpm} | {med['children']:.0f} | {med['total_pss']:.0f} | "
              f"{med['parent_pss']:.0f} | "
              f"{med['child_pss']:.0f} | {med['child_rss']:.0f} | {med['per_worker_pss']:.0f} | "
              f"{med['rps']:.0f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
