"""MPM directives that are not visible in a response still act: SendBufferSize and
ReceiveBufferSize size the listening sockets (accepted ones inherit them), ThreadStackSize
sizes the stacks of a child's threads (seen in /proc/PID/maps)."""
from __future__ import annotations

import os
import socket
import subprocess
import time

from support.ports import free_port
from support.servers import FastcoreServer, config_text
from support.wire import get

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


def test_listen_backlog_is_the_listen_queue(tmp_path) -> None:
    """ListenBacklog is listen(2)'s backlog: ss shows it as a listener's Send-Q."""
    srv = FastcoreServer(str(tmp_path), "prefork", "ListenBacklog 37\nStartServers 1\n")
    srv.start()
    try:
        out = subprocess.run(["ss", "-ltnH", f"sport = :{srv.port}"], capture_output=True,
                             text=True, check=True).stdout.split()
        assert out[0] == "LISTEN" and out[2] == "37", out
    finally:
        srv.stop()


def _access_pids(srv: FastcoreServer) -> list[str]:
    with open(os.path.join(srv.tmp, "pids_log")) as fh:
        return [line.split()[0] for line in fh]


def test_transferlog_and_maxrequestsperchild(tmp_path) -> None:
    """TransferLog logs in the last nickname-less LogFormat; MaxRequestsPerChild (the old
    name of MaxConnectionsPerChild) 1 makes each connection a new child's."""
    srv = FastcoreServer(str(tmp_path), "prefork",
                         'LogFormat "%P %>s %U"\nTransferLog pids_log\n'
                         "MaxRequestsPerChild 1\nStartServers 1\nMinSpareServers 1\n"
                         "MaxSpareServers 1\n")
    srv.start()
    try:
        for _ in range(3):
            assert get(srv.port, "/index.html")[0] == 200
    finally:
        srv.stop()
    pids = _access_pids(srv)
    assert len(pids) == 3 and len(set(pids)) == 3, pids
    with open(os.path.join(srv.tmp, "pids_log")) as fh:
        assert all(line.split()[1:] == ["200", "/index.html"] for line in fh)
