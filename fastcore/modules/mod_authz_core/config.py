"""mod_authz_core's configuration: the per-dir record (the scope's Require tree, its
AuthMerging and AuthzSendForbiddenOnFailure), Require and <RequireAll/Any/None>."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass

from fastcore.config.engine import OR_AUTHCFG, Ctx, Directive, DirectiveError, Engine
from fastcore.config.lexer import get_word, split_words
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.sections import section_args, section_label
from fastcore.config.tree import Node
from fastcore.core.expr import parse_condition
from fastcore.core.expr.nodes import Cond, Var, Word
from fastcore.modules.mod_authz_core.evaluate import METHODS, Require, RequireGroup

NAME = "authz_core_module"


@dataclass
class AuthzDir:
    """mod_authz_core's per-dir record: the scope's Require tree and its AuthMerging."""

    authz: RequireGroup | None = None
    merging: str | None = None  # AuthMerging off|and|or (None: off)
    forbidden_on_fail: bool | None = None  # AuthzSendForbiddenOnFailure (None: unset)

    def merge(self, add: AuthzDir) -> AuthzDir:
        """merge_authz_core_dir_config: a scope that only sets
        AuthzSendForbiddenOnFailure inherits the Require tree; otherwise the scope's
        own tree (empty ones included) replaces the enclosing one unless its own
        AuthMerging And/Or combines them."""
        forbid = add.forbidden_on_fail if add.forbidden_on_fail is not None \
            else self.forbidden_on_fail
        if add.merging is None and add.authz is None and self.authz is not None:
            return AuthzDir(self.authz, self.merging, forbid)
        if add.merging in (None, "off") or (self.authz is None and add.authz is None):
            return AuthzDir(add.authz, add.merging, forbid)
        if self.authz is None:
            return AuthzDir(add.authz, add.merging, forbid)
        if add.authz is None:
            return AuthzDir(self.authz, add.merging, forbid)
        return AuthzDir(RequireGroup("all" if add.merging == "and" else "any",
                                     (self.authz, add.authz)), add.merging, forbid)


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
    from fastcore.modules.mod_authz_user import USER_PROVIDERS, parse_user_args

    name, pos = get_word(a)
    neg = name.lower() == "not"
    if neg:
        name, pos = get_word(a, pos)
    rest = a[pos:].strip()
    host = name in HOST_PROVIDERS and e.module_loaded("authz_host_module")
    user = name in USER_PROVIDERS and e.module_loaded("authz_user_module")
    if not (name in CORE_PROVIDERS or host or user):
        raise DirectiveError(f"Unknown Authz provider: {name}")
    args = tuple(split_words(rest))
    if host:
        args = parse_host_args(name, rest, args)
    elif user:
        args = parse_user_args(name, rest)
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
        _push(ctx, Require(name, (text,), neg, n.filename, n.line, cond,
                           reads_user(cond.root)))
        return
    _check_negation(neg, ctx)
    _push(ctx, Require(name, args, neg, n.filename, n.line))


def reads_user(node: Word | Cond | Sequence[Word | Cond]) -> bool:
    """expr_lookup_fn's want_user: the expression reads %{REMOTE_USER} (then a false
    result means "no user yet" while nobody authenticated).  Walks the node's fields
    that are nodes (or lists of them)."""
    if isinstance(node, Var):
        return node.name.upper() == "REMOTE_USER"
    if isinstance(node, list | tuple):
        return any(reads_user(x) for x in node)
    if is_dataclass(node):
        return any(reads_user(v) for f in fields(node)
                   if isinstance(v := getattr(node, f.name), Word | Cond | list | tuple))
    return False


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


def forbidden_on_failure(e: Engine, ctx: Ctx, on: bool, n: Node) -> None:
    scope_record(ctx.dirconf.modules, NAME, AuthzDir).forbidden_on_fail = on


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
        Directive("AuthzSendForbiddenOnFailure", NAME, ac, "FLAG", forbidden_on_failure,
                  "Controls if an authorization failure should result in a '403 FORBIDDEN' "
                  "response instead of the HTTP-conforming '401 UNAUTHORIZED'"),
    ]
