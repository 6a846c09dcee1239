# cython: language_level=3
"""HTTP/1.x request-head parser with Apache 2.4's strict rules (see fc_request.h).

The scan runs in C without the GIL and without Python objects; objects are built only for
a complete, valid head.  parse_head() returns None while the head is incomplete, unless the
bytes already buffered prove a limit is exceeded (then HeadError at once).
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DecodeLatin1

cdef extern from "fc_token.h" nogil:
    int fc_find_token(const unsigned char *v, size_t n, const char *tok, size_t toklen)

cdef enum:
    STACK_FIELDS = 128

fc_request_init()


class HeadError(Exception):
    """A malformed or oversized request head: answer `status` (400, 414) and close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


cdef class RequestHead:
    """A parsed request head: request line parts, header fields as sent, bytes consumed."""

    def __repr__(self) -> str:
        return (f"RequestHead({self.method!r}, {self.target!r}, {self.version!r}, "
                f"{len(self.headers)} headers, head_len={self.head_len})")

    def get(self, str name_lower, default=None):
        """Value of a header (case-insensitive); repeated fields joined with ', '."""
        return self.index().get(name_lower.lower(), default)

    cpdef dict index(self):
        """{lower-case name: value} with repeated fields joined by ', ' (built once, in C;
        the caller may keep it: http.request uses it as Request.headers)."""
        cdef dict idx
        cdef str key, value
        cdef tuple nv
        if self._index is None:
            idx = {}
            for nv in self.headers:
                key = (<str>nv[0]).lower()
                value = <str>nv[1]
                if key in idx:
                    idx[key] = <str>idx[key] + ", " + value
                else:
                    idx[key] = value
            self._index = idx
        return self._index


cdef str _folded(str raw):
    """A folded value's lines joined by one space (CRLF folds, or Unsafe's LF ones).  Only
    a line's terminating CR goes: Unsafe keeps a CR that is content, as the twin and Apache
    do (differential fuzzing found " \\r" at a fold's start cut here)."""
    cdef list parts = raw.split("\n")
    cdef Py_ssize_t i, last = len(parts) - 1
    for i in range(last):
        if (<str>parts[i]).endswith("\r"):
            parts[i] = (<str>parts[i])[:-1]
    return " ".join([(<str>p).strip(" \t") for p in parts])


cdef inline str _s(const unsigned char *b, fc_span sp):
    return PyUnicode_DecodeLatin1(<const char *>b + sp.off, sp.len, NULL)


cdef RequestHead _build(const unsigned char *b, fc_head *h, fc_field *f):
    cdef RequestHead r = RequestHead.__new__(RequestHead)
    cdef int i
    cdef list hs = []
    cdef str v
    r.method = _s(b, h.method)
    r.target = _s(b, h.target)
    if h.proto_num == 9:
        r.version = "HTTP/0.9"
    else:
        r.version = _s(b, h.version)
        if not r.version.startswith("HTTP/"):  # Unsafe took "http/" in another case
            r.version = "HTTP/" + r.version[5:]
    r.proto_num = h.proto_num
    r.head_len = h.head_len
    for i in range(h.nfields):
        v = _s(b, f[i].value)
        if f[i].folded:
            v = _folded(v)
        hs.append((_s(b, f[i].name), v))
    r.headers = hs
    return r


cdef object _parse(const unsigned char[::1] view, long limit_line, long limit_fields,
                   long limit_field_size, int strict=1):
    cdef fc_head h
    cdef fc_field stack_fields[STACK_FIELDS]
    cdef fc_field *fields = stack_fields
    cdef int cap = STACK_FIELDS, rc = 0
    cdef size_t n = view.shape[0]
    cdef const unsigned char *b = &view[0] if n else <const unsigned char *>""
    try:
        while True:
            with nogil:
                rc = fc_parse_head_ex(b, n, limit_line, limit_fields, limit_field_size, &h,
                                      fields, cap, strict)
            if rc != -2:
                break
            if fields != stack_fields:
                PyMem_Free(fields)
            cap *= 4
            fields = <fc_field *>PyMem_Malloc(cap * sizeof(fc_field))
            if fields == NULL:
                raise MemoryError()
        if rc == 0:
            return None
        if rc < 0:
            raise HeadError(h.status, h.reason.decode("ascii"))
        return _build(b, &h, fields)
    finally:
        if fields != stack_fields:
            PyMem_Free(fields)


def find_token(value, str tok) -> bool:
    """Apache's ap_find_token over a header value (str or bytes): does some token of it,
    split at every non-token byte, match the lower-case word `tok` case-insensitively as
    a prefix ("keep" finds keep-alive)?  The C matcher the engine uses (fc_token.h)."""
    cdef bytes raw = value.encode("latin-1", "replace") if isinstance(value, str) else bytes(value)
    cdef bytes word = tok.encode("ascii")
    return fc_find_token(<const unsigned char *>raw, len(raw), <const char *>word, len(word)) != 0


def parse_head(buf, long limit_line=8190, long limit_fields=100,
               long limit_field_size=8190, bint strict=True):
    """Parse the request head at the start of buf; None if incomplete; HeadError if bad.
    strict=False reads it as HttpProtocolOptions Unsafe does."""
    cdef const unsigned char[::1] view = buf
    return _parse(view, limit_line, limit_fields, limit_field_size, strict)


def bench_parse(buf, long n) -> float:
    """ns per parse of buf, n scans in a C loop without the GIL (objects built once)."""
    cdef const unsigned char[::1] view = buf
    cdef fc_head h
    cdef fc_field fields[STACK_FIELDS]
    cdef long i
    cdef int rc = 0
    cdef size_t ln = view.shape[0]
    cdef double t0, t1
    import time
    t0 = time.perf_counter_ns()
    with nogil:
        for i in range(n):
            rc = fc_parse_head(&view[0], ln, 8190, 100, 8190, &h, fields, STACK_FIELDS)
    t1 = time.perf_counter_ns()
    if rc != 1:
        raise ValueError("benchmark input is not a complete valid head")
    return (t1 - t0) / n


def bench_parse_full(buf, long n) -> float:
    """ns per parse_head() call including building the Python result objects."""
    cdef const unsigned char[::1] view = buf
    cdef long i
    import time
    t0 = time.perf_counter_ns()
    for i in range(n):
        _parse(view, 8190, 100, 8190)
    return (time.perf_counter_ns() - t0) / n
