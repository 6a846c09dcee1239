"""The parent's once-a-second spare maintenance and its error-log lines, without forking."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
from collections.abc import Iterator
from types import ModuleType

from fastcore.config.model import MpmConfig
from fastcore.mpm.arbiter import Arbiter, Child
from fastcore.mpm.errlog import ErrorLog
from fastcore.mpm.proctable import ProcTable
from fastcore.mpm.sizing import compute


class _Gen:
    def __init__(self, sizing) -> None:
        self.sizing, self.number = sizing, 0


def _arbiter(sb_mod: ModuleType, mc: MpmConfig, tmp_path) -> Arbiter:
    arb = object.__new__(Arbiter)
    arb.sizing = compute(mc)
    arb.sb = sb_mod.Scoreboard(arb.sizing.server_limit, arb.sizing.thread_limit)
    arb.proctable = ProcTable(arb.sizing.server_limit)
    arb.children = {}
    arb.gen = _Gen(arb.sizing)
    arb.spawn_rate = 1
    arb.maxworkers_reported = False
    arb.errlog = ErrorLog(str(tmp_path / "error_log"), "info", threaded=False)
    arb.spawned = []
    arb.signalled = []

    def spawn(index: int) -> None:
        for t in range(arb.sizing.thread_limit):
            arb.sb.slot_init(arb.sb.slot(index, t), 0, 0, 0)
        pid = 100000 + index
        arb.children[pid] = Child(pid, index, 0, 0.0)
        arb.spawned.append(index)

    arb.spawn = spawn
    arb.spawn_many = lambda indices: [spawn(i) for i in indices]
    arb.tell = lambda child, sig: (setattr(child, "told", True),
                                   arb.signalled.append((child.pid, sig)))
    return arb


def _busy(arb: Arbiter) -> None:
    for c in arb.children.values():
        for t in range(arb.sizing.threads_per_child):
            arb.sb.set_status(arb.sb.slot(c.index, t), "W")


def test_prefork_spawn_rate_doubles_up_to_32_while_busy(impl, tmp_path) -> None:
    arb = _arbiter(impl.load("scoreboard"), MpmConfig(name="prefork", min_spare_servers=100,
                                        max_spare_servers=200, max_request_workers=256),
                   tmp_path)
    rates = []
    for _ in range(8):
        before = len(arb.spawned)
        arb.maintain()
        rates.append(len(arb.spawned) - before)
        _busy(arb)  # everyone got a connection: no idle server again
    assert rates == [1, 2, 4, 8, 16, 32, 32, 32]
    assert "AH00162: server seems busy" in (tmp_path / "error_log").read_text()


def test_idle_above_max_spare_stops_one_idle_child_per_second(impl, tmp_path) -> None:
    arb = _arbiter(impl.load("scoreboard"), MpmConfig(name="event", threads_per_child=5,
                                        min_spare_threads=5, max_spare_threads=10,
                                        max_request_workers=50), tmp_path)
    for i in range(4):
        arb.spawn(i)
    for c in arb.children.values():
        for t in range(5):
            arb.sb.set_status(arb.sb.slot(c.index, t), "_")
    arb.maintain()
    assert len(arb.signalled) == 1 and arb.signalled[0][1] == signal.SIGUSR1
    arb.maintain()  # the told child no longer counts: 15 idle > 10, one more
    assert len(arb.signalled) == 2
    arb.maintain()  # 10 idle: within bounds
    assert len(arb.signalled) == 2


def test_reaching_max_request_workers_is_reported_once(impl, tmp_path) -> None:
    arb = _arbiter(impl.load("scoreboard"), MpmConfig(name="worker", threads_per_child=5,
                                        min_spare_threads=5, max_request_workers=10),
                   tmp_path)
    for _ in range(4):
        arb.maintain()
        _busy(arb)
    assert len(arb.children) == 2  # MaxRequestWorkers 10 / 5 threads
    log = (tmp_path / "error_log").read_text()
    assert log.count("AH00286: server reached MaxRequestWorkers setting") == 1


def test_error_log_line_format(tmp_path) -> None:
    log = ErrorLog(str(tmp_path / "e"), "warn", threaded=True)
    log.log("notice", "core", "AH00052: child pid 7 exit signal Killed (9)")
    log.log("info", "core", "not written at LogLevel warn")
    log.close()
    text = (tmp_path / "e").read_text()
    assert re.fullmatch(r"\[\w{3} \w{3} \d{2} \d\d:\d\d:\d\d\.\d{6} \d{4}\] \[core:notice\] "
                        rf"\[pid {os.getpid()}:tid \d+\] AH00052: child pid 7 exit signal "
                        r"Killed \(9\)\n", text)


class _Listeners:
    def __init__(self, fds: list[int]) -> None:
        self._fds = fds

    def fds(self) -> list[int]:
        return self._fds


@contextlib.contextmanager
def _queued(arb: Arbiter, n: int) -> Iterator[socket.socket]:
    """A listener given to arb with n connections waiting in its accept queue."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)
    clients = [socket.create_connection(lsock.getsockname()) for _ in range(n)]
    arb.listeners = _Listeners([lsock.fileno()])
    try:
        yield lsock
    finally:
        for c in clients:
            c.close()
        lsock.close()


def _five_busy(impl, mc: MpmConfig, tmp_path) -> Arbiter:
    arb = _arbiter(impl.load("scoreboard"), mc, tmp_path)
    for i in range(5):
        arb.spawn(i)
    _busy(arb)
    return arb


def test_waiting_connections_get_their_children_at_once(impl, tmp_path) -> None:
    """Default prefork sizing, 5 children busy, 40 connections in the accept queue: the
    next reading starts 32 (BURST), the one after the 8 still missing, none after that."""
    arb = _five_busy(impl, MpmConfig(name="prefork"), tmp_path)
    with _queued(arb, 40) as lsock:
        arb.follow_queue()
        assert len(arb.spawned) == 5 + 32
        arb.follow_queue()  # the new children are starting ('S'): they count as idle
        assert len(arb.spawned) == 5 + 40
        arb.follow_queue()
        assert len(arb.spawned) == 5 + 40
        _busy(arb)  # all 45 took a connection; 20 of the 40 are accepted, 20 still wait
        for _ in range(20):
            lsock.accept()[0].close()
        arb.follow_queue()
        assert len(arb.spawned) == 5 + 40 + 20


def test_the_queue_never_takes_a_generation_past_max_request_workers(impl, tmp_path) -> None:
    arb = _five_busy(impl, MpmConfig(name="prefork", max_request_workers=8), tmp_path)
    with _queued(arb, 20):
        arb.follow_queue()
        _busy(arb)
        arb.follow_queue()
        assert len(arb.children) == 8
        log = (tmp_path / "error_log").read_text()
        assert log.count("AH00161: server reached MaxRequestWorkers setting") == 1
