"""Prefork children start at their parent's raised priority and give it up once they have
answered their first request (fastcore.mpm.priority.StartBoost), so a burst of new
children becomes ready before the busy ones take the CPU back; a child that serves is
never left above its fellows.  Seen with ps: the nice value of every thread of each
child.  Run as root (as CI does and httpd usually is), the parent is at -20 and a child
that has not answered yet too; unprivileged, nothing is raised at all.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time

from support.servers import FastcoreServer

CONF = "KeepAlive On\nKeepAliveTimeout 30\n<Directory />\n    AllowOverride None\n</Directory>\n"


def thread_nices(pid: int) -> list[int]:
    """The nice value of each thread of pid (field 19 of /proc/PID/task/TID/stat)."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                out.append(int(fh.read().rsplit(")", 1)[1].split()[16]))
        except FileNotFoundError:  # a thread that has just ended
            pass
    return out


def serving_pid(server_port: int, client_port: int) -> int:
    """The process holding the server side of the connection from client_port."""
    out = subprocess.run(["ss", "-Htnp", "state", "established",
                          f"( sport = :{server_port} and dport = :{client_port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"pid=(\d+)", out)
    assert m, out
    return int(m.group(1))


def test_prefork_child_gives_up_the_start_boost_after_its_first_answer(tmp_path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)  # the server inherits the test's value
    boosted = max(-20, base - 20) if os.geteuid() == 0 else base
    srv = FastcoreServer(str(tmp_path), "prefork", CONF).start()
    try:
        kids = srv.wait_children(5)
        assert len(kids) == 5
        assert thread_nices(srv.pid) == [boosted] * len(thread_nices(srv.pid))
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as c:
            c.sendall(b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n")
            got = b""
            while not got.endswith(b"hello from the docroot\n"):
                chunk = c.recv(4096)
                assert chunk, got
                got += chunk
            assert got.startswith(b"HTTP/1.1 200 "), got
            pid = serving_pid(srv.port, c.getsockname()[1])
            assert pid in kids
            # the connection is still open (keep-alive): the child serves on, unboosted
            deadline = time.monotonic() + 5
            while set(thread_nices(pid)) != {base} and time.monotonic() < deadline:
                time.sleep(0.05)
            assert set(thread_nices(pid)) == {base}
            others = [set(thread_nices(k)) for k in kids if k != pid]
            # the start-up check's bare connect may have ended in one of them unanswered
            # (released too); the rest have answered nothing and keep the boost
            assert sum(1 for n in others if n == {boosted}) >= len(others) - 1, others
    finally:
        srv.stop()
    log = srv.error_log()
    assert "Traceback" not in log, log
