"""HttpServer over real sockets: keep-alive, pipelining, bodies, timeouts, caches, logs,
scoreboard, event-style run().  Configuration built from model objects directly."""
from __future__ import annotations

import os
import select
import socket
import threading
import time

import pytest
from support.http_fakes import effective_defaults
from support.inprocess import exchange, make_server
from support.wire import parse_responses

from fastcore.core.server import CLOSED, WANT_READ, WANT_WRITE

HERE = os.path.dirname(os.path.abspath(__file__))


def statuses(raw: bytes) -> list[int]:
    return [s for s, _, _ in parse_responses(raw)]


def test_pipelining_and_keepalive(tmp_path: object) -> None:
    srv = make_server(str(tmp_path))
    req = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
    out = exchange(srv, req * 3 + b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" + req)
    resps = parse_responses(out)
    assert [r[0] for r in resps] == [200, 200, 200, 404, 200]
    assert resps[0][1]["keep-alive"] == "timeout=5, max=100"
    assert resps[2][1]["keep-alive"] == "timeout=5, max=98"   # fast path, same layout
    assert "keep-alive" not in resps[3][1]   # no keep-alive token sent (Apache's ka_sent)
    assert all(r[2] == b"hello a\n" for r in resps if r[0] == 200)
    srv.close()
    log = open(os.path.join(str(tmp_path), "access_log")).read().splitlines()
    assert log[0] == "200 GET /a.txt HTTP/1.1 0 +" and log[3] == "404 GET /nope HTTP/1.1 3 +"


def test_max_keepalive_requests_and_http10(tmp_path: object) -> None:
    srv = make_server(str(tmp_path), max_keep_alive_requests=2)
    out = exchange(srv, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
    resps = parse_responses(out)  # as Apache: MaxKeepAliveRequests kept answers, then close
    assert len(resps) == 3 and resps[2][1]["connection"] == "close"
    assert "connection" not in resps[1][1]
    out = exchange(srv, b"GET /a.txt HTTP/1.0\r\n\r\nGET /a.txt HTTP/1.0\r\n\r\n")
    assert len(parse_responses(out)) == 1                      # 1.0 without keep-alive
    out = exchange(srv, b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2)
    assert statuses(out) == [200, 200]
    srv.close()


def test_bodies_consumed_and_smuggling(tmp_path: object) -> None:
    srv = make_server(str(tmp_path))
    body_req = b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    assert statuses(exchange(srv, body_req)) == [200, 200]
    chunked = (b"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(exchange(srv, chunked)) == [200, 200]
    # CL + TE: the chunked body is read, and the connection is not reused for the smuggled request
    smuggle = (b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"0\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    out = exchange(srv, smuggle)
    assert statuses(out) == [200] and b"Connection: close" in out
    assert statuses(exchange(srv, b"GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")) == [400]
    srv.close()


def test_limit_request_body(tmp_path: object) -> None:
    srv = make_server(str(tmp_path), dir_defaults=effective_defaults(limit_request_body=10))
    out = exchange(srv, b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n" + b"x" * 11)
    assert out.startswith(b"HTTP/1.1 413 ") and b"Content-Length" not in out.split(b"\r\n\r\n")[0]
    out = exchange(srv, b"POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413 ")
    srv.close()


def test_expect_continue(tmp_path: object) -> None:
    srv = make_server(str(tmp_path))
    a, b = socket.socketpair()
    t = threading.Thread(target=srv.serve_blocking, args=(a.detach(), ("127.0.0.1", 1), -1))
    t.start()
    b.sendall(b"POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    b.settimeout(5)
    assert b.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    b.sendall(b"abc")
    b.shutdown(socket.SHUT_WR)
    rest = b""
    while chunk := b.recv(65536):
        rest += chunk
    b.close()
    t.join(5)
    assert statuses(rest) == [200]
    srv.close()


def test_timeout_gives_408_mid_request(tmp_path: object) -> None:
    srv = make_server(str(tmp_path), timeout=0.3, keep_alive_timeout=0.3)
    out = exchange(srv, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n", half_close=False)
    assert out.startswith(b"HTTP/1.1 408 ")
    out = exchange(srv, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", half_close=False)
    assert statuses(out) == [200]                              # idle keep-alive: silent close
    srv.close()


def test_fast_path_invalidation(tmp_path: object) -> None:
    srv = make_server(str(tmp_path))
    path = os.path.join(str(tmp_path), "htdocs", "a.txt")
    req = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    exchange(srv, req * 2)
    assert len(srv.cache) == 1
    with open(path + ".new", "wb") as f:
        f.write(b"replaced!\n")
    os.replace(path + ".new", path)                            # new inode
    r = parse_responses(exchange(srv, req))
    assert r[0][2] == b"replaced!\n" and r[0][1]["content-length"] == "10"
    with open(path, "r+b") as f:                               # truncated in place
        f.truncate(3)
    assert parse_responses(exchange(srv, req))[0][2] == b"rep"
    os.unlink(path)
    assert statuses(exchange(srv, req)) == [404]
    srv.close()


def test_large_file_and_fd_cache(tmp_path: object) -> None:
    srv = make_server(str(tmp_path), dir_defaults=effective_defaults(enable_sendfile=True))
    big = open(os.path.join(str(tmp_path), "htdocs", "big.bin"), "rb").read()
    req = b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
    r = parse_responses(exchange(srv, req * 3))
    assert [x[2] == big for x in r] == [True, True, True]
    assert srv.cache.open_descriptors() == 1  # one cached descriptor
    r = parse_responses(exchange(srv, b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=100-199\r\n\r\n"))
    assert r[0][0] == 206 and r[0][2] == big[100:200]
    srv.close()
    assert srv.cache.open_descriptors() == 0


def test_event_style_run(tmp_path: object) -> None:
    srv = make_server(str(tmp_path))
    a, b = socket.socketpair()
    a.setblocking(False)
    conn = srv.connection(a.detach(), ("127.0.0.1", 9), -1)
    state, _ = conn.run()
    assert state == WANT_READ                                  # nothing to read yet
    b.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    for _ in range(1000):
        state, _ = conn.run()
        assert state in (WANT_READ, WANT_WRITE)
        select.select([b], [], [], 0.05)
        while True:
            try:
                got += b.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
        if len(parse_responses(got)) == 1 and len(parse_responses(got)[0][2]) == 300_000:
            break
    assert parse_responses(got)[0][0] == 200
    b.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    select.select([b], [], [], 1)
    assert conn.run()[0] == CLOSED
    b.shutdown(socket.SHUT_WR)
    conn.close()
    b.close()
    srv.close()


def test_logs_from_forked_children_append(tmp_path: object) -> None:
    srv = make_server(str(tmp_path), buffered=True)           # logs opened here, in the "parent"
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            try:
                srv.child_init()
                exchange(srv, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
                srv.flush_logs()
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        assert os.waitpid(pid, 0)[1] == 0
    srv.close()
    lines = open(os.path.join(str(tmp_path), "access_log")).read().splitlines()
    assert len(lines) == 100 and all(line.startswith("200 GET /a.txt HTTP/1.1 ") for line in lines)


def test_scoreboard_updates(tmp_path: object) -> None:
    from fastcore._pure.scoreboard import Scoreboard
    sb = Scoreboard(1, 1)
    srv = make_server(str(tmp_path))
    srv.scoreboard = sb
    slot = sb.slot(0, 0)
    sb.slot_init(slot, os.getpid(), 0, 0)
    a, b = socket.socketpair()
    t = threading.Thread(target=srv.serve_blocking, args=(a.detach(), ("127.0.0.1", 1), slot))
    t.start()
    b.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    b.settimeout(5)
    b.recv(65536)
    time.sleep(0.1)
    assert sb.get_status(slot) == "K"                         # waiting for the next request
    info = sb.slot_info(slot)
    assert info["accesses"] == 1 and info["request"].startswith("GET /a.txt")
    b.close()
    t.join(5)
    assert sb.get_status(slot) == "_"
    srv.close()
    sb.close()


@pytest.mark.parametrize("mode,expect", [("off", 405), ("on", 200)])
def test_trace_enable(tmp_path: object, mode: str, expect: int) -> None:
    srv = make_server(str(tmp_path), trace_enable=mode)
    out = exchange(srv, b"TRACE /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert statuses(out) == [expect]
    if expect == 200:
        assert b"message/http" in out and b"TRACE /a.txt HTTP/1.1\r\nHost: x\r\n" in out
    else:
        assert b"\r\nAllow: \r\n" in out                        # Apache's empty Allow
        opts = exchange(srv, b"OPTIONS /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"Allow: POST,OPTIONS,HEAD,GET\r\n" in opts
    srv.close()


def test_error_documents(tmp_path: object) -> None:
    dd = effective_defaults(error_documents={404: '"gone fishing', 403: "http://e.com/denied"})
    srv = make_server(str(tmp_path), dir_defaults=dd)
    r = parse_responses(exchange(srv, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert r[0][0] == 404 and r[0][2] == b"gone fishing"
    srv.close()
    dd = effective_defaults(error_documents={404: "/sub/index.html"}, server_signature="on")
    srv = make_server(str(tmp_path / "b"), dir_defaults=dd)
    r = parse_responses(exchange(srv, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /sub HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert r[0][0] == 404 and r[0][2] == b"<p>sub</p>\n"
    assert r[1][0] == 301 and r[1][1]["location"] == "http://x/sub/"
    assert b"<address>fastcore/" in r[1][2] and b"Server at x Port 80</address>" in r[1][2]
    srv.close()


class CountingDNS:
    """Stands in for fastcore.core.dns.Resolver: counts lookups, answers a fixed name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    def reverse(self, ip: str, double: bool) -> str | None:
        self.calls.append((ip, double))
        return "client.example"


def test_hostname_lookups_scoped_to_files_section(tmp_path: object) -> None:
    from fastcore.config.model import DirConfig, Section
    sec = Section("files", "*.html", None, DirConfig(hostname_lookups="double"), "t", 1)
    srv = make_server(str(tmp_path), fmt="%h %U", sections=(sec,))
    dns = CountingDNS()
    srv.dns = dns
    out = exchange(srv, b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(out) == [200] and dns.calls == []          # outside <Files>: no DNS
    out = exchange(srv, b"GET /sub/index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(out) == [200] and dns.calls == [("127.0.0.1", False), ("127.0.0.1", True)]
    srv.close()
    lines = open(os.path.join(str(tmp_path), "access_log")).read().splitlines()
    assert lines == ["127.0.0.1 /a.txt", "client.example /sub/index.html"]


@pytest.mark.parametrize("tokens,banner", [("prod", b"fastcore"), ("major", b"fastcore/0"),
                                           ("full", b"fastcore/0.1.0 (")])
def test_server_tokens(tmp_path: object, tokens: str, banner: bytes) -> None:
    srv = make_server(str(tmp_path), tokens=tokens)
    out = exchange(srv, b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"\r\nServer: " + banner in out
    srv.close()


def test_client_reset_mid_response_leaks_no_descriptor(tmp_path: object) -> None:
    before = len(os.listdir("/proc/self/fd"))
    srv = make_server(str(tmp_path))
    for _ in range(5):
        a, b = socket.socketpair()
        b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        t = threading.Thread(target=srv.serve_blocking, args=(a.detach(), ("127.0.0.1", 1), -1))
        t.start()
        # a 300 kB range answer (slow path: its own descriptor), then the client vanishes
        b.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-299998\r\n\r\n")
        b.recv(100)
        b.close()
        t.join(10)
        assert not t.is_alive()
    srv.close()
    assert len(os.listdir("/proc/self/fd")) == before
