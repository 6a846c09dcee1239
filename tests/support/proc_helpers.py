"""Child-process helpers: forked children of the accept and scoreboard tests, and the
stop of a server started in its own session (its whole process group)."""
from __future__ import annotations

import os
import select
import signal
import subprocess
from collections.abc import Callable


def fork_child(body: Callable[[], object]) -> int:
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


def stop_group(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM to the process group of `proc` (started with start_new_session), then
    SIGKILL if it is not gone within `timeout` seconds."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
