"""HTTP semantics of a request head, on top of the strict syntax scanner.

The syntax (line ends, request-line shape, tokens, field characters, obs-fold, the
LimitRequestLine/Fields/FieldSize limits) is `load("request").parse_head` -- the nogil C
scanner fastcore._request, or its twin with FASTCORE_NO_EXTENSIONS=1 -- whose verdicts are
checked against Apache 2.4.71 in tests/integration/test_parser_vs_apache.py.  This module
adds what Apache decides after the syntax: the target split (origin, "*", absolute-form,
which overrides Host), CONNECT's authority form (no proxy: the handler answers 405; its
host name, not Host, picks the vhost), HTTP/1.1 without Host -> 400, two Host fields -> 400, the Host value rules, repeated Content-Length -> 400, Transfer-Encoding other
than `... chunked` -> 400, Expect other than 100-continue -> 417, and keep-alive.

`BodyReader` consumes a request body (Content-Length or chunked) from the connection
buffer so the connection can be reused; LimitRequestBody gives 413.
"""
from __future__ import annotations

import re
from typing import Protocol

from fastcore._ext import load
from fastcore.core import hostname
from fastcore.core.errors import HttpErrorBase
from fastcore.core.keepalive import client_allows

_rq = load("request")


class _HeadVerdict(Protocol):
    """What both HeadErrors (the extension's and the twin's) carry: the answer and why."""

    status: int
    reason: str


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# CONNECT's host name as Apache 2.4.71 takes it (measured: "", "a.b.", "a_b", "[zz]",
# "[::1]" pass; "a..b", "a/b", "a%41" are 400)
_CONNECT_HOST = re.compile(r"(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?)?\Z")
_CONNECT_V6 = re.compile(r"(?!.*\.\.)[A-Za-z0-9_.:-]*\Z")

NOTE_FIELD_SIZE = "Size of a request header field exceeds server limit."
NOTE_FIELD_COUNT = "The number of request header fields exceeds this server's limit."
# the scanner's reasons that Apache also puts on the error page (as error-notes)
_NOTES = {"Size of a request header field exceeds server limit": NOTE_FIELD_SIZE,
          "The number of request header fields exceeds this server's limit": NOTE_FIELD_COUNT}


class HttpError(HttpErrorBase):
    """An error status decided while reading the request (always closes).  `request`:
    the HTTP/0.9 request it refuses, whose answer then has no status line either."""

    request: Request | None = None


class Request:
    """One parsed request head; plain attributes so the hot path can read them cheaply."""

    __slots__ = ("method", "target", "protocol", "proto_num", "headers", "fields",
                 "request_line", "raw_head", "host", "host_port", "abs_host", "path_raw",
                 "query", "body_kind", "content_length", "close_token", "ka_sent", "reusable",
                 "assbackwards", "expect_continue", "expect_failed")

    def __init__(self) -> None:
        self.method = "GET"
        self.target = "/"
        self.protocol = "HTTP/1.1"
        self.proto_num = 1001
        self.headers: dict[str, str] = {}  # lower-case name -> value (repeats joined with ", ")
        self.fields: list[tuple[str, str]] = []  # as received, for TRACE and logs
        self.request_line = ""
        self.raw_head = b""
        self.host: str | None = None
        self.host_port: int | None = None
        self.abs_host = False
        self.path_raw = "/"
        self.query = ""
        self.body_kind = "none"  # none | length | chunked
        self.content_length = 0
        self.close_token = False  # the Connection header holds a close token
        self.ka_sent = False  # the Connection header holds a keep-alive token (Apache's ka_sent)
        self.reusable = True  # False: a framing that forbids reusing the connection
        self.assbackwards = False  # HTTP/0.9: body only, no status line or headers
        self.expect_continue = False  # Expect: 100-continue, until the 100 is sent
        # another Expect: Apache answers 417 once the head is parsed, with the fields of
        # a kept connection, and then closes; the error-notes for the page
        self.expect_failed: str | None = None

    @property
    def keepalive(self) -> bool:
        """The request's own say on keeping the connection (the rule: core/keepalive.py)."""
        return self.reusable and client_allows(self.proto_num >= 1001, self.close_token,
                                               self.ka_sent)


def find_head_end(buf: bytes | bytearray, strict: bool = True) -> int:
    """Index just past the blank line that ends the head, or -1 if not complete yet.
    Leading empty lines (CRLF) are part of the head and skipped by parse_head().
    `strict`: HttpProtocolOptions Strict (else Unsafe) for the early look at line one."""
    # the first blank line, whichever way it and the line before it end (a bare LF is
    # 400 under Strict, a line end under Unsafe)
    ends = [p + n for p, n in ((buf.find(b"\r\n\r\n"), 4), (buf.find(b"\n\n"), 2),
                                (buf.find(b"\n\r\n"), 3)) if p >= 0]
    if ends:
        return min(ends)
    # No blank line yet.  The scanner reads the first line alone (no limits: parse_head
    # applies them): an HTTP/0.9 line ("GET /x\r\n", "GET / \r\n") has no header section,
    # and a request line Apache rejects is answered now, as Apache does, not after more bytes.
    k = buf.find(b"\n")
    if k > 0:
        try:
            rh = _rq.parse_head(bytes(buf[:k + 1]), 0, 0, 0, strict)
        except _rq.HeadError:
            return k + 1
        if rh is not None and rh.proto_num == 9:
            return k + 1
    return -1


def parse_head(head: bytes, limit_line: int = 8190, limit_fields: int = 100,
               limit_field_size: int = 8190, strict: bool = True) -> Request:
    """Parse one complete head (as delimited by find_head_end) into a Request; `strict`
    is HttpProtocolOptions Strict (host names get Apache's strict check)."""
    try:
        rh = _rq.parse_head(head, limit_line, limit_fields, limit_field_size, strict)
    except _rq.HeadError as e:  # looked up only when raised (tests swap in the twin)
        raise _head_error(head, e, limit_line) from None
    if rh is None:
        raise HttpError(400)  # no blank line: the head was cut short
    req = Request()
    req.raw_head = head
    method = req.method = rh.method
    if rh.proto_num == 9:
        start = len(head) - len(head.lstrip(b"\r\n"))
        req.request_line = head[start:head.index(b"\n", start)].rstrip(b"\r").decode("latin-1")
        req.assbackwards = True
        req.protocol, req.proto_num = "HTTP/0.9", 9
        try:
            _set_target(req, rh.target, strict)
        except HttpError as e:  # Apache answers a 0.9 request's 400 as 0.9 (fuzzing found)
            e.request = req
            raise
        return req
    version = req.protocol = rh.version
    req.proto_num = rh.proto_num
    target = rh.target
    req.request_line = f"{method} {target} {version}"  # single spaces: the scanner checked
    connect = method == "CONNECT"
    if connect:  # the scanner let only the authority form "host:port" through
        _set_connect_target(req, target)
    else:
        _set_target(req, target, strict)
    fields = req.fields = rh.headers
    hd = req.headers = rh.index()  # lower-case names, repeats joined with ", " (built in C)
    if len(hd) < len(fields):  # some name repeats: Host and Content-Length may not
        if any(len(v) > limit_field_size for v in hd.values()):
            raise HttpError(400, NOTE_FIELD_SIZE)  # merged past LimitRequestFieldSize
        names = [name.lower() for name, _ in fields]
        # CONNECT's host comes from the target: Apache never looks at Host values then
        if (names.count("host") > 1 and not connect) or names.count("content-length") > 1:
            raise HttpError(400)
    _apply_semantics(req, strict)
    return req


def _head_error(head: bytes, e: _HeadVerdict, limit_line: int) -> HttpError:
    """The scanner's verdict as the HttpError the server answers with.  A header-section
    error comes after the request line was read, so the request line's own semantic
    errors (a bad absolute-form target) answer first, as before, without notes.  A
    CONNECT target's host name is checked after the header section, as Apache does."""
    notes = _NOTES.get(e.reason)
    if notes is not None:
        line = head.lstrip(b"\r\n")
        rh = _rq.parse_head(line[:line.index(b"\n") + 1] + b"\r\n", limit_line)
        try:
            if rh.method != "CONNECT":
                _set_target(Request(), rh.target)
        except HttpError as first:
            return first
    return HttpError(e.status, notes)


def _set_target(req: Request, t: str, strict: bool = True) -> None:
    """Split the target (syntax already checked by the scanner) into path and query;
    absolute-form http(s)://authority overrides Host, as Apache's ap_parse_uri."""
    req.target = t
    c = t[:1]
    if c == "/":
        path, _, query = t.partition("?")
    elif c == "?":
        path, query = "/", t[1:]  # empty path: Apache serves "/"
    elif t == "*":
        path, query = "*", ""  # OPTIONS only (the scanner checked)
    else:
        m = _SCHEME.match(t)
        if m is None or m.group(1).lower() not in ("http", "https"):
            raise HttpError(400)
        rest = t[m.end():]
        if rest.startswith("//"):
            slash = len(rest)
            for sep in "/?":
                k = rest.find(sep, 2)
                if 0 <= k < slash:
                    slash = k
            authority, rest = rest[2:slash], rest[slash:]
            if "@" in authority:
                raise HttpError(400)
            try:
                req.host, req.host_port = hostname.from_uri(authority, strict)
            except hostname.BadHost:
                raise HttpError(400) from None
            req.abs_host = True
        if not rest or rest.startswith("?"):
            rest = "/" + rest  # "http://h", "http:", "http://h?q": the path is "/"
        path, _, query = rest.partition("?")
    req.path_raw = path
    req.query = query


def _set_connect_target(req: Request, t: str) -> None:
    """CONNECT host:port (apr_uri_parse_hostinfo): the host name replaces Host, the
    port is strtol's value cut to 16 bits, and the request maps to "/" (where Apache's
    default handler refuses the method: 405).  A bad host name is 400."""
    if t.startswith("["):
        close = t.index("]")
        host, port, ok = t[1:close], t[close + 2:], _CONNECT_V6.match(t[1:close])
    else:
        host, _, port = t.partition(":")
        ok = _CONNECT_HOST.match(host)
    if ok is None:
        raise HttpError(400)
    req.target = t
    req.host, req.host_port = host.rstrip(".").lower(), int(port) & 0xFFFF
    req.abs_host = True
    req.path_raw, req.query = "/", ""


_HOSTS: dict[tuple[str, bool], hostname.HostPort] = {}  # valid Host values seen (bounded)
_HOSTS_MAX = 256


def parse_host(value: str, strict: bool = True) -> hostname.HostPort:
    """Validate a Host value (Apache's fix_hostname): lower-cased name, optional port.
    Clients repeat the same few values, so valid ones are remembered (errors are not)."""
    key = (value, strict)
    hit = _HOSTS.get(key)
    if hit is not None:
        return hit
    try:
        hit = hostname.from_header(value, strict)
    except hostname.BadHost:
        raise HttpError(400) from None
    if len(_HOSTS) >= _HOSTS_MAX:
        _HOSTS.clear()
    _HOSTS[key] = hit
    return hit


def _apply_semantics(req: Request, strict: bool = True) -> None:
    hd = req.headers
    if "host" in hd:
        if not req.abs_host:
            req.host, req.host_port = parse_host(hd["host"], strict)
    elif req.proto_num >= 1001:
        raise HttpError(400)  # even with an absolute-form target, as Apache 2.4
    conn = hd.get("connection")
    if conn is not None:  # Apache's ap_find_token, the same C matcher as the engine's (fc_token.h)
        req.ka_sent = _rq.find_token(conn, "keep-alive")
        req.close_token = _rq.find_token(conn, "close")
    te = hd.get("transfer-encoding")
    if te is not None:
        codings = [c.strip().lower() for c in te.split(",")]
        if codings[-1] != "chunked":
            raise HttpError(400)
        req.body_kind = "chunked"
        if "content-length" in hd:
            req.reusable = False  # smuggling defence: never reuse such a connection
    elif "content-length" in hd:
        cl = hd["content-length"]
        if not cl.isdigit() or not cl.isascii() or len(cl) > 18:
            raise HttpError(400)
        req.content_length = int(cl)
        if req.content_length:
            req.body_kind = "length"
    expect = hd.get("expect")
    if expect and expect.strip():  # Apache ignores an empty Expect
        if expect.strip().lower() == "100-continue":
            req.expect_continue = True  # in any version (only HTTP/1.1 gets the 100)
        else:
            req.expect_failed = f"    Expect: {expect}"  # the server answers 417


class BodyReader:
    """Incremental request-body consumer over a connection buffer.

    feed(buf) consumes what it can from the front of `buf` (a bytearray, modified in
    place) and returns True when the whole body has been read; raises HttpError(400)
    on a malformed chunk and HttpError(413) past LimitRequestBody (0 = unlimited)."""

    __slots__ = ("kind", "remaining", "limit", "total", "state", "keep")

    def __init__(self, req: Request, limit: int, keep: bool = False) -> None:
        self.kind = req.body_kind
        self.remaining = req.content_length if self.kind == "length" else 0
        self.limit = limit
        self.total = 0
        self.state = "size"  # chunked: size | data | crlf | trailer
        self.keep: bytearray | None = bytearray() if keep else None
        if self.kind == "length" and limit and req.content_length > limit:
            raise HttpError(413)

    def _take(self, buf: bytearray, n: int) -> None:
        if self.keep is not None:
            self.keep += buf[:n]
        del buf[:n]
        self.total += n
        if self.limit and self.total > self.limit:
            raise HttpError(413)

    def feed(self, buf: bytearray) -> bool:
        if self.kind == "none":
            return True
        if self.kind == "length":
            n = min(self.remaining, len(buf))
            self._take(buf, n)
            self.remaining -= n
            return self.remaining == 0
        while True:
            if self.state == "data":
                n = min(self.remaining, len(buf))
                self._take(buf, n)
                self.remaining -= n
                if self.remaining:
                    return False
                self.state = "crlf"
            if self.state == "crlf":
                if len(buf) < 2:
                    return False
                if buf[:2] != b"\r\n":
                    raise HttpError(400)
                del buf[:2]
                self.state = "size"
            eol = buf.find(b"\n")
            if eol < 0:
                if len(buf) > 8192:
                    raise HttpError(400)
                return False
            line = bytes(buf[:eol])
            del buf[:eol + 1]
            if not line.endswith(b"\r"):
                raise HttpError(400)
            line = line[:-1]
            if self.state == "trailer":
                if not line:
                    return True
                continue
            size_text = line.split(b";", 1)[0].strip(b" \t")
            if not size_text or size_text.translate(None, b"0123456789abcdefABCDEF"):
                raise HttpError(400)
            if len(size_text.lstrip(b"0")) > 15:
                raise HttpError(413)  # chunk size overflow, as Apache
            size = int(size_text, 16)
            if size == 0:
                self.state = "trailer"
                continue
            if self.limit and self.total + size > self.limit:
                raise HttpError(413)
            self.remaining = size
            self.state = "data"
