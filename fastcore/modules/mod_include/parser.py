"""The SSI tokenizer: send_parsed_content's state machine (mod_include.c) over a whole
document.  A document is text with `START name [arg[=value]]... END` elements; this
module finds them exactly where httpd's parser does, including its lenient and odd
corners, and leaves executing them to elements.py.

Text here is byte text (one code point per byte, latin-1), so every comparison sees
the document's bytes.

- the element name runs to the first whitespace or to the end sequence, whichever
  comes first (`<!--#printenv-->` is printenv), lower-cased;
- an argument name runs to whitespace or '=', lower-cased; a value is quoted with
  ", ' or ` (a backslash before the quote escapes it, any other backslash stays) or
  runs to the next whitespace (so an unquoted value swallows an adjacent end sequence);
- a value without a name, or a name that is empty, marks the element as an error;
- text after a start sequence that never reaches an end sequence is an unfinished
  element (AH01372 at the end of the document).
"""
from __future__ import annotations

from dataclasses import dataclass, field

QUOTES = "\"'`"
SPACE = " \t\n\r\f\v"  # apr_isspace


@dataclass
class Arg:
    """One name[=value]; name None: a value without a name; value None: no '='."""

    name: str | None
    value: str | None


@dataclass
class Element:
    """One parsed element: its lower-case name, its arguments in order, and whether
    the parser already found it broken (httpd's intern->error)."""

    name: str
    args: list[Arg] = field(default_factory=list)
    error: str | None = None  # the message to log (AH01368/AH01369/AH01370)


@dataclass
class Unfinished:
    """A start sequence whose element never ended (the document ran out)."""


Piece = str | Element | Unfinished


def _skip_space(data: str, i: int) -> int:
    n = len(data)
    while i < n and data[i] in SPACE:
        i += 1
    return i


def tokenize(data: str, start: str, end: str) -> list[Piece]:
    """The document as text pieces and elements, in order."""
    out: list[Piece] = []
    pos = 0
    n = len(data)
    while pos <= n:
        i = data.find(start, pos)
        if i < 0:
            if pos < n:
                out.append(data[pos:])
            break
        if i > pos:
            out.append(data[pos:i])
        el, pos = _element(data, i + len(start), end)
        if el is None:
            out.append(Unfinished())
            break
        out.append(el)
    return out


def _element(data: str, j: int, end: str) -> tuple[Element | None, int]:
    """One element from just after the start sequence: (element, position after its
    end sequence), or (None, len) when the document ends inside it."""
    n = len(data)
    k = j
    while k < n and data[k] not in SPACE:
        if data.startswith(end, k):
            name = data[j:k].lower()
            el = Element(name)
            if not name:
                el.error = "AH01368"
            return el, k + len(end)
        k += 1
    if k >= n:
        return None, n
    name = data[j:k].lower()
    el = Element(name)
    if not name:
        el.error = "AH01368"
    p = k
    while True:
        p = _skip_space(data, p)
        if p >= n:
            return None, n
        if data[p] == end[0] and data.startswith(end, p):
            return el, p + len(end)
        if data[p] == end[0] and end.startswith(data[p:]):
            return None, n  # a partial end sequence at the very end
        arg, p = _argument(data, p, el)
        if arg is None:
            return None, n
        el.args.append(arg)


def _argument(data: str, p: int, el: Element) -> tuple[Arg | None, int]:
    """name[=value] at p (not whitespace): the argument and the position after it;
    (None, len) when the document ends inside it."""
    n = len(data)
    if data[p] in QUOTES:  # a value without a name
        if el.error is None:
            el.error = "AH01369"
        return _value(data, p + 1, data[p], None)
    q = p
    while q < n and data[q] not in SPACE and data[q] != "=":
        q += 1
    if q >= n:
        return None, n
    name = data[p:q].lower()
    if not name and el.error is None:
        el.error = "AH01370"
    q = _skip_space(data, q)
    if q >= n:
        return None, n
    if data[q] != "=":
        return Arg(name, None), q
    q = _skip_space(data, q + 1)
    if q >= n:
        return None, n
    if data[q] in QUOTES:
        return _value(data, q + 1, data[q], name)
    return _value(data, q, "", name)


def _value(data: str, p: int, quote: str, name: str | None) -> tuple[Arg | None, int]:
    """A value from p to its closing quote (or whitespace when unquoted); a backslash
    before the quote character escapes it."""
    n = len(data)
    out: list[str] = []
    i = p
    while i < n:
        c = data[i]
        if quote and c == "\\" and i + 1 < n and data[i + 1] == quote:
            out.append(quote)
            i += 2
            continue
        if quote and c == "\\" and i + 1 >= n:
            return None, n
        if (quote and c == quote) or (not quote and c in SPACE):
            return Arg(name, "".join(out)), i + 1
        out.append(c)
        i += 1
    return None, n
