"""The C fast path inside HttpServer answers byte for byte as the Python path does, and
writes the same access-log lines: the same requests over real sockets to a server whose
connections use the engine and to one whose connections do not."""
from __future__ import annotations

import os
import re
import socket
import time

import pytest
from support.inprocess import engine_exchange

from fastcore.config import load
from fastcore.core.server import HttpServer

DATE = re.compile(rb"Date: [^\r]*\r\n")
CLF = re.compile(r"\[[^\]]*\] ")
REQUESTS = [  # MaxKeepAliveRequests 4: the fifth request on a connection is answered "close"
    b"GET /a.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: t\r\nConnection: keep-alive\r\n\r\n",
    b"GET /a.html HTTP/1.1\r\nHost: localhost\r\nReferer: http://x/\"q\"\r\n\r\n",
    b"HEAD /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /a.html?x=1 HTTP/1.1\r\nHost: localhost:80\r\nConnection: x-foo, Keep-Alive\r\n\r\n",
    b"GET /a.html?x=1 HTTP/1.1\r\nHost: localhost:80\r\nConnection: keep-alive\r\n\r\n",
    b"GET /big.bin HTTP/1.1\r\nHost: LocalHost\r\nConnection: Keep-Alive\r\n\r\n",
    b"GET /big.bin HTTP/1.1\r\nHost: LocalHost\r\n\r\n",
    b"GET /a.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET /a.html HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    b"GET /a.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
]


def test_engine_answers_and_logs_as_the_python_path(conf):
    path, tmp = conf
    results = []
    for engine in (True, False):
        log = tmp / "access_log"
        if log.exists():
            log.unlink()
        srv = HttpServer(load(path), None)
        srv.child_init()
        try:
            wire = engine_exchange(srv, engine, REQUESTS)
            stats = srv.engine.cache.stats()
        finally:
            srv.close()
        lines = [CLF.sub("[T] ", ln) for ln in log.read_text(encoding="latin-1").splitlines()]
        results.append((wire, lines, stats))
    (w_on, l_on, s_on), (w_off, l_off, s_off) = results
    assert s_on["hits"] >= 5, s_on   # the engine really served the repeats
    assert s_off["hits"] == 0
    assert len(w_on) == len(REQUESTS) and all(w.startswith(b"HTTP/1.1 200 OK") for w in w_on)
    assert w_on == w_off
    assert l_on == l_off
    # Apache's ka_sent rule: the Keep-Alive headers answer a keep-alive token (either
    # spelling, in a list), never a plain kept HTTP/1.1 request; max=1 is still kept
    ka = [re.search(rb"Keep-Alive: ([^\r]*)\r\n", w) for w in w_on]
    assert [m.group(1) if m else None for m in ka] == [
        b"timeout=7, max=4", None, None, b"timeout=7, max=1", None,
        b"timeout=7, max=4", None, b"timeout=7, max=2", b"timeout=7, max=1", None]
    assert [b"Connection: Keep-Alive\r\n" in w for w in w_on] == [m is not None for m in ka]
    assert [i for i, w in enumerate(w_on) if b"Connection: close\r\n" in w] == [4, 9]


def test_replaced_file_is_served_fresh(conf):
    path, tmp = conf
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        req = [b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n"] * 2
        first = engine_exchange(srv, True, req)
        new = tmp / "htdocs" / "new.html"
        new.write_bytes(b"replaced!\n")
        os.utime(new, (1_600_000_100, 1_600_000_100))
        os.rename(new, tmp / "htdocs" / "a.html")
        second = engine_exchange(srv, True, req)
    finally:
        srv.close()
    assert first[1].endswith(b"<p>hello</p>\n")
    assert second[0].endswith(b"\r\n\r\nreplaced!\n") and second[1].endswith(b"\r\n\r\nreplaced!\n")
    assert srv.engine.cache.stats()["evictions"] >= 1


def test_engine_keeps_log_lines_in_order_with_python_lines(conf):
    path, tmp = conf
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        reqs = [b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
                b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
                b"GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n",
                b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n"]
        engine_exchange(srv, True, reqs)
        assert not (tmp / "access_log").read_text()  # BufferedLogs: nothing written yet
        srv.flush_logs()
    finally:
        srv.close()
    statuses = [ln.split('"')[2].split()[0] for ln in (tmp / "access_log").read_text().splitlines()]
    assert statuses == ["200", "200", "404", "200"]
    time.sleep(0)


@pytest.mark.parametrize("mpm,logfmt", [
    ("event", ""),                                             # the C loop serves repeats
    ("event", 'LogFormat "%k %{remote}p" kal\nCustomLog "{tmp}/kal_log" kal\n'),  # Python
    ("worker", ""),
])
def test_keepalive_count_survives_the_event_loop(tmp_path, mpm: str, logfmt: str) -> None:
    """One connection under a real MPM, whichever path answers each request (the event
    MPM hands connections between Python and the C loop): MaxKeepAliveRequests 3 counts
    max=3, 2, 1 and the fourth answer closes, as Apache does."""
    from support.servers import FastcoreServer
    extra = "KeepAlive On\nMaxKeepAliveRequests 3\n" + logfmt.replace("{tmp}", str(tmp_path))
    srv = FastcoreServer(str(tmp_path), mpm, extra).start()
    got = []
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            for _ in range(4):
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
                        re.search(rb"Content-Length: (\d+)", data).group(1)):
                    chunk = s.recv(65536)
                    assert chunk, data
                    data += chunk
                got.append(re.findall(rb"(?:Keep-Alive|Connection): [^\r]*", data))
            assert s.recv(1) == b""  # the server closed after the fourth answer
    finally:
        srv.stop()
    assert got == [[b"Keep-Alive: timeout=5, max=3", b"Connection: Keep-Alive"],
                   [b"Keep-Alive: timeout=5, max=2", b"Connection: Keep-Alive"],
                   [b"Keep-Alive: timeout=5, max=1", b"Connection: Keep-Alive"],
                   [b"Connection: close"]]


@pytest.mark.parametrize("engine", [True, False])
def test_same_size_rewrite_with_mtime_put_back_is_served_fresh(conf, engine: bool) -> None:
    """`cp -p` onto a cached file: same inode, same size, the old mtime restored.  Only
    the ctime tells, and both caches (the engine's, the Python one) check it."""
    path, tmp = conf
    srv = HttpServer(load(path), None)
    srv.child_init()
    target = tmp / "htdocs" / "a.html"
    old = target.stat()
    try:
        req = [b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n"] * 2
        first = engine_exchange(srv, engine, req)
        with open(target, "r+b") as f:  # in place: the inode stays
            f.write(b"<P>HELLO</P>\n")
        os.utime(target, ns=(old.st_atime_ns, old.st_mtime_ns))
        now = target.stat()
        assert (now.st_ino, now.st_size, now.st_mtime_ns) == (old.st_ino, old.st_size,
                                                              old.st_mtime_ns)
        second = engine_exchange(srv, engine, req)
    finally:
        srv.close()
    assert first[1].split(b"\r\n\r\n", 1)[1].startswith(b"<p>hello</p>\n")
    for answer in second:
        assert answer.split(b"\r\n\r\n", 1)[1].startswith(b"<P>HELLO</P>\n<p>hello</p>\n")
