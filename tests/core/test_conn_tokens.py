"""The one Connection-token rule (Apache's ap_find_token) on every path: the C matcher
(fc_token.h, fastcore._request.find_token) and its twin agree byte for byte, and the
engine (C and twin) and the Python path keep or close a connection, and send Keep-Alive,
for the same Connection values.  Real Apache is the oracle in
tests/integration/test_keepalive_vs_apache.py; the examples below were measured on it."""
from __future__ import annotations

import importlib
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.twins import IMPLEMENTATIONS, Implementation
from support.wire import SERVER, recv_response

from fastcore.core.request import parse_head

PIECES = st.sampled_from(["keep-alive", "Keep-Alive", "KEEP-ALIVE", "close", "Close", "keep",
                          "k", "c", "clo", "keep-alivex", "closed", "upgrade", "x-foo", "te"])
SEPS = st.sampled_from([" ", "\t", ",", ", ", ";", "=", '"', "\xa0", "/", "(", ")", "\xe9"])
# a Connection value as a client may send it (no CTLs: those are 400 before any token)
VALUES = st.lists(st.one_of(PIECES, SEPS, st.text(alphabet="abceklopsv-", max_size=4)),
                  max_size=6).map("".join)


C_FIND, PURE_FIND = (side.load("request").find_token for side in IMPLEMENTATIONS)


@pytest.fixture
def find(impl: Implementation) -> Callable[[str | bytes, str], bool]:
    """ap_find_token as the C matcher (fc_token.h), then as its twin."""
    return impl.load("request").find_token


@pytest.mark.parametrize("value,keep_alive,close", [
    ("keep-alive", True, False), ("Keep-Alive", True, False),
    ("keep-alive\xa0", True, False),      # 0xA0 is not a token byte: it separates
    ("keep-alive;", True, False), ("x-foo keep-alive", True, False),
    ("keep", True, False), ("k", True, False),  # a prefix of the word matches (Apache 2.4.71)
    ("keep-alivex", False, False), ("x-keep-alive", False, False),
    ('"close"', False, True), ("c", False, True), ("upgrade, CLOSE", False, True),
    ("", False, False), (" , ", False, False),
])
def test_apache_find_token_examples(find, value: str, keep_alive: bool, close: bool) -> None:
    assert find(value, "keep-alive") is keep_alive
    assert find(value, "close") is close
    assert find(value.encode("latin-1"), "keep-alive") is keep_alive


@settings(max_examples=400, derandomize=True, database=None)
@given(value=st.binary(max_size=24) | VALUES.map(lambda v: v.encode("latin-1")),
       word=st.sampled_from(["keep-alive", "close", "chunked"]))
def test_c_matcher_and_twin_agree(value: bytes, word: str) -> None:
    assert C_FIND(value, word) == PURE_FIND(value, word)


class Engine:
    """One implementation's FastCache with /a.txt cached (Apache's default keep-alive)."""

    def __init__(self, module: str, root: Path) -> None:
        self.fp = importlib.import_module(module)
        path = root / "a.txt"
        path.write_bytes(b"abc")
        self.cache = self.fp.FastCache()
        self.cache.configure(SERVER)
        s = path.stat()
        mid = b"ETag: \"x\"\r\nAccept-Ranges: bytes\r\nContent-Length: 3\r\n"
        for host in (b"localhost", None):
            assert self.cache.put(0, host, b"/a.txt", str(path).encode(), s.st_ino, s.st_size,
                                  s.st_mtime_ns, mid, b"Content-Type: text/plain\r\n")

    def answer(self, request: bytes) -> tuple[bool, bytes]:
        """(kept open, the connection fields of the answer) for one request."""
        a, b = socket.socketpair()
        conn = self.fp.FastConn(self.cache, a.fileno(), False, b"127.0.0.1", 5555)
        try:
            b.sendall(request)
            rc = conn.serve()
            assert rc in (self.fp.WANT_READ, self.fp.CLOSED), "the engine did not serve it"
            head, _ = recv_response(b, 3)
            return rc == self.fp.WANT_READ, conn_fields(head)
        finally:
            conn.close()
            a.close()
            b.close()


def conn_fields(head: bytes) -> bytes:
    return b"".join(re.findall(rb"(?:Keep-Alive|Connection): [^\r]*\r\n", head))


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> list[Engine]:
    return [Engine(side.module_name("fastpath"), tmp_path_factory.mktemp("tokens"))
            for side in IMPLEMENTATIONS]


@settings(max_examples=300, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUES, version=st.sampled_from(["HTTP/1.0", "HTTP/1.1"]))
def test_engine_twin_and_python_path_keep_alive_alike(engines: list[Engine], value: str,
                                                      version: str) -> None:
    raw = (f"GET /a.txt {version}\r\nHost: localhost\r\nConnection: {value}\r\n\r\n"
           .encode("latin-1"))
    req = parse_head(raw)
    # the Python path's rule, with Apache's default KeepAlive On / MaxKeepAliveRequests 100
    expected = (b"Keep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\n" if req.ka_sent
                else b"") if req.keepalive else b"Connection: close\r\n"
    for engine in engines:
        assert engine.answer(raw) == (req.keepalive, expected), engine.fp.__name__
