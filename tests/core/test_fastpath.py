"""The GIL-free fast path (fastcore._fastpath) and its twin: what a client and the access
log observe for cache hits, and that everything else is left, byte for byte, to Python."""
from __future__ import annotations

import os
import re
import socket
from types import ModuleType

import pytest
from support.twins import IMPLEMENTATIONS, Implementation
from support.wire import SERVER, recv_response

COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"'
DATE = re.compile(rb"Date: [^\r]*\r\n")


@pytest.fixture
def fp(impl: Implementation) -> ModuleType:
    return impl.load("fastpath")


class Site:
    """A document root, a log file, a cache and helpers to talk to one connection."""

    def __init__(self, fp, tmp_path, fmt=COMBINED, buffered=False, **cache_kw):
        self.fp = fp
        self.root = tmp_path
        self.log_path = tmp_path / "access.log"
        self.logfd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC)
        self.cache = fp.FastCache(**cache_kw)
        self.cache.configure(SERVER)
        self.cache.set_log_set(0, [(self.logfd, fp.compile_log_format(fmt), buffered)])
        self.socks: list[socket.socket] = []
        self.conns: list = []

    def file(self, name: str, data: bytes) -> str:
        p = self.root / name
        p.write_bytes(data)
        return str(p)

    def put(self, target: bytes, path: str, host: bytes | None = b"localhost", **kw) -> bool:
        st = os.stat(path)
        mid = b"ETag: \"x\"\r\nAccept-Ranges: bytes\r\nContent-Length: %d\r\n" % st.st_size
        kw.setdefault("log_set", 0)
        kw.setdefault("log_values", self.fp.log_values("localhost", "localhost", 80,
                                                       target.decode(), "", path, "text/plain"))
        return self.cache.put(0, host, target, path.encode(), st.st_ino, st.st_size,
                              st.st_mtime_ns, mid, b"Content-Type: text/plain\r\n", **kw)

    def connect(self, blocking=False, **kw):
        a, b = socket.socketpair()
        a.setblocking(blocking)
        self.socks += [a, b]
        conn = self.fp.FastConn(self.cache, a.fileno(), blocking, b"127.0.0.1", 5555, **kw)
        self.conns.append(conn)
        return conn, b

    def close(self):
        for c in self.conns:
            c.close()
        self.cache.flush_logs()
        self.cache.clear()
        for s in self.socks:
            s.close()
        os.close(self.logfd)

    def log(self) -> list[str]:
        return self.log_path.read_text().splitlines()


@pytest.fixture
def site(fp, tmp_path):
    s = Site(fp, tmp_path)
    yield s
    s.close()


def expected_head(length: int, conn: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nDate: D\r\n" + SERVER + b"ETag: \"x\"\r\nAccept-Ranges: bytes\r\n"
            b"Content-Length: %d\r\n" % length + conn + b"Content-Type: text/plain\r\n\r\n")


def norm(head: bytes) -> bytes:
    return DATE.sub(b"Date: D\r\n", head)


def test_hit_sends_cached_response_and_logs_combined_line(fp, site):
    path = site.file("a.txt", b"hello world\n")
    assert site.put(b"/a.txt", path)
    conn, client = site.connect()
    client.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: t \"q\"\r\n\r\n")
    assert conn.serve() == fp.WANT_READ
    head, body = recv_response(client, 12)
    # kept open, but no keep-alive token: Apache's ka_sent rule sends no Keep-Alive header
    assert norm(head) == expected_head(12, b"")
    assert body == b"hello world\n"
    assert conn.requests == 1
    line = site.log()[0]
    assert re.fullmatch(r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
                        r'"GET /a\.txt HTTP/1\.1" 200 12 "-" "t \\"q\\""', line), line
    assert site.cache.stats()["hits"] == 1


def test_keepalive_countdown_and_close_on_last(fp, site):
    """MaxKeepAliveRequests 3 as Apache: max=3..1 kept, the fourth request closes; the
    Keep-Alive header answers a keep-alive token in either spelling, or in a list."""
    path = site.file("a.txt", b"abc")
    assert site.put(b"/a.txt", path, max_keep_alive=3)
    conn, client = site.connect()
    conns = []
    for tok in (b"keep-alive", b"x-foo , Keep-Alive", b"KEEP-ALIVE", b"keep-alive"):
        client.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: %s\r\n\r\n" % tok)
        rc = conn.serve()
        head, _ = recv_response(client, 3)
        conns.append(re.search(rb"(Keep-Alive: [^\r]*\r\n)?Connection: [^\r]*", head).group(0))
    assert conns == [b"Keep-Alive: timeout=5, max=3\r\nConnection: Keep-Alive",
                     b"Keep-Alive: timeout=5, max=2\r\nConnection: Keep-Alive",
                     b"Keep-Alive: timeout=5, max=1\r\nConnection: Keep-Alive",
                     b"Connection: close"]
    assert rc == fp.CLOSED and conn.closing


def test_plain_http11_kept_without_keepalive_headers(fp, site):
    """No keep-alive token: the connection stays open (max counts down unseen) with neither
    Keep-Alive nor Connection; the request after the last kept one gets Connection: close."""
    path = site.file("a.txt", b"abc")
    assert site.put(b"/a.txt", path, max_keep_alive=2)
    conn, client = site.connect()
    heads, rcs = [], []
    for _ in range(3):
        client.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: x-keep-alive\r\n\r\n")
        rcs.append(conn.serve())
        heads.append(recv_response(client, 3)[0])
    assert rcs == [fp.WANT_READ, fp.WANT_READ, fp.CLOSED]
    assert [b"Keep-Alive" in h for h in heads] == [False, False, False]
    assert [b"Connection: close\r\n" in h for h in heads] == [False, False, True]


def test_http10_keepalive_only_when_asked_and_head_has_no_body(fp, site):
    path = site.file("a.txt", b"abcdef")
    assert site.put(b"/a.txt", path, host=None)
    conn, client = site.connect()
    client.sendall(b"HEAD /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert conn.serve() == fp.WANT_READ
    client.settimeout(5)
    head = client.recv(65536)
    assert norm(head) == expected_head(6, b"Keep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\n")
    client.sendall(b"GET /a.txt HTTP/1.0\r\n\r\n")
    assert conn.serve() == fp.CLOSED
    head, body = recv_response(client, 6)
    assert b"Connection: close\r\n" in head and body == b"abcdef"
    log = site.log()
    assert log[0].split('"')[1] == "HEAD /a.txt HTTP/1.0" and log[0].endswith('200 - "-" "-"')
    assert log[1].endswith('200 6 "-" "-"')


@pytest.mark.parametrize("request_bytes", [
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-1\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: \"x\"\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nif-modified-since: x\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nX: a\r\n b\r\n\r\n",
    b"GET /a.txt HTTP/1.1\nHost: localhost\n\n",
    b"GET /a.txt HTTP/1.1\r\nHost : localhost\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: local\x01host\r\n\r\n",
    b"POST /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET  /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /a.txt HTTP/2.0\r\nHost: localhost\r\n\r\n",
    b"GET http://localhost/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /a.txt#x HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"\r\nGET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\nHost: otherhost\r\n\r\n",
])
def test_everything_else_falls_back_with_bytes_untouched(fp, site, request_bytes):
    path = site.file("a.txt", b"abc")
    assert site.put(b"/a.txt", path)
    conn, client = site.connect()
    client.sendall(request_bytes)
    assert conn.serve() == fp.FALLBACK
    assert conn.take() == request_bytes
    assert conn.requests == 0 and not conn.pending_output
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(10)
    assert site.log() == []


@pytest.mark.parametrize("change", ["rename", "truncate", "touch", "unlink", "mtime-put-back"])
def test_changed_file_is_noticed_and_evicted(fp, site, change):
    path = site.file("a.txt", b"version one")
    assert site.put(b"/a.txt", path)
    if change == "mtime-put-back":  # cp -p onto the file: same inode, size and mtime
        st = os.stat(path)
        with open(path, "r+b") as f:
            f.write(b"VERSION ONE")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert os.stat(path).st_mtime_ns == st.st_mtime_ns
    elif change == "rename":
        other = site.file("b.txt", b"version two")
        os.rename(other, path)
    elif change == "truncate":
        os.truncate(path, 3)
    elif change == "touch":
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
    else:
        os.unlink(path)
    conn, client = site.connect()
    req = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    client.sendall(req)
    assert conn.serve() == fp.FALLBACK
    assert conn.take() == req
    assert len(site.cache) == 0 and site.cache.lookup(0, b"localhost", b"/a.txt") is None


def test_put_refuses_a_file_that_changed_since_stat(fp, site):
    path = site.file("a.txt", b"abc")
    st = os.stat(path)
    with open(path, "ab") as f:
        f.write(b"more")
    assert not site.cache.put(0, b"localhost", b"/a.txt", path.encode(), st.st_ino, st.st_size,
                              st.st_mtime_ns, b"", b"", log_values=(b"",) * 7)
    assert len(site.cache) == 0


def test_pipelined_hits_then_miss_leave_the_miss_for_python(fp, site):
    path = site.file("a.txt", b"12345")
    assert site.put(b"/a.txt", path)
    conn, client = site.connect()
    hit = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    miss = b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"
    client.sendall(hit + hit + miss + b"GET /a")
    assert conn.serve() == fp.FALLBACK
    assert conn.take() == miss + b"GET /a"
    client.settimeout(5)
    got = b""
    while got.count(b"12345") < 2:
        got += client.recv(65536)
    assert conn.requests == 2 and len(site.log()) == 2


def test_partial_head_waits_for_the_rest(fp, site):
    path = site.file("a.txt", b"xyz")
    assert site.put(b"/a.txt", path)
    conn, client = site.connect()
    client.sendall(b"GET /a.txt HTTP/1.1\r\nHo")
    assert conn.serve() == fp.WANT_READ
    assert conn.buffered == len(b"GET /a.txt HTTP/1.1\r\nHo")
    client.sendall(b"st: localhost\r\n\r\n")
    assert conn.serve() == fp.WANT_READ
    _, body = recv_response(client, 3)
    assert body == b"xyz" and conn.buffered == 0


def test_client_eof_closes_and_cut_request_falls_back(fp, site):
    conn, client = site.connect()
    client.shutdown(socket.SHUT_WR)
    assert conn.serve() == fp.CLOSED and conn.eof
    conn2, client2 = site.connect()
    client2.sendall(b"GET /a HTTP/1.1\r\n")
    assert conn2.serve() == fp.WANT_READ
    client2.shutdown(socket.SHUT_WR)
    assert conn2.serve() == fp.FALLBACK and conn2.eof
    assert conn2.take() == b"GET /a HTTP/1.1\r\n"


@pytest.mark.parametrize("strategy", ["sendfile", "writev", "readwrite"])
def test_large_file_partial_writes_resume(fp, site, strategy):
    data = os.urandom(1 << 20)
    path = site.file("big.bin", data)
    assert site.put(b"/big.bin", path, strategy=strategy)
    assert not site.cache.lookup(0, b"localhost", b"/big.bin")["in_memory"]
    conn, client = site.connect()
    client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
    rc = conn.serve()
    assert rc == fp.WANT_WRITE and conn.pending_output
    got = b""
    client.settimeout(5)
    while True:
        got += client.recv(1 << 20)
        if rc == fp.WANT_WRITE:
            rc = conn.serve()
        if rc != fp.WANT_WRITE and len(got) >= (1 << 20) + 100 and got.endswith(data[-100:]):
            break
    assert rc == fp.WANT_READ
    head, _, body = got.partition(b"\r\n\r\n")
    assert body == data
    assert site.log()[0].endswith(f' 200 {1 << 20} "-" "-"')


def test_waiting_answers_survive_other_connections_answers(fp, site):
    """Many pipelined answers to a client that reads slowly, interleaved with another
    connection's answers on the same thread: every head that waits for the socket (some
    cut mid-head by the small send buffer) reaches its client intact."""
    data = os.urandom(30000)
    path = site.file("mid.bin", data)
    assert site.put(b"/mid.bin", path, strategy="readwrite")
    small = site.file("s.txt", b"tiny\n")
    assert site.put(b"/s.txt", small, max_keep_alive=0)
    slow, slow_client = site.connect()
    slow_client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    fast, fast_client = site.connect()
    n = 40
    slow_client.sendall(b"GET /mid.bin HTTP/1.1\r\nHost: localhost\r\nUser-Agent: %s\r\n\r\n"
                        % (b"u" * 700) * n)
    got = b""
    slow_client.settimeout(5)
    fast_heads = 0
    for _ in range(100000):
        rc = slow.serve()
        fast_client.sendall(b"GET /s.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert fast.serve() == fp.WANT_READ
        head, body = recv_response(fast_client, 5)
        fast_heads += head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"tiny\n"
        got += slow_client.recv(997)
        if rc == fp.WANT_READ:  # all sent: what is left is in the socket
            slow_client.setblocking(False)
            try:
                while chunk := slow_client.recv(1 << 16):
                    got += chunk
            except BlockingIOError:
                pass
            break
    answers = got.split(b"HTTP/1.1 200 OK\r\n")
    assert answers[0] == b"" and len(answers) == n + 1
    for a in answers[1:]:
        head, _, body = a.partition(b"\r\n\r\n")
        assert b"Content-Length: 30000\r\n" in head and head.endswith(b"Content-Type: text/plain")
        assert body == data
    assert fast_heads > 0


def test_blocking_socket_sends_whole_response(fp, site):
    data = os.urandom(300000)
    path = site.file("big.bin", data)
    assert site.put(b"/big.bin", path)
    conn, client = site.connect(blocking=True)
    client.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    import threading
    out = []
    t = threading.Thread(target=lambda: out.append(recv_response(client, len(data))))
    t.start()
    assert conn.serve() == fp.CLOSED
    t.join(10)
    assert out[0][1] == data


def test_buffered_logs_are_kept_until_flush_and_stay_in_order(fp, tmp_path):
    s = Site(fp, tmp_path, fmt="%r %>s %b", buffered=True)
    try:
        path = s.file("a.txt", b"abc")
        assert s.put(b"/a.txt", path)
        conn, client = s.connect()
        client.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        conn.serve()
        s.cache.log_line(s.logfd, b"python line\n", True)
        client.sendall(b"GET /a.txt?q HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert conn.serve() == fp.FALLBACK
        assert s.log() == []
        s.cache.flush_logs()
        assert s.log() == ["GET /a.txt HTTP/1.1 200 3", "python line"]
    finally:
        s.close()


def test_log_format_ops_match_python_formatter(fp, tmp_path):
    fmt = ('%a %h %l %u "%r" %s %>s %b %B %v %V %p %{remote}p %U%q %m %H %f %k %X %I %O %S '
           '%{Content-Type}o %{X-Other}o %R %% \\"lit\\" %{X-Rep}i %{Missing}i %P %{sec}t')
    s = Site(fp, tmp_path, fmt=fmt)
    try:
        path = s.file("a.txt", b"abcd")
        lv = fp.log_values("vh.example", None, 8080, "/a b.txt", "x=\"1\"", path, "text/plain; charset=utf-8")
        assert s.put(b"/a%20b.txt?x=%221%22", path, log_values=lv)
        conn, client = s.connect()
        req = (b"GET /a%20b.txt?x=%221%22 HTTP/1.1\r\nHost: localhost\r\nX-Rep: a\r\n"
               b"x-rep: b\xe9\r\n\r\n")
        client.sendall(req)
        conn.serve()
        head, _ = recv_response(client, 4)
        line = s.log()[0] if fp.IMPLEMENTATION else ""
        raw = s.log_path.read_bytes().decode("latin-1").rstrip("\n")
        assert raw == line
        expect = (f'127.0.0.1 127.0.0.1 - - "GET /a%20b.txt?x=%221%22 HTTP/1.1" 200 200 4 4 '
                  f'vh.example vh.example 8080 5555 /a b.txt?x=\\"1\\" GET HTTP/1.1 {path} 0 + '
                  f'{len(req)} {len(head) + 4} {len(req) + len(head) + 4} text/plain - - % "lit" '
                  f'a, b\\xe9 - {os.getpid()} ')
        assert raw.startswith(expect), (raw, expect)
        assert raw[len(expect):].isdigit()
    finally:
        s.close()


@pytest.mark.parametrize("fmt", ["%!200s", "%200s", "%A", "%{local}p", "%{Cookie}C",
                                 "%{%Y}t", "%^ti"])
def test_formats_needing_python_are_not_compiled(fp, fmt):
    assert fp.compile_log_format(f"%h {fmt}") is None


def test_cache_is_bounded(fp, tmp_path):
    s = Site(fp, tmp_path, max_entries=2)
    try:
        paths = [s.file(f"{i}.txt", b"x") for i in range(3)]
        for i, p in enumerate(paths):
            assert s.put(f"/{i}.txt".encode(), p)
        assert len(s.cache) <= 2
        assert s.cache.lookup(0, b"localhost", b"/2.txt") is not None
        assert s.cache.stats()["evictions"] >= 2
    finally:
        s.close()


def test_content_budget_keeps_small_files_on_descriptors(fp, tmp_path):
    s = Site(fp, tmp_path, content_budget=100)
    try:
        a, b = s.file("a.txt", b"a" * 80), s.file("b.txt", b"b" * 80)
        assert s.put(b"/a.txt", a) and s.put(b"/b.txt", b)
        assert s.cache.lookup(0, b"localhost", b"/a.txt")["in_memory"]
        assert not s.cache.lookup(0, b"localhost", b"/b.txt")["in_memory"]
        conn, client = s.connect()
        client.sendall(b"GET /b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert conn.serve() == fp.WANT_READ
        assert recv_response(client, 80)[1] == b"b" * 80
        assert s.cache.stats()["content_bytes"] == 80
        s.cache.clear()
        assert s.cache.stats()["content_bytes"] == 0
    finally:
        s.close()


def test_scoreboard_counts_fast_requests(impl, fp, site):
    sbmod = impl.load("scoreboard")
    sb = sbmod.Scoreboard(1, 1)
    try:
        path = site.file("a.txt", b"abcdefgh")
        assert site.put(b"/a.txt", path, vhost=b"localhost")
        conn, client = site.connect(scoreboard=sb, slot=0)
        for _ in range(3):
            client.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert conn.serve() == fp.WANT_READ
            recv_response(client, 8)
        info = sb.slot_info(0)
        assert info["accesses"] == 3 and info["bytes"] == 24
        assert info["request"] == "GET /a.txt HTTP/1.1" and info["status"] == "K"
        assert sb.get(sbmod.ACCESSES) == 3
    finally:
        sb.close()


def test_extension_and_twin_answer_identically(tmp_path):
    """Same cache contents, same requests: the same bytes on the wire and in the log."""
    outs = []
    for side in IMPLEMENTATIONS:
        fp = side.load("fastpath")
        d = tmp_path / side.module_name("fastpath")
        d.mkdir()
        s = Site(fp, d, fmt="%h %r %>s %b %{User-agent}i %k %X %I %O")
        try:
            path = s.file("a.txt", b"same" * 100)
            st = os.stat(path)
            lv = fp.log_values("x", None, 80, "/a.txt", "", "/a.txt", "text/plain")
            assert s.cache.put(0, b"h", b"/a.txt", path.encode(), st.st_ino, st.st_size,
                               st.st_mtime_ns, b"Content-Length: 400\r\n", b"", log_set=0,
                               log_values=lv, max_keep_alive=2)
            conn, client = s.connect()
            wire = []
            for req in (b"GET /a.txt HTTP/1.1\r\nHost: h\r\nUser-Agent: \xe9\tz\r\n\r\n",
                        b"HEAD /a.txt HTTP/1.1\r\nHost: h\r\n\r\n"):
                client.sendall(req)
                conn.serve()
                client.settimeout(5)
                wire.append(norm(client.recv(65536)))
            outs.append((wire, s.log_path.read_bytes()))
        finally:
            s.close()
    assert outs[0] == outs[1]


def test_serve_blocking_keeps_alive_until_idle_timeout(fp, site):
    """prefork/worker: one call serves every keep-alive request, then reports the idle
    wait that ran out (SO_RCVTIMEO, no poll)."""
    import threading
    path = site.file("a.txt", b"0123456789")
    assert site.put(b"/a.txt", path, max_keep_alive=0, keep_alive_timeout=0.2)
    conn, client = site.connect(blocking=True)
    bodies = []

    def talk():
        for _ in range(3):
            client.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            bodies.append(recv_response(client, 10)[1])

    t = threading.Thread(target=talk)
    t.start()
    assert conn.serve_blocking(5.0) == fp.TIMEOUT
    t.join(5)
    assert bodies == [b"0123456789"] * 3 and conn.requests == 3


def test_serve_blocking_hands_a_miss_to_python(fp, site):
    conn, client = site.connect(blocking=True)
    client.sendall(b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert conn.serve_blocking(5.0) == fp.FALLBACK
    assert conn.take() == b"GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"


def _loop_until(loop, pred, rounds=50):
    got = []
    for _ in range(rounds):
        got += loop.wait(0.05)
        if pred(got):
            break
    return got


def test_event_loop_accepts_serves_and_lingers_without_python(fp, site):
    import select
    path = site.file("a.txt", b"hello")
    assert site.put(b"/a.txt", path)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ls.setblocking(False)
    ep = select.epoll()
    loop = fp.EventLoop(site.cache, ep.fileno())
    try:
        loop.configure_conns(None, 5.0, 5.0)
        loop.add_listener(ls.fileno())
        ep.register(ls.fileno(), select.EPOLLIN)
        c = socket.create_connection(ls.getsockname())
        c.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
                  b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        out = _loop_until(loop, lambda got: loop.accepted and loop.owned == 0)
        c.settimeout(5)
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        assert out == [] and loop.accepted == 1
        assert data.count(b"HTTP/1.1 200 OK") == 2 and data.endswith(b"hello")
        c.close()
        _loop_until(loop, lambda got: loop.owned == 0)
        assert loop.owned == 0 and len(site.log()) == 2
    finally:
        loop.close()
        ep.close()
        ls.close()


def test_event_loop_gives_a_miss_to_python_with_its_bytes(fp, site):
    import select
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    ls.setblocking(False)
    ep = select.epoll()
    loop = fp.EventLoop(site.cache, ep.fileno())
    try:
        loop.add_listener(ls.fileno())
        ep.register(ls.fileno(), select.EPOLLIN)
        c = socket.create_connection(ls.getsockname())
        req = b"GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n"
        c.sendall(req)
        out = _loop_until(loop, lambda got: got)
        assert len(out) == 1
        fd, code, _ = out[0]
        assert code == fp.FALLBACK | fp.OWNED
        fc, peer = loop.adopt(fd)
        assert peer[0] == "127.0.0.1" and loop.owned == 0
        assert fc.serve() == fp.FALLBACK and fc.take() == req
        fc.close()
        os.close(fd)
        c.close()
    finally:
        loop.close()
        ep.close()
        ls.close()


def test_event_loop_attached_connection_expires_back_to_caller(fp, site):
    import select
    ep = select.epoll()
    loop = fp.EventLoop(site.cache, ep.fileno())
    try:
        conn, client = site.connect()
        loop.attach(conn, 0.1)
        assert loop.attached == 1
        out = _loop_until(loop, lambda got: got)
        assert [(fd, code) for fd, code, _ in out] == [(conn.fd, fp.EXPIRED)]
        assert loop.attached == 0
    finally:
        loop.close()
        ep.close()


def test_percent_k_of_a_closing_answer_is_the_previous_ones(fp, tmp_path):
    """%k is httpd's keepalives - 1 and keepalives counts only answers that keep the
    connection: the closing one (asked for, or the MaxKeepAliveRequests limit) logs the
    count of the answer before it (checked against Apache by
    tests/modules/test_mod_log_config_vs_apache.py)."""
    s = Site(fp, tmp_path, fmt="%U %k %X")
    try:
        path = s.file("a.txt", b"abc")
        assert s.put(b"/a.txt", path, max_keep_alive=2)
        for closing in (b"", b"Connection: close\r\n"):
            conn, client = s.connect()
            for extra in (b"", closing):
                client.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % extra)
                conn.serve()
                recv_response(client, 3)
            if not closing:  # the third answer reaches the limit of 2 kept answers
                client.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                assert conn.serve() == fp.CLOSED
                recv_response(client, 3)
        conn, client = s.connect()
        client.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        conn.serve()
        recv_response(client, 3)
        s.cache.flush_logs()
        assert s.log() == ["/a.txt 0 +", "/a.txt 1 +", "/a.txt 1 -",
                           "/a.txt 0 +", "/a.txt 0 -", "/a.txt 0 -"]
    finally:
        s.close()
