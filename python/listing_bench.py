#!/usr/bin/env python3
"""Directory listing speed (issue 12): one 2,000-file fancy listing, Apache vs fastcore.

Both servers run from one httpd.conf (Debian's stock mime.conf + autoindex.conf: icons,
alt texts, IndexOptions FancyIndexing VersionSort HTMLTable ...; `Options Indexes`),
each pinned to CPU 0 while this client runs on CPU 1.  Each target is fetched --runs times
(Connection: close, after --warmup unmeasured fetches); the medians are reported, and with
--strace the syscalls of one listing request per server (strace -f -c attached to every
thread, one request, no idle subtraction).  --mpm picks both servers' MPM (event by
default; section 9b measured prefork); --cold touches one listed file before every
fetch, so fastcore's listing cache (mod_autoindex/cache.py) never answers and the full
rendering is measured.

    python3 python/listing_bench.py --files 2000 --runs 15 --strace
    python3 python/listing_bench.py --files 2000 --runs 15 --cold
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))

from harness import strace  # noqa: E402
from support.apache_oracle import BASE_MODULES, ApacheOracle  # noqa: E402

BODY = """Include /etc/apache2/mods-available/mime.conf
Include /etc/apache2/mods-available/autoindex.conf
DocumentRoot "{root}"
<Directory "{root}">
  Options Indexes
  Require all granted
</Directory>
"""


def fetch(port: int, target: str, touch: str | None = None) -> tuple[float, bytes]:
    """(seconds until the whole answer was read, the answer) for one GET; `touch`: a
    file given a new mtime first (outside the measured time)."""
    if touch is not None:
        now = time.time()
        os.utime(touch, (now, now))
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                  .encode())
        chunks = []
        while b := s.recv(262144):
            chunks.append(b)
    return time.perf_counter() - t0, b"".join(chunks)


def body_of(answer: bytes) -> bytes:
    """The de-chunked body (the Date and Server lines differ between the servers)."""
    head, _, rest = answer.partition(b"\r\n\r\n")
    if b"chunked" not in head.lower():
        return rest
    out = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            break
        out.append(rest[:n])
        rest = rest[n + 2:]
    return b"".join(out)


def pids_of(proc: subprocess.Popen) -> list[int]:
    """The server's process and its children (prefork)."""
    out = subprocess.run(["pgrep", "-g", str(os.getpgid(proc.pid))], capture_output=True,
                         text=True).stdout.split()
    return sorted({proc.pid, *(int(p) for p in out)})


def pin(pids: list[int], cpu: int) -> None:
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(pid)],
                       stdout=subprocess.DEVNULL, check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--targets", default="/,/?F=0")
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--mpm", default="event", choices=("event", "worker", "prefork"))
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--port", type=int, default=0, help="first port (0: any free one)")
    args = ap.parse_args()
    if not args.no_pin:
        os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory(prefix="fc-listing-") as tmp:
        root = os.path.join(tmp, "htdocs")
        os.makedirs(root)
        for i in range(1, args.files + 1):
            open(os.path.join(root, f"file{i}.txt"), "w").close()
        results: dict[str, dict[str, float]] = {}
        bodies: dict[str, dict[str, bytes]] = {}
        calls: dict[str, int] = {}
        touch = os.path.join(root, "file1.txt") if args.cold else None
        modules = tuple(f"mpm_{args.mpm}" if m == "mpm_prefork" else m for m in BASE_MODULES)
        for k, (name, is_fc) in enumerate((("apache", False), ("fastcore", True))):
            wd = os.path.join(tmp, name)
            os.makedirs(wd)
            extra = {"port": args.port + k} if args.port else {}
            srv = ApacheOracle(wd, BODY.format(root=root), modules=modules, fastcore=is_fc,
                               **extra).start()
            try:
                assert srv.proc is not None
                if not args.no_pin:
                    pin(pids_of(srv.proc), 0)
                results[name], bodies[name] = {}, {}
                for target in args.targets.split(","):
                    for _ in range(args.warmup):
                        fetch(srv.port, target, touch)
                    times = []
                    for _ in range(args.runs):
                        dt, ans = fetch(srv.port, target, touch)
                        times.append(dt)
                    results[name][target] = statistics.median(times) * 1000
                    bodies[name][target] = body_of(ans)
                if args.strace:
                    first = args.targets.split(",")[0]
                    port = srv.port
                    count = strace.traced(pids_of(srv.proc),
                                          lambda p=port, t=first: fetch(p, t) and None)
                    calls[name] = count.total
            finally:
                srv.stop()
        print(f"{args.files} files, median of {args.runs} (ms), {args.mpm} MPM, "
              f"{'cold (a file touched before each fetch), ' if args.cold else ''}"
              f"{'unpinned' if args.no_pin else 'server CPU 0, client CPU 1'}")
        print("| request | Apache | fastcore | fastcore / Apache | same body |")
        print("|---|---|---|---|---|")
        for target in args.targets.split(","):
            a, f = results["apache"][target], results["fastcore"][target]
            same = bodies["apache"][target] == bodies["fastcore"][target]
            print(f"| `{target}` | {a:.1f} ms | {f:.1f} ms | {f / a:.2f}x | {same} |")
        if calls:
            print(f"syscalls for one `{args.targets.split(',')[0]}` listing: "
                  f"Apache {calls['apache']}, fastcore {calls['fastcore']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
