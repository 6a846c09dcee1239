#!/usr/bin/env python3
"""Fuzz target: the access-log formatter with arbitrary request fields (mod_log_config:
fastcore/config/logformat.py's check, compile_format and its renderer, and the engine's
compile_log_format for fc_fastlog.h; Python side; the C renderer is fuzz/fastlog.c).
A format the check accepts compiles and renders any request without an exception, and
request-derived text never puts a raw line break into the log line (ap_escape_logitem)."""
from __future__ import annotations

import re
import time

try:
    import _common
except ImportError:
    from . import _common

with _common.instrument(__name__):
    from fastcore._pure.fastlog import compile_log_format
    from fastcore.config.engine import DirectiveError
    from fastcore.config.logformat import check_log_format
    from fastcore.modules.mod_log_config import compile_format


class Conn:
    """The connection fields the formatter reads (%{c}a, %{c}h: the socket's peer)."""

    def __init__(self, peer_ip: str) -> None:
        self.peer_ip = peer_ip


class Rec:
    """The fields mod_log_config reads from a transaction, filled from fuzz input."""

    def __init__(self, parts: list[str]) -> None:
        def p(i: int) -> str:
            return parts[i % len(parts)]

        self.client_ip = "10.0.0." + str(len(p(0)) % 256)  # a socket address, always
        self.conn = Conn("192.0.2." + str(len(p(14)) % 256))  # behind mod_remoteip
        self.remote_host = p(1) or None
        self.local_ip = "127.0.0.1"
        self.local_port = 8080
        self.remote_port = len(p(2))
        self.request_line = p(3)
        self.status = (200, 404, 500, 304)[len(p(4)) % 4]
        self.original_status = self.status
        self.bytes_sent = len(p(5))
        self.start_time = time.time()
        self.duration_us = len(p(6)) * 1000
        self.headers_in = {p(7).lower(): p(8), "cookie": p(9), "user-agent": p(10)}
        self.headers_out = {p(11).lower(): p(12)}
        self.ctype = p(13) or None
        self.vhost_name = "www.example.com"
        self.host_name = "alias.example.com"  # parse_host let only a host name through
        self.port = 80
        self.keepalive_count = 1
        self.conn_status = "+"
        self.uri_path = p(15)
        self.query = p(16)
        self.method = p(17)
        self.protocol = "HTTP/1.1"
        self.filename = p(18) or None
        self.bytes_in = 10
        self.bytes_out = 20
        self.user = p(19) if len(p(19)) % 2 else None
        self.handler = None
        self.env = {p(20): p(21)}
        self.notes = {p(22): p(23)}


STRFTIME_N = re.compile(r"%[-_0^#]*[0-9]*[EO]?n")


def test_one_input(data: bytes) -> None:
    fmt_b, _, rest = data.partition(b"\x00")
    fmt = fmt_b.decode("latin-1")
    try:
        check_log_format(fmt)
    except DirectiveError:
        return
    compile_log_format(fmt)
    render = compile_format(fmt)
    parts = rest.decode("latin-1").split("\x01") or [""]
    line = render(Rec(parts))
    # a line break the format asks for ("\n", "\\n", strftime's "%n" in %{...}t, with
    # flags or a width too: "%0n", "%-3n") is not one from the request
    if "\n" in line and "\n" not in fmt and "\\n" not in fmt and not STRFTIME_N.search(fmt):
        raise AssertionError(f"a raw line break from the request: {fmt!r} -> {line!r}")


if __name__ == "__main__":
    _common.main(test_one_input)
