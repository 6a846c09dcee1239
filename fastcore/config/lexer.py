"""httpd.conf lexing: logical lines (comments, `\\` continuation) and Apache's word rules.

Mirrors ap_cfg_getline/ap_getword_conf: leading and trailing blanks are dropped, a line
whose first non-blank character is `#` is a comment (a `#` later on a line is an ordinary
argument character, as in Apache), a trailing backslash joins the next physical line, and
words may be quoted with '...' or "..." where `\\<quote>` and `\\\\` are unescaped.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from fastcore.config.errors import error_log_line


@dataclass(frozen=True)
class Line:
    """One logical line: its text and the physical line number where it ends."""

    text: str
    filename: str
    lineno: int


def logical_lines(text: str, filename: str) -> Iterator[Line]:
    """Yield the non-empty, non-comment logical lines of a config file. A continued
    line is numbered by its last physical line, as ap_cfg_getline's counter (Apache's
    errors name that line)."""
    buf: list[str] = []
    n = 0
    for n, raw in enumerate(text.splitlines(), 1):
        piece = raw.strip() if not buf else raw.rstrip()
        if piece.endswith("\\") and not piece.endswith("\\\\"):
            buf.append(piece[:-1])
            continue
        buf.append(piece)
        joined = "".join(buf).strip()
        buf = []
        if joined and not joined.startswith("#"):
            yield Line(joined, filename, n)
    if buf:
        joined = "".join(buf).strip()
        if joined and not joined.startswith("#"):
            yield Line(joined, filename, n)


def read_lines(path: str) -> list[Line]:
    """Read a config file; OSError carries Apache's wording to the caller."""
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        return list(logical_lines(fh.read(), path))


# `\s` and `\S` test Py_UNICODE_ISSPACE, the same predicate as str.isspace (as the
# loops these replace); the lexer is per-character work on every line, and regexes keep
# it in C (the fuzzer measures it: 4x the inputs per second)
_BLANKS = re.compile(r"\s*")
_BARE = re.compile(r"\S*")
# a quoted word runs to its closing quote; a backslash protects the next character, a
# backslash at the very end is content
_QUOTED = {q: re.compile(r"(?:[^\\" + q + r"]+|\\.|\\\Z)*", re.S) for q in "\"'"}
_ESCAPES = {None: re.compile(r"\\(\\)"), '"': re.compile(r'\\([\\"])'),
            "'": re.compile(r"\\([\\'])")}


def _unescape(s: str, quote: str | None) -> str:
    """`\\\\` and `\\<quote>` (inside quotes) lose their backslash, left to right."""
    return _ESCAPES[quote].sub(r"\1", s) if "\\" in s else s


def get_word(s: str, pos: int = 0) -> tuple[str, int]:
    """Return (word, new position) per ap_getword_conf; ("", len) at the end."""
    n = len(s)
    pos = _BLANKS.match(s, pos).end()  # type: ignore[union-attr]  # `*` always matches
    if pos >= n:
        return "", n
    q = s[pos]
    if q in "\"'":
        i = _QUOTED[q].match(s, pos + 1).end()  # type: ignore[union-attr]
        word = _unescape(s[pos + 1:i], q)
        pos = i + 1 if i < n else n
    else:
        i = _BARE.match(s, pos).end()  # type: ignore[union-attr]
        word = _unescape(s[pos:i], None)
        pos = i
    return word, _BLANKS.match(s, pos).end()  # type: ignore[union-attr]


def split_words(s: str) -> list[str]:
    """All words of an argument string."""
    words: list[str] = []
    pos = 0
    while pos < len(s):
        w, pos = get_word(s, pos)
        if w == "" and pos >= len(s) and s[pos - 1:pos] not in ("'", '"'):
            break
        words.append(w)
    return words


_VAR = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


def resolve_vars(s: str, defined: Mapping[str, str], warn: list[str]) -> str:
    """Substitute ${NAME} from Define'd variables, then the environment (as Apache);
    an undefined one is left as is with a warning (AH00111)."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in defined:
            return defined[name]
        if name in os.environ:
            return os.environ[name]
        if ":" in name:  # ap_resolve_env is silent there: ${map:key} of mod_rewrite
            return m.group(0)
        # stamped as httpd's log line on stderr while it reads the configuration
        warn.append(error_log_line("core", "warn",
                                   f"AH00111: Config variable ${{{name}}} is not defined"))
        return m.group(0)

    return _VAR.sub(sub, s) if "${" in s else s
