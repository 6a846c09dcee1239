"""event MPM: 200 clients trickling a header byte per second neither starve normal
clients nor stay connected past Timeout."""
from __future__ import annotations

import socket
import threading
import time

from support.ab import ab
from support.servers import FastcoreServer, open_fds

SLOW = 200
TIMEOUT = 3


def test_slow_clients_do_not_stop_normal_ones_and_are_cut_at_timeout(tmp_path) -> None:
    fds = open_fds()
    srv = FastcoreServer(str(tmp_path), "event",
                         "StartServers 4\nThreadsPerChild 25\nMinSpareThreads 25\n"
                         f"MaxSpareThreads 150\nTimeout {TIMEOUT}\n").start()
    slow: list[socket.socket] = []
    cut: dict[int, float] = {}
    stop = threading.Event()
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"x" * 200

    def trickle(t0: float) -> None:
        pos = 0
        while not stop.is_set() and len(cut) < SLOW:
            for i, s in enumerate(slow):
                if i in cut:
                    continue
                try:
                    if s.recv(4096, socket.MSG_DONTWAIT) is not None:
                        cut[i] = time.monotonic() - t0  # EOF or a 408: the server gave up
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    cut[i] = time.monotonic() - t0
                    continue
                try:
                    s.send(head[pos:pos + 1])
                except OSError:
                    cut[i] = time.monotonic() - t0
            pos += 1
            stop.wait(1.0)

    try:
        for _ in range(SLOW):
            slow.append(socket.create_connection(("127.0.0.1", srv.port)))
        th = threading.Thread(target=trickle, args=(time.monotonic(),), daemon=True)
        th.start()
        time.sleep(0.5)
        res = ab(srv.port, 2000, 16)
        assert (res.complete, res.failed, res.non2xx) == (2000, 0, 0), res.output
        deadline = time.monotonic() + TIMEOUT + 8
        while len(cut) < SLOW and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        th.join(5)
        assert len(cut) == SLOW, f"{SLOW - len(cut)} slow clients still connected"
        assert max(cut.values()) < TIMEOUT + 8
    finally:
        stop.set()
        for s in slow:
            s.close()
        srv.stop()
    assert open_fds() == fds
