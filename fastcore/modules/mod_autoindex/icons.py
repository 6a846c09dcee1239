"""Icon, alt-text and description lookup for mod_autoindex listings.

AddIcon/AddIconByType/AddIconByEncoding, AddAlt*, DefaultIcon, AddDescription and
ScanHTMLTitles, with mod_autoindex's matching rules: items are tried in order (the
deeper scope's first, then the directives in file order) and the first match wins;
a by-name pattern without wildcards matches as a suffix ("*" is put before it); by-type
items apply only to a file without a content encoding and by-encoding items only to
one with; directories use names only (then ^^DIRECTORY^^), the parent entry the
path "<dir>/..".
"""
from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastcore.modules.mod_autoindex.config import AutoindexDir

BY_PATH, BY_TYPE, BY_ENCODING = "path", "type", "encoding"
MAX_STRING_LEN = 8192


def strcmp_match(s: str, pattern: str, fold: bool = False) -> bool:
    """ap_strcmp_match / ap_strcasecmp_match: '*' (any run, '/' included) and '?'."""
    if fold:
        s, pattern = s.lower(), pattern.lower()
    return _compiled(pattern)(s) is not None


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """The match function of a strcmp_match pattern ('[' is literal), compiled once:
    a listing matches every entry against the same few dozen patterns."""
    return re.compile(fnmatch.translate(pattern.replace("[", "[[]"))).match


@functools.lru_cache(maxsize=1024)
def match_test(pattern: str) -> Callable[[str], bool]:
    """strcmp_match(s, pattern) as a function of s, made once per pattern: "*" and a
    literal (how AddIcon/AddAlt store a file name or extension) is a suffix test."""
    rest = pattern[1:]
    if _suffix_form(pattern):
        return lambda s: s.endswith(rest)
    match = _compiled(pattern)
    return lambda s: match(s) is not None


def any_match(patterns: list[str]) -> Callable[[str], bool]:
    """Whether any of `patterns` strcmp_matches a string, as one test: the "*literal"
    ones as one endswith, the others as one alternation."""
    suffixes = tuple(p[1:] for p in patterns if _suffix_form(p))
    others = [p for p in patterns if not _suffix_form(p)]
    rx = re.compile("|".join(fnmatch.translate(p.replace("[", "[[]")) for p in others)).match \
        if others else None

    def test(s: str) -> bool:
        return bool(suffixes) and s.endswith(suffixes) or rx is not None and rx(s) is not None
    return test


def _suffix_form(pattern: str) -> bool:
    rest = pattern[1:]
    return pattern.startswith("*") and not _is_matchexp(rest) and "[" not in rest


def _is_matchexp(s: str) -> bool:
    return "*" in s or "?" in s


def _is_fnmatch(s: str) -> bool:
    """apr_is_fnmatch: '*', '?' or a bracket expression ('[' ... ']')."""
    if "*" in s or "?" in s:
        return True
    i = s.find("[")
    return i >= 0 and "]" in s[i + 1:]


@dataclass(frozen=True)
class Item:
    """One pushed icon/alt item: how it matches (`kind`), what (`to`), and its data."""

    kind: str
    to: str
    data: str


def _to(kind: str, to: str) -> str:
    if kind == BY_PATH:
        if to == "**DIRECTORY**":
            to = "^^DIRECTORY^^"
        if not _is_matchexp(to):
            to = "*" + to
    elif kind == BY_ENCODING:
        to = to.lower()
    return to


def _split_icon(icon: str) -> tuple[str | None, str]:
    """(alt, url) of an AddIcon argument: "(ALT,/url)" carries an alt text."""
    if not icon.startswith("("):
        return None, icon
    cl = icon.find(")")
    if cl < 0:
        return None, icon  # the config layer rejects this ("missing closing paren")
    comma = icon.find(",")
    if comma < 0:
        return icon[1:cl], ""
    if comma > cl:
        return icon[1:cl], icon[comma + 1:]
    return icon[1:comma], icon[comma + 1:cl]


class Lookup:
    """The icon, alt and description lists of one directory's merged settings.

    mod_autoindex keeps one list for all AddIcon* directives and one for all AddAlt*
    (an "(ALT,/url)" icon also adds an alt), in directive order; the config layer
    records that order in "icon_items"/"alt_items" ((kind, first argument, targets...)
    per directive).  Without those, the per-directive keys are read in turn."""

    def __init__(self, ai: AutoindexDir) -> None:
        self.icons: list[Item] = []
        self.alts: list[Item] = []
        icon_dirs = _ordered(ai.icon_items)
        alt_dirs = _ordered(ai.alt_items)
        for kind, first, tos in icon_dirs:
            _alt, url = _split_icon(first)  # its alt is in alt_items (config.AutoindexDir)
            for to in tos:
                self.icons.append(Item(kind, _to(kind, to), url))
        for kind, first, tos in alt_dirs:
            for to in tos:
                self.alts.append(Item(kind, _to(kind, to), first))
        self.descs: list[tuple[str, str, bool, bool]] = []
        for d in ai.add_description:
            for to in d[1:]:
                full = "/" in to
                wild = full or _is_fnmatch(to)
                pat = (("*/" if full else "*") + to + "*") if wild else to
                self.descs.append((pat, d[0], full, wild))
        self.default_icon = ai.default_icon or None

    def find(self, items: list[Item], path: str, ctype: str | None, enc: str | None,
             path_only: bool) -> str | None:
        """find_item: the first item matching the entry's path, type or encoding."""
        special = path.startswith("^")
        folded = None
        for it in items:
            if not it.to:
                return it.data
            if it.kind == BY_PATH or special:
                if match_test(it.to)(path):
                    return it.data
            elif not path_only:
                if enc is None:
                    if it.kind == BY_TYPE and ctype:
                        if folded is None:
                            folded = ctype.lower()
                        if match_test(it.to.lower())(folded):
                            return it.data
                elif it.kind == BY_ENCODING and strcmp_match(enc, it.to, True):
                    return it.data
        return None

    def icon(self, path: str, ctype: str | None = None, enc: str | None = None,
             path_only: bool = False) -> str | None:
        return self.find(self.icons, path, ctype, enc, path_only)

    def alt(self, path: str, ctype: str | None = None, enc: str | None = None,
            path_only: bool = False) -> str | None:
        return self.find(self.alts, path, ctype, enc, path_only)

    def desc(self, full: str) -> str | None:
        """find_desc: the first AddDescription whose pattern matches (a plain pattern
        is a substring of the file name; one with '/' is matched on the full path)."""
        only = full.rsplit("/", 1)[-1]
        for pat, text, use_full, wild in self.descs:
            name = full if use_full else only
            if wild:
                if fnmatch.fnmatchcase(name, pat.replace("[!", "[\\!")
                                       if "[!" in pat else pat):
                    return text
            elif pat in name:
                return text
        return None


def _ordered(items: tuple[tuple[str, ...], ...]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(kind, first argument, targets) per directive, in mod_autoindex's list order."""
    return [(d[0], d[1], d[2:]) for d in items]



def find_title(path: str, ctype: str | None, enc: str | None) -> bytes | None:
    """ScanHTMLTitles (find_title): the text after the first <title> in the first
    8191 bytes of an HTML file without content encoding, up to the next '<', line
    breaks turned into spaces (a break right at the start is skipped)."""
    if not ctype or enc is not None:
        return None
    base = ctype.split(";", 1)[0].strip().lower()
    if base not in ("text/html", "application/xhtml+xml", "text/x-server-parsed-html"):
        return None
    try:
        with open(path, "rb") as f:
            buf = f.read(MAX_STRING_LEN - 1)
    except OSError:
        return None
    if not buf:
        return None
    z = buf.find(b"\0")
    if z >= 0:
        buf = buf[:z]
    find = b"<title>"
    p = 0
    x = 0
    while x < len(buf):
        c = buf[x]
        if (c + 32 if 65 <= c <= 90 else c) == find[p]:
            p += 1
            if p == len(find):
                x += 1
                rest = bytearray(buf[x:])
                lt = rest.find(b"<")
                if lt >= 0:
                    del rest[lt:]
                start = 0
                for y in range(len(rest)):
                    if rest[y] in (13, 10):
                        if y == start:
                            start += 1
                        else:
                            rest[y] = 32
                return bytes(rest[start:])
        else:
            p = 0
        x += 1
    return None
