"""mod_deflate's directives and its per-server record (deflate_filter_config), plus the
per-directory record of fastcore's own FastcorePrecompressed extension.

All of mod_deflate's output directives are server-wide (RSRC_CONF) and the module has no
server merge: a <VirtualHost> uses its own values, and fastcore's record merge keeps the
more specific scope's record whole.  The numbers are read as httpd does, with atoi: a
leading number counts, anything else is 0 (and out of range).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from fastcore.config.engine import OR_FILEINFO, RSRC, Ctx, Directive, DirectiveError, Engine
from fastcore.config.model import DirConfig, VirtualHost, module_record, scope_record
from fastcore.config.tree import Node

NAME = "deflate_module"

ETAG_ADD_SUFFIX = "addsuffix"
ETAG_NO_CHANGE = "nochange"
ETAG_REMOVE = "remove"

# the encodings FastcorePrecompressed knows: token -> the sibling's suffix
PRECOMPRESSED_SUFFIXES = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}


@dataclass
class DeflateServer:
    """deflate_filter_config: zlib's parameters (Apache's defaults: zlib's default level
    6, a 2^15 window, memory level 9, an 8096-byte output buffer), the note names of
    DeflateFilterNote and DeflateAlterETag."""

    level: int = 6
    window_bits: int = 15
    mem_level: int = 9
    buffer_size: int = 8096
    note_input: str | None = None
    note_output: str | None = None
    note_ratio: str | None = None
    etag: str = ETAG_ADD_SUFFIX

    def merge(self, add: DeflateServer) -> DeflateServer:
        """No merge_server_config in mod_deflate: the scope's own record counts."""
        return add


@dataclass
class PrecompressedDir:
    """FastcorePrecompressed: the encodings whose siblings may be served, in the
    configured order of preference (None: not set in this scope)."""

    encodings: tuple[str, ...] | None = None

    def merge(self, add: PrecompressedDir) -> PrecompressedDir:
        return add if add.encodings is not None else self


def deflate_server(vh: VirtualHost) -> DeflateServer:
    """This module's per-server record (ap_get_module_config on r->server)."""
    return module_record(vh.module_config, NAME, DeflateServer)


def precompressed_codings(dc: DirConfig | None) -> tuple[str, ...]:
    """The encodings FastcorePrecompressed allows under `dc` (empty: off)."""
    if dc is None:
        return ()
    return module_record(dc.modules, NAME, PrecompressedDir).encodings or ()


def atoi(text: str) -> int:
    """C's atoi: the leading number, 0 when there is none."""
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


def _server(ctx: Ctx) -> DeflateServer:
    return scope_record(ctx.vhost.module_config, NAME, DeflateServer)


def set_level(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    i = atoi(a[0])
    if not 1 <= i <= 9:
        raise DirectiveError("Compression Level must be between 1 and 9")
    _server(ctx).level = i


def set_window(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    i = atoi(a[0])
    if not 1 <= i <= 15:
        raise DirectiveError("DeflateWindowSize must be between 1 and 15")
    _server(ctx).window_bits = i


def set_mem_level(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    i = atoi(a[0])
    if not 1 <= i <= 9:
        raise DirectiveError("DeflateMemLevel must be between 1 and 9")
    _server(ctx).mem_level = i


def set_buffer_size(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    i = atoi(a[0])
    if i <= 0:
        raise DirectiveError("DeflateBufferSize should be positive")
    _server(ctx).buffer_size = i


class NoteNames(Protocol):
    """The note names a compression filter's FilterNote directive sets (mod_deflate's
    and mod_brotli's server records)."""

    note_input: str | None
    note_output: str | None
    note_ratio: str | None


def assign_note(rec: NoteNames, a: list[str], unknown: str) -> None:
    """[Input|Output|Ratio] name: one argument names the ratio note; `unknown` is the
    module's message for another kind ({} is the kind as written)."""
    if len(a) == 1:
        rec.note_ratio = a[0]
        return
    kind = a[0].lower()
    if kind == "input":
        rec.note_input = a[1]
    elif kind == "output":
        rec.note_output = a[1]
    elif kind == "ratio":
        rec.note_ratio = a[1]
    else:
        raise DirectiveError(unknown.format(a[0]))


def set_note(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """DeflateFilterNote [Input|Output|Ratio] name."""
    assign_note(_server(ctx), a, "Unknown note type {}")


def set_alter_etag(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    value = a[0].lower()
    if value not in (ETAG_ADD_SUFFIX, ETAG_NO_CHANGE, ETAG_REMOVE):
        raise DirectiveError("DeflateAlterETAG accepts only 'NoChange', 'AddSuffix', "
                             "and 'Remove'")
    _server(ctx).etag = value


def set_precompressed(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """FastcorePrecompressed off | ENCODING...: fastcore's own directive (no Apache
    module has it): serve FILE.br / FILE.gz / FILE.zst beside FILE when the client
    accepts that encoding."""
    rec = scope_record(ctx.dirconf.modules, NAME, PrecompressedDir)
    if len(a) == 1 and a[0].lower() in ("off", "none"):
        rec.encodings = ()
        return
    out = []
    for word in a:
        token = word.lower()
        if token not in PRECOMPRESSED_SUFFIXES:
            raise DirectiveError(f"FastcorePrecompressed: unknown encoding '{word}' "
                                 "(br, gzip, zstd or off)")
        if token not in out:
            out.append(token)
    rec.encodings = tuple(out)


def directives() -> list[Directive]:
    s = frozenset({RSRC})
    return [
        Directive("DeflateFilterNote", NAME, s, "TAKE12", set_note,
                  "Set a note to report on compression ratio"),
        Directive("DeflateWindowSize", NAME, s, "TAKE1", set_window,
                  "Set the Deflate window size (1-15)"),
        Directive("DeflateBufferSize", NAME, s, "TAKE1", set_buffer_size,
                  "Set the Deflate Buffer Size"),
        Directive("DeflateMemLevel", NAME, s, "TAKE1", set_mem_level,
                  "Set the Deflate Memory Level (1-9)"),
        Directive("DeflateCompressionLevel", NAME, s, "TAKE1", set_level,
                  "Set the Deflate Compression Level (1-9)"),
        Directive("DeflateAlterEtag", NAME, s, "TAKE1", set_alter_etag,
                  "Set how mod_deflate should modify ETAG response headers: 'AddSuffix' "
                  "(default), 'NoChange' (2.2.x behavior), 'Remove'"),
        Directive("FastcorePrecompressed", NAME, frozenset({OR_FILEINFO}), "ITERATE",
                  set_precompressed, "encodings (br, gzip, zstd) whose precompressed "
                  "siblings to serve, or off"),
    ]
