"""The parent's CPU priority: ahead of its children, so it can fork them when they are busy.

When the children saturate the CPU (every keep-alive client held by a prefork child), the
scheduler gives the parent one fair share among them: with 64 busy children it waited
1.7 s for CPU during a 3 s load (BENCHMARKS.md, section 3) and the children the clients
were waiting for came late. The parent runs only to fork, reap and read the scoreboard and
accept queues, a few milliseconds a second, so a started-as-root parent (httpd's usual
case) lowers its nice value by PARENT_BOOST; each child puts its own back to the value the
server was started with before it runs anything else (raising one's nice value needs no
privilege). Unprivileged, nothing changes. docs/compat.md, "Spawning children".
"""
from __future__ import annotations

import os

PARENT_BOOST = 20


def boost_parent() -> int:
    """Lower this process's nice value if allowed; returns the value it had (the one the
    children go back to)."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, max(-20, base - PARENT_BOOST))
    except OSError:  # EPERM/EACCES: no CAP_SYS_NICE, the parent keeps the children's share
        pass
    return base


def restore_child(base: int) -> None:
    """In a child right after fork: the nice value the server was started with."""
    if os.getpriority(os.PRIO_PROCESS, 0) != base:
        os.setpriority(os.PRIO_PROCESS, 0, base)
