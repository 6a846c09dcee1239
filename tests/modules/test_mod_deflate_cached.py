"""mod_deflate's answers as cache entries (issue 13): a file DEFLATE compresses is cached
with its gzip variant, and every hit (the Python cache and the C engine) picks the answer
by Accept-Encoding, sending the bytes the full path sends for that request."""
from __future__ import annotations

import gzip
import os
import socket
from pathlib import Path

import pytest
from support.configs import HEADER
from support.inprocess import FastcoreThread
from support.wire import parse_responses

LOAD = ("LoadModule filter_module modules/mod_filter.so\n"
        "LoadModule deflate_module modules/mod_deflate.so\n"
        "LoadModule headers_module modules/mod_headers.so\n")
TEXT = b"".join(b"line %d of a compressible text file\n" % i for i in range(3000))
# Accept-Encoding values (None: no field) the hits must answer as the full path does
VALUES = [None, "gzip", "GZIP", "x-gzip", "gzip;q=0", "gzip; q=0.0", "gzip;q=0.5",
          "br, gzip", "*", "identity", "deflate, gzip;q=0", "gzip;Q=0", " gzip ",
          "br;q=1, gzip;q=0.001", "gzip,gzip;q=0", '"gzip"', "gzip;q=0.0000"]


def _site(tmp: Path, extra: str = "") -> str:
    www = tmp / "www"
    www.mkdir(parents=True)
    (www / "big.txt").write_bytes(TEXT)
    (www / "pic.png").write_bytes(b"\x89PNG" + bytes(4000))
    for f in www.iterdir():
        os.utime(f, (1_700_000_000, 1_700_000_000))
    body = (HEADER.format(root=tmp) + LOAD
            + "<Directory />\n AllowOverride None\n Options FollowSymLinks\n</Directory>\n"
            + f"DocumentRoot {www}\n<Directory {www}>\n Require all granted\n</Directory>\n"
            "AddOutputFilterByType DEFLATE text/plain\n"
            f"CustomLog {tmp}/access_log \"%U %>s %b\"\n" + extra)
    path = tmp / "httpd.conf"
    path.write_text(body)
    return str(path)


def _ask(port: int, requests: list[bytes]) -> list[tuple[int, dict[str, str], bytes]]:
    """Send the requests on one connection (each after the previous answer)."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        for req in requests:
            s.sendall(req)
            out.extend(parse_responses(_read_one(f, req.startswith(b"HEAD")),
                                       head_request=req.startswith(b"HEAD")))
    return out


def _read_one(f, head: bool) -> bytes:  # noqa: ANN001 - a socket file
    raw = b""
    while not raw.endswith(b"\r\n\r\n"):
        line = f.readline()
        assert line, "connection closed"
        raw += line
    length = 0
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return raw + (b"" if head else f.read(length))


def _req(value: str | None, method: str = "GET", path: str = "/big.txt") -> bytes:
    ae = "" if value is None else f"Accept-Encoding: {value}\r\n"
    return f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{ae}\r\n".encode()


def _fields(h: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in h.items() if k != "date"}


@pytest.mark.parametrize("board", ["pure", "compiled", "none"])
def test_hits_answer_each_accept_encoding_as_the_full_path(tmp_path: Path, board: str) -> None:
    """For every value: the first answer (a fresh server each time: the full path) and
    the second and third (cache hits, after another value filled the entry) agree."""
    fresh = {}
    for value in VALUES:
        srv = FastcoreThread(_site(tmp_path / f"f{VALUES.index(value)}"), board="pure")
        try:
            fresh[value] = _ask(srv.port, [_req(value)])[0]
        finally:
            srv.stop()
    srv = FastcoreThread(_site(tmp_path / "cached"), board=board)  # type: ignore[arg-type]
    try:
        got = _ask(srv.port, [_req(None)] + [_req(v) for v in VALUES for _ in range(2)])
        engine = srv.srv.engine
        hits = engine.cache.stats()["hits"] if engine.cache is not None else 0
    finally:
        srv.stop()
    for i, value in enumerate(VALUES):
        status, h, body = fresh[value]
        for k in (1 + 2 * i, 2 + 2 * i):
            assert (got[k][0], _fields(got[k][1]), got[k][2]) == (status, _fields(h), body), value
    gz = fresh["gzip"]
    assert gz[1]["content-encoding"] == "gzip" and gzip.decompress(gz[2]) == TEXT
    assert gz[1]["etag"].endswith('-gzip"') and gz[1]["vary"] == "Accept-Encoding"
    assert "content-encoding" not in fresh["x-gzip"][1] and fresh["x-gzip"][2] == TEXT
    assert fresh["gzip;q=0.5"][1]["content-encoding"] == "gzip"
    assert "content-encoding" not in fresh["gzip;q=0"][1]
    if board != "pure":  # all but the first answer came from the C engine
        assert hits == 2 * len(VALUES)


@pytest.mark.parametrize("board", ["pure", "compiled"])
def test_head_and_a_rewritten_file(tmp_path: Path, board: str) -> None:
    """HEAD hits state the compressed length; a rewritten file is compressed anew."""
    conf = _site(tmp_path)
    srv = FastcoreThread(conf, board=board)  # type: ignore[arg-type]
    try:
        first = _ask(srv.port, [_req("gzip"), _req("gzip", "HEAD"), _req("gzip", "HEAD")])
        new = TEXT.replace(b"line", b"LINE")
        (tmp_path / "www" / "big.txt").write_bytes(new)
        os.utime(tmp_path / "www" / "big.txt", (1_700_000_000, 1_700_000_000))
        after = _ask(srv.port, [_req("gzip"), _req("gzip")])
    finally:
        srv.stop()
    assert first[1][2] == first[2][2] == b""
    assert first[1][1]["content-length"] == first[2][1]["content-length"] == str(len(first[0][2]))
    assert [gzip.decompress(b) for _, _, b in after] == [new, new]


def test_what_depends_on_more_than_accept_encoding_stays_on_the_full_path(
        tmp_path: Path) -> None:
    """An expression provider, a note, SetEnv no-gzip: not cached as variants."""
    for extra in ('DeflateFilterNote ratio\n',
                  'LoadModule env_module modules/mod_env.so\nSetEnv no-gzip 1\n',
                  'FilterDeclare gz\nFilterProvider gz DEFLATE "%{HTTP_USER_AGENT} =~ /x/"\n'
                  'FilterChain gz\n'):
        d = tmp_path / str(abs(hash(extra)))
        srv = FastcoreThread(_site(d, extra), board="compiled")
        try:
            got = _ask(srv.port, [_req("gzip")] * 3)
            assert len(srv.srv.cache) == 0 and srv.srv.engine.cache.stats()["hits"] == 0
        finally:
            srv.stop()
        assert len({b for _, _, b in got}) == 1
