"""Request smuggling: a generated corpus of framing tricks (CL/TE conflicts, obs-fold,
duplicated and whitespace-padded framing fields, chunk extensions, bare LF, Content-Length
with signs, leading zeros and commas, TE lists, TE in HTTP/1.0), each request followed by
a second one on the same connection, sent verbatim to real Apache and to fastcore on the
same httpd.conf.  The framing a client (or a proxy in front) observes: how many answers,
their statuses, and whether the server closed the connection.  fastcore must frame every
case as Apache does; a case where Apache itself is not deterministic (two runs differ)
must get a lone 400 and a close from fastcore."""
from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.apache_oracle import ApacheOracle
from support.wire import parse_responses

SITE = """\
DocumentRoot {root}
Timeout 5
KeepAlive On
KeepAliveTimeout 4
MaxKeepAliveRequests 100
<Directory />
    Require all granted
</Directory>
"""
SECOND = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
QUIET = 1.2  # seconds without a byte: the server keeps the connection (KeepAliveTimeout 4)
FIRST = 3.0  # the wait for the first byte of an answer (a loaded machine)


def _post(fields: bytes, body: bytes, line: bytes = b"POST /a HTTP/1.1") -> bytes:
    return line + b"\r\nHost: x\r\n" + fields + b"\r\n" + body


TE = b"Transfer-Encoding"
CL = b"Content-Length"
CHUNKED = b"5\r\nhello\r\n0\r\n\r\n"


def corpus() -> dict[str, bytes]:
    """name -> the first request (SECOND follows it on the wire)."""
    c: dict[str, bytes] = {
        "plain-get": b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
        "cl": _post(CL + b": 5\r\n", b"hello"),
        "te": _post(TE + b": chunked\r\n", CHUNKED),
        "cl-and-te": _post(CL + b": 5\r\n" + TE + b": chunked\r\n", CHUNKED),
        "te-and-cl": _post(TE + b": chunked\r\n" + CL + b": 5\r\n", CHUNKED),
        "te-and-cl-0": _post(TE + b": chunked\r\n" + CL + b": 0\r\n", CHUNKED),
        "cl-short-body": _post(CL + b": 40\r\n", b"hello"),
        "get-with-cl": _post(CL + b": 5\r\n", b"hello", b"GET /a HTTP/1.1"),
        "http10-te": _post(TE + b": chunked\r\n", CHUNKED, b"POST /a HTTP/1.0"),
        "http10-te-keepalive": _post(TE + b": chunked\r\nConnection: keep-alive\r\n", CHUNKED,
                                     b"POST /a HTTP/1.0"),
        "http10-cl-keepalive": _post(CL + b": 5\r\nConnection: keep-alive\r\n", b"hello",
                                     b"POST /a HTTP/1.0"),
        "te-fold": _post(TE + b":\r\n chunked\r\n", CHUNKED),
        "cl-fold": _post(CL + b":\r\n 5\r\n", b"hello"),
        "te-space-before-colon": _post(TE + b" : chunked\r\n", CHUNKED),
        "cl-space-before-colon": _post(CL + b" : 5\r\n", b"hello"),
        "te-tab-value": _post(TE + b":\tchunked\t\r\n", CHUNKED),
        "te-padded": _post(TE + b":   chunked   \r\n", CHUNKED),
        "te-upper": _post(TE + b": CHUNKED\r\n", CHUNKED),
        "te-xchunked": _post(TE + b": xchunked\r\n", CHUNKED),
        "te-chunked-x": _post(TE + b": chunkedx\r\n", CHUNKED),
        "te-gzip-chunked": _post(TE + b": gzip, chunked\r\n", CHUNKED),
        "te-chunked-gzip": _post(TE + b": chunked, gzip\r\n", CHUNKED),
        "te-chunked-chunked": _post(TE + b": chunked, chunked\r\n", CHUNKED),
        "te-identity": _post(TE + b": identity\r\n", CHUNKED),
        "te-twice": _post(TE + b": chunked\r\n" + TE + b": chunked\r\n", CHUNKED),
        "te-gzip-then-chunked": _post(TE + b": gzip\r\n" + TE + b": chunked\r\n", CHUNKED),
        "te-chunked-then-gzip": _post(TE + b": chunked\r\n" + TE + b": gzip\r\n", CHUNKED),
        "te-empty": _post(TE + b":\r\n", CHUNKED),
        "te-comma": _post(TE + b": ,chunked\r\n", CHUNKED),
        "cl-twice-same": _post(CL + b": 5\r\n" + CL + b": 5\r\n", b"hello"),
        "cl-twice-differ": _post(CL + b": 5\r\n" + CL + b": 6\r\n", b"hello!"),
        "cl-list": _post(CL + b": 5, 5\r\n", b"hello"),
        "cl-plus": _post(CL + b": +5\r\n", b"hello"),
        "cl-minus": _post(CL + b": -5\r\n", b"hello"),
        "cl-zeros": _post(CL + b": 0005\r\n", b"hello"),
        "cl-hex": _post(CL + b": 0x5\r\n", b"hello"),
        "cl-inner-space": _post(CL + b": 5 5\r\n", b"hello"),
        "cl-trailing-junk": _post(CL + b": 5x\r\n", b"hello"),
        "cl-empty": _post(CL + b":\r\n", b"hello"),
        "cl-huge": _post(CL + b": 99999999999999999999\r\n", b"hello"),
        "cl-padded": _post(CL + b":   5  \r\n", b"hello"),
        "chunk-ext": _post(TE + b": chunked\r\n", b"5;name=value\r\nhello\r\n0\r\n\r\n"),
        "chunk-ext-quoted": _post(TE + b": chunked\r\n",
                                  b'5;n="a;b"\r\nhello\r\n0;x\r\n\r\n'),
        "chunk-size-space": _post(TE + b": chunked\r\n", b"5 \r\nhello\r\n0\r\n\r\n"),
        "chunk-size-tab-ext": _post(TE + b": chunked\r\n", b"5\t;x\r\nhello\r\n0\r\n\r\n"),
        "chunk-size-plus": _post(TE + b": chunked\r\n", b"+5\r\nhello\r\n0\r\n\r\n"),
        "chunk-size-0x": _post(TE + b": chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n"),
        "chunk-size-overflow": _post(TE + b": chunked\r\n",
                                     b"ffffffffffffffffff1\r\nhello\r\n0\r\n\r\n"),
        "chunk-size-zeros": _post(TE + b": chunked\r\n", b"0005\r\nhello\r\n0\r\n\r\n"),
        "chunk-bare-lf": _post(TE + b": chunked\r\n", b"5\nhello\n0\n\n"),
        "chunk-data-bare-lf": _post(TE + b": chunked\r\n", b"5\r\nhello\n0\r\n\r\n"),
        "chunk-data-too-long": _post(TE + b": chunked\r\n", b"3\r\nhello\r\n0\r\n\r\n"),
        "chunk-trailer": _post(TE + b": chunked\r\n", b"5\r\nhello\r\n0\r\nX: y\r\n\r\n"),
        "chunk-trailer-bare-lf": _post(TE + b": chunked\r\n", b"5\r\nhello\r\n0\r\nX: y\n\r\n"),
        "chunk-no-last": _post(TE + b": chunked\r\n", b"5\r\nhello\r\n"),
        "head-bare-lf": b"POST /a HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello",
        "head-bare-cr": b"POST /a HTTP/1.1\r\nHost: x\rContent-Length: 5\r\n\r\nhello",
        "te-nul": _post(TE + b": chunked\x00\r\n", CHUNKED),
        "te-vtab": _post(TE + b":\x0bchunked\r\n", CHUNKED),
        "name-nul": _post(b"Transfer-Encoding\x00: chunked\r\n", CHUNKED),
        "expect-cl": _post(CL + b": 5\r\nExpect: 100-continue\r\n", b"hello"),
        "get-te": _post(TE + b": chunked\r\n", CHUNKED, b"GET /a HTTP/1.1"),
        "head-with-cl": _post(CL + b": 5\r\n", b"hello", b"HEAD /a HTTP/1.1"),
    }
    return c


@dataclass(frozen=True)
class Framing:
    """What a client sees of one connection: the statuses in order, and a close."""

    statuses: tuple[int, ...]
    closed: bool


def exchange(port: int, data: bytes) -> Framing:
    """Send data, read until the server closes or stays quiet for QUIET seconds."""
    out = b""
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.settimeout(FIRST)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
            s.settimeout(QUIET)
    return Framing(tuple(st for st, _h, _b in parse_responses(out)), closed)


@pytest.fixture(scope="module")
def answers() -> Iterator[dict[str, tuple[Framing, Framing, Framing]]]:
    """name -> (Apache, Apache again, fastcore)."""
    cases = corpus()
    got: dict[str, list[Framing]] = {k: [] for k in cases}
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        root = os.path.join(tmp, "www")
        os.makedirs(root)
        os.chmod(root, 0o755)
        for name, text in (("a", "first\n"), ("b", "second\n")):
            with open(os.path.join(root, name), "w") as fh:
                fh.write(text)
        for run, fastcore in (("ap1", False), ("ap2", False), ("fc", True)):
            d = os.path.join(tmp, run)
            os.makedirs(d)
            with ApacheOracle(d, SITE.format(root=root), fastcore=fastcore) as srv:
                assert exchange(srv.port, SECOND).statuses == (200,)  # warm: children up
                for name, first in cases.items():
                    got[name].append(exchange(srv.port, first + SECOND))
    yield {k: (v[0], v[1], v[2]) for k, v in got.items()}


def test_corpus_is_broad() -> None:
    assert len(corpus()) >= 60


@pytest.mark.timeout(900)
def test_fastcore_frames_every_case_as_apache(answers) -> None:
    wrong = {}
    for name, (ap1, ap2, fc) in answers.items():
        want = ap1 if ap1 == ap2 else Framing((400,), True)
        if fc != want:
            wrong[name] = (want, fc)
    assert not wrong, wrong


def test_second_request_is_never_swallowed_differently(answers) -> None:
    """The smuggling question itself: SECOND answered (200) exactly when Apache answers
    it, so no request hides in a body one side reads and the other does not."""
    for name, (ap1, _ap2, fc) in answers.items():
        assert (len(ap1.statuses) >= 2) == (len(fc.statuses) >= 2), (name, ap1, fc)
