"""HttpProtocolOptions Unsafe in the request-head scanner: what Apache 2.4.71 reads
leniently (measured; compared live in tests/integration/test_core_directives_vs_apache.py)
and the C scanner and its twin agreeing head by head, under Strict and Unsafe."""
from __future__ import annotations

import pytest
from support.twins import IMPLEMENTATIONS

SCANNERS = [side.load("request") for side in IMPLEMENTATIONS]

HEADS = [
    b"GET  /f.html HTTP/1.1\r\nHost: a\r\n\r\n", b"GET /f.html  HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /f.html http/1.1\r\nHost: a\r\n\r\n", b"GET /f.html HTTP/1.1 x\r\nHost: a\r\n\r\n",
    b"GET /f.html HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n",
    b"GET /f.html HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n",
    b"GET /f.html HTTP/1.1\r\nHost: a\r\nX-A: b\x7fc\r\n\r\n",
    b"GET /f.html\x7f HTTP/1.1\r\nHost: a\r\n\r\n", b"GET /f.html HTTP/01.1\r\nHost: a\r\n\r\n",
    b"GET /f.html HTTP/1.10\r\nHost: a\r\n\r\n", b"GET /f.html FOO\r\nHost: a\r\n\r\n",
    b"GET\t/f.html\tHTTP/1.1\r\nHost: a\r\n\r\n", b"GET /f.html HTTP/1.1\r\nHost: a\r\nX@A: b\r\n\r\n",
    b"GET /f.html HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", b"GET /f.html HTTP/1.1\r\nHost: a\r\nX-A b\r\n\r\n",
    b"G(T /f.html HTTP/1.1\r\nHost: a\r\n\r\n", b"GET /f.html HTTP/1.1 \r\nHost: a\r\n\r\n",
    b"GET /f.html HTTP/1.1\r\nHost: a\r\nX-A:\x00b\r\n\r\n", b"GET /f.html  \r\n",
    b"GET /f.html HTTP/1.1\r\nHost: a\r\n X-A: b\r\n\r\n", b"POST  /  hTtP/1.0  \r\n\r\n",
    b"GET /f.html HTTP/1.1\nHost: a\n\n", b"GET /f.html HTTP/1.1\r\nHost: a\nX-A: b\n  c\n\r\n",
    b"\nGET /f.html HTTP/1.1\nHost: a\nX-A:\n c\n\n",
]
# what Apache answers in Unsafe mode, by head (the 501 is the handler's, after parsing)
UNSAFE_OK = {0, 1, 2, 5, 6, 12, 15, 16, 18, 19, 20, 21, 22, 23}


def _verdict(mod, head: bytes, strict: bool) -> tuple:
    try:
        rh = mod.parse_head(head, 8190, 100, 8190, strict)
    except mod.HeadError as e:
        return ("error", e.status)
    return (rh.method, rh.target, rh.version, rh.proto_num, rh.headers, rh.head_len)


@pytest.mark.parametrize("i", range(len(HEADS)))
@pytest.mark.parametrize("strict", [True, False])
def test_scanner_and_twin_agree(i: int, strict: bool) -> None:
    c, py = (_verdict(m, HEADS[i], strict) for m in SCANNERS)
    assert c == py


@pytest.mark.parametrize("i", range(len(HEADS)))
def test_unsafe_accepts_what_apache_accepts(i: int) -> None:
    for mod in SCANNERS:
        unsafe = _verdict(mod, HEADS[i], False)
        assert (unsafe[0] != "error") == (i in UNSAFE_OK), (HEADS[i], unsafe)
        if i != 19:  # a fold onto Host is fine in both modes
            assert _verdict(mod, HEADS[i], True)[0] == "error"


def test_unsafe_bare_lf_folds_join_like_crlf_ones() -> None:
    for mod in SCANNERS:
        for i in (22, 23):
            rh = mod.parse_head(HEADS[i], 8190, 100, 8190, False)
            assert rh.headers[-1] == ("X-A", "b c" if i == 22 else "c")


def test_unsafe_request_line_is_rebuilt_with_single_spaces() -> None:
    for mod in SCANNERS:
        rh = mod.parse_head(b"POST  /  hTtP/1.0  \r\n\r\n", 8190, 100, 8190, False)
        assert (rh.method, rh.target, rh.version, rh.proto_num) == ("POST", "/", "HTTP/1.0", 1000)


def test_head_end_waits_for_the_fields_of_an_unsafe_request_line() -> None:
    """A request line only Unsafe accepts, its fields not yet received: wait for them
    (Strict answers the line at once, as Apache does)."""
    from fastcore.core.request import find_head_end

    line = b"GET  /f.html http/1.1\r\n"
    assert find_head_end(line, strict=True) == len(line)
    assert find_head_end(line, strict=False) == -1
    assert find_head_end(line + b"Host: a\r\n\r\n", strict=False) == len(line) + 11
