"""Proportional set size of the server's processes, from /proc/PID/smaps_rollup.

PSS charges each shared page to the processes sharing it, so the sum over parent and
children is the real memory the server costs; the average child PSS is the "average
process size" the tuning guide divides available memory by to size MaxRequestWorkers.
"""
from __future__ import annotations

import os


def pss_kb(pid: int) -> int:
    """PSS of one process in kB (raises OSError if it is gone or unreadable)."""
    with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
        for line in fh:
            if line.startswith(b"Pss:"):
                return int(line.split()[1])
    raise OSError(f"no Pss line in /proc/{pid}/smaps_rollup")


def child_pids(parent: int) -> list[int]:
    """Direct children of `parent`, from /proc/PID/task/*/children."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{parent}/task/{tid}/children", "rb") as fh:
                out.extend(int(p) for p in fh.read().split())
        except OSError:
            continue
    return sorted(set(out))


def _parent_pid(pid_file_or_pid: str | int) -> int:
    if isinstance(pid_file_or_pid, int):
        return pid_file_or_pid
    with open(pid_file_or_pid, encoding="ascii") as fh:
        return int(fh.read().split()[0])


def children_pss(pid_file_or_pid: str | int) -> list[int]:
    """PSS in kB of each child of the server whose PidFile (or parent pid) is given;
    children that exit while being read are skipped."""
    result = []
    for pid in child_pids(_parent_pid(pid_file_or_pid)):
        try:
            result.append(pss_kb(pid))
        except (OSError, ValueError):
            continue
    return result


def parent_pss(pid_file_or_pid: str | int) -> int:
    """PSS in kB of the parent process."""
    return pss_kb(_parent_pid(pid_file_or_pid))


def average_child_pss(pid_file_or_pid: str | int) -> float:
    """Average child PSS in kB (0.0 without children)."""
    values = children_pss(pid_file_or_pid)
    return sum(values) / len(values) if values else 0.0
