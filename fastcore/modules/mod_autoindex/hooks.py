"""mod_autoindex's handler: the listing of a directory mod_dir found no index in (with
Options Indexes), else its 403 (AH01276); methods other than GET/HEAD/POST go on to the
default handler.  HeaderName/ReadmeName are found through a sub-request lookup."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from fastcore.config.model import OPT_INDEXES, OPT_MULTI
from fastcore.core import static as S
from fastcore.core import subrequest
from fastcore.core.mapping import normalize
from fastcore.core.phases import DECLINED, HANDLER, Hook, HookResult
from fastcore.core.response import generated
from fastcore.modules.mod_autoindex import handler as autoindex
from fastcore.modules.mod_autoindex.cache import LISTINGS, ListingKey
from fastcore.modules.mod_autoindex.config import autoindex_config
from fastcore.modules.mod_autoindex.probe import EntryProbe
from fastcore.modules.mod_dir import dir_config
from fastcore.modules.mod_negotiation import handler as negotiation
from fastcore.modules.mod_negotiation.hooks import HeaderView

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

def listing_handler(core: Handler, txn: Transaction) -> HookResult:
    """A directory request mod_dir declined: the listing, or 403 without Indexes."""
    walk, dc = txn.walk, txn.dirconf
    if walk is None or dc is None or txn.method not in ("GET", "HEAD", "POST") \
            or not core.directory_request(txn):
        return DECLINED
    dirname, uri = walk.filename, txn.r_uri
    if (dc.options or 0) & OPT_INDEXES:
        if txn.method == "HEAD":
            # index_directory opens the directory, sets the type and validators, and
            # stops there for a header-only request: no body for the filters (no
            # DEFLATE Vary), no HeaderName/ReadmeName sub-requests, no length
            try:
                os.scandir(dirname).close()
            except OSError:
                return core.error(txn, 403, dirconf=dc)
            return generated(200, autoindex.listing_validators(dirname, dc, txn.start_time),
                             autoindex.content_type(dc), b"", txn.proto_num, False)
        sig = core.signature(txn, dc)  # ap_psignature("", r): no <hr> in a listing
        sig = sig[5:] if sig.startswith("<hr>\n") else sig
        key = ListingKey(dirname, uri, txn.r_query or "", sig)
        try:
            hit = LISTINGS.get(key, dc, walk.st) if walk.st is not None else None
            if hit is not None:
                body, streamed = hit
            else:
                probe = EntryProbe(core, txn, dirname, uri, core.entry_allowed(txn),
                                   subrequest_lookup(core, txn, uri))
                body, streamed = autoindex.render_listing(
                    dirname, uri, txn.r_query, dc, allowed=probe.allowed, signature=sig,
                    lookup=probe.lookup, stat=probe.stat, listdir=probe.listdir)
                if walk.st is not None:
                    titles = "scanhtmltitles" in autoindex_config(dc).effective_options()
                    LISTINGS.put(key, dc, walk.st, probe, body, streamed, titles)
        except OSError:
            return core.error(txn, 403, dirconf=dc)
        except autoindex.FancyIndexingUnsupported as exc:  # the config layer refuses
            # these settings at startup; never send a listing Apache would not send
            core.srv.errlog(txn.vhost).log("error", "autoindex", str(exc),
                                           f"{txn.client_ip}:{txn.remote_port}", dc)
            return core.error(txn, 500, dirconf=dc)
        validators = autoindex.listing_validators(dirname, dc, txn.start_time)
        # an HTML header/readme went through a sub-request, or the page outgrew httpd's
        # write buffer: no length (core.response.generated)
        return generated(200, validators, autoindex.content_type(dc), body, txn.proto_num,
                         streamed)
    shown = dirname.rstrip("/") + "/" if uri.endswith("/") else dirname
    names = ",".join(dir_config(dc).names) or "none"
    core.srv.errlog(txn.vhost).log(
        "error", "autoindex", f"AH01276: Cannot serve directory {shown}: No matching "
        f"DirectoryIndex ({names}) found, and server-generated directory index "
        "forbidden by Options directive", f"{txn.client_ip}:{txn.remote_port}", dc)
    return core.error(txn, 403, dirconf=dc)


def subrequest_lookup(core: Handler, txn: Transaction, dir_uri: str) -> autoindex.InsertLookup:
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
            path, red = core.mapper.translate(vhost, uri, "")
            if red is not None:
                return None
            walk = core.mapper.walk(vhost, path)
            dc = core.resolver.location_config(vhost, uri, walk.dirconf)
            if not subrequest.allowed(core, txn, dc, walk.filename):
                return None
            if S.is_regular(walk.st) and not walk.path_info:
                return walk.filename, core.mime.content_type_header(walk.filename, dc)
            if walk.st is None and not walk.path_info and (dc.options or 0) & OPT_MULTI:
                d, fname = os.path.split(walk.filename)
                fields = dict(txn.headers_in)
                if header:
                    fields["accept"] = "text/html, text/plain"
                    fields.pop("accept-encoding", None)
                res = negotiation.multiviews(d, fname, HeaderView(fields), dc,
                                             core.mime, method="GET",
                                             allowed=core.entry_allowed(txn))
                if res is not None and res.path is not None and res.body is None:
                    ctype = res.content_type
                    if ctype and res.charset and "charset=" not in ctype:
                        ctype = f"{ctype}; charset={res.charset}"
                    return res.path, ctype
        except Exception:  # any failure of the sub-request: nothing is included
            return None
        return None
    return lookup


HOOKS = (Hook(HANDLER, listing_handler, predecessors=("dir_module",)),)
