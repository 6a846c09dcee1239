"""Twin of src/fc_rwprobe.h and fc_rwfixed.h: the file-system tests a cached outcome rests
on (mod_rewrite's -f/-d/-s/-x/-l conditions, a txt map's file), repeated per engine hit,
and the fixed answers (a redirect's bytes) of issue 14.

A probe is (path bytes, kind, mode, size, mtime_ns, ctime_ns, ino), as FastCache.put and
put_fixed take it; the kinds and meanings are core/cacheable.py's PROBE_*.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from fastcore.core import fscount

if TYPE_CHECKING:
    from fastcore._pure.fastpath import FastCache, _Entry

PROBE_STAT, PROBE_LSTAT, PROBE_IDENTITY = 0, 1, 2
PROBE_ABSENT = -1
PROBES_MAX = 64  # FC_PROBES_MAX: more and the entry stays with Python


def probe_holds(p: tuple) -> bool:
    """fc_probe_holds: the test comes out as recorded (a failing stat is "absent")."""
    path, kind, mode, size, mtime_ns, ctime_ns, ino = p
    try:
        fscount.note(fscount.LSTAT if kind == PROBE_LSTAT else fscount.STAT)
        st = os.lstat(path) if kind == PROBE_LSTAT else os.stat(path)
    except (OSError, ValueError):
        return bool(mode == PROBE_ABSENT)
    if mode != st.st_mode:
        return False
    if kind == PROBE_IDENTITY:
        return bool((size, mtime_ns, ctime_ns, ino)
                    == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return bool(size == (1 if st.st_size > 0 else 0))


def set_probes(e: _Entry, probes: tuple) -> bool:
    """The entry's copy of the probes (as _set_probes in _fastpath.pyx); False past
    PROBES_MAX."""
    if len(probes) > PROBES_MAX:
        return False
    for p in probes:
        if p[1] not in (PROBE_STAT, PROBE_LSTAT, PROBE_IDENTITY):
            raise ValueError("a probe's kind is 0, 1 or 2")
    e.probes = tuple((bytes(p[0]), *(int(v) for v in p[1:7])) for p in probes)
    return True


def put_fixed(c: FastCache, e: _Entry, addr_key: int, host: bytes | None, target: bytes,
              status: int, status_line: bytes, mid: bytes, ctype_line: bytes, body: bytes, *,
              keep_alive: bool = True, max_keep_alive: int = 100,
              keep_alive_timeout: float = 5.0, timeout: float = 60.0, log_set: int = -1,
              log_values: tuple = (b"",) * 7, vhost: bytes = b"", probes: tuple = ()) -> bool:
    """FastCache.put_fixed: fill the fresh entry `e` as a fixed answer and link it
    (src/fc_rwfixed.h's fc_cache_link_fixed: within the content budget)."""
    from fastcore._pure.fastpath import HDR_MAX, NLV

    if not 300 <= status <= 599 or not status_line.endswith(b"\r\n"):
        raise ValueError("a fixed answer has a 3xx-5xx status and a status line")
    if len(status_line) + len(mid) + len(ctype_line) + len(c.server_line) + 120 > HDR_MAX:
        return False
    if len(log_values) != NLV:
        raise ValueError("log_values needs 7 items")
    if log_set >= len(c.sets):
        raise ValueError(f"log set {log_set} was not set")
    e.path, e.dev, e.ino, e.size, e.mtime_ns, e.ctime_ns = b"", 0, 0, len(body), 0, 0
    e.mid, e.ctype, e.strategy = bytes(mid), bytes(ctype_line), "writev"
    e.exp_kind, e.exp_val = 0, 0
    e.keep_alive, e.max_ka = bool(keep_alive), max_keep_alive
    e.ka_timeout, e.timeout, e.log_set = keep_alive_timeout, timeout, log_set
    e.lv, e.vhost, e.refs, e.dead = tuple(bytes(v) for v in log_values), bytes(vhost), 1, False
    e.content, e.ffd = bytes(body), -1
    e.fixed, e.sline, e.probes = status, bytes(status_line), ()
    e.links, e.peer = b"", b""  # no symlink or Require ip checks on a fixed answer
    e.variants, e.upgrade, e.env = (), b"", ()  # nor Accept-Encoding, Upgrade, SetEnvIf
    e.deps = ()  # nor directory watches (fixedanswer.py refuses scopes that need them)
    if not set_probes(e, probes):
        return False
    with c.lock:
        if c.content_bytes + len(body) > c.budget:
            return False
        c.content_bytes += len(body)
    c._link(addr_key, host, target, e)
    return True
