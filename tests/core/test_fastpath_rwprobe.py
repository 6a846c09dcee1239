"""The engine's part of cached rewrite outcomes (src/fc_rwprobe.h, fc_rwfixed.h) and its
twin: probes repeated per hit (a created, removed or changed tested file is a miss and an
eviction), and fixed answers (a redirect's bytes) for GET only, logged with their status."""
from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from types import ModuleType

import pytest
from support.twins import Implementation
from support.wire import SERVER, recv_response

from fastcore.core.cacheable import (
    PROBE_IDENTITY,
    PROBE_LSTAT,
    PROBE_STAT,
    probes_hold,
    take_probe,
)
from fastcore.core.engine import probe_tuples

DATE = re.compile(rb"Date: [^\r]*\r\n")
GET = b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n"
LOCATION = b"Location: http://localhost/new\r\nContent-Length: 5\r\n"
CTYPE = b"Content-Type: text/html; charset=iso-8859-1\r\n"


class Engine:
    """A FastCache with one log, and one connection to it."""

    def __init__(self, fp: ModuleType, tmp: Path) -> None:
        self.fp = fp
        self.log_path = tmp / "access.log"
        self.logfd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self.cache = fp.FastCache()
        self.cache.configure(SERVER)
        self.cache.set_log_set(0, [(self.logfd, fp.compile_log_format("%>s %U %b"), False)])
        a, self.client = socket.socketpair()
        a.setblocking(False)
        self.server_sock = a
        self.conn = fp.FastConn(self.cache, a.fileno(), False, b"127.0.0.1", 5555)

    def values(self, target: bytes, path: str) -> tuple:
        return self.fp.log_values("localhost", "localhost", 80, target.decode(), "", path,
                                  "text/plain")

    def put(self, target: bytes, path: str, probes: tuple) -> bool:
        st = os.stat(path)
        mid = b"Content-Length: %d\r\n" % st.st_size
        return bool(self.cache.put(0, b"localhost", target, path.encode(), st.st_ino,
                                   st.st_size, st.st_mtime_ns, mid, b"", log_set=0,
                                   log_values=self.values(target, path), probes=probes))

    def ask(self, req: bytes, body: int) -> tuple[int, bytes]:
        self.client.sendall(req)
        rc = self.conn.serve()
        if rc == self.fp.FALLBACK:
            self.conn.take()
            return rc, b""
        head, data = recv_response(self.client, body)
        return rc, DATE.sub(b"", head) + data

    def log(self) -> list[str]:
        self.cache.flush_logs()
        return self.log_path.read_text().splitlines()

    def close(self) -> None:
        self.conn.close()
        self.cache.clear()
        self.client.close()
        self.server_sock.close()
        os.close(self.logfd)


@pytest.fixture
def eng(impl: Implementation, tmp_path: Path):
    e = Engine(impl.load("fastpath"), tmp_path)
    yield e
    e.close()


def test_absent_probe_misses_once_the_file_exists(eng: Engine, tmp_path: Path) -> None:
    served = tmp_path / "a.css"
    served.write_bytes(b"body\n")
    tested = tmp_path / "a.123.css"  # RewriteCond %{...}a.123.css !-f held
    assert eng.put(b"/a.123.css", str(served), probe_tuples((take_probe(str(tested), PROBE_STAT),)))
    assert eng.ask(GET % b"/a.123.css", 5)[0] == eng.fp.WANT_READ
    tested.write_bytes(b"other\n")
    assert eng.ask(GET % b"/a.123.css", 0)[0] == eng.fp.FALLBACK
    assert eng.cache.lookup(0, b"localhost", b"/a.123.css") is None  # evicted
    assert eng.cache.stats()["hits"] == 1


def test_present_probe_misses_once_removed_retyped_or_emptied(eng: Engine,
                                                              tmp_path: Path) -> None:
    served = tmp_path / "index.html"
    served.write_bytes(b"home\n")
    flag = tmp_path / "flag"
    flag.write_bytes(b"x")
    def retype() -> None:
        flag.unlink()
        flag.mkdir()

    for change in (flag.unlink, retype, lambda: flag.write_bytes(b"")):
        assert eng.put(b"/", str(served), probe_tuples((take_probe(str(flag), PROBE_STAT),)))
        assert eng.ask(GET % b"/", 5)[0] == eng.fp.WANT_READ
        change()
        assert eng.ask(GET % b"/", 0)[0] == eng.fp.FALLBACK
        if flag.is_dir():
            flag.rmdir()
        flag.write_bytes(b"x")
    # a content change that keeps the type and non-emptiness: the -f/-s tests still hold
    assert eng.put(b"/", str(served), probe_tuples((take_probe(str(flag), PROBE_STAT),)))
    flag.write_bytes(b"yy")
    assert eng.ask(GET % b"/", 5)[0] == eng.fp.WANT_READ


def test_lstat_and_identity_probes(eng: Engine, tmp_path: Path) -> None:
    served = tmp_path / "a.html"
    served.write_bytes(b"page\n")
    link = tmp_path / "ln"
    os.symlink(str(served), link)
    mapfile = tmp_path / "map.txt"
    mapfile.write_text("a b\n")
    probes = (take_probe(str(link), PROBE_LSTAT), take_probe(str(mapfile), PROBE_IDENTITY))
    assert probes_hold(probes)
    assert eng.put(b"/a", str(served), probe_tuples(probes))
    assert eng.ask(GET % b"/a", 5)[0] == eng.fp.WANT_READ
    os.utime(mapfile, ns=(1, 1))  # the map's identity changed (same size)
    assert not probes_hold(probes)
    assert eng.ask(GET % b"/a", 0)[0] == eng.fp.FALLBACK
    probes = (take_probe(str(link), PROBE_LSTAT),)
    assert eng.put(b"/a", str(served), probe_tuples(probes))
    link.unlink()
    link.write_bytes(b"page\n")  # a file where the link was: -l no longer holds
    assert eng.ask(GET % b"/a", 0)[0] == eng.fp.FALLBACK


def test_fixed_answer_for_get_with_its_status_in_the_log(eng: Engine, tmp_path: Path) -> None:
    line = b"HTTP/1.1 301 Moved Permanently\r\n"
    assert eng.cache.put_fixed(0, b"localhost", b"/old", 301, line, LOCATION, CTYPE, b"moved",
                               log_set=0, log_values=eng.values(b"/old", ""))
    want = line + SERVER + LOCATION + CTYPE + b"\r\nmoved"
    assert eng.ask(GET % b"/old", 5) == (eng.fp.WANT_READ, want)
    assert eng.ask(GET % b"/old", 5) == (eng.fp.WANT_READ, want)
    assert eng.ask(b"HEAD /old HTTP/1.1\r\nHost: localhost\r\n\r\n", 0)[0] == eng.fp.FALLBACK
    assert eng.cache.lookup(0, b"localhost", b"/old")["fixed"] == 301  # kept for GET
    assert eng.log() == ["301 /old 5", "301 /old 5"]
    assert eng.cache.stats()["hits"] == 2


def test_fixed_answer_probes_and_refusals(eng: Engine, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    line = b"HTTP/1.1 302 Found\r\n"
    probes = probe_tuples((take_probe(str(moved), PROBE_STAT),))
    assert eng.cache.put_fixed(0, b"localhost", b"/m", 302, line, LOCATION, CTYPE, b"moved",
                               probes=probes)
    assert eng.ask(GET % b"/m", 5)[0] == eng.fp.WANT_READ
    moved.mkdir()
    assert eng.ask(GET % b"/m", 0)[0] == eng.fp.FALLBACK
    with pytest.raises(ValueError):
        eng.cache.put_fixed(0, None, b"/m", 200, b"HTTP/1.1 200 OK\r\n", b"", b"", b"")
    assert not eng.cache.put_fixed(0, None, b"/m", 301, line, b"X: " + b"y" * 4000 + b"\r\n",
                                   CTYPE, b"")  # past FC_HDR_MAX
    too_many = probes * 65
    assert not eng.cache.put_fixed(0, None, b"/m", 301, line, LOCATION, CTYPE, b"moved",
                                   probes=too_many)
