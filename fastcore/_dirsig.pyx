# cython: language_level=3
"""A cached listing's revalidation (src/fc_dirsig.h): one lstat per entry, no GIL.
Twin: fastcore/_pure/dirsig.py (encode is shared from it)."""
from fastcore._pure.dirsig import encode  # noqa: F401 - the spec format is the twin's


cdef extern from "fc_dirsig.h" nogil:
    int fc_dirsig_ok(const char *dir, const unsigned char *spec, size_t len)


def stats_ok(bytes dirname, bytes spec):
    """True when every entry of `spec` (encode's) still stats as recorded."""
    cdef const char *d = dirname
    cdef const unsigned char *s = spec
    cdef size_t n = len(spec)
    cdef int r
    if b"\0" in dirname:
        return False
    with nogil:
        r = fc_dirsig_ok(d, s, n)
    return r == 1
