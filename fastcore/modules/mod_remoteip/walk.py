"""The RemoteIPHeader walk (remoteip_modify_request), right to left through the header's
comma-separated addresses while the current address is a trusted proxy.

Apache edits the header value in place (commas become NULs, trailing blanks too) and
puts one comma back when it stops, so what is left in the header follows from that:
`remaining` below reproduces it byte for byte.  The header's values are parsed as IP
literals only; Apache would also resolve a host name there (docs/compat.md).
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from fastcore.modules.mod_remoteip.config import ProxyMatch


@dataclass(frozen=True)
class WalkStep:
    """Why the walk stopped early, for the debug lines Apache writes (AH01568/AH01569)."""

    value: str
    unparsable: bool  # True: not an address; False: private address from an external proxy


@dataclass(frozen=True)
class WalkResult:
    """What the walk found: whether it took an address at all (`changed`), the user
    agent's address, what is left of the header (None: the header is removed), the
    external proxies that presented it (in order) and why it stopped early."""

    changed: bool
    client_ip: str
    remaining: str | None
    proxy_ips: str | None
    stopped: WalkStep | None


def parse_ip(text: str) -> tuple[str, int, bytes] | None:
    """apr_sockaddr_info_get on a numeric address: (APR's text for it, family, raw
    address bytes), or None.  An IPv4-mapped IPv6 address keeps its family and is
    printed as IPv4, as APR does."""
    try:
        info = socket.getaddrinfo(text, None, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                  socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    if not info:
        return None
    fam, sockaddr = info[0][0], info[0][4]
    host = str(sockaddr[0])
    if fam == socket.AF_INET:
        return host, 4, socket.inet_aton(host)
    raw = ipaddress.IPv6Address(host.split("%", 1)[0]).packed
    mapped = ipaddress.IPv6Address(raw).ipv4_mapped
    return (str(mapped) if mapped is not None else host), 6, raw


def _private(family: int, raw: bytes) -> bool:
    """What an external proxy may not present: RFC 3330's local and private IPv4 nets,
    and any IPv6 address outside global unicast 2000::/3."""
    if family == 4:
        a, b = raw[0], raw[1]
        return (a in (10, 127) or (a == 169 and b == 254) or (a == 172 and b & 0xF0 == 16)
                or (a == 192 and b == 168))
    return raw[0] & 0xE0 != 0x20


def _matching(proxies: list[ProxyMatch], ip: str) -> ProxyMatch | None:
    for m in proxies:
        if m.subnet.contains(ip):
            return m
    return None


def walk(value: str, peer_ip: str, proxies: list[ProxyMatch] | None) -> WalkResult:
    """The walk over one header value from a connection whose address is peer_ip
    (unchanged: the header and the address stay as they are)."""
    remote: str | None = value
    current = peer_ip
    internal = proxies is not None  # a list configured: an internal proxy until shown not
    proxy_ips: str | None = None
    found = False
    stopped: WalkStep | None = None
    while remote is not None:
        if proxies:
            m = _matching(proxies, current)
            if m is None:
                break
            if internal:
                internal = m.internal  # an external proxy cannot present an internal one
        cut = remote.rfind(",")
        piece, rest = (remote, None) if cut < 0 else (remote[cut + 1:], remote[:cut])
        text = piece.lstrip(" ").rstrip(" ")
        if not text:
            # nothing but blanks: the comma goes back, the blanks stay
            remote = rest + "," + piece if rest is not None else ""
            break
        parsed = parse_ip(text)
        if parsed is None or (not internal and _private(parsed[1], parsed[2])):
            stopped = WalkStep(text, parsed is None)
            remote = rest + "," + piece.rstrip(" ") if rest is not None else text
            break
        remote = rest
        found = True
        if not internal:
            proxy_ips = current if proxy_ips is None else proxy_ips + ", " + current
        current = parsed[0]
    return WalkResult(found, current, remote, proxy_ips, stopped)
