"""RewriteMap dbm: read through apr-util's apr_dbm, the library Apache itself reads them
with (ctypes against libaprutil-1.so.0 and libapr-1.so.0, Debian's libaprutil1), so
every type Apache can read (sdbm, gdbm, db, and "default", which is Debian's db) and
every error it gives are the same.

The libraries are loaded on first use (the RewriteMap line at startup, which asks
apr_dbm_get_usednames_ex for the files a map consists of).  A map's file is opened on
its first look-up in a process (never in the parent before the fork: a handle found
from another pid is dropped unclosed) and reopened when either file's identity changes
(Apache opens it per cache miss; the answers are the same, without the reopen cost).
One lock serialises the calls: ctypes releases the GIL and APR pools are not shared
safely between threads.
"""
from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass

APR = "libapr-1.so.0"
APRUTIL = "libaprutil-1.so.0"
APR_DBM_READONLY = 1
APR_OS_DEFAULT = 0x0FFF
APR_OS_START_EAIERR = 670000  # apr_errno.h on Unix: statuses below print as "(N)"


class DbmLibraryMissing(Exception):
    """libaprutil1 (or libapr1) cannot be loaded."""


class DbmError(Exception):
    """An apr_status_t from apr_dbm: `status` and apr_strerror's text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"({status}){text}")
        self.status = status
        self.text = text


class _Datum(ctypes.Structure):
    _fields_ = [("dptr", ctypes.c_void_p), ("dsize", ctypes.c_size_t)]


@dataclass
class _Lib:
    """The loaded libraries, APR initialised, and a root pool that lives as long."""

    apr: ctypes.CDLL
    util: ctypes.CDLL
    pool: ctypes.c_void_p


_LOCK = threading.Lock()
_LIB: _Lib | None = None


def _declare(apr: ctypes.CDLL, util: ctypes.CDLL) -> None:
    vp, cp, sz, i32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int32
    apr.apr_initialize.restype = ctypes.c_int
    apr.apr_initialize.argtypes = []
    apr.apr_pool_create_ex.restype = ctypes.c_int
    apr.apr_pool_create_ex.argtypes = [ctypes.POINTER(vp), vp, vp, vp]
    apr.apr_pool_destroy.restype = None
    apr.apr_pool_destroy.argtypes = [vp]
    apr.apr_strerror.restype = cp
    apr.apr_strerror.argtypes = [ctypes.c_int, cp, sz]
    util.apr_dbm_open_ex.restype = ctypes.c_int
    util.apr_dbm_open_ex.argtypes = [ctypes.POINTER(vp), cp, cp, i32, ctypes.c_int32, vp]
    util.apr_dbm_fetch.restype = ctypes.c_int
    util.apr_dbm_fetch.argtypes = [vp, _Datum, ctypes.POINTER(_Datum)]
    util.apr_dbm_close.restype = None
    util.apr_dbm_close.argtypes = [vp]
    util.apr_dbm_get_usednames_ex.restype = ctypes.c_int
    util.apr_dbm_get_usednames_ex.argtypes = [vp, cp, cp, ctypes.POINTER(cp),
                                              ctypes.POINTER(cp)]


def _lib() -> _Lib:
    """The libraries, loaded once (call with _LOCK held)."""
    global _LIB
    if _LIB is None:
        try:
            apr = ctypes.CDLL(APR, mode=ctypes.RTLD_GLOBAL)
            util = ctypes.CDLL(APRUTIL, mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            raise DbmLibraryMissing(str(exc)) from exc
        _declare(apr, util)
        if apr.apr_initialize() != 0:
            raise DbmLibraryMissing("apr_initialize failed")
        pool = ctypes.c_void_p()
        if apr.apr_pool_create_ex(ctypes.byref(pool), None, None, None) != 0:
            raise DbmLibraryMissing("apr_pool_create_ex failed")
        _LIB = _Lib(apr, util, pool)
    return _LIB


def _strerror(lib: _Lib, status: int) -> str:
    buf = ctypes.create_string_buffer(256)
    text = lib.apr.apr_strerror(status, buf, len(buf))
    return (text or b"").decode("utf-8", "replace")


def status_prefix(err: DbmError) -> str:
    """ap_log_rerror's "(N)text" for a status (EAI and OS ranges as log.c prints them)."""
    if err.status < APR_OS_START_EAIERR:
        return f"({err.status}){err.text}"
    return f"(EAI {err.status - APR_OS_START_EAIERR}){err.text}"


@dataclass(frozen=True)
class UsedNames:
    """apr_dbm_get_usednames_ex: the file a map is (and sdbm's second one)."""

    first: str
    second: str | None


def used_names(dbmtype: str, path: str) -> UsedNames | None:
    """The files of a `dbmtype` map at `path`; None when the type is not one apr_dbm
    can load (Apache's "dbm type X is invalid")."""
    with _LOCK:
        lib = _lib()
        one, two = ctypes.c_char_p(), ctypes.c_char_p()
        rv = lib.util.apr_dbm_get_usednames_ex(lib.pool, _enc(dbmtype), _enc(path),
                                               ctypes.byref(one), ctypes.byref(two))
        if rv != 0 or one.value is None:
            return None
        return UsedNames(_dec(one.value), _dec(two.value) if two.value else None)


def _enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _dec(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Identity:
    """What says a map's files are the ones opened: (dev, ino, size, mtime, ctime) each."""

    files: tuple[tuple[int, int, int, int, int], ...]


def identity(names: UsedNames) -> Identity | None:
    """The files' identity now; None when one cannot be stat()ed."""
    out = []
    for p in (names.first, names.second):
        if p is None:
            continue
        try:
            st = os.stat(p)
        except OSError:
            return None
        out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return Identity(tuple(out))


@dataclass
class _Handle:
    """An open map: the process that opened it, the files' identity then, its pool."""

    pid: int
    ident: Identity
    dbm: ctypes.c_void_p
    pool: ctypes.c_void_p


_HANDLES: dict[tuple[str, str], _Handle] = {}


def fetch(dbmtype: str, path: str, names: UsedNames, key: str) -> str | None:
    """lookup_map_dbmfile: the value stored under `key` (None: no such key), from the
    process's handle on the map, (re)opened as the module docstring says.  Raises
    DbmError when apr_dbm_open_ex refuses the file (Apache's AH00656)."""
    ident = identity(names)
    with _LOCK:
        lib = _lib()
        h = _HANDLES.get((dbmtype, path))
        if h is not None and (h.pid != os.getpid() or h.ident != ident):
            if h.pid == os.getpid():
                _close(lib, h)
            del _HANDLES[(dbmtype, path)]
            h = None
        if h is None:
            h = _open(lib, dbmtype, path, ident)
            if ident is None:  # vanished between the stat and the open: not kept
                try:
                    return _fetch(lib, h.dbm, key)
                finally:
                    _close(lib, h)
            _HANDLES[(dbmtype, path)] = h
        return _fetch(lib, h.dbm, key)


def _open(lib: _Lib, dbmtype: str, path: str, ident: Identity | None) -> _Handle:
    """apr_dbm_open_ex read-only, in a pool of its own (freed by _close)."""
    pool = ctypes.c_void_p()
    rv = lib.apr.apr_pool_create_ex(ctypes.byref(pool), lib.pool, None, None)
    if rv != 0:
        raise DbmError(rv, _strerror(lib, rv))
    dbm = ctypes.c_void_p()
    rv = lib.util.apr_dbm_open_ex(ctypes.byref(dbm), _enc(dbmtype), _enc(path),
                                  APR_DBM_READONLY, APR_OS_DEFAULT, pool)
    if rv != 0:
        lib.apr.apr_pool_destroy(pool)
        raise DbmError(rv, _strerror(lib, rv))
    return _Handle(os.getpid(), ident or Identity(()), dbm, pool)


def _close(lib: _Lib, h: _Handle) -> None:
    lib.util.apr_dbm_close(h.dbm)
    lib.apr.apr_pool_destroy(h.pool)


def _fetch(lib: _Lib, dbm: ctypes.c_void_p, key: str) -> str | None:
    raw = _enc(key).split(b"\0", 1)[0]  # dbmkey.dsize = strlen(key)
    kbuf = ctypes.create_string_buffer(raw, len(raw))
    k = _Datum(ctypes.cast(kbuf, ctypes.c_void_p), len(raw))
    v = _Datum()
    if lib.util.apr_dbm_fetch(dbm, k, ctypes.byref(v)) != 0 or not v.dptr:
        return None
    # the value is the driver's memory until the next call: copied now (apr_pstrmemdup);
    # a NUL inside ends it, as the C string Apache goes on with
    data = ctypes.string_at(v.dptr, v.dsize).split(b"\0", 1)[0]
    return _dec(data)


def close_all() -> None:
    """Close this process's handles (tests; a reopen follows on the next look-up)."""
    with _LOCK:
        if _LIB is None:
            return
        for h in _HANDLES.values():
            if h.pid == os.getpid():
                _close(_LIB, h)
        _HANDLES.clear()
