#!/usr/bin/env python3
"""Fuzz target: the conditional headers (fastcore/core/conditional.py, ap_meets_conditions;
fastcore/core/static.py parse_http_date, apr_date_parse_http).  They are parsed in Python
only: the engine's parser (fc_fastparse.h) hands every If-* request to the full path.
Fuzzed If-Match / If-Unmodified-Since / If-None-Match / If-Modified-Since / If-Range values
against a fuzzed ETag, mtime, clock, method and Range.  Checks: the verdict is 0, 304 or
412 and 304 only for GET/HEAD; a strong ETag match implies a weak one; If-Range with the
ETag itself holds; a date that parses survives the engine's and the twin's IMF-fixdate
formatting unchanged; the C and pure-Python date formatters agree."""
from __future__ import annotations

try:
    import _common
except ImportError:
    from . import _common

with _common.instrument(__name__):
    from fastcore._pure import sendfile as pure_sendfile
    from fastcore.core.conditional import conditional_status, find_etag, if_range_ok
    from fastcore.core.static import http_date, parse_http_date

_METHODS = ("GET", "HEAD", "PUT", "POST")
_HEADERS = ("if-match", "if-unmodified-since", "if-none-match", "if-modified-since",
            "if-range")
_MAX_DATE = 253402300799  # 9999-12-31 23:59:59, the last date an HTTP-date can write


def _check_date(value: str) -> None:
    t = parse_http_date(value)
    if t is None:
        return
    if not isinstance(t, float) or t != int(t):
        raise AssertionError(f"date {value!r} -> {t!r}")
    if 0 <= t <= _MAX_DATE:
        text = http_date(t)
        if text != pure_sendfile.http_date(t):
            raise AssertionError(f"formatters differ at {t}: {text!r}")
        if parse_http_date(text.decode()) != t:
            raise AssertionError(f"round trip of {value!r}: {t} -> {text!r}")


def test_one_input(data: bytes) -> None:
    if len(data) < 6:
        return
    method = _METHODS[data[0] & 3]
    tag_kind = (data[0] >> 2) & 3
    now = 1_700_000_000 + int.from_bytes(data[1:3], "little")
    mtime = now - int.from_bytes(data[3:5], "little") + 512  # some in the future
    present = data[5]
    values = data[6:].decode("latin-1").split("\n")
    tag = (None, '"abc-12"', 'W/"abc-12"', values[-1] or '"x"')[tag_kind]
    headers: dict[str, str] = {}
    for i, name in enumerate(_HEADERS):
        if present & (1 << i):
            headers[name] = values[i % len(values)]
    if present & 0x20:
        headers["range"] = "bytes=0-1"
    status = conditional_status(method, headers, tag, mtime, float(now))
    if status not in (0, 304, 412):
        raise AssertionError(f"verdict {status!r}")
    if status == 304 and method not in ("GET", "HEAD"):
        raise AssertionError(f"304 for {method}")
    for value in values[:5]:
        _check_date(value)
        if find_etag(value, tag, weak=False) and not find_etag(value, tag, weak=True):
            raise AssertionError(f"strong match without a weak one: {value!r} {tag!r}")
        if not isinstance(if_range_ok(value, tag, mtime, float(now)), bool):
            raise AssertionError("if_range_ok is not a bool")
    if tag is not None and tag.startswith('"') and not if_range_ok(tag, tag, mtime):
        raise AssertionError(f"If-Range with the ETag itself fails: {tag!r}")


if __name__ == "__main__":
    _common.main(test_one_input)
