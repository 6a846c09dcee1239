"""The string work of mod_include: variable substitution (ap_ssi_parse_string), the
encodings and decodings of echo/set, entity decoding (decodehtml), dates (ap_ht_time)
and sizes (apr_strfsize / the comma-grouped byte count).  All on byte text."""
from __future__ import annotations

import time
from collections.abc import Callable

from fastcore.core.expr import values as V
from fastcore.core.tokens import is_digits
from fastcore.modules.mod_autoindex.fancy import strfsize

__all__ = ["strfsize"]

Lookup = Callable[[str], "str | None"]
Log = Callable[[str, str], None]

_ENTITIES = {
    "lt": "<", "gt": ">", "amp": "&", "ETH": "\xd0", "eth": "\xf0", "quot": '"',
    "Auml": "\xc4", "Euml": "\xcb", "Iuml": "\xcf", "Ouml": "\xd6", "Uuml": "\xdc",
    "auml": "\xe4", "euml": "\xeb", "iuml": "\xef", "ouml": "\xf6", "uuml": "\xfc",
    "yuml": "\xff", "Acirc": "\xc2", "Aring": "\xc5", "AElig": "\xc6", "Ecirc": "\xca",
    "Icirc": "\xce", "Ocirc": "\xd4", "Ucirc": "\xdb", "THORN": "\xde", "szlig": "\xdf",
    "acirc": "\xe2", "aring": "\xe5", "aelig": "\xe6", "ecirc": "\xea", "icirc": "\xee",
    "ocirc": "\xf4", "ucirc": "\xfb", "thorn": "\xfe", "Agrave": "\xc0", "Aacute": "\xc1",
    "Atilde": "\xc3", "Ccedil": "\xc7", "Egrave": "\xc8", "Eacute": "\xc9",
    "Igrave": "\xcc", "Iacute": "\xcd", "Ntilde": "\xd1", "Ograve": "\xd2",
    "Oacute": "\xd3", "Otilde": "\xd5", "Oslash": "\xd8", "Ugrave": "\xd9",
    "Uacute": "\xda", "Yacute": "\xdd", "agrave": "\xe0", "aacute": "\xe1",
    "atilde": "\xe3", "ccedil": "\xe7", "egrave": "\xe8", "eacute": "\xe9",
    "igrave": "\xec", "iacute": "\xed", "ntilde": "\xf1", "ograve": "\xf2",
    "oacute": "\xf3", "otilde": "\xf5", "oslash": "\xf8", "ugrave": "\xf9",
    "uacute": "\xfa", "yacute": "\xfd",
}
_SHELL = set("&;`'\"|*?~<>^()[]{}$\\\n\xff")
_URLENCODED_SAFE = set(".-*_ ")


def cstr(s: str) -> str:
    """A C string's view: everything up to a NUL."""
    return s.split("\0", 1)[0]


def decode_entities(s: str) -> str:
    """decodehtml: &name; for the Latin-1 entities, &#NNN; for printable code points;
    an unknown entity stays, a numeric one outside that range disappears."""
    if "&" not in s:
        return s
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c != "&":
            out.append(c)
            i += 1
            continue
        end = s.find(";", i + 1)
        if end < 0:
            out.append(c)
            i += 1
            continue
        body = s[i + 1:end]
        if body.startswith("#"):
            digits = body[1:]
            j = 0
            val = 0
            while j < len(digits) and digits[j].isascii() and is_digits(digits[j]):
                val = val * 10 + int(digits[j])
                j += 1
            if not (j < len(digits) or val <= 8 or 11 <= val <= 31 or 127 <= val <= 160
                    or val >= 256):
                out.append(chr(val))
            i = end + 1
            continue
        rep = _ENTITIES.get(body) if len(body) <= 6 else None
        if rep is None:
            out.append("&")
            i += 1
            continue
        out.append(rep)
        i = end + 1
    return cstr("".join(out))


def escape_html(s: str) -> str:
    """ap_escape_html2(s, 0): & < > and the double quote."""
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def escape_urlencoded(s: str) -> str:
    """ap_escape_urlencoded: space as '+', alphanumerics and .-*_ kept, the rest %xx."""
    out = []
    for c in s:
        if c == " ":
            out.append("+")
        elif (c.isascii() and c.isalnum()) or c in _URLENCODED_SAFE:
            out.append(c)
        else:
            out.append(f"%{ord(c):02x}")
    return "".join(out)


def unescape_url(s: str, plus: bool = False) -> str:
    """ap_unescape_url (plus: ap_unescape_urlencoded, '+' as space first): every valid
    %XX decoded, a bad escape left as it is; the result is a C string."""
    if plus:
        s = s.replace("+", " ")
    out: list[str] = []
    i, n = 0, len(s)
    hexd = "0123456789abcdefABCDEF"
    while i < n:
        if s[i] == "%" and i + 2 < n and s[i + 1] in hexd and s[i + 2] in hexd:
            out.append(chr(int(s[i + 1:i + 3], 16)))
            i += 3
            continue
        out.append(s[i])
        i += 1
    return cstr("".join(out))


def escape_shell(s: str) -> str:
    """ap_escape_shell_cmd: a backslash before each shell metacharacter."""
    return "".join("\\" + c if c in _SHELL else c for c in s)


def decode(token: str, s: str) -> str | None:
    """One `decoding=` token applied; None: an unknown token."""
    t = token.lower()
    if t == "none":
        return s
    if t == "url":
        return unescape_url(s)
    if t == "urlencoded":
        return unescape_url(s, plus=True)
    if t == "entity":
        return decode_entities(s)
    if t == "base64":
        return V.b64decode(s)
    return None


def encode(token: str, s: str) -> str | None:
    """One `encoding=` token applied; None: an unknown token."""
    t = token.lower()
    if t == "none":
        return s
    if t == "url":
        return V.escape(s)
    if t == "urlencoded":
        return escape_urlencoded(s)
    if t == "entity":
        return escape_html(s)
    if t == "base64":
        return V.b64encode(s)
    return None


def tokens(spec: str) -> list[str]:
    """apr_strtok over ", \\t"."""
    out: list[str] = []
    cur = ""
    for c in spec:
        if c in ", \t":
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += c
    if cur:
        out.append(cur)
    return out


def substitute(s: str, lookup: Lookup, missing_brace: Callable[[str], None]) -> str:
    """ap_ssi_parse_string(SSI_EXPAND_DROP_NAME): $name and ${name} replaced by the
    variable (an undefined one by nothing), \\$ is a literal $; an unclosed ${ stops
    the expansion there (AH01331)."""
    if "$" not in s and "\\" not in s:
        return s
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            if i + 1 < n and s[i + 1] == "$":
                out.append("$")
                i += 2
            else:
                out.append("\\")
                i += 1
            continue
        if c != "$":
            out.append(c)
            i += 1
            continue
        key = None
        nxt = i + 1
        if i + 1 < n and s[i + 1] == "{":
            close = s.find("}", i + 2)
            if close < 0:
                missing_brace(s[i + 2:])
                break
            if close > i + 2:
                key = s[i + 2:close]
                nxt = close + 1
        else:
            j = i + 1
            while j < n and (s[j] == "_" or (s[j].isascii() and s[j].isalnum())):
                j += 1
            if j > i + 1:
                key = s[i + 1:j]
                nxt = j
        if key is None:
            out.append("$")
            i += 1
            continue
        val = lookup(key)
        if val:
            out.append(val)
        i = nxt
    return "".join(out)


def ht_time(t: float, fmt: str, gmt: bool) -> str:
    """ap_ht_time: strftime in local time, or in GMT with %Z as "GMT" and %z as
    "+0000"."""
    if gmt:
        parts = []
        i = 0
        while i < len(fmt):
            if fmt[i] == "%" and i + 1 < len(fmt):
                nx = fmt[i + 1]
                parts.append("GMT" if nx == "Z" else "+0000" if nx == "z" else fmt[i:i + 2])
                i += 2
                continue
            parts.append(fmt[i])
            i += 1
        fmt = "".join(parts)
    try:
        return time.strftime(fmt, time.gmtime(t) if gmt else time.localtime(t))
    except (ValueError, UnicodeError):
        return ""


def size_bytes(size: int) -> str:
    """sizefmt=bytes: the decimal size with a comma every three digits."""
    return f"{size:,}"
