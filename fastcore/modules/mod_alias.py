"""mod_alias: Alias, ScriptAlias, Redirect and their *Match forms.

The per-server record holds the server's Alias and Redirect lines (a <VirtualHost>'s own
first, then the main server's, which every vhost inherits); the per-dir record holds the
Redirect lines of <Directory>/<Location> sections and .htaccess files.  It maps URIs
itself: `translate` is the mapper's translate_name service (core/mapping.py asks the
loaded modules' in order, then DocumentRoot), and ScriptAlias names the cgi-script
handler at type_checker, as translate_alias_redir sets r->handler.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastcore.config.engine import ACCESS, OR_FILEINFO, RSRC, Ctx, Directive, DirectiveError, Engine
from fastcore.config.errors import error_log_line
from fastcore.config.model import (
    DirConfig,
    VirtualHost,
    module_record,
    scope_record,
)
from fastcore.config.regex import CompileError, Match, Regex, compile_regex
from fastcore.config.tree import Node
from fastcore.core.mapping import Translated
from fastcore.core.paths import escape_uri, fs_to_wire, to_bytes
from fastcore.core.phases import DECLINED, FIXUPS, LAST, OK, TYPE_CHECKER, Hook, HookResult
from fastcore.core.pregsub import pregsub
from fastcore.core.tokens import is_digits
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

NAME = "alias_module"


@dataclass(frozen=True)
class Alias:
    url_prefix: str
    target: str
    regex: Regex | None = None  # AliasMatch, ScriptAliasMatch
    script: bool = False  # ScriptAlias*: the target is a CGI directory
    whole: bool = False  # the one-argument form in <Location>: the target is the whole path


@dataclass(frozen=True)
class Redirect:
    status: int  # 301, 302, 303, 410 ...
    url_prefix: str
    target: str | None  # None for 410 gone
    regex: Regex | None = None  # RedirectMatch
    section: bool = False  # the one-URL form inside a section: applies to all it covers


@dataclass
class AliasServer:
    """The server's Alias* and Redirect* lines, in file order (alias_server_conf)."""

    aliases: tuple[Alias, ...] = ()
    redirects: tuple[Redirect, ...] = ()

    def merge(self, add: AliasServer) -> AliasServer:
        """merge_alias_config: the vhost's own lines first, then the main server's."""
        return AliasServer(add.aliases + tuple(a for a in self.aliases if a not in add.aliases),
                           add.redirects + tuple(r for r in self.redirects
                                                 if r not in add.redirects))


@dataclass
class AliasDir:
    """The Redirect lines of a section or .htaccess (alias_dir_conf)."""

    redirects: tuple[Redirect, ...] = ()

    def merge(self, add: AliasDir) -> AliasDir:
        return AliasDir(self.redirects + add.redirects)


def alias_server(vh: VirtualHost) -> AliasServer:
    """This module's per-server record of a server (ap_get_module_config)."""
    return module_record(vh.module_config, NAME, AliasServer)


def alias_dir(dc: DirConfig) -> AliasDir:
    """This module's per-dir record of a merged DirConfig."""
    return module_record(dc.modules, NAME, AliasDir)


def _server(ctx: Ctx) -> AliasServer:
    return scope_record(ctx.vhost.module_config, NAME, AliasServer)


_PARENT_LABELS = (("directory", "Directory"), ("directorymatch", "DirectoryMatch"),
                  ("files", "Files"), ("filesmatch", "FilesMatch"))


def _forbidden_parent(ctx: Ctx) -> str | None:
    """The enclosing section the one-argument form may not sit in, named as
    ap_check_cmd_context(NOT_IN_DIRECTORY | NOT_IN_FILES) names it: any <Directory>
    ancestor first, then <Files>, then <If>/<ElseIf>/<Else> (the innermost's name)."""
    for kind, label in _PARENT_LABELS:
        if kind in ctx.kinds:
            return label
    if "if" in ctx.kinds:
        return ctx.section if ctx.kinds[-1] == "if" and ctx.section else "If"
    return None


def _alias(e: Engine, ctx: Ctx, a: list[str], n: Node, match: bool, script: bool) -> None:
    """Alias, ScriptAlias and their *Match forms (ScriptAlias* also set the cgi-script
    handler for what they map, whether or not a CGI module is loaded)."""
    name = n.name
    if len(a) == 1 and not match:
        # 2.4.39+: inside <Location> the one-argument form aliases the section's path
        label = _forbidden_parent(ctx)
        if label is not None:
            raise DirectiveError(f"{name} cannot occur within <{label}> section")
        if not ctx.kinds:
            raise DirectiveError("Alias must have two arguments when used globally")
        prefix = ctx.path or "/"
        rx = _alias_regex(prefix) if ctx.kinds[-1] == "locationmatch" else None
        # AliasPreservePath Off (httpd's default): the URI's rest is not appended
        al = Alias(prefix, a[0], rx, script, whole=True)
        _server(ctx).aliases += (al,)
        return
    if ctx.kinds or ctx.htaccess:
        raise DirectiveError(f"{name} cannot occur within directory context")
    rx = _alias_regex(a[0]) if match else None
    al = Alias(a[0], a[1], rx, script)
    rec = _server(ctx)
    if rx is None:
        _warn_overlap(e, rec.aliases, al, n)
    rec.aliases += (al,)


def _warn_overlap(e: Engine, earlier: tuple[Alias, ...], al: Alias, n: Node) -> None:
    """mod_alias's AH00671: a plain (Script)Alias that an earlier one already covers."""
    for old in earlier:
        if (old.regex.search(al.url_prefix) is not None if old.regex is not None
                else alias_match(al.url_prefix, old.url_prefix) > 0):
            kind = ("Script" if old.script else "") + "Alias" + ("Match" if old.regex else "")
            e.warnings.append(error_log_line(
                "alias", "warn", f"AH00671: The {n.name} directive in {n.filename} at line "
                f"{n.line} will probably never match because it overlaps an earlier {kind}."))
            return


STATUS_WORDS = {"permanent": 301, "temp": 302, "seeother": 303, "gone": 410}


def _grok_status(word: str, status: int) -> tuple[int, int]:
    """mod_alias's reading of a first argument: (status, grok) where grok is 1 for a
    redirect status (3xx), -1 for a status that takes no URL (gone, 403...), 0 for none."""
    w = word.lower()
    if w in STATUS_WORDS:
        st = STATUS_WORDS[w]
        return st, -1 if st == 410 else 1
    if is_digits(word[:1]):
        digits = len(word) - len(word.lstrip("0123456789"))
        st = int(word[:digits])  # atoi: "301x" is 301
        return st, 1 if 300 <= st <= 399 else -1
    return status, 0


def _redirect(e: Engine, ctx: Ctx, a: list[str], n: Node, match: bool, fixed: int) -> None:
    arg1: str = a[0]
    arg2: str | None = a[1] if len(a) > 1 else None
    arg3: str | None = a[2] if len(a) > 2 else None
    status, grok = _grok_status(arg1, fixed or 302)
    if arg3 is not None and not grok:
        raise DirectiveError("Redirect: invalid first argument (of three)")
    in_sec = bool(ctx.kinds) or ctx.htaccess  # Apache's cmd->path is set
    if in_sec and ((grok > 0 and arg2 is not None and arg3 is None)
                   or (not grok and arg2 is None)):
        target = arg2 if grok else arg1
        _add_redirect(e, ctx, Redirect(status, ctx.path or "/", target, None, True))
        return
    if in_sec and grok < 0 and arg2 is None:
        _add_redirect(e, ctx, Redirect(status, ctx.path or "/", None, None, True))
        return
    prefix, target = arg2, arg3
    if arg3 is None and not grok:
        prefix, target = arg1, arg2
    if prefix is None:  # "Redirect gone" outside a section: accepted, never matches
        prefix = ""
    rx = _alias_regex(prefix) if match else None
    if 300 <= status <= 399:
        if target is None:
            raise DirectiveError("URL to redirect to is missing")
        if not match and not _is_url(target) and not target.startswith("/"):
            raise DirectiveError("Redirect to non-URL")
    elif target is not None:
        raise DirectiveError("Redirect URL not valid for this status")
    _add_redirect(e, ctx, Redirect(status, prefix, target, rx))


def _is_url(u: str) -> bool:
    """ap_is_url: a scheme of letters, digits, '+', '-', '.' followed by ':'."""
    head, sep, _ = u.partition(":")
    return bool(sep and head) and all(c.isalnum() or c in "+-." for c in head)


def _add_redirect(e: Engine, ctx: Ctx, r: Redirect) -> None:
    if ctx.kinds or ctx.htaccess:
        rec = scope_record(ctx.dirconf.modules, NAME, AliasDir)
        rec.redirects += (r,)
    else:
        _server(ctx).redirects += (r,)


def _alias_regex(pattern: str) -> Regex:
    """mod_alias's patterns, by PCRE2 as in Apache."""
    try:
        return compile_regex(pattern)
    except CompileError:
        raise DirectiveError("Regular expression could not be compiled.") from None


def _redirect_with(match: bool, fixed: int):
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        _redirect(e, ctx, a, n, match, fixed)
    return h


def _alias_with(match: bool, script: bool):
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        _alias(e, ctx, a, n, match, script)
    return h


def directives() -> list[Directive]:
    s, fi = frozenset({RSRC}), frozenset({OR_FILEINFO})
    sa = frozenset({RSRC, ACCESS})
    return [
        Directive("Alias", NAME, sa, "TAKE12", _alias_with(False, False), "a fakename and a "
                  "realname, or a realname in a Location"),
        Directive("AliasMatch", NAME, s, "TAKE2", _alias_with(True, False), "a regular "
                  "expression and a filename"),
        Directive("ScriptAlias", NAME, sa, "TAKE12", _alias_with(False, True), "a fakename "
                  "and a realname, or a realname in a Location"),
        Directive("ScriptAliasMatch", NAME, s, "TAKE2", _alias_with(True, True), "a regular "
                  "expression and a filename"),
        Directive("Redirect", NAME, fi, "TAKE123", _redirect_with(False, 0), "an optional "
                  "status, then document to be redirected and destination URL"),
        Directive("RedirectMatch", NAME, fi, "TAKE23", _redirect_with(True, 0), "an optional "
                  "status, then a regular expression and destination URL"),
        Directive("RedirectPermanent", NAME, fi, "TAKE2", _redirect_with(False, 301), "a "
                  "document to be redirected, then the destination URL"),
        Directive("RedirectTemp", NAME, fi, "TAKE2", _redirect_with(False, 302), "a "
                  "document to be redirected, then the destination URL"),
    ]


# -- the mapping ------------------------------------------------------------------------

def alias_match(uri: str, prefix: str) -> int:
    """Length of `uri` matched by an Alias/Redirect prefix (slash runs match slash runs),
    0 if no match; the match must end on a segment boundary."""
    u = a = 0
    lu, la = len(uri), len(prefix)
    while a < la:
        if prefix[a] == "/":
            if u >= lu or uri[u] != "/":
                return 0
            while a < la and prefix[a] == "/":
                a += 1
            while u < lu and uri[u] == "/":
                u += 1
        else:
            if u >= lu or uri[u] != prefix[a]:
                return 0
            u += 1
            a += 1
    if prefix.endswith("/") or u == lu or uri[u] == "/":
        return u
    return 0


def _subst(template: str, m: Match) -> str:
    """ap_pregsub (core/pregsub.py) over the match's groups (missing ones are empty)."""
    return pregsub(template, lambda g: m.group(g) if g <= m.re.groups else None)


def apply_redirects(redirects: tuple[Redirect, ...], uri: str, query: str
                    ) -> tuple[int, str | None] | None:
    """First matching Redirect/RedirectMatch -> (status, Location or None for 410).
    `uri` is path text, `query` wire text; the Location is wire text (header bytes).
    As mod_alias: a section's own one-URL Redirect (the last one set) comes first;
    Redirect appends ap_os_escape_path of the rest of the URI to its target, RedirectMatch
    escapes its substituted target (ap_escape_uri) up to its own query or fragment, and the
    request's query is appended when the result has none."""
    for rd in reversed(redirects):
        if rd.section:
            return rd.status, (quote(to_bytes(rd.target), safe="/;:@&=+$,-_.!~*'()%?#")
                               if rd.target else None)
    for rd in redirects:
        if rd.section:
            continue
        if rd.regex is not None:
            m = rd.regex.search(uri)
            if m is None:
                continue
            if not rd.target:
                return rd.status, None
            found = _subst(rd.target, m)
            cut = min((i for i in (found.find("?"), found.find("#")) if i >= 0),
                      default=len(found))
            loc = escape_uri(found[:cut]) + fs_to_wire(found[cut:])
        else:
            n = alias_match(uri, rd.url_prefix)
            if not n:
                continue
            if rd.target is None:
                return rd.status, None
            loc = fs_to_wire(rd.target) + escape_uri(uri[n:])  # ap_os_escape_path(.., 1)
        if query and "?" not in loc:
            loc += "?" + query
        return rd.status, loc
    return None


def alias_for(aliases: tuple[Alias, ...], uri: str) -> tuple[str, Alias] | None:
    """First matching (Script)Alias(Match) -> (file-system path, the alias)."""
    for al in aliases:
        if al.regex is not None:
            m = al.regex.search(uri)
            if m is not None:
                return (al.target if al.whole else _subst(al.target, m)), al
            continue
        n = alias_match(uri, al.url_prefix)
        if n:
            return (al.target if al.whole else al.target + uri[n:]), al
    return None


def apply_aliases(aliases: tuple[Alias, ...], uri: str) -> str | None:
    """First matching Alias/AliasMatch -> file-system path."""
    hit = alias_for(aliases, uri)
    return None if hit is None else hit[0]


def translate(vhost: VirtualHost, uri: str, query: str) -> Translated | None:
    """translate_alias_redir: the server's Redirect lines first, then its Alias lines (a
    vhost's lists already hold the main server's after its own: config.state.finish)."""
    conf = alias_server(vhost)
    red = apply_redirects(conf.redirects, uri, query)
    if red is not None:
        return Translated("", red)
    target = apply_aliases(conf.aliases, uri)
    return None if target is None else Translated(target)


def script_aliased(vhost: VirtualHost, uri: str) -> bool:
    """Whether the URI was mapped by ScriptAlias(Match): its handler is cgi-script
    (unknown without a CGI module, so the default handler serves it)."""
    aliases = alias_server(vhost).aliases
    if not any(al.script for al in aliases):
        return False
    hit = alias_for(aliases, uri)
    return hit is not None and hit[1].script


def script_alias_type(core: Handler, txn: Transaction) -> HookResult:
    """A URI ScriptAlias mapped gets the cgi-script handler when nothing named one."""
    if script_aliased(txn.vhost, txn.r_uri):
        txn.handler_name = "cgi-script"
        return OK
    return DECLINED


def location_redirect(core: Handler, txn: Transaction) -> HookResult:
    """Redirect inside <Location>/<Directory> (fixup_redir)."""
    dc = txn.dirconf
    if dc is None or not alias_dir(dc).redirects:
        return DECLINED
    red = apply_redirects(alias_dir(dc).redirects, txn.r_uri, txn.r_query)
    if red is None:
        return DECLINED
    status, loc = red
    if loc is not None and loc.startswith("/"):
        loc = core.srv.self_url(txn, loc)
    return core.error(txn, status, location=loc, dirconf=dc)


HOOKS = (Hook(FIXUPS, location_redirect), Hook(TYPE_CHECKER, script_alias_type, LAST))
MODULE = ModuleSpec(NAME, directives, dir_record=AliasDir, server_record=AliasServer,
                    hooks=HOOKS, translate=translate)
