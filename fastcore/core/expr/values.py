"""The byte-level helpers the functions and operators share: integers as apr_atoi64
reads them, Apache's base64 and URL (un)escaping, file names as byte text."""
from __future__ import annotations

import base64
import binascii
import os

from fastcore.core import paths

_INT64_MAX = (1 << 63) - 1
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def atoi64(s: str) -> int:
    """apr_atoi64: leading space, a sign, decimal digits up to the first other char;
    clamped to the 64-bit range; 0 when there are no digits."""
    i, n = 0, len(s)
    while i < n and s[i] in " \t\n\v\f\r":
        i += 1
    neg = False
    if i < n and s[i] in "+-":
        neg = s[i] == "-"
        i += 1
    j = i
    while j < n and "0" <= s[j] <= "9":
        j += 1
    if j == i:
        return 0
    v = int(s[i:j])
    return max(-v, -_INT64_MAX - 1) if neg else min(v, _INT64_MAX)


def raw(s: str) -> bytes:
    """Byte text -> bytes."""
    return s.encode("latin-1")


def text(b: bytes) -> str:
    """Bytes -> byte text, cut at a NUL as a C string would be."""
    return b.split(b"\0", 1)[0].decode("latin-1")


def from_path(path: str | None) -> str:
    """Path text (a file name, a decoded URI) -> byte text."""
    return "" if path is None else os.fsencode(path).decode("latin-1")


def to_path(s: str) -> bytes:
    """Byte text naming a file -> the bytes os.stat wants."""
    return raw(s)


def b64encode(s: str) -> str:
    return base64.b64encode(raw(s)).decode("ascii")


def b64decode(s: str) -> str:
    """apr_base64_decode: the leading run of base64 characters, a partial last group
    giving the bytes it covers; the result is a C string."""
    data = raw(s)
    n = 0
    while n < len(data) and data[n] in _B64:
        n += 1
    chunk = data[:n]
    extra = len(chunk) % 4
    if extra == 1:  # one dangling character contributes nothing
        chunk = chunk[:-1]
        extra = 0
    try:
        out = base64.b64decode(chunk + b"=" * ((4 - extra) % 4))
    except binascii.Error:
        out = b""
    return text(out)


def escape(s: str) -> str:
    """ap_escape_uri."""
    return paths.escape_uri(os.fsdecode(raw(s)))


def unescape(s: str) -> str:
    """ap_unescape_url_keep2f(s, 0): %XX decoded except %2F (kept), a bad escape or
    an encoded NUL gives the empty string."""
    b = raw(s)
    out = bytearray()
    i = 0
    hexd = b"0123456789abcdefABCDEF"
    bad = False
    while i < len(b):
        c = b[i]
        if c != 0x25:
            out.append(c)
            i += 1
            continue
        if i + 2 < len(b) and b[i + 1] in hexd and b[i + 2] in hexd:
            v = int(b[i + 1:i + 3], 16)
            if v == 0:
                bad = True
                i += 3
            elif v == 0x2F:
                out += b[i:i + 3]
                i += 3
            else:
                out.append(v)
                i += 3
        else:
            bad = True
            out.append(c)
            i += 1
    return "" if bad else out.decode("latin-1")
