"""mod_headers' share in a cacheable answer.  Its commands edit what other shares
produced (core's ETag and Last-Modified, mod_mime's Content-Type, ...), so the share is
an edit over the cached fields: the same `build` the output filter runs, with no
request behind it.  That is exact only for commands whose effect is the same for every
request of the file: constant values (no %t %D %l %i %b %e; an expression value that
reads nothing of the request), no env= condition, an expr= condition only when it is
request-independent (evaluated at fill time on the answer's type and fields), no echo
(request fields), no note (request notes) and no RequestHeader (the access log's
%{X}i); anything else keeps the answer out of both caches.
"""
from __future__ import annotations

from fastcore.config.model import DirConfig
from fastcore.core.cacheable import (
    NOT_CACHEABLE,
    NOTHING,
    CachedFields,
    CacheInfo,
    Contribution,
    FieldEdit,
)
from fastcore.core.expr import ExprContext
from fastcore.core.response import Response
from fastcore.core.transaction import Transaction
from fastcore.core.typemap import with_default_charset
from fastcore.modules.mod_headers.actions import Facts, Field
from fastcore.modules.mod_headers.config import Command, HeadersDir, headers_config
from fastcore.modules.mod_headers.filter import build

# fields the keep-alive decision writes per request (the C engine sends its own)
HOP_FIELDS = frozenset(("connection", "keep-alive", "transfer-encoding"))


def request_independent(cmd: Command) -> bool:
    """Whether a command does the same to every request's answer."""
    return (cmd.action not in ("echo", "note") and cmd.env is None
            and (cmd.cond is None or cmd.cond.request_independent)
            and cmd.constant and cmd.header.lower() not in HOP_FIELDS)


def place_content_type(head: list[Field], tail: tuple[Field, ...], ctype: str | None
                       ) -> tuple[tuple[Field, ...], tuple[Field, ...]]:
    """The serializer's rule for the type: over the first Content-Type field a command
    left (the others dropped), else after the Connection field."""
    rest = tuple(f for f in tail if f[0].lower() != "content-type")
    if not ctype:
        return tuple(head), rest
    out: list[Field] = []
    placed = False
    for k, v in head:
        if k.lower() == "content-type":
            if not placed:
                out.append((k, ctype))
                placed = True
            continue
        out.append((k, v))
    return tuple(out), rest if placed else (("Content-Type", ctype), *rest)


def _editor(txn: Transaction, conf: HeadersDir, server: HeadersDir, dc: DirConfig,
            served: CacheInfo) -> FieldEdit:
    def edit(fields: CachedFields) -> CachedFields:
        head = list(fields.head)

        def context(ctype: str | None) -> ExprContext:
            # request-independent expressions: the answer's type and fields decide
            return ExprContext(txn, Response(200, head, ctype))

        facts = Facts(start=txn.start_time, context=context)
        built = build(conf, server, head, served.ctype, True, facts, None)
        ctype = with_default_charset(built.ctype, dc)
        out_head, tail = place_content_type(built.fields, fields.tail, ctype)
        return CachedFields(out_head, tail, ctype)
    return edit


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """NOTHING without commands; an edit for request-independent ones; else not
    cacheable."""
    conf = headers_config(dc)
    server = headers_config(txn.vhost.dir_defaults)
    cmds = [*conf.fixup_out, *conf.fixup_err, *server.fixup_out, *server.fixup_err]
    if conf.fixup_in or server.fixup_in or not all(request_independent(c) for c in cmds):
        return NOT_CACHEABLE
    if served is None or not cmds:
        return NOTHING
    return Contribution(edit=_editor(txn, conf, server, dc, served))
