"""mod_authz_core: Require and its containers (evaluate.py), their configuration
(config.py) and the two decisions httpd makes with them:

- check_access_ex (authorize_userless): before any authentication.  GRANTED lets the
  request in without a user; a tree that needs a user (Require valid-user, user) and has
  none DECLINES, so the request goes on to check_authn; anything else is a 403.
- check_authz (authorize_user): after authentication, with r->user known.  A failure
  with AuthType configured is a 401 (AH01631) that asks for credentials again, unless
  AuthzSendForbiddenOnFailure makes it a 403.

Which of them runs is request.c's decision (Phases.access): Satisfy Any (mod_access_compat)
can grant before both.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastcore.config.model import DirConfig, ServerConfig
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.phases import (
    CHECK_ACCESS_EX,
    CHECK_AUTHZ,
    DECLINED,
    LAST,
    OK,
    OUTPUT_FILTER,
    Hook,
    HookResult,
)
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_auth_basic import challenge
from fastcore.modules.mod_authn_core import auth_type
from fastcore.modules.mod_authz_core.config import (
    CORE_PROVIDERS,
    NAME,
    AuthzDir,
    auth_merging,
    authz_config,
    directives,
    require,
    require_group,
    words_until_empty,
)
from fastcore.modules.mod_authz_core.evaluate import (
    DENIED,
    DENIED_NO_USER,
    GRANTED,
    METHODS,
    NEUTRAL,
    RESULT_WORDS,
    SUPPORTED_KINDS,
    Address,
    GeneralError,
    Network,
    RemoteHost,
    ReqCtx,
    Require,
    RequireGroup,
    Resolver,
    Trace,
    authorize,
    describe,
    evaluate,
    in_domain,
    parse_ip_spec,
    static_authz,
    validate,
)
from fastcore.modules.mod_authz_core.peer import peer_program
from fastcore.modules.mod_log_config import DEBUG_INDEX, ErrorLog

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.response import Response
    from fastcore.core.transaction import Transaction

__all__ = [
    "CORE_PROVIDERS", "DENIED", "DENIED_NO_USER", "GRANTED", "METHODS", "MODULE", "NAME",
    "NEUTRAL", "RESULT_WORDS", "GeneralError", "add_vary", "SUPPORTED_KINDS", "Address", "AuthzDir", "Network",
    "RemoteHost", "ReqCtx", "Require", "RequireGroup", "Resolver", "Trace", "auth_merging",
    "authorize", "authz_config", "cache_contribution", "describe", "directives", "evaluate",
    "in_domain", "parse_ip_spec", "require", "require_group", "static_authz", "validate",
    "words_until_empty",
]


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """mod_authz_core's share in a cached answer: none when access cannot depend on the
    client; a tree of only `ip`/`all` lines becomes a rule each hit evaluates against the
    peer address (peer.py, src/fc_ipmatch.h) unless an AuthType or authz_core debug
    logging needs the full path; anything else is not cacheable (every request must be
    authorized again)."""
    tree = authz_config(dc).authz
    if static_authz(tree):
        return NOTHING
    assert tree is not None  # static_authz(None) holds
    if auth_type(dc) is not None or _debug(txn.conn.srv.errlog(txn.vhost), dc):
        return NOT_CACHEABLE
    prog = peer_program(tree, hosts=True)  # host leaves: hits once the name is confirmed
    return NOT_CACHEABLE if prog is None else Contribution(peer_rule=prog)


def _debug(log: ErrorLog, dc: DirConfig) -> bool:
    """LogLevel lets authz_core:debug through for `dc` (the cheap test first)."""
    return bool(dc.log_level or dc.log_modules or log.level >= DEBUG_INDEX) and \
        log.enabled("debug", "authz_core", dc)


def _trace(log: ErrorLog, txn: Transaction, dc: DirConfig) -> Trace | None:
    """The AH01626 writer when LogLevel lets authz_core:debug through for `dc`."""
    if not _debug(log, dc):
        return None
    client = f"{txn.client_ip}:{txn.remote_port}"

    def trace(what: str, result: int) -> None:
        log.log("debug", "authz_core", f"AH01626: authorization result of {what}: "
                f"{RESULT_WORDS[result]}", client, dc, "mod_authz_core.c(815)")
    return trace


def unauthorized(core: Handler, txn: Transaction, dc: DirConfig) -> Response:
    """A 401 that asks for credentials again (ap_note_auth_failure: the AuthType's
    challenge, mod_auth_basic's WWW-Authenticate)."""
    return core.error(txn, 401, extra=challenge(dc), dirconf=dc)


def decide(core: Handler, txn: Transaction, after_authn: bool) -> HookResult:
    """authorize_user_core: the scope's Require tree for this request and its user."""
    dc = txn.dirconf
    if dc is None:
        return OK
    conf = authz_config(dc)
    log = core.srv.errlog(txn.vhost)
    atype = auth_type(dc)  # ap_auth_type: None without mod_authn_core's AuthType
    tree = conf.authz
    if tree is None or not tree.items:
        if atype is not None:
            log.log("error", "authz_core", "AH01627: AuthType configured with no "
                    "corresponding authorization directives",
                    f"{txn.client_ip}:{txn.remote_port}", dc)
            return 500
        if _debug(log, dc):
            log.log("debug", "authz_core", "AH01628: authorization result: granted (no "
                    "directives)", f"{txn.client_ip}:{txn.remote_port}", dc,
                    "mod_authz_core.c(843)")
        return OK
    ctx = txn.ctx
    ctx.method = txn.method
    ctx.user = txn.user
    ctx.txn = txn  # what a Require expr reads
    ctx.env = txn.env  # Require env: what SetEnvIf set (mod_env's come later)
    ctx.vary = []
    client = f"{txn.client_ip}:{txn.remote_port}"
    try:
        result = evaluate(ctx, tree, _trace(log, txn, dc))
    except GeneralError as e:  # AUTHZ_GENERAL_ERROR: the request is a 500
        log.log("error", "authz_core", "AH02320: Error evaluating expression in 'Require "
                f"expr': {e}", client, dc)
        return 500
    if result == GRANTED:
        # the headers a granting Require expr read go into Vary (add_vary); a
        # sub-request's are put back by core.subrequest.access
        ctx.answer_txn, ctx.answer_vary = txn, ctx.vary
        ctx.vary = []
        return OK
    if result == DENIED_NO_USER:
        if not after_authn:
            return DECLINED  # a user may change the answer: authenticate first
        log.log("error", "authz_core", "AH01629: authorization failure (no authenticated "
                f"user): {txn.r_uri}", client, dc)
        return unauthorized(core, txn, dc) if txn.user is not None else 401
    if not after_authn or atype is None:
        walk = txn.walk
        what = walk.filename if walk is not None else "uri " + txn.r_uri
        log.log("error", "authz_core", "AH01630: client denied by server configuration: "
                f"{what}", client, dc)
        return 403
    log.log("error", "authz_core", f"AH01631: user {txn.user}: authorization failure for "
            f"\"{txn.r_uri}\": ", client, dc)
    if conf.forbidden_on_fail:
        return 403
    return unauthorized(core, txn, dc) if txn.user is not None else 401


def authorize_userless(core: Handler, txn: Transaction) -> HookResult:
    """check_access_ex: grant, refuse, or ask for a user (DECLINED)."""
    return decide(core, txn, False)


def authorize_user(core: Handler, txn: Transaction) -> HookResult:
    """check_authz: the decision with the authenticated user."""
    return decide(core, txn, True)


def add_vary(core: Handler, txn: Transaction) -> HookResult:
    """The request headers a granting Require expr read, in Vary (ap_expr_exec merges
    them into headers_out, which an error answer does not send)."""
    rctx = txn.ctx
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


def needs_dns(cfg: ServerConfig) -> bool:
    """A `Require host` anywhere in the configuration: the server then needs a resolver
    (the core asks the loaded modules, REGISTRY.needs_dns)."""
    def walk(g: RequireGroup | None) -> bool:
        if g is None:
            return False
        return any(walk(i) if isinstance(i, RequireGroup) else i.kind == "host"
                   for i in g.items)
    return any(walk(authz_config(v.dir_defaults).authz)
               or any(walk(authz_config(s.config).authz) for s in v.sections)
               for v in (cfg.main, *cfg.vhosts))


HOOKS = (Hook(CHECK_ACCESS_EX, authorize_userless, LAST),
         Hook(CHECK_AUTHZ, authorize_user, LAST),
         Hook(OUTPUT_FILTER, add_vary))
MODULE = ModuleSpec(NAME, directives, dir_record=AuthzDir, hooks=HOOKS,
                    cache_contribution=cache_contribution, needs_dns=needs_dns)
