"""Twin of src/fc_ipmatch.h: a compiled Require tree of ip/all lines against the peer.

The program (fastcore/modules/mod_authz_core/peer.py compiles it) is walked with
mod_authz_core's combination rules; `peer_granted` is True only when the tree grants the
address.  A denial, a malformed program or an address that does not parse is False: the
hit then goes to the full path, which builds the 403 and logs it.  A host leaf (`Require
host`) reads the connection's double-reverse state (`peer_granted_host`): no lookup made
yet is NEED (the full path makes it) unless its group was decided already.
"""
from __future__ import annotations

import ipaddress

GRANTED, DENIED, NEUTRAL, NEED = 1, 0, -1, -3
HOST_UNKNOWN = -1  # no double-reverse lookup made on the connection yet
MAX_DEPTH = 32


class Malformed(Exception):
    """The program does not parse (the C side's FC_AZ_BAD)."""


def peer_address(text: str) -> tuple[int, bytes] | None:
    """(family 4 or 6, address bytes) of the client's address text; an IPv4-mapped IPv6
    address is its IPv4 form (apr_ipsubnet_test)."""
    try:
        a = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return (4, a.packed) if a.version == 4 else (6, a.packed)


def in_domain(domain: bytes, what: bytes) -> bool:
    """mod_authz_host's in_domain: a case-insensitive suffix on a label boundary."""
    dl, wl = len(domain), len(what)
    if wl < dl or what[wl - dl:].lower() != domain.lower():
        return False
    return wl == dl or domain[:1] == b"." or what[wl - dl - 1:wl - dl] == b"."


class _Walker:
    def __init__(self, prog: bytes, who: tuple[int, bytes], hstate: int, host: bytes) -> None:
        self.p, self.pos, self.who = prog, 0, who
        self.hstate, self.host = hstate, host

    def byte(self) -> int:
        if self.pos >= len(self.p):
            raise Malformed
        b = self.p[self.pos]
        self.pos += 1
        return b

    def leaf(self) -> int:
        neg, kind = self.byte(), self.byte()
        if kind == ord("g"):
            r = GRANTED
        elif kind == ord("d"):
            r = DENIED
        elif kind == ord("i"):
            r = DENIED
            for _ in range(self.byte()):
                if self.pos + 33 > len(self.p):
                    raise Malformed
                fam = self.p[self.pos]
                addr = self.p[self.pos + 1:self.pos + 17]
                mask = self.p[self.pos + 17:self.pos + 33]
                self.pos += 33
                if fam not in (4, 6):
                    raise Malformed
                if fam != self.who[0] or r == GRANTED:
                    continue
                n = 4 if fam == 4 else 16
                if all(self.who[1][b] & mask[b] == addr[b] for b in range(n)):
                    r = GRANTED
        elif kind == ord("h"):
            r = DENIED
            for _ in range(self.byte()):
                dl = self.byte()
                if dl == 0 or self.pos + dl > len(self.p):
                    raise Malformed
                name = self.p[self.pos:self.pos + dl]
                self.pos += dl
                if self.hstate == 1 and r != GRANTED and in_domain(name, self.host):
                    r = GRANTED
            if self.hstate == HOST_UNKNOWN:
                return NEED
        else:
            raise Malformed
        if neg:
            r = DENIED if r == GRANTED else NEUTRAL
        return r

    def node(self, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise Malformed
        op = self.byte()
        if op == ord("L"):
            return self.leaf()
        if op not in (ord("A"), ord("Y"), ord("Z")):
            raise Malformed
        count = self.byte()
        logic_and = op == ord("A")
        result, decided = NEUTRAL, False
        for _ in range(count):
            r = self.node(depth + 1)  # parsed to its end even once the group is decided
            if decided or r == NEUTRAL:
                continue
            if r == NEED:
                return NEED
            if logic_and:
                if r == DENIED:
                    result, decided = DENIED, True
                elif result == NEUTRAL:
                    result = r
            elif r == GRANTED:
                result, decided = GRANTED, True
            elif result == NEUTRAL:
                result = r
        if op == ord("Z"):
            result = DENIED if result == GRANTED else NEUTRAL
        return result


def peer_granted(prog: bytes, client: bytes) -> bool:
    """True when the compiled tree grants `client` (the address text, as the engine's
    connection holds it), with no lookup made on the connection."""
    return peer_granted_host(prog, client, HOST_UNKNOWN, b"")


def peer_granted_host(prog: bytes, client: bytes, hstate: int, host: bytes) -> bool:
    """The same with the connection's double-reverse state: hstate -1 not looked up,
    0 no confirmed name, 1 `host` is the confirmed name."""
    # an address that does not parse matches no ip line (the tree still decides)
    w = _Walker(prog, peer_address(client.decode("latin-1")) or (0, b""), hstate, host)
    try:
        return w.node(0) == GRANTED and w.pos == len(prog)
    except Malformed:
        return False
