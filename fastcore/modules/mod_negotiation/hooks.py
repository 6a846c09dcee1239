"""mod_negotiation's phase functions: MultiViews for a URI that names no file, the
type-map handler (`AddHandler type-map .var`), and the fixup that sends a Content-Encoding
in the client's spelling (gzip / x-gzip).  The selection itself is handler.py and
selection.py; type maps are typemap.py."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.config.model import OPT_MULTI, OPT_SYM_LINKS, OPT_SYM_OWNER, DirConfig
from fastcore.core import conditional as C
from fastcore.core import static as S
from fastcore.core import subrequest
from fastcore.core.cacheable import (
    EXPIRES_DATE,
    NOTHING,
    PROBE_IDENTITY,
    CacheInfo,
    Contribution,
    Expiry,
    Probe,
    VariantChoice,
    neg_values,
    take_probe,
)
from fastcore.core.mapping import normalize
from fastcore.core.phases import DECLINED, FIXUPS, HANDLER, OK, Hook, HookResult
from fastcore.core.request import HttpError
from fastcore.core.response import Response
from fastcore.modules.mod_negotiation import typemap as tm
from fastcore.modules.mod_negotiation.config import caches_negotiated
from fastcore.modules.mod_negotiation.handler import (
    NegotiationError,
    NotAcceptable,
    multiviews,
)
from fastcore.modules.mod_negotiation.selection import fix_encoding

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

_sf = load("sendfile")
RECENT = 1.0  # seconds: core/static.py's weak-ETag window


class HeaderView:
    """Case-insensitive .get() over the lower-cased request header dict."""

    __slots__ = ("d",)

    def __init__(self, d: dict[str, str]) -> None:
        self.d = d

    def get(self, name: str) -> str | None:
        return self.d.get(name.lower())


def typemap_handler(core: Handler, txn: Transaction) -> HookResult:
    """`type-map` on a regular file: negotiate among the map's variants."""
    walk, dc = txn.walk, txn.dirconf
    if txn.handler_name != "type-map" or walk is None or dc is None or \
            not S.is_regular(walk.st):
        return DECLINED
    neg = negotiated(core, txn, walk.filename, dc, typemap=True, path_info=walk.path_info)
    return neg if neg is not None else DECLINED


def multiviews_handler(core: Handler, txn: Transaction) -> HookResult:
    """Options MultiViews and no such file: the best variant of that name."""
    walk, dc = txn.walk, txn.dirconf
    if walk is None or dc is None or walk.st is not None or not (dc.options or 0) & OPT_MULTI:
        return DECLINED
    neg = negotiated(core, txn, walk.filename, dc, typemap=False, path_info=walk.path_info)
    return neg if neg is not None else DECLINED


def encoding_fixup(core: Handler, txn: Transaction) -> HookResult:
    """Every response with a Content-Encoding names it as the client's Accept-Encoding
    does (mod_negotiation's fix_encoding fixup): installed for the handler to apply."""
    txn.encoding_fixup = fix_encoding
    return OK


def negotiated(core: Handler, txn: Transaction, filename: str, dc: DirConfig,
               typemap: bool, quiet: bool = False, path_info: str = "") -> Response | None:
    """MultiViews or a type map.  With path info the choice is made (not
    transparently) and then refused by the default handler: 404 carrying the Vary
    (and HTTP/1.0 Expires) of the negotiation, as Apache answers."""
    was_cacheable = txn.cacheable
    txn.cacheable = False  # chosen among variants (and by the request's Accept*)
    hd = HeaderView(txn.headers_in)
    vdc: DirConfig | None = None
    recall: Recall | None = None
    try:
        if typemap:
            recall = Recall.begin(core, txn, "", dc, was_cacheable and not path_info)
            if recall is not None:  # the map as it is before it is read
                recall.see_map(take_probe(filename, PROBE_IDENTITY), txn.start_time)
            res = tm.resolve(filename, hd, dc, core.mime, method=txn.method,
                             path_info=bool(path_info),
                             seen=None if recall is None else recall.seen)
            if path_info and txn.uri_path.endswith(path_info):
                # mod_negotiation cuts the path info off r->uri before redirecting
                txn.uri_path = txn.uri_path[:len(txn.uri_path) - len(path_info)]
            if res.path is not None and res.body is None and not path_info:
                # Apache serves a URI variant through an internal redirect: the
                # variant's own walk, <Location> and Require apply, and its type,
                # language, encoding and ETag come from its own configuration.
                denied, vdc = redirect_target(core, txn, res.path, res.uri)
                if denied is not None:
                    return core.error(txn, denied, dirconf=dc)
                if recall is not None and (vdc is not txn.dirconf or os.path.dirname(
                        res.path) != os.path.dirname(filename)):
                    recall.lose()  # its own walk and access: more than the map decides
            if recall is not None and res.http10_expires and not caches_negotiated(txn.vhost):
                # HTTP/1.0 gets Expires (below), HTTP/1.1 not: one answer each
                recall.proto = b"HTTP/1.1" if txn.proto_num >= 1001 else b"HTTP/1.0"
        else:
            d, name = os.path.split(filename)
            recall = Recall.begin(core, txn, d, dc, was_cacheable and not path_info)
            found = multiviews(d, name, hd, dc, core.mime, method=txn.method,
                               path_info=bool(path_info),
                               allowed=core.entry_allowed(
                                   txn, None if recall is None else recall.lose),
                               seen=None if recall is None else recall.seen)
            if found is None:
                return None
            res = found
            if res.uri:  # the variant is what Apache's sub-request served (%U)
                base = txn.uri_path[:len(txn.uri_path) - len(path_info)]
                txn.uri_path = base.rsplit("/", 1)[0] + "/" + res.uri + path_info
    except NotAcceptable as e:
        return core.error(txn, e.status, extra=list(e.headers), dirconf=dc,
                          variants=e.variants_html)
    except NegotiationError as e:
        if quiet:
            return None
        return core.error(txn, e.status, dirconf=dc)
    extra = list(res.headers)
    if res.http10_expires and txn.proto_num < 1001 and not caches_negotiated(txn.vhost):
        # Apache's type-map handler sets r->no_cache: HTTP/1.0 gets Expires = Date
        # (the same clock as the Date field the server adds)
        extra.append(("Expires", _sf.date_header()[6:].rstrip().decode()))
    if path_info:
        keep = [(k, v) for k, v in extra if k in ("Vary", "Expires")]
        return core.error(txn, 404, extra=keep, dirconf=dc)
    ctype = res.content_type
    if ctype and res.charset and "charset=" not in ctype:
        ctype = f"{ctype}; charset={res.charset}"
    if res.path is None or res.body is not None:
        # a type map's Body: sent by the map handler itself (with Range support)
        meta = list(extra)
        if res.encoding:
            meta.append(("Content-Encoding", res.encoding))
        if res.languages:
            meta.append(("Content-Language", ", ".join(res.languages)))
        off, size = res.body if res.body is not None else (0, 0)
        ranged = core.byte_ranges(txn, dc, meta, [("Accept-Ranges", S.accept_ranges(dc))], filename,
                                  off, size, ctype, None, -1)
        if ranged is not None:
            return ranged
        body = b""
        if size:
            with open(filename, "rb") as f:
                f.seek(off)
                body = f.read(size)
        return Response(200, meta + [("Accept-Ranges", S.accept_ranges(dc)),
                                     ("Content-Length", str(len(body)))], ctype, body)
    vlv = C.variant_list_validator(filename, typemap, dc.file_etag, txn.start_time)
    try:
        st = os.stat(res.path)
    except OSError:
        return core.error(txn, 404, dirconf=dc)
    txn.filename = res.path  # the variant, as Apache's fast internal redirect leaves it
    if recall is not None:
        recall.keep(txn, res.path, extra)
    if vdc is not None:
        txn.dirconf = vdc
        return expires_last(core.default_handler(txn, res.path, st, "", vdc, extra, vlv=vlv))
    return expires_last(core.default_handler(txn, res.path, st, "", dc, extra,
                                             (ctype, res.language, res.encoding), vlv))


def expires_last(r: Response) -> Response:
    """An HTTP/1.0 type-map answer's Expires after the file's fields, where a cached
    answer's per-hit fields go (Apache sends it after Content-Type: docs/compat.md)."""
    for i, f in enumerate(r.headers):
        if f[0] == "Expires":
            r.headers.append(r.headers.pop(i))
            break
    return r


@dataclass(slots=True)
class Recall:
    """What lets the caches recall a choice instead of making it again: for MultiViews
    the directory watched before it was listed (its names), for a type map the map's
    identity; each variant's identity as read (sizes break ties), and no variant decided
    under a configuration of its own (whose Require could depend on the client).
    Symlink checks are per-walk work the caches cannot repeat for the variants, so only
    FollowSymLinks without SymLinksIfOwnerMatch qualifies."""

    seen: list[Probe] = field(default_factory=list)
    static: bool = True
    proto: bytes | None = None  # the protocol the answer is for (None: both)

    @staticmethod
    def begin(core: Handler, txn: Transaction, listed: str, dc: DirConfig, may: bool
              ) -> Recall | None:
        """A Recall when the answer may be cached; `listed`: the directory MultiViews
        lists (watched now), "" for a type map (its own identity is probed)."""
        opts = dc.options or 0
        # another method's choice differs (cgi_q, transparency): only GET's and HEAD's
        if not may or txn.method not in ("GET", "HEAD") or not opts & OPT_SYM_LINKS \
                or opts & OPT_SYM_OWNER \
                or neg_values(txn.headers_in) is None:
            return None
        if listed and not core.mapper.watched(listed, txn.deps):  # before it is read
            return None
        return Recall()

    def lose(self) -> None:
        self.static = False

    def see_map(self, probe: Probe, now: float) -> None:
        """The type map's identity: it decides the choice, so a map changed within the
        last second (a same-size rewrite in the same timestamp tick would keep the
        identity) is read again next time, as a file with a weak ETag is."""
        self.seen.append(probe)
        if max(probe.mtime_ns, probe.ctime_ns) >= (now - RECENT) * 1e9:
            self.lose()

    def keep(self, txn: Transaction, chosen: str, extra: list[tuple[str, str]]) -> None:
        """The answer may be cached, chosen by the request's values of NEG_FIELDS."""
        neg = neg_values(txn.headers_in, self.proto)
        if not self.static or not self.seen or neg is None:
            return
        txn.cacheable = True
        txn.probes.extend(p for p in self.seen if p.path != chosen)
        per_hit = [f for f in extra if f[0] == "Expires"]  # an HTTP/1.0 type map's
        txn.variant_choice = VariantChoice(
            neg, tuple(f for f in extra if f[0] != "Expires"),
            Expiry(EXPIRES_DATE, 0) if per_hit else None)


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None
                       ) -> Contribution:
    """A recalled choice: answered only for the same values of NEG_FIELDS, with the
    choice's fields (Vary, ...) in front of the file's, before mod_headers edits them."""
    ch = txn.variant_choice
    if ch is None or served is None:
        return NOTHING
    return Contribution(neg=ch.neg, edit=ch.prepend, expiry=ch.expiry)


def redirect_target(core: Handler, txn: Transaction, path: str, rel_uri: str
                    ) -> tuple[int | None, DirConfig | None]:
    """Apache's internal redirect to a type map's URI variant: (error status, None)
    when it is refused (403 by Require, the walk's 403/500), else (None, the
    variant's own DirConfig)."""
    vhost = txn.vhost
    try:
        walk = core.mapper.walk(vhost, path)
        uri = normalize(txn.uri_path.rsplit("/", 1)[0] + "/" + rel_uri,
                        decode_unreserved=False)
    except HttpError as e:
        return e.status, None
    except Exception:  # a broken .htaccess on the variant's way
        return 500, None
    vdc = core.resolver.location_config(vhost, uri, walk.dirconf)
    if not subrequest.allowed(core, txn, vdc, walk.filename):
        return 403, None
    return None, vdc


# After the named handlers (server-status, metrics...) and mod_dir, as the handler order
# has always been; the type map and MultiViews exclude each other (a regular file / none).
HOOKS = (
    Hook(FIXUPS, encoding_fixup),
    Hook(HANDLER, typemap_handler),
    Hook(HANDLER, multiviews_handler),
)
