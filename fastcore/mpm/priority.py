"""The parent's CPU priority: ahead of its children, so it can fork them when they are busy.

When the children saturate the CPU (every keep-alive client held by a prefork child), the
scheduler gives the parent one fair share among them: with 64 busy children it waited
1.7 s for CPU during a 3 s load (BENCHMARKS.md, section 3) and the children the clients
were waiting for came late. The parent runs only to fork, reap and read the scoreboard and
accept queues, a few milliseconds a second, so a started-as-root parent (httpd's usual
case) lowers its nice value by PARENT_BOOST; each child puts its own back to the value the
server was started with before it runs anything else (raising one's nice value needs no
privilege). Unprivileged, nothing changes. docs/compat.md, "Spawning children".

A prefork child keeps the parent's priority until it has answered its first request
(StartBoost): when a burst of clients makes the parent start many children at once, the
children already serving keep-alive clients would otherwise get the CPU the new ones need
to become ready (about 6 ms each: copy-on-write faults and the first answer through
Python), and the last clients would wait seconds for their first byte (BENCHMARKS.md,
section 25).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

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
    _renice(0, base)


def _renice(tid: int, base: int) -> None:
    """One thread (0: the caller) to `base` (nice is per thread on Linux)."""
    if os.getpriority(os.PRIO_PROCESS, tid) != base:
        os.setpriority(os.PRIO_PROCESS, tid, base)


@dataclass
class StartBoost:
    """A prefork child's start-up at its parent's priority; release() once it has
    answered (or given up) its first request."""

    base: int  # the nice value the server was started with
    active: bool = True

    def release(self) -> None:
        """Every thread of this process back to the base value (nice is per thread on
        Linux, and the child's threads were started boosted); once."""
        if not self.active:
            return
        self.active = False
        for tid in os.listdir("/proc/self/task"):
            try:
                _renice(int(tid), self.base)
            except ProcessLookupError:  # a thread that has just ended
                pass
