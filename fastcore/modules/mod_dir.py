"""mod_dir: DirectorySlash (the 301 to the URI with a slash) and DirectoryIndex (the
first index name whose sub-request finds a servable file, a type map or a MultiViews
variant).  A directory it does not answer goes on to mod_autoindex's handler, then to
the default handler's directory answer (core)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastcore.config.model import OPT_MULTI, DirConfig
from fastcore.core import static as S
from fastcore.core.cacheable import produced_by
from fastcore.core.paths import escape_uri
from fastcore.core.phases import DECLINED, HANDLER, Hook, HookResult
from fastcore.core.request import HttpError
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_mime import handler_for
from fastcore.modules.mod_negotiation.hooks import negotiated

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction


def directory_handler(core: Handler, txn: Transaction) -> HookResult:
    """A directory request: the slash redirect, else the first usable index."""
    walk, dc = txn.walk, txn.dirconf
    if walk is None or dc is None or not core.directory_request(txn):
        return DECLINED
    uri = txn.r_uri
    if not uri.endswith("/"):
        if dc.directory_slash is not False:
            # mod_dir: ap_escape_uri(r->uri) + "/", the query as it came
            query = txn.r_query
            loc = core.srv.self_url(txn, escape_uri(uri) + "/") + (("?" + query) if query else "")
            return core.error(txn, 301, location=loc, dirconf=dc)
        return DECLINED  # DirectorySlash Off: no index lookup either
    return index(core, txn, uri, dc)


def index(core: Handler, txn: Transaction, uri: str, dc: DirConfig) -> HookResult:
    """DirectoryIndex: each name's sub-request in turn; the first servable one answers,
    else the first failure's status, else DECLINED (nothing there)."""
    names = dc.directory_index if dc.directory_index is not None else ("index.html",)
    failure = 0
    vhost = txn.vhost
    for i, name in enumerate(names):
        if i:  # the answer now rests on the earlier names' absence: a file created
            txn.cacheable = False  # there changes it, the served file's stat does not
        sub_uri = name if name.startswith("/") else uri + name
        try:
            path, red = core.mapper.translate(vhost, sub_uri, "")
            if red is not None:
                continue
            walk = core.mapper.walk(vhost, path)
        except HttpError as e:
            failure = failure or e.status
            continue
        sdc = core.resolver.location_config(vhost, sub_uri, walk.dirconf)
        if S.is_regular(walk.st) and not walk.path_info:
            if core.srv.authorize(txn, sdc, walk.filename) is False:
                failure = failure or 403
                continue
            txn.uri_path = sub_uri
            txn.filename = walk.filename
            txn.dirconf = sdc
            produced_by(txn, walk.cacheable, sdc)
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


HOOKS = (Hook(HANDLER, directory_handler, always=True),)
# its directives are still in fastcore/config/directives_mods.py
MODULE = ModuleSpec("dir_module", list, hooks=HOOKS)
