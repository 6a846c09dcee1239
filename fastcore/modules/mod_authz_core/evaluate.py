"""Require evaluation: Apache 2.4 mod_authz_core + mod_authz_host + mod_authz_user semantics.

The configuration (config.py) builds RequireGroup trees; `evaluate` walks one for a
request.  Every provider answers GRANTED, DENIED, NEUTRAL or DENIED_NO_USER (valid-user
and user while nobody authenticated), exactly as Apache's providers do, and the
containers combine them the way mod_authz_core's apply_authz_sections does:

- <RequireAll>: any DENIED wins at once; otherwise the first non-neutral answer, a
  DENIED_NO_USER replacing an earlier GRANTED (a user could still change the outcome).
- <RequireAny> (and bare Require lines): any GRANTED wins at once; otherwise the first
  non-neutral answer, a DENIED_NO_USER replacing an earlier DENIED, else NEUTRAL.
- <RequireNone>: a negated <RequireAny>.
- Negation (`Require not ...`, <RequireNone>) turns GRANTED into DENIED and either denial
  into NEUTRAL: not being rejected is never a reason to grant.

A final NEUTRAL is a denial, as in Apache.  DNS is touched only by `Require host`, and
only when evaluation actually reaches that line (children are evaluated lazily, in order).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from fastcore.core.client import ReqCtx, Resolver, client_address  # noqa: F401 - re-exported
from fastcore.core.expr import Condition, ExprContext, ExprError
from fastcore.core.response import KNOWN_METHODS
from fastcore.core.tokens import is_digits

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Require:
    """One `Require` line. kind: all|ip|host|local|env|method|expr|valid-user|user|group."""

    kind: str
    args: tuple[str, ...] = ()
    negated: bool = False
    filename: str = ""
    line: int = 0
    expr: Condition | None = field(default=None, compare=False)  # Require expr's
    want_user: bool = False  # a Require expr that reads REMOTE_USER


@dataclass(frozen=True)
class RequireGroup:
    """<RequireAll>/<RequireAny>/<RequireNone>; a section's bare Require lines form an
    implicit RequireAny. `merge` is AuthMerging (off|and|or) of the section."""

    kind: str  # "all" | "any" | "none"
    items: tuple[Require | RequireGroup, ...] = ()


GRANTED = 1
DENIED = 0
NEUTRAL = -1
# a provider that needs an authenticated user and has none yet (valid-user, user):
# mod_authz_core then asks for authentication instead of refusing
DENIED_NO_USER = 2

# Providers this module evaluates faithfully.  Anything else (expr, valid-user, user,
# group, ...) needs machinery fastcore does not have and must be rejected by the config
# layer at startup; `validate()` gives it the message.  `env` reads the request's
# environment (ReqCtx.env: empty unless the server sets variables, as Apache's is for a
# static request without SetEnv/SetEnvIf).
SUPPORTED_KINDS = frozenset({"all", "ip", "host", "local", "method", "env", "forward-dns",
                             "valid-user", "user", "expr"})

# the methods Apache registers (Require method, <Limit>): the core's one table
METHODS = KNOWN_METHODS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_LOCAL_NETS: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                    ipaddress.ip_network("::1/128"))


class RemoteHost(Protocol):
    """What authorize() needs to know about the client (see ReqCtx)."""

    client_ip: str
    local_ip: str | None
    method: str
    user: str | None

    def remote_host(self, double: bool) -> str | None: ...


def validate(req: Require) -> None:
    """Raise ValueError with Apache-like wording when a Require line cannot be evaluated;
    the config layer turns it into a ConfigError naming file and line."""
    kind = req.kind.lower()
    if kind not in SUPPORTED_KINDS:
        raise ValueError(f"Unknown Authz provider: {req.kind}")
    if kind == "all":
        if len(req.args) != 1 or req.args[0].lower() not in ("granted", "denied"):
            raise ValueError("'Require all' accepts only 'granted' or 'denied'")
    elif kind == "ip":
        if not req.args:
            raise ValueError("'Require ip' requires an argument")
        for spec in req.args:
            parse_ip_spec(spec)
    elif kind in ("host", "forward-dns", "env", "expr"):
        if not req.args:
            raise ValueError(f"'Require {kind}' requires an argument")
    elif kind == "local":
        if req.args:
            raise ValueError("'Require local' does not take an argument")
    elif kind == "method":
        if not req.args:
            raise ValueError("'Require method' requires an argument")
        for m in req.args:
            if m.upper() not in METHODS:
                raise ValueError(f"Invalid Method '{m}'")


def parse_ip_spec(spec: str) -> Network:
    """One `Require ip` argument: full address, partial IPv4 ("10.1" = 10.1.0.0/16),
    address/bits or address/netmask, IPv6 with or without /bits.  ValueError if invalid."""
    addr, sep, mask = spec.partition("/")
    if sep and not mask:
        raise ValueError(f"ip address '{spec}' appears to be invalid")
    if ":" in addr:
        try:
            if sep:
                return ipaddress.IPv6Network(f"{addr}/{int(mask)}", strict=False)
            return ipaddress.IPv6Network(addr)
        except ValueError:
            raise ValueError(f"ip address '{spec}' appears to be invalid") from None
    parts = addr[:-1].split(".") if addr.endswith(".") else addr.split(".")
    if not 1 <= len(parts) <= 4 or not all(is_digits(p) and len(p) <= 3 and int(p) <= 255
                                           for p in parts):
        raise ValueError(f"ip address '{spec}' appears to be invalid")
    if sep:
        if len(parts) != 4:
            raise ValueError(f"ip address '{spec}' appears to be invalid")
        try:
            if "." in mask:
                return ipaddress.IPv4Network(f"{addr}/{mask}", strict=False)
            if not is_digits(mask) or int(mask) > 32:
                raise ValueError(spec)
            return ipaddress.IPv4Network(f"{addr}/{int(mask)}", strict=False)
        except ValueError:
            raise ValueError(f"ip address '{spec}' appears to be invalid") from None
    bits = 8 * len(parts)
    full = ".".join(parts + ["0"] * (4 - len(parts)))
    return ipaddress.IPv4Network(f"{full}/{bits}", strict=False)


@lru_cache(maxsize=1024)
def _networks(args: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(parse_ip_spec(a) for a in args)


_address = client_address  # an IPv4-mapped client counts as IPv4 (apr_ipsubnet_test)


def _in_any(addr: Address | None, nets: tuple[Network, ...]) -> bool:
    if addr is None:
        return False
    return any(addr.version == n.version and addr in n for n in nets)


def in_domain(domain: str, host: str) -> bool:
    """mod_authz_host's suffix match: `example.com` matches example.com and
    www.example.com but not badexample.com."""
    dl, wl = len(domain), len(host)
    if wl < dl or host[wl - dl:].lower() != domain.lower():
        return False
    return wl == dl or domain.startswith(".") or host[wl - dl - 1] == "."


def _provider(ctx: RemoteHost, req: Require) -> int:
    kind = req.kind.lower()
    if kind == "all":
        return GRANTED if req.args and req.args[0].lower() == "granted" else DENIED
    if kind == "ip":
        return GRANTED if _in_any(_address(ctx.client_ip), _networks(req.args)) else DENIED
    if kind == "local":
        addr = _address(ctx.client_ip)
        if _in_any(addr, _LOCAL_NETS):
            return GRANTED
        if ctx.local_ip is not None and addr is not None and addr == _address(ctx.local_ip):
            return GRANTED
        return DENIED
    if kind == "host":
        # Apache: REMOTE_DOUBLE_REV -- the reverse name must be confirmed by a forward
        # lookup, whatever HostnameLookups says; an unresolvable client is denied.
        name = ctx.remote_host(True)
        if name is None:
            return DENIED
        return GRANTED if any(in_domain(d, name) for d in req.args) else DENIED
    if kind in ("valid-user", "user"):
        # mod_authz_user: no user yet asks for one; `user` compares names exactly
        user = getattr(ctx, "user", None)
        if user is None:
            return DENIED_NO_USER
        return GRANTED if kind == "valid-user" or user in req.args else DENIED
    if kind == "method":
        return GRANTED if ctx.method.upper() in {m.upper() for m in req.args} else DENIED
    if kind == "env":
        env = getattr(ctx, "env", None) or {}
        return GRANTED if any(name in env for name in req.args) else DENIED
    if kind == "forward-dns":
        # mod_authz_host: resolve each name (forward only) and compare addresses.
        addr = _address(ctx.client_ip)
        lookup = getattr(ctx, "forward_addresses", None)
        if addr is None or lookup is None:
            return DENIED
        for name in req.args:
            if any(_address(a) == addr for a in lookup(name)):
                return GRANTED
        return DENIED
    if kind == "expr":
        return _expr_provider(ctx, req)
    # Unsupported providers must have been rejected by the config layer; failing closed
    # here keeps a gap in validation from ever granting access.
    return DENIED


class GeneralError(Exception):
    """AUTHZ_GENERAL_ERROR: evaluation stops and the request is answered 500."""


def _expr_provider(ctx: RemoteHost, req: Require) -> int:
    """expr_check_authorization: true grants, false denies, a failed evaluation is a
    general error."""
    txn = getattr(ctx, "txn", None)
    if req.expr is None or txn is None:
        return DENIED
    ectx = ExprContext(txn)
    try:
        ok = req.expr.evaluate(ectx)
    except ExprError as e:
        raise GeneralError(str(e)) from None
    vary = getattr(ctx, "vary", None)
    if vary is not None:
        vary.extend(ectx.vary)
    if ok:
        return GRANTED
    # expr_check_authorization: false from an expression that reads REMOTE_USER is
    # "no user yet" (authentication follows; after it, AH01629's 401)
    return DENIED_NO_USER if req.want_user else DENIED


def _negate(result: int) -> int:
    """GRANTED becomes DENIED; a denial (with or without a user) becomes NEUTRAL."""
    return DENIED if result == GRANTED else NEUTRAL


Trace = Callable[[str, int], None]
RESULT_WORDS = {GRANTED: "granted", DENIED: "denied", NEUTRAL: "neutral",
                DENIED_NO_USER: "denied (no authenticated user yet)"}


def describe(node: Require | RequireGroup) -> str:
    """How mod_authz_core names a line or container in its AH01626 debug lines."""
    if isinstance(node, Require):
        args = " ".join(node.args)
        return f"Require {'not ' if node.negated else ''}{node.kind}{' ' + args if args else ''}"
    return {"all": "<RequireAll>", "none": "<RequireNone>"}.get(node.kind.lower(),
                                                             "<RequireAny>")


def evaluate(ctx: RemoteHost, node: Require | RequireGroup, trace: Trace | None = None) -> int:
    """GRANTED, DENIED or NEUTRAL for one Require line or container; `trace` hears every
    result as it is decided (mod_authz_core's debug lines), innermost first."""
    if isinstance(node, Require):
        result = _provider(ctx, node)
        result = _negate(result) if node.negated else result
        if trace is not None:
            trace(describe(node), result)
        return result
    kind = node.kind.lower()
    logic_and = kind == "all"
    result = NEUTRAL
    for child in node.items:
        r = evaluate(ctx, child, trace)
        if r == NEUTRAL:
            continue
        # a denial that a user could change (DENIED_NO_USER) is kept over a plain one
        # only where that user could still matter, as apply_authz_sections does
        if logic_and:
            if r == DENIED:
                result = DENIED
                break
            if result == NEUTRAL or (r == DENIED_NO_USER and result != DENIED):
                result = r
        else:
            if r == GRANTED:
                result = GRANTED
                break
            if result == NEUTRAL or (r == DENIED_NO_USER and result == DENIED):
                result = r
    if kind == "none":
        result = _negate(result)
    if trace is not None:
        trace(describe(node), result)
    return result


def authorize(req_ctx: RemoteHost, authz: RequireGroup | None,
              trace: Trace | None = None) -> bool | None:
    """True: granted; False: denied (a tree that needs a user and has none, or that
    evaluates to neutral, included); None: no authorization configured at all (the
    caller grants, as Apache 2.4 does for a path without any Require)."""
    if authz is None or not authz.items:
        return None
    if isinstance(req_ctx, ReqCtx):
        req_ctx.expr_error = None
    try:
        return evaluate(req_ctx, authz, trace) == GRANTED
    except GeneralError as e:  # denied to every caller; check_authz answers 500
        if isinstance(req_ctx, ReqCtx):
            req_ctx.expr_error = str(e)
        return False



def static_authz(group: RequireGroup | None) -> bool:
    """True when the Require tree cannot depend on the client (only `Require all`)."""
    if group is None:
        return True
    for item in group.items:
        if isinstance(item, RequireGroup) or item.kind != "all" or item.negated:
            return False
    return True
