"""Forked-child helpers shared by the accept tests (unit and integration)."""
from __future__ import annotations

import os
import select
import signal
from collections.abc import Callable


def fork_child(body: Callable[[], None]) -> int:
    """Run body in a forked child that always ends with os._exit (0 only if body returned)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            body()
            code = 0
        finally:
            os._exit(code)
    return pid


def reap(pid: int, timeout: float = 10.0) -> int:
    """waitpid with a bound: a child that hangs is killed and the test fails."""
    for _ in range(int(timeout / 0.01)):
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            return os.waitstatus_to_exitcode(status)
        select.select([], [], [], 0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} did not finish within {timeout} s")
