"""mod_dir: DirectorySlash (the 301 to the URI with a slash) and DirectoryIndex (the
first index name whose sub-request finds a servable file, a type map or a MultiViews
variant).  A directory it does not answer goes on to mod_autoindex's handler, then to
the default handler's directory answer (core)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore.config.engine import OR_INDEXES, Ctx, Directive, Engine
from fastcore.config.lexer import split_words
from fastcore.config.model import OPT_MULTI, DirConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core import static as S
from fastcore.core import subrequest
from fastcore.core.cacheable import produced_by
from fastcore.core.handler import translate_name as core_translate
from fastcore.core.paths import escape_uri
from fastcore.core.phases import DECLINED, HANDLER, OK, TRANSLATE_NAME, Hook, HookResult
from fastcore.core.request import HttpError
from fastcore.core.response import Response
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_mime import handler_for
from fastcore.modules.mod_negotiation.hooks import negotiated

if TYPE_CHECKING:
    from fastcore._pure.dirwatch import DirDep
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

NAME = "dir_module"


@dataclass
class DirIndexDir:
    """mod_dir's per-dir record: DirectoryIndex (None: unset, which means index.html;
    (): `DirectoryIndex disabled`) and DirectorySlash (None: unset, which means On)."""

    index_names: tuple[str, ...] | None = None
    slash: bool | None = None

    def merge(self, add: DirIndexDir) -> DirIndexDir:
        """merge_dir_configs: each setting of the deeper scope wins where it is set."""
        return DirIndexDir(add.index_names if add.index_names is not None else self.index_names,
                           add.slash if add.slash is not None else self.slash)

    @property
    def names(self) -> tuple[str, ...]:
        """The index file names in force."""
        return self.index_names if self.index_names is not None else ("index.html",)


def dir_config(dc: DirConfig) -> DirIndexDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    return module_record(dc.modules, NAME, DirIndexDir)



def directory_handler(core: Handler, txn: Transaction) -> HookResult:
    """A directory request: the slash redirect, else the first usable index."""
    walk, dc = txn.walk, txn.dirconf
    if walk is None or dc is None or not core.directory_request(txn):
        return DECLINED
    uri = txn.r_uri
    if not uri.endswith("/"):
        if dir_config(dc).slash is not False:
            # mod_dir: ap_escape_uri(r->uri) + "/", the query as it came
            query = txn.r_query
            loc = core.srv.self_url(txn, escape_uri(uri) + "/") + (("?" + query) if query else "")
            return core.error(txn, 301, location=loc, dirconf=dc)
        return DECLINED  # DirectorySlash Off: no index lookup either
    return index(core, txn, uri, dc)


def _watch_listing(core: Handler, txn: Transaction, names: tuple[str, ...]
                   ) -> tuple[DirDep, ...] | None:
    """The watch of the directory whose names DirectoryIndex tries, taken before they are
    tried; None when the answer cannot be cached anyway, a name leaves the directory
    (a path: its absence is elsewhere) or no watch can be had."""
    if len(names) < 2 or not txn.cacheable or txn.walk is None:
        return ()
    if any("/" in n for n in names):
        return None
    deps: list[DirDep] = []
    if not core.mapper.watched_path(txn.walk.filename, deps):
        return None
    return tuple(deps)


def index(core: Handler, txn: Transaction, uri: str, dc: DirConfig) -> HookResult:
    """DirectoryIndex: each name's sub-request in turn; the first servable one answers,
    else the first failure's status, else DECLINED (nothing there)."""
    names = dir_config(dc).names
    failure = 0
    vhost = txn.vhost
    # a later name's answer rests on the earlier names' absence: a file created there
    # changes it, the served file's stat does not.  The directory is watched before the
    # names are tried (issue 12), so the answer is cached while nothing changes there.
    listdeps = _watch_listing(core, txn, names)
    elsewhere = False  # an earlier name a hook mapped out of the watch was not there
    for i, name in enumerate(names):
        if i:
            if listdeps is None or elsewhere:
                txn.cacheable = False
            else:
                produced_by(txn, True, dc, deps=listdeps)
        sub_uri = name if name.startswith("/") else uri + name
        try:
            got = _translate(core, txn, sub_uri)
            if isinstance(got, Response):
                return got  # a redirect of the sub-request is the answer (mod_dir)
            if isinstance(got, int):
                if got != 404:
                    failure = failure or got
                continue
            if got.redirect is not None:
                continue
            # a name a hook mapped may lie outside the watched directory: the answer a
            # later name gives rests on its absence, which no probe repeats
            elsewhere = elsewhere or got.by_hook
            walk = core.mapper.walk(vhost, got.path)
        except HttpError as e:
            failure = failure or e.status
            txn.cacheable = False  # a later name's answer rests on this refusal
            continue
        sdc = core.resolver.location_config(vhost, sub_uri, walk.dirconf)
        # the sub-request's own <If> walk (ap_sub_req_lookup_uri runs ap_if_walk)
        sdc = core.sub_if(txn, sub_uri, walk.filename, sdc)
        if S.is_regular(walk.st) and not walk.path_info:
            rv = subrequest.access(core, txn, sdc, walk.filename)
            if rv.__class__ is not int or rv != OK:
                if len(names) == 1 and isinstance(rv, Response) and rv.status == 401:
                    # mod_dir passes a lone index's 401 on, with the sub-request's
                    # challenge (its err_headers_out)
                    extra = [h for h in rv.headers if h[0] == "WWW-Authenticate"]
                    return core.error(txn, 401, extra=extra, dirconf=dc)
                failure = failure or 403
                # a later name answers because this one was refused to this request (its
                # Authorization, its address): that answer is the request's own
                txn.cacheable = False
                continue
            txn.uri_path = sub_uri
            txn.filename = walk.filename
            txn.dirconf = sdc
            produced_by(txn, walk.cacheable, sdc, walk.links, walk.deps)
            if handler_for(walk.filename, sdc) == "type-map":
                neg = negotiated(core, txn, walk.filename, sdc, typemap=True)
                return neg if neg is not None else DECLINED
            return core.default_handler(txn, walk.filename, walk.st, "", sdc)
        if walk.st is None and (sdc.options or 0) & OPT_MULTI:
            neg = negotiated(core, txn, walk.filename, sdc, typemap=False, quiet=True)
            if neg is not None and neg.status < 400:
                return neg
    if failure:
        return core.error(txn, failure, dirconf=dc)
    return DECLINED


@dataclass(frozen=True)
class Mapped:
    """An index name's translate_name outcome: the path (or mod_alias's redirect, which
    mod_dir skips), and whether a module's hook (mod_rewrite) mapped it."""

    path: str
    redirect: tuple[int, str | None] | None
    by_hook: bool = False


def _translate(core: Handler, txn: Transaction, sub_uri: str) -> Response | int | Mapped:
    """ap_sub_req_lookup_uri's translate_name for an index name: the modules' hooks
    before the core's (mod_rewrite's server rules, which skip [NS] rules in a
    sub-request), then Alias/DocumentRoot (core.mapper.translate) when none mapped it.
    A hook's status or 3xx Response is returned as is; the sub-request's file tests join
    the request's probes, and rules that cannot be cached clear its cacheable."""
    hooks = [fn for fn in core.phases.functions(TRANSLATE_NAME) if fn is not core_translate]
    if not hooks:
        return Mapped(*core.mapper.translate(txn.vhost, sub_uri, ""))
    sub = subrequest.make(txn)
    sub.r_uri = sub.uri_path = sub_uri
    sub.r_query = ""
    sub.filename = None
    sub.mapped = ""
    try:
        for fn in hooks:
            rv = fn(core, sub)
            if isinstance(rv, Response):
                return rv if 300 <= rv.status < 400 else rv.status
            if rv == OK:
                if sub.mapped:
                    return Mapped(sub.mapped, None, True)
                break
            if rv >= 100:
                return rv
    finally:
        if not sub.cacheable:
            txn.cacheable = False
    path, red = core.mapper.translate(txn.vhost, sub.r_uri, sub.r_query)
    return Mapped(path, red, sub.r_uri != sub_uri)  # passthrough: [PT] changed the URI


def directory_index(e: Engine, ctx: Ctx, a: str, n: Node) -> None:
    rec = scope_record(ctx.dirconf.modules, NAME, DirIndexDir)
    names = rec.index_names or ()
    for w in split_words(a):
        # as mod_dir: "disabled" drops the names given so far in this scope
        names = () if w.lower() == "disabled" else names + (w,)
    rec.index_names = names


def directory_slash(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    scope_record(ctx.dirconf.modules, NAME, DirIndexDir).slash = a


def directives() -> list[Directive]:
    ix = frozenset({OR_INDEXES})
    return [
        Directive("DirectoryIndex", NAME, ix, "RAW_ARGS", directory_index, "a list of file "
                  "names"),
        Directive("DirectorySlash", NAME, ix, "FLAG", directory_slash, "On or Off"),
    ]



HOOKS = (Hook(HANDLER, directory_handler),)
MODULE = ModuleSpec(NAME, directives, dir_record=DirIndexDir, hooks=HOOKS)
