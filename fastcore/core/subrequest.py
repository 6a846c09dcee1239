"""A sub-request's access decision (httpd's server/request.c runs the whole access
sequence for ap_sub_req_lookup_*): listing entries (mod_autoindex), negotiation variants
(mod_negotiation) and DirectoryIndex candidates (mod_dir) ask it for the file they are
about to offer.

It lives in the core, next to the phase runner it drives, because the sequence is the
core's (request.c), not any module's; the callers call it directly with the Handler.
"""
from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING

from fastcore.config.model import DirConfig
from fastcore.core.mapping import WalkResult
from fastcore.core.phases import OK, HookResult
from fastcore.core.transaction import Transaction

if TYPE_CHECKING:
    from fastcore.core.handler import Handler


def access(core: Handler, txn: Transaction, dc: DirConfig, filename: str) -> HookResult:
    """A sub-request's access decision for `filename` under `dc`: request.c's whole
    access sequence (Phases.access: Order/Allow, Satisfy, Require, authentication with
    the request's own Authorization field), as Apache runs it for a sub-request.  OK, or
    the answer it ends in, built without ErrorDocument (a sub-request's error is never
    sent as it is)."""
    walk = txn.walk
    saved = (txn.dirconf, txn.user, txn.satisfy_any, txn.r_uri)
    ctx = txn.ctx
    answer = (ctx.answer_txn, ctx.answer_vary)  # the main request's Vary stays its own
    txn.dirconf = dc
    # the sub-request's URI (its log lines name it): the entry beside the request's
    txn.r_uri = txn.r_uri[:txn.r_uri.rfind("/") + 1] + os.path.basename(filename)
    if walk is not None:
        txn.walk = WalkResult(filename, walk.st, walk.dirconf, walk.path_info,
                              walk.cacheable, walk.links, walk.deps)
    txn.user = None  # a sub-request authenticates on its own
    txn.satisfy_any = False
    txn.error_depth += 1
    try:
        rv = core.phases.access(core, txn)
    finally:
        txn.error_depth -= 1
        txn.walk = walk
        txn.dirconf, txn.user, txn.satisfy_any, txn.r_uri = saved
        ctx.answer_txn, ctx.answer_vary = answer
    return rv


def allowed(core: Handler, txn: Transaction, dc: DirConfig, filename: str) -> bool:
    """True when a sub-request for `filename` under `dc` would pass (see access)."""
    rv = access(core, txn, dc, filename)
    return rv.__class__ is int and rv == OK


# The mark of a sub-request (ap_sub_req_lookup_*'s r->main): the main request's URI.
SUBREQ_NOTE = "fastcore-subreq"


def is_subrequest(txn: Transaction) -> bool:
    """Whether `txn` is a sub-request (r->main != NULL: IS_SUBREQ, mod_rewrite's [NS])."""
    return SUBREQ_NOTE in txn.notes


def main_uri(txn: Transaction) -> str | None:
    """The URI of the request a sub-request was made for (None: not a sub-request)."""
    return txn.notes.get(SUBREQ_NOTE)


def make(txn: Transaction) -> Transaction:
    """A sub-request of `txn` (make_sub_request): a copy with its own notes (only the
    mark), environment copy and no walk, handler, per-dir config or request; the
    probes list and the connection are the main request's, so file tests the
    sub-request's hooks make validate the main request's cached answer."""
    sub = copy.copy(txn)
    sub.notes = {SUBREQ_NOTE: txn.notes.get(SUBREQ_NOTE, txn.r_uri)}
    sub.env = dict(txn.env)
    sub.walk = sub.handler_name = None
    sub.dirconf = None
    sub.request = None
    return sub
