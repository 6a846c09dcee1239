"""MPM directives that are not visible in a response still act: SendBufferSize and
ReceiveBufferSize size the listening sockets (accepted ones inherit them), ThreadStackSize
sizes the stacks of a child's threads (seen in /proc/PID/maps)."""
from __future__ import annotations

import os
import socket
import time

from test_mpm_harness import FastcoreServer, config_text, free_port, get

from fastcore.config import load
from fastcore.mpm.listeners import Listeners


def _sockopt(fd: int, opt: int) -> int:
    s = socket.socket(fileno=fd)
    try:
        return s.getsockopt(socket.SOL_SOCKET, opt)
    finally:
        s.detach()


def test_buffer_sizes_set_on_the_listener(tmp_path) -> None:
    docroot = tmp_path / "htdocs"
    docroot.mkdir()
    conf = tmp_path / "httpd.conf"
    conf.write_text(config_text(str(tmp_path), "event", [free_port()], str(docroot),
                                "SendBufferSize 65536\nReceiveBufferSize 98304\n"))
    cfg = load(str(conf))
    lst = Listeners(cfg)
    lst.open(cfg)
    try:
        (fd,) = lst.fds()
        # Linux doubles the value for its bookkeeping, as socket(7) says
        assert _sockopt(fd, socket.SO_SNDBUF) == 2 * 65536
        assert _sockopt(fd, socket.SO_RCVBUF) == 2 * 98304
    finally:
        lst.close_all()


def _stack_regions(pid: int, size: int) -> int:
    """Writable anonymous mappings of exactly `size` bytes: thread stacks."""
    n = 0
    with open(f"/proc/{pid}/maps") as fh:
        for line in fh:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if parts[1] == "rw-p" and len(parts) == 5 and hi - lo == size:
                n += 1
    return n


def test_thread_stack_size_sizes_worker_stacks(tmp_path) -> None:
    stack = 3 * 1024 * 1024
    srv = FastcoreServer(str(tmp_path), "worker", "StartServers 1\nThreadsPerChild 4\n"
                         "MinSpareThreads 1\nMaxSpareThreads 8\nServerLimit 1\n"
                         "MaxRequestWorkers 4\nThreadLimit 4\n"
                         f"ThreadStackSize {stack}\n")
    srv.start()
    try:
        assert get(srv.port)[0] == 200
        (child,) = srv.wait_children(1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _stack_regions(child, stack) < 4:
            time.sleep(0.05)
        assert _stack_regions(child, stack) >= 4
        assert os.path.exists(f"/proc/{child}")
    finally:
        srv.stop()
