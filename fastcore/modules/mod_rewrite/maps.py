"""RewriteMap: txt:, rnd:, int: and dbm: maps as mod_rewrite.c reads them (the text file
read per lookup, the DBM file through apr-util's apr_dbm: dbmmap.py; their answers cached
until the file's mtime changes); prg: and dbd: are startup errors (fastcore runs no
external programs and links no DBD)."""
from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from fastcore.config.engine import DirectiveError
from fastcore.core.paths import escape_uri
from fastcore.modules.mod_rewrite import dbmmap

TXT, RND, INT, DBM = "txt", "rnd", "int", "dbm"
MAX_LINE = 1024  # REWRITE_MAX_TXT_MAP_LINE


def _unescape(key: str) -> str:
    """ap_unescape_url as the unescape map calls it: every valid %XX decoded (the
    return code, which refuses %2F and %00, is ignored), a bad escape kept."""
    b = key.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    hexd = b"0123456789abcdefABCDEF"
    while i < len(b):
        if b[i] == 0x25 and i + 2 < len(b) and b[i + 1] in hexd and b[i + 2] in hexd:
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(b[i])
            i += 1
    return out.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


INTERNAL: dict[str, Callable[[str], str]] = {
    "toupper": lambda k: k.upper(),
    "tolower": lambda k: k.lower(),
    "escape": escape_uri,
    "unescape": _unescape,
}


@dataclass(frozen=True)
class RewriteMapSpec:
    """One RewriteMap: its name, kind and file (txt/rnd/dbm) or function (int); a dbm
    map's type and the files apr_dbm says it is made of (sdbm: two)."""

    name: str
    kind: str
    path: str = ""
    func: str = ""
    dbmtype: str = ""
    check: str = ""
    check2: str | None = None

    def files(self) -> tuple[str, ...]:
        """The files whose identity the map's answers depend on."""
        if self.kind == DBM:
            return (self.check,) if self.check2 is None else (self.check, self.check2)
        return (self.path,) if self.path else ()


def parse_map(name: str, spec: str, opts: str | None,
              resolve: Callable[[str], str]) -> RewriteMapSpec:
    """cmd_rewritemap: the map kinds and Apache's messages."""
    low = spec.lower()
    if low.startswith(("txt:", "rnd:")):
        kind, path = low[:3], resolve(spec[4:])
    elif low.startswith("int:"):
        if spec[4:] not in INTERNAL:
            raise DirectiveError(f"RewriteMap: internal map not found:{spec[4:]}")
        return RewriteMapSpec(name, INT, func=spec[4:])
    elif low.startswith(("dbd:", "fastdbd:")):
        raise DirectiveError("RewriteMap types dbd and fastdbd require mod_dbd!")
    elif low.startswith("prg:"):
        raise DirectiveError("RewriteMap: prg: maps (external programs) are not "
                             "supported by fastcore")
    elif low.startswith("dbm"):
        return _parse_dbm(name, spec, resolve)
    else:
        kind, path = TXT, resolve(spec)
    if not os.path.exists(path):
        raise DirectiveError(f"RewriteMap: file for map {name} not found:{path}")
    return RewriteMapSpec(name, kind, path)


def _parse_dbm(name: str, spec: str, resolve: Callable[[str], str]) -> RewriteMapSpec:
    """dbm:FILE (the "default" type) or dbm=TYPE:FILE; the type checked, and the file
    apr_dbm names found, at startup as cmd_rewritemap does."""
    if spec[3:4] == ":":
        dbmtype, fname = "default", spec[4:]
    elif spec[3:4] == "=" and ":" in spec[4:]:
        dbmtype, _, fname = spec[4:].partition(":")
    else:
        raise DirectiveError(f"RewriteMap: bad map:{spec}")
    path = resolve(fname)
    try:
        names = dbmmap.used_names(dbmtype, path)
    except dbmmap.DbmLibraryMissing as exc:
        raise DirectiveError(f"RewriteMap: dbm maps need apr-util's DBM library "
                             f"(Debian package libaprutil1), which cannot be loaded: "
                             f"{exc}") from exc
    if names is None:
        raise DirectiveError(f"RewriteMap: dbm type {dbmtype} is invalid")
    if not os.path.exists(names.first):
        raise DirectiveError(f"RewriteMap: file for map {name} not found:{names.first}")
    return RewriteMapSpec(name, DBM, path, dbmtype=dbmtype, check=names.first,
                          check2=names.second)


class MapCache:
    """The per-process cache of txt/rnd answers, per map, forgotten when the file's
    mtime changes (get_cache_value/set_cache_value); misses are cached as ""."""

    def __init__(self) -> None:
        self._maps: dict[str, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, mtime: float, name: str) -> str | None:
        with self._lock:
            hit = self._maps.get(key)
            if hit is None or hit[0] != mtime:
                return None
            return hit[1].get(name)

    def put(self, key: str, mtime: float, name: str, value: str) -> None:
        with self._lock:
            hit = self._maps.get(key)
            if hit is None or hit[0] != mtime:
                hit = self._maps[key] = (mtime, {})
            hit[1][name] = value


CACHE = MapCache()


def _txt_lookup(path: str, key: str) -> str | None:
    """lookup_map_txtfile: the first line "KEY VALUE" (no comment, no leading space)."""
    try:
        fh = open(path, "rb")
    except OSError:
        return None
    with fh:
        for raw in fh:
            line = raw[:MAX_LINE].decode("latin-1")
            if not line or line[0] == "#" or line[0].isspace():
                continue
            parts = line.split(None, 2)
            if len(parts) < 2 or parts[0] != key:
                continue
            return parts[1]
    return None


def lookup(spec: RewriteMapSpec, key: str, log: Callable[[str, str], None]) -> str | None:
    """lookup_map: the value, or None (then the default applies)."""
    if spec.kind == INT:
        return INTERNAL[spec.func](key)
    if spec.kind == DBM:
        return _dbm_lookup(spec, key, log)
    try:
        mtime = os.stat(spec.path).st_mtime
    except OSError as exc:
        log(f"({exc.errno}){exc.strerror}",
            f"AH00661: mod_rewrite: can't access text RewriteMap file {spec.path}")
        return None
    cache_key = f"{id(spec)}:{spec.name}"
    value = CACHE.get(cache_key, mtime, key)
    if value is None:
        found = _txt_lookup(spec.path, key)
        CACHE.put(cache_key, mtime, key, found or "")
        if found is None:
            return None
        value = found
    if spec.kind == RND and value:
        value = random.choice(value.split("|"))
    return value or None


def _dbm_mtime(spec: RewriteMapSpec, log: Callable[[str, str], None]) -> int | None:
    """The map's mtime as lookup_map takes it: the later of its files' (AH00662/AH00663
    when one cannot be stat()ed, then no look-up)."""
    try:
        mtime = os.stat(spec.check).st_mtime_ns
    except OSError as exc:
        log(f"({exc.errno}){exc.strerror}",
            f"AH00662: mod_rewrite: can't access DBM RewriteMap file {spec.check}")
        return None
    if spec.check2 is not None:
        try:
            mtime = max(mtime, os.stat(spec.check2).st_mtime_ns)
        except OSError as exc:
            log(f"({exc.errno}){exc.strerror}",
                f"AH00663: mod_rewrite: can't access DBM RewriteMap file {spec.check2}")
            return None
    return mtime


def _dbm_lookup(spec: RewriteMapSpec, key: str, log: Callable[[str, str], None]) -> str | None:
    """lookup_map's MAPTYPE_DBM: the cached answer for this mtime, else the file's.  As
    Apache, a value found empty is returned as "" the first time and, cached as a
    miss, as None afterwards."""
    mtime = _dbm_mtime(spec, log)
    if mtime is None:
        return None
    cache_key = f"{id(spec)}:{spec.name}"
    value = CACHE.get(cache_key, mtime, key)
    if value is not None:
        return value or None
    try:
        found = dbmmap.fetch(spec.dbmtype, spec.path,
                             dbmmap.UsedNames(spec.check, spec.check2), key)
    except dbmmap.DbmError as exc:
        log(dbmmap.status_prefix(exc),
            f"AH00656: mod_rewrite: can't open DBM RewriteMap {spec.path}")
        found = None
    CACHE.put(cache_key, mtime, key, found or "")
    return found
