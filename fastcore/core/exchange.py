"""The request exchange of a connection: read a head into a Transaction, answer it (from
the Python cache or through handler.Handler), serialize and queue the answer, account
and log it.

httpd splits the same way: the connection loop (ap_process_http_connection, here
core/connection.py) hands each request to ap_read_request/ap_process_request and
ap_finalize_request_protocol (here: request, emit, finish).  These are functions of a
typed Connection (no mixin, no undeclared attribute): they read and set only the
attributes Connection declares in its __init__.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore.config.model import DirConfig
from fastcore.core import errors as E
from fastcore.core import fscount, serialize
from fastcore.core.cacheable import expiry_fields, may_use_cache, variant_for
from fastcore.core.fastpath import CacheHit
from fastcore.core.fixedanswer import fixed_answer
from fastcore.core.keepalive import (
    HTTP11,
    KeepAliveDecision,
    KeepAliveInput,
    decide,
    env_protocol,
)
from fastcore.core.phases import LOG_TRANSACTION
from fastcore.core.protocols import announced_fields, announces
from fastcore.core.request import BodyReader, HttpError, Request, parse_head
from fastcore.core.response import Response
from fastcore.core.transaction import Transaction

if TYPE_CHECKING:
    from fastcore.core.connection import Connection


@dataclass(slots=True)
class PendingAnswer:
    """An answer decided before its request body was read (queued once the body is in)."""
    txn: Transaction
    req: Request
    resp: Response

def answer_500(conn: Connection, txn: Transaction, req: Request | None) -> None:
    """Queue the 500 (ErrorDocument honoured) and log the request; if even that fails
    before anything is queued, Apache's canned 500 page, built here."""
    before = len(conn.out)
    try:
        resp = conn.srv.handler.error(txn, 500, dirconf=txn.dirconf)
        resp.close = True
        emit(conn, txn, req, resp)
    except Exception as exc:  # noqa: BLE001 - the error path itself is broken
        conn.srv.errlog(txn.vhost).log("error", "core", f"internal error: {exc!r}",
                                       conn.peer_text)
        if len(conn.out) > before:
            return  # queued; only the access-log line failed
        body = b"" if txn.method == "HEAD" else E.error_body(500, txn.method)
        conn.out.queue(serialize.canned_500_head(conn.srv.server_line), -1, 0, 0, "auto",
                       body, False)


def fatal(conn: Connection, status: int, notes: str | None = None) -> None:
    """An error before a usable request exists: respond and close."""
    txn = Transaction(conn, time.time())
    conn.unanswered, conn.unanswered_req = txn, None
    txn.request_line = conn.buf[:conn.buf.find(b"\n")].rstrip(b"\r").decode("latin-1") if conn.buf else ""
    close_with(conn, txn, None, status, notes)


def close_with(conn: Connection, txn: Transaction, req: Request | None, status: int,
               notes: str | None = None, dirconf: DirConfig | None = None,
               no_length: bool | None = None) -> None:
    """Answer status and close, dropping what is buffered: Apache's way with a request
    it cannot go on with (a bad or refused head, a body it will not read)."""
    conn.buf.clear()
    resp = conn.srv.handler.error(txn, status, notes, dirconf=dirconf)
    resp.close = True
    if no_length is not None:
        resp.no_length = no_length
    emit(conn, txn, req, resp)


def body_failed(conn: Connection, status: int, no_length: bool = False) -> None:
    """The request body was malformed, too large or cut short: error and close
    (Apache streams the page of a body error without Content-Length)."""
    txn = conn.pending.txn if conn.pending else Transaction(conn, time.time())
    conn.unanswered, conn.unanswered_req = txn, None
    conn.pending = None
    conn.body = None
    close_with(conn, txn, None, status, None, txn.dirconf, no_length or status == 413)


def request(conn: Connection, head: bytes) -> None:
    srv = conn.srv
    main = srv.cfg.main
    now = time.time()
    txn = Transaction(conn, now)
    conn.unanswered, conn.unanswered_req = txn, None
    if conn.sb is not None:
        conn.sb.set_status(conn.slot, "W")
    try:
        req = parse_head(head, main.limit_request_line, main.limit_request_fields,
                         main.limit_request_field_size, main.http_strict)
    except HttpError as e:
        serialize.note_unparsed(txn, head)  # log what was asked
        close_with(conn, txn, e.request, e.status, e.notes)  # e.request: HTTP/0.9
        return
    conn.unanswered_req = req
    txn.method = req.method
    txn.proto_num = req.proto_num
    txn.protocol = req.protocol
    txn.request_line = req.request_line
    txn.headers_in = req.headers
    txn.query = req.query
    txn.uri_path = req.path_raw
    txn.host_name = req.host
    txn.host_port = req.host_port
    txn.bytes_in = len(head)
    vhost = srv.vhost_for(conn, req.host)
    txn.vhost = vhost
    txn.vhost_name = vhost.server_name
    conn.vh = vhost
    refusal = srv.refusal(conn, req)
    if refusal is not None:
        close_with(conn, txn, None, refusal)
        return
    conn.timeout = vhost.timeout
    conn.ka_timeout = vhost.keep_alive_timeout
    if conn.sb is not None:
        conn.sb.request_start(conn.slot, head[:head.find(b"\r")], conn.client_ip.encode(),
                              srv.engine.status_vhost(vhost, conn))
    if req.expect_failed is not None:  # Apache: kept-connection fields, then it closes
        emit(conn, txn, req, srv.handler.error(txn, 417, req.expect_failed))
        conn.closing = True
        return
    if may_use_cache(req.method, req.target, req.headers, req.assbackwards):
        hit = srv.cache.lookup(vhost, req, conn.client_ip)
        if hit is not None and hit.stored.entry.gates:
            gated = hit.stored.entry
            txn.request = req  # what a gate reads (the handler sets it again)
            if not all(gate(txn, gated.dc, gated.uri) for gate in gated.gates):
                hit = None
        if hit is not None:
            serve_cached(conn, txn, req, hit)
            conn.unanswered = conn.unanswered_req = None
            if conn.link is not None:  # the engine missed it (e.g. another Host spelling)
                srv.engine.remember(vhost, req, hit.stored, conn)
            return
    resp = srv.handler.handle(txn, req)
    if resp.cache is not None:
        stored = srv.cache.remember(vhost, req, resp.cache, txn, srv.engine.log_set_of(vhost))
        if stored is not None:
            srv.engine.remember(vhost, req, stored, conn)
    elif resp.fixed and conn.link is not None:  # a rewrite's redirect (fixedanswer.py)
        fixed = fixed_answer(srv.server_line, txn, req, resp, srv.engine.log_set_of(vhost))
        if fixed is not None:
            srv.engine.remember_fixed(vhost, req, fixed, conn)
    if req.body_kind != "none" and not resp.close:
        dc = txn.dirconf or vhost.dir_defaults
        try:
            reader = BodyReader(req, dc.limit_request_body or 0)
        except HttpError as e:
            close_with(conn, txn, req, e.status, dirconf=dc, no_length=e.status == 413)
            return
        if req.expect_continue and req.proto_num >= 1001:
            # as Apache, even when the body came with the head
            conn.out.queue(b"HTTP/1.1 100 Continue\r\n\r\n", -1, 0, 0, "auto", b"", False)
            req.expect_continue = False
        conn.body = reader
        conn.pending = PendingAnswer(txn, req, resp)
        if conn.rt is not None:
            conn.rt.start("body", time.monotonic())
        return
    emit(conn, txn, req, resp)


def keep_alive(conn: Connection, req: Request | None, status: int, forced_close: bool = False,
               delimited: bool = True, http11: bool | None = None) -> KeepAliveDecision:
    """Keep or close after this answer, and its Connection/Keep-Alive header: the one
    rule (core/keepalive.py) on this connection's request, vhost and count (`http11`:
    the version after downgrade-1.0, when the request's variables changed it)."""
    vh = conn.vh
    if req is None:  # no usable request: nothing lets the connection stay
        return decide(KeepAliveInput(False, False, False, status))
    return decide(KeepAliveInput(
        req.proto_num >= 1001 if http11 is None else http11, req.close_token, req.ka_sent, status, delimited,
        forced_close, req.reusable, req.expect_continue, bool(vh.keep_alive),
        vh.max_keep_alive_requests, conn.requests, int(vh.keep_alive_timeout),
        conn.srv.draining))


def serve_cached(conn: Connection, txn: Transaction, req: Request, hit: CacheHit) -> None:
    """Answer from the Python cache: the entry's fixed bytes, this request's
    keep-alive header, the content or a cached descriptor; then log."""
    srv = conn.srv
    e, st = hit.stored.entry, hit.st
    ka = keep_alive(conn, req, 200)
    keep = ka.keep
    # an entry that varies on Accept-Encoding: the answer this request picks
    var = variant_for(e, req.headers.get("accept-encoding")) if e.variants else None
    mid = e.head if var is None else var.head
    if e.expiry is not None:  # mod_expires: this hit's Cache-Control and Expires
        mid += expiry_fields(e.expiry.kind, e.expiry.value, time.time_ns() // 1000)
    ka_header = ka.header
    if e.upgrade and announces(e.upgrade, conn.requests, req.headers.get("upgrade")):
        lead, ka_header = announced_fields(e.upgrade.encode("latin-1"), ka_header)
        mid = lead + mid  # Protocols: the connection's first answer (core/protocols.py)
    header = serialize.cached_head(srv.server_line, mid, ka_header, e.tail)
    head_only = req.method == "HEAD"
    txn.dirconf = e.dc
    txn.uri_path = e.uri
    txn.filename = e.fname
    txn.ctype = e.ctype
    if var is not None:
        conn.out.queue(header, -1, 0, 0, "auto", b"" if head_only else var.body, False)
    else:
        serialize.queue_cached(conn.out, header, hit.stored,
                               None if head_only else srv.cache.file_fd, st)
    conn.unanswered = conn.unanswered_req = None  # queued (_internal_error)
    txn.status = 200
    txn.bytes_sent = 0 if head_only else (e.size if var is None else len(var.body))
    txn.bytes_out = len(header) + txn.bytes_sent
    finish(conn, txn, keep)


def emit(conn: Connection, txn: Transaction, req: Request | None, resp: Response) -> None:
    """Serialize a slow-path Response and queue it."""
    srv = conn.srv
    head_only = req is not None and req.method == "HEAD"
    delimited = not resp.no_length or resp.chunked or head_only or resp.status in (204, 304)
    if txn.env and req is not None:  # nokeepalive, downgrade-1.0, force-response-1.0
        ep = env_protocol(req.proto_num, txn.env)
        ka = keep_alive(conn, req, resp.status, resp.close or ep.forced_close, delimited,
                             ep.http11)
        protocol = ep.protocol
    else:
        ka = keep_alive(conn, req, resp.status, resp.close, delimited)
        protocol = HTTP11
    keep = ka.keep
    header = serialize.response_head(srv.server_line, txn, req, resp, ka.header,
                                     (txn.vhost or srv.cfg.main).dir_defaults, protocol)
    sent_body = serialize.queue_response(conn.out, header, resp, head_only, txn.dirconf)
    if sent_body is None:  # its file is gone or unreadable now
        resp2 = srv.handler.error(txn, 403 if resp.file and os.path.exists(resp.file[0])
                                  else 404)
        resp2.close = resp.close
        return emit(conn, txn, req, resp2)
    conn.unanswered = conn.unanswered_req = None  # queued: what fails now cannot be a 500
    txn.status = resp.status
    txn.bytes_sent = sent_body
    txn.bytes_out = len(header) + sent_body
    if resp.close or not keep:
        conn.closing = True
    finish(conn, txn, keep)


_VHOST_INDEX: dict[str, int] = {}  # per process: a name's place in the stats table


def record_series(conn: Connection, txn: Transaction) -> None:
    """fastcore's own series for a request the Python path answered (fc_stats.h): by vhost
    and status class, its duration, why it left the engine, the fs calls it made."""
    sb = conn.sb
    name = txn.vhost_name or conn.srv.cfg.main.server_name or ""
    index = _VHOST_INDEX.get(name)
    if index is None:
        index = _VHOST_INDEX[name] = sb.vhost_index(name)
    reason, conn.fallback_reason = conn.fallback_reason, 0
    sb.record_request(conn.slot, index, txn.status, txn.bytes_sent, txn.duration_us / 1e6,
                      reason)
    for kind, n in enumerate(fscount.take()):
        if n:
            sb.add_fs(conn.slot, kind, n)


def finish(conn: Connection, txn: Transaction, keep: bool) -> None:
    """Account and log the request; keep-alive bookkeeping."""
    conn.requests += 1
    if conn.link is not None:  # the event loop may serve the next one: same count
        conn.link.requests = conn.requests
    if conn.rt is not None:
        conn.rt.idle(conn.requests)
    srv = conn.srv
    txn.conn_status = "+" if keep else "-"
    # %k is httpd's c->keepalives - 1, and keepalives counts only answers that keep the
    # connection: a closing answer logs the count of the one before it
    txn.keepalive_count = conn.requests - 1 if keep else max(conn.requests - 2, 0)
    txn.duration_us = int((time.time() - txn.start_time) * 1e6)
    txn.port = txn.host_port or 80
    dc = txn.dirconf or (txn.vhost or srv.cfg.main).dir_defaults  # (400s: the server's)
    hl = dc.hostname_lookups or "off"
    if hl != "off" and srv.dns is not None:
        txn.remote_host = txn.ctx.remote_host(hl == "double")
    else:
        txn.remote_host = txn.ctx.cached_host()
    if conn.sb is not None:
        conn.sb.set_status(conn.slot, "L")
    handler = srv.handler
    handler.phases.run_all(LOG_TRANSACTION, handler, txn)  # mod_log_config's access logs
    if conn.sb is not None:
        conn.sb.request_end(conn.slot, txn.bytes_sent)
        conn.sb.set_status(conn.slot, "K" if keep else "W")
        record_series(conn, txn)
    if not keep:
        conn.closing = True

