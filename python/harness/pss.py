"""Proportional set size of a process tree, from /proc/PID/smaps_rollup.

PSS charges each shared page to the processes mapping it in proportion, so the sum over
a server's parent and children is the memory the server really costs: the seed's first
concern and the issue's memory target. Every process is counted the same way.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

# Reuse the server's own reader (fastcore/mpm/pss.py) so fastcore's status figures and the
# harness count PSS identically; fall back to the same reading here if it is absent.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
try:
    from fastcore.mpm.pss import pss_kb as _server_pss_kb
except Exception:  # the package is being built in parallel: any import failure -> ours
    _server_pss_kb = None


@dataclass(frozen=True)
class ProcPss:
    pid: int
    comm: str
    pss_kib: int


def pss_kib(pid: int) -> int | None:
    """Pss of one process in KiB, or None if it is gone or unreadable."""
    if _server_pss_kb is not None:
        try:
            return _server_pss_kb(pid)
        except (OSError, ValueError, IndexError):
            return None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def tree_pss(pids: list[int]) -> list[ProcPss]:
    """PSS of each live pid (vanished ones are skipped)."""
    out = []
    for pid in pids:
        kib = pss_kib(pid)
        if kib is not None:
            out.append(ProcPss(pid, _comm(pid), kib))
    return out


def total_mib(rows: list[ProcPss]) -> float:
    return sum(r.pss_kib for r in rows) / 1024.0
