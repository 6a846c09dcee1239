"""Protocols' announcement on a cache hit (src/fc_upgrade.h and its twin): the first answer
of a connection carries "Upgrade" and "Connection: Upgrade" joined with the keep-alive
token, as core/protocols.py's announced_fields writes them; later answers, and a first
request with an Upgrade value, get the plain answer; several Upgrade fields go to Python."""
from __future__ import annotations

import os
import re
import socket
from types import ModuleType

import pytest
from support.twins import Implementation
from support.wire import SERVER, recv_response

from fastcore.core.protocols import announced_fields

DATE = re.compile(rb"Date: [^\r]*\r\n")
MID = b"ETag: \"x\"\r\nContent-Length: 5\r\n"
CTYPE = b"Content-Type: text/plain\r\n"


@pytest.fixture
def fp(impl: Implementation) -> ModuleType:
    return impl.load("fastpath")


def _serve(fp: ModuleType, path: str, heads: list[bytes]) -> list[bytes | int]:
    """One connection: each head's answer head (Date dropped), or FALLBACK's code."""
    st = os.stat(path)
    cache = fp.FastCache()
    cache.configure(SERVER)
    assert cache.put(0, b"h", b"/a", path.encode(), st.st_ino, st.st_size, st.st_mtime_ns,
                     MID, CTYPE, upgrade=b"h2c,H2", max_keep_alive=5)
    assert cache.lookup(0, b"h", b"/a")["upgrade"] == b"h2c,H2"
    a, b = socket.socketpair()
    conn = fp.FastConn(cache, a.fileno(), False, b"127.0.0.1", 1)
    out: list[bytes | int] = []
    try:
        for head in heads:
            b.sendall(head)
            rc = conn.serve()
            if rc == fp.FALLBACK:
                out.append(rc)
                break
            got, body = recv_response(b, 0 if head.startswith(b"HEAD") else 5)
            out.append(DATE.sub(b"", got))
    finally:
        conn.close()
        cache.clear()
        a.close()
        b.close()
    return out


def _plain(ka: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + SERVER + MID + ka + CTYPE + b"\r\n"


def _announced(ka: bytes) -> bytes:
    lead, rest = announced_fields(b"h2c,H2", ka)
    return b"HTTP/1.1 200 OK\r\n" + SERVER + lead + MID + rest + CTYPE + b"\r\n"


def test_first_answer_announces(fp: ModuleType, tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / "a"
    p.write_bytes(b"hello")
    get = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    got = _serve(fp, str(p), [get, get])
    assert got == [_announced(b""), _plain(b"")]
    assert b"Upgrade: h2c,H2\r\nConnection: Upgrade\r\n" in got[0]
    ka10 = b"GET /a HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
    ka = b"Keep-Alive: timeout=5, max=%d\r\nConnection: Keep-Alive\r\n"
    got = _serve(fp, str(p), [ka10, ka10])
    assert got == [_announced(ka % 5), _plain(ka % 4)]
    assert b"Connection: Upgrade, Keep-Alive\r\n" in got[0]
    close = b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    assert _serve(fp, str(p), [close]) == [_announced(b"Connection: close\r\n")]


def test_an_upgrade_request_gets_the_plain_answer(fp: ModuleType, tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / "a"
    p.write_bytes(b"hello")
    up = b"GET /a HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
    empty = b"GET /a HTTP/1.1\r\nHost: h\r\nUpgrade:\r\n\r\n"
    assert _serve(fp, str(p), [up, up]) == [_plain(b""), _plain(b"")]
    assert _serve(fp, str(p), [empty]) == [_announced(b"")]  # an empty value: announced
    two = b"GET /a HTTP/1.1\r\nHost: h\r\nUpgrade: a\r\nUpgrade: b\r\n\r\n"
    assert _serve(fp, str(p), [two]) == [fp.FALLBACK]
