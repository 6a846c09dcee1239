"""mod_authn_core: AuthType and AuthName, the facts every authentication module reads
(httpd's ap_auth_type / ap_auth_name), and the check_authn function of last resort: an
AuthType that no loaded module implements is a 500 (AH01796), no AuthType means nothing
to authenticate.

AuthName is an expression string in httpd 2.4: text without `%{...}` is taken as it is
(one with an expression is refused at startup) and stored as ap_escape_quotes makes it
(a `"` becomes `\\"`), since it goes between the quotes of `WWW-Authenticate: Basic
realm="..."` unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from fastcore.config.engine import (
    ACCESS,
    OR_AUTHCFG,
    RSRC,
    Ctx,
    Directive,
    DirectiveError,
    Engine,
)
from fastcore.config.lexer import get_word
from fastcore.config.model import (
    DirConfig,
    ModuleRecord,
    VirtualHost,
    merge_records,
    module_record,
    scope_record,
)
from fastcore.config.sections import section_args
from fastcore.config.tree import Node
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.phases import CHECK_AUTHN, LAST, OK, Hook, HookResult
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

NAME = "authn_core_module"
# the authn providers fastcore has: name -> the module that registers it
AUTHN_PROVIDERS = {"file": "authn_file_module"}


@dataclass
class AuthnCoreDir:
    """authn_core_dir_conf: AuthType (None after `AuthType None`) and AuthName, each
    with whether the scope set it (the merge keeps the enclosing value otherwise)."""

    auth_type: str | None = None
    type_set: bool = False
    auth_name: str | None = None

    def merge(self, add: AuthnCoreDir) -> AuthnCoreDir:
        if add.type_set:
            atype, tset = add.auth_type, True
        else:
            atype, tset = self.auth_type, self.type_set
        name = add.auth_name if add.auth_name is not None else self.auth_name
        return AuthnCoreDir(atype, tset, name)


@dataclass(frozen=True)
class ProviderAlias:
    """<AuthnProviderAlias base alias>: the provider it stands for and the per-dir
    records of its body, merged over the request's before that provider runs."""

    base: str
    records: dict[str, ModuleRecord]


@dataclass
class AuthnCoreServer:
    """The aliases, on the main server (the section is global only)."""

    aliases: dict[str, ProviderAlias] = field(default_factory=dict)

    def merge(self, add: AuthnCoreServer) -> AuthnCoreServer:
        return AuthnCoreServer({**self.aliases, **add.aliases})


def aliases(main: VirtualHost) -> dict[str, ProviderAlias]:
    return module_record(main.module_config, NAME, AuthnCoreServer).aliases


def provider_known(e: Engine, name: str) -> bool:
    """ap_lookup_provider for an authn provider: a loaded module's, or an alias."""
    module = AUTHN_PROVIDERS.get(name)
    return (module is not None and e.module_loaded(module)) or name in aliases(e.state.main)


def resolve_provider(main: VirtualHost, name: str, dc: DirConfig) -> tuple[str, DirConfig]:
    """The real provider behind `name` and the configuration it runs under (each alias's
    records merged over the request's, as authn_alias_check_password does)."""
    table = aliases(main)
    seen = 0
    while name in table and seen < 16:
        alias = table[name]
        dc = replace(dc, modules=merge_records(dc.modules, alias.records))
        name = alias.base
        seen += 1
    return name, dc


def authn_config(dc: DirConfig) -> AuthnCoreDir:
    return module_record(dc.modules, NAME, AuthnCoreDir)


def auth_type(dc: DirConfig) -> str | None:
    """ap_auth_type: the scope's AuthType, None when there is none."""
    return authn_config(dc).auth_type


def auth_name(dc: DirConfig) -> str | None:
    """ap_auth_name: the realm, quotes already escaped."""
    return authn_config(dc).auth_name


def escape_quotes(text: str) -> str:
    """ap_escape_quotes: `"` becomes `\\"`; a backslash keeps the character after it."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            out.append("\\")
        if c == "\\" and i + 1 < len(text):
            out.append(c)
            i += 1
            c = text[i]
        out.append(c)
        i += 1
    return "".join(out)


def set_auth_type(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    rec = scope_record(ctx.dirconf.modules, NAME, AuthnCoreDir)
    rec.type_set = True
    rec.auth_type = None if a[0].lower() == "none" else a[0]


def set_auth_name(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """AuthName: an expression string in httpd 2.4; one without %{...} is its text."""
    if "%{" in a[0]:
        raise DirectiveError("AuthName with an expression (%{...}) is not supported by "
                             "fastcore")
    scope_record(ctx.dirconf.modules, NAME, AuthnCoreDir).auth_name = escape_quotes(a[0])


def provider_alias(e: Engine, ctx: Ctx, args: str, n: Node) -> None:
    """<AuthnProviderAlias base alias>, checked in authaliassection's order; its body
    takes AuthConfig directives (AuthUserFile...)."""
    if ctx.in_vhost:
        raise DirectiveError("<AuthnProviderAlias> cannot occur within <VirtualHost> "
                             "section")
    text = section_args(args, "AuthnProviderAlias")
    base, pos = get_word(text)
    alias, _ = get_word(text, pos)
    if not base or not alias:
        raise DirectiveError("<AuthnProviderAlias> directive requires additional arguments")
    if base.lower() == alias.lower():
        raise DirectiveError("The alias provider name must be different from the base "
                             "provider name.")
    if provider_known(e, alias):
        raise DirectiveError(f"The alias provider {alias} has already be registered "
                             "previously as either a base provider or an alias provider.")
    body = DirConfig()
    sub = ctx.child(dirconf=body, override=frozenset({OR_AUTHCFG, ACCESS}),
                    section="AuthnProviderAlias", authz=[], authz_kind="any",
                    authz_group=False)
    e.walk(n.children or [], sub)
    if not provider_known(e, base):
        raise DirectiveError(f"Unknown Authn provider: {base}")
    rec = scope_record(e.state.main.module_config, NAME, AuthnCoreServer)
    rec.aliases[alias] = ProviderAlias(base, dict(body.modules))


def directives() -> list[Directive]:
    ac = frozenset({OR_AUTHCFG})
    return [
        Directive("<AuthnProviderAlias", NAME, frozenset({RSRC}), "SECTION", provider_alias,
                  "container for grouping an authentication provider's directives under "
                  "a provider alias"),
        Directive("AuthType", NAME, ac, "TAKE1", set_auth_type,
                  'an HTTP authorization type (e.g., "Basic")'),
        Directive("AuthName", NAME, ac, "TAKE1", set_auth_name,
                  'the authentication realm (e.g. "Members Only")'),
    ]


def authenticate_no_user(core: Handler, txn: Transaction) -> HookResult:
    """Last in check_authn: no AuthType, nothing to authenticate (OK); an AuthType no
    module took is a configuration error (500)."""
    dc = txn.dirconf
    atype = auth_type(dc) if dc is not None else None
    if atype is None:
        return OK
    core.srv.errlog(txn.vhost).log(
        "error", "authn_core", f"AH01796: AuthType {atype} configured without "
        "corresponding module", f"{txn.client_ip}:{txn.remote_port}", dc)
    return 500


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """A scope with an AuthType may authenticate: the answer (and %u) is the request's."""
    return NOT_CACHEABLE if auth_type(dc) is not None else NOTHING


HOOKS = (Hook(CHECK_AUTHN, authenticate_no_user, LAST),)
MODULE = ModuleSpec(NAME, directives, dir_record=AuthnCoreDir,
                    server_record=AuthnCoreServer, hooks=HOOKS,
                    cache_contribution=cache_contribution)
