"""fastcore._request and its twin: API behaviour, incremental input, limits, equivalence."""
from __future__ import annotations

import importlib
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.twins import Implementation

HEAD = (b"GET /index.html?x=1 HTTP/1.1\r\nHost: example.org\r\nAccept: text/html\r\n"
        b"X-Multi: a\r\nx-multi: b\r\nX-Fold: one \r\n\t two\r\n  three\r\nEmpty:\r\n\r\n")


@pytest.fixture
def rq(impl: Implementation) -> ModuleType:
    return impl.load("request")


def test_full_parse(rq):
    h = rq.parse_head(HEAD + b"BODY")
    assert (h.method, h.target, h.version, h.proto_num) == ("GET", "/index.html?x=1", "HTTP/1.1", 1001)
    assert h.head_len == len(HEAD)
    assert h.headers == [("Host", "example.org"), ("Accept", "text/html"), ("X-Multi", "a"),
                         ("x-multi", "b"), ("X-Fold", "one two three"), ("Empty", "")]
    assert h.get("host") == "example.org"
    assert h.get("HOST") == "example.org"
    assert h.get("x-multi") == "a, b"  # merged as Apache's table merge does
    assert h.get("empty") == ""
    assert h.get("missing") is None


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_buffer_types(rq, kind):
    assert rq.parse_head(kind(HEAD)).head_len == len(HEAD)


def test_every_prefix_is_incomplete(rq):
    for i in range(len(HEAD)):
        assert rq.parse_head(HEAD[:i]) is None, i
    assert rq.parse_head(HEAD) is not None


def test_versions_and_http09(rq):
    assert rq.parse_head(b"GET / HTTP/1.0\r\n\r\n").proto_num == 1000
    h = rq.parse_head(b"GET /x\r\nanything after")
    assert (h.proto_num, h.version, h.headers, h.head_len) == (9, "HTTP/0.9", [], 8)
    assert rq.parse_head(b"PUT /x HTTP/2.0\r\n\r\n").proto_num == 2000


def test_leading_blank_lines_are_consumed(rq):
    raw = b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
    assert rq.parse_head(raw).head_len == len(raw)
    assert rq.parse_head(b"\r\n\r\n") is None


@pytest.mark.parametrize("raw,status", [
    (b"GET / HTTP/1.1\nHost: a\n\n", 400),
    (b"GET / http/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: a\x00\r\n\r\n", 400),
    (b"G@T / HTTP/1.1\r\n\r\n", 400),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 414),
])
def test_errors(rq, raw, status):
    with pytest.raises(rq.HeadError) as ei:
        rq.parse_head(raw)
    assert ei.value.status == status and ei.value.reason


def test_errors_are_reported_before_the_head_completes(rq):
    with pytest.raises(rq.HeadError) as ei:  # bad request line, headers still to come
        rq.parse_head(b"GET / HTTP/1.1 junk\r\nHost: a")
    assert ei.value.status == 400
    with pytest.raises(rq.HeadError) as ei:  # request line already too long, no LF yet
        rq.parse_head(b"GET /" + b"a" * 9000)
    assert ei.value.status == 414
    with pytest.raises(rq.HeadError) as ei:  # header field already too long
        rq.parse_head(b"GET / HTTP/1.1\r\nX: " + b"a" * 9000)
    assert ei.value.status == 400


def test_custom_limits(rq):
    line = b"GET /" + b"a" * 40 + b" HTTP/1.1\r\n"  # 54 bytes without CRLF
    assert rq.parse_head(line + b"\r\n", limit_line=53) is not None
    with pytest.raises(rq.HeadError) as ei:
        rq.parse_head(line + b"\r\n", limit_line=52)
    assert ei.value.status == 414
    fields = b"".join(b"X%d: v\r\n" % i for i in range(5))
    assert len(rq.parse_head(b"GET / HTTP/1.1\r\n" + fields + b"\r\n", limit_fields=5).headers) == 5
    with pytest.raises(rq.HeadError):
        rq.parse_head(b"GET / HTTP/1.1\r\n" + fields + b"\r\n", limit_fields=4)
    # Apache counts a field once the line after it is read: a sixth field is not yet an
    # error (that next line may fail first, with another answer) ...
    assert rq.parse_head(b"GET / HTTP/1.1\r\n" + fields + b"Y: v\r\n", limit_fields=5) is None
    with pytest.raises(rq.HeadError) as ei:
        rq.parse_head(b"GET / HTTP/1.1\r\n" + fields + b"Y: v\r\nZ: w\r\n", limit_fields=5)
    assert ei.value.reason.startswith("The number of request header fields")
    with pytest.raises(rq.HeadError) as ei:  # ... as here: the blank line has a bare LF
        rq.parse_head(b"GET / HTTP/1.1\r\n" + fields + b"Y: v\r\n\n", limit_fields=5)
    assert ei.value.reason == "Header line not terminated by CRLF"
    with pytest.raises(rq.HeadError):
        rq.parse_head(b"GET / HTTP/1.1\r\nX: " + b"v" * 30 + b"\r\n\r\n", limit_field_size=31)
    assert rq.parse_head(b"GET / HTTP/1.1\r\nX: " + b"v" * 29 + b"\r\n\r\n", limit_field_size=31)


def test_many_fields_beyond_the_stack_array(rq):
    fields = b"".join(b"X%d: v%d\r\n" % (i, i) for i in range(1000))
    h = rq.parse_head(b"GET / HTTP/1.1\r\n" + fields + b"\r\n", limit_fields=0)
    assert len(h.headers) == 1000 and h.headers[999] == ("X999", "v999")


def test_latin1_values(rq):
    h = rq.parse_head(b"GET /caf\xe9 HTTP/1.1\r\nX: \xe9t\xe9\r\n\r\n")
    assert h.target == "/caf\xe9" and h.get("x") == "\xe9t\xe9"


ext = importlib.import_module("fastcore._request")
pure = importlib.import_module("fastcore._pure.request")


def outcome(mod, raw: bytes, **limits):
    try:
        h = mod.parse_head(raw, **limits)
    except mod.HeadError as exc:
        return ("error", exc.status)
    if h is None:
        return None
    return (h.method, h.target, h.version, h.proto_num, h.headers, h.head_len)


PIECES = [b"GET", b"HEAD", b"OPTIONS", b"CONNECT", b"h:80", b"[::1]", b":+8", b"G@T", b" ", b"  ", b"\t", b"/", b"/a", b"*", b"?q",
          b"#f", b"http://h", b"HTTP/1.1", b"HTTP/1.0", b"http/1.1", b"HTTP/2.0", b"\r\n",
          b"\n", b"\r", b"Host", b":", b"X-A", b"v", b"\x00", b"\x01", b"\x7f", b"\xe9",
          b"a" * 20]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=25), st.integers(10, 60), st.integers(0, 4))
def test_extension_and_twin_agree(parts, limit, nfields):
    raw = b"".join(parts)
    limits = dict(limit_line=limit, limit_fields=nfields, limit_field_size=limit)
    assert outcome(ext, raw, **limits) == outcome(pure, raw, **limits)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_and_agree(raw):
    assert outcome(ext, raw) == outcome(pure, raw)
    assert outcome(ext, b"GET / HTTP/1.1\r\n" + raw) == outcome(pure, b"GET / HTTP/1.1\r\n" + raw)


def test_same_public_api_as_twin():
    for mod in (ext, pure):
        assert {"parse_head", "RequestHead", "HeadError", "bench_parse", "bench_parse_full"} <= set(dir(mod))
    e = ext.HeadError(414, "Request-URI Too Long")
    assert (e.status, e.reason, str(e)) == (414, "Request-URI Too Long", "414 Request-URI Too Long")
    assert isinstance(e, Exception) and issubclass(pure.HeadError, Exception)


def test_buffer_untouched(rq):
    buf = bytearray(HEAD)
    rq.parse_head(buf)
    assert bytes(buf) == HEAD


@pytest.mark.parametrize("bad", [b"Bad Name: x", b"X: a\x01", b"X\x7f: a", b"nocolon"])
def test_field_checked_after_the_next_line_is_read(rq, bad):
    """Apache reads the next line (it may be a fold) before checking a field, so an
    oversized next line answers with the size error (and its error-note on the page)."""
    with pytest.raises(rq.HeadError) as ei:
        rq.parse_head(b"GET / HTTP/1.1\r\n" + bad + b"\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
    assert ei.value.reason == "Size of a request header field exceeds server limit"
    with pytest.raises(rq.HeadError) as ei:
        rq.parse_head(b"GET / HTTP/1.1\r\n" + bad + b"\r\n\r\n")
    assert ei.value.status == 400 and "Size" not in ei.value.reason


def test_fold_characters_checked_with_the_field(rq):
    raw = b"GET / HTTP/1.1\r\nX: a\r\n b\x01\r\n"
    assert rq.parse_head(raw) is None  # a further fold could follow
    with pytest.raises(rq.HeadError) as ei:
        rq.parse_head(raw + b"\r\n")
    assert ei.value.reason == "Request header value is malformed"
    h = rq.parse_head(b"GET / HTTP/1.1\r\nX:\r\n b \r\n\tc\r\nY: d  \r\n\r\n")
    assert h.headers == [("X", "b c"), ("Y", "d")]


@pytest.mark.parametrize("target,ok", [
    # what Apache 2.4.71 lets through to its 405 (apr_uri_parse_hostinfo), and its 400s
    (b"localhost:80", True), (b"[::1]:80", True), (b":80", True), (b"h:+80", True),
    (b"h:-1", True), (b"h:99999", True), (b"a..b:80", True),  # host name: http/request.py
    (b"[::1]", False), (b"localhost", False), (b"h:", False), (b"h:abc", False),
    (b"h:80?q", False), (b"h:80/x", False), (b"h:80:90", False), (b"h:80#f", False),
    (b"/x", False), (b"*", False), (b"http://h/", False),
])
def test_connect_takes_only_the_authority_form(rq, target, ok):
    raw = b"CONNECT " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    if ok:
        h = rq.parse_head(raw)
        assert (h.method, h.target) == ("CONNECT", target.decode())
    else:
        with pytest.raises(rq.HeadError) as e:
            rq.parse_head(raw)
        assert e.value.status == 400


@pytest.mark.parametrize("method", [b"GET", b"OPTIONS", b"POST", b"connect"])
def test_only_connect_takes_the_authority_form(rq, method):
    with pytest.raises(rq.HeadError):
        rq.parse_head(method + b" localhost:80 HTTP/1.1\r\nHost: a\r\n\r\n")
