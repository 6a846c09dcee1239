"""The request head as Apache 2.4 reads it (HttpProtocolOptions Strict, the default).

`parse_head()` turns the bytes of one request head into a `Request` or raises
`HttpError(status, notes)`.  The rules were checked one by one against Apache 2.4.71:
bare LF line ends -> 400; obs-fold accepted; whitespace before ':' -> 400; control
characters in names or values -> 400; `HTTP/d.d` only (0.x -> 400, 2.0 accepted);
a two-word line is HTTP/0.9 (GET only); invalid method tokens -> 400, unknown valid
tokens -> 501 later; absolute-form overrides Host; HTTP/1.1 without Host -> 400; two
Host fields -> 400; repeated Content-Length -> 400; Transfer-Encoding other than
`... chunked` -> 400; Expect other than 100-continue -> 417.

`BodyReader` consumes a request body (Content-Length or chunked) from the connection
buffer so the connection can be reused; LimitRequestBody gives 413.
"""
from __future__ import annotations

import re

from fastcore.http.errors import HttpErrorBase

_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])\Z")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f]")
_HOSTNAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?\Z")
_ABSOLUTE = re.compile(rb"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)\Z", re.S)
MAX_BLANK_LINES = 10

NOTE_FIELD_SIZE = "Size of a request header field exceeds server limit."
NOTE_FIELD_COUNT = "The number of request header fields exceeds this server's limit."


class HttpError(HttpErrorBase):
    """An error status decided while reading the request (always closes)."""


class Request:
    """One parsed request head; plain attributes so the hot path can read them cheaply."""

    __slots__ = ("method", "target", "protocol", "proto_num", "headers", "fields",
                 "request_line", "raw_head", "host", "host_port", "abs_host", "path_raw",
                 "query", "body_kind", "content_length", "keepalive", "assbackwards",
                 "expect_continue")

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
        self.keepalive = True
        self.assbackwards = False  # HTTP/0.9: body only, no status line or headers
        self.expect_continue = False


def find_head_end(buf: bytes | bytearray) -> int:
    """Index just past the blank line that ends the head, or -1 if not complete yet.
    Leading empty lines (CRLF) are part of the head and skipped by parse_head()."""
    i = buf.find(b"\r\n\r\n")
    j = buf.find(b"\n\n")
    if j >= 0 and (i < 0 or j < i):
        return j + 2  # bare-LF head: parse_head rejects it
    if i >= 0:
        return i + 4
    # HTTP/0.9 request line has no headers: "GET /x\r\n"
    k = buf.find(b"\n")
    if k > 0:
        line = bytes(buf[:k]).rstrip(b"\r")
        if line and line.count(b" ") == 1 and not line.startswith(b" "):
            return k + 1
    return -1


def parse_head(head: bytes, limit_line: int = 8190, limit_fields: int = 100,
               limit_field_size: int = 8190) -> Request:
    """Parse one complete head (as delimited by find_head_end)."""
    req = Request()
    req.raw_head = head
    pos = 0
    for _ in range(MAX_BLANK_LINES):
        if head.startswith(b"\r\n", pos):
            pos += 2
        else:
            break
    end = head.find(b"\n", pos)
    if end < 0:
        end = len(head)
    line = head[pos:end]
    if len(line) > limit_line:
        raise HttpError(414)
    if not line.endswith(b"\r"):
        raise HttpError(400)
    line = line[:-1]
    req.request_line = line.decode("latin-1")
    parts = line.split(b" ")
    if len(parts) == 2:
        if parts[0] != b"GET" or not parts[1] or _BAD_TARGET.search(parts[1]):
            raise HttpError(400)
        req.assbackwards = True
        req.protocol, req.proto_num, req.keepalive = "HTTP/0.9", 9, False
        _set_target(req, parts[1])
        return req
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise HttpError(400)
    method, target, version = parts
    if method == b"CONNECT":
        raise HttpError(400)  # no proxy: Apache answers CONNECT with 400
    if _TOKEN.match(method) is None:
        raise HttpError(400)
    m = _VERSION.match(version)
    if m is None or m.group(1) == b"0":
        raise HttpError(400)
    req.method = method.decode("latin-1")
    req.protocol = version.decode("latin-1")
    req.proto_num = int(m.group(1)) * 1000 + int(m.group(2))
    if _BAD_TARGET.search(target):
        raise HttpError(400)
    _set_target(req, target)
    _parse_fields(req, head, end + 1, limit_fields, limit_field_size)
    _apply_semantics(req)
    return req


def _set_target(req: Request, target: bytes) -> None:
    if b"#" in target:
        raise HttpError(400)
    t = target.decode("latin-1")
    req.target = t
    if t.startswith("/"):
        path, _, query = t.partition("?")
    elif t == "*":
        if req.method != "OPTIONS":
            raise HttpError(400)
        path, query = "*", ""
    else:
        m = _ABSOLUTE.match(target)
        if m is None or m.group(1).lower() not in (b"http", b"https"):
            raise HttpError(400)
        authority = m.group(2).decode("latin-1")
        if "@" in authority:
            raise HttpError(400)
        rest = m.group(3).decode("latin-1") or "/"
        if not rest.startswith(("/", "?")):
            raise HttpError(400)
        if rest.startswith("?"):
            rest = "/" + rest
        path, _, query = rest.partition("?")
        req.host, req.host_port = parse_host(authority)
        req.abs_host = True
    req.path_raw = path
    req.query = query


_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*\Z", re.S)
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def _parse_fields(req: Request, head: bytes, pos: int, limit_fields: int, limit_size: int) -> None:
    """Header fields: one regex match per line; folded lines join the previous field."""
    fields = req.fields
    lines = head[pos:].split(b"\r\n")
    for line in lines:
        if not line:
            break
        if b"\n" in line:
            raise HttpError(400)  # bare LF inside the head
        if len(line) > limit_size:
            raise HttpError(400, NOTE_FIELD_SIZE)
        if line[0] in (0x20, 0x09):  # obs-fold: continuation of the previous field
            if not fields or _BAD_VALUE.search(line):
                raise HttpError(400)
            name, value = fields[-1]
            value = value + " " + line.strip(b" \t").decode("latin-1")
            if len(value) + len(name) + 2 > limit_size:
                raise HttpError(400, NOTE_FIELD_SIZE)
            fields[-1] = (name, value)
            continue
        m = _FIELD.match(line)
        if m is None or _BAD_VALUE.search(m.group(2)):
            raise HttpError(400)
        fields.append((m.group(1).decode("latin-1"), m.group(2).decode("latin-1")))
        if len(fields) > limit_fields:
            raise HttpError(400, NOTE_FIELD_COUNT)
    else:
        raise HttpError(400)  # no blank line: the head was cut short
    hd = req.headers
    for name, value in fields:
        k = name.lower()
        if k in hd:
            if k in ("host", "content-length"):
                raise HttpError(400)  # repeated Host or Content-Length
            hd[k] = hd[k] + ", " + value
        else:
            hd[k] = value


def parse_host(value: str) -> tuple[str, int | None]:
    """Validate a Host value (Apache's fix_hostname): lower-cased name, optional port."""
    v = value.strip()
    port: int | None = None
    if v.startswith("["):
        close = v.find("]")
        if close < 0:
            raise HttpError(400)
        name, rest = v[:close + 1], v[close + 1:]
        if rest:
            if not rest.startswith(":"):
                raise HttpError(400)
            port = _port(rest[1:])
        inner = name[1:-1]
        if not inner or any(c not in "0123456789abcdefABCDEF:." for c in inner):
            raise HttpError(400)
        return name.lower(), port
    name, sep, p = v.partition(":")
    if sep:
        port = _port(p)
    if not name or not _HOSTNAME.match(name):
        raise HttpError(400)
    return name.rstrip(".").lower(), port


def _port(text: str) -> int | None:
    if text == "":
        return None
    if not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise HttpError(400)
    return int(text)


def _apply_semantics(req: Request) -> None:
    hd = req.headers
    if "host" in hd:
        if not req.abs_host:
            req.host, req.host_port = parse_host(hd["host"])
    elif req.proto_num >= 1001:
        raise HttpError(400)  # even with an absolute-form target, as Apache 2.4
    conn = hd.get("connection", "").lower()
    tokens = {t.strip() for t in conn.split(",")}
    if req.proto_num >= 1001:
        req.keepalive = "close" not in tokens
    else:
        req.keepalive = "keep-alive" in tokens
    te = hd.get("transfer-encoding")
    if te is not None:
        codings = [c.strip().lower() for c in te.split(",")]
        if codings[-1] != "chunked":
            raise HttpError(400)
        req.body_kind = "chunked"
        if "content-length" in hd:
            req.keepalive = False  # smuggling defence: never reuse such a connection
    elif "content-length" in hd:
        cl = hd["content-length"]
        if not cl.isdigit() or not cl.isascii() or len(cl) > 18:
            raise HttpError(400)
        req.content_length = int(cl)
        if req.content_length:
            req.body_kind = "length"
    expect = hd.get("expect")
    if expect is not None:
        if expect.strip().lower() == "100-continue":
            req.expect_continue = req.proto_num >= 1001
        else:
            raise HttpError(417, f"    Expect: {expect}")


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
            if not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
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
