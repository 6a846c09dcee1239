"""ETag, conditional requests (RFC 9110 order) and Range parsing."""
from __future__ import annotations

import os

import pytest

from fastcore.core import conditional as C
from fastcore.core import static as S

NOW = 1_700_000_000.0


def fake_stat(size: int = 2048, mtime: float = 1_600_000_000.0, ino: int = 0x1234) -> os.stat_result:
    return os.stat_result((0o100644, ino, 0, 1, 0, 0, size, mtime, mtime, mtime,
                           int(mtime), int(mtime), int(mtime), int(mtime * 1e9),
                           int(mtime * 1e9), int(mtime * 1e9)))


def test_etag_formats() -> None:
    st = fake_stat()
    assert S.etag(st, None, NOW) == '"800-5af3107a40000"'
    assert S.etag(st, frozenset(("inode", "mtime", "size")), NOW) == '"1234-800-5af3107a40000"'
    assert S.etag(st, frozenset(), NOW) is None
    assert S.etag(st, None, st.st_mtime + 0.5).startswith('W/"')  # changed within a second


TAG = '"800-5af3107a40000"'
LM = "Sun, 13 Sep 2020 12:26:40 GMT"
EARLIER = "Sat, 12 Sep 2020 12:26:40 GMT"


@pytest.mark.parametrize("headers,method,status", [
    ({"if-none-match": TAG}, "GET", 304),
    ({"if-none-match": f'"x", {TAG}'}, "HEAD", 304),
    ({"if-none-match": f"W/{TAG}"}, "GET", 304),          # weak comparison
    ({"if-none-match": TAG}, "POST", 412),
    ({"if-none-match": '"x"'}, "GET", 0),
    ({"if-none-match": "*"}, "GET", 304),
    ({"if-match": TAG}, "GET", 0),
    ({"if-match": f"W/{TAG}"}, "GET", 412),               # strong comparison
    ({"if-match": '"x"'}, "GET", 412),
    ({"if-match": "*"}, "GET", 0),
    ({"if-modified-since": LM}, "GET", 304),
    ({"if-modified-since": EARLIER}, "GET", 0),
    ({"if-modified-since": "garbage"}, "GET", 0),
    ({"if-modified-since": "Sun, 13 Sep 2099 12:26:40 GMT"}, "GET", 0),  # future: ignored
    ({"if-unmodified-since": EARLIER}, "GET", 412),
    ({"if-unmodified-since": LM}, "GET", 0),
    ({"if-none-match": '"x"', "if-modified-since": LM}, "GET", 0),   # INM wins over IMS
    ({"if-match": '"x"', "if-none-match": TAG}, "GET", 412),          # If-Match first
    ({"if-match": TAG, "if-unmodified-since": EARLIER}, "GET", 412),  # Apache: IUS still counts
    ({"if-none-match": TAG, "if-modified-since": EARLIER}, "GET", 0),  # Apache: IMS vetoes 304
    ({"if-none-match": TAG, "if-unmodified-since": LM}, "GET", 0),     # so does a passed IUS
    ({"if-none-match": TAG, "range": "bytes=0-1"}, "GET", 304),        # strong match with Range
    ({"if-none-match": f"W/{TAG}", "range": "bytes=0-1"}, "GET", 0),
    ({"if-none-match": TAG, "range": "bytes=0-1", "if-range": TAG}, "GET", 0),  # If-Range: no 304
    ({"if-match": f'W/"x", {TAG}'}, "GET", 412),  # the list scan stops at a weak item
])
def test_conditionals(headers: dict, method: str, status: int) -> None:
    assert C.conditional_status(method, headers, TAG, 1_600_000_000, NOW) == status


@pytest.mark.parametrize("value,expected", [
    ("bytes=0-9", [(0, 9)]), ("bytes=100-", [(100, 2047)]), ("bytes=-50", [(1998, 2047)]),
    ("bytes=0-99999", [(0, 2047)]), ("bytes=0-9,20-29", [(0, 9), (20, 29)]),
    ("bytes=0-9,5-20", [(0, 20)]), ("bytes=0-9,10-19", [(0, 19)]),
    ("bytes=0-9,3000-", [(0, 9)]), ("bytes=2048-", 416), ("bytes=3000-4000", 416),
    ("bytes=-0", None), ("bytes=5-2", None), ("bytes=abc", None), ("items=0-9", None),
    ("bytes= 0-9", None), ("bytes=,0-9", None), ("bytes=-5000", [(0, 2047)]),
])
def test_ranges(value: str, expected: object) -> None:
    assert S.parse_ranges(value, 2048) == expected


def test_range_edge_cases() -> None:
    assert S.parse_ranges("bytes=0-9", 0) is None        # empty file: whole (empty) body
    assert S.parse_ranges("bytes=" + ",".join(["0-1"] * 201), 2048) is None  # > MaxRanges


def test_if_range() -> None:
    assert C.if_range_ok(None, TAG, 1)
    assert C.if_range_ok(TAG, TAG, 1)
    assert not C.if_range_ok('"x"', TAG, 1)
    assert not C.if_range_ok(f"W/{TAG}", f"W/{TAG}", 1)   # weak tags never match
    assert C.if_range_ok(LM, TAG, 1_600_000_000)
    assert not C.if_range_ok(EARLIER, TAG, 1_600_000_000)
    # Apache: a date validator of a file changed within 60 s of the request never matches
    assert not C.if_range_ok(LM, TAG, 1_600_000_000, 1_600_000_030)
    assert C.if_range_ok(LM, TAG, 1_600_000_000, 1_600_000_060)


def test_multipart_layout() -> None:
    parts, tail = S.multipart_parts([(0, 1), (5, 6)], 26, "text/plain", "b" * 16)
    assert parts[0][0] == b"\r\n--" + b"b" * 16 + b"\r\nContent-type: text/plain\r\nContent-range: bytes 0-1/26\r\n\r\n"
    assert (parts[1][1], parts[1][2]) == (5, 2)
    assert tail == b"\r\n--" + b"b" * 16 + b"--\r\n"
