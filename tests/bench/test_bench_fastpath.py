"""The fast path per request: one cached 10240-byte keep-alive request served by
FastConn.serve() (read, parse, lookup, stat, one vectored write, access-log line) over a
Unix socket pair, for the extension and its pure-Python twin (the speedup is the point:
DESIGN principle 7).  The client side's send and drain run in the same loop, so the
figure is an upper bound of the engine's own cost."""
from __future__ import annotations

import importlib
import os
import socket

import pytest

REQ = (b"GET /10k.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\n"
       b"Accept: */*\r\n\r\n")
IMPLS = {"cython": "fastcore._fastpath", "pure": "fastcore._pure.fastpath"}


@pytest.fixture(params=list(IMPLS))
def engine(request, tmp_path):
    fp = importlib.import_module(IMPLS[request.param])
    path = tmp_path / "10k.html"
    path.write_bytes(bytes(97 + i % 26 for i in range(10240)))
    os.utime(path, (1_600_000_000, 1_600_000_000))
    logfd = os.open(tmp_path / "access_log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    cache = fp.FastCache()
    cache.configure(b"Server: Apache\r\n")
    cache.set_log_set(0, [(logfd, fp.compile_log_format('%h %l %u %t "%r" %>s %b'), True)])
    st = os.stat(path)
    mid = (b'Last-Modified: Sun, 13 Sep 2020 12:26:40 GMT\r\nETag: "2800-5af3107a40000"\r\n'
           b"Accept-Ranges: bytes\r\nContent-Length: 10240\r\n")
    assert cache.put(0, b"localhost", b"/10k.html", str(path).encode(), st.st_ino, st.st_size,
                     st.st_mtime_ns, mid, b"Content-Type: text/html\r\n", log_set=0,
                     max_keep_alive=0,
                     log_values=fp.log_values("localhost", "localhost", 80, "/10k.html", "",
                                              str(path), "text/html"))
    a, b = socket.socketpair()
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    conn = fp.FastConn(cache, a.fileno(), False, b"127.0.0.1")
    yield request.param, fp, conn, b
    conn.close()
    cache.flush_logs()
    cache.clear()
    a.close()
    b.close()
    os.close(logfd)


def test_bench_fastpath_request(benchmark, engine):
    name, fp, conn, client = engine

    def one() -> None:
        client.send(REQ)
        assert conn.serve() == fp.WANT_READ
        got = 0
        while got < 10240 + 200:
            got += len(client.recv(65536))

    benchmark.extra_info["implementation"] = name
    benchmark(one)
    assert conn.requests > 0
