"""A Require tree of `ip` and `all` lines compiled for the cache hits (issue 12).

`peer_program(tree)` gives the bytes src/fc_ipmatch.h (and its twin _pure/ipmatch.py)
evaluate against the peer address on every hit, with mod_authz_core's combination rules
(<RequireAll>, <RequireAny>, <RequireNone>, `Require not`), or None when the tree holds
anything else (host, local, env, expr, users...) or more than the format can carry.  A
hit whose client the program does not grant goes to the full path, which answers the 403
with its AH01630 line and ErrorDocument.
"""
from __future__ import annotations

from fastcore.modules.mod_authz_core.evaluate import Require, RequireGroup, parse_ip_spec

_GROUP_OP = {"all": b"A", "any": b"Y", "none": b"Z"}
MAX_DEPTH = 32  # FC_AZ_DEPTH
MAX_ITEMS = 255  # one count byte


def peer_program(tree: RequireGroup, hosts: bool = False) -> bytes | None:
    """The tree as the engine's program, or None when it cannot be evaluated there.
    hosts: compile `Require host` lines too (host leaves, which read the connection's
    double-reverse state: fc_peer_granted_host, FastConn.dns_confirmed); mod_authz_core's
    cache contribution asks for them, mod_access_compat's names stay out."""
    out: list[bytes] = []
    return b"".join(out) if _node(tree, out, 0, hosts) else None


def _node(node: Require | RequireGroup, out: list[bytes], depth: int,
          hosts: bool = False) -> bool:
    if depth > MAX_DEPTH:
        return False
    if isinstance(node, RequireGroup):
        op = _GROUP_OP.get(node.kind.lower())
        if op is None or len(node.items) > MAX_ITEMS:
            return False
        out.append(op + bytes((len(node.items),)))
        return all(_node(child, out, depth + 1, hosts) for child in node.items)
    head = b"L" + (b"\x01" if node.negated else b"\x00")
    kind = node.kind.lower()
    if kind == "all":
        granted = bool(node.args) and node.args[0].lower() == "granted"
        out.append(head + (b"g" if granted else b"d"))
        return True
    if kind == "host" and hosts:
        leaf = host_leaf(list(node.args), node.negated)
        if leaf is None:
            return False
        out.append(leaf)
        return True
    if kind != "ip" or not node.args or len(node.args) > MAX_ITEMS:
        return False
    nets = []
    for spec in node.args:
        try:
            net = parse_ip_spec(spec)
        except ValueError:
            return False
        nets.append(net_bytes(net.version, net.network_address.packed, net.netmask.packed))
    out.append(head + b"i" + bytes((len(nets),)) + b"".join(nets))
    return True


# -- building blocks for other modules' rules (mod_access_compat's Order/Allow/Deny) ----

def net_bytes(version: int, network: bytes, mask: bytes) -> bytes:
    """One subnet of an ip leaf: family, masked address, mask (16 bytes each)."""
    return bytes((version,)) + network.ljust(16, b"\0") + mask.ljust(16, b"\0")


def ip_leaf(nets: list[bytes], negated: bool = False) -> bytes | None:
    """A leaf granting a client in any of `nets` (each from net_bytes); no subnet at all
    is a leaf that never grants (`Require all denied`)."""
    if len(nets) > MAX_ITEMS:
        return None
    neg = b"\x01" if negated else b"\x00"
    if not nets:
        return b"L" + neg + b"d"
    return b"L" + neg + b"i" + bytes((len(nets),)) + b"".join(nets)


def host_leaf(domains: list[str], negated: bool = False) -> bytes | None:
    """`Require [not] host d1 d2...`: granted when the connection's confirmed name is in
    one of the domains (in_domain); None when a domain does not fit the format."""
    names = [d.encode("latin-1", "replace") for d in domains]
    if not names or len(names) > MAX_ITEMS or any(not n or len(n) > 255 for n in names):
        return None
    return (b"L" + (b"\x01" if negated else b"\x00") + b"h" + bytes((len(names),))
            + b"".join(bytes((len(n),)) + n for n in names))


def all_leaf(granted: bool, negated: bool = False) -> bytes:
    """`Require [not] all granted|denied`."""
    return b"L" + (b"\x01" if negated else b"\x00") + (b"g" if granted else b"d")


def group(kind: str, items: list[bytes]) -> bytes:
    """<RequireAll> ("all"), <RequireAny> ("any") or <RequireNone> ("none") of programs."""
    return _GROUP_OP[kind] + bytes((len(items),)) + b"".join(items)
