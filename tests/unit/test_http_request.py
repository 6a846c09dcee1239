"""Request-head parsing and body reading (rules checked against Apache 2.4.71)."""
from __future__ import annotations

import pytest

from fastcore.http.request import (
    NOTE_FIELD_COUNT,
    NOTE_FIELD_SIZE,
    BodyReader,
    HttpError,
    find_head_end,
    parse_head,
)


def status_of(raw: bytes, **kw: int) -> int:
    try:
        parse_head(raw, **kw)
    except HttpError as e:
        return e.status
    return 200


@pytest.mark.parametrize("raw,status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200),
    (b"GET / HTTP/1.1\nHost: x\n\n", 400),                       # bare LF
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n  b\r\n\r\n", 200),  # obs-fold accepted
    (b"GET / HTTP/1.1\r\nHost: x\r\nX : a\r\n\r\n", 400),        # space before colon
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400),    # control character
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\tb\r\n\r\n", 200),
    (b"GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 200),
    (b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", 400),
    (b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400),
    (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 200),                 # valid token; 501 later
    (b"GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 200),
    (b"GET /a#f HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /a\x80 HTTP/1.1\r\nHost: x\r\n\r\n", 200),
    (b"GET / HTTP/1.1\r\n\r\n", 400),                            # 1.1 without Host
    (b"GET / HTTP/1.0\r\n\r\n", 200),
    (b"GET http://h/ HTTP/1.1\r\n\r\n", 400),                     # Host still required
    (b"GET ftp://h/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x:99999\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x..y\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n", 417),
    (b"CONNECT h:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
])
def test_strict_parsing(raw: bytes, status: int) -> None:
    assert status_of(raw) == status


def test_limits() -> None:
    assert status_of(b"GET /" + b"a" * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n", limit_line=100) == 414
    with pytest.raises(HttpError) as e:
        parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 100 + b"\r\n\r\n", limit_field_size=50)
    assert (e.value.status, e.value.notes) == (400, NOTE_FIELD_SIZE)
    with pytest.raises(HttpError) as e:
        parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", limit_fields=2)
    assert (e.value.status, e.value.notes) == (400, NOTE_FIELD_COUNT)


def test_fields_and_semantics() -> None:
    r = parse_head(b"GET http://Example.COM:8080/p?q=1 HTTP/1.1\r\nHost: ignored\r\n"
                   b"Accept: a\r\nAccept: b\r\nConnection: close\r\n\r\n")
    assert (r.host, r.host_port, r.path_raw, r.query) == ("example.com", 8080, "/p", "q=1")
    assert r.headers["accept"] == "a, b" and r.keepalive is False
    r = parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
    assert r.keepalive and r.proto_num == 1000
    r = parse_head(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert r.body_kind == "chunked" and r.keepalive is False   # smuggling: never reused
    r = parse_head(b"GET /x\r\n")
    assert r.assbackwards and r.path_raw == "/x"


def test_find_head_end() -> None:
    assert find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n") == -1
    assert find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest") == 27
    assert find_head_end(b"GET /x\r\n") == 8


def feed_all(raw: bytes, chunked: bool, limit: int = 0) -> tuple[bool, bytes, bytes]:
    hdr = b"Transfer-Encoding: chunked\r\n" if chunked else b"Content-Length: %d\r\n" % len(raw)
    req = parse_head(b"POST / HTTP/1.1\r\nHost: x\r\n" + hdr + b"\r\n")
    br = BodyReader(req, limit, keep=True)
    buf = bytearray()
    done = False
    for i in range(len(raw)):  # one byte at a time: every state boundary is crossed
        buf += raw[i:i + 1]
        done = br.feed(buf)
        if done:
            buf += raw[i + 1:]
            break
    return done, bytes(br.keep or b""), bytes(buf)


def test_chunked_body_incremental() -> None:
    done, body, rest = feed_all(b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nT: 1\r\n\r\nGET", True)
    assert done and body == b"abcde" and rest == b"GET"


@pytest.mark.parametrize("raw,status", [
    (b"zz\r\n", 400), (b"3\r\nabcXX", 400), (b"ffffffffffffffffffff\r\n", 413),
    (b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 413)])
def test_chunked_errors(raw: bytes, status: int) -> None:
    with pytest.raises(HttpError) as e:
        feed_all(raw, True, limit=8)
    assert e.value.status == status


def test_content_length_limit() -> None:
    req = parse_head(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    with pytest.raises(HttpError) as e:
        BodyReader(req, 10)
    assert e.value.status == 413
    done, body, rest = feed_all(b"hello", False)
    assert done and body == b"hello" and rest == b""
