"""Accept-Encoding as mod_deflate reads it, three times: the Python path's rule
(_pure/vary.accepts_coding, which mod_deflate's filter calls), the C engine's
fc_accepts_coding (src/fc_vary.h) and the twin's; and an engine entry with a gzip
variant answers each request of a generated corpus with the variant that rule picks
(the C engine and its twin over a socketpair)."""
from __future__ import annotations

import os
import random
import socket
from types import ModuleType

import pytest
from support.twins import IMPLEMENTATIONS, Implementation
from support.wire import SERVER, recv_response

from fastcore._pure.vary import accepts_coding

CODINGS = ["gzip", "GZIP", "Gzip", "x-gzip", "gzi", "gzipx", "br", "*", "identity",
           "deflate", "zstd", '"gzip"', "g\"zip\"", "gz ip", ""]
PARAMS = [";q=0", ";q=0.0", ";q=0.00", ";q=0.000", ";q=0.0000", ";q=0.001", ";q=1",
          ";Q=0", "; q=0", ";q =0", ";;q=0", ";level=1;q=0", ";q=\"0\"", ";q", ";q=", ";q=0 ",
          ";q=0.5", ";x=\"a,b\"", ";q=0,", ""]
SEPS = [",", ", ", " ,", ",,", " , ", "\t,", ";", " "]


def corpus(n: int = 3000, seed: int = 13) -> list[str]:
    """Accept-Encoding values from the pieces browsers and odd clients send: codings in
    any case, q=0 and its near misses, spaces and tabs, duplicates, quoted strings."""
    rnd = random.Random(seed)
    out = ["", "gzip", "gzip;q=0", "x-gzip", "*", "gzip, gzip;q=0", "gzip;q=0, gzip",
           "deflate, gzip", " gzip", "gzip\t", "\tgzip;q=0.0", "br;q=1.0, gzip;q=0.8, *;q=0.1"]
    while len(out) < n:
        parts = []
        for i in range(rnd.randint(1, 4)):
            if i:
                parts.append(rnd.choice(SEPS))
            parts.append(rnd.choice(CODINGS))
            if rnd.random() < 0.6:
                parts.append(rnd.choice(PARAMS))
        out.append("".join(parts).strip(" \t"))
    return out


def test_c_twin_and_python_path_read_every_value_alike() -> None:
    engines = [impl.load("fastpath") for impl in IMPLEMENTATIONS]
    assert {e.IMPLEMENTATION for e in engines} == {"cython", "pure"}
    accepted = refused = 0
    for value in corpus():
        want = accepts_coding(value, "gzip")
        accepted += want
        refused += not want
        for eng in engines:
            assert eng.accepts_coding(value.encode(), b"gzip") is want, (eng.IMPLEMENTATION, value)
    assert accepted > 300 and refused > 300  # the corpus exercises both answers


@pytest.mark.parametrize("value", [b"gzip\xa0", b"\xa0gzip", b"gzip;q=0\x85", b"gz\xffip"])
def test_values_the_engine_leaves_to_python(value: bytes) -> None:
    """Bytes whose blank-ness Python's str.isspace and ap_get_token see differently."""
    for impl in IMPLEMENTATIONS:
        assert impl.load("fastpath").accepts_coding(value, b"gzip") is None


@pytest.fixture
def fp(impl: Implementation) -> ModuleType:
    return impl.load("fastpath")


def test_the_engine_sends_the_variant_the_rule_picks(fp: ModuleType, tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "a.txt"
    path.write_bytes(b"plain text " * 100)
    st = os.stat(path)
    cache = fp.FastCache()
    cache.configure(SERVER)
    plain = b"ETag: \"x\"\r\nContent-Length: %d\r\nVary: Accept-Encoding\r\n" % st.st_size
    coded = b"ETag: \"x-gzip\"\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n" \
            b"Content-Length: 7\r\n"
    assert cache.put(0, b"h", b"/a.txt", str(path).encode(), st.st_ino, st.st_size,
                     st.st_mtime_ns, plain, b"Content-Type: text/plain\r\n",
                     variants=((b"gzip", coded, b"GZBYTES"),), ctime_ns=st.st_ctime_ns,
                     max_keep_alive=1000)
    a, b = socket.socketpair()
    conn = fp.FastConn(cache, a.fileno(), False, b"127.0.0.1", 5555)
    try:
        values = corpus(300, seed=7)
        for value in values:
            b.sendall(b"GET /a.txt HTTP/1.1\r\nHost: h\r\nAccept-Encoding: %s\r\n\r\n"
                      % value.encode())
            assert conn.serve() == fp.WANT_READ
            want_gzip = accepts_coding(value, "gzip")
            head, body = recv_response(b, 7 if want_gzip else st.st_size)
            if want_gzip:
                assert b"Content-Encoding: gzip\r\n" in head and body == b"GZBYTES", value
            else:
                assert b"Content-Encoding" not in head and body == path.read_bytes(), value
        # no field: the plain answer; two fields: Python reads them merged (fallback)
        b.sendall(b"GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n")
        assert conn.serve() == fp.WANT_READ
        assert b"Content-Encoding" not in recv_response(b, st.st_size)[0]
        two = b"GET /a.txt HTTP/1.1\r\nHost: h\r\nAccept-Encoding: br\r\nAccept-Encoding: gzip\r\n\r\n"
        b.sendall(two)
        assert conn.serve() == fp.FALLBACK and conn.take() == two
        assert cache.stats()["hits"] == len(values) + 1
    finally:
        conn.close()
        cache.clear()
        a.close()
        b.close()


def test_put_refuses_variants_of_another_ctime(fp: ModuleType, tmp_path) -> None:  # noqa: ANN001
    """The variants were encoded from the file whose ctime they name: a file changed
    since (same size and mtime put back) is not cached with them."""
    path = tmp_path / "a.txt"
    path.write_bytes(b"x" * 200)
    st = os.stat(path)
    cache = fp.FastCache()
    cache.configure(SERVER)
    args = (0, b"h", b"/a.txt", str(path).encode(), st.st_ino, st.st_size, st.st_mtime_ns,
            b"Content-Length: 200\r\n", b"")
    assert not cache.put(*args, variants=((b"gzip", b"", b"z"),), ctime_ns=st.st_ctime_ns - 1)
    assert cache.put(*args, variants=((b"gzip", b"", b"z"),), ctime_ns=st.st_ctime_ns)
    assert cache.lookup(0, b"h", b"/a.txt")["variants"] == ((b"gzip", b"", 1),)
