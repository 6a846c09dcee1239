"""Run fastcore's HttpServer in its own process for tests that watch it from outside
(strace syscall counts, descriptor counts): `python3 http_server_proc.py CONF`.

Loads CONF with fastcore.config.load, listens on its first Listen address, prints
"READY <pid> <port>" and serves connections one after another with serve_blocking() until
SIGTERM (logs flushed on exit).  A line "FDS" on stdin makes it print its open
descriptor count (from /proc/self/fd) so a test can compare before/after.
"""
from __future__ import annotations

import os
import select
import signal
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)


def main() -> int:
    from fastcore.config import load
    from fastcore.config.merge import DirResolver
    from fastcore.core.server import HttpServer

    cfg = load(sys.argv[1])
    srv = HttpServer(cfg, None, DirResolver(cfg))
    lst = cfg.listeners[0]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((lst.host or "127.0.0.1", lst.port))
    except OSError:  # someone took the port since the test picked it: any free port will do
        sock.bind((lst.host or "127.0.0.1", 0))
    sock.listen(16)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print(f"READY {os.getpid()} {sock.getsockname()[1]}", flush=True)
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    poller.register(sys.stdin.fileno(), select.POLLIN)
    while not stop:
        try:
            events = poller.poll()
        except InterruptedError:
            continue
        for fd, _ev in events:
            if fd == sys.stdin.fileno():
                line = sys.stdin.readline()
                if not line:
                    stop.append(1)
                elif line.strip() == "FDS":
                    print(f"FDS {len(os.listdir('/proc/self/fd'))}", flush=True)
                continue
            conn, peer = sock._accept()
            srv.serve_blocking(conn, peer, -1)
    srv.close()
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
