"""mod_access_compat: Apache 2.2's host-based access control (Order, Allow from, Deny from)
and Satisfy, kept in 2.4 for old configurations (Debian's stock config loads it).

It runs in check_access, before any authentication.  Its answer combines with
mod_authz_core's Require as request.c does (Phases.access): under `Satisfy All` (the
default) both must pass; under `Satisfy Any` passing here is enough, and failing here
can still be made up by a user that Require lets in.

Parsing follows apr_ipsubnet_create exactly (full addresses with APR's leniency, partial
"10.1." networks, /bits and /netmask, IPv6), because what it refuses is a startup error
with APR's own wording.  DNS is touched only when a host-name rule is reached for the
request (double reverse lookup, whatever HostnameLookups says), once per connection.

The module has no merge function: a scope that uses any of its directives replaces the
enclosing scope's rules entirely (httpd's default for a NULL merger).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastcore.config.engine import OR_AUTHCFG, OR_LIMIT, Ctx, Directive, DirectiveError, Engine
from fastcore.config.model import DirConfig, ServerConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.client import client_address
from fastcore.core.phases import CHECK_ACCESS, MIDDLE, OK, Hook, HookResult
from fastcore.core.tokens import is_digits
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_authz_core import in_domain
from fastcore.modules.mod_authz_core.peer import all_leaf, group, ip_leaf, net_bytes

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

NAME = "access_compat_module"

DENY_THEN_ALLOW = "deny,allow"
ALLOW_THEN_DENY = "allow,deny"
MUTUAL_FAILURE = "mutual-failure"
ORDERS = (DENY_THEN_ALLOW, ALLOW_THEN_DENY, MUTUAL_FAILURE)

# apr_strerror's texts for what apr_ipsubnet_create refuses
BAD_IP = "The specified IP address is invalid."
BAD_MASK = "The specified network mask is invalid."
NOT_AN_IP = "An IP address was expected"


@dataclass(frozen=True)
class Subnet:
    """An apr_ipsubnet_t: address family (4 or 6), the masked network and its mask."""

    version: int
    net: int
    mask: int

    def contains(self, ip: str) -> bool:
        """apr_ipsubnet_test: an IPv4 subnet also matches an IPv4-mapped IPv6 client."""
        a = client_address(ip)
        return a is not None and a.version == self.version and int(a) & self.mask == self.net


@dataclass(frozen=True)
class Rule:
    """One word after `from`: kind is env, nenv (env=!), all, ip or host."""

    kind: str
    value: str = ""
    subnet: Subnet | None = None


@dataclass
class AccessCompatDir:
    """access_compat_dir_conf (without <Limit>: the same for every method)."""

    order: str = DENY_THEN_ALLOW
    allows: list[Rule] = field(default_factory=list)
    denys: list[Rule] = field(default_factory=list)
    satisfy: str | None = None  # "all" | "any"; None: not specified (SATISFY_NOSPEC)

    def merge(self, add: AccessCompatDir) -> AccessCompatDir:
        """No merger in mod_access_compat: the deeper scope's record wins whole."""
        return add


def access_config(dc: DirConfig) -> AccessCompatDir:
    return module_record(dc.modules, NAME, AccessCompatDir)


# -- apr_ipsubnet_create -------------------------------------------------------------

class NotAnAddress(Exception):
    """APR_EINVAL: the text does not look like an IP address at all."""


def _looks_like_ip(text: str) -> bool:
    if not text:
        return False
    return ":" in text or all(is_digits(c) or c == "." for c in text)


def _inet4(text: str) -> int | None:
    """APR's inet_pton4: four decimal octets (leading zeros allowed), or None."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for p in parts:
        if not p or not is_digits(p) or not p.isascii() or int(p) > 255:
            return None
        value = value << 8 | int(p)
    return value


def _inet6(text: str) -> int | None:
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):
        return None


def _network(text: str) -> Subnet:
    """APR's parse_network: the legacy `a.b.c.` form, one mask byte per octet given."""
    if len(text) >= 16:
        raise DirectiveError(BAD_IP)
    net = mask = 0
    shift = 24
    for i, part in enumerate(text.split(".")):
        if part == "" and i > 0 and i == text.count("."):
            break  # the trailing dot of "10.1."
        if not is_digits(part) or not part.isascii() or shift < 0 or int(part) > 255:
            raise DirectiveError(BAD_IP)
        net |= int(part) << shift
        mask |= 0xFF << shift
        shift -= 8
    return Subnet(4, net, mask)


def parse_subnet(addr: str, mask: str | None) -> Subnet:
    """apr_ipsubnet_create(addr, mask): NotAnAddress for EINVAL, DirectiveError with
    APR's text for a bad address or mask."""
    if not _looks_like_ip(addr):
        raise NotAnAddress(addr)
    v6 = _inet6(addr)
    if v6 is not None:
        if v6 >> 32 == 0xFFFF:  # IPv4-mapped: APR refuses it as a subnet
            raise DirectiveError(BAD_IP)
        version, value, bits = 6, v6, 128
    else:
        v4 = _inet4(addr)
        if v4 is None:
            if mask is not None:
                raise DirectiveError(BAD_IP)
            return _network(addr)
        version, value, bits = 4, v4, 32
    full = (1 << bits) - 1
    if mask is None:
        return Subnet(version, value, full)
    n = _strtol(mask)
    if n is not None and 0 < n <= bits:
        m = full ^ ((1 << (bits - n)) - 1)
        return Subnet(version, value & m, m)
    dotted = _inet4(mask) if version == 4 else None
    if dotted is None:
        raise DirectiveError(BAD_MASK)
    return Subnet(version, value & dotted, dotted)


def _strtol(text: str) -> int | None:
    """strtol(text, &end, 10) with *end == '\\0' required; None when not a number."""
    body = text.lstrip()
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return 0 if not text else None  # "" converts to 0 with *end == '\\0'
    if not is_digits(body) or not body.isascii():
        return None
    return sign * int(body)


def parse_rule(where: str) -> Rule:
    """One `from` word, as allow_cmd classifies it."""
    low = where.lower()
    if low.startswith("env=!"):
        return Rule("nenv", where[5:])
    if low.startswith("env="):
        return Rule("env", where[4:])
    if low == "all":
        return Rule("all")
    addr, slash, mask = where.partition("/")
    try:
        return Rule("ip", where, parse_subnet(addr, mask if slash else None))
    except NotAnAddress:
        if slash:
            raise DirectiveError(NOT_AN_IP) from None
    return Rule("host", where)


# -- directives ----------------------------------------------------------------------

def order(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    o = a[0].lower()
    if o not in ORDERS:
        raise DirectiveError("unknown order")
    scope_record(ctx.dirconf.modules, NAME, AccessCompatDir).order = o


def allow_deny(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """Allow/Deny from WHERE...: each word is checked as Apache does, in order."""
    if a[0].lower() != "from":
        raise DirectiveError("allow and deny must be followed by 'from'")
    rec = scope_record(ctx.dirconf.modules, NAME, AccessCompatDir)
    target = rec.allows if n.name.lower() == "allow" else rec.denys
    for where in a[1:]:
        target.append(parse_rule(where))


def satisfy(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0].lower()
    if v not in ("all", "any"):
        raise DirectiveError("Satisfy either 'any' or 'all'.")
    scope_record(ctx.dirconf.modules, NAME, AccessCompatDir).satisfy = v


def directives() -> list[Directive]:
    lim, auth = frozenset({OR_LIMIT}), frozenset({OR_AUTHCFG})
    where = "'from' followed by hostnames or IP-address wildcards"
    return [
        Directive("order", NAME, lim, "TAKE1", order,
                  "'allow,deny', 'deny,allow', or 'mutual-failure'"),
        Directive("allow", NAME, lim, "ITERATE2", allow_deny, where),
        Directive("deny", NAME, lim, "ITERATE2", allow_deny, where),
        Directive("Satisfy", NAME, auth, "TAKE1", satisfy,
                  "access policy if both allow and require used ('all' or 'any')"),
    ]


# -- the request -----------------------------------------------------------------------

def find(txn: Transaction, rules: list[Rule]) -> bool:
    """find_allowdeny: does any rule match this request?  The host name is asked of DNS
    only when a host rule is reached (double reverse: it must map back to the client)."""
    host: str | None = None
    looked = False
    for r in rules:
        kind = r.kind
        if kind == "all":
            return True
        if kind == "ip":
            assert r.subnet is not None
            if r.subnet.contains(txn.client_ip):
                return True
        elif kind == "env":
            if r.value.lower() in txn.env:
                return True
        elif kind == "nenv":
            if r.value.lower() not in txn.env:
                return True
        else:
            if not looked:
                looked = True
                host = txn.ctx.remote_host(True)
            if host is not None and in_domain(r.value, host):
                return True
    return False


def passes(txn: Transaction, rec: AccessCompatDir) -> bool:
    """check_dir_access's verdict under the scope's Order."""
    if not rec.allows and not rec.denys:
        return rec.order == DENY_THEN_ALLOW
    if rec.order == ALLOW_THEN_DENY:  # both lists are walked, as httpd does
        allowed = find(txn, rec.allows)
        return not find(txn, rec.denys) and allowed  # a matching Deny has the last word
    if rec.order == DENY_THEN_ALLOW:
        denied = find(txn, rec.denys)
        return find(txn, rec.allows) or not denied
    return find(txn, rec.allows) and not find(txn, rec.denys)


def check_access(core: Handler, txn: Transaction) -> HookResult:
    """check_access: 403 (AH01797) when Order/Allow/Deny refuse the client; under
    Satisfy Any the request may still get in with a user (Phases.access)."""
    dc = txn.dirconf
    if dc is None:
        return OK
    rec = access_config(dc)
    if rec.satisfy == "any":
        txn.satisfy_any = True
    if passes(txn, rec):
        return OK
    walk = txn.walk
    what = walk.filename if walk is not None else "uri " + txn.r_uri
    core.srv.errlog(txn.vhost).log(
        "error", "access_compat", f"AH01797: client denied by server configuration: {what}",
        f"{txn.client_ip}:{txn.remote_port}", dc)
    return 403


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """`from all` alone decides the same for everyone; rules of addresses (and `all`)
    under Satisfy All become a rule every hit evaluates against the peer (peer_rule,
    src/fc_ipmatch.h); names, the environment or Satisfy Any (where a user could make up
    for a refusal) make every answer the request's own."""
    rec = access_config(dc)
    if all(r.kind == "all" for r in (*rec.allows, *rec.denys)):
        # the same for everyone; but a refusal that Satisfy Any lets Require make up for
        # is logged (AH01797) on every request, which a cache hit would not do
        return NOT_CACHEABLE if rec.satisfy == "any" and not passes(txn, rec) else NOTHING
    if rec.satisfy == "any":
        return NOT_CACHEABLE
    prog = peer_rule(rec)
    return NOT_CACHEABLE if prog is None else Contribution(peer_rule=prog)


def _matches(rules: list[Rule]) -> bytes | None:
    """find_allowdeny over address rules as a program leaf: `all` always matches."""
    if any(r.kind == "all" for r in rules):
        return all_leaf(True)
    nets = []
    for r in rules:
        if r.kind != "ip" or r.subnet is None:
            return None
        n = 4 if r.subnet.version == 4 else 16
        nets.append(net_bytes(r.subnet.version, r.subnet.net.to_bytes(n, "big"),
                              r.subnet.mask.to_bytes(n, "big")))
    return ip_leaf(nets)


def peer_rule(rec: AccessCompatDir) -> bytes | None:
    """check_dir_access as a Require-style program, or None when a rule is not an
    address: deny,allow grants when an Allow matches or no Deny does; allow,deny and
    mutual-failure when an Allow matches and no Deny does."""
    allow, deny = _matches(rec.allows), _matches(rec.denys)
    if allow is None or deny is None:
        return None
    not_denied = b"L\x01" + deny[2:]  # the same leaf, negated: DENIED on a match
    if rec.order == DENY_THEN_ALLOW:
        return group("any", [allow, group("all", [all_leaf(True), not_denied])])
    return group("all", [allow, not_denied])


def allowed(txn: Transaction, dc: DirConfig) -> tuple[bool, bool]:
    """(passes, Satisfy Any) for a sub-request's scope (listing entries, variants)."""
    rec = access_config(dc)
    return passes(txn, rec), rec.satisfy == "any"


HOOKS = (Hook(CHECK_ACCESS, check_access, MIDDLE),)


def needs_dns(cfg: ServerConfig) -> bool:
    """`Allow from NAME` may come from any .htaccess at any time: a resolver whenever the
    module is loaded."""
    return True


MODULE = ModuleSpec(NAME, directives, dir_record=AccessCompatDir, hooks=HOOKS,
                    cache_contribution=cache_contribution, needs_dns=needs_dns)
