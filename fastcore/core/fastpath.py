"""The fast path for cached static files (issue 6 point 3), as a mixin of Connection.

Cache entries are CacheEntry records of str/int/bytes (the C engine keeps the same as C
structs).  One stat() validates an entry (same_file: inode, size, mtime, ctime); the
open-descriptor cache is per thread and reopened whenever inode, size or mtime change.
"""
from __future__ import annotations

import os
from typing import NamedTuple

from fastcore._ext import load
from fastcore.config.model import DirConfig, VirtualHost
from fastcore.core.request import Request
from fastcore.core.static import accept_ranges
from fastcore.core.transaction import Transaction
from fastcore.modules.mod_authz_core import RequireGroup, authz_config
from fastcore.modules.mod_env import request_env
from fastcore.modules.mod_mime import with_default_charset

_sf = load("sendfile")
SMALL_FILE = 65536        # served from memory (writev) below this size
CACHE_MAX = 4096          # mapping entries
CONTENT_BUDGET = 16 << 20  # bytes of small-file content kept per process
FD_CACHE_MAX = 32         # open descriptors of large files, per thread
_NOCACHE = ("range", "if-match", "if-none-match", "if-modified-since",
            "if-unmodified-since", "if-range")


class CacheInfo(NamedTuple):
    """What the handler hands over for a cacheable plain-file answer (Response.cache)."""

    fname: str
    ino: int
    size: int
    mtime_ns: int
    mtime: int
    tag: str
    ctype: str | None
    lang: str | None
    enc: str | None
    dc: DirConfig
    ctime_ns: int


class CacheEntry(NamedTuple):
    """One Python-cache entry; valid while the file's stat shows the same identity."""

    fname: str
    ino: int
    size: int
    mtime_ns: int
    mid: bytes
    ctype_line: bytes
    content: bytes | None
    dc: DirConfig
    strategy: str
    uri: str
    ctype: str | None
    ctime_ns: int


def same_file(st: os.stat_result, ino: int, size: int, mtime_ns: int, ctime_ns: int) -> bool:
    """The identity both caches check with one stat(): inode, size, mtime and ctime (the
    kernel sets ctime on every change, so a same-size rewrite that puts the old mtime
    back, as cp -p does, is seen too)."""
    return (st.st_ino == ino and st.st_size == size and st.st_mtime_ns == mtime_ns
            and st.st_ctime_ns == ctime_ns)


def _static_authz(group: RequireGroup | None) -> bool:
    """True when the Require tree cannot depend on the client (cacheable)."""
    if group is None:
        return True
    for item in group.items:
        if isinstance(item, RequireGroup) or item.kind != "all" or item.negated:
            return False
    return True


def dirconf_cacheable(dc: DirConfig) -> bool:
    """A per-directory configuration's share in whether an answer may be cached: its
    Require cannot depend on the client, it needs no reverse lookup (%h) and it sets no
    mod_env variable (the fast paths log without the request's environment)."""
    return (_static_authz(authz_config(dc).authz) and (dc.hostname_lookups or "off") == "off"
            and not request_env(dc))


def produced_by(txn: Transaction, walk_cacheable: bool, dc: DirConfig) -> None:
    """Record a walk (and its merged configuration) the answer depends on: the original
    request's, a DirectoryIndex sub-request's.  The answer may be cached only when every
    one of them may: a .htaccess read by any of them can change it."""
    if not walk_cacheable or not dirconf_cacheable(dc):
        txn.cacheable = False



class FastPathMixin:
    """_fast/_remember/_file_fd for Connection (uses its srv, vh, requests, _queue,
    _keepalive, _conn_header and _finish)."""

    def _fast(self, txn: Transaction, req: Request, vhost: VirtualHost) -> bool | None:
        srv = self.srv
        entry = srv.cache.get((id(vhost), req.target))
        if entry is None:
            return None
        hd = req.headers
        for k in _NOCACHE:
            if k in hd:
                return None
        fname, ino, size, mtime_ns, mid, ctype_line, content, dc, strategy, uri, ctype, ctime_ns = entry
        try:
            st = os.stat(fname)
        except OSError:
            srv.cache.pop((id(vhost), req.target), None)
            return None
        if not same_file(st, ino, size, mtime_ns, ctime_ns):
            srv.cache.pop((id(vhost), req.target), None)
            return None
        keep = self._keepalive(req, 200, False)
        header = b"".join((b"HTTP/1.1 200 OK\r\n", _sf.date_header(), srv.server_line, mid,
                           self._conn_header(keep, req), ctype_line, b"\r\n"))
        head_only = req.method == "HEAD"
        txn.dirconf = dc
        txn.uri_path = uri
        txn.filename = fname
        txn.ctype = ctype
        if head_only or size == 0:
            self._queue(header, -1, 0, 0, "auto", b"", False)
        elif content is not None:
            self._queue(header, -1, 0, 0, "auto", content, False)
        else:
            ffd = self._file_fd(fname, st)
            self._queue(header, ffd, 0, size, strategy, None, False)
        self.unanswered = self.unanswered_req = None  # queued (Connection._internal_error)
        txn.status = 200
        txn.bytes_sent = 0 if head_only else size
        txn.bytes_out = len(header) + txn.bytes_sent
        self._finish(txn, keep)
        return True

    def _remember(self, vhost: VirtualHost, target: str, info: CacheInfo, uri: str) -> None:
        srv = self.srv
        fname, ino, size, mtime_ns, mtime, tag, ctype, lang, enc, dc, ctime_ns = info
        if not dirconf_cacheable(dc) or size == 0:
            return
        if len(srv.cache) >= CACHE_MAX:
            srv.cache.clear()
            srv.content_bytes = 0
        parts = [b"Last-Modified: ", _sf.http_date(mtime), b"\r\n", b"ETag: ", tag.encode(),
                 b"\r\nAccept-Ranges: ", accept_ranges(dc).encode(), b"\r\nContent-Length: ",
                 str(size).encode(), b"\r\n"]
        if enc:
            parts[0:0] = [b"Content-Encoding: ", enc.encode("latin-1"), b"\r\n"]
        if lang:
            parts[0:0] = [b"Content-Language: ", lang.encode("latin-1"), b"\r\n"]
        ctype = with_default_charset(ctype, dc)  # the bytes both caches send
        ctype_line = b"Content-Type: " + ctype.encode("latin-1") + b"\r\n" if ctype else b""
        content = None
        mmap_ok = dc.enable_mmap is not False
        if 0 < size < SMALL_FILE and mmap_ok and srv.content_bytes + size <= CONTENT_BUDGET:
            try:
                with open(fname, "rb") as f:
                    content = f.read(size + 1)
            except OSError:
                return
            if len(content) != size:
                return
            srv.content_bytes += size
        strategy = "sendfile" if dc.enable_sendfile else ("writev" if mmap_ok else "readwrite")
        srv.cache[(id(vhost), target)] = CacheEntry(fname, ino, size, mtime_ns, b"".join(parts),
                                                    ctype_line, content, dc, strategy, uri,
                                                    ctype, ctime_ns)

    def _file_fd(self, fname: str, st: os.stat_result) -> int:
        """An open descriptor from the bounded cache, reopened when the file changed."""
        fds = self.srv.fds
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

    # ------------------------------------------------------------ emitting
