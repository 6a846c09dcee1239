"""Protocol edges where fastcore answers exactly as Apache 2.4.71 (default
HttpProtocolOptions, so Allow0.9): HTTP/0.9 simple requests through the engine and the
Python path, Expect (100-continue without a body, an unsupported or empty value), path
components longer than NAME_MAX, and request heads with bare CR line ends.  Every
request goes to real Apache and to fastcore (extensions and twins); a second request on
the same connection shows whether the server kept it, without waiting on a timer."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from support.apache_oracle import ApacheOracle
from support.apache_trio import ROOT, Trio, exchange, start_fastcore, start_trio
from support.ports import free_port, wait_port
from support.proc_helpers import stop_group
from support.wire import parse_responses, raw_request

SECOND = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Trio:
    root = str(tmp_path_factory.mktemp("edges"))
    os.chmod(root, 0o755)
    d = f"{root}/htdocs"
    os.makedirs(f"{d}/mv")
    os.makedirs(f"{d}/sub")
    for name, data in (("a.txt", "hello\n"), ("sub/index.html", "<p>index</p>\n"),
                       ("mv/v.en.html", "en\n")):
        with open(f"{d}/{name}", "w") as f:
            f.write(data)
        # an hour old: a file changed within the request's second gets a weak ETag from
        # both servers, and whether a request lands in that second is timing
        os.utime(f"{d}/{name}", (time.time() - 3600, time.time() - 3600))
    body = f"""DocumentRoot "{d}"
AddType text/plain .txt
AddLanguage en .en
DirectoryIndex index.html
Timeout 2
<Directory />
    AllowOverride None
    Require all granted
</Directory>
<Directory "{d}/mv">
    Options +MultiViews
</Directory>
"""
    t = start_trio(f"{root}/run", body)
    for port in t.ports[1:]:  # /a.txt and /sub/ in the engines' caches
        for path in ("/a.txt", "/sub/index.html"):
            raw_request(port, f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    yield t
    t.stop()


def normalized(raw: bytes) -> list[tuple]:
    out = []
    for status, headers, body in parse_responses(raw):
        kept = {k: v for k, v in headers.items() if k not in ("date", "server")}
        if "allow" in kept:  # Apache's order comes from a hash table: compare the set
            kept["allow"] = ",".join(sorted(kept["allow"].split(",")))
        out.append((status, kept, body))
    return out


def same(trio: Trio, data: bytes, **kw: object) -> list[bytes]:
    got = [raw_request(port, data, **kw) for port in trio.ports]
    return got


@pytest.mark.parametrize("line", [b"GET /a.txt\r\n", b"GET /a.txt \r\n", b"GET /sub/\r\n",
                                  b"GET /sub/index.html\r\n", b"GET /missing\r\n",
                                  b"GET /mv/v\r\n"])
@pytest.mark.parametrize("half_close", [True, False])
def test_http09_simple_request_is_served_and_closed(trio: Trio, line: bytes,
                                                    half_close: bool) -> None:
    """Allow0.9: the body alone, no status line or header, then Apache closes -- also
    when the client keeps its side open (the engine must not wait for a blank line)."""
    apache, fast, twin = same(trio, line, half_close=half_close, timeout=10)
    assert apache and not apache.startswith(b"HTTP/")
    assert fast.replace(b"fastcore/0.1.0 (Linux)", b"X") == apache.replace(b"Apache/2.4.71 (Debian)", b"X")
    assert twin == fast


@pytest.mark.parametrize("head,answers", [
    # 100-continue and no body to read: Apache closes, saying so
    (b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n\r\n", 1),
    (b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-Continue\r\n\r\n", 1),
    (b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n", 1),
    # with a body: 100 Continue first (even when the body came with the head), kept open
    (b"POST /a.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
     b"Content-Length: 3\r\n\r\nabc", 2),
    (b"POST /missing HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
     b"Content-Length: 3\r\n\r\nabc", 2),                      # also before an error
    (b"PUT /a.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
     b"Content-Length: 3\r\n\r\nabc", 2),
    # HTTP/1.0 gets no 100 Continue: the expectation stays open, Apache closes
    (b"POST /a.txt HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n"
     b"Content-Length: 3\r\n\r\nabc", 1),
    (b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
     b"Content-Length: 0\r\n\r\n", 1),
    (b"GET /missing HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n\r\n", 1),
    # an empty Expect is ignored
    (b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nExpect:\r\n\r\n", 2),
    # anything else: 417 with the fields of a kept connection, and then Apache closes
    (b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nExpect: foo\r\n\r\n", 1),
    (b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue, foo\r\n\r\n", 1),
    (b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\nExpect: foo\r\n\r\n", 1),
    (b"GET /a.txt HTTP/1.0\r\nExpect: foo\r\n\r\n", 1),
])
def test_expect(trio: Trio, head: bytes, answers: int) -> None:
    apache, fast, twin = [normalized(exchange(port, head, SECOND)) for port in trio.ports]
    assert len([a for a in apache if a[0] >= 200]) == answers, apache
    assert fast == apache
    assert twin == apache


@pytest.mark.parametrize("path,status", [
    ("/" + "a" * 256, 403), ("/mv/" + "b" * 256, 403), ("/" + "a" * 256 + "/x", 403),
    ("/" + "a" * 255, 404), ("/nodir/" + "a" * 256, 404), ("/a.txt/" + "a" * 256, 404),
    ("/" + "/".join(["c" * 200] * 25), 403),  # past PATH_MAX, even below a missing dir
], ids=["name_max", "in_multiviews_dir", "then_more", "255", "below_missing", "path_info",
        "path_max"])
def test_long_path_component(trio: Trio, path: str, status: int) -> None:
    data = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    apache, fast, twin = [normalized(exchange(port, data, SECOND)) for port in trio.ports]
    assert apache[0][0] == status and len(apache) == 2  # and the connection stays open
    assert fast == apache
    assert twin == apache


def wait_close(port: int, data: bytes, bound: float = 15.0) -> bytes:
    """Send data, keep the connection open, return what arrives until the server closes
    (bounded: the servers' Timeout is 2 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=bound) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


@pytest.mark.parametrize("data", [
    b"GET /a.txt HTTP/1.1\rHost: localhost\r\r",       # no LF at all: no request line yet
    b"GET /a.txt HTTP/1.1\r",
    b"GET /a.txt HTTP/1.1",
    b"\r\nGET /a.txt HTTP/1.1\rHost: localhost\r\r",
])
def test_bare_cr_request_line_times_out_silently(trio: Trio, data: bytes) -> None:
    """Apache reads lines up to LF: without one the request line never ends, and at
    Timeout it closes without answering (no 408)."""
    assert [wait_close(port, data) for port in trio.ports] == [b"", b"", b""]


@pytest.mark.parametrize("data", [
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\rX: y\r\r",  # request line read: 408
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r",
])
def test_bare_cr_after_the_request_line_is_408(trio: Trio, data: bytes) -> None:
    apache, fast, twin = [normalized(wait_close(port, data)) for port in trio.ports]
    assert [a[0] for a in apache] == [408]
    assert fast == apache and twin == apache


@pytest.mark.parametrize("data", [
    b"GET /a.txt HTTP/1.1\r\nHost: localhost\rX: y\r\n\r\n",
    b"GET /a.txt HTTP/1.1\r\r\nHost: localhost\r\n\r\n",
    b"GET /a.txt\rHTTP/1.1\r\nHost: localhost\r\n\r\n",
])
def test_bare_cr_inside_a_line_is_400(trio: Trio, data: bytes) -> None:
    apache, fast, twin = [normalized(r) for r in same(trio, data)]
    assert [a[0] for a in apache] == [400]
    assert fast == apache and twin == apache


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_http09_under_the_mpms(trio: Trio, tmp_path, mpm: str) -> None:
    """The real server (`python -m fastcore`), whose engine (and, under event, its C
    event loop) sees the line first: an HTTP/0.9 request is served at once, as Apache
    does, not answered with a 408 after Timeout; also after the file is cached."""
    conf = open(trio.apache.conf_path).read()
    port = free_port()
    conf = (conf.replace(f"Listen 127.0.0.1:{trio.apache.port}", f"Listen 127.0.0.1:{port}")
            .replace("mpm_prefork", f"mpm_{mpm}")
            .replace(f'PidFile "{trio.apache.tmpdir}/httpd.pid"', f'PidFile "{tmp_path}/fc.pid"'))
    if mpm == "event":
        conf = conf.replace("MinSpareServers 1\nMaxSpareServers 2",
                            "ServerLimit 1\nThreadsPerChild 4\nMaxRequestWorkers 4")
    path = tmp_path / "httpd.conf"
    path.write_text(conf)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "fastcore", "-f", str(path), "-DFOREGROUND"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port(port, 30)
        expected = raw_request(trio.ports[0], b"GET /a.txt\r\n", half_close=False, timeout=10)
        assert expected == b"hello\n"
        for _ in range(2):  # the second one after a cached HTTP/1.1 answer
            assert raw_request(port, b"GET /a.txt\r\n", half_close=False, timeout=10) == expected
            raw_request(port, SECOND)
    finally:
        stop_group(proc)


def test_silent_timeout_is_logged_as_apache(tmp_path) -> None:
    """The bare-CR head that times out without an answer still leaves Apache's access
    log line `"-" 408 -` on a connection's first request (none after a kept-alive
    answer); fastcore writes the same lines."""
    docs = tmp_path / "htdocs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello\n")
    os.chmod(tmp_path, 0o755)
    logged = {}
    for name in ("apache", "fastcore"):
        body = (f'DocumentRoot "{docs}"\nTimeout 1\n'
                f'CustomLog "{tmp_path}/{name}.log" "%h \\"%r\\" %>s %b"\n'
                "<Directory />\n    Require all granted\n</Directory>\n")
        if name == "apache":
            os.makedirs(tmp_path / "run")
            t = ApacheOracle(str(tmp_path / "run"), body, port=free_port()).start()
            port, stop = t.port, t.stop
        else:
            conf = tmp_path / "fc.conf"
            conf.write_text(open(f"{tmp_path}/run/httpd.conf").read()
                            .replace("apache.log", "fastcore.log"))
            proc, port = start_fastcore(str(conf), pure=False)

            def stop(p: subprocess.Popen = proc) -> None:
                p.stdin.close()
                p.wait(10)
        try:
            assert wait_close(port, b"GET /a.txt HTTP/1.1\rHost: localhost\r\r") == b""
            # after a kept-alive answer the stalled line is not logged at all
            got = wait_close(port, b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /b\r")
            assert [st_ for st_, _, _ in parse_responses(got)] == [200]
        finally:
            stop()
        logged[name] = (tmp_path / f"{name}.log").read_text()
    assert logged["apache"] == '127.0.0.1 "-" 408 -\n127.0.0.1 "GET /a.txt HTTP/1.1" 200 6\n'
    assert logged["fastcore"] == logged["apache"]
