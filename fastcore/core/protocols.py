"""Core's announcement of the protocols a connection could switch to (httpd's
core_upgrade_handler with ap_get_protocol_upgrades, server/core.c and protocol.c).

httpd does this without any protocol module: on the first request of a connection that
sends no Upgrade field and reaches the handler, the vhost's `Protocols` listed before the
one in use (http/1.1; all of them when it is not listed) go out as `Upgrade:` with
`Connection: Upgrade` in headers_out, so a 2xx or 304 answer carries them and an error
answer (built from err_headers_out) does not.  fastcore switches to none of them (no
mod_http2), as httpd without mod_http2: a client's Upgrade request is answered as
HTTP/1.1."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastcore.core.response import Response
    from fastcore.core.transaction import Transaction

HTTP1 = "http/1.1"


def protocol_upgrades(protocols: tuple[str, ...]) -> tuple[str, ...]:
    """The names httpd offers over HTTP/1.1: those before http/1.1 in `Protocols`, all
    of them when http/1.1 is not there; none for `Protocols http/1.1` alone."""
    if not protocols or protocols == (HTTP1,):
        return ()
    out: list[str] = []
    for p in protocols:
        if p == HTTP1:
            break
        out.append(p)
    return tuple(out)


def announce_upgrades(txn: Transaction, resp: Response) -> None:
    """Add httpd's Upgrade/Connection fields to a handler's answer when they apply.  The
    serializer joins its keep-alive token to this Connection field ("Upgrade, close")."""
    if txn.keepalive_count or not (200 <= resp.status < 300 or resp.status == 304):
        return
    if txn.headers_in.get("upgrade"):
        return
    offers = protocol_upgrades(txn.vhost.protocols)
    if offers:
        resp.headers[:0] = [("Upgrade", ",".join(offers)), ("Connection", "Upgrade")]


def announces(offers: str, requests: int, upgrade: str | None) -> bool:
    """Whether a cache hit announces, as announce_upgrades decides: the vhost offers
    protocols, the request is its connection's first, and its Upgrade field (several
    merged with ", ") is absent or empty."""
    return bool(offers) and requests == 0 and not upgrade


def announced_fields(offers: bytes, ka_header: bytes) -> tuple[bytes, bytes]:
    """A cache hit's announcement (its first fields) and what is left of the keep-alive
    header: its Connection token joins "Connection: Upgrade" as the serializer joins it
    (src/fc_upgrade.h writes the same bytes)."""
    lead = b"Upgrade: " + offers + b"\r\nConnection: Upgrade"
    rest = []
    for line in ka_header.split(b"\r\n"):
        if not line:
            continue
        if line.startswith(b"Connection: "):
            lead += b", " + line[12:]
        else:
            rest.append(line + b"\r\n")
    return lead + b"\r\n", b"".join(rest)
