"""Each MPM under ab load: zero failed requests, with and without keep-alive; -X."""
from __future__ import annotations

import pytest
from support.ab import ab
from support.servers import FastcoreServer, open_fds
from support.wire import get

# the backlog longer than KeepAliveTimeout makes ab count its idle peers' closes as failures.
SIZING = {
    "prefork": "StartServers 66\nMinSpareServers 8\nMaxSpareServers 80\nMaxRequestWorkers 80\n",
    "worker": "StartServers 3\nThreadsPerChild 25\nMinSpareThreads 25\nMaxSpareThreads 100\n"
              "MaxRequestWorkers 150\n",
    "event": "StartServers 2\nThreadsPerChild 25\nMinSpareThreads 25\nMaxSpareThreads 75\n"
             "MaxRequestWorkers 150\n",
}
N = 20000
C = 64


@pytest.mark.parametrize("keepalive", [False, True], ids=["close", "keepalive"])
@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_20000_requests_at_64_without_errors(tmp_path, mpm: str, keepalive: bool) -> None:
    fds = open_fds()
    srv = FastcoreServer(str(tmp_path), mpm, SIZING[mpm] + "KeepAlive On\n").start()
    try:
        res = ab(srv.port, N, C, keepalive)
        assert (res.complete, res.failed, res.non2xx) == (N, 0, 0), res.output
    finally:
        srv.stop()
    assert srv.access_lines() == N
    assert open_fds() == fds


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_single_process_serves_in_one_process(tmp_path, mpm: str) -> None:
    srv = FastcoreServer(str(tmp_path), mpm, single_process=True).start()
    try:
        assert get(srv.port) == (200, b"hello from the docroot\n")
        res = ab(srv.port, 500, 1, keepalive=True)  # one worker: one client at a time
        assert (res.complete, res.failed) == (500, 0), res.output
        assert srv.children() == []
    finally:
        srv.stop()
    assert srv.access_lines() == 501
