"""The glue between the Python request path and the C engine (fastcore._fastpath).

`Engine` is what a process shares: one FastCache, a log set per vhost whose every
CustomLog the C formatter can write, the local-address keys, the draining flag; HttpServer
owns one.  `EngineLink` is what a connection owns: its FastConn (the engine's state of that
connection), with the hand-over both ways: `prepare` before the engine serves, `state`
after, `take` for the bytes it left unserved.  Python-cache entries are copied into the
engine (`Engine.remember`), keyed as the engine looks requests up: (local-address key, raw
Host value, raw target).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastcore._ext import load
from fastcore.config.model import ServerConfig, VirtualHost
from fastcore.core.request import Request
from fastcore.modules.mod_log_config import AccessLog, escape

if TYPE_CHECKING:
    from fastcore.core.cacheable import Probe
    from fastcore.core.connection import Connection
    from fastcore.core.fastpath import Stored
    from fastcore.core.fixedanswer import FixedAnswer

_fp = load("fastpath")
WANT_READ, WANT_WRITE, CLOSED = 1, 2, 3
FAST_CACHE_MAX = 4096
FAST_CONTENT_BUDGET = 16 << 20
ENV_ITEM = re.compile(r"%[<>!,0-9]*(?:\{[^}]*\})?[<>]?e")  # a log format's %{VAR}e

# The extension's classes (fastcore._fastpath or its twin fastcore._pure.fastpath): the
# Cython ones carry no annotations mypy can read, so they are named here, not typed.
FastCache = Any
FastConn = Any


class Engine:
    """A process's C engine: its FastCache and what decides what goes into it."""

    def __init__(self, cfg: ServerConfig, server_line: bytes,
                 access_logs: dict[int, list[AccessLog]], log_formats: dict[int, list[str]],
                 needs_local_addr: bool) -> None:
        self.cache: FastCache = _fp.FastCache(FAST_CACHE_MAX, FAST_CONTENT_BUDGET)
        self.draining = False
        self.needs_local_addr = needs_local_addr
        self.log_sets: dict[int, int] = {}  # id(vhost) -> the engine's log set
        self.tried: set[tuple] = set()  # puts done (key, identity, deps)
        self.addr_keys: dict[tuple[str, int], int] = {}
        main = cfg.main
        # mod_status's VHost column is "name:local port"; the port, when the
        # configuration fixes it, per vhost (one port in <VirtualHost>, or one Listen)
        listen_ports = {la.port for la in cfg.listeners}
        self.fixed_ports: dict[int, int] = {}
        for v in (main, *cfg.vhosts):
            ports = {p for _h, p in v.addrs} if v.addrs else listen_ports
            if len(ports) == 1 and 0 not in ports:
                self.fixed_ports[id(v)] = next(iter(ports))
        self.cache.configure(server_line, main.limit_request_line,
                             main.limit_request_fields, main.limit_request_field_size)
        # vhosts whose access logs show the request's environment (%{VAR}e), which a
        # cache hit does not have: a producer that sets variables (mod_rewrite's [E=],
        # SCRIPT_URL) keeps their answers out of both caches
        self.env_logged: set[int] = {
            id(v) for v in (main, *cfg.vhosts)
            if any(ENV_ITEM.search(fmt) for fmt in log_formats.get(id(v), ()))}
        for i, v in enumerate((main, *cfg.vhosts)):
            logs = access_logs.get(id(v), [])
            progs = []
            for lg, fmt in zip(logs, log_formats.get(id(v), ()), strict=False):
                prog = _fp.compile_log_format(fmt) if lg.condition is None else None
                if prog is None:
                    break
                progs.append((lg.fd, prog, lg.buffered))
            else:
                if len(progs) == len(logs) and len(progs) <= 8:
                    self.cache.set_log_set(i, progs)
                    self.log_sets[id(v)] = i

    def status_vhost(self, vhost: VirtualHost, conn: Connection | None) -> bytes:
        """The scoreboard's vhost, httpd's "server_hostname:local port": the fixed port,
        else the connection's (None: the engine's shared entry, the name alone)."""
        name = vhost.server_name.encode("latin-1", "replace")
        port = self.fixed_ports.get(id(vhost))
        if port is None and conn is not None:
            local = conn.local_addr()
            port = int(local[1]) if local else None
        return name if port is None else name + b":%d" % port

    def drain(self) -> None:
        """Graceful stop: every further answer, Python's or the engine's, says
        Connection: close; a kept connection is never closed unannounced."""
        self.draining = True
        self.cache.set_draining(True)

    def clear(self) -> None:
        """After fork: the parent's entries are not this process's."""
        self.cache.clear()
        self.tried.clear()

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

    def log_set_of(self, vhost: VirtualHost) -> int | None:
        """The vhost's C log set; None when the C formatter cannot write its logs (its
        answers then stay with the Python cache)."""
        return self.log_sets.get(id(vhost))

    def remember(self, vhost: VirtualHost, req: Request, stored: Stored,
                 conn: Connection) -> None:
        """Give the engine the entry the Python cache holds for a request on conn (same
        bytes, same log), when core/cacheable.py gave it a C log set."""
        e = stored.entry
        if e.engine_log_set is None:
            return
        addr_key = self.addr_key(conn)
        host = req.headers.get("host")
        key = (addr_key, host, req.target, e.ino, e.mtime_ns, e.ctime_ns, e.deps, e.neg)
        tried = self.tried
        if key in tried:  # the engine refused it before: do not reopen the file per request
            return
        if len(tried) >= FAST_CACHE_MAX:
            tried.clear()
        tried.add(key)
        port = req.host_port or 80
        try:
            self.cache.put(
                addr_key, None if host is None else host.encode("latin-1"),
                req.target.encode("latin-1"), os.fsencode(e.fname), e.ino, e.size, e.mtime_ns,
                e.head, e.tail, strategy=e.strategy, keep_alive=bool(vhost.keep_alive),
                max_keep_alive=vhost.max_keep_alive_requests,
                keep_alive_timeout=float(vhost.keep_alive_timeout), timeout=float(vhost.timeout),
                log_set=e.engine_log_set,
                vhost=self.status_vhost(vhost, conn if self.needs_local_addr else None),
                log_values=_fp.log_values(vhost.server_name, req.host, port, e.uri, req.query,
                                          e.fname, e.ctype),
                want_content=stored.content is not None,
                expires_kind=0 if e.expiry is None else e.expiry.kind,
                expires_value=0 if e.expiry is None else e.expiry.value,
                probes=probe_tuples(e.probes), links=e.links, peer_rule=e.peer_rule,
                variants=tuple((v.coding.encode("ascii"), v.head, v.body) for v in e.variants),
                ctime_ns=e.ctime_ns, upgrade=e.upgrade.encode("latin-1"),
                env_checks=tuple((k.kind, k.name, k.pattern, k.options, k.icase)
                                 for k in e.engine_checks),
                deps=e.deps, host_need=e.host_need, neg=e.neg)
        except (OSError, ValueError, UnicodeError):
            pass  # not cacheable by the engine: the Python path keeps serving it

    def remember_fixed(self, vhost: VirtualHost, req: Request, a: FixedAnswer,
                       conn: Connection) -> None:
        """Give the engine an answer of fixed bytes (a rewrite's redirect) for GET of
        req's Host and target (core/fixedanswer.py decided it may)."""
        addr_key = self.addr_key(conn)
        host = req.headers.get("host")
        port = req.host_port or 80
        try:
            self.cache.put_fixed(
                addr_key, None if host is None else host.encode("latin-1"),
                req.target.encode("latin-1"), a.status, a.status_line, a.mid, a.tail,
                a.body, keep_alive=bool(vhost.keep_alive),
                max_keep_alive=vhost.max_keep_alive_requests,
                keep_alive_timeout=float(vhost.keep_alive_timeout), timeout=float(vhost.timeout),
                log_set=a.engine_log_set,
                vhost=self.status_vhost(vhost, conn if self.needs_local_addr else None),
                log_values=_fp.log_values(vhost.server_name, req.host, port, a.uri, req.query,
                                          a.filename, a.ctype),
                probes=probe_tuples(a.probes))
        except (OSError, ValueError, UnicodeError):
            pass  # the Python path keeps answering it


def probe_tuples(probes: tuple[Probe, ...]) -> tuple[tuple[bytes, int, int, int, int, int, int], ...]:
    """cacheable.Probe records as the engine's put takes them (src/fc_rwprobe.h)."""
    return tuple((os.fsencode(p.path), p.kind, p.mode, p.size, p.mtime_ns, p.ctime_ns, p.ino)
                 for p in probes)


@dataclass(frozen=True, slots=True)
class EngineState:
    """What the engine may have changed while it served a connection without Python."""

    requests: int
    timeout: float
    keep_alive_timeout: float
    eof: bool
    closing: bool


class EngineLink:
    """A connection's engine state (a FastConn), owned by its Connection."""

    def __init__(self, fc: FastConn) -> None:
        self.fc = fc

    @classmethod
    def open(cls, engine: Engine, fd: int, blocking: bool, client_ip: str, port: int,
             scoreboard: Any, slot: int, addr_key: int) -> EngineLink | None:
        """A new engine state for a connection; None when the engine cannot take it (a
        scoreboard it cannot write, an address it cannot encode)."""
        try:
            return cls(_fp.FastConn(engine.cache, fd, blocking, client_ip.encode("latin-1"),
                                    port, scoreboard, slot, addr_key))
        except (TypeError, UnicodeError):
            return None

    @property
    def handle(self) -> FastConn:
        """The FastConn itself, for the event MPM's C loop (EventLoop.attach)."""
        return self.fc

    @property
    def requests(self) -> int:
        return int(self.fc.requests)

    @requests.setter
    def requests(self, n: int) -> None:
        self.fc.requests = n

    @property
    def buffered(self) -> bool:
        """The engine holds bytes it did not serve (a head in pieces)."""
        return bool(self.fc.buffered)

    @property
    def pending_output(self) -> bool:
        return bool(self.fc.pending_output)

    def prepare(self, requests: int, slot: int, timeout: float, keep_alive_timeout: float,
                remote_host: str | None, looked_up: bool = False,
                confirmed: bool = False, settled: bool = False) -> None:
        """Hand the Python side's view to the engine before it serves."""
        fc = self.fc
        fc.requests = requests
        fc.slot = slot
        fc.set_timeouts(timeout, keep_alive_timeout)
        # HostnameLookups On's hits (host_need 1), Double's (2: the name is confirmed or none)
        fc.dns_level = 2 if settled else 1 if looked_up else 0
        if remote_host is not None:
            # the C %h prints it as given: escaped here as the Python formatter escapes it
            fc.remote_host = escape(remote_host).encode("latin-1", "replace")
        # Require host's hits: only a name the forward lookup confirmed, kept as it is
        fc.dns_confirmed = 1 if confirmed and remote_host is not None and len(remote_host) < 256 \
            and escape(remote_host) == remote_host else 0

    def state(self) -> EngineState:
        fc = self.fc
        return EngineState(fc.requests, fc.timeout, fc.keep_alive_timeout, bool(fc.eof),
                           bool(fc.closing))

    def serve(self) -> int:
        """Serve what is cached, reading at most once: WANT_READ, WANT_WRITE, CLOSED or
        FALLBACK (the Python path takes the bytes left)."""
        return int(self.fc.serve())

    def serve_blocking(self, first_wait: float) -> int:
        """prefork/worker: the engine's blocking keep-alive loop."""
        return int(self.fc.serve_blocking(first_wait))

    def take(self) -> bytes:
        """The bytes the engine read but did not serve."""
        return bytes(self.fc.take())

    def take_reason(self) -> int:
        """Why the engine handed the request over (FALLBACK_REASONS index, 0: none)."""
        return int(self.fc.take_reason())

    def set_send_timeout(self, seconds: float) -> None:
        self.fc.set_send_timeout(seconds)

    def close(self) -> None:
        self.fc.close()
