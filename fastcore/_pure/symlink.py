"""Twin of src/fc_symlink.h: repeat a cached answer's symlink checks on a hit.

`links_ok(spec)` walks the encoding of core/linkcheck.py (mode byte, path, NUL per
component): lstat each path; a symlink passes only in SymLinksIfOwnerMatch mode when the
target can be stat()ed and has the link's owner, as Apache's resolve_symlink.  Any
failure (a vanished component, a refused link, a malformed spec) answers False, and the
hit goes to the full path, which builds the 403 and logs it.
"""
from __future__ import annotations

import os
import stat as stmod

from fastcore.core import fscount

OWNER = ord("O")
REFUSE = ord("N")


def links_ok(spec: bytes) -> bool:
    """True when every recorded component still passes its check."""
    i, n = 0, len(spec)
    while i < n:
        mode = spec[i]
        end = spec.find(b"\0", i + 1)
        if end < 0 or mode not in (OWNER, REFUSE) or end == i + 1:
            return False
        path = spec[i + 1:end]
        i = end + 1
        try:
            fscount.note(fscount.LSTAT)  # fastcore_fs_calls_total, as fc_symlink.h
            lst = os.lstat(path)
        except OSError:
            return False
        if not stmod.S_ISLNK(lst.st_mode):
            continue
        if mode != OWNER:
            return False
        try:
            fscount.note(fscount.STAT)
            tst = os.stat(path)
        except OSError:
            return False
        if tst.st_uid != lst.st_uid:
            return False
    return True
