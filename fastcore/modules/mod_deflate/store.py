"""The compressed bytes of static files (gzip for DEFLATE, br for mod_brotli), compressed
once per process.

Keyed by the file's identity (path, inode, size, mtime_ns, ctime_ns) and the zlib parameters, so
a changed file is compressed again and an unchanged one never is.  Bounded by bytes: the
least recently used entries go first.  Each worker process has its own store (nothing
is shared across fork but what the parent compressed before it).
"""
from __future__ import annotations

import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, replace

from fastcore.modules.mod_deflate.streaming import MMAP_LIMIT, brotli_streams, gzip_streams

# deflate_out_filter's gzip header: magic, deflate, no flags, no mtime, no extra flags,
# OS_CODE 3 (Unix) as httpd builds it on Unix
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
MAX_STORE_BYTES = 64 << 20
MAX_FILE_BYTES = 16 << 20  # larger files are compressed per request, not kept


@dataclass(frozen=True, slots=True)
class Compressed:
    """A gzip body as mod_deflate writes it, with the zlib stream's totals (the
    DeflateFilterNote values: input bytes, deflate output bytes without header and
    trailer)."""

    body: bytes
    total_in: int
    total_out: int
    # httpd's filter would have passed part of it on before the end (streaming.py)
    streamed: bool = False


@dataclass(frozen=True, slots=True)
class Params:
    """The coding and its encoder's parameters (gzip: level, window bits, memory level;
    br: quality, window, input block)."""

    coding: str
    level: int
    window_bits: int
    mem_level: int
    buffer_size: int = 8096      # DeflateBufferSize
    chunk: int = MMAP_LIMIT       # the buckets httpd reads the body in


@dataclass(frozen=True, slots=True)
class FileKey:
    path: str
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int  # with mtime_ns: a same-size rewrite within one mtime tick is seen
    params: Params


def brotli_bytes(data: bytes, p: Params) -> Compressed:
    """Brotli of `data` as mod_brotli's encoder makes it (generic mode)."""
    import brotli  # a runtime dependency, imported where the coding is used

    out = brotli.compress(data, mode=brotli.MODE_GENERIC, quality=p.level,
                          lgwin=p.window_bits, lgblock=p.mem_level)
    return Compressed(out, len(data), len(out))


def encode(data: bytes, p: Params) -> Compressed:
    """The body in coding p.coding, with whether httpd would have streamed it."""
    if p.coding == "br":
        out = brotli_bytes(data, p)
        streamed = brotli_streams(data, p.level, p.window_bits, p.mem_level, p.chunk)
    else:
        out = gzip_bytes(data, p)
        streamed = gzip_streams(data, p.level, p.window_bits, p.mem_level, p.buffer_size,
                                p.chunk)
    return replace(out, streamed=streamed) if streamed else out


def gzip_bytes(data: bytes, p: Params) -> Compressed:
    """gzip of `data` with a raw deflate stream, as mod_deflate does (zlib.error when
    zlib refuses the parameters, deflateInit2's failure)."""
    c = zlib.compressobj(p.level, zlib.DEFLATED, -p.window_bits, p.mem_level,
                         zlib.Z_DEFAULT_STRATEGY)
    raw = c.compress(data) + c.flush(zlib.Z_FINISH)
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return Compressed(GZIP_HEADER + raw + trailer, len(data), len(raw))


class Store:
    """A bounded LRU of compressed files (thread-safe: worker threads share it)."""

    def __init__(self, limit: int = MAX_STORE_BYTES) -> None:
        self.limit = limit
        self.used = 0
        self._items: OrderedDict[FileKey, Compressed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: FileKey) -> Compressed | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: FileKey, value: Compressed) -> None:
        size = len(value.body)
        if size > self.limit:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= len(old.body)
            self._items[key] = value
            self.used += size
            while self.used > self.limit:
                _, gone = self._items.popitem(last=False)
                self.used -= len(gone.body)

    def __len__(self) -> int:
        return len(self._items)


STORE = Store()


def compressed_file(path: str, ino: int, size: int, mtime_ns: int, ctime_ns: int,
                    p: Params, read: bytes | None = None) -> Compressed:
    """The gzip of a file, from the store when this identity was compressed before.
    OSError when the file cannot be read."""
    key = FileKey(path, ino, size, mtime_ns, ctime_ns, p)
    hit = STORE.get(key)
    if hit is not None:
        return hit
    if read is None:
        with open(path, "rb") as f:
            read = f.read(size)
    out = encode(read, p)
    if size <= MAX_FILE_BYTES and len(read) == size:
        STORE.put(key, out)
    return out
