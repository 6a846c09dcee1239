"""HttpServer: what every connection of one process shares, compiled before fork.

It holds the configuration, the vhost resolver and mapper, the MIME map, the open log
descriptors, the handler, the C engine (core/engine.py) and the Python response cache
(core/fastpath.py), and it starts connections: serve_blocking() runs one to the end for prefork and worker (cache hits in
the engine's blocking keep-alive loop, no poll and no Python per request), connection()
makes a non-blocking one for the event MPM. The per-connection loop is connection.py.
"""
from __future__ import annotations

import os
import select
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastcore._ext import load
from fastcore.config.model import ServerConfig, VirtualHost
from fastcore.core import errors as E
from fastcore.core.connection import Connection
from fastcore.core.dns import Resolver
from fastcore.core.engine import (  # noqa: F401 - the state constants are this module's API
    CLOSED,
    WANT_READ,
    WANT_WRITE,
    Engine,
    EngineLink,
    FastConn,
    _fp,
)
from fastcore.core.fastpath import ResponseCache
from fastcore.core.handler import Handler
from fastcore.core.mapping import Mapper
from fastcore.core.readclock import ReadLimits
from fastcore.core.request import Request
from fastcore.core.response import KNOWN_METHODS
from fastcore.core.tokens import is_digits
from fastcore.core.transaction import Transaction
from fastcore.core.typemap import TypeMap
from fastcore.modules import REGISTRY
from fastcore.modules.mod_log_config import (
    AccessLog,
    ErrorLog,
    custom_logs,
    open_log,
)

if TYPE_CHECKING:
    from fastcore.config.merge import DirResolver
    from fastcore.mpm.proctable import ProcTable


def ssl_components(modules: tuple[str, ...]) -> tuple[str, ...]:
    """mod_ssl's version component ("OpenSSL/3.0.22") when it is loaded."""
    if "ssl_module" not in modules:
        return ()
    from fastcore._ext import load

    lib = load("tls").VERSION_LIBRARY.split(" ")
    return (f"{lib[0]}/{lib[1]}",) if len(lib) > 1 else ()


def split_server_name(name: str) -> tuple[str, int | None]:
    """ServerName host[:port] (IPv6 in brackets) -> (host, port or None)."""
    host, colon, port = name.rpartition(":")
    if colon and is_digits(port) and not host.endswith(":"):
        return host, int(port)
    return name, None


# Methods Apache knows without RegisterHttpMethod (HttpProtocolOptions RegisteredMethods)
REGISTERED_METHODS = KNOWN_METHODS

# With a holder (prefork, worker), the first wait of a new connection for its request is
# this short: a client that connected and sent nothing yet waits in the holder, not in a
# worker.  Clients send their request with the connection, so this is almost never hit.
HOLD_FIRST_WAIT = 0.2


class HttpServer:
    """Compiled per-(re)start state; created in the parent before fork.  It owns the
    process's C engine (`engine`, core/engine.py) and the Python response cache (`cache`,
    core/fastpath.py)."""

    def __init__(self, cfg: ServerConfig, scoreboard: Any = None,
                 resolver: DirResolver | None = None) -> None:
        self.cfg = cfg
        self.strict_hosts = any(v.strict_host_check for v in (cfg.main, *cfg.vhosts))
        self.scoreboard = scoreboard
        self.proctable: ProcTable | None = None  # the MPM's per-process records (mod_status), set by the arbiter
        if resolver is None:
            from fastcore.config.merge import DirResolver
            resolver = DirResolver(cfg)
        self.resolver: DirResolver = resolver  # tests pass a stand-in with its methods
        # issue 12: the process's directory watches validate .htaccess-dependent answers
        watches = load("fastpath").dirwatch()
        watches.set_names(sorted({os.fsencode(n) for v in (cfg.main, *cfg.vhosts)
                                  for n in v.access_file_name}))
        self.mapper = Mapper(resolver, REGISTRY.translators(cfg), watches.watch)
        self.mime: TypeMap = REGISTRY.type_map(cfg)  # mod_mime's, else nothing typed
        self.banner = E.server_banner(cfg.server_tokens, ssl_components(cfg.modules))
        # mod_ssl's contexts (post_config, here in the parent), bound in each child
        self.binders = REGISTRY.post_config(cfg)
        self.server_line = b"Server: " + self.banner.encode() + b"\r\n"
        self.handler = Handler(self)
        needs_local = getattr(resolver, "needs_local_addr", None)
        self.needs_local_addr: bool = (self._needs_local_addr() if needs_local is None
                                       else bool(needs_local))
        # mod_remoteip's PROXY protocol is decided by the local address, and Python reads
        # the header first (the event MPM's C loop then accepts nothing itself)
        self.needs_local_addr |= REGISTRY.needs_local_addr(cfg)
        self.prefaces = REGISTRY.prefaces(cfg)  # pre_connection readers (core/preface.py)
        self.dns: Resolver | None = None
        # HostnameLookups, or a loaded module that may ask for names (REGISTRY.needs_dns:
        # `Require host`, mod_access_compat's `Allow from NAME`); the resolver does no DNS
        # until a rule asks for a name
        if cfg.hostname_lookups_used or REGISTRY.needs_dns(cfg):
            self.dns = Resolver()
        self._open_logs()
        self.engine = Engine(cfg, self.server_line, self.access_logs, self._log_formats,
                             self.needs_local_addr)
        self._init_read_limits()
        self.cache = ResponseCache()

    @property
    def draining(self) -> bool:
        """A graceful stop is under way: every answer closes its connection."""
        return self.engine.draining

    def drain(self) -> None:
        """Graceful stop: every further answer, Python's or the engine's, says
        Connection: close; a kept connection is never closed unannounced."""
        self.engine.drain()

    # ------------------------------------------------------------ setup
    def _needs_local_addr(self) -> bool:
        """getsockname() only when vhosts are told apart by address or port."""
        addrs = {a for v in self.cfg.vhosts for a in v.addrs}
        if not addrs:
            return False
        hosts = {h for h, _ in addrs}
        ports = {p for _, p in addrs}
        return bool(hosts - {"*", "_default_"}) or len(ports) > 1

    def _open_logs(self) -> None:
        cfg = self.cfg
        fds: dict[str, int] = {}
        self.log_fds = fds

        def fd_for(path: str) -> int:
            if path not in fds:
                fds[path] = open_log(path, cfg.server_root)
            return fds[path]

        # only LogFormat defines nicknames (httpd predefines none: an undefined "common"
        # is a format of that literal text)
        formats = dict(cfg.log_formats)
        self.access_logs: dict[int, list[AccessLog]] = {}
        self._log_formats: dict[int, list[str]] = {}
        main_specs = custom_logs(cfg.main)
        main_fmts = [formats.get(s.format, s.format) for s in main_specs]
        main_logs = [AccessLog(fd_for(s.path), f, cfg.buffered_logs, s.condition)
                     for s, f in zip(main_specs, main_fmts, strict=True)]
        self.access_logs[id(cfg.main)] = main_logs
        self._log_formats[id(cfg.main)] = main_fmts
        for v in cfg.vhosts:
            specs = custom_logs(v)
            fmts = [formats.get(s.format, s.format) for s in specs]
            logs = [AccessLog(fd_for(s.path), f, cfg.buffered_logs, s.condition)
                    for s, f in zip(specs, fmts, strict=True)]
            self.access_logs[id(v)] = logs or main_logs
            self._log_formats[id(v)] = fmts if logs else main_fmts
        try:
            efd = fd_for(cfg.error_log) if cfg.error_log else 2
        except OSError:
            efd = 2
        self.error_log = ErrorLog(efd, cfg.log_level)
        # A <VirtualHost>'s own ErrorLog gets the lines of its requests (one ErrorLog per
        # file; a vhost without one inherited the main server's path).
        by_fd = {efd: self.error_log}
        self.error_logs: dict[int, ErrorLog] = {id(cfg.main): self.error_log}
        for v in cfg.vhosts:
            try:
                fd = fd_for(v.error_log) if v.error_log else efd
            except OSError:
                fd = efd
            self.error_logs[id(v)] = by_fd.setdefault(fd, ErrorLog(fd, cfg.log_level))

    def errlog(self, vhost: VirtualHost | None) -> ErrorLog:
        """The error log of a request to `vhost` (its ErrorLog, else the main server's)."""
        return self.error_logs.get(id(vhost), self.error_log) if vhost is not None else self.error_log

    def preload(self) -> None:
        """Import now, in the parent, everything a request may need (fastcore.core.preload):
        children that drop root to User/Group may not be allowed to read the installation,
        as httpd loads its modules before the switch, and an import after fork costs each
        child private pages."""
        from fastcore.core.preload import preload

        preload(self.cfg.modules)

    def child_init(self, listen_fds: list[int] | None = None) -> None:
        """After fork: drop the inherited caches (descriptors are per process); the
        modules' listener bindings (mod_ssl's TLS ports) on this child's sockets."""
        self.cache.clear()
        self.engine.clear()
        if listen_fds is None:  # close(): live connections may still read the bindings
            return
        for b in self.binders:
            b.bind(listen_fds)

    def flush_logs(self) -> None:
        self.engine.cache.flush_logs()
        for logs in self.access_logs.values():
            for lg in logs:
                lg.flush()

    def retire(self) -> None:
        """The parent, once a graceful restart has replaced this generation (its
        children, still draining, keep their copies): what the modules' post_config
        built goes now (mod_ssl's contexts and their shared ticket key mappings)."""
        for b in self.binders:
            b.release()

    def close(self) -> None:
        """Flush and close logs and cached descriptors (parent at exit, tests)."""
        self.flush_logs()
        self.child_init()
        for fd in self.log_fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.log_fds.clear()

    # ------------------------------------------------------------ helpers for handler
    def trace_enabled(self, vhost: VirtualHost | None) -> bool:
        return (vhost or self.cfg.main).trace_enable != "off"

    def self_url(self, txn: Transaction, path: str) -> str:
        name, port = self.server_name_port(txn)
        if txn.conn.https():  # ap_http_scheme / ap_default_port under mod_ssl
            return f"https://{name}{'' if port == 443 else f':{port}'}{path}"
        return f"http://{name}{'' if port == 80 else f':{port}'}{path}"

    def server_name_port(self, txn: Transaction) -> tuple[str, int]:
        """ap_get_server_name/ap_get_server_port under UseCanonicalName: Off (the client's
        Host, else ServerName), On (ServerName and its port), DNS (the reverse name of the
        local address); a port the Host does not give is the server's (ServerName's, or a
        <VirtualHost> address's: VirtualHost.server_port), else 80."""
        vh = txn.vhost or self.cfg.main
        dc = txn.dirconf or vh.dir_defaults
        sname, sport = split_server_name(vh.server_name)
        mode = dc.use_canonical_name or "off"
        default = 443 if txn.conn.https() else 80
        if mode == "on":
            return sname or "localhost", sport or default
        port = txn.host_port or vh.server_port or sport or default
        if mode == "dns":
            if self.dns is None:  # UseCanonicalName DNS alone: the resolver, on first use
                self.dns = Resolver()
            local = txn.local_ip
            return (local and self.dns.reverse(local, False)) or sname or "localhost", port
        return txn.host_name or sname or "localhost", port

    def vhost_for(self, conn: Connection, host: str | None) -> VirtualHost:
        if not self.cfg.vhosts:
            return self.cfg.main
        local = conn.local_addr() if self.needs_local_addr else None
        return self.resolver.vhost_for(local, host)

    def refusal(self, conn: Connection, req: Request) -> int | None:
        """The status Apache answers before mapping: HttpProtocolOptions Require1.0 and
        RegisteredMethods (the main server's, as fastcore reads every head with it),
        StrictHostCheck (the connection's default server's)."""
        main = self.cfg.main
        if req.assbackwards and not main.http_allow09:
            return 400
        if main.http_registered_methods and req.method not in REGISTERED_METHODS:
            return 501
        if req.host and self.strict_hosts:
            local = conn.local_addr() if self.needs_local_addr else None
            default = self.resolver.unknown_host(local, req.host)
            if default is not None:
                if default is main:
                    msg = (f"AH10156: Requested hostname '{req.host}' did not match any "
                           "ServerName/ServerAlias in the global server configuration ")
                else:
                    msg = (f"AH10157: Requested hostname '{req.host}' did not match any "
                           "ServerName/ServerAlias in the matching virtual host (default "
                           f"vhost for current connection is {default.filename}:"
                           f"{default.line})")
                self.error_log.log("warn", "core", msg, conn.client_ip)
                return 400
        return None

    def _init_read_limits(self) -> None:
        """mod_reqtimeout's deadlines, per connection from its address's default server
        (Apache's c->base_server); one lookup only when vhosts set different ones."""
        cfg = self.cfg
        self.read_limits = REGISTRY.read_limits(cfg, cfg.main)
        self.read_limits_vary = any(REGISTRY.read_limits(cfg, v) != self.read_limits
                                    for v in cfg.vhosts)
        # a connection whose address is not looked up: the first vhost's, as vhost_for
        self.read_limits_default = (REGISTRY.read_limits(cfg, self.resolver.vhost_for(None, None))
                                    if self.read_limits_vary else self.read_limits)

    def read_limits_for(self, conn: Connection) -> ReadLimits | None:
        if not self.read_limits_vary:
            return self.read_limits
        if not self.needs_local_addr:
            return self.read_limits_default
        return REGISTRY.read_limits(self.cfg, self.resolver.vhost_for(conn.local_addr(), None))

    def serve_blocking(self, fd: int, peer: tuple, slot: int = -1,
                       hold: Callable[[Connection], bool] | None = None,
                       answered: Callable[[], None] | None = None) -> None:
        """prefork/worker: serve one connection to the end, then close it.  Cache hits go
        through the engine's blocking keep-alive loop (no poll, no Python per request).
        hold: the MPM's holder, which takes a connection whose request head is not
        complete (True) so that this worker is only ever busy with complete requests.
        answered: called once, after the first request Python answered (prefork's
        StartBoost)."""
        conn = Connection(self, fd, peer, slot, blocking=True)
        wait = conn.read_wait()
        # mod_remoteip's PROXY header is waited for with the whole Timeout: the holder
        # only ever takes a request head
        first = wait if not hold or conn.preface is not None else min(wait, HOLD_FIRST_WAIT)
        self._drive(conn, WANT_READ, first, hold, answered)

    def resume_blocking(self, conn: Connection, slot: int,
                        hold: Callable[[Connection], bool] | None = None) -> None:
        """A connection the holder gave back (its head complete, or EOF, or too long)."""
        conn.assign_slot(slot)
        state, timeout = conn.run(may_read=False)
        if state == WANT_READ and conn.head_pending():
            state, timeout = conn.run()  # the holder saw EOF: this read sees it too
        self._drive(conn, state, timeout, hold)

    def _drive(self, conn: Connection, state: int, timeout: float,
               hold: Callable[[Connection], bool] | None,
               answered: Callable[[], None] | None = None) -> None:
        fd = conn.fd
        held = False
        try:
            poller = None
            while state != CLOSED:
                if answered is not None and conn.requests:  # Python answered one
                    answered()
                    answered = None
                if state == WANT_READ and conn.engine_idle():
                    rc = conn.engine_blocking(timeout)
                    if rc == _fp.TIMEOUT:
                        if hold is not None and not conn.requests and hold(conn):
                            held = True  # nothing arrived yet: the holder waits for it
                            return
                        conn.on_timeout()
                        break
                    if rc == _fp.CLOSED:
                        break
                    if rc == _fp.FALLBACK:  # Python answers the buffered request
                        state, timeout = conn.run(may_read=False)
                        continue
                    if rc == _fp.WANT_READ:  # a partial head, now in conn.buf
                        timeout = conn.read_wait()
                    else:
                        state, timeout = WANT_WRITE, conn.timeout
                if timeout <= 0:  # RequestReadTimeout ran out
                    conn.on_timeout()
                    break
                if state == WANT_READ and hold is not None and conn.head_pending() \
                        and hold(conn):
                    held = True
                    return
                if poller is None:
                    poller = select.poll()
                    poller.register(fd, select.POLLIN)
                poller.modify(fd, select.POLLIN if state == WANT_READ else select.POLLOUT)
                if not poller.poll(int(timeout * 1000)):
                    conn.on_timeout()
                    break
                state, timeout = conn.run()
        finally:
            if not held:
                conn.close()

    def connection(self, fd: int, peer: tuple, slot: int = -1,
                   fc: FastConn | None = None) -> Connection:
        """event MPM: a non-blocking connection driven by run(); fc: the engine state of a
        connection the C event loop accepted and served so far."""
        return Connection(self, fd, peer, slot, blocking=False,
                          link=EngineLink(fc) if fc is not None else None)
