"""mod_deflate: the DEFLATE output filter (gzip through zlib, the C library httpd uses)
and fastcore's FastcorePrecompressed extension.

config.py holds the directives and records, filter.py the filter (a codec-generic
engine mod_brotli shares), store.py the bounded store of compressed files (each file
identity is compressed once per process), streaming.py whether httpd would have
streamed a body (no Content-Length), precompressed.py the sibling files (FILE.gz,
FILE.br, FILE.zst).

Cache contribution: an answer DEFLATE may touch depends on the request's Accept-Encoding;
when nothing else decides it, cached.py gives both answers (plain with Vary, gzip) and
each cache hit picks one by Accept-Encoding (core/cacheable.py's Codings, the engine's
src/fc_vary.h); otherwise (environment, expressions, notes, streaming) it is not
cacheable.  One the filter never touches (another type, an encoded file, a body of at
most 68 bytes) adds nothing.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastcore.config.model import DirConfig
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.phases import OUTPUT_FILTER, Hook
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_deflate.cached import deflate_codings
from fastcore.modules.mod_deflate.config import (
    NAME,
    DeflateServer,
    PrecompressedDir,
    directives,
    precompressed_codings,
)
from fastcore.modules.mod_deflate.filter import BEFORE_HEADERS, FILTER, SMALLEST, deflate_output
from fastcore.modules.mod_deflate.precompressed import precompressed_output
from fastcore.modules.mod_filter import may_select
from fastcore.modules.mod_mime import output_filters

if TYPE_CHECKING:
    from fastcore.core.transaction import Transaction


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """Variants by Accept-Encoding, or not cacheable (see the package doc)."""
    if precompressed_codings(dc):
        return NOT_CACHEABLE
    if served is None or served.enc or served.size <= SMALLEST:
        return NOTHING
    if (may_select(dc, served.ctype, FILTER) or FILTER in output_filters(served.fname, dc)
            or FILTER in (dc.output_filters or ())):
        return deflate_codings(txn, dc, served)
    return NOTHING


# After mod_expires, before mod_headers (see filter.py); the sibling swap comes first
AFTER = ("expires_module",)
HOOKS = (Hook(OUTPUT_FILTER, precompressed_output, BEFORE_HEADERS, AFTER),
         Hook(OUTPUT_FILTER, deflate_output, BEFORE_HEADERS, AFTER))
MODULE = ModuleSpec(NAME, directives, dir_record=PrecompressedDir,
                    server_record=DeflateServer, hooks=HOOKS,
                    cache_contribution=cache_contribution)
