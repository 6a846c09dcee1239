# cython: language_level=3
"""Send an HTTP response head and a file range with the fewest syscalls, without the GIL.

Strategies (docs/bench/send.md has the measurements behind "auto"):
  writev     header + body in one sendmsg (body in memory, or an mmap of the file range)
  sendfile   send(header, MSG_MORE) then sendfile()
  cork       TCP_CORK on, send(header), sendfile(), TCP_CORK off (Apache 2.4 on Linux)
  readwrite  pread() into a buffer, header + buffer in one sendmsg (EnableSendfile Off
             and EnableMMAP Off)
  auto       body in memory: writev; file range < 16 KiB: readwrite; larger: sendfile
Resuming a partial write: see `resume()`.
"""
import errno as _errno
import os as _os

from libc.stdint cimport int64_t
from posix.types cimport off_t
from fastcore._tls cimport fc_tls_g, shared_table

STRATEGIES = ("writev", "sendfile", "cork", "readwrite")
AUTO_SENDFILE_MIN = FC_AUTO_SENDFILE_MIN
SECONDS_TO_LINGER = 2.0
MAX_SECS_TO_LINGER = 30.0


class TruncatedFileError(OSError):
    """The file ended before offset+count: the promised body cannot be completed."""


cdef int _strategy(str name) except -1:
    if name == "auto":
        return FC_S_AUTO
    if name == "writev":
        return FC_S_WRITEV
    if name == "sendfile":
        return FC_S_SENDFILE
    if name == "cork":
        return FC_S_CORK
    if name == "readwrite":
        return FC_S_READWRITE
    raise ValueError(f"unknown send strategy {name!r}; one of auto, {', '.join(STRATEGIES)}")


cdef ssize_t send_response_c(int fd, const char *hdr, size_t hlen, int file_fd, off_t offset,
                             size_t count, int strategy, const char *body,
                             size_t blen) noexcept nogil:
    return fc_send_response(fd, hdr, hlen, file_fd, offset, count, strategy, body, blen)


cdef int lingering_close_c(int fd, int wait_ms, int max_ms) noexcept nogil:
    return fc_lingering_close(fd, wait_ms, max_ms)


cdef const char *date_header_c(size_t *length) noexcept nogil:
    return fc_date_header(length)


cdef object _raise(ssize_t rc):
    cdef int e = <int>-rc
    if e == FC_ETRUNC:
        raise TruncatedFileError(e, "file shorter than the requested range")
    if e == _errno.EAGAIN:
        raise BlockingIOError(e, _os.strerror(e))
    if e == _errno.EPIPE:
        raise BrokenPipeError(e, _os.strerror(e))
    if e == _errno.ECONNRESET:
        raise ConnectionResetError(e, _os.strerror(e))
    raise OSError(e, _os.strerror(e))


def send_response(int fd, header, int file_fd, long long offset, long long count,
                  str strategy="auto", body=None) -> int:
    """Send header + file[offset:offset+count] (or header + body); return bytes written.

    May be partial on a non-blocking socket; BlockingIOError only when nothing was written.
    """
    cdef int strat = _strategy(strategy)
    cdef const unsigned char[::1] hv = header
    cdef const unsigned char[::1] bv
    cdef const char *hp = NULL
    cdef const char *bp = NULL
    cdef size_t hlen = hv.shape[0], blen = 0
    cdef ssize_t rc
    if offset < 0 or count < 0:
        raise ValueError("offset and count must be >= 0")
    if hlen:
        hp = <const char *>&hv[0]
    if body is not None:
        bv = body
        blen = bv.shape[0]
        bp = <const char *>&bv[0] if blen else <const char *>""
    with nogil:
        rc = fc_send_response(fd, hp, hlen, file_fd, <off_t>offset, <size_t>count, strat, bp, blen)
    if rc < 0:
        _raise(rc)
    return rc


def resume(header, long long offset, long long count, long long sent, body=None):
    """Arguments for the next send_response() call after `sent` bytes went out.

    Returns (header_rest, offset, count, body_rest); body_rest is None for file ranges.
    """
    cdef long long h = len(header)
    if sent <= h:
        return header[sent:], offset, count, body
    cdef long long b = sent - h
    if body is not None:
        return b"", offset, count, body[b:]
    return b"", offset + b, count - b, None


def lingering_close(int fd, double timeout=SECONDS_TO_LINGER,
                    double max_time=MAX_SECS_TO_LINGER) -> None:
    """shutdown(SHUT_WR), drain with poll waits of `timeout` s (at most `max_time` s), close."""
    cdef int rc
    cdef int wait_ms = <int>(timeout * 1000), max_ms = <int>(max_time * 1000)
    with nogil:
        rc = fc_lingering_close(fd, wait_ms, max_ms)
    if rc < 0:
        _raise(rc)


def http_date(double t) -> bytes:
    """RFC 7231 IMF-fixdate of epoch seconds t, e.g. b'Sun, 06 Nov 1994 08:49:37 GMT'."""
    cdef char out[32]
    cdef int64_t sec = <int64_t>t
    if t < 0 and <double>sec != t:
        sec -= 1  # floor, as time.gmtime does for negative fractions
    if fc_http_date(sec, out) < 0:
        raise OverflowError("date out of range for an HTTP date")
    return out[:29]


def date_header() -> bytes:
    """b'Date: <now>\\r\\n', rebuilt at most once per second."""
    cdef size_t n = 0
    cdef const char *p = fc_date_header(&n)
    return p[:n]


def bench_send(str strategy, header, int file_fd, long long count, long n, body=None,
               int cpu_send=-1, int cpu_read=-1) -> float:
    """ns per response for n responses sent in a C loop over a loopback TCP pair."""
    cdef int strat = _strategy(strategy), ok = 0
    cdef const unsigned char[::1] hv = header
    cdef const unsigned char[::1] bv
    cdef const char *bp = NULL
    cdef double ns
    if body is not None:
        bv = body
        bp = <const char *>&bv[0]
        count = bv.shape[0]
    with nogil:
        ns = fc_bench_send(strat, <const char *>&hv[0], hv.shape[0], file_fd, <size_t>count,
                           bp, n, cpu_send, cpu_read, &ok)
    if ns < 0:
        _raise(<ssize_t>ns)
    if not ok:
        raise RuntimeError("benchmark reader did not receive every byte")
    return ns


# mod_ssl: this extension's shims (src/fc_tls.h) see the process's TLS sessions
fc_tls_g = shared_table()
