"""Accept-Encoding as mod_deflate (and mod_brotli) read it: the rule the Python path uses
(mod_deflate/filter.py) and the twin of the engine's src/fc_vary.h, which picks an
entry's encoded variant per hit.  tests/core/test_vary_parity.py holds the two equal over
a generated corpus."""
from __future__ import annotations

from collections.abc import Sequence

from fastcore.core.tokens import get_token

UNDECIDED = -2  # the engine leaves the request to the Python path
IDENTITY = -1   # no variant: the answer for a client that accepts none


def accepts_coding(value: str | None, coding: str) -> bool:
    """mod_deflate's reading of Accept-Encoding: the first token spelled `coding` (any
    case; x-gzip is not gzip), refused only by a first parameter that is a prefix of
    "q=0.000" at least three characters long."""
    if value is None:
        return False
    token, pos = get_token(value, 0, False)
    n = len(value)
    while token and token.lower() != coding:
        while pos < n and value[pos] == ";":
            _, pos = get_token(value, pos + 1, True)
        if pos < n and value[pos] == ",":
            pos += 1
        if pos >= n:
            return False
        token, pos = get_token(value, pos, False)
    if not token:
        return False
    if pos < n:
        while pos < n and value[pos] == ";":
            pos += 1
        q, _ = get_token(value, pos, True)
        if len(q) >= 3 and "q=0.000".startswith(q):
            return False
    return True


def engine_accepts(value: bytes, coding: bytes) -> bool | None:
    """The engine's reading (fc_accepts_coding): accepts_coding, or None for a value
    with a byte outside printable ASCII and tab (Python's blanks differ from
    ap_get_token's there, so the engine hands such a request to the Python path)."""
    if any((b < 0x20 and b != 0x09) or b >= 0x7F for b in value):
        return None
    return accepts_coding(value.decode("ascii"), coding.decode("ascii"))


def pick(codings: Sequence[bytes], values: Sequence[bytes]) -> int:
    """fc_vary_pick: which variant answers a head whose Accept-Encoding fields are
    `values` (in order): the first coding accepted, IDENTITY, or UNDECIDED (several
    fields, or a value the engine does not read)."""
    if not values:
        return IDENTITY
    if len(values) > 1:
        return UNDECIDED
    for i, coding in enumerate(codings):
        ok = engine_accepts(values[0], coding)
        if ok is None:
            return UNDECIDED
        if ok:
            return i
    return IDENTITY
