"""The Python cache of static-file answers (issue 6 point 3): ResponseCache, owned by
HttpServer; Connection asks it (lookup) and sends what it finds.

What may be cached, and with which bytes, is core/cacheable.py's decision; this file
stores its CacheEntry (with a small file's bytes) and finds it again.  The C engine keeps
the same entries as C structs.  One stat() validates an entry (same_file: inode, size,
mtime, ctime); the open-descriptor cache is per thread and reopened whenever inode, size
or mtime change.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from fastcore._ext import load
from fastcore.config.model import VirtualHost
from fastcore.core.cacheable import CacheEntry, CacheInfo, entry_for, neg_answers, probes_hold
from fastcore.core.request import Request
from fastcore.core.transaction import Transaction

_dirwatch = load("fastpath").dirwatch()  # the process's watches (issue 12)
SMALL_FILE = 65536        # served from memory (writev) below this size
CACHE_MAX = 4096          # mapping entries
CONTENT_BUDGET = 16 << 20  # bytes of small-file content kept per process
FD_CACHE_MAX = 32         # open descriptors of large files, per thread
_fp = load("fastpath")    # links_ok, peer_granted: a hit's checks (fc_symlink.h, fc_ipmatch.h)


@dataclass(frozen=True, slots=True)
class Stored:
    """What the Python cache keeps per (vhost, target): the decision's entry and, for a
    small file within the content budget, its bytes."""

    entry: CacheEntry
    content: bytes | None


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A valid entry for a request, with the stat() that validated it."""

    stored: Stored
    st: os.stat_result


def same_file(st: os.stat_result, ino: int, size: int, mtime_ns: int, ctime_ns: int) -> bool:
    """The identity both caches check with one stat(): inode, size, mtime and ctime (the
    kernel sets ctime on every change, so a same-size rewrite that puts the old mtime
    back, as cp -p does, is seen too)."""
    return (st.st_ino == ino and st.st_size == size and st.st_mtime_ns == mtime_ns
            and st.st_ctime_ns == ctime_ns)


class ResponseCache:
    """The per-process Python cache of static-file answers, and the per-thread cache of
    open descriptors of the large ones; HttpServer owns one, connections ask it."""

    def __init__(self) -> None:
        self.entries: dict[tuple[int, str], Stored] = {}
        self.content_bytes = 0
        self._local = threading.local()  # per-thread descriptor cache (worker MPM threads)
        self._fd_dicts: list[dict[str, tuple[int, int, int, int]]] = []
        self._fd_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, vhost: VirtualHost, target: str) -> Stored | None:
        return self.entries.get((id(vhost), target))

    @property
    def fds(self) -> dict[str, tuple[int, int, int, int]]:
        """This thread's open-descriptor cache: a descriptor is closed only by the thread
        that uses it, so a replaced file never pulls an fd from under another sender."""
        d: dict[str, tuple[int, int, int, int]] | None = getattr(self._local, "fds", None)
        if d is None:
            d = self._local.fds = {}
            with self._fd_lock:
                self._fd_dicts.append(d)
        return d

    def open_descriptors(self) -> int:
        """How many descriptors the per-thread caches hold open, all threads together."""
        with self._fd_lock:
            return sum(len(d) for d in self._fd_dicts)

    def clear(self) -> None:
        """After fork (and at exit): drop the entries and close every cached descriptor."""
        with self._fd_lock:
            for d in self._fd_dicts:
                for fd, *_ in d.values():
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                d.clear()
            self._fd_dicts.clear()
        self._local = threading.local()
        self.entries.clear()
        self.content_bytes = 0

    def lookup(self, vhost: VirtualHost, req: Request, client_ip: str = "") -> CacheHit | None:
        """The entry for req (the caller checked cacheable.may_use_cache) when the file is
        still the same, its symlink checks pass and its client rule grants `client_ip`; a
        stale entry is dropped."""
        key = (id(vhost), req.target)
        stored = self.entries.get(key)
        if stored is None:
            return None
        e = stored.entry
        try:
            st = os.stat(e.fname)
        except OSError:
            self.entries.pop(key, None)
            return None
        if not same_file(st, e.ino, e.size, e.mtime_ns, e.ctime_ns) or (
                e.deps and not _dirwatch.valid(e.deps)):  # a .htaccess changed there
            self.entries.pop(key, None)
            return None
        if e.neg is not None and not neg_answers(e.neg, req.headers, req.proto_num):
            return None  # another client's choice among the variants (not stale)
        if e.host_bound and req.headers.get("host") != e.host:
            return None  # another Host spelling of the vhost: its own outcome (not stale)
        if e.probes and not probes_hold(e.probes):  # a tested file came or went
            self.entries.pop(key, None)
            return None
        if e.links and not _fp.links_ok(e.links):
            # a component turned into a refused symlink: the full path answers (403)
            self.entries.pop(key, None)
            return None
        if e.host_need:
            return None  # a name to look up (or reuse) first: the full path does it
        if e.peer_rule and not _fp.peer_granted(e.peer_rule, client_ip.encode("latin-1")):
            return None  # a client the rule does not grant: the full path's 403
        return CacheHit(stored, st)

    def remember(self, vhost: VirtualHost, req: Request, served: CacheInfo, txn: Transaction,
                 engine_log_set: int | None) -> Stored | None:
        """Keep the entry core/cacheable.py decides for a served file; what was stored."""
        entry = entry_for(txn, served, req.target, engine_log_set)
        if entry is None:
            return None
        if len(self.entries) >= CACHE_MAX:
            self.entries.clear()
            self.content_bytes = 0
        size = entry.size
        content = None
        if size < SMALL_FILE and entry.dc.enable_mmap is not False \
                and self.content_bytes + size <= CONTENT_BUDGET:
            try:
                with open(entry.fname, "rb") as f:
                    content = f.read(size + 1)
            except OSError:
                return None
            if len(content) != size:
                return None
            self.content_bytes += size
        stored = Stored(entry, content)
        self.entries[(id(vhost), req.target)] = stored
        return stored

    def file_fd(self, fname: str, st: os.stat_result) -> int:
        """An open descriptor from the bounded cache, reopened when the file changed."""
        fds = self.fds
        hit = fds.get(fname)
        if hit is not None:
            fd, ino, size, mtime_ns = hit
            if (ino, size, mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns):
                return fd
            os.close(fd)
            del fds[fname]
        if len(fds) >= FD_CACHE_MAX:
            for fd, *_ in fds.values():
                os.close(fd)
            fds.clear()
        fd = os.open(fname, os.O_RDONLY | os.O_CLOEXEC)
        fds[fname] = (fd, st.st_ino, st.st_size, st.st_mtime_ns)
        return fd
