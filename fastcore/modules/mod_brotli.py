"""mod_brotli: the BROTLI_COMPRESS output filter (Brotli through the PyPI `brotli`
binding of Google's C library, the one Apache links) and its directives.

The filter is mod_deflate's engine (fastcore/modules/mod_deflate/filter.py) with
mod_brotli.c's differences: the `br` token, the `no-brotli` variable, no force or
gzip-only variables, no smallest size (an empty file gets a 1-byte br body), "-br" as
the ETag suffix, notes that count even an empty stream.  Compressed bytes of a file
are kept in the same store, keyed by coding and parameters.  It runs in OUTPUT_FILTER
MIDDLE like DEFLATE (after mod_expires, before mod_headers); when both are in a chain
they run in the chain's order (filter.run_chain) and the first that compresses wins:
the other sees its Content-Encoding.

Cache contribution: as DEFLATE's, not cacheable where BROTLI_COMPRESS applies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore.config.engine import RSRC, Ctx, Directive, DirectiveError, Engine
from fastcore.config.model import DirConfig, VirtualHost, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.phases import OUTPUT_FILTER, Hook, HookResult
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_deflate.config import (
    ETAG_ADD_SUFFIX,
    ETAG_NO_CHANGE,
    ETAG_REMOVE,
    assign_note,
    atoi,
)
from fastcore.modules.mod_deflate.filter import (
    BEFORE_HEADERS,
    Codec,
    Settings,
    register_codec,
    run_chain,
)
from fastcore.modules.mod_deflate.store import Params
from fastcore.modules.mod_filter import may_select
from fastcore.modules.mod_mime import output_filters

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

NAME = "brotli_module"
FILTER = "BROTLI_COMPRESS"


@dataclass
class BrotliServer:
    """brotli_server_config_t: quality 5, a 2^18 window and the encoder's own input
    block size (0) by default, as mod_brotli's create_server_config."""

    quality: int = 5
    lgwin: int = 18
    lgblock: int = 0
    etag: str = ETAG_ADD_SUFFIX
    note_input: str | None = None
    note_output: str | None = None
    note_ratio: str | None = None

    def merge(self, add: BrotliServer) -> BrotliServer:
        """No merge_server_config in mod_brotli: the scope's own record counts."""
        return add


def brotli_server(vh: VirtualHost) -> BrotliServer:
    return module_record(vh.module_config, NAME, BrotliServer)


def _server(ctx: Ctx) -> BrotliServer:
    return scope_record(ctx.vhost.module_config, NAME, BrotliServer)


def set_note(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    assign_note(_server(ctx), a, "Unknown BrotliFilterNote type '{}'")


def set_quality(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    val = atoi(a[0])
    if not 0 <= val <= 11:
        raise DirectiveError("BrotliCompressionQuality must be between 0 and 11")
    _server(ctx).quality = val


def set_window(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    val = atoi(a[0])
    if not 10 <= val <= 24:
        raise DirectiveError("BrotliCompressionWindow must be between 10 and 24")
    _server(ctx).lgwin = val


def set_block(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    val = atoi(a[0])
    if not 16 <= val <= 24:
        raise DirectiveError("BrotliCompressionMaxInputBlock must be between 16 and 24")
    _server(ctx).lgblock = val


def set_etag(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    value = a[0].lower()
    if value not in (ETAG_ADD_SUFFIX, ETAG_NO_CHANGE, ETAG_REMOVE):
        raise DirectiveError("BrotliAlterETag accepts only 'AddSuffix', 'NoChange' and "
                             "'Remove'")
    _server(ctx).etag = value


def directives() -> list[Directive]:
    s = frozenset({RSRC})
    return [
        Directive("BrotliFilterNote", NAME, s, "TAKE12", set_note,
                  "Set a note to report on compression ratio"),
        Directive("BrotliCompressionQuality", NAME, s, "TAKE1", set_quality,
                  "Compression quality between 0 and 11 (higher quality means slower "
                  "compression)"),
        Directive("BrotliCompressionWindow", NAME, s, "TAKE1", set_window,
                  "Sliding window size between 10 and 24 (larger windows can improve "
                  "compression, but require more memory)"),
        Directive("BrotliCompressionMaxInputBlock", NAME, s, "TAKE1", set_block,
                  "Maximum input block size between 16 and 24 (larger block sizes "
                  "require more memory)"),
        Directive("BrotliAlterETag", NAME, s, "TAKE1", set_etag,
                  "Set how mod_brotli should modify ETag response headers: 'AddSuffix' "
                  "(default), 'NoChange' (2.2.x behavior), 'Remove'"),
    ]


def brotli_settings(vh: VirtualHost) -> Settings:
    conf = brotli_server(vh)
    return Settings(Params("br", conf.quality, conf.lgwin, conf.lgblock), conf.etag,
                    conf.note_input, conf.note_output, conf.note_ratio)


BROTLI = Codec(FILTER, "br", "no-brotli", None, -1, False, False, brotli_settings)
register_codec(NAME, BROTLI)


def brotli_output(core: Handler, txn: Transaction) -> HookResult:
    """The BROTLI_COMPRESS filter over txn.response (with the chain's filters before
    it, in order)."""
    return run_chain(core, txn, BROTLI)


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """Not cacheable where BROTLI_COMPRESS may apply: the answer follows
    Accept-Encoding, which the core caches do not key on."""
    if served is None or served.enc:
        return NOTHING
    if (may_select(dc, served.ctype, FILTER) or FILTER in output_filters(served.fname, dc)
            or FILTER in (dc.output_filters or ())):
        return NOT_CACHEABLE
    return NOTHING


HOOKS = (Hook(OUTPUT_FILTER, brotli_output, BEFORE_HEADERS, ("expires_module",)),)
MODULE = ModuleSpec(NAME, directives, server_record=BrotliServer, hooks=HOOKS,
                    cache_contribution=cache_contribution)
