"""Whether httpd's compression filter would have passed part of the body down the chain
before the end: then its answer has no Content-Length (chunked for HTTP/1.1, ended by
the close for HTTP/1.0), a HEAD states no length, and the byterange filter (which
only works on a whole response in one brigade) leaves a Range request's answer whole.

deflate_out_filter passes its buffer on when zlib filled the DeflateBufferSize output
buffer while input of the current bucket remains; whether that happens depends on how
zlib consumes input and emits blocks, so it is found by running exactly that loop over
the same zlib (the system's libz, the one Apache and Python's zlib use) through ctypes,
with the buckets httpd reads a file in (one mmap of up to 4 MiB each, EnableMMAP on;
8000-byte reads with it off).  mod_brotli passes whenever the encoder has output while
processing input: the binding's Compressor.process shows that.  Each file identity is
checked once (the store keeps the answer with the compressed bytes).
"""
from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache

MMAP_LIMIT = 4 << 20        # APR_MMAP_LIMIT: the largest piece apr mmaps at once
READ_SIZE = 8000            # APR_BUCKET_BUFF_SIZE: a file bucket's read without mmap
Z_DEFLATED = 8
Z_NO_FLUSH = 0
Z_OK = 0


class ZStream(ctypes.Structure):
    """zlib's z_stream (zlib.h), as deflateInit2_ checks by its size."""

    _fields_ = [("next_in", ctypes.c_void_p), ("avail_in", ctypes.c_uint),
                ("total_in", ctypes.c_ulong), ("next_out", ctypes.c_void_p),
                ("avail_out", ctypes.c_uint), ("total_out", ctypes.c_ulong),
                ("msg", ctypes.c_char_p), ("state", ctypes.c_void_p),
                ("zalloc", ctypes.c_void_p), ("zfree", ctypes.c_void_p),
                ("opaque", ctypes.c_void_p), ("data_type", ctypes.c_int),
                ("adler", ctypes.c_ulong), ("reserved", ctypes.c_ulong)]


@cache
def _libz() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("z")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.zlibVersion.restype = ctypes.c_char_p
    return lib


def gzip_streams(data: bytes, level: int, window_bits: int, mem_level: int,
                 buffer_size: int, chunk: int) -> bool:
    """deflate_out_filter's loop over `data` read in `chunk`-byte buckets: True when it
    would pass a full buffer on before the end (False also when libz is not found:
    the whole answer then has a length, as it does for most files)."""
    lib = _libz()
    if lib is None:
        return False
    s = ZStream()
    rc = lib.deflateInit2_(ctypes.byref(s), level, Z_DEFLATED, -window_bits, mem_level, 0,
                           lib.zlibVersion(), ctypes.sizeof(s))
    if rc != Z_OK:
        return False
    out = ctypes.create_string_buffer(buffer_size)
    src = ctypes.create_string_buffer(data, len(data))
    base = ctypes.addressof(src)
    s.next_out = ctypes.addressof(out)
    s.avail_out = buffer_size
    try:
        for off in range(0, len(data), chunk):
            s.next_in = base + off
            s.avail_in = min(chunk, len(data) - off)
            while s.avail_in != 0:
                if s.avail_out == 0:
                    return True
                if lib.deflate(ctypes.byref(s), Z_NO_FLUSH) != Z_OK:
                    return False
        return False
    finally:
        lib.deflateEnd(ctypes.byref(s))


def brotli_streams(data: bytes, quality: int, lgwin: int, lgblock: int, chunk: int) -> bool:
    """mod_brotli's process_chunk over `data`: True when the encoder has output before
    the final flush (each such output is passed on at once)."""
    import brotli

    enc = brotli.Compressor(quality=quality, lgwin=lgwin, lgblock=lgblock)
    return any(enc.process(data[off:off + chunk]) for off in range(0, len(data), chunk))
