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


def peer_program(tree: RequireGroup) -> bytes | None:
    """The tree as the engine's program, or None when it cannot be evaluated there."""
    out: list[bytes] = []
    return b"".join(out) if _node(tree, out, 0) else None


def _node(node: Require | RequireGroup, out: list[bytes], depth: int) -> bool:
    if depth > MAX_DEPTH:
        return False
    if isinstance(node, RequireGroup):
        op = _GROUP_OP.get(node.kind.lower())
        if op is None or len(node.items) > MAX_ITEMS:
            return False
        out.append(op + bytes((len(node.items),)))
        return all(_node(child, out, depth + 1) for child in node.items)
    head = b"L" + (b"\x01" if node.negated else b"\x00")
    kind = node.kind.lower()
    if kind == "all":
        granted = bool(node.args) and node.args[0].lower() == "granted"
        out.append(head + (b"g" if granted else b"d"))
        return True
    if kind != "ip" or not node.args or len(node.args) > MAX_ITEMS:
        return False
    nets = []
    for spec in node.args:
        try:
            net = parse_ip_spec(spec)
        except ValueError:
            return False
        fam = 4 if net.version == 4 else 6
        nets.append(bytes((fam,)) + net.network_address.packed.ljust(16, b"\0")
                    + net.netmask.packed.ljust(16, b"\0"))
    out.append(head + b"i" + bytes((len(nets),)) + b"".join(nets))
    return True
