"""MIME lookups as mod_mime does them: TypesConfig + AddType/ForceType/AddCharset/
AddLanguage/AddEncoding, resolved from every extension of a file name.

The TypesConfig file is read once (at startup); per-directory directives come from the
merged DirConfig.  Results are memoized per (filename, dirconf identity), so the hot path
pays one dict lookup.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from fastcore.config.model import DirConfig
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.phases import DECLINED, OK, TYPE_CHECKER, Hook, HookResult
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

_HERE = os.path.dirname(__file__)
# fastcore's own table (package data), used when TypesConfig and /etc/mime.types are absent.
SHIPPED_TYPES = (os.path.join(_HERE, os.pardir, "config", "mime.types"),)

def read_types_config(path: str) -> dict[str, str]:
    """Parse a mime.types file: `type ext ext ...` lines, '#' comments."""
    table: dict[str, str] = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if len(words) < 2:
                continue
            ctype = words[0].lower()
            for ext in words[1:]:
                table[ext.lower()] = ctype
    return table


def normalize_type(ctype: str) -> str:
    """mod_mime rebuilds a type that carries parameters from its parsed parts:
    `text/html;level=3` is sent as `text/html; level=3` (attribute names lower-cased)."""
    if ";" not in ctype:
        return ctype
    parts = [p.strip() for p in ctype.split(";")]
    out = [parts[0]]
    for p in parts[1:]:
        if not p:
            continue
        attr, eq, val = p.partition("=")
        out.append(f"{attr.strip().lower()}{eq}{val.strip()}")
    return "; ".join(out)


def with_default_charset(ctype: str | None, dirconf: DirConfig | None) -> str | None:
    """AddDefaultCharset, as core's ap_make_content_type applies it to every response:
    `; charset=NAME` is appended to a Content-Type that contains text/plain or text/html
    and no charset= (both tested as case-insensitive substrings, as Apache does)."""
    name = dirconf.add_default_charset if dirconf is not None else None
    if not name or not ctype:
        return ctype
    low = ctype.lower()
    if "charset=" in low or ("text/plain" not in low and "text/html" not in low):
        return ctype
    return f"{ctype}; charset={name}"


class MimeMap:
    """Compiled TypesConfig plus dirconf-aware lookup (Apache mod_mime semantics)."""

    def __init__(self, types_config_path: str | None = None) -> None:
        path = types_config_path or "/etc/mime.types"
        table: dict[str, str] | None = None
        for candidate in (path, "/etc/mime.types", *SHIPPED_TYPES):
            try:
                table = read_types_config(candidate)
                break
            except OSError:
                continue
        self.types: dict[str, str] = table if table is not None else {}
        self._memo: dict[tuple[str, int], tuple[str | None, str | None, str | None, str | None]] = {}

    def lookup(self, filename: str, dirconf: DirConfig | None
               ) -> tuple[str | None, str | None, str | None, str | None]:
        """(content_type, charset, language, encoding) for a file name.

        As mod_mime: every dot-separated extension after the first component is looked at
        left to right; a later type/charset/encoding wins, languages accumulate (first is
        used here). ForceType overrides the type; DefaultType is not applied (2.4 ignores it
        except `none`), so an unknown extension gives None."""
        key = (filename, id(dirconf))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        dc = dirconf or DirConfig()
        base = os.path.basename(filename)
        exts = base.split(".")[1:]
        ctype = charset = language = encoding = None
        removed = dc.remove_type or frozenset()
        for ext in exts:
            e = ext.lower()
            t = dc.add_type.get(e) if e not in removed else None
            if t is None and e not in removed:
                t = self.types.get(e)
            if t is not None:
                ctype = normalize_type(t)
            if e in dc.add_language:
                if language is None:
                    language = dc.add_language[e]
            if e in dc.add_encoding:
                encoding = dc.add_encoding[e]
            if e in dc.add_charset:
                charset = dc.add_charset[e].lower()
        if dc.force_type and dc.force_type.lower() != "none":
            ctype = dc.force_type
        if language is None and dc.default_language:
            language = dc.default_language
        result = (ctype, charset, language, encoding)
        if len(self._memo) > 4096:
            self._memo.clear()
        self._memo[key] = result
        return result

    def content_type_header(self, filename: str, dirconf: DirConfig | None) -> str | None:
        """The Content-Type value Apache sends: type plus `; charset=` from AddCharset."""
        ctype, charset, _lang, _enc = self.lookup(filename, dirconf)
        if ctype is None:
            return None
        if charset and "charset=" not in ctype.lower():
            return f"{ctype}; charset={charset}"
        return ctype


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """mod_mime's share in a cached answer: Content-Language before the Connection field,
    Content-Type (with AddDefaultCharset) after it.  An encoded file is not cacheable: the
    Content-Encoding spelling follows the request's Accept-Encoding (gzip or x-gzip)."""
    if served is None:
        return NOTHING
    if served.enc:
        return NOT_CACHEABLE
    ctype = with_default_charset(served.ctype, dc)
    lang = b"Content-Language: " + served.lang.encode("latin-1") + b"\r\n" if served.lang else b""
    line = b"Content-Type: " + ctype.encode("latin-1") + b"\r\n" if ctype else b""
    return Contribution(head=lang, tail=line, content_type=ctype)



def handler_for(filename: str, dc: DirConfig) -> str | None:
    """The handler a file gets: SetHandler, else the last extension AddHandler names."""
    if dc.set_handler and dc.set_handler.lower() != "none":
        return dc.set_handler
    base = os.path.basename(filename)
    for ext in reversed(base.split(".")[1:]):
        h = dc.add_handler.get(ext.lower())
        if h:
            return h
    return None


def type_checker(core: Handler, txn: Transaction) -> HookResult:
    """r->handler from SetHandler/AddHandler (DECLINED when none names one)."""
    walk, dc = txn.walk, txn.dirconf
    if walk is None or dc is None:
        return DECLINED
    name = handler_for(walk.filename, dc)
    if name is None:
        return DECLINED
    txn.handler_name = name
    return OK


HOOKS = (Hook(TYPE_CHECKER, type_checker, always=True),)
MODULE = ModuleSpec("mime_module", hooks=HOOKS, cache_contribution=cache_contribution)
