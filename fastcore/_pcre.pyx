# cython: language_level=3
"""PCRE2 (the 8-bit library Apache links, libpcre2-8.so.0) for the configuration's regexes.

Declared here without pcre2.h (only the runtime library is needed to build): the symbols
carry the _8 suffix of the 8-bit code unit width.  Matching releases the GIL.  The API is
shared with the ctypes twin fastcore/_pure/pcre.py: Code(pattern, options) compiles or
raises CompileError; Code.exec(subject, anchored) returns the ovector or None.
"""
from libc.stdint cimport uint8_t, uint32_t

cdef extern from "fc_pcre.h":
    ctypedef struct pcre2_code_8:
        pass
    ctypedef struct pcre2_match_data_8:
        pass
    pcre2_code_8 *pcre2_compile_8(const uint8_t *pattern, size_t length, uint32_t options,
                                  int *errorcode, size_t *erroroffset, void *ccontext) nogil
    void pcre2_code_free_8(pcre2_code_8 *code) nogil
    int pcre2_get_error_message_8(int errorcode, uint8_t *buffer, size_t bufflen) nogil
    int pcre2_pattern_info_8(const pcre2_code_8 *code, uint32_t what, void *where) nogil
    pcre2_match_data_8 *pcre2_match_data_create_from_pattern_8(const pcre2_code_8 *code,
                                                               void *gcontext) nogil
    void pcre2_match_data_free_8(pcre2_match_data_8 *match_data) nogil
    int pcre2_match_8(const pcre2_code_8 *code, const uint8_t *subject, size_t length,
                      size_t startoffset, uint32_t options, pcre2_match_data_8 *match_data,
                      void *mcontext) nogil
    size_t *pcre2_get_ovector_pointer_8(pcre2_match_data_8 *match_data) nogil
    uint32_t pcre2_get_ovector_count_8(pcre2_match_data_8 *match_data) nogil

# Values of pcre2.h (stable ABI since 10.0).
CASELESS = 0x00000008
DOLLAR_ENDONLY = 0x00000010
DOTALL = 0x00000020
DUPNAMES = 0x00000040
cdef uint32_t ANCHORED = 0x80000000u
cdef uint32_t INFO_CAPTURECOUNT = 4
cdef uint32_t INFO_NAMECOUNT = 17
cdef uint32_t INFO_NAMEENTRYSIZE = 18
cdef uint32_t INFO_NAMETABLE = 19
cdef size_t UNSET = <size_t>-1
IMPLEMENTATION = "cython"


class CompileError(Exception):
    """pcre2_compile refused the pattern: PCRE2's message and the offset it stopped at."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, offset)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return f"{self.message} at offset {self.offset}"


class MatchError(Exception):
    """pcre2_match failed for a reason other than no match (e.g. a match limit)."""


def error_message(int code):
    cdef uint8_t buf[256]
    cdef int n = pcre2_get_error_message_8(code, buf, sizeof(buf))
    return (<bytes>buf[:n]).decode("latin-1") if n > 0 else f"PCRE2 error {code}"


cdef class Code:
    """One compiled pattern (bytes, no UTF mode: Apache matches bytes)."""

    cdef pcre2_code_8 *code
    cdef readonly int capture_count
    cdef readonly dict names

    def __cinit__(self, bytes pattern, uint32_t options):
        cdef int err = 0
        cdef size_t off = 0
        cdef const uint8_t *p = pattern
        cdef size_t n = len(pattern)
        with nogil:
            self.code = pcre2_compile_8(p, n, options, &err, &off, NULL)
        if self.code == NULL:
            raise CompileError(error_message(err), off)
        cdef uint32_t count = 0
        if pcre2_pattern_info_8(self.code, INFO_CAPTURECOUNT, &count) != 0:
            raise MatchError("pcre2_pattern_info failed")
        self.capture_count = count
        self.names = self._names()

    cdef dict _names(self):
        cdef uint32_t count = 0, size = 0
        cdef const uint8_t *table = NULL
        out = {}
        if (pcre2_pattern_info_8(self.code, INFO_NAMECOUNT, &count) != 0
                or pcre2_pattern_info_8(self.code, INFO_NAMEENTRYSIZE, &size) != 0
                or pcre2_pattern_info_8(self.code, INFO_NAMETABLE, &table) != 0):
            raise MatchError("pcre2_pattern_info failed")
        cdef uint32_t i, end
        cdef const uint8_t *entry
        for i in range(count):
            entry = table + i * size
            end = 2
            while end < size and entry[end] != 0:
                end += 1
            out.setdefault((<bytes>entry[2:end]).decode("latin-1"), (entry[0] << 8) | entry[1])
        return out

    def __dealloc__(self):
        if self.code != NULL:
            pcre2_code_free_8(self.code)

    def exec(self, bytes subject, bint anchored=False):
        """Offsets [start0, end0, start1, end1, ...] (-1 for an unset group), or None.
        Match data is per call: threads of one process share the compiled patterns."""
        cdef const uint8_t *s = subject
        cdef size_t n = len(subject)
        cdef uint32_t opts = ANCHORED if anchored else 0
        cdef int rc
        cdef pcre2_match_data_8 *md = pcre2_match_data_create_from_pattern_8(self.code, NULL)
        if md == NULL:
            raise MemoryError()
        cdef size_t *ov
        cdef uint32_t pairs, want, i
        try:
            with nogil:
                rc = pcre2_match_8(self.code, s, n, 0, opts, md, NULL)
            if rc == -1:
                return None
            if rc < 0:
                raise MatchError(error_message(rc))
            ov = pcre2_get_ovector_pointer_8(md)
            pairs = pcre2_get_ovector_count_8(md)
            want = self.capture_count + 1
            if want > pairs:
                want = pairs
            out = []
            for i in range(want):
                if i < <uint32_t>rc and ov[2 * i] != UNSET:
                    out.append(<Py_ssize_t>ov[2 * i])
                    out.append(<Py_ssize_t>ov[2 * i + 1])
                else:
                    out.append(-1)
                    out.append(-1)
            return out
        finally:
            pcre2_match_data_free_8(md)
