"""The host name of a request, checked as Apache 2.4 checks it (vhost.c fix_hostname).

Two spellings reach it: the Host field (split by apr_parse_addr_port: a port must be
1-65535, a bracketed IPv6 literal must be a real address, no zone id) and the authority
of an absolute-form target (split by apr_uri_parse: any strtol-readable port, brackets
only delimit).  Then the name: no "..", '/' or '\\', one trailing dot dropped, and, under
HttpProtocolOptions Strict (the default), RFC 3986/1123 sanity: a numeric name must be a
dotted quad without leading zeros, and the last label of any other name starts with a
letter (so "0x7f.1", "127.1", "a.123" are 400 while "127.0.0.1" is not).  Apache's
strict check also admits '_' (measured on 2.4.71).
"""
from __future__ import annotations

import socket
from typing import NamedTuple

from fastcore.core.errors import HttpErrorBase

_XDIGITS = frozenset("0123456789abcdefABCDEF")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class HostPort(NamedTuple):
    """A checked host: lower-case name ("[v6]" keeps its brackets), port or None."""

    host: str
    port: int | None


class BadHost(HttpErrorBase):
    """The request names a host Apache refuses: 400."""

    def __init__(self) -> None:
        super().__init__(400)


def _v6_literal(h: str) -> bool:
    """fix_hostname_v6_literal: hex digits, ':' and '.', one '::' at most."""
    double = False
    for i, c in enumerate(h):
        nxt = h[i + 1:i + 2]
        if c in _XDIGITS:
            continue
        if c == ":":
            if nxt == ":":
                if double:
                    return False
                double = True
            elif nxt == ".":
                return False
        elif c == ".":
            if nxt in (":", "."):
                return False
        else:
            return False
    return True


def _strict_ok(h: str) -> bool:
    """strict_hostname_check on a name already lower-cased and stripped of its dot."""
    if any(c not in _NAME_CHARS for c in h):
        return False
    if all(c.isdigit() or c == "." for c in h):
        labels = h.split(".")
        return len(labels) == 4 and all(
            lab and (lab == "0" or lab[0] != "0") for lab in labels)
    tld = h.rpartition(".")[2]
    return "." not in h or not tld or tld[0].isalpha()


def _name(h: str, strict: bool) -> str:
    """fix_hostname_non_v6 (+ the strict check): the name as vhosts compare it."""
    if ".." in h or "/" in h or "\\" in h:
        raise BadHost()
    h = h.lower()
    if h.endswith("."):
        h = h[:-1]
    if strict and not _strict_ok(h):
        raise BadHost()
    return h


def _header_port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise BadHost()
    return int(text)


def from_header(value: str, strict: bool = True) -> HostPort:
    """The Host field's value."""
    v = value.strip()
    if not v:
        raise BadHost()
    if v.isascii() and v.isdigit():  # apr would read it as a port; Apache checks the name
        return HostPort(_name(v, strict), None)
    if v.startswith("["):
        close = v.find("]")
        if close < 0:
            raise BadHost()
        inner, rest = v[1:close], v[close + 1:]
        port = None
        if rest:
            if not rest.startswith(":"):
                raise BadHost()
            port = _header_port(rest[1:])
        if "%" in inner or not _v6_literal(inner):
            raise BadHost()
        try:
            socket.inet_pton(socket.AF_INET6, inner)
        except OSError:
            raise BadHost() from None
        return HostPort(f"[{inner.lower()}]", port)
    name, sep, p = v.rpartition(":")
    if not (sep and p.isascii() and p.isdigit()):  # no port: all of it is the name
        return HostPort(_name(v, strict), None)
    if not name:
        raise BadHost()
    return HostPort(_name(name, strict), _header_port(p))


def _uri_port(text: str) -> int | None:
    """apr_uri_parse: strtol over the whole text (a sign is fine), empty means none."""
    if not text:
        return None
    digits = text[1:] if text[0] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        raise BadHost()
    return int(text) & 0xFFFF


def from_uri(authority: str, strict: bool = True) -> HostPort:
    """The host[:port] of an absolute-form target (userinfo already refused)."""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise BadHost()
        inner, rest = authority[1:close], authority[close + 1:]
        if rest and not rest.startswith(":"):
            raise BadHost()
        port = _uri_port(rest[1:])
        if ":" in inner:
            if not _v6_literal(inner):
                raise BadHost()
            return HostPort(f"[{inner.lower()}]", port)
        return HostPort(_name(inner, strict) if inner else "", port)
    name, sep, p = authority.rpartition(":")
    if not sep:
        name, p = authority, ""
    port = _uri_port(p)
    return HostPort(_name(name, strict) if name else "", port)
