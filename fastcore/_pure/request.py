"""Pure-Python twin of fastcore._request (FASTCORE_NO_EXTENSIONS=1): same API, same verdicts.

Apache 2.4's strict request-head rules (HttpProtocolOptions Strict LenientMethods
Allow0.9); the rule list is in fastcore/src/fc_request.h.
"""
from __future__ import annotations

import re

MAX_BLANK_LINES = 10
_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb"[" + _TCHAR + rb"]+")
_VCHAR = re.compile(rb"[\x21-\x7e\x80-\xff]+")
_FIELD_OK = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_REQUEST_LINE = re.compile(
    rb"([" + _TCHAR + rb"]+) ([\x21-\x7e\x80-\xff]+)(?: ([\x21-\x7e\x80-\xff]*))?")
_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*:")
_UNSAFE_SINGLE = re.compile(  # the Unsafe request line, rebuilt with single spaces
    rb"([\x21-\x7e\x80-\xff]+) ([\x21-\x7e\x80-\xff]+)(?: ([\x21-\x7e\x80-\xff]*))?")


def find_token(value: str | bytes, tok: str) -> bool:
    """Apache's ap_find_token (twin of fc_token.h): some token of the value, split at
    every non-token byte (so 0xA0, ';', '=', quotes separate), is a non-empty
    case-insensitive prefix of the lower-case word `tok` ("keep" finds keep-alive)."""
    raw = value.encode("latin-1", "replace") if isinstance(value, str) else bytes(value)
    raw = raw.split(b"\0", 1)[0]  # a NUL ends the value, as it ends Apache's string
    word = tok.encode("ascii")
    return any(word.startswith(m.group().lower()) for m in _TOKEN.finditer(raw))


class HeadError(Exception):
    """A malformed or oversized request head: answer `status` (400, 414) and close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


class RequestHead:
    """A parsed request head: request line parts, header fields as sent, bytes consumed."""

    __slots__ = ("method", "target", "version", "proto_num", "headers", "head_len", "_index")

    def __init__(self, method: str, target: str, version: str, proto_num: int,
                 headers: list[tuple[str, str]], head_len: int) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.proto_num = proto_num
        self.headers = headers
        self.head_len = head_len
        self._index: dict[str, str] | None = None

    def __repr__(self) -> str:
        return (f"RequestHead({self.method!r}, {self.target!r}, {self.version!r}, "
                f"{len(self.headers)} headers, head_len={self.head_len})")

    def get(self, name_lower: str, default: str | None = None) -> str | None:
        """Value of a header (case-insensitive); repeated fields joined with ', '."""
        return self.index().get(name_lower.lower(), default)

    def index(self) -> dict[str, str]:
        """{lower-case name: value} with repeated fields joined by ', ' (built once; the
        caller may keep it: http.request uses it as Request.headers)."""
        if self._index is None:
            idx: dict[str, str] = {}
            for name, value in self.headers:
                key = name.lower()
                idx[key] = idx[key] + ", " + value if key in idx else value
            self._index = idx
        return self._index


_PORT = re.compile(rb"[+-]?[0-9]+")


def _authority_ok(target: bytes) -> bool:
    """CONNECT's "host:port" / "[v6]:port", as apr_uri_parse_hostinfo accepts it (the
    host name is checked later, by http/request.py)."""
    if target[:1] == b"[":
        rb = target.find(b"]")
        if rb < 0 or target[rb + 1:rb + 2] != b":":
            return False
        colon = rb + 1
    else:
        colon = target.find(b":")
        if colon < 0:
            return False
    return _PORT.fullmatch(target, colon + 1) is not None


def _target_ok(target: bytes, method: bytes) -> bool:
    if b"#" in target:
        return False  # Apache 2.4 answers 400 to any fragment
    if method == b"CONNECT":
        return _authority_ok(target)  # and only CONNECT takes the authority form
    if target[:1] in (b"/", b"?"):
        return True  # a path starting with '/', or an empty path
    if target == b"*":
        return method == b"OPTIONS"
    m = _SCHEME.match(target)
    if not m:
        return False
    rest = target[m.end():]
    if rest.startswith(b"//"):
        return True  # authority, then a path that is empty or starts with '/'
    return not rest or rest[:1] in (b"/", b"?")


def _request_line(line: bytes, strict_method: bool = True) -> tuple[str, str, str, int]:
    m = (_REQUEST_LINE if strict_method else _UNSAFE_SINGLE).fullmatch(line)
    if not m:
        raise HeadError(400, "Invalid request line")
    method, target, proto = m.group(1), m.group(2), m.group(3) or b""
    if not proto:
        if method != b"GET":
            raise HeadError(400, "HTTP/0.9 request with a method other than GET")
        version, num = "HTTP/0.9", 9
    else:
        if (len(proto) != 8 or not proto.startswith(b"HTTP/") or not 0x31 <= proto[5] <= 0x39
                or proto[6] != 0x2E or not 0x30 <= proto[7] <= 0x39):
            raise HeadError(400, "Invalid protocol in request line")
        version, num = proto.decode(), (proto[5] - 48) * 1000 + proto[7] - 48
    if not _target_ok(target, method):
        raise HeadError(400, "Invalid request-target")
    return method.decode("latin-1"), target.decode("latin-1"), version, num


_UNSAFE_LINE = re.compile(
    rb"([\x21-\x7e\x80-\xff]+) +([\x21-\x7e\x80-\xff]+)(?: +([\x21-\x7e\x80-\xff]*))? *")
_UNSAFE_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e\x80-\xff]+")  # VCHAR but ':'
_UNSAFE_VALUE = re.compile(rb"[^\x00]*")


def _request_line_unsafe(line: bytes) -> tuple[str, str, str, int]:
    """HttpProtocolOptions Unsafe: any VCHAR method, runs of SP, "http/" in any case."""
    m = _UNSAFE_LINE.fullmatch(line)
    if not m:
        raise HeadError(400, "Invalid request line")
    method, target, proto = m.group(1), m.group(2), m.group(3) or b""
    if proto and proto[:5].lower() == b"http/":
        proto = b"HTTP/" + proto[5:]
    return _request_line(method + b" " + target + (b" " + proto if proto else b""),
                         strict_method=False)


def _field(pending: list[bytes], nfields: int, limit_fields: int,
           strict: bool = True) -> tuple[bytes, bytes]:
    """Check a header field (its line, then its folds) and return (name, joined value)."""
    if 0 < limit_fields <= nfields:
        raise HeadError(400, "The number of request header fields exceeds this server's limit")
    line = pending[0]
    m = (_TOKEN if strict else _UNSAFE_NAME).match(line)
    if not m or m.end() == len(line) or line[m.end()] != 0x3A:
        raise HeadError(400, "Request header field name is malformed")
    value = line[m.end() + 1:].strip(b" \t")
    parts = [value, *pending[1:]] if value else pending[1:]
    ok = _FIELD_OK if strict else _UNSAFE_VALUE
    for part in parts:
        if not ok.fullmatch(part):
            raise HeadError(400, "Request header value is malformed")
    return m.group(), b" ".join(parts)


def _line_end(b: bytes, start: int, lf: int, strict: bool, reason: str) -> int:
    """Where the line [start, lf] ends before its CRLF (Unsafe: or its bare LF)."""
    if lf > start and b[lf - 1] == 0x0D:
        return lf - 1
    if strict:
        raise HeadError(400, reason)
    return lf


def parse_head(buf: bytes | bytearray | memoryview, limit_line: int = 8190,
               limit_fields: int = 100, limit_field_size: int = 8190,
               strict: bool = True) -> RequestHead | None:
    """Parse the request head at the start of buf; None if incomplete; HeadError if bad.
    strict=False reads it as HttpProtocolOptions Unsafe does."""
    b = bytes(buf)
    n = len(b)
    pos = blanks = 0
    while True:  # request line after at most 10 empty lines
        e = b.find(b"\n", pos)
        if e < 0:
            if limit_line > 0 and n - pos > limit_line + 2:
                raise HeadError(414, "Request-URI Too Long")
            return None
        if limit_line > 0 and e - pos > limit_line + 2:
            raise HeadError(414, "Request-URI Too Long")
        ce = _line_end(b, pos, e, strict, "Request line not terminated by CRLF")
        if limit_line > 0 and ce - pos > limit_line + 1:
            raise HeadError(414, "Request-URI Too Long")
        if ce == pos:
            blanks += 1
            if blanks > MAX_BLANK_LINES:
                raise HeadError(400, "Too many empty lines before the request")
            pos = e + 1
            continue
        line = b[pos:ce]
        method, target, version, num = (_request_line(line) if strict
                                        else _request_line_unsafe(line))
        pos = e + 1
        break
    if num == 9:
        return RequestHead(method, target, version, num, [], pos)
    fields: list[tuple[bytes, bytes]] = []
    pending: list[bytes] | None = None  # [field line, fold, fold...] not yet checked
    last_len = 0
    while True:
        e = b.find(b"\n", pos)
        if e < 0:
            if limit_field_size > 0 and n - pos > limit_field_size + 2:
                raise HeadError(400, "Size of a request header field exceeds server limit")
            return None  # a line that may still fail to read: nothing more is certain
        s = pos
        if limit_field_size > 0 and e - s > limit_field_size + 2:
            raise HeadError(400, "Size of a request header field exceeds server limit")
        line = b[s:_line_end(b, s, e, strict, "Header line not terminated by CRLF")]
        if limit_field_size > 0 and len(line) > limit_field_size + 1:
            raise HeadError(400, "Size of a request header field exceeds server limit")
        pos = e + 1
        if line and line[0] in (0x20, 0x09):  # obs-fold
            if pending is None:
                raise HeadError(400, "Line folding encountered before first header line")
            rest = line.strip(b" \t")
            if not rest:
                raise HeadError(400, "Empty folded line encountered")
            if limit_field_size > 0 and last_len + len(rest) + 2 >= limit_field_size:
                raise HeadError(400, "Size of a request header field exceeds server limit")
            pending.append(rest)
            last_len += 1 + len(rest)
            continue
        if pending is not None:  # checked once the next line is read, as Apache does
            fields.append(_field(pending, len(fields), limit_fields, strict))
        if not line:
            break
        pending = [line.rstrip(b" \t")]
        last_len = len(pending[0])
    headers = [(nm.decode("latin-1"), v.decode("latin-1")) for nm, v in fields]
    return RequestHead(method, target, version, num, headers, pos)


def bench_parse(buf: bytes, n: int) -> float:
    """ns per parse_head() call (the twin has no separate scan-only path)."""
    import time

    t0 = time.perf_counter_ns()
    for _ in range(n):
        parse_head(buf)
    return (time.perf_counter_ns() - t0) / n


bench_parse_full = bench_parse
