#!/usr/bin/env python3
"""Full-handshake latency, one connection at a time (issue 15): where s_time gives one
rate, this gives the distribution, split into the handshake (connect to the client's
Finished: the server's share is its first flight) and the request (request to the
close).  The client is Python's ssl module without certificate verification, so its own
cost is small and equal for every server.  Servers pinned to CPU 0 and the client to
CPU 1, as in tlsbench.py; rounds interleaved.

    python3 python/tlslatency.py --connections 500 --rounds 4 [--peers fastcore,nginx]
"""
from __future__ import annotations

import argparse
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import tlsbench as tb  # noqa: E402


def one(port: int) -> tuple[float, float]:
    """(handshake seconds, request seconds) of one new TLS 1.3 connection."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw) as s:
        t1 = time.perf_counter()
        s.sendall(b"GET /10k.html HTTP/1.0\r\n\r\n")
        while True:
            try:
                if not s.recv(65536):
                    break
            except (ssl.SSLEOFError, ConnectionResetError):
                break
        return t1 - t0, time.perf_counter() - t1


def summary(values: list[float]) -> str:
    v = sorted(values)

    def q(p: float) -> float:
        return v[int(p * (len(v) - 1))] * 1e6
    return (f"p10 {q(.1):.0f} p50 {q(.5):.0f} p90 {q(.9):.0f} p99 {q(.99):.0f} "
            f"mean {statistics.mean(v) * 1e6:.0f} µs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=500, help="per server and round")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--peers", default="fastcore,nginx")
    ap.add_argument("--cert", choices=("ecdsa", "rsa"), default="ecdsa")
    ap.add_argument("--httpd", action="append", default=[], metavar="LINE",
                    help="one more httpd.conf line for fastcore and Apache (repeatable)")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="fc-tlslat-")
    os.chmod(base, 0o755)
    pair, www = tb.make_site(base, args.cert)
    servers = [tb.make_server(n, base, www, pair.cert, pair.key, args.httpd)
               for n in args.peers.split(",")]
    for s in servers:
        s.start(True)
    os.sched_setaffinity(0, {1})
    seen: dict[str, tuple[list[float], list[float]]] = {s.name: ([], []) for s in servers}
    try:
        for _ in range(args.rounds):
            for s in servers:
                for _ in range(args.connections):
                    hs, rq = one(s.port)
                    seen[s.name][0].append(hs)
                    seen[s.name][1].append(rq)
    finally:
        for s in servers:
            s.stop()
    for name, (hs, rq) in seen.items():
        print(f"{name:10} handshake {summary(hs)}")
        print(f"{name:10} request   {summary(rq)}")


if __name__ == "__main__":
    main()
