"""The bytes of an answer the Python path sends: a Response's status line and header
fields, a cache hit's header, the body forms (chunked, multipart ranges), the send
strategy of a file body, and the canned 500 when even the error path failed.

Connection decides when and queues; this module only turns records into bytes, so the
serialization is in one place (the engine's twin of it is fc_serve_one in fc_fast.h).
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable

from fastcore._ext import load
from fastcore.config.model import DirConfig
from fastcore.core import errors as E
from fastcore.core import static
from fastcore.core.fastpath import Stored
from fastcore.core.handler import Response
from fastcore.core.keepalive import CLOSE_HEADER
from fastcore.core.mapping import loose_path
from fastcore.core.output import OutputQueue
from fastcore.core.request import Request
from fastcore.core.transaction import Transaction
from fastcore.core.typemap import with_default_charset

_sf = load("sendfile")


def response_head(server_line: bytes, txn: Transaction, req: Request | None, resp: Response,
                  ka_header: bytes, default_dc: DirConfig, protocol: bytes = b"HTTP/1.1"
                  ) -> bytes:
    """Status line, Date, Server, the response's fields, Content-Length when Apache
    computes one, Transfer-Encoding, the keep-alive header, Content-Type (AddDefaultCharset
    applied) and the blank line; records what the access log needs (headers_out, ctype).
    `protocol`: HTTP/1.0 under force-response-1.0.  HTTP/0.9: nothing."""
    head_only = req is not None and req.method == "HEAD"
    lines = [protocol, b" ", E.status_line(resp.status).encode(), b"\r\n",
             _sf.date_header(), server_line]
    out_hdrs = txn.headers_out
    if head_only and not resp.length_computed and (
            resp.length() == 0 or (resp.file is None and resp.parts is None)):
        resp.no_length = True  # HEAD: Apache never states a length it did not compute
    ctype = with_default_charset(resp.ctype, txn.dirconf or default_dc)
    placed = False  # a Content-Type field an output filter put in (mod_headers)
    hop = _hop_fields(resp.headers, ka_header)
    for k, v in resp.headers:
        if resp.no_length and k == "Content-Length":
            continue
        low = k.lower()
        if ctype and low == "content-type":
            # httpd sets the type over the first such field and drops the others
            if placed:
                continue
            v, placed = ctype, True
        elif hop is not None and low in hop:
            # ap_set_keepalive: its Connection token joins the field an output filter
            # put in, its Keep-Alive replaces the first one (the others go)
            if hop[low] is None:
                continue
            v = f"{v}, {hop[low]}" if low == "connection" else str(hop[low])
            hop[low] = None
        lines += [k.encode("latin-1"), b": ", v.encode("latin-1", "replace"), b"\r\n"]
        out_hdrs[k.lower()] = v
    body_len = resp.length()
    has_len = any(k == "Content-Length" for k, _ in resp.headers)
    if resp.status not in (304, 204) and not resp.no_length and not has_len \
            and resp.status >= 200:
        lines += [b"Content-Length: ", str(body_len).encode(), b"\r\n"]
    if hop is None:
        lines.append(ka_header)
    else:
        lines += [f"{_HOP_NAMES[k]}: {v}\r\n".encode("latin-1") for k, v in hop.items()
                  if v is not None]
    if resp.chunked and not head_only:  # after Connection, as ap_http_header_filter
        lines.append(b"Transfer-Encoding: chunked\r\n")
    if ctype:
        if not placed:
            lines += [b"Content-Type: ", ctype.encode("latin-1"), b"\r\n"]
        txn.ctype = ctype
    lines.append(b"\r\n")
    if req is not None and req.assbackwards:
        return b""
    return b"".join(lines)


_HOP_NAMES = {"keep-alive": "Keep-Alive", "connection": "Connection"}


def _hop_fields(fields: list[tuple[str, str]], ka_header: bytes) -> dict[str, str | None] | None:
    """The keep-alive header's fields by lower-case name when the answer already has a
    Connection or Keep-Alive field (None: it has not, the header goes as it is)."""
    if not ka_header or not any(k.lower() in _HOP_NAMES for k, _ in fields):
        return None
    out: dict[str, str | None] = {}
    for line in ka_header.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(": ")
        if name:
            out[name.lower()] = value
    return out


def cached_head(server_line: bytes, mid: bytes, ka_header: bytes, ctype_line: bytes) -> bytes:
    """A cache hit's header: its fixed bytes around this request's keep-alive header."""
    return b"".join((b"HTTP/1.1 200 OK\r\n", _sf.date_header(), server_line, mid, ka_header,
                     ctype_line, b"\r\n"))


def queue_response(out: OutputQueue, header: bytes, resp: Response, head_only: bool,
                   dc: DirConfig | None) -> int | None:
    """Queue a Response (header and body); the body bytes it sends, None when its file
    cannot be opened any more."""
    if head_only or resp.status in (304, 204):
        out.queue(header, -1, 0, 0, "auto", b"", False)
        return 0
    if resp.file is not None:
        fname, off, cnt = resp.file
        try:
            ffd = os.open(fname, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        out.queue(header, ffd, off, cnt, file_strategy(dc, cnt), None, True)
        return cnt
    if resp.parts is not None:
        body = multipart_body(resp)
        out.queue(header, -1, 0, 0, "auto", body, False)
        return len(body)
    body = resp.body or b""
    out.queue(header, -1, 0, 0, "auto", chunked_body(body) if resp.chunked else body, False)
    return len(body)


def queue_cached(out: OutputQueue, header: bytes, stored: Stored,
                 file_fd: Callable[[str, os.stat_result], int] | None,
                 st: os.stat_result) -> None:
    """Queue a cache hit: the header, then the kept content or the file through the
    descriptor cache (file_fd None: HEAD, no body)."""
    e = stored.entry
    if file_fd is None or e.size == 0:
        out.queue(header, -1, 0, 0, "auto", b"", False)
    elif stored.content is not None:
        out.queue(header, -1, 0, 0, "auto", stored.content, False)
    else:
        out.queue(header, file_fd(e.fname, st), 0, e.size, e.strategy, None, False)


def file_strategy(dc: DirConfig | None, cnt: int) -> str:
    """How a file body is sent: EnableSendfile, else mmap + writev (EnableMMAP) below
    16 MiB, else read/write."""
    if dc is not None and dc.enable_sendfile:
        return "sendfile"
    if dc is None or dc.enable_mmap is not False:
        return "writev" if cnt < (1 << 24) else "readwrite"
    return "readwrite"


def multipart_body(resp: Response) -> bytes:
    """A multi-range answer: each part's header and bytes of the file, then the tail."""
    chunks = []
    assert resp.filename is not None  # parts are ranges of a file
    assert resp.parts is not None
    with open(resp.filename, "rb") as f:
        for h, s, n in resp.parts:
            chunks += [h, static.read_range(f.fileno(), s, n)]
    return b"".join(chunks) + resp.tail


def chunked_body(body: bytes) -> bytes:
    """A whole body as one chunk and the last chunk."""
    return (b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n") if body else b"0\r\n\r\n"


def canned_500_head(server_line: bytes) -> bytes:
    """The header of Apache's own 500 page, for when the error path itself failed (its
    body: errors.error_body(500, method), none for HEAD)."""
    return b"".join((
        b"HTTP/1.1 ", E.status_line(500).encode(), b"\r\n", _sf.date_header(),
        server_line, b"Content-Length: %d\r\n" % len(E.error_body(500)),
        CLOSE_HEADER, b"Content-Type: ", E.ERROR_CTYPE.encode(), b"\r\n\r\n"))


def note_unparsed(txn: Transaction, head: bytes) -> None:
    """What the access log shows of a head that did not parse: its first line, tokenized
    as Apache does (%r rebuilt from its words)."""
    line = head.lstrip(b"\r\n")
    txn.request_line = line[:line.find(b"\n")].rstrip(b"\r").decode("latin-1")
    parts = txn.request_line.split()
    if parts:
        txn.method = parts[0]
        target = parts[1] if len(parts) > 1 else "/"
        txn.uri_path, _, txn.query = loose_path(target).partition("?")
        if len(parts) > 2:
            txn.protocol = parts[2] if re.match(r"HTTP/[0-9]\.[0-9]\Z", parts[2]) else "HTTP/1.0"
            txn.request_line = " ".join(parts[:3])
