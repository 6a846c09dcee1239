"""The glue between the Python request path and the C engine (fastcore._fastpath).

HttpServer gets one FastCache per process and a log set per vhost whose every CustomLog
the C formatter can write; Connection hands its socket to FastConn first (run(),
serve_blocking) and falls back to the Python path with the engine's unserved bytes, and
copies every Python-cache entry into the engine (`_remember_fast`), keyed as the engine
looks requests up: (local-address key, raw Host value, raw target).
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.config.model import VirtualHost
from fastcore.core.request import Request

if TYPE_CHECKING:
    from fastcore.core.connection import Connection
    from fastcore.core.fastpath import Stored

_fp = load("fastpath")
WANT_READ, WANT_WRITE, CLOSED = 1, 2, 3
FAST_CACHE_MAX = 4096
FAST_CONTENT_BUDGET = 16 << 20


class EngineServerMixin:
    """HttpServer's side: the per-process FastCache and its log sets."""

    def drain(self) -> None:
        """Graceful stop: every further answer, Python's or the engine's, says
        Connection: close; a kept connection is never closed unannounced."""
        self.draining = True
        self.engine.set_draining(True)

    def _init_engine(self) -> None:
        """The C fast path: one FastCache per process, a log set per vhost whose every
        CustomLog the C formatter can write (else that vhost is never served by it)."""
        cfg = self.cfg
        self.engine = _fp.FastCache(FAST_CACHE_MAX, FAST_CONTENT_BUDGET)
        self.draining = False
        main = cfg.main
        self.engine.configure(self.server_line, main.limit_request_line,
                              main.limit_request_fields, main.limit_request_field_size)
        self.fast_logsets: dict[int, int] = {}
        self.fast_tried: set[tuple] = set()  # puts done (so a refusal is not retried)
        self.addr_keys: dict[tuple, int] = {}
        for i, v in enumerate((main, *cfg.vhosts)):
            logs = self.access_logs.get(id(v), [])
            progs = []
            for lg, fmt in zip(logs, self._log_formats.get(id(v), ()), strict=False):
                prog = _fp.compile_log_format(fmt) if lg.condition is None else None
                if prog is None:
                    break
                progs.append((lg.fd, prog, lg.buffered))
            else:
                if len(progs) == len(logs) and len(progs) <= 8:
                    self.engine.set_log_set(i, progs)
                    self.fast_logsets[id(v)] = i

    def addr_key(self, conn: Connection) -> int:
        """A small number per local address, when vhosts are told apart by it."""
        if not self.needs_local_addr:
            return 0
        local = conn.local_addr()
        key = (local[0], local[1]) if local else ("", 0)
        n = self.addr_keys.get(key)
        if n is None:
            n = self.addr_keys.setdefault(key, len(self.addr_keys) + 1)
        return n



class EngineConnMixin:
    """Connection's side: run the engine first, sync state, fill the engine's cache."""

    def _engine(self) -> tuple[int, float] | None:
        """Let the C engine serve what it can; None when the Python path takes over
        (its bytes are then in self.buf and may_read is spent)."""
        fc = self.fc
        self.engine_prepare()
        rc = fc.serve()
        self.engine_sync()
        if rc == _fp.WANT_READ:
            if fc.buffered:
                self.take_engine_bytes()  # a head in pieces: Python's Timeout and limits apply
            return WANT_READ, self.read_wait()
        if rc == _fp.WANT_WRITE:
            return WANT_WRITE, self.timeout
        if rc == _fp.CLOSED:
            self.closing = True
            return CLOSED, 0.0
        self.take_engine_bytes()
        return None

    def take_engine_bytes(self) -> None:
        """Move the engine's unserved bytes into self.buf (they count for MinRate)."""
        data = self.fc.take()
        self.buf += data
        if self.rt is not None:
            self.rt.got(len(data), self.requests, time.monotonic())

    def engine_idle(self) -> bool:
        """True when the connection's whole state could live in the engine (nothing
        buffered or pending on the Python side)."""
        return (self.fc is not None and not self.buf and not self.out and self.body is None
                and self.pending is None and not self.closing)

    def engine_sync(self) -> None:
        """Take back what the engine changed while it served without Python."""
        fc = self.fc
        if fc.requests != self.requests:
            self.requests = fc.requests
            self.timeout = fc.timeout
            self.ka_timeout = fc.keep_alive_timeout
        if fc.eof:
            self.eof = True
        if fc.closing:
            self.closing = True

    def engine_prepare(self) -> None:
        """Hand the Python side's view to the engine before it serves."""
        fc = self.fc
        fc.requests = self.requests
        fc.slot = self.slot
        fc.set_timeouts(self.timeout, self.ka_timeout)
        host = self.ctx.cached_host()
        if host is not None:
            fc.remote_host = host.encode("latin-1", "replace")

    def engine_blocking(self, first_wait: float) -> int:
        """serve_blocking's keep-alive loop in the engine; buffered bytes of a fallback or
        of a partial head are moved into self.buf."""
        fc = self.fc
        self.engine_prepare()
        rc = fc.serve_blocking(first_wait)
        self.engine_sync()
        if rc in (_fp.FALLBACK, _fp.WANT_READ):
            self.take_engine_bytes()
        return rc

    def _remember_fast(self, vhost: VirtualHost, req: Request, stored: Stored) -> None:
        """Give the C engine the entry the Python cache holds (same bytes, same log), when
        core/cacheable.py gave it a C log set."""
        srv = self.srv
        e = stored.entry
        if e.engine_log_set is None:
            return
        host = req.headers.get("host")
        key = (srv.addr_key(self), host, req.target, e.ino, e.mtime_ns, e.ctime_ns)
        tried = srv.fast_tried
        if key in tried:  # the engine refused it before: do not reopen the file per request
            return
        if len(tried) >= FAST_CACHE_MAX:
            tried.clear()
        tried.add(key)
        port = req.host_port or 80
        try:
            srv.engine.put(
                srv.addr_key(self), None if host is None else host.encode("latin-1"),
                req.target.encode("latin-1"), os.fsencode(e.fname), e.ino, e.size, e.mtime_ns,
                e.head, e.tail, strategy=e.strategy, keep_alive=bool(vhost.keep_alive),
                max_keep_alive=vhost.max_keep_alive_requests,
                keep_alive_timeout=float(vhost.keep_alive_timeout), timeout=float(vhost.timeout),
                log_set=e.engine_log_set, vhost=vhost.server_name.encode("latin-1", "replace"),
                log_values=_fp.log_values(vhost.server_name, req.host, port, e.uri, req.query,
                                          e.fname, e.ctype),
                want_content=stored.content is not None)
        except (OSError, ValueError, UnicodeError):
            pass  # not cacheable by the engine: the Python path keeps serving it
