"""The fast-path twin's request-head parser (fastcore/src/fc_fastparse.h in C): the
request line and the fields the engine acts on, with the cache's LimitRequest* values.
-1 sends the request to the Python path, which answers it as Apache would.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastcore._pure.request import find_token
from fastcore.core.cacheable import CACHE_METHODS, may_use_cache
from fastcore.modules.mod_log_config import escape

if TYPE_CHECKING:
    from fastcore._pure.fastpath import FastCache

_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def esc(b: bytes) -> bytes:
    return escape(b.decode("latin-1")).encode("latin-1")


class Req:
    """One parsed head (fc_req in C)."""

    __slots__ = ("head", "line", "method", "proto", "target", "fields", "host", "http11", "close_token",
                 "ka_sent", "ae", "upg")
    head: bytes
    line: bytes
    method: bytes
    proto: bytes
    target: bytes
    fields: bytes
    host: bytes | None
    http11: bool
    close_token: bool
    ka_sent: bool
    ae: list[bytes]  # the Accept-Encoding values, in order (fc_vary.h's twin picks with them)
    upg: list[bytes]  # the Upgrade values (fc_upgrade.h: no announcement when one is set)


def _method(line: bytes) -> bytes | None:
    """The request line's method when may_use_cache allows it (GET, HEAD), else None."""
    m = line.split(b" ", 1)[0]
    return m if len(line) > len(m) + 1 and m.decode("latin-1") in CACHE_METHODS else None


def _line_shape_ok(line: bytes) -> bool:
    return len(line) >= 14 and line[-9:-1] == b" HTTP/1." and _method(line) is not None


def parse(c: FastCache, buf: bytes | bytearray) -> int | tuple[int, Req]:
    """0 incomplete, -1 not for the fast path, or (head length, request)."""
    i, n, end = 0, len(buf), -1
    first_line = True
    while i < n:
        ch = buf[i]
        if ch == 10:
            return -1
        if ch != 13:
            i += 1
            continue
        if i + 1 >= n:
            return 0
        if buf[i + 1] != 10:
            return -1
        if first_line:  # an HTTP/0.9 line has no blank line to wait for (fc_line_shape_ok)
            if not _line_shape_ok(bytes(buf[:i])):
                return -1
            first_line = False
        if i + 2 < n and buf[i + 2] == 13:
            if i + 3 >= n:
                return 0
            if buf[i + 3] != 10:
                return -1
            end = i + 4
            break
        i += 2
    if end < 0:
        return 0
    head = bytes(buf[:end])
    r = Req()
    r.head = head
    eol = head.index(b"\r")
    line = head[:eol]
    if len(line) > c.limit_line:
        return -1
    r.line = line
    method = _method(line)
    if method is None:
        return -1
    r.method, rest = method, line[len(method) + 1:]
    sp = rest.find(b" ")
    target = rest if sp < 0 else rest[:sp]
    if any(b <= 0x20 or b == 0x7F or b == 0x23 for b in target):
        return -1
    ver = rest[len(target):]
    if len(ver) != 9 or not ver.startswith(b" HTTP/1.") or ver[8:9] not in (b"0", b"1"):
        return -1
    r.target, r.proto = target, ver[1:]
    v11 = ver[8:9] == b"1"
    fields = head[eol + 2:end - 4] if end - 4 > eol else b""
    r.fields = head[eol + 2:]
    host = None
    close = ka = False
    ae: list[bytes] = []
    upg: list[bytes] = []
    lines = fields.split(b"\r\n") if fields else []
    vtotal = 0
    names: list[str] = []
    for nf, fl in enumerate(lines, 1):
        if len(fl) > c.limit_field_size or nf > c.limit_fields:
            return -1
        colon = 0
        while colon < len(fl) and fl[colon] in _TCHAR:
            colon += 1
        if colon == 0 or colon == len(fl) or fl[colon] != 0x3A:
            return -1
        name = fl[:colon].lower()
        raw = fl[colon + 1:]
        if any((b < 0x20 and b != 9) or b == 0x7F for b in raw):
            return -1
        value = raw.strip(b" \t")
        vtotal += len(value) + 2  # merged repeats must fit LimitRequestFieldSize: Python checks
        if vtotal > c.limit_field_size + 2:
            return -1
        if name == b"host":
            if host is not None:
                return -1
            host = value
        elif name == b"connection":  # Apache's ap_find_token, as fc_token.h
            close = close or find_token(value, "close")
            ka = ka or find_token(value, "keep-alive")
        elif name == b"accept-encoding":
            ae.append(value)
        elif name == b"upgrade":
            upg.append(value)
        names.append(name.decode("latin-1"))
    if not may_use_cache(r.method.decode("latin-1"), target.decode("latin-1"), names):
        return -1
    if v11 and host is None:
        return -1
    r.host = host
    r.http11, r.close_token = v11, close  # keep or close: fastcore.core.keepalive.decide
    r.ka_sent = ka
    r.ae = ae
    r.upg = upg
    return end, r


def header_value(r: Req, name: bytes) -> bytes:
    vals = []
    for fl in r.fields.split(b"\r\n"):
        if not fl:
            break
        k, colon, v = fl.partition(b":")
        if colon and k.lower() == name:
            vals.append(esc(v.strip(b" \t")))
    out = b", ".join(vals)
    return out or b"-"
