"""Syscalls per request: attach `strace -f -c` to every thread of a running server, send
a fixed number of requests with ab -c1, detach, divide.

Attaching (rather than launching under strace) keeps start-up out of the count; -f follows
processes and threads created during the load (a prefork parent spawning children). An
optional idle measurement gives the server's background rate (timers, maintenance
loops), which syscount.py subtracts scaled to the load's duration; the budget test does
not subtract anything.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

STRACE = "/usr/bin/strace"


@dataclass
class Count:
    """strace -c totals: calls per syscall name, and wall-clock seconds traced."""

    calls: dict[str, int]
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def parse_summary(text: str) -> dict[str, int]:
    """calls per syscall from strace -c output (the 'total' line is dropped)."""
    calls: dict[str, int] = {}
    for line in text.splitlines():
        tok = line.split()
        if len(tok) < 5 or not tok[0][0].isdigit() or tok[-1] == "total":
            continue
        try:
            calls[tok[-1]] = calls.get(tok[-1], 0) + int(tok[3])
        except ValueError:
            continue
    return calls


def threads_of(pids: list[int]) -> list[int]:
    """Every task (thread) id of the given processes."""
    tids = []
    for pid in pids:
        try:
            tids += [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
    return sorted(set(tids))


def count_attached(stderr: str) -> int:
    """Threads strace reports attached ('Process N attached' or '... attached with K threads')."""
    n = 0
    for line in stderr.splitlines():
        if " attached" in line:
            m = re.search(r"attached with (\d+) threads", line)
            n += int(m.group(1)) if m else 1
    return n


def traced(pids: list[int], action: Callable[[], None], attach_timeout: float = 10.0,
           run_timeout: float = 300.0) -> Count:
    """Run action() while strace -f -c is attached to all threads of pids."""
    pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
    tids = threads_of(pids)
    if not tids:
        raise RuntimeError("no process to trace")
    with tempfile.TemporaryDirectory(prefix="fc-strace-") as td:
        out, err = os.path.join(td, "summary"), os.path.join(td, "stderr")
        cmd = [STRACE, "-f", "-c", "-o", out]
        for pid in pids:  # with -f, -p PID attaches every thread of PID (one message each)
            cmd += ["-p", str(pid)]
        with open(err, "wb") as ef:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=ef)
        try:
            deadline = time.monotonic() + attach_timeout
            while True:
                with open(err, "rb") as f:
                    attached = count_attached(f.read().decode("utf-8", "replace"))
                if attached >= len(tids):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    with open(err, "rb") as f:
                        msg = f.read().decode("utf-8", "replace")[-400:]
                    raise RuntimeError(f"strace attached to {attached}/{len(tids)} threads: {msg}")
                time.sleep(0.02)
            t0 = time.monotonic()
            action()
            seconds = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(run_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        with open(out) as f:
            return Count(parse_summary(f.read()), seconds)


@dataclass
class PerRequest:
    """Syscalls per request: total and per syscall, after the optional idle subtraction."""

    requests: int
    total: float
    by_call: dict[str, float]
    raw_total: int
    idle_rate: float  # syscalls per second when idle (0 if not measured)
    seconds: float


def per_request(load: Count, requests: int, idle: Count | None = None) -> PerRequest:
    by_call: dict[str, float] = {}
    rate = 0.0
    for name, n in load.calls.items():
        base = 0.0
        if idle and idle.seconds > 0:
            base = idle.calls.get(name, 0) / idle.seconds * load.seconds
        by_call[name] = max(0.0, n - base) / requests
    if idle and idle.seconds > 0:
        rate = idle.total / idle.seconds
    by_call = dict(sorted(by_call.items(), key=lambda kv: (-kv[1], kv[0])))
    return PerRequest(requests, sum(by_call.values()), by_call, load.total, rate, load.seconds)


def breakdown(pr: PerRequest, min_share: float = 0.005) -> str:
    """'read 1.00, writev 1.00, ...' for calls that occur at least min_share per request."""
    return ", ".join(f"{k} {v:.2f}" for k, v in pr.by_call.items() if v >= min_share)
