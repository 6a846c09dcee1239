"""RewriteMap: txt:, rnd: and int: maps as mod_rewrite.c reads them (the text file read
per lookup and its answers cached until the file's mtime changes); prg:, dbm: and dbd:
are startup errors (fastcore runs no external programs and links no DBM/DBD)."""
from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from fastcore.config.engine import DirectiveError
from fastcore.core.paths import escape_uri

TXT, RND, INT = "txt", "rnd", "int"
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
    """One RewriteMap: its name, kind and file (txt/rnd) or function (int)."""

    name: str
    kind: str
    path: str = ""
    func: str = ""


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
        raise DirectiveError("RewriteMap: dbm maps are not supported by fastcore")
    else:
        kind, path = TXT, resolve(spec)
    if not os.path.exists(path):
        raise DirectiveError(f"RewriteMap: file for map {name} not found:{path}")
    return RewriteMapSpec(name, kind, path)


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


def lookup(spec: RewriteMapSpec, key: str, log: Callable[[str], None]) -> str | None:
    """lookup_map: the value, or None (then the default applies)."""
    if spec.kind == INT:
        return INTERNAL[spec.func](key)
    try:
        mtime = os.stat(spec.path).st_mtime
    except OSError as exc:
        log(f"(2){exc.strerror}: AH00661: mod_rewrite: can't access text RewriteMap file "
            f"{spec.path}")
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
