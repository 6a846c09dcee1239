"""Slow clients against fastcore and Apache: are normal clients served during the attack?

`attack()` opens SLOW connections that each send one byte of a request head per second
(non-blocking sockets, one select loop, from this process), and meanwhile sends normal
GET probes one after another, each on a new connection with a short timeout.  It counts
the probes answered 200 and the slow connections the server cut.  The command line runs
it against fastcore (each MPM) and real Apache with the same httpd.conf:

    python python/slowloris.py [--seconds 15] [--slow 200] [--apache] [--mpm prefork ...]
"""
from __future__ import annotations

import argparse
import os
import select
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

HEAD = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"x" * 4000


@dataclass
class AttackResult:
    """What one attack measured."""

    probes: int  # normal requests sent during the attack
    served: int  # of which answered 200 in time
    slow: int  # slow connections opened
    cut: int  # slow connections the server closed (or answered) before the end
    first_cut: float  # seconds from the attack's start to the first cut (0: none)
    last_cut: float  # ... and to the last one


def probe(port: int, timeout: float) -> bool:
    """One normal request on a new connection; True when it is answered 200 in time."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def attack(port: int, seconds: float, slow: int = 200, probe_timeout: float = 3.0,
           probe_every: float = 0.5, linger: float = 0.0) -> AttackResult:
    """Hold `slow` trickling connections for `seconds` while probing; then, for up to
    `linger` more seconds, wait for the server to cut the slow ones."""
    socks: list[socket.socket] = []
    cut: dict[int, float] = {}
    t0 = time.monotonic()
    try:
        for _ in range(slow):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setblocking(False)
            socks.append(s)
        results: list[bool] = []
        stop = threading.Event()

        def probes() -> None:
            stop.wait(1.5)  # every slow connection has sent its first bytes
            while not stop.is_set():
                results.append(probe(port, probe_timeout))
                stop.wait(probe_every)

        th = threading.Thread(target=probes, daemon=True)
        th.start()
        pos = 0
        end = t0 + seconds
        last_cut = 0.0
        while True:
            now = time.monotonic()
            if now >= end:
                stop.set()
            if stop.is_set() and (now >= end + linger or len(cut) == slow):
                break
            for i, s in enumerate(socks):
                if i in cut or pos >= len(HEAD):
                    continue
                try:
                    s.send(HEAD[pos:pos + 1])
                except BlockingIOError:
                    pass
                except OSError:
                    cut[i] = last_cut = now - t0
            pos += 1
            deadline = now + 1.0
            while True:  # a second's wait, noting every connection the server ends
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                live = [s for i, s in enumerate(socks) if i not in cut]
                if not live:
                    break
                readable, _, _ = select.select(live, [], [], left)
                for s in readable:
                    i = socks.index(s)
                    try:
                        s.recv(65536)  # EOF or a 408: the server gave up on it
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    cut[i] = last_cut = time.monotonic() - t0
        th.join(probe_timeout + 2)
        first = min(cut.values()) if cut else 0.0
        return AttackResult(len(results), sum(results), slow, len(cut), first, last_cut)
    finally:
        for s in socks:
            s.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--slow", type=int, default=200)
    ap.add_argument("--mpm", action="append", choices=("prefork", "worker", "event"))
    ap.add_argument("--apache", action="store_true", help="also run real Apache")
    ap.add_argument("--no-reqtimeout", action="store_true",
                    help="without mod_reqtimeout (default: Debian's stock settings)")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
    from test_mpm_harness import ApacheServer, FastcoreServer

    extra = ["MaxRequestWorkers 32", "ServerLimit 32", "StartServers 4",
             "ThreadsPerChild 16"]
    if not args.no_reqtimeout:
        extra += ["LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so",
                  "RequestReadTimeout header=20-40,MinRate=500 body=10,MinRate=500"]
    print(f"{'server':<10} {'mpm':<8} {'served/probes':>14} {'slow cut':>9}")
    for mpm in args.mpm or ["prefork", "worker", "event"]:
        for kind in (["fastcore", "apache"] if args.apache else ["fastcore"]):
            tmp = tempfile.mkdtemp(prefix="slowloris-")
            cls = ApacheServer if kind == "apache" else FastcoreServer
            lines = [x for x in extra if mpm != "prefork" or x != "ThreadsPerChild 16"]
            srv = cls(tmp, mpm, "\n".join(lines)).start()
            try:
                r = attack(srv.port, args.seconds, args.slow)
            finally:
                srv.stop()
            print(f"{kind:<10} {mpm:<8} {f'{r.served}/{r.probes}':>14} {r.cut:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
