"""The accept queue the parent reads (fastcore.mpm.backlog) and the spawn demand from it."""
from __future__ import annotations

import socket
import time

from fastcore.mpm.backlog import queued, total_queued
from fastcore.mpm.spawning import BURST, queue_demand


def _wait_queue(fd: int, n: int) -> int:
    deadline = time.monotonic() + 2
    while queued(fd) != n and time.monotonic() < deadline:
        time.sleep(0.01)
    return queued(fd)


def test_queued_counts_connections_not_yet_accepted() -> None:
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(16)
    clients = [socket.create_connection(lsock.getsockname()) for _ in range(5)]
    clients.append(socket.create_connection(other.getsockname()))
    try:
        assert _wait_queue(lsock.fileno(), 5) == 5
        lsock.accept()[0].close()
        assert queued(lsock.fileno()) == 4
        assert total_queued([lsock.fileno(), other.fileno()]) == 5
    finally:
        for c in clients:
            c.close()
        lsock.close()
        other.close()


def test_a_socket_that_does_not_listen_reports_nothing() -> None:
    bound = socket.socket()  # what the parent keeps under Mutex mpm-accept reuseport
    bound.bind(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert queued(bound.fileno()) == 0
        assert queued(udp.fileno()) == 0
    finally:
        bound.close()
        udp.close()


def test_demand_is_the_shortfall_in_processes_within_room_and_burst() -> None:
    assert queue_demand(0, 0, 1, 100) == 0
    assert queue_demand(5, 5, 1, 100) == 0  # the idle children will take them
    assert queue_demand(7, 5, 1, 100) == 2
    assert queue_demand(200, 0, 1, 100) == BURST
    assert queue_demand(10, 0, 1, 3) == 3  # MaxRequestWorkers' room
    assert queue_demand(10, 0, 1, 0) == 0
    assert queue_demand(60, 10, 25, 100) == 2  # worker/event: threads per process
