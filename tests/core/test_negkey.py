"""Negotiated engine entries (src/fc_negkey.h): an answer mod_negotiation chose is served
only to a request that sends the same values of Accept, Accept-Charset, Accept-Encoding
and Accept-Language (and, for a protocol-bound one, the same HTTP version); a target
keeps several such answers, the oldest going first past FC_NEG_MAX; a Negotiate field or
a repeated field goes to Python.  The C engine over a socketpair; the pure twin holds
none (mod_negotiation's answers then stay with the Python cache)."""
from __future__ import annotations

import os
import socket
from types import ModuleType

import pytest
from support.twins import IMPLEMENTATIONS
from support.wire import SERVER, recv_response

C = next(i for i in IMPLEMENTATIONS if i.id != "pure")
FC_NEG_MAX = 16


@pytest.fixture
def fp() -> ModuleType:
    return C.load("fastpath")


def neg(lang: bytes | None, proto: bytes | None = None, accept: bytes | None = None):
    return (accept, None, None, lang, proto)


def put(cache, path, n: int, value: tuple) -> bool:  # noqa: ANN001
    st = os.stat(path)
    mid = b"Content-Language: x%d\r\nContent-Length: %d\r\n" % (n, st.st_size)
    return cache.put(0, b"h", b"/page", str(path).encode(), st.st_ino, st.st_size,
                     st.st_mtime_ns, mid, b"Content-Type: text/html\r\n", neg=value,
                     max_keep_alive=1000)


def test_each_request_gets_the_answer_its_values_chose(fp: ModuleType, tmp_path) -> None:  # noqa: ANN001
    files = []
    for lang in ("fr", "en"):
        f = tmp_path / f"page.{lang}.html"
        f.write_bytes(lang.encode() * 50)
        files.append(f)
    cache = fp.FastCache()
    cache.configure(SERVER)
    assert put(cache, files[0], 0, neg(b"fr", accept=b"text/html"))
    assert put(cache, files[1], 1, neg(b"en"))
    a, b = socket.socketpair()
    conn = fp.FastConn(cache, a.fileno(), False, b"127.0.0.1", 5555)
    try:
        def ask(fields: bytes, proto: bytes = b"HTTP/1.1") -> tuple[int, bytes]:
            req = b"GET /page " + proto + b"\r\nHost: h\r\n" + fields + b"\r\n"
            b.sendall(req)
            rc = conn.serve()
            if rc == fp.FALLBACK:
                assert conn.take() == req
                return rc, b""
            return rc, recv_response(b, 100)[1]
        assert ask(b"Accept-Language: fr\r\nAccept: text/html\r\n") == (fp.WANT_READ, b"fr" * 50)
        assert ask(b"accept: text/html\r\nAccept-Language:  fr \r\n") == (fp.WANT_READ, b"fr" * 50)
        assert ask(b"Accept-Language: en\r\n") == (fp.WANT_READ, b"en" * 50)
        for other in (b"Accept-Language: fr\r\n",  # Accept missing
                      b"Accept-Language: en\r\nAccept-Charset: utf-8\r\n",
                      b"Accept-Language: en\r\nAccept-Encoding: gzip\r\n",
                      b"Accept-Language: en, fr\r\n",
                      b"Accept-Language: en\r\nAccept-Language: en\r\n",  # merged by Python
                      b"Accept-Language: en\r\nNegotiate: trans\r\n",
                      b""):
            assert ask(other)[0] == fp.FALLBACK, other
        assert ask(b"Accept-Language: en\r\n", b"HTTP/1.0")[1] == b"en" * 50  # any protocol
    finally:
        conn.close()
        cache.clear()
        a.close()
        b.close()


def test_protocol_bound_answers_and_the_bound_per_target(fp: ModuleType, tmp_path) -> None:  # noqa: ANN001
    f = tmp_path / "page.en.html"
    f.write_bytes(b"x" * 10)
    cache = fp.FastCache()
    cache.configure(SERVER)
    assert put(cache, f, 0, neg(b"en", b"HTTP/1.0"))
    assert cache.lookup(0, b"h", b"/page", neg(b"en", b"HTTP/1.1")) is None
    assert cache.lookup(0, b"h", b"/page", neg(b"en", b"HTTP/1.0"))["negotiated"]
    assert put(cache, f, 1, neg(b"en", b"HTTP/1.1"))  # the other protocol's: both kept
    assert cache.lookup(0, b"h", b"/page", neg(b"en", b"HTTP/1.0"))["mid"].startswith(
        b"Content-Language: x0")
    assert cache.lookup(0, b"h", b"/page", neg(b"en", b"HTTP/1.1"))["mid"].startswith(
        b"Content-Language: x1")
    assert put(cache, f, 2, neg(b"en", b"HTTP/1.1"))  # the same values: replaced
    assert cache.lookup(0, b"h", b"/page", neg(b"en", b"HTTP/1.1"))["mid"].startswith(
        b"Content-Language: x2")
    cache.clear()
    for i in range(FC_NEG_MAX + 1):
        assert put(cache, f, i, neg(b"l%d" % i))
    assert cache.lookup(0, b"h", b"/page", neg(b"l0", b"HTTP/1.1")) is None  # the oldest
    for i in range(1, FC_NEG_MAX + 1):
        assert cache.lookup(0, b"h", b"/page", neg(b"l%d" % i, b"HTTP/1.1")) is not None
    assert cache.remove(0, b"h", b"/page")  # every answer of the target
    assert cache.lookup(0, b"h", b"/page") is None
    with pytest.raises(ValueError):
        put(cache, f, 0, (None, None, None))


def test_the_twin_holds_no_negotiated_answer(tmp_path) -> None:  # noqa: ANN001
    pure = next(i for i in IMPLEMENTATIONS if i.id == "pure").load("fastpath")
    f = tmp_path / "page.en.html"
    f.write_bytes(b"x" * 10)
    cache = pure.FastCache()
    cache.configure(SERVER)
    assert not put(cache, f, 0, neg(b"en"))
    assert cache.lookup(0, b"h", b"/page") is None
