"""How many children the parent starts, and when: httpd's spare rule plus the listen queue.

httpd's perform_idle_server_maintenance runs once a second: fewer than MinSpareServers idle
workers start 1, 2, 4 ... 32 children (the rate doubles each second the shortage lasts),
more than MaxSpareServers idle stop one. With more keep-alive clients than children, each
connection holding a prefork child, that ramp takes seconds to reach the clients' number
and the clients waiting meanwhile time out. fastcore keeps httpd's rule and adds one: a few
times a second the parent reads its listeners' accept queues (fastcore.mpm.backlog) and,
while connections wait there that the idle workers cannot take, starts at once the
processes they need, within MaxRequestWorkers. Reaping above MaxSpareServers is httpd's,
one child a second, once the load is gone. docs/compat.md, "Spawning children".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastcore.mpm.proctable import NOT_ACCEPTING

if TYPE_CHECKING:
    from fastcore.mpm.arbiter import Child
    from fastcore.mpm.proctable import ProcTable

QUEUE_TICK = 0.05  # seconds between two readings of the accept queues
BURST = 32  # children started per reading at most: the parent stays responsive to
# signals and reaping, and the next reading sees what the new children already took


@dataclass
class IdleCount:
    """The idle workers of the current generation's accepting processes."""

    idle: int  # workers idle or starting ('_' or 'S'), as httpd counts them
    idle_child: Child | None  # a process whose workers are all idle: the one to stop


def count_idle(sb: Any, proctable: ProcTable, current: list[Child],
               threads_per_child: int) -> IdleCount:
    """httpd's idle count: SERVER_STARTING and SERVER_READY workers of processes that
    still accept (a process stopping or full takes no new connection)."""
    idle = 0
    idle_child: Child | None = None
    for c in current:
        if proctable.flags(c.index) & NOT_ACCEPTING:
            continue
        n = 0
        for t in range(threads_per_child):
            if sb.get_status(sb.slot(c.index, t)) in "_S":
                n += 1
        idle += n
        if n == threads_per_child:
            idle_child = c
    return IdleCount(idle, idle_child)


def queue_demand(waiting: int, idle: int, threads_per_child: int, room: int) -> int:
    """Processes to start now so that each connection waiting in the accept queue has a
    worker: none while the idle workers outnumber the queue; at most BURST, and never
    more than MaxRequestWorkers leaves room for."""
    short = waiting - idle
    if short <= 0 or room <= 0:
        return 0
    return min(-(-short // max(1, threads_per_child)), room, BURST)
