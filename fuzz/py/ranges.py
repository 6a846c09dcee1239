#!/usr/bin/env python3
"""Fuzz target: Range parsing (fastcore/core/static.py parse_ranges, Python only).  Any
header against any size: None, 416, or merged ranges inside the body, in order, with no
more bytes than the body."""
from __future__ import annotations

try:
    import _common
except ImportError:
    from . import _common

with _common.instrument(__name__):
    from fastcore.core.static import RangeLimits, parse_ranges



def test_one_input(data: bytes) -> None:
    if len(data) < 3:
        return
    size = int.from_bytes(data[:3], "little") >> (data[0] & 15)
    limits = RangeLimits(None, None, None) if data[1] & 1 else RangeLimits(
        data[1] >> 4, data[2] & 15, data[2] >> 4)
    value = data[3:].decode("latin-1")
    if data[1] & 2:
        value = "bytes=" + value
    res = parse_ranges(value, size, limits)
    if res is None or res == 416:
        return
    if not isinstance(res, list) or not res:
        raise AssertionError(f"unexpected {res!r}")
    if sum(e - s + 1 for s, e in res) > size:
        raise AssertionError(f"more bytes than the body: {res!r} of {size}")
    for s, e in res:
        if not 0 <= s <= e < size:
            raise AssertionError(f"range outside the body: {res!r} of {size}")


if __name__ == "__main__":
    _common.main(test_one_input)
