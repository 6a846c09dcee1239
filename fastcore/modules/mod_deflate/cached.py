"""mod_deflate's cache contribution: a file DEFLATE compresses is cached as two answers,
picked per hit by the request's Accept-Encoding (issue 13).

When nothing but Accept-Encoding decides what the filter does (DEFLATE chosen by the
file's name or type only, no expression provider anywhere in the chain, no variable the
filter reads set by SetEnv, no DeflateFilterNote, no other compression filter, a body
httpd would not stream), the answer is one of

    plain   the file with `Vary: Accept-Encoding` merged in (a client that does not
            accept gzip, or no Accept-Encoding at all);
    gzip    the stored gzip bytes, Content-Encoding: gzip, the ETag DeflateAlterETag
            makes, Content-Length of the compressed body after every other field;

the fields edited exactly as filter.py edits the answer (the same helpers), so a hit
sends the bytes the Python path sends.  Both core caches keep them as one entry
(cacheable.Codings -> CacheEntry.variants); the C engine picks with src/fc_vary.h.
Range and If-* requests never reach a cache (may_use_cache) and stay on the Python path.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from fastcore.config.model import DirConfig
from fastcore.core.cacheable import (
    NOT_CACHEABLE,
    CachedFields,
    CacheInfo,
    CodedAnswer,
    Codings,
    Contribution,
    Field,
)
from fastcore.modules.mod_deflate.config import deflate_server
from fastcore.modules.mod_deflate.filter import (
    DEFLATE,
    FILTER,
    add_vary,
    altered_etag,
    set_header,
)
from fastcore.modules.mod_deflate.store import compressed_file
from fastcore.modules.mod_deflate.streaming import MMAP_LIMIT, READ_SIZE
from fastcore.modules.mod_env import request_env
from fastcore.modules.mod_filter import filters_for, has_expressions
from fastcore.modules.mod_mime import output_filters

if TYPE_CHECKING:
    from fastcore.core.transaction import Transaction

# the variables deflate_out_filter reads (any of them set for the scope: not cached)
FILTER_VARIABLES = ("no-gzip", "gzip-only-text/html", "force-gzip")


def deflate_codings(txn: Transaction, dc: DirConfig, served: CacheInfo) -> Contribution:
    """The plain and gzip answers of a file DEFLATE compresses, else NOT_CACHEABLE."""
    names = output_filters(served.fname, dc) + tuple(dc.output_filters or ())
    if has_expressions(dc):
        return NOT_CACHEABLE  # a provider's expression may read the request
    names += filters_for(dc, served.ctype)
    if FILTER not in names or any(n != FILTER and n.upper().endswith("COMPRESS")
                                  for n in names):
        return NOT_CACHEABLE
    env = request_env(dc)
    if any(name in env for name in FILTER_VARIABLES):
        return NOT_CACHEABLE
    conf = DEFLATE.settings(txn.vhost)
    server = deflate_server(txn.vhost)
    if server.note_input or server.note_output or server.note_ratio:
        return NOT_CACHEABLE  # a hit would not leave the notes
    chunk = READ_SIZE if dc.enable_mmap is False else MMAP_LIMIT
    try:
        packed = compressed_file(served.fname, served.ino, served.size, served.mtime_ns,
                                 served.ctime_ns, replace(conf.params, chunk=chunk))
    except Exception:  # noqa: BLE001 - vanished file or refused parameters: Python answers
        return NOT_CACHEABLE
    if packed.streamed:
        return NOT_CACHEABLE  # no Content-Length, no ranges: the Python path's answer

    def plain(fields: CachedFields) -> CachedFields:
        head = list(fields.head)
        add_vary(head, "Accept-Encoding", before="Content-Range")
        return replace(fields, head=tuple(head))

    def gzip(fields: CachedFields) -> CachedFields | None:
        head: list[Field] = list(fields.head)
        add_vary(head, "Accept-Encoding")
        set_header(head, "Content-Encoding", DEFLATE.coding)
        kept: list[Field] = []
        for k, v in head:
            low = k.lower()
            if low in ("content-length", "content-md5", "content-range"):
                continue
            if low == "etag":
                new = altered_etag(v, conf.etag, DEFLATE.coding)
                if new is None:
                    continue
                v = new
            kept.append((k, v))
        return replace(fields, head=tuple(kept))

    return Contribution(codings=Codings(plain, (CodedAnswer(DEFLATE.coding, gzip,
                                                            packed.body),)))
