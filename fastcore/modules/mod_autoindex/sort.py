"""Entry ordering for mod_autoindex listings: apr_strnatcmp (VersionSort), the
case-folding and byte-wise tie-breaks, and dsortf's column keys (name, date, size,
description), so that listings come out in exactly Apache's order."""
from __future__ import annotations

import functools
import os
import re
from typing import Any


def _signed(b: int) -> int:
    return b - 256 if b >= 128 else b


def _isdigit(b: int) -> bool:
    return 48 <= b <= 57


def _isspace(b: int) -> bool:
    return b in (9, 10, 11, 12, 13, 32)


def _upper(s: bytes) -> bytes:
    """ASCII toupper, as apr_strnatcasecmp folds the bytes it compares."""
    return s.upper() if s.isascii() else bytes(c - 32 if 97 <= c <= 122 else c for c in s)


def strnatcmp(a: bytes, b: bytes, fold_case: bool = False) -> int:
    """apr_strnatcmp (apr_strnatcasecmp with fold_case): digit runs compare by value,
    other bytes as (signed) C chars.  Listings sort thousands of names with it, so the
    common prefix is skipped first: the comparison restarts at the digit run holding
    the first difference, which is where the full scan would be at that point."""
    if fold_case:
        a, b = _upper(a), _upper(b)
    if a == b:
        return 0
    j = len(os.path.commonprefix((a, b)))
    while j > 0 and 48 <= a[j - 1] <= 57:
        j -= 1
    return strnatcmp_full(a[j:], b[j:]) if j else strnatcmp_full(a, b)


def strnatcmp_full(a: bytes, b: bytes, fold_case: bool = False) -> int:
    """apr_strnatcmp, scanning both strings from the start."""
    ai = bi = 0
    la, lb = len(a), len(b)

    def at(s: bytes, i: int) -> int:
        return s[i] if i < len(s) else 0

    while True:
        ca, cb = at(a, ai), at(b, bi)
        while ca and _isspace(ca):
            ai += 1
            ca = at(a, ai)
        while cb and _isspace(cb):
            bi += 1
            cb = at(b, bi)
        if _isdigit(ca) and _isdigit(cb):
            if ca == 48 or cb == 48:
                r = _compare_left(a, ai, b, bi)
            else:
                r = _compare_right(a, ai, b, bi)
            if r:
                return r
        if not ca and not cb:
            return 0
        if fold_case:
            ca = ca - 32 if 97 <= ca <= 122 else ca
            cb = cb - 32 if 97 <= cb <= 122 else cb
        sa, sb = _signed(ca), _signed(cb)
        if sa < sb:
            return -1
        if sa > sb:
            return 1
        ai += 1
        bi += 1
        if ai > la and bi > lb:
            return 0


def _compare_right(a: bytes, ai: int, b: bytes, bi: int) -> int:
    bias = 0
    while True:
        ca = a[ai] if ai < len(a) else 0
        cb = b[bi] if bi < len(b) else 0
        da, db = _isdigit(ca), _isdigit(cb)
        if not da and not db:
            return bias
        if not da:
            return -1
        if not db:
            return 1
        if ca < cb and not bias:
            bias = -1
        elif ca > cb and not bias:
            bias = 1
        ai += 1
        bi += 1


def _compare_left(a: bytes, ai: int, b: bytes, bi: int) -> int:
    while True:
        ca = a[ai] if ai < len(a) else 0
        cb = b[bi] if bi < len(b) else 0
        da, db = _isdigit(ca), _isdigit(cb)
        if not da and not db:
            return 0
        if not da:
            return -1
        if not db:
            return 1
        if ca < cb:
            return -1
        if ca > cb:
            return 1
        ai += 1
        bi += 1


def names_cmp(x: bytes, y: bytes, version: bool, ignore_case: bool) -> int:
    """dsortf's name comparison: natural order first (VersionSort), then case-folded
    (IgnoreCase), then strcmp, so equal-looking names still sort deterministically."""
    r = 0
    if version:
        if ignore_case:
            r = strnatcmp(x, y, True)
        if not r:
            r = strnatcmp(x, y)
    if not r and ignore_case:
        xl, yl = x.lower(), y.lower()
        r = (xl > yl) - (xl < yl)
    if not r:
        r = (x > y) - (x < y)
    return r


def _bytes_cmp(x: bytes, y: bytes) -> int:
    """strcmp on C strings: the comparison stops at the first NUL."""
    return (x > y) - (x < y)


_SPACE_OR_ZERO_RUN = re.compile(rb"[\t\n\v\f\r ]|(?<![0-9])0")
_RUN = re.compile(rb"[0-9]+")
_SIGNED = bytes(b ^ 0x80 for b in range(256))  # signed-char order as unsigned bytes


def _run(m: re.Match[bytes]) -> bytes:
    tok = m.group()
    return b"0" + bytes((len(tok),)) + tok


def natural_key(s: bytes) -> bytes | None:
    """A sort key that orders as apr_strnatcmp, or None where no key can: names with
    white space (skipped by the comparison) or a digit run starting with 0 (compared
    as a fraction against any other run), or over 127 bytes.  Without those,
    apr_strnatcmp compares digit runs by (length, digits), other bytes as signed
    chars, and a digit run against another byte as its first digit, which no other
    byte equals.  So a run becomes "0", its length and its digits; every byte is then
    mapped to b ^ 0x80 (signed order; lengths under 128 keep theirs) and the C
    string's NUL ends the key as 0x80."""
    if len(s) > 127 or _SPACE_OR_ZERO_RUN.search(s):
        return None
    return _RUN.sub(_run, s).translate(_SIGNED) + b"\x80"


def _sorted_by_keys(ents: list[Any], keyid: str, direction: str, version: bool
                    ) -> list[Any] | None:
    """dsortf's order through sort keys (no IgnoreCase), or None when a name (or a
    description, for C=D under VersionSort) has no natural_key."""
    names: list[Any] = []
    for e in ents:
        k = natural_key(e.raw) if version else b""
        if k is None:
            return None
        names.append((k, e.raw))
    cols: list[Any]
    if keyid == "M":
        cols = [e.lm for e in ents]
    elif keyid == "S":
        cols = [e.size for e in ents]
    elif keyid == "D":
        cols = []
        for e in ents:
            d = e.desc or b""
            k = natural_key(d) if version else d
            if k is None:
                return None
            cols.append(k)
    else:
        cols = [0] * len(ents)
    order = sorted(range(len(ents)), key=lambda i: (cols[i], names[i]),
                   reverse=direction != "A")
    # FoldersFirst is not reversed by O=D (a stable sort keeps the order within)
    order.sort(key=lambda i: not ents[i].isdir)
    return [ents[i] for i in order]


def sort_entries(ents: list[Any], keyid: str, direction: str, version: bool,
                 ignore_case: bool) -> None:
    """Sort in place as dsortf: FoldersFirst directories first, then the key column
    (M: mtime, S: size, D: description), then the name; descending swaps the pair.
    Sort keys where they give the same order (no IgnoreCase: _sorted_by_keys), else
    the comparison function itself."""
    if not ignore_case:
        by_keys = _sorted_by_keys(ents, keyid, direction, version)
        if by_keys is not None:
            ents[:] = by_keys
            return
    sort_by_cmp(ents, keyid, direction, version, ignore_case)


def sort_by_cmp(ents: list[Any], keyid: str, direction: str, version: bool,
                ignore_case: bool) -> None:
    """dsortf as a comparison function (any names, any options)."""
    def cmp(e1: Any, e2: Any) -> int:
        if e1.isdir != e2.isdir:
            return -1 if e1.isdir else 1
        c1, c2 = (e1, e2) if direction == "A" else (e2, e1)
        if keyid == "M" and c1.lm != c2.lm:
            return 1 if c1.lm > c2.lm else -1
        if keyid == "S" and c1.size != c2.size:
            return 1 if c1.size > c2.size else -1
        if keyid == "D":
            d1, d2 = c1.desc or b"", c2.desc or b""
            r = strnatcmp(d1, d2) if version else _bytes_cmp(d1, d2)
            if r:
                return r
        return names_cmp(c1.raw, c2.raw, version, ignore_case)

    ents.sort(key=functools.cmp_to_key(cmp))


