"""A rendered listing, kept for the next request that would get the very same bytes.

A listing's bytes depend on the request's configuration (the DirConfig object, kept
and compared by identity: a changed .htaccess or config is a new object), the URI,
the query, the signature line (Host, port), and on the directory only through its
names and, per listed entry, the entry's type, size and mtime.  A cached listing is
used only after the same checks Apache makes for a fresh one: one readdir of the
directory and one lstat per entry the listing stat'd, compared with what the cached
listing saw (inode, mode, size, mtime and ctime, in ns).  So an entry added, removed,
renamed, rewritten or touched shows on the very next request, without relying on a
change notification that could be missed or overflow; what the cache saves is the
per-entry Python work (configuration, type, icon, sort, row text), not the syscalls
(the lstat()s run in C without the GIL: src/fc_dirsig.h, twin _pure/dirsig.py).

Listings that may depend on more are not cached (EntryProbe.volatile): any directory
or symlink entry (its own walk and .htaccess), any entry decided under a configuration
other than the main request's (Require ip/env/host answers, <If> sections), a
HeaderName/ReadmeName that was found or is not a plain name of this directory, and
ScanHTMLTitles (file contents).  docs/compat.md, "Directory listing cache".
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore._ext import load

if TYPE_CHECKING:
    from fastcore.config.model import DirConfig
    from fastcore.modules.mod_autoindex.probe import EntryProbe

_ds = load("dirsig")  # stats_ok: the per-entry lstat()s in C (src/fc_dirsig.h)
MAX_LISTINGS = 32
MAX_BYTES = 16 << 20

@dataclass(frozen=True)
class ListingKey:
    """Everything of the request a listing's bytes depend on, besides its DirConfig."""

    dirname: str
    uri: str
    query: str
    signature: str


@dataclass
class CachedListing:
    """One rendered listing and what it was made from."""

    dirconf: DirConfig  # compared with `is`; kept alive so its id is not reused
    dir_id: tuple[int, int]
    names: list[str]
    spec: bytes  # each stat'd entry's lstat, as _pure/dirsig.encode packs it
    body: bytes
    streamed: bool


class ListingCache:
    """Rendered listings, least recently used first, bounded in count and bytes."""

    def __init__(self, max_listings: int = MAX_LISTINGS, max_bytes: int = MAX_BYTES) -> None:
        self.max_listings, self.max_bytes = max_listings, max_bytes
        self._items: OrderedDict[ListingKey, CachedListing] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: ListingKey, dirconf: DirConfig, dir_st: os.stat_result
            ) -> tuple[bytes, bool] | None:
        """(body, streamed) of a cached listing that is still what a fresh one would
        be, else None (and the stale listing is dropped)."""
        with self._lock:
            item = self._items.get(key)
        if item is None:
            return None
        fresh = item.dirconf is dirconf and item.dir_id == (dir_st.st_dev, dir_st.st_ino)
        if fresh:
            try:
                fresh = os.listdir(key.dirname) == item.names
            except OSError:
                fresh = False
        if fresh:
            fresh = _ds.stats_ok(os.fsencode(key.dirname), item.spec)
        with self._lock:
            if not fresh:
                if self._items.get(key) is item:
                    del self._items[key]
                    self._bytes -= len(item.body)
                return None
            if key in self._items:
                self._items.move_to_end(key)
        return item.body, item.streamed

    def put(self, key: ListingKey, dirconf: DirConfig, dir_st: os.stat_result,
            probe: EntryProbe, body: bytes, streamed: bool, scan_titles: bool) -> bool:
        """Keep a listing just rendered, when nothing but names and entry stats can
        change it (see the module text); whether it was kept."""
        names = probe.names
        if probe.volatile or scan_titles or names is None or len(body) > self.max_bytes:
            return False
        for absent in probe.absent:  # a HeaderName/ReadmeName (or a variant) would appear
            prefix = absent + "."
            if any(n == absent or n.startswith(prefix) for n in names):
                return False
        cut = len(probe.dir_slash)
        if any(not full.startswith(probe.dir_slash) or "/" in full[cut:]
               for full in probe.stats):
            return False
        spec = _ds.encode([(os.fsencode(full[cut:]), st) for full, st in probe.stats.items()])
        item = CachedListing(dirconf, (dir_st.st_dev, dir_st.st_ino), list(names), spec,
                             body, streamed)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._items[key] = item
            self._bytes += len(body)
            while self._items and (len(self._items) > self.max_listings
                                   or self._bytes > self.max_bytes):
                _k, gone = self._items.popitem(last=False)
                self._bytes -= len(gone.body)
        return True

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


LISTINGS = ListingCache()
