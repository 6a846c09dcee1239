"""mod_dir and the directory half of mod_autoindex for the slow path: DirectorySlash,
DirectoryIndex, the listing (or mod_autoindex's 403, or core's 404 when mod_autoindex is
not loaded), TrackModified validators and the listing's sub-requests.  A mixin of
handler.Handler (uses its error/default_handler/negotiated/signature/allow helpers)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from fastcore.config.engine import OR_INDEXES, Ctx, Directive, Engine
from fastcore.config.lexer import split_words
from fastcore.config.model import OPT_INDEXES, OPT_MULTI, DirConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core import static as S
from fastcore.core.fastpath import produced_by
from fastcore.core.mapping import normalize
from fastcore.core.paths import escape_uri
from fastcore.core.request import HttpError
from fastcore.core.response import KNOWN_METHODS, Response
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_autoindex import handler as autoindex
from fastcore.modules.mod_negotiation import handler as negotiation

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


class DirectoryMixin:
    """Directory requests for Handler."""

    def directory(self, txn: object, uri: str, query: str, dirname: str, dc: DirConfig,
                  recursion: int) -> Response:
        if not uri.endswith("/"):
            if dir_config(dc).slash is not False:
                # mod_dir: ap_escape_uri(r->uri) + "/", the query as it came
                loc = self.srv.self_url(txn, escape_uri(uri) + "/") + (("?" + query) if query else "")
                return self.error(txn, 301, location=loc, dirconf=dc)
            return self.no_index(txn, uri, query, dirname, dc)  # mod_dir declines
        names = dir_config(dc).names
        failure = 0
        for i, name in enumerate(names):
            if i:  # the answer now rests on the earlier names' absence: a file created
                txn.cacheable = False  # there changes it, the served file's stat does not
            sub_uri = name if name.startswith("/") else uri + name
            try:
                path, red = self.mapper.translate(txn.vhost, sub_uri, "")
                if red is not None:
                    continue
                walk = self.mapper.walk(txn.vhost, path)
            except HttpError as e:
                failure = failure or e.status
                continue
            sdc = self.resolver.location_config(txn.vhost, sub_uri, walk.dirconf)
            if S.is_regular(walk.st) and not walk.path_info:
                if self.srv.authorize(txn, sdc, walk.filename) is False:
                    failure = failure or 403
                    continue
                txn.uri_path = sub_uri
                txn.filename = walk.filename
                txn.dirconf = sdc
                produced_by(txn, walk.cacheable, sdc)
                if self.handler_name(walk.filename, sdc) == "type-map":
                    return self.negotiated(txn, walk.filename, sdc, typemap=True)
                return self.default_handler(txn, walk.filename, walk.st, "", sdc, walk.cacheable)
            if walk.st is None and (sdc.options or 0) & OPT_MULTI:
                neg = self.negotiated(txn, walk.filename, sdc, typemap=False, quiet=True)
                if neg is not None and neg.status < 400:
                    return neg
        if failure:
            return self.error(txn, failure, dirconf=dc)
        return self.no_index(txn, uri, query, dirname, dc)

    def no_index(self, txn: object, uri: str, query: str, dirname: str, dc: DirConfig
                 ) -> Response:
        """A directory without a usable index: mod_autoindex's listing with Options
        Indexes, else its 403; without mod_autoindex loaded, core's 404."""
        autoindex_loaded = "autoindex_module" in self.srv.cfg.modules
        if autoindex_loaded and (dc.options or 0) & OPT_INDEXES and \
                txn.method in ("GET", "HEAD", "POST"):
            sig = self.signature(txn, dc)  # ap_psignature("", r): no <hr> in a listing
            try:
                body, streamed = autoindex.render_listing(
                    dirname, uri, query, dc, allowed=self.allowed_fn(txn),
                    signature=sig[5:] if sig.startswith("<hr>\n") else sig,
                    lookup=self.subrequest_lookup(txn, uri))
            except OSError:
                return self.error(txn, 403, dirconf=dc)
            except autoindex.FancyIndexingUnsupported as exc:  # the config layer refuses
                # these settings at startup; never send a listing Apache would not send
                self.srv.errlog(txn.vhost).log("error", "autoindex", str(exc),
                                               f"{txn.client_ip}:{txn.remote_port}", dc)
                return self.error(txn, 500, dirconf=dc)
            validators = autoindex.listing_validators(dirname, dc, txn.start_time)
            if streamed:  # an HTML header/readme went through a sub-request: no length
                r = Response(200, validators, autoindex.content_type(dc), body)
                r.no_length = True
                r.chunked = txn.proto_num >= 1001
                r.close = not r.chunked
                return r
            return Response(200, validators + [("Content-Length", str(len(body)))],
                            autoindex.content_type(dc), body)
        if txn.method not in KNOWN_METHODS:
            return self.not_implemented(txn, dc)
        if txn.method == "OPTIONS":
            return Response(200, [("Allow", self.allow(txn))], None, b"")
        if txn.method not in ("GET", "HEAD", "POST"):  # Apache 2.4.71: DELETE, CONNECT
            return self.not_allowed(txn, dc)  # on a directory are 405, not 403
        shown = dirname.rstrip("/") + "/" if uri.endswith("/") else dirname
        log, client = self.srv.errlog(txn.vhost), f"{txn.client_ip}:{txn.remote_port}"
        if not autoindex_loaded:  # no handler takes the directory: the default one's 404
            log.log("info", "core", f"AH00129: Attempt to serve directory: {shown}", client, dc)
            return self.error(txn, 404, dirconf=dc)
        names = ",".join(dir_config(dc).names) or "none"
        log.log("error", "autoindex", f"AH01276: Cannot serve directory {shown}: No matching "
                f"DirectoryIndex ({names}) found, and server-generated directory index "
                "forbidden by Options directive", client, dc)
        return self.error(txn, 403, dirconf=dc)

    def allowed_fn(self, txn: object):  # noqa: ANN201 - Callable[[str], bool]
        """Veto for listing entries and negotiation variants, as Apache's per-entry
        sub-request: the walk to the entry (a symlink without FollowSymLinks, a broken
        .htaccess below) and the entry's own Require (<Files ".ht*"> Require all denied)."""
        vhost = txn.vhost
        base = txn.uri_path[:txn.uri_path.rfind("/") + 1]

        def allowed(path: str) -> bool:
            dc = self.mapper.entry_allowed(vhost, path)
            if dc is None:
                return False
            dc = self.resolver.location_config(vhost, base + os.path.basename(path), dc)
            return self.srv.authorize(txn, dc, path) is not False
        return allowed

    def subrequest_lookup(self, txn: object, dir_uri: str):  # noqa: ANN201
        """Apache's ap_sub_req_lookup_uri for HeaderName/ReadmeName: the URI (relative
        to the listed directory) mapped, walked, checked against <Location> and
        Require, negotiated under MultiViews; (file, Content-Type) or None.  For the
        header mod_autoindex asks with `Accept: text/html, text/plain` and without
        Accept-Encoding."""
        vhost = txn.vhost

        def lookup(name: str, header: bool = False) -> tuple[str, str | None] | None:
            try:
                uri = normalize(name if name.startswith("/") else dir_uri + name,
                                decode_unreserved=False)
                path, red = self.mapper.translate(vhost, uri, "")
                if red is not None:
                    return None
                walk = self.mapper.walk(vhost, path)
                dc = self.resolver.location_config(vhost, uri, walk.dirconf)
                if self.srv.authorize(txn, dc, walk.filename) is False:
                    return None
                if S.is_regular(walk.st) and not walk.path_info:
                    return walk.filename, self.mime.content_type_header(walk.filename, dc)
                if walk.st is None and not walk.path_info and (dc.options or 0) & OPT_MULTI:
                    d, fname = os.path.split(walk.filename)
                    fields = dict(txn.headers_in)
                    if header:
                        fields["accept"] = "text/html, text/plain"
                        fields.pop("accept-encoding", None)
                    res = negotiation.multiviews(d, fname, HeaderView(fields), dc,
                                                 self.mime, method="GET",
                                                 allowed=self.allowed_fn(txn))
                    if res is not None and res.path is not None and res.body is None:
                        ctype = res.content_type
                        if ctype and res.charset and "charset=" not in ctype:
                            ctype = f"{ctype}; charset={res.charset}"
                        return res.path, ctype
            except Exception:  # any failure of the sub-request: nothing is included
                return None
            return None
        return lookup


class HeaderView:
    """Case-insensitive .get() over the lower-cased request header dict."""

    __slots__ = ("d",)

    def __init__(self, d: dict[str, str]) -> None:
        self.d = d

    def get(self, name: str) -> str | None:
        return self.d.get(name.lower())


# -- the directives ----------------------------------------------------------------------

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


MODULE = ModuleSpec(NAME, directives, dir_record=DirIndexDir)
