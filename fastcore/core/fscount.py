"""The Python path's fs calls (stat, lstat, .htaccess opens), counted per thread while a
request is answered and handed to the shared stats when it ends (exchange.record_series):
fastcore_fs_calls_total{kind}, the tuning guide's syscall accounting made live."""
from __future__ import annotations

import threading

STAT, LSTAT, HTACCESS_OPEN = 0, 1, 2  # FS_KINDS' order (fc_stats.h's FC_FS_*)


class _Counts(threading.local):
    """One thread's counts since its last take()."""

    def __init__(self) -> None:
        self.n = [0, 0, 0]


_COUNTS = _Counts()


def note(kind: int) -> None:
    """One fs call of kind on behalf of this thread's current request."""
    _COUNTS.n[kind] += 1


def take() -> list[int]:
    """The counts since the last take(), reset."""
    out, _COUNTS.n = _COUNTS.n, [0, 0, 0]
    return out
