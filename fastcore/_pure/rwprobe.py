"""Twin of src/fc_rwprobe.h: the file-system tests a cached outcome rests on (mod_rewrite's
-f/-d/-s/-x/-l conditions, a txt map's file), repeated per engine hit (issue 14).

A probe is (path bytes, kind, mode, size, mtime_ns, ctime_ns, ino), as FastCache.put and
put_fixed take it; the kinds and meanings are core/cacheable.py's PROBE_*.
"""
from __future__ import annotations

import os

PROBE_STAT, PROBE_LSTAT, PROBE_IDENTITY = 0, 1, 2
PROBE_ABSENT = -1
PROBES_MAX = 64  # FC_PROBES_MAX: more and the entry stays with Python


def probe_holds(p: tuple) -> bool:
    """fc_probe_holds: the test comes out as recorded (a failing stat is "absent")."""
    path, kind, mode, size, mtime_ns, ctime_ns, ino = p
    try:
        st = os.lstat(path) if kind == PROBE_LSTAT else os.stat(path)
    except (OSError, ValueError):
        return bool(mode == PROBE_ABSENT)
    if mode != st.st_mode:
        return False
    if kind == PROBE_IDENTITY:
        return bool((size, mtime_ns, ctime_ns, ino)
                    == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return bool(size == (1 if st.st_size > 0 else 0))
