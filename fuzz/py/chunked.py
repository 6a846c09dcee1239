#!/usr/bin/env python3
"""Fuzz target: the chunked request-body decoder (fastcore/core/request.py BodyReader,
Python only: no C twin).  Beyond "no exception but HttpError 400/413", the verdict and the
body are the same whether the bytes arrive at once or in the fuzzed pieces."""
from __future__ import annotations

try:
    import _common
except ImportError:  # imported as fuzz.py.chunked by the CI replay
    from . import _common

with _common.instrument(__name__):
    from fastcore.core.request import BodyReader, HttpError, Request



def _decode(data: bytes, cuts: list[int], limit: int) -> tuple[str, bytes, int]:
    req = Request()
    req.body_kind = "chunked"
    r = BodyReader(req, limit, keep=True)
    buf = bytearray()
    pos = 0
    try:
        for cut in cuts + [len(data)]:
            buf += data[pos:cut]
            pos = max(pos, cut)
            if r.feed(buf):  # what is left (buffered or not yet read) is the next request
                return "done", bytes(r.keep or b""), len(buf) + len(data) - pos
        return "more", bytes(r.keep or b""), len(buf)
    except HttpError as exc:
        if exc.status not in (400, 413):
            raise
        return f"error {exc.status}", b"", 0


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    limit = (0, 16, 1000, 1 << 20)[data[0] & 3]
    body = data[2:]
    # a fuzzed step, widened on long bodies so that one input is at most ~64 feeds
    step = max(1 + (data[1] % 32), len(body) // 64 + 1)
    whole = _decode(body, [], limit)
    pieces = _decode(body, list(range(step, len(body), step)), limit)
    if whole[0] != pieces[0] or (whole[0] == "done" and whole != pieces):
        raise AssertionError(f"split changes the verdict: {whole} vs {pieces}")


if __name__ == "__main__":
    _common.main(test_one_input)
