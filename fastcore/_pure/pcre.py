"""Twin of fastcore._pcre through ctypes: the same libpcre2-8.so.0 Apache links, so the
same patterns compile and match the same way (FASTCORE_NO_EXTENSIONS=1 only)."""
from __future__ import annotations

import ctypes
import ctypes.util

CASELESS = 0x00000008
DOLLAR_ENDONLY = 0x00000010
DOTALL = 0x00000020
DUPNAMES = 0x00000040
_ANCHORED = 0x80000000
_INFO_CAPTURECOUNT, _INFO_NAMECOUNT, _INFO_NAMEENTRYSIZE, _INFO_NAMETABLE = 4, 17, 18, 19
_UNSET = ctypes.c_size_t(-1).value
IMPLEMENTATION = "ctypes"


def _load() -> ctypes.CDLL:
    try:
        return ctypes.CDLL("libpcre2-8.so.0")
    except OSError:
        name = ctypes.util.find_library("pcre2-8")
        if name is None:
            raise ImportError("fastcore: libpcre2-8 (PCRE2, as Apache uses) is not installed"
                              ) from None
        return ctypes.CDLL(name)


_lib = _load()
_vp, _sz = ctypes.c_void_p, ctypes.c_size_t
_lib.pcre2_compile_8.restype = _vp
_lib.pcre2_compile_8.argtypes = [ctypes.c_char_p, _sz, ctypes.c_uint32,
                                 ctypes.POINTER(ctypes.c_int), ctypes.POINTER(_sz), _vp]
_lib.pcre2_code_free_8.argtypes = [_vp]
_lib.pcre2_get_error_message_8.argtypes = [ctypes.c_int, ctypes.c_char_p, _sz]
_lib.pcre2_pattern_info_8.argtypes = [_vp, ctypes.c_uint32, _vp]
_lib.pcre2_match_data_create_from_pattern_8.restype = _vp
_lib.pcre2_match_data_create_from_pattern_8.argtypes = [_vp, _vp]
_lib.pcre2_match_data_free_8.argtypes = [_vp]
_lib.pcre2_match_8.argtypes = [_vp, ctypes.c_char_p, _sz, _sz, ctypes.c_uint32, _vp, _vp]
_lib.pcre2_get_ovector_pointer_8.restype = ctypes.POINTER(_sz)
_lib.pcre2_get_ovector_pointer_8.argtypes = [_vp]
_lib.pcre2_get_ovector_count_8.restype = ctypes.c_uint32
_lib.pcre2_get_ovector_count_8.argtypes = [_vp]


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


def error_message(code: int) -> str:
    buf = ctypes.create_string_buffer(256)
    n = _lib.pcre2_get_error_message_8(code, buf, 256)
    return buf.raw[:n].decode("latin-1") if n > 0 else f"PCRE2 error {code}"


def _info(code: int, what: int, ctype: type) -> int:
    out = ctype()
    if _lib.pcre2_pattern_info_8(code, what, ctypes.byref(out)) != 0:
        raise MatchError("pcre2_pattern_info failed")
    return out.value or 0


class Code:
    """One compiled pattern (bytes, no UTF mode: Apache matches bytes)."""

    def __init__(self, pattern: bytes, options: int) -> None:
        self._code = None
        err, off = ctypes.c_int(0), _sz(0)
        code = _lib.pcre2_compile_8(pattern, len(pattern), options, ctypes.byref(err),
                                    ctypes.byref(off), None)
        if not code:
            raise CompileError(error_message(err.value), off.value)
        self._code = code
        self.capture_count = _info(code, _INFO_CAPTURECOUNT, ctypes.c_uint32)
        self.names = self._names(code)

    def _names(self, code: int) -> dict[str, int]:
        count = _info(code, _INFO_NAMECOUNT, ctypes.c_uint32)
        size = _info(code, _INFO_NAMEENTRYSIZE, ctypes.c_uint32)
        table = _info(code, _INFO_NAMETABLE, ctypes.c_void_p)
        raw = ctypes.string_at(table, count * size) if count else b""
        out: dict[str, int] = {}
        for i in range(count):
            entry = raw[i * size:(i + 1) * size]
            out.setdefault(entry[2:].split(b"\0", 1)[0].decode("latin-1"),
                           (entry[0] << 8) | entry[1])
        return out

    def __del__(self) -> None:
        if self._code:
            _lib.pcre2_code_free_8(self._code)

    def exec(self, subject: bytes, anchored: bool = False) -> list[int] | None:
        """Offsets [start0, end0, start1, end1, ...] (-1 for an unset group), or None.
        Match data is per call (ctypes releases the GIL: threads may match at once)."""
        md = _lib.pcre2_match_data_create_from_pattern_8(self._code, None)
        if not md:
            raise MemoryError()
        try:
            rc = _lib.pcre2_match_8(self._code, subject, len(subject), 0,
                                    _ANCHORED if anchored else 0, md, None)
            if rc == -1:
                return None
            if rc < 0:
                raise MatchError(error_message(rc))
            ov = _lib.pcre2_get_ovector_pointer_8(md)
            want = min(self.capture_count + 1, _lib.pcre2_get_ovector_count_8(md))
            out: list[int] = []
            for i in range(want):
                if i < rc and ov[2 * i] != _UNSET:
                    out += [ov[2 * i], ov[2 * i + 1]]
                else:
                    out += [-1, -1]
            return out
        finally:
            _lib.pcre2_match_data_free_8(md)
