"""The Python cache of static answers (issue 6 point 3): functions Connection calls.

What may be cached, and with which bytes, is core/cacheable.py's decision; this file
stores its CacheEntry (with the small files' bytes) and serves it.  The C engine keeps the
same entries as C structs.  One stat() validates an entry (same_file: inode, size, mtime,
ctime); the open-descriptor cache is per thread and reopened whenever inode, size or mtime change.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.config.model import VirtualHost
from fastcore.core.cacheable import CacheEntry, CacheInfo, entry_for
from fastcore.core.request import Request
from fastcore.core.transaction import Transaction

if TYPE_CHECKING:
    from fastcore.core.connection import Connection
    from fastcore.core.server import HttpServer

_sf = load("sendfile")
SMALL_FILE = 65536        # served from memory (writev) below this size
CACHE_MAX = 4096          # mapping entries
CONTENT_BUDGET = 16 << 20  # bytes of small-file content kept per process
FD_CACHE_MAX = 32         # open descriptors of large files, per thread


@dataclass(frozen=True, slots=True)
class Stored:
    """What the Python cache keeps per (vhost, target): the decision's entry and, for a
    small file within the content budget, its bytes."""

    entry: CacheEntry
    content: bytes | None


def same_file(st: os.stat_result, ino: int, size: int, mtime_ns: int, ctime_ns: int) -> bool:
    """The identity both caches check with one stat(): inode, size, mtime and ctime (the
    kernel sets ctime on every change, so a same-size rewrite that puts the old mtime
    back, as cp -p does, is seen too)."""
    return (st.st_ino == ino and st.st_size == size and st.st_mtime_ns == mtime_ns
            and st.st_ctime_ns == ctime_ns)


def serve_cached(conn: Connection, txn: Transaction, req: Request, vhost: VirtualHost
                 ) -> Stored | None:
    """Answer from the Python cache (the caller checked may_use_cache); the entry
    served, or None when the full path must answer."""
    srv = conn.srv
    key = (id(vhost), req.target)
    stored = srv.cache.get(key)
    if stored is None:
        return None
    e = stored.entry
    try:
        st = os.stat(e.fname)
    except OSError:
        srv.cache.pop(key, None)
        return None
    if not same_file(st, e.ino, e.size, e.mtime_ns, e.ctime_ns):
        srv.cache.pop(key, None)
        return None
    keep = conn._keepalive(req, 200, False)
    header = b"".join((b"HTTP/1.1 200 OK\r\n", _sf.date_header(), srv.server_line, e.head,
                       conn._conn_header(keep, req), e.tail, b"\r\n"))
    head_only = req.method == "HEAD"
    txn.dirconf = e.dc
    txn.uri_path = e.uri
    txn.filename = e.fname
    txn.ctype = e.ctype
    if head_only:
        conn._queue(header, -1, 0, 0, "auto", b"", False)
    elif stored.content is not None:
        conn._queue(header, -1, 0, 0, "auto", stored.content, False)
    else:
        ffd = file_fd(srv, e.fname, st)
        conn._queue(header, ffd, 0, e.size, e.strategy, None, False)
    conn.unanswered = conn.unanswered_req = None  # queued (Connection._internal_error)
    txn.status = 200
    txn.bytes_sent = 0 if head_only else e.size
    txn.bytes_out = len(header) + txn.bytes_sent
    conn._finish(txn, keep)
    return stored


def remember(srv: HttpServer, vhost: VirtualHost, req: Request, served: CacheInfo,
             txn: Transaction) -> Stored | None:
    """Keep the entry core/cacheable.py decides for a served file; what was stored."""
    entry = entry_for(txn, served, req.target, srv.fast_logsets.get(id(vhost)))
    if entry is None:
        return None
    if len(srv.cache) >= CACHE_MAX:
        srv.cache.clear()
        srv.content_bytes = 0
    size = entry.size
    content = None
    if size < SMALL_FILE and entry.dc.enable_mmap is not False \
            and srv.content_bytes + size <= CONTENT_BUDGET:
        try:
            with open(entry.fname, "rb") as f:
                content = f.read(size + 1)
        except OSError:
            return None
        if len(content) != size:
            return None
        srv.content_bytes += size
    stored = Stored(entry, content)
    srv.cache[(id(vhost), req.target)] = stored
    return stored


def file_fd(srv: HttpServer, fname: str, st: os.stat_result) -> int:
    """An open descriptor from the bounded cache, reopened when the file changed."""
    fds = srv.fds
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
