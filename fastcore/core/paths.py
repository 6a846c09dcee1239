"""The two text forms of a request's bytes, and the only conversions between them.

Apache keeps every path as bytes.  fastcore's Python path keeps `str`, in two forms that
are each an exact image of the bytes (see docs/internals.md, "Path bytes"):

- wire text: what came off the socket or goes back on it (request line, target, query,
  header values), one code point per byte (latin-1).  It never reaches the filesystem.
- path text: a decoded URI path (Apache's r->uri), a file name (r->filename), and every
  path of the configuration: os.fsdecode of the bytes (utf-8 + surrogateescape), so that
  os.stat/open get the very bytes that were sent, whatever their encoding.

Wire text becomes path text only by percent-decoding (`unescape_path`); path text goes
back to the wire only percent-escaped (`escape_uri`), as bytes (`to_bytes`), or as a
header value (`fs_to_wire`).  Nothing else converts between the two.
"""
from __future__ import annotations

import os

_HEX = b"0123456789abcdefABCDEF"
# ap_os_escape_path's T_OS_ESCAPE_PATH: these and the alphanumerics stay as they are
_OS_PATH_SAFE = frozenset(b"$-_.+!*'(),:;@&=/~")
_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class BadEscape(ValueError):
    """A `%` not followed by two hex digits (Apache: 400)."""


class EncodedNul(ValueError):
    """%00 in a path (Apache: 404)."""


class EncodedSlash(ValueError):
    """%2F in a path under AllowEncodedSlashes Off (Apache: 404)."""


def to_bytes(path: str) -> bytes:
    """Path text -> the bytes it stands for (os.fsencode)."""
    return os.fsencode(path)


def from_bytes(raw: bytes) -> str:
    """Bytes of a path -> path text (os.fsdecode: exact for any bytes)."""
    return os.fsdecode(raw)


def wire_bytes(text: str) -> bytes:
    """Wire text -> its bytes (one byte per code point, as the scanner decoded them)."""
    return text.encode("latin-1")


def fs_to_wire(path: str) -> str:
    """Path text (a config value, a decoded URI) as wire text with the same bytes, for a
    header value that Apache copies unescaped (a Redirect target, an ErrorDocument URL)."""
    return os.fsencode(path).decode("latin-1")


def unescape_path(wire: str, encoded_slashes: str = "off") -> tuple[str, bool]:
    """ap_unescape_url over a wire-text path: %XX -> that byte, then path text.
    encoded_slashes: "off" (%2F refused), "on" (decoded), "nodecode" (kept as %2F).
    Returns (path text, whether a %2F was decoded)."""
    if wire.isascii() and "%" not in wire:
        return wire, False
    raw = wire_bytes(wire)
    parts = raw.split(b"%")  # one step per escape, not per byte
    out = bytearray(parts[0])
    decoded_slash = False
    for part in parts[1:]:
        h = part[:2]
        if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
            raise BadEscape(wire)
        v = int(h, 16)
        if v == 0:
            raise EncodedNul(wire)
        if v == 0x2F:
            if encoded_slashes == "off":
                raise EncodedSlash(wire)
            if encoded_slashes == "nodecode":
                out += b"%" + h
                out += part[2:]
                continue
            decoded_slash = True
        out.append(v)
        out += part[2:]
    return from_bytes(bytes(out)), decoded_slash


def escape_uri(path: str) -> str:
    """ap_escape_uri (ap_os_escape_path with partial=1) of path text: the bytes outside
    the path-safe set as %xx, lower-case hex as Apache writes them (ASCII result, the
    same in both text forms)."""
    if path.isascii() and path.isalnum():
        return path
    out = []
    for b in to_bytes(path):
        if b in _ALNUM or b in _OS_PATH_SAFE:
            out.append(chr(b))
        else:
            out.append(f"%{b:02x}")
    return "".join(out)
