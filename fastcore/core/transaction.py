"""The per-request record (Transaction): what the handler decides with and what the
access log formats (the fields of log.LogRecordFields)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastcore._pure.dirwatch import DirDep
    from fastcore.config.model import DirConfig, VirtualHost
    from fastcore.core.cacheable import Probe, VariantChoice
    from fastcore.core.client import ReqCtx
    from fastcore.core.connection import Connection
    from fastcore.core.linkcheck import LinkCheck
    from fastcore.core.mapping import WalkResult
    from fastcore.core.request import Request
    from fastcore.core.response import Response


class Transaction:
    """One request's facts for the handler and the access log (log.LogRecordFields)."""

    __slots__ = ("conn", "vhost", "dirconf", "method", "proto_num", "protocol",
                 "request_line", "headers_in", "headers_out", "status", "original_status",
                 "bytes_sent", "start_time", "duration_us", "host_name", "host_port",
                 "port", "uri_path", "query", "filename", "client_ip", "remote_port",
                 "remote_host", "vhost_name", "keepalive_count",
                 "conn_status", "bytes_in", "bytes_out", "user", "handler", "error_depth",
                 "ctype", "cacheable", "request", "r_uri", "r_query", "mapped", "walk",
                 "handler_name", "encoding_fixup", "env", "response", "satisfy_any",
                 "notes", "_ctx", "probes", "link_checks", "peer_rules", "deps",
                 "variant_choice")

    def __init__(self, conn: Connection, start: float) -> None:
        self.conn = conn
        self.vhost: VirtualHost = conn.srv.cfg.main
        self.dirconf: DirConfig | None = None
        self.method = "-"
        self.proto_num = 1000
        self.protocol = "HTTP/1.0"
        self.request_line: str | None = ""  # None: no request line was read (%r logs "-")
        self.headers_in: dict[str, str] = {}
        self.headers_out: dict[str, str] = {}
        self.status = 200
        self.original_status = 0
        self.bytes_sent = 0
        self.start_time = start
        self.duration_us = 0
        self.host_name: str | None = None
        self.host_port: int | None = None
        self.port = 80
        self.uri_path = ""
        self.query = ""
        self.filename: str | None = None
        self.client_ip: str = conn.client_ip
        self.remote_port: int = conn.remote_port
        self.remote_host: str | None = None
        self.vhost_name = self.vhost.server_name
        self.keepalive_count: int = conn.requests
        self.conn_status = "-"
        self.bytes_in = 0
        self.bytes_out = 0
        self.user: str | None = None
        self.handler: str | None = None
        self.error_depth = 0
        self.ctype: str | None = None  # the response Content-Type (%{Content-Type}o)
        # False once anything that produced the answer may change without the served
        # file's stat changing: a walk that read .htaccess or lstat'ed, a client-dependent
        # Require, a sub-request or internal redirect that chose among several outcomes
        self.cacheable = True
        # the symlink checks (lstats) of the walks the answer rests on: a cached answer
        # repeats them on every hit (core/linkcheck.py)
        self.link_checks: list[LinkCheck] = []
        # the client-address rules of those walks' scopes (Require ip, Allow/Deny from)
        self.peer_rules: list[bytes] = []
        # the watched directories a cacheable answer rests on (issue 12: its .htaccess
        # files, the absence of earlier DirectoryIndex names); every cache checks them
        self.deps: list[DirDep] = []
        # What the phases pass on (request_rec's fields, per internal redirect): the
        # parsed request (TRACE echoes it; None in an internal redirect), the URI and
        # query being dispatched, translate_name's file-system path, map_to_storage's
        # walk, type_checker's handler name (the access log's %R stays `handler`).
        self.request: Request | None = None
        self.r_uri = ""
        self.r_query = ""
        self.mapped = ""
        self.walk: WalkResult | None = None
        self.handler_name: str | None = None
        # set by a fixup (mod_negotiation's): the Content-Encoding token as sent
        self.encoding_fixup: Callable[[str, str | None], str | None] | None = None
        # the request's environment variables (r->subprocess_env), by lower-case name: set
        # in the fixups (mod_env), so a request that never got there has none
        self.env: dict[str, str] = {}
        # the answer the output filters work on (phases.OUTPUT_FILTER), None before
        self.response: Response | None = None
        # Satisfy Any governs this request (mod_access_compat sets it in check_access):
        # passing check_access is then enough, failing it may be made up by a user
        self.satisfy_any = False
        # r->notes by lower-case name (mod_headers' `Header note`; the log's %{NAME}n)
        self.notes: dict[str, str] = {}
        # mod_remoteip's ReqCtx for this request's useragent address (None: the
        # connection's; see `ctx`)
        self._ctx: ReqCtx | None = None
        # file-system tests the answer rests on (cacheable.Probe: mod_rewrite's -f/-d...
        # conditions): a cached answer is valid while each comes out the same
        self.probes: list[Probe] = []
        # the choice among variants a cacheable answer was made by (mod_negotiation)
        self.variant_choice: VariantChoice | None = None

    @property
    def ctx(self) -> ReqCtx:
        """The client as the access checks see it (Require ip/host, Allow/Deny): the
        connection's, unless mod_remoteip gave this request another useragent address."""
        own = self._ctx
        return own if own is not None else self.conn.ctx

    @ctx.setter
    def ctx(self, value: ReqCtx) -> None:
        self._ctx = value

    @property
    def local_ip(self) -> str:
        """%A: asked of the kernel (getsockname) only when a log format uses it."""
        addr = self.conn.local_addr()
        return str(addr[0]) if addr else ""

    @property
    def local_port(self) -> int:
        addr = self.conn.local_addr()
        return int(addr[1]) if addr else 0


