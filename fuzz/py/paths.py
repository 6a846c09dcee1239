#!/usr/bin/env python3
"""Fuzz target: percent-decoding and path normalisation (fastcore/core/mapping.py
normalize / decode_path, fastcore/core/paths.py unescape_path; Python only).  Only
HttpError 400/404 may escape; a normalised path is absolute, has no dot segment and
(MergeSlashes On) no empty segment but the last; normalising it again changes nothing."""
from __future__ import annotations

try:
    import _common
except ImportError:
    from . import _common

with _common.instrument(__name__):
    from fastcore.core.mapping import decode_path, normalize
    from fastcore.core.request import HttpError


_SLASHES = ("off", "on", "nodecode")
_CTL = bytes(range(0x21)) + b"\x7f"  # what the request parser never lets into a target


def test_one_input(data: bytes) -> None:
    if not data:
        return
    merge = bool(data[0] & 1)
    slashes = _SLASHES[(data[0] >> 1) % 3]
    # what the request parser lets through to the mapper: VCHAR and obs-text
    path = data[1:].translate(None, _CTL).decode("latin-1")
    try:
        n = normalize(path, merge_slashes=merge)
    except HttpError as exc:
        if exc.status != 400:
            raise
        n = None
    if n is not None:
        segs = n.split("/")
        if not n.startswith("/") or "." in segs or ".." in segs:
            raise AssertionError(f"not normalised: {path!r} -> {n!r}")
        if merge and "" in segs[1:-1]:
            raise AssertionError(f"empty segment: {path!r} -> {n!r}")
        if normalize(n, merge_slashes=merge) != n:
            raise AssertionError(f"not idempotent: {path!r} -> {n!r}")
    try:
        d = decode_path(path, slashes, merge)
    except HttpError as exc:
        if exc.status not in (400, 404):
            raise
        return
    if not d.startswith("/") or "\x00" in d:
        raise AssertionError(f"bad decoded path {path!r} -> {d!r}")


if __name__ == "__main__":
    _common.main(test_one_input)
