"""Request-head parsing and body reading (rules checked against Apache 2.4.71)."""
from __future__ import annotations

from types import ModuleType

import pytest
from support.twins import Implementation

import fastcore.core.request as http_request
from fastcore.core.request import (
    NOTE_FIELD_COUNT,
    NOTE_FIELD_SIZE,
    BodyReader,
    HttpError,
    find_head_end,
    parse_head,
)


@pytest.fixture(autouse=True)
def scanner(impl: Implementation, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Every test runs on the C scanner and on its twin (what FASTCORE_NO_EXTENSIONS=1 loads)."""
    mod = impl.load("request")
    monkeypatch.setattr(http_request, "_rq", mod)
    return mod


def status_of(raw: bytes, **kw: int) -> int:
    try:
        r = parse_head(raw, **kw)
    except HttpError as e:
        return e.status
    return 417 if r.expect_failed is not None else 200  # answered by the server


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
    (b"GET / HTTP/1.1\r\nHost: a\r\nhOST: a\r\n\r\n", 400),       # any spelling repeats
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nx: 2\r\n\r\n", 200),     # others join
    (b"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 1\r\nContent-Length: 1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x:99999\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x..y\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n", 417),
    (b"CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", 400),             # Apache: 400 too
    (b"CONNECT http://h/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"CONNECT h:80 HTTP/1.1\r\nHost: x\r\n\r\n", 200),            # the handler's 405
    (b"CONNECT h:80 HTTP/1.1\r\n\r\n", 400),                      # Host still required
    (b"CONNECT h:80 HTTP/1.0\r\n\r\n", 200),
    (b"CONNECT h:80 HTTP/1.1\r\nHost: a/b\r\n\r\n", 200),         # Host value unused
    (b"CONNECT h:80 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 200),
    (b"CONNECT a..b:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"CONNECT a/b:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"CONNECT a%41:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"CONNECT [zz]:80 HTTP/1.1\r\nHost: x\r\n\r\n", 200),
    (b"CONNECT h:80 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (b"CONNECT h:80 HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n", 417),
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
    assert find_head_end(b"GET / \r\n") == 8              # HTTP/0.9 with a trailing space
    assert find_head_end(b"\r\nGET / HTTP/1.1\r\n") == -1
    # a request line Apache rejects is answered at once, not after the rest of the head
    assert find_head_end(b"POST /\r\n") == 8
    assert find_head_end(b"GET / HTTP/1.1 x\r\nHost: a\r\n") == 18
    assert find_head_end(b"GET / HTTP/1.1\nHost") == 15
    with pytest.raises(HttpError) as e:
        parse_head(b"GET / HTTP/1.1 x\r\n")
    assert e.value.status == 400


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


def notes_of(raw: bytes, **kw: int) -> tuple[int, str | None] | str:
    try:
        parse_head(raw, **kw)
    except HttpError as e:
        return e.status, e.notes
    return "ok"


SMALL = {"limit_line": 200, "limit_fields": 5, "limit_field_size": 100}


def line_of(n: int) -> bytes:
    """A request line of exactly n bytes (without CRLF)."""
    return b"GET /?" + b"a" * (n - 15) + b" HTTP/1.1"


def field_of(n: int) -> bytes:
    return b"X: " + b"a" * (n - 3)


# Where the old regex parser of this module and the scanner disagreed, real Apache 2.4.71
# sided with the scanner every time (tests/integration/test_parser_vs_apache.py asks it).
@pytest.mark.parametrize("raw,kw,want", [
    (line_of(200) + b"\r\nHost: x\r\n\r\n", SMALL, "ok"),          # was 414
    (line_of(201) + b"\r\nHost: x\r\n\r\n", SMALL, "ok"),          # was 414
    (line_of(202) + b"\r\nHost: x\r\n\r\n", SMALL, (414, None)),
    (line_of(8191) + b"\r\nHost: x\r\n\r\n", {}, "ok"),            # default limit
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + field_of(101) + b"\r\n\r\n", SMALL, "ok"),  # was 400
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + field_of(102) + b"\r\n\r\n", SMALL,
     (400, NOTE_FIELD_SIZE)),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 40 + b"\r\n " + b"b" * 55 + b"\r\n\r\n", SMALL,
     (400, NOTE_FIELD_SIZE)),                                      # folded field at the limit
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n \r\n\r\n", {}, (400, None)),  # empty fold line
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n \t\r\n\r\n", {}, (400, None)),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX0: a\r\nX1: a\r\nX2: a\r\nX3: a\r\nX4\x01: a\r\n\r\n", SMALL,
     (400, NOTE_FIELD_COUNT)),                                     # count before the name check
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 120 + b"\x01\r\n\r\n", SMALL,
     (400, NOTE_FIELD_SIZE)),                                      # size before the value check
    (b"GET ?x HTTP/1.1\r\nHost: x\r\n\r\n", {}, "ok"),                 # empty path: "/"
    (b"GET http:/index.html HTTP/1.1\r\nHost: x\r\n\r\n", {}, "ok"),   # scheme, no authority
    (b"GET / \r\n", {}, "ok"),                                       # HTTP/0.9, trailing SP
])
def test_apache_sided_with_the_scanner(raw: bytes, kw: dict, want: object) -> None:
    assert notes_of(raw, **kw) == want


def test_new_target_forms_split_as_apache() -> None:
    r = parse_head(b"GET ?x=1 HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (r.path_raw, r.query, r.target, r.host, r.abs_host) == ("/", "x=1", "?x=1", "h", False)
    r = parse_head(b"GET http:/a/b?c HTTP/1.1\r\nHost: h:81\r\n\r\n")
    assert (r.path_raw, r.query, r.host, r.host_port, r.abs_host) == ("/a/b", "c", "h", 81, False)
    r = parse_head(b"GET http://Other:8/?q HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (r.path_raw, r.query, r.host, r.host_port, r.abs_host) == ("/", "q", "other", 8, True)
    r = parse_head(b"GET / \r\n")
    assert r.assbackwards and r.request_line == "GET / " and r.path_raw == "/"


def test_fold_onto_empty_value_has_no_leading_space() -> None:
    """Apache's TRACE echoes `X-A: b` for `X-A:` + ` b` (the old parser kept ` b`)."""
    r = parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nX-A:\r\n b\r\nX-B: a \r\n\t c\r\n\r\n")
    assert r.fields == [("Host", "x"), ("X-A", "b"), ("X-B", "a c")]
    assert r.headers == {"host": "x", "x-a": "b", "x-b": "a c"}


def test_request_line_errors_answer_before_header_errors() -> None:
    """CONNECT and a bad absolute-form target are request-line verdicts: no field notes."""
    big = b"X: " + b"a" * 9000 + b"\r\n"
    assert notes_of(b"CONNECT /x HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n") == (400, None)
    # a CONNECT host name is checked after the header section (fix_hostname)
    assert notes_of(b"CONNECT a/b:1 HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n") == \
        (400, NOTE_FIELD_SIZE)
    assert notes_of(b"GET http://u@h/ HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n") == (400, None)
    assert notes_of(b"GET ftp://h/ HTTP/1.1\r\n" + big + b"\r\n") == (400, None)
    assert notes_of(b"GET / HTTP/1.1\r\n" + big + b"\r\n") == (400, NOTE_FIELD_SIZE)


def test_every_request_field_the_server_reads() -> None:
    raw = (b"\r\nPOST /a%20b/c?x=1&y HTTP/1.1\r\nHost: WWW.Example.org.:8080\r\n"
           b"Content-Length: 12\r\nExpect: 100-continue\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n")
    r = parse_head(raw)
    assert (r.method, r.target, r.protocol, r.proto_num) == ("POST", "/a%20b/c?x=1&y", "HTTP/1.1", 1001)
    assert (r.request_line, r.raw_head) == ("POST /a%20b/c?x=1&y HTTP/1.1", raw)
    assert (r.host, r.host_port, r.abs_host) == ("www.example.org", 8080, False)
    assert (r.path_raw, r.query) == ("/a%20b/c", "x=1&y")
    assert (r.body_kind, r.content_length, r.keepalive) == ("length", 12, True)
    assert (r.assbackwards, r.expect_continue) == (False, True)
    assert r.headers["x-dup"] == "1, 2" and r.fields[3] == ("X-Dup", "1")
    r = parse_head(b"GET / HTTP/1.0\r\n\r\n")
    assert (r.keepalive, r.host, r.protocol, r.body_kind) == (False, None, "HTTP/1.0", "none")


@pytest.mark.parametrize("target,host,port", [
    ("localhost:80", "localhost", 80), ("LOCALHOST:443", "localhost", 443),
    ("[::1]:8080", "::1", 8080), (":80", "", 80), ("h.:-1", "h", 65535),
    ("h:99999", "h", 99999 & 0xFFFF), ("h:+7", "h", 7),
])
def test_connect_target_names_the_host_and_maps_to_root(target, host, port) -> None:
    r = parse_head(f"CONNECT {target} HTTP/1.1\r\nHost: other\r\n\r\n".encode())
    assert (r.method, r.target, r.request_line) == ("CONNECT", target,
                                                    f"CONNECT {target} HTTP/1.1")
    assert (r.host, r.host_port, r.abs_host) == (host, port, True)
    assert (r.path_raw, r.query) == ("/", "")
    assert r.keepalive  # Apache keeps the connection after its 405
