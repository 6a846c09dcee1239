"""The per-request record (Transaction): what the handler decides with and what the
access log formats (the fields of log.LogRecordFields)."""
from __future__ import annotations

from typing import Any


class Transaction:
    """One request's facts for the handler and the access log (log.LogRecordFields)."""

    __slots__ = ("conn", "vhost", "dirconf", "method", "proto_num", "protocol",
                 "request_line", "headers_in", "headers_out", "status", "original_status",
                 "bytes_sent", "start_time", "duration_us", "host_name", "host_port",
                 "port", "uri_path", "query", "filename", "client_ip", "remote_port",
                 "remote_host", "vhost_name", "keepalive_count",
                 "conn_status", "bytes_in", "bytes_out", "user", "handler", "error_depth",
                 "ctype", "cacheable", "env")

    def __init__(self, conn: Any, start: float) -> None:
        self.conn = conn
        self.vhost = conn.srv.cfg.main
        self.dirconf = None
        self.method = "-"
        self.proto_num = 1000
        self.protocol = "HTTP/1.0"
        self.request_line = ""
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
        self.filename = None
        self.client_ip = conn.client_ip
        self.remote_port = conn.remote_port
        self.remote_host = None
        self.vhost_name = self.vhost.server_name
        self.keepalive_count = conn.requests
        self.conn_status = "-"
        self.bytes_in = 0
        self.bytes_out = 0
        self.user = None
        self.handler = None
        self.error_depth = 0
        self.ctype: str | None = None  # the response Content-Type (%{Content-Type}o)
        # False once anything that produced the answer may change without the served
        # file's stat changing: a walk that read .htaccess or lstat'ed, a client-dependent
        # Require, a sub-request or internal redirect that chose among several outcomes
        self.cacheable = True
        # the request's environment variables (r->subprocess_env), by lower-case name: set
        # in the fixups (mod_env), so a request that never got there has none
        self.env: dict[str, str] = {}

    @property
    def local_ip(self) -> str:
        """%A: asked of the kernel (getsockname) only when a log format uses it."""
        addr = self.conn.local_addr()
        return str(addr[0]) if addr else ""

    @property
    def local_port(self) -> int:
        addr = self.conn.local_addr()
        return int(addr[1]) if addr else 0


