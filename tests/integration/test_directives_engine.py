"""Directives that change a cacheable response's header bytes reach the C engine's cache
too: the repeats the engine serves (no Python per request) carry them as the first answer
did."""
from __future__ import annotations

from support.inprocess import engine_exchange

from fastcore.config import load
from fastcore.core.server import HttpServer

REQ = b"GET /a.html HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n"


def _serve(path: str, extra: str, n: int) -> tuple[list[bytes], dict]:
    with open(path) as fh:
        text = fh.read()
    with open(path, "w") as fh:
        fh.write(text.replace("    Require all granted\n", f"    Require all granted\n{extra}"))
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        wire = engine_exchange(srv, True, [REQ] * n)
        return wire, srv.engine.cache.stats()
    finally:
        srv.close()


def test_add_default_charset_in_engine_hits(conf) -> None:  # noqa: F811
    wire, stats = _serve(conf[0], "    AddDefaultCharset utf-8\n", 3)
    assert stats["hits"] >= 2, stats
    assert all(b"\r\nContent-Type: text/html; charset=utf-8\r\n" in w for w in wire), wire


def test_file_etag_in_engine_hits(conf) -> None:  # noqa: F811
    wire, stats = _serve(conf[0], "    FileETag INode\n", 3)
    assert stats["hits"] >= 2, stats
    tags = [w.split(b"ETag: ", 1)[1].split(b"\r\n", 1)[0] for w in wire]
    assert len(set(tags)) == 1 and b"-" not in tags[0], tags  # the inode alone


def test_digest_etag_is_strong_even_when_just_modified(conf) -> None:  # noqa: F811
    """FileETag Digest hashes the content: Apache never marks it weak (W/), unlike the
    inode/size/mtime tag of a file modified within the last second."""
    doc = conf[1] / "htdocs"
    (doc / "a.html").write_bytes(b"fresh\n")  # modified now; Apache tags it as below
    wire, _stats = _serve(conf[0], "    FileETag Digest\n", 1)
    assert b'\r\nETag: "ygKWnnOJD46m1uw13KbBwqVsZVQ="\r\n' in wire[0], wire
