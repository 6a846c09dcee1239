"""FastcorePrecompressed (a fastcore extension, no Apache module has it): answer a plain
file's GET/HEAD with FILE.br, FILE.gz or FILE.zst beside it when the client accepts that
encoding, in the configured order of preference.

The answer keeps the original's Content-Type and gains Content-Encoding and `Vary:
Accept-Encoding`; Last-Modified, ETag and Content-Length are the sibling's (it is
another representation), and conditional requests are decided again against them.
Accept-Encoding is read per RFC 9110 (q-values; x-gzip counts as gzip; `*` does not
select a sibling).  Range requests keep the core's plain answer.  It runs before
DEFLATE, which then sees the Content-Encoding and leaves the answer alone.
"""
from __future__ import annotations

import os
import stat as stmod
from typing import TYPE_CHECKING

from fastcore.core import conditional as C
from fastcore.core import static as S
from fastcore.core.phases import DECLINED, HookResult
from fastcore.core.response import Response
from fastcore.modules.mod_deflate.config import PRECOMPRESSED_SUFFIXES, precompressed_codings
from fastcore.modules.mod_deflate.filter import add_vary, in_chain

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction


def accepted(value: str | None) -> frozenset[str]:
    """The codings an Accept-Encoding value accepts with q > 0 (lower-case; x-gzip is
    gzip's alias)."""
    if not value:
        return frozenset()
    out = set()
    for item in value.split(","):
        name, *params = item.split(";")
        token = name.strip().lower()
        if not token:
            continue
        q = 1.0
        for p in params:
            key, _, val = p.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(val.strip())
                except ValueError:
                    q = 0.0
        if q > 0:
            out.add("gzip" if token == "x-gzip" else token)
    return frozenset(out)


def precompressed_output(core: Handler, txn: Transaction) -> HookResult:
    """Swap a plain file's 200 for its precompressed sibling (DECLINED: untouched)."""
    resp = txn.response
    dc = txn.dirconf
    encodings = precompressed_codings(dc)
    if not encodings or resp is None or resp.status != 200 or txn.method not in ("GET", "HEAD"):
        return DECLINED
    info = resp.cache
    if info is None or info.enc or resp.file is None or dc is None:
        return DECLINED
    vary = not in_chain(txn, resp, resp.ctype)  # DEFLATE adds its own Vary after this
    ok = accepted(txn.headers_in.get("accept-encoding"))
    for coding in encodings:
        if coding not in ok:
            continue
        sibling = info.fname + PRECOMPRESSED_SUFFIXES[coding]
        try:
            st = os.stat(sibling)
        except OSError:
            continue
        if not stmod.S_ISREG(st.st_mode):
            continue
        return _sibling_answer(txn, resp, sibling, st, coding)
    resp.cache = None
    if vary:
        add_vary(resp.headers, "Accept-Encoding")
    return resp


def _sibling_answer(txn: Transaction, resp: Response, path: str, st: os.stat_result,
                    coding: str) -> Response:
    dc = txn.dirconf
    assert dc is not None
    now = txn.start_time
    tag = S.etag(st, dc.file_etag, now, path)
    mtime = S.last_modified_time(st, now)
    lead = [(k, v) for k, v in resp.headers
            if k not in ("Last-Modified", "ETag", "Accept-Ranges", "Content-Length")]
    base = [("Last-Modified", S.http_date(mtime).decode())]
    if tag:
        base.append(("ETag", tag))
    base.append(("Accept-Ranges", S.accept_ranges(dc)))
    tail = [("Vary", "Accept-Encoding"), ("Content-Encoding", coding)]
    cond = C.conditional_status(txn.method, txn.headers_in, tag, mtime, now)
    if cond == 304:
        return Response(304, lead + base + tail[:1], None, b"")
    if cond == 412:
        return Response(412, lead + base + tail + [("Content-Length", "0")], resp.ctype, b"")
    out = Response(200, lead + base + tail + [("Content-Length", str(st.st_size))],
                   resp.ctype, None)
    out.file = (path, 0, st.st_size)
    out.close = resp.close
    return out
