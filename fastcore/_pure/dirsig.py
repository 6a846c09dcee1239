"""Twin of src/fc_dirsig.h: revalidate a cached listing with one lstat per entry.

`encode(stats)` makes the spec from (name, lstat result or None) pairs: the name, NUL,
1/0 (stat'd / failed), then inode, mode, size, mtime ns and ctime ns as little-endian
64-bit fields.  `stats_ok(dirname, spec)` is True while every entry stats the same.
"""
from __future__ import annotations

import os
import struct

_FIELDS = struct.Struct("<BQQqqq")
_FAILED = _FIELDS.pack(0, 0, 0, 0, 0, 0)


def encode(stats: list[tuple[bytes, os.stat_result | None]]) -> bytes:
    """The spec for stats_ok (names relative to the directory, without '/')."""
    out = []
    for name, st in stats:
        out.append(name + b"\0")
        out.append(_FAILED if st is None else _FIELDS.pack(
            1, st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return b"".join(out)


def stats_ok(dirname: bytes, spec: bytes) -> bool:
    """True when every entry of `spec` still stats as recorded (a malformed spec or an
    unreadable directory: False)."""
    if b"\0" in dirname:
        return False
    try:
        fd = os.open(dirname, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        i, n = 0, len(spec)
        while i < n:
            nul = spec.find(b"\0", i)
            if nul <= i or n - (nul + 1) < _FIELDS.size or b"/" in spec[i:nul]:
                return False
            name = spec[i:nul]
            flag, ino, mode, size, mtime, ctime = _FIELDS.unpack_from(spec, nul + 1)
            i = nul + 1 + _FIELDS.size
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:
                if flag != 0:
                    return False
                continue
            if flag != 1 or (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns,
                             st.st_ctime_ns) != (ino, mode, size, mtime, ctime):
                return False
        return True
    finally:
        os.close(fd)
