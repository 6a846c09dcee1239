"""Authorization: Apache 2.4 mod_authz_core + mod_authz_host semantics.

The directives below build RequireGroup trees and AuthzDir.merge applies AuthMerging;
`authorize` evaluates a tree for one request.  Every provider answers one of GRANTED,
DENIED or NEUTRAL, exactly as Apache's providers do, and the containers combine them the way
mod_authz_core's apply_authz_sections does:

- <RequireAll>: any DENIED wins at once; otherwise the first non-neutral answer.
- <RequireAny> (and bare Require lines): any GRANTED wins at once; otherwise DENIED if any
  child denied, else NEUTRAL.
- <RequireNone>: a negated <RequireAny>.
- Negation (`Require not ...`, <RequireNone>) turns GRANTED into DENIED and DENIED into
  NEUTRAL: not being rejected is never a reason to grant.

A final NEUTRAL is a denial (403), as in Apache.  DNS is touched only by `Require host`, and
only when evaluation actually reaches that line (children are evaluated lazily, in order).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from fastcore.config.engine import OR_AUTHCFG, Ctx, Directive, DirectiveError, Engine
from fastcore.config.lexer import get_word, split_words
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.sections import section_args, section_label
from fastcore.config.tree import Node
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.expr import Condition, ExprContext, ExprError, parse_condition
from fastcore.core.phases import CHECK_AUTHZ, OK, OUTPUT_FILTER, Hook, HookResult
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction


@dataclass(frozen=True)
class Require:
    """One `Require` line. kind: all|ip|host|local|env|method|expr|valid-user|user|group."""

    kind: str
    args: tuple[str, ...] = ()
    negated: bool = False
    filename: str = ""
    line: int = 0
    expr: Condition | None = field(default=None, compare=False)  # Require expr's


@dataclass(frozen=True)
class RequireGroup:
    """<RequireAll>/<RequireAny>/<RequireNone>; a section's bare Require lines form an
    implicit RequireAny. `merge` is AuthMerging (off|and|or) of the section."""

    kind: str  # "all" | "any" | "none"
    items: tuple[Require | RequireGroup, ...] = ()


GRANTED = 1
DENIED = 0
NEUTRAL = -1

# Providers this module evaluates faithfully.  Anything else (expr, valid-user, user,
# group, ...) needs machinery fastcore does not have and must be rejected by the config
# layer at startup; `validate()` gives it the message.  `env` reads the request's
# environment (ReqCtx.env: empty unless the server sets variables, as Apache's is for a
# static request without SetEnv/SetEnvIf).
SUPPORTED_KINDS = frozenset({"all", "ip", "host", "local", "method", "env", "forward-dns",
                             "expr"})

METHODS = frozenset({
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
    "VERSION-CONTROL", "CHECKOUT", "UNCHECKOUT", "CHECKIN", "UPDATE", "LABEL",
    "REPORT", "MKWORKSPACE", "MKACTIVITY", "BASELINE-CONTROL", "MERGE",
})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_LOCAL_NETS: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                    ipaddress.ip_network("::1/128"))


class RemoteHost(Protocol):
    """What authorize() needs to know about the client (see ReqCtx)."""

    client_ip: str
    local_ip: str | None
    method: str

    def remote_host(self, double: bool) -> str | None: ...


class Resolver(Protocol):
    def reverse(self, ip: str, double: bool) -> str | None: ...

    def forward(self, name: str) -> frozenset[str]: ...


class ReqCtx:
    """Per-connection client facts for authorization and %h logging.

    The host name is looked up lazily: nothing touches DNS until remote_host() is called,
    and each connection pays for at most one reverse and one forward lookup (Apache caches
    them in conn_rec the same way).  `method` may be updated for each request on a
    keep-alive connection.
    """

    __slots__ = ("client_ip", "_local", "method", "env", "_resolver", "_name", "_looked_up",
                 "_double", "txn", "expr_error", "vary", "answer_txn", "answer_vary")

    def __init__(self, client_ip: str, local_ip: str | Callable[[], object] | None,
                 method: str, resolver: Resolver | None) -> None:
        self.client_ip = client_ip
        # The server's own address: a string, or a callable (e.g. the connection's
        # getsockname wrapper) asked only when `Require local` meets a non-loopback client.
        self._local = local_ip
        self.method = method
        self.env: dict[str, str] = {}  # request environment variables (Require env)
        self._resolver = resolver
        self._name: str | None = None   # reverse name (unconfirmed)
        self._looked_up = False
        self._double: bool | None = None  # None: forward check not done yet
        # Require expr: the request it is evaluated for (set by HttpServer.authorize),
        # an evaluation's failure (Apache's AUTHZ_GENERAL_ERROR: 500) and the request
        # headers it read (Vary on the answer)
        self.txn: Transaction | None = None
        self.expr_error: str | None = None
        self.vary: list[str] = []
        self.answer_txn: Transaction | None = None  # check_authz's request, its Vary
        self.answer_vary: list[str] = []

    @property
    def local_ip(self) -> str | None:
        """The local address of the connection (evaluated once, on first use)."""
        v = self._local
        if callable(v):
            try:
                got = v()
            except OSError:
                got = None
            if isinstance(got, tuple):
                got = got[0] if got else None
            v = str(got) if got else None
            self._local = v
        return v

    @local_ip.setter
    def local_ip(self, value: str | Callable[[], object] | None) -> None:
        self._local = value

    def remote_host(self, double: bool) -> str | None:
        """The client's host name: reverse lookup, and with double=True only when the
        forward lookup of that name contains the client address; None when unknown."""
        if self._resolver is None:
            return None
        if not self._looked_up:
            self._looked_up = True
            self._name = self._resolver.reverse(self.client_ip, False)
        if self._name is None:
            return None
        if not double:
            return self._name
        if self._double is None:
            self._double = self._resolver.reverse(self.client_ip, True) is not None
        return self._name if self._double else None

    def forward_addresses(self, name: str) -> frozenset[str]:
        """Addresses `name` resolves to (Require forward-dns); empty when unresolvable."""
        if self._resolver is None:
            return frozenset()
        return self._resolver.forward(name)

    def cached_host(self) -> str | None:
        """The name if an earlier lookup on this connection found one; never does DNS.
        (Apache's %h with HostnameLookups Off shows a name a `Require host` looked up.)"""
        return self._name


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
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255
                                           for p in parts):
        raise ValueError(f"ip address '{spec}' appears to be invalid")
    if sep:
        if len(parts) != 4:
            raise ValueError(f"ip address '{spec}' appears to be invalid")
        try:
            if "." in mask:
                return ipaddress.IPv4Network(f"{addr}/{mask}", strict=False)
            if not mask.isdigit() or int(mask) > 32:
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


@lru_cache(maxsize=4096)
def _address(ip: str) -> Address | None:
    """Parse the client address; an IPv4-mapped IPv6 address counts as its IPv4 form
    (apr_ipsubnet_test matches it against IPv4 subnets)."""
    try:
        a = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        return a.ipv4_mapped
    return a


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
    return GRANTED if ok else DENIED


def _negate(result: int) -> int:
    if result == GRANTED:
        return DENIED
    if result == DENIED:
        return NEUTRAL
    return NEUTRAL


Trace = Callable[[str, int], None]
RESULT_WORDS = {GRANTED: "granted", DENIED: "denied", NEUTRAL: "neutral"}


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
        if logic_and:
            if r == DENIED:
                result = DENIED
                break
            if result == NEUTRAL:
                result = r
        else:
            if r == GRANTED:
                result = GRANTED
                break
            if result == NEUTRAL:
                result = r
    if kind == "none":
        result = _negate(result)
    if trace is not None:
        trace(describe(node), result)
    return result


def authorize(req_ctx: RemoteHost, authz: RequireGroup | None,
              trace: Trace | None = None) -> bool | None:
    """True: granted; False: denied (403); None: no authorization configured at all (the
    caller grants, as Apache 2.4 does for a path without any Require).  A tree that
    evaluates to neutral is a denial, as in mod_authz_core."""
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


# -- configuration: the per-dir record, Require, <RequireAll/Any/None>, AuthMerging ------

NAME = "authz_core_module"


@dataclass
class AuthzDir:
    """mod_authz_core's per-dir record: the scope's Require tree and its AuthMerging."""

    authz: RequireGroup | None = None
    merging: str | None = None  # AuthMerging off|and|or (None: off)

    def merge(self, add: AuthzDir) -> AuthzDir:
        """A section's Require lines replace the parent's unless AuthMerging And/Or
        combines them (merge_authz_core_dir_config)."""
        merging = add.merging if add.merging is not None else self.merging
        if add.authz is None:
            return AuthzDir(self.authz, merging)
        mode = add.merging or "off"
        if mode == "off" or self.authz is None:
            return AuthzDir(add.authz, merging)
        return AuthzDir(RequireGroup("all" if mode == "and" else "any",
                                     (self.authz, add.authz)), merging)


def authz_config(dc: DirConfig) -> AuthzDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    return module_record(dc.modules, NAME, AuthzDir)


def _push(ctx: Ctx, item: Require | RequireGroup) -> None:
    """Add an item to the current group; the section's own (bare) items form its
    implicit <RequireAny>, kept in the scope's record as they come."""
    ctx.authz.append(item)
    if not ctx.authz_group:
        scope_record(ctx.dirconf.modules, NAME, AuthzDir).authz = RequireGroup(
            "any", tuple(ctx.authz))


CORE_PROVIDERS = ("all", "env", "method", "expr")


def words_until_empty(text: str) -> list[str]:
    """ap_getword_conf in a loop that stops at the first empty word (`""` ends the list)."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        w, pos = get_word(text, pos)
        if not w:
            break
        out.append(w)
    return out


def require(e: Engine, ctx: Ctx, a: str, n: Node) -> None:
    """add_authz_provider: the provider name is one word (`not` before it, in any case,
    negates); provider names are case-sensitive; each provider parses the raw rest."""
    from fastcore.modules.mod_authz_host import HOST_PROVIDERS, parse_host_args

    name, pos = get_word(a)
    neg = name.lower() == "not"
    if neg:
        name, pos = get_word(a, pos)
    rest = a[pos:].strip()
    host = name in HOST_PROVIDERS and e.module_loaded("authz_host_module")
    if not (name in CORE_PROVIDERS or host):
        raise DirectiveError(f"Unknown Authz provider: {name}")
    args = tuple(split_words(rest))
    if host:
        args = parse_host_args(name, rest, args)
    elif name == "all":
        # all_parse_config compares the whole raw rest: `all "granted"` is refused
        if rest.lower() not in ("granted", "denied"):
            raise DirectiveError("Argument for 'Require all' must be 'granted' or 'denied'")
        args = (rest.lower(),)
    elif name == "method":
        args = tuple(words_until_empty(rest))
        for m in args:
            if m not in METHODS:  # ap_method_number_of is case-sensitive
                raise DirectiveError(f"Invalid Method '{m}'")
    elif name == "expr":
        text = rest  # expr_parse_config drops surrounding double quotes, nothing else
        if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
            text = text[1:-1]
        try:
            cond = parse_condition(text)
        except DirectiveError as err:
            raise DirectiveError(f"Cannot parse expression in require line: {err}") from None
        _check_negation(neg, ctx)
        _push(ctx, Require(name, (text,), neg, n.filename, n.line, cond))
        return
    _check_negation(neg, ctx)
    _push(ctx, Require(name, args, neg, n.filename, n.line))


def _check_negation(neg: bool, ctx: Ctx) -> None:
    if neg and ctx.authz_kind in ("any", "none"):
        group = "RequireAny" if ctx.authz_kind == "any" else "RequireNone"
        raise DirectiveError(f"negative Require directive has no effect in <{group}> "
                             "directive")


def auth_merging(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0].lower()
    if v not in ("off", "and", "or"):
        raise DirectiveError("AuthMerging must be one of: Off | And | Or")
    scope_record(ctx.dirconf.modules, NAME, AuthzDir).merging = v


def _negative(item: Require | RequireGroup) -> bool:
    return (item.negated if isinstance(item, Require) else False) or item.kind == "none"


def require_group(e: Engine, ctx: Ctx, args: str, node: Node) -> None:
    """<RequireAll>, <RequireAny>, <RequireNone> (add_authz_section)."""
    kind = node.name.lower()[len("require"):]
    label = section_label(e, node)
    if section_args(args, label):
        raise DirectiveError(f"<{label}> directive doesn't take additional arguments")
    parent = {"any": "RequireAny", "all": "RequireAll", "none": "RequireNone"}[ctx.authz_kind]
    sub = ctx.child(authz=[], authz_kind=kind, authz_group=True)
    e.walk(node.children or [], sub)  # add_authz_section: the body's errors come first
    if not sub.authz:
        raise DirectiveError(f"<{label}> directive contains no authorization directives")
    if kind == "none" and ctx.authz_kind in ("any", "none"):
        raise DirectiveError(f"<{label}> directive has no effect in <{parent}> directive")
    if kind == "all" and all(_negative(i) for i in sub.authz):
        raise DirectiveError(f"AH01624: <{node.name}> directive contains only negative "
                             "authorization directives")
    _push(ctx, RequireGroup(kind, tuple(sub.authz)))


def directives() -> list[Directive]:
    ac = frozenset({OR_AUTHCFG})
    return [
        Directive("<RequireAll", NAME, ac, "SECTION", require_group),
        Directive("<RequireAny", NAME, ac, "SECTION", require_group),
        Directive("<RequireNone", NAME, ac, "SECTION", require_group),
        Directive("Require", NAME, ac, "RAW_ARGS", require, "specifies authorization "
                  "directives which one must pass (or not) for a request to suceeed"),
        Directive("AuthMerging", NAME, ac, "TAKE1", auth_merging, "controls how a "
                  "<Directory>, <Location>, or similar directive's authorization directives "
                  "are combined with those of its predecessor"),
    ]



def static_authz(group: RequireGroup | None) -> bool:
    """True when the Require tree cannot depend on the client (only `Require all`)."""
    if group is None:
        return True
    for item in group.items:
        if isinstance(item, RequireGroup) or item.kind != "all" or item.negated:
            return False
    return True


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """mod_authz_core's share in a cached answer: none when access cannot depend on the
    client; else not cacheable (every request must be authorized again)."""
    return NOTHING if static_authz(authz_config(dc).authz) else NOT_CACHEABLE



def check_authz(core: Handler, txn: Transaction) -> HookResult:
    """Require for the walked file under its merged configuration: 403 when denied, 500
    when a Require expr could not be evaluated (AH02320)."""
    walk, dc = txn.walk, txn.dirconf
    rctx = txn.conn.ctx
    rctx.vary = []
    if walk is not None and dc is not None and \
            core.srv.authorize(txn, dc, walk.filename) is False:
        if rctx.expr_error is not None:
            core.srv.errlog(txn.vhost).log(
                "error", "authz_core", "AH02320: Error evaluating expression in 'Require "
                f"expr': {rctx.expr_error}", f"{txn.client_ip}:{txn.remote_port}", dc)
            return 500
        return 403
    rctx.answer_txn, rctx.answer_vary = txn, rctx.vary  # sub-requests' stay their own
    rctx.vary = []
    return OK


def add_vary(core: Handler, txn: Transaction) -> HookResult:
    """The request headers a granting Require expr read, in Vary (ap_expr_exec merges
    them into headers_out, which an error answer does not send)."""
    rctx = txn.conn.ctx
    resp = txn.response
    if not rctx.answer_vary or rctx.answer_txn is not txn or resp is None \
            or resp.status >= 400:
        return OK
    names: list[str] = []
    for k, v in resp.headers:
        if k.lower() == "vary":
            names += [t.strip() for t in v.split(",") if t.strip()]
    for h in rctx.answer_vary:
        if h.lower() not in (x.lower() for x in names):
            names.append(h)
    resp.headers = [(k, v) for k, v in resp.headers if k.lower() != "vary"]
    resp.headers.append(("Vary", ",".join(names)))
    rctx.answer_txn, rctx.answer_vary = None, []
    return OK


HOOKS = (Hook(CHECK_AUTHZ, check_authz, always=True), Hook(OUTPUT_FILTER, add_vary))
MODULE = ModuleSpec(NAME, directives, dir_record=AuthzDir, hooks=HOOKS,
                    cache_contribution=cache_contribution)
