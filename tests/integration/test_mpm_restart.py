"""Graceful restart (USR1), restart (HUP), graceful stop (WINCH), broken new config."""
from __future__ import annotations

import os
import signal
import time

import pytest
from support.ab import finish_ab, start_ab
from support.servers import BUSY_SIZING, FastcoreServer, open_fds
from support.wire import get


def _site(tmp, name: str, text: str) -> str:
    root = os.path.join(tmp, name)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "index.html"), "w") as fh:
        fh.write(text)
    return root


def _wait_log(srv, needle: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in srv.error_log():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("keepalive", [False, True], ids=["close", "keepalive"])
@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_graceful_restart_under_load_loses_nothing(tmp_path, mpm: str, keepalive: bool) -> None:
    fds = open_fds()
    tmp = str(tmp_path)
    old_root = _site(tmp, "old", "old generation\n")
    new_root = _site(tmp, "new", "new generation\n")  # same length: ab checks lengths
    srv = FastcoreServer(tmp, mpm, BUSY_SIZING[mpm] + "BufferedLogs On\n", docroot=old_root).start()
    try:
        old_kids = set(srv.wait_children(3))
        load = start_ab(srv.port, 20000, 64, keepalive)
        time.sleep(0.4)
        srv.write_conf(docroot=new_root)
        srv.send(signal.SIGUSR1)
        res = finish_ab(load)
        assert (res.complete, res.failed, res.non2xx) == (20000, 0, 0), res.output
        assert "AH00493: SIGUSR1 received.  Doing graceful restart" in srv.error_log()
        deadline = time.monotonic() + 15
        while old_kids & set(srv.children()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not old_kids & set(srv.children()), "old generation never finished"
        # once the old generation has finished, the new configuration answers (a prefork
        # child of the old one may still take a connection while it drains: docs/compat.md)
        assert get(srv.port) == (200, b"new generation\n")
    finally:
        srv.stop()
    assert srv.access_lines() == 20001
    assert open_fds() == fds


def test_broken_new_config_keeps_the_old_one_running(tmp_path) -> None:
    tmp = str(tmp_path)
    srv = FastcoreServer(tmp, "event", "StartServers 1\nThreadsPerChild 5\n").start()
    try:
        kids = set(srv.wait_children(1))
        srv.write_conf(extra="StartServers 1\nThreadsPerChild 5\nNoSuchDirective on\n")
        srv.send(signal.SIGUSR1)
        assert _wait_log(srv, "the old one keeps running")
        assert "NoSuchDirective" in srv.error_log()
        assert get(srv.port) == (200, b"hello from the docroot\n")
        assert set(srv.children()) == kids
        srv.send(signal.SIGHUP)  # still broken: a full restart keeps the old one too
        assert _wait_log(srv, "AH00494: SIGHUP received")
        assert get(srv.port)[0] == 200
    finally:
        srv.stop()


def test_hup_restart_replaces_every_child_with_the_new_config(tmp_path) -> None:
    tmp = str(tmp_path)
    srv = FastcoreServer(tmp, "worker", "StartServers 2\nThreadsPerChild 5\n"
                         "MinSpareThreads 5\nMaxSpareThreads 20\n",
                         docroot=_site(tmp, "a", "a\n")).start()
    try:
        kids = set(srv.wait_children(2))
        srv.write_conf(docroot=_site(tmp, "b", "b\n"))
        srv.send(signal.SIGHUP)
        fresh = srv.wait_children(2, exclude=kids)
        assert len(fresh) >= 2 and not kids & set(srv.children())
        assert get(srv.port) == (200, b"b\n")
    finally:
        srv.stop()


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_winch_graceful_stop_finishes_and_cleans_up(tmp_path, mpm: str) -> None:
    srv = FastcoreServer(str(tmp_path), mpm, "GracefulShutdownTimeout 3\n").start()
    assert os.path.exists(srv.pid_file)
    assert get(srv.port)[0] == 200
    srv.stop(sig=signal.SIGWINCH)
    assert srv.proc.returncode == 0
    assert not os.path.exists(srv.pid_file)
    assert "AH00492: caught SIGWINCH, shutting down gracefully" in srv.error_log()
