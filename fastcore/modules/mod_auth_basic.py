"""mod_auth_basic: HTTP Basic authentication in check_authn.

For a scope with `AuthType Basic` it reads the Authorization field as httpd does: the
first word must be `Basic` (any case, followed by a space: a tab is the wrong scheme),
the rest is decoded leniently as apr_base64_decode does (it stops at the first character
that is not base64, a NUL ends the text), the user is what comes before the first `:`.
The user is set (the access log's %u) before the password is checked, so failed
attempts are logged with the name they tried.  The providers of AuthBasicProvider are
asked in order while they do not know the user (`file`: mod_authn_file, the default).

A 401 carries `WWW-Authenticate: Basic realm="<AuthName>"` (ap_note_auth_failure).
An <AuthnProviderAlias> (mod_authn_core) runs its base provider under the alias's
records.  AuthBasicFake and AuthBasicUseDigestAlgorithm need httpd's expressions and digest
providers: they are refused at startup rather than ignored.
"""
from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore.config.engine import OR_AUTHCFG, Ctx, Directive, DirectiveError, Engine
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.phases import CHECK_AUTHN, DECLINED, MIDDLE, OK, Hook, HookResult
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_authn_core import (
    AUTHN_PROVIDERS,
    auth_name,
    auth_type,
    provider_known,
    resolve_provider,
)

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction
    from fastcore.modules.mod_authn_file import AuthResult
    from fastcore.modules.mod_log_config import ErrorLog

NAME = "auth_basic_module"
DEFAULT_PROVIDER = "file"
B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

CheckPassword = Callable[["Transaction", DirConfig, "ErrorLog", str, str], "AuthResult"]


@dataclass
class AuthBasicDir:
    """auth_basic_config_rec: the providers (None: unset, the default `file`) and
    AuthBasicAuthoritative (None: unset, on)."""

    providers: tuple[str, ...] | None = None
    authoritative: bool | None = None

    def merge(self, add: AuthBasicDir) -> AuthBasicDir:
        return AuthBasicDir(
            add.providers if add.providers is not None else self.providers,
            add.authoritative if add.authoritative is not None else self.authoritative)


def basic_config(dc: DirConfig) -> AuthBasicDir:
    return module_record(dc.modules, NAME, AuthBasicDir)


def set_providers(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """AuthBasicProvider: each name must be a provider a loaded module registers, or an
    <AuthnProviderAlias> defined above."""
    rec = scope_record(ctx.dirconf.modules, NAME, AuthBasicDir)
    names = list(rec.providers or ())
    for name in a:
        if not provider_known(e, name):
            raise DirectiveError(f"Unknown Authn provider: {name}")
        names.append(name)
    rec.providers = tuple(names)


def set_authoritative(e: Engine, ctx: Ctx, on: bool, n: Node) -> None:
    scope_record(ctx.dirconf.modules, NAME, AuthBasicDir).authoritative = on


def unsupported(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    raise DirectiveError(f"{n.name} is not supported by fastcore")


def directives() -> list[Directive]:
    ac = frozenset({OR_AUTHCFG})
    return [
        Directive("AuthBasicProvider", NAME, ac, "ITERATE", set_providers,
                  "specify the auth providers for a directory or location"),
        Directive("AuthBasicAuthoritative", NAME, ac, "FLAG", set_authoritative,
                  "Set to 'Off' to allow access control to be passed along to lower "
                  "modules if the UserID is not known to this module"),
        Directive("AuthBasicFake", NAME, ac, "TAKE12", unsupported,
                  "Fake basic authentication using the given expressions for username "
                  "and password, 'off' to disable. Password defaults to 'password' if "
                  "missing."),
        Directive("AuthBasicUseDigestAlgorithm", NAME, ac, "TAKE1", unsupported,
                  "Set to 'MD5' to use the auth provider's authentication check for "
                  "digest auth, using a hash of 'user:realm:pass'"),
    ]


# -- the request -----------------------------------------------------------------------

def challenge(dc: DirConfig) -> list[tuple[str, str]]:
    """note_basic_auth_failure's field, for a scope whose AuthType is Basic."""
    atype = auth_type(dc)
    if atype is None or atype.lower() != "basic":
        return []
    name = auth_name(dc)
    # apr_pstrcat stops at a NULL realm: httpd then sends the opening quote only
    return [("WWW-Authenticate", 'Basic realm="' + (name + '"' if name is not None else ""))]


def b64decode(text: str) -> str:
    """apr_base64_decode: the leading run of base64 characters, a last lone character
    dropped; the result is a C string (it ends at a NUL byte)."""
    raw = text.encode("latin-1", "replace")
    n = 0
    while n < len(raw) and raw[n] in B64:
        n += 1
    if n % 4 == 1:
        n -= 1
    chunk = raw[:n] + b"=" * (-n % 4)
    try:
        out = binascii.a2b_base64(chunk)
    except binascii.Error:
        out = b""
    return out.split(b"\0", 1)[0].decode("latin-1")


def _provider(name: str) -> CheckPassword:
    """The check_password of a real (not alias) provider."""
    from fastcore.modules import mod_authn_file

    assert name == "file"
    return mod_authn_file.check_password


def authenticate(core: Handler, txn: Transaction) -> HookResult:
    """authenticate_basic_user."""
    dc = txn.dirconf
    if dc is None:
        return DECLINED
    atype = auth_type(dc)
    if atype is None or atype.lower() != "basic":
        return DECLINED
    log = core.srv.errlog(txn.vhost)
    client = f"{txn.client_ip}:{txn.remote_port}"
    if auth_name(dc) is None:
        log.log("error", "auth_basic", f"AH01615: need AuthName: {txn.r_uri}", client, dc)
        return 500
    line = txn.headers_in.get("authorization")
    if line is None:
        return core.error(txn, 401, extra=challenge(dc), dirconf=dc)
    scheme, _, rest = line.partition(" ")
    if scheme.lower() != "basic":
        log.log("error", "auth_basic", "AH01614: client used wrong authentication scheme: "
                f"{txn.r_uri}", client, dc)
        return core.error(txn, 401, extra=challenge(dc), dirconf=dc)
    user, _, password = b64decode(rest.lstrip(" \t")).partition(":")
    txn.user = user  # set before the check, as get_basic_auth does
    conf = basic_config(dc)
    providers = conf.providers
    loaded = core.srv.cfg.modules
    from fastcore.modules.mod_authn_file import AuthResult

    result = AuthResult.USER_NOT_FOUND
    for name in providers or (DEFAULT_PROVIDER,):
        if providers is None and AUTHN_PROVIDERS[name] not in loaded:
            log.log("error", "auth_basic", "AH01616: no authn provider configured",
                    client, dc)
            result = AuthResult.GENERAL_ERROR
            break
        real, pdc = resolve_provider(core.srv.cfg.main, name, dc)
        result = _provider(real)(txn, pdc, log, user, password)
        if result is not AuthResult.USER_NOT_FOUND:
            break
    if result is AuthResult.GRANTED:
        return OK
    if conf.authoritative is False and result is not AuthResult.DENIED:
        return DECLINED
    if result is AuthResult.DENIED:
        log.log("error", "auth_basic", f"AH01617: user {user}: authentication failure for "
                f"\"{txn.r_uri}\": Password Mismatch", client, dc)
    elif result is AuthResult.USER_NOT_FOUND:
        log.log("error", "auth_basic", f"AH01618: user {user} not found: {txn.r_uri}",
                client, dc)
    else:
        return 500
    return core.error(txn, 401, extra=challenge(dc), dirconf=dc)


HOOKS = (Hook(CHECK_AUTHN, authenticate, MIDDLE),)
MODULE = ModuleSpec(NAME, directives, dir_record=AuthBasicDir, hooks=HOOKS)
