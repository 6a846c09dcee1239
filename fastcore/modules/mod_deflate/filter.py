"""The DEFLATE output filter (mod_deflate's deflate_out_filter) over a finished answer.

It runs just before MIDDLE in the OUTPUT_FILTER phase, after mod_expires (AP_FTYPE_CONTENT_SET-2)
and before mod_headers' output filter (measured: `Header set Vary X` replaces DEFLATE's
Vary, `Header edit ETag` sees the -gzip ETag: httpd inserts DEFLATE, by mod_mime at
type_checker or by mod_filter's insert_filter, before mod_headers' filter of the same
type), on the answers a handler made:
httpd's error path (ap_send_error_response) drops the content filters, so 3xx/4xx/5xx,
304 and 412 answers are left alone.  What it decides, in deflate_out_filter's order:

- bodies of at most 68 bytes (gzip header + trailer + 50) are not touched;
- no-gzip in the environment, gzip-only-text/html=1 for a type other than text/html,
  or a Content-Encoding other than identity/7bit/8bit/binary: not touched;
- otherwise `Vary: Accept-Encoding` is merged in, and the body is compressed when the
  client's Accept-Encoding names gzip (only that spelling; q=0 refuses) or force-gzip
  is set;
- compressing sets Content-Encoding, drops Content-Length/Content-MD5, alters the
  ETag (DeflateAlterETag) and leaves the DeflateFilterNote notes.

Range requests: httpd's byterange filter runs after DEFLATE, so a Range (and If-Range,
against the altered ETag) applies to the compressed bytes; the core's own 206 of the
plain file is rebuilt from the whole file here.  Where httpd would have streamed the
compressed body (streaming.py) the answer has no length and no ranges.

The engine is codec-generic (Codec, encode_output): mod_brotli's BROTLI_COMPRESS is the
same filter with mod_brotli.c's differences, and run_chain runs the compression
filters in the order of the answer's chain.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from fastcore._pure.vary import accepts_coding
from fastcore.config.model import DirConfig, VirtualHost
from fastcore.core import conditional as C
from fastcore.core import static as S
from fastcore.core.phases import DECLINED, MIDDLE, HookResult
from fastcore.core.response import Response
from fastcore.core.tokens import get_token
from fastcore.modules.mod_deflate.config import ETAG_ADD_SUFFIX, ETAG_REMOVE, deflate_server
from fastcore.modules.mod_deflate.store import Compressed, Params, compressed_file, encode
from fastcore.modules.mod_deflate.streaming import MMAP_LIMIT, READ_SIZE
from fastcore.modules.mod_filter import selected
from fastcore.modules.mod_mime import output_filters

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

FILTER = "DEFLATE"
# the compression filters' place in OUTPUT_FILTER: after mod_expires (FIRST), just
# before mod_headers' output filter (MIDDLE), as httpd inserts them (see above)
BEFORE_HEADERS = MIDDLE - 1
# "Not compressing very small response": gzip header + trailer + 50 for the headers
SMALLEST = 10 + 8 + 50
PASS_ENCODINGS = frozenset(("identity", "7bit", "8bit", "binary"))


def accepts_gzip(value: str | None) -> bool:
    return accepts_coding(value, "gzip")


def _encoding_allows(headers: list[tuple[str, str]]) -> tuple[bool, str | None]:
    """(may compress, the current Content-Encoding value): every token of every
    Content-Encoding must be one mod_negotiation calls no encoding (case matters)."""
    values = [v for k, v in headers if k.lower() == "content-encoding"]
    if not values:
        return True, None
    joined = ",".join(values)
    pos, n = 0, len(joined)
    while pos < n:
        token, pos = get_token(joined, pos, False)
        if not token:
            break
        if token not in PASS_ENCODINGS:
            return False, joined
        if pos < n:
            pos += 1
    return True, joined


def merge_header(headers: list[tuple[str, str]], name: str, value: str,
                 before: str | None = None) -> None:
    """apr_table_mergen: append to the first field of that name, else add one (before
    the field `before` when there is one: the byterange filter adds Content-Range
    after DEFLATE ran)."""
    low = name.lower()
    for i, (k, v) in enumerate(headers):
        if k.lower() == low:
            headers[i] = (k, f"{v}, {value}")
            return
    if before is not None:
        for i, (k, _) in enumerate(headers):
            if k == before:
                headers.insert(i, (name, value))
                return
    headers.append((name, value))


def add_vary(headers: list[tuple[str, str]], token: str, before: str | None = None) -> None:
    """apr_table_mergen of a Vary token, as the client sees it after the header filter's
    fix_vary: the field names of every Vary field, each once (compared without case),
    joined by ',' in one field where the first one was."""
    names: list[str] = []
    seen: set[str] = set()
    at = None
    for i, (k, v) in enumerate(headers):
        if k.lower() != "vary":
            continue
        if at is None:
            at = i
        for name in v.replace(",", " ").split():
            if name.lower() not in seen:
                seen.add(name.lower())
                names.append(name)
    if token.lower() not in seen:
        names.append(token)
    if at is None:
        merge_header(headers, "Vary", token, before)
        return
    value = ",".join(names)
    headers[:] = [(k, value) if i == at else (k, v) for i, (k, v) in enumerate(headers)
                  if i == at or k.lower() != "vary"]


def set_header(headers: list[tuple[str, str]], name: str, value: str) -> None:
    """apr_table_setn: replace the first field of that name (dropping others), else add."""
    low = name.lower()
    out, done = [], False
    for k, v in headers:
        if k.lower() == low:
            if not done:
                out.append((k, value))
                done = True
            continue
        out.append((k, v))
    if not done:
        out.append((name, value))
    headers[:] = out


def altered_etag(tag: str, how: str, coding: str = "gzip") -> str | None:
    """deflate_check_etag: "-gzip" (mod_brotli: "-br") inside the closing quote
    (AddSuffix), or no ETag (Remove)."""
    if how == ETAG_REMOVE:
        return None
    if how == ETAG_ADD_SUFFIX and len(tag) > 2 and tag.endswith('"'):
        return f'{tag[:-1]}-{coding}"'
    return tag


class Source:
    """The plain body the filter works on: a whole file (by identity, compressed once
    per process) or bytes a handler made."""

    __slots__ = ("path", "ino", "size", "mtime_ns", "ctime_ns", "mtime", "body")

    def __init__(self, path: str | None, ino: int, size: int, mtime_ns: int, ctime_ns: int,
                 mtime: int, body: bytes | None) -> None:
        self.path, self.ino, self.size, self.mtime_ns = path, ino, size, mtime_ns
        self.ctime_ns, self.mtime, self.body = ctime_ns, mtime, body

    def compress(self, p: Params) -> Compressed:
        if self.path is not None:
            return compressed_file(self.path, self.ino, self.size, self.mtime_ns,
                                   self.ctime_ns, p)
        return encode(self.body or b"", p)


def _source(resp: Response, txn: Transaction) -> Source | None:
    """The whole plain body behind `resp` (a 206 of a file: the whole file), or None
    when there is none this filter can read.  A plain file's answer carries its
    identity (resp.cache): no stat."""
    info = resp.cache
    if info is not None and resp.file is not None:
        return Source(info.fname, info.ino, info.size, info.mtime_ns, info.ctime_ns,
                      info.mtime, None)
    if resp.file is not None or resp.parts is not None:
        path = resp.file[0] if resp.file is not None else resp.filename
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        if resp.status != 206 and resp.file is not None \
                and resp.file[1:] != (0, st.st_size):
            return None  # part of a file (a type map's Body:): not the whole answer
        return Source(path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                      S.last_modified_time(st, txn.start_time), None)
    body = resp.body or b""
    return Source(None, 0, len(body), 0, 0, 0, body)


def _plain_type(core: Handler, txn: Transaction, resp: Response) -> str | None:
    """The answer's own Content-Type (a multipart 206 carries the file's in its parts)."""
    if resp.parts is not None and resp.filename is not None:
        return core.mime.content_type_header(resp.filename, txn.dirconf)
    return resp.ctype


def chain(txn: Transaction, resp: Response, ctype: str | None) -> tuple[str, ...]:
    """The answer's output filters in httpd's order: mod_mime's AddOutputFilter for
    its file's name (added at type_checker), core's SetOutputFilter, then what
    mod_filter's harnesses pick (both added at insert_filter; a harness only runs over
    a 200, and the core's 206 is still a 200 then)."""
    dc = txn.dirconf
    if dc is None:
        return ()
    walk = txn.walk
    names = output_filters(walk.filename, dc) if walk is not None else ()
    if dc.output_filters:
        names += tuple(n for n in dc.output_filters if n not in names)
    if resp.status in (200, 206):
        picked = selected(txn, resp, ctype)
        for header in picked.vary:  # what the providers' expressions read
            add_vary(resp.headers, header)
        names += tuple(n for n in picked.filters if n not in names)
    return names


def in_chain(txn: Transaction, resp: Response, ctype: str | None, name: str = FILTER) -> bool:
    """Whether the filter `name` is among the answer's output filters."""
    return name in chain(txn, resp, ctype)


@dataclass(frozen=True)
class Settings:
    """A codec's server-wide settings for one request (mod_deflate's or mod_brotli's
    server record): encoder parameters, ETag treatment, note names."""

    params: Params
    etag: str
    note_input: str | None
    note_output: str | None
    note_ratio: str | None


@dataclass(frozen=True)
class Codec:
    """What differs between DEFLATE and BROTLI_COMPRESS; the rest of the filter is the
    same in mod_deflate.c and mod_brotli.c."""

    filter: str                 # the filter name AddOutputFilter(ByType) gives
    coding: str                 # the Content-Encoding / Accept-Encoding token
    refuse_env: str             # no-gzip / no-brotli
    force_env: str | None       # force-gzip (mod_brotli has none)
    smallest: int               # bodies up to this size are left alone (-1: none)
    html_only: bool             # honours gzip-only-text/html
    dash_when_empty: bool       # deflate's notes are "-" for an empty stream
    settings: Callable[[VirtualHost], Settings]


def deflate_settings(vh: VirtualHost) -> Settings:
    conf = deflate_server(vh)
    return Settings(Params("gzip", conf.level, conf.window_bits, conf.mem_level,
                           conf.buffer_size),
                    conf.etag, conf.note_input, conf.note_output, conf.note_ratio)


DEFLATE = Codec(FILTER, "gzip", "no-gzip", "force-gzip", SMALLEST, True, True,
                deflate_settings)


# filter name -> (the Apache module that provides it, its codec); mod_brotli adds its own
CODECS: dict[str, tuple[str, Codec]] = {FILTER: ("deflate_module", DEFLATE)}


def register_codec(module: str, codec: Codec) -> None:
    CODECS[codec.filter] = (module, codec)


def run_chain(core: Handler, txn: Transaction, me: Codec) -> HookResult:
    """The compression filters of the answer's chain, in the chain's order, up to and
    including `me` (so DEFLATE;BROTLI_COMPRESS and BROTLI_COMPRESS;DEFLATE differ as in
    httpd).  A filter that already ran for this answer runs again harmlessly when its
    own hook comes: it finds the answer as it left it (encoded, or varied)."""
    resp = txn.response
    if resp is None:
        return DECLINED
    names = chain(txn, resp, _plain_type(core, txn, resp))
    if me.filter not in names:
        return DECLINED
    loaded = core.srv.cfg.modules
    out: HookResult = DECLINED
    for name in names:
        entry = CODECS.get(name)
        if entry is None or entry[0] not in loaded:
            continue
        rv = encode_output(core, txn, entry[1])
        if not isinstance(rv, int):
            txn.response = out = rv
        if name == me.filter:
            break
    return out


def deflate_output(core: Handler, txn: Transaction) -> HookResult:
    """The DEFLATE filter over txn.response (DECLINED: left as it is)."""
    return run_chain(core, txn, DEFLATE)


def encode_output(core: Handler, txn: Transaction, codec: Codec) -> HookResult:
    """A compression filter over txn.response, in deflate_out_filter's order."""
    resp = txn.response
    if resp is None or not 200 <= resp.status < 300 or resp.status == 204:
        return DECLINED
    ctype = _plain_type(core, txn, resp)
    if not in_chain(txn, resp, ctype, codec.filter):
        return DECLINED
    src = _source(resp, txn)
    if src is None or src.size <= codec.smallest:
        return DECLINED
    env = txn.env
    if codec.refuse_env in env:
        return DECLINED
    if codec.html_only and (ctype is None or not ctype.startswith("text/html")) \
            and env.get("gzip-only-text/html") == "1":
        return DECLINED
    may, encoding = _encoding_allows(resp.headers)
    if not may:
        return DECLINED
    # (resp.cache stays: the modules' cache contributions decide whether an answer that
    # follows Accept-Encoding is cached, as variants by coding: mod_deflate/cached.py)
    headers = resp.headers
    forced = codec.force_env is not None and codec.force_env in env
    if not forced and not accepts_coding(txn.headers_in.get("accept-encoding"),
                                         codec.coding):
        add_vary(headers, "Accept-Encoding", before="Content-Range")
        if resp.file is None and resp.parts is None:
            # a handler's own bytes: httpd's content-length filter states their length
            # after every content filter (a file's comes from the default handler)
            headers[:] = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return resp
    add_vary(headers, "Accept-Encoding")
    conf = codec.settings(txn.vhost)
    try:
        packed = src.compress(replace(conf.params, chunk=_bucket_size(src, txn)))
    except OSError:  # the file vanished: the core's answer reports it
        return resp
    except Exception:  # the encoder refused its parameters (deflateInit2): sent as is
        return resp
    out = compressed_answer(core, txn, headers, encoding, packed, conf, ctype, src,
                            codec, resp.close)
    if out.status == 200 and not out.no_length:
        out.cache = resp.cache  # the file it encodes: the caches may keep it as a variant
    return out


def compressed_answer(core: Handler, txn: Transaction, headers: list[tuple[str, str]],
                      encoding: str | None, packed: Compressed, conf: Settings,
                      ctype: str | None, src: Source, codec: Codec,
                      close: bool) -> Response:
    """The answer with the compressed body: its fields as the filter leaves them, then
    the byterange step over the compressed bytes."""
    if encoding is None or encoding.lower() == "identity":
        set_header(headers, "Content-Encoding", codec.coding)
    else:
        merge_header(headers, "Content-Encoding", codec.coding)
    tag: str | None = None
    kept: list[tuple[str, str]] = []
    for k, v in headers:
        low = k.lower()
        if low in ("content-length", "content-md5", "content-range"):
            continue
        if low == "etag":
            new = altered_etag(v, conf.etag, codec.coding)
            if new is None:
                continue
            tag, v = new, new
        kept.append((k, v))
    if not (packed.streamed and txn.method == "HEAD"):
        # (a HEAD whose header went out before the end stops compressing there, and
        # leaves no notes: deflate_out_filter's header_only && bytes_sent)
        _leave_notes(txn, conf, packed, codec.dash_when_empty)
    body = packed.body
    dc = txn.dirconf
    assert dc is not None  # in_chain found the filter in it
    if packed.streamed:  # httpd sent the header before the end: no length, no ranges
        out = Response(200, kept, ctype, body)
        out.no_length = True
        out.chunked = txn.method != "HEAD" and txn.proto_num >= 1001
        out.close = close or (not out.chunked and txn.method != "HEAD")
        return out
    ranged = _byte_ranges(core, txn, dc, kept, body, ctype, tag, src.mtime)
    if ranged is not None:
        return ranged
    # no Content-Length field yet: httpd's content-length filter adds it after every
    # content filter (mod_headers' included), so the serializer puts it last
    out = Response(200, kept, ctype, body)
    out.length_computed = True
    out.close = close
    return out


def _bucket_size(src: Source, txn: Transaction) -> int:
    """The pieces httpd's filter reads the body in: a file in mmaps of up to 4 MiB
    (8000-byte reads under EnableMMAP Off), a handler's bytes whole."""
    if src.path is None:
        return max(src.size, 1)
    dc = txn.dirconf
    return READ_SIZE if dc is not None and dc.enable_mmap is False else MMAP_LIMIT


def _leave_notes(txn: Transaction, conf: Settings, packed: Compressed, dash: bool) -> None:
    """The filter notes: input bytes, output bytes (deflate: the stream without gzip's
    header and trailer), output*100/input."""
    def count(n: int) -> str:
        return "-" if dash and n == 0 else str(n)

    if conf.note_input:
        txn.notes[conf.note_input.lower()] = count(packed.total_in)
    if conf.note_output:
        txn.notes[conf.note_output.lower()] = count(packed.total_out)
    if conf.note_ratio:
        txn.notes[conf.note_ratio.lower()] = (
            str(packed.total_out * 100 // packed.total_in) if packed.total_in else "-")


def _byte_ranges(core: Handler, txn: Transaction, dc: DirConfig,
                 headers: list[tuple[str, str]], body: bytes, ctype: str | None,
                 tag: str | None, mtime: int) -> Response | None:
    """httpd's byterange filter over the compressed body (None: send all of it)."""
    hd = txn.headers_in
    rng = hd.get("range")
    if rng is None or not C.if_range_ok(hd.get("if-range"), tag, mtime, txn.start_time):
        return None
    size = len(body)
    ranges = S.parse_ranges(rng, size, S.range_limits(dc))
    if ranges == 416:
        # an error page of unknown length: chunked where the connection could stay
        # open (HTTP/1.1, KeepAlive on, no "Connection: close"), else ended by the close
        r = core.error(txn, 416, dirconf=dc)
        req = txn.request
        r.no_length = True
        r.chunked = (txn.proto_num >= 1001 and bool(txn.vhost.keep_alive)
                     and not (req is not None and req.close_token))
        r.close = not r.chunked
        return r
    if not isinstance(ranges, list):
        return None
    if len(ranges) == 1:
        s, e = ranges[0]
        r = Response(206, headers + [("Content-Range", f"bytes {s}-{e}/{size}")], ctype,
                     body[s:e + 1])
        r.length_computed = True
        return r
    boundary = S.new_boundary()
    parts, tail = S.multipart_parts(ranges, size, ctype, boundary)
    data = b"".join(h + body[s:s + n] for h, s, n in parts) + tail
    r = Response(206, list(headers), f"multipart/byteranges; boundary={boundary}", data)
    r.length_computed = True
    return r
