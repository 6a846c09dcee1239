"""Slow requests cut as real Apache cuts them, with mod_reqtimeout and with Timeout alone.

The same httpd.conf runs under Apache prefork and under fastcore (each MPM); the same
slow clients go to both.  What each client receives (a 408 page, or nothing), the access
log lines and the AH01382 lines of the error log must match.  Apache answers 408 only
once the request line has arrived (a partial line, or blank lines, get a bare close and a
`"-" 408 -` log line on a connection's first request), and a timed-out body gets a 408.
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest
from support.apache_oracle import APACHE
from support.servers import ApacheServer, FastcoreServer, Server

LOG = 'LogFormat "%h %l %u \\"%r\\" %>s %b %X" t\nCustomLog "{tmp}/cut_log" t\nLogLevel info'
CONFS = {
    "reqtimeout": "LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so\n"
                  "RequestReadTimeout header=2 body=2\nKeepAliveTimeout 3\n",
    "timeout": "Timeout 2\nKeepAliveTimeout 5\n",
}
CASES = {  # name: what the client sends, in pieces 0.3 s apart
    "partial line": [b"GET / HT"],
    "partial head": [b"GET / HTTP/1.1\r\nHost: x\r\n"],
    "blank lines": [b"\r\n"],
    "trickle": [b"G", b"E", b"T"],
    "body": [b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"],
    "partial after keep-alive": [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HT"],
}


@dataclass
class Outcome:
    received: dict[str, list[bytes]]  # case: status lines the client got before the close
    log: list[str]  # access log lines, sorted (the cases run at once)
    cut_lines: list[str]  # AH01382 messages of the error log, sorted


def _client(port: int, pieces: list[bytes], out: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for p in pieces:
            s.sendall(p)
            time.sleep(0.3)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            data += b"HTTP/1.1 000 no close within 10 s"
    out.extend(re.findall(rb"HTTP/1\.1 \d{3} [^\r]*", data))


def run(srv: Server) -> Outcome:
    srv.start()
    got: dict[str, list[bytes]] = {name: [] for name in CASES}
    try:
        threads = [threading.Thread(target=_client, args=(srv.port, pieces, got[name]))
                   for name, pieces in CASES.items()]
        for th in threads:
            th.start()
        for th in threads:
            th.join(20)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _lines(srv.tmp + "/cut_log") < 6:
            time.sleep(0.05)  # the log lines are written after the close
    finally:
        srv.stop()
    with open(srv.tmp + "/cut_log") as fh:
        log = sorted(line.split(" ", 3)[3].strip() for line in fh)
    with open(srv.tmp + "/error_log") as fh:
        cut = sorted(m.group() for m in re.finditer(r"AH01382: .*", fh.read()))
    return Outcome(got, log, cut)


def _lines(path: str) -> int:
    try:
        with open(path) as fh:
            return sum(1 for _ in fh)
    except OSError:
        return 0


@pytest.fixture(scope="module")
def apache(tmp_path_factory) -> dict[str, Outcome]:
    out = {}
    for name, conf in CONFS.items():
        tmp = str(tmp_path_factory.mktemp(f"apache-{name}"))
        out[name] = run(ApacheServer(tmp, "prefork", conf + LOG.format(tmp=tmp)))
    return out


@pytest.mark.parametrize("conf", sorted(CONFS))
@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_slow_requests_are_cut_as_apache_cuts_them(tmp_path, apache, mpm, conf):
    tmp = str(tmp_path)
    mine = run(FastcoreServer(tmp, mpm, CONFS[conf] + LOG.format(tmp=tmp)))
    ref = apache[conf]
    assert mine.received == ref.received
    assert mine.log == ref.log
    assert mine.cut_lines == ref.cut_lines
    # what Apache does, spelled out (so a change on either side is seen here)
    assert ref.received["partial head"] == [b"HTTP/1.1 408 Request Timeout"]
    assert ref.received["partial line"] == []
    assert ref.log.count('"-" 408 - -') == 3


def _syntax(cmd: list[str], conf: str) -> str:
    """The message of a -t run: the line after 'Syntax error on line N of FILE:'."""
    res = subprocess.run([*cmd, "-t", "-f", conf], capture_output=True, text=True, timeout=60)
    lines = res.stderr.splitlines()
    at = [i for i, x in enumerate(lines) if "Syntax error on line" in x]
    return lines[at[0] + 1] if at else ("Syntax OK" if res.returncode == 0 else res.stderr)


ARGS = ["handshake=5", "header=10-20", "header=10-20,MinRate=500", "header=20,minrate=0",
        "foo=1", "header", "header=x", "header=5x", "header=-1", "header=20-10,MinRate=1",
        "header=0 body=0", "Header=5,MINRATE=7", "header=5,minrate=", "header=5-,minrate=5",
        "header=5,MinRate=5,MinRate=6", "header=' 5'", "header=-5,minrate=5", "=5",
        "header==5", "header=5 x", ""]


def test_directive_errors_match_apache(tmp_path):
    body = ["LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so",
            "LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so",
            f"ServerRoot {tmp_path}", "ServerName x", f"ErrorLog {tmp_path}/error_log",
            f"PidFile {tmp_path}/pid", "Listen 127.0.0.1:1"]
    fastcore = [sys.executable, "-m", "fastcore"]
    for i, args in enumerate(ARGS + ["<Directory /tmp>\nRequestReadTimeout header=5\n"
                                     "</Directory>",
                                     "<VirtualHost *:80>\nRequestReadTimeout body=5\n"
                                     "</VirtualHost>"]):
        conf = tmp_path / f"c{i}.conf"
        line = args if args.startswith("<") else f"RequestReadTimeout {args}"
        conf.write_text("\n".join(body + [line]) + "\n")
        assert _syntax(fastcore, str(conf)) == _syntax([APACHE], str(conf)), line


def _closed_after(port: int, wait: float) -> float | None:
    """Seconds until the server closes a connection with a partial head (None: not yet)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        try:
            while s.recv(65536):
                pass
        except TimeoutError:
            return None
    return time.monotonic() - t0


@pytest.mark.parametrize("server", ["apache", "prefork", "event"])
def test_each_address_gets_the_deadline_of_its_virtual_host(tmp_path, server):
    """RequestReadTimeout in a <VirtualHost> applies to connections to its address; the
    other address keeps the main server's."""
    cls = ApacheServer if server == "apache" else FastcoreServer
    srv = cls(str(tmp_path), "prefork" if server == "apache" else server, nports=2)
    p1, p2 = srv.ports
    srv.extra = (CONFS["reqtimeout"].replace("header=2", "header=6") +
                 f"<VirtualHost *:{p1}>\nServerName a\n</VirtualHost>\n"
                 f"<VirtualHost *:{p2}>\nServerName b\nRequestReadTimeout header=1\n"
                 "</VirtualHost>\n")
    srv.start()
    try:
        got = {}
        threads = [threading.Thread(target=lambda p=p: got.update({p: _closed_after(p, 4.0)}))
                   for p in (p1, p2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(10)
    finally:
        srv.stop()
    assert got[p1] is None  # header=6: still open after 4 s
    assert got[p2] is not None and got[p2] < 3.0


@pytest.mark.parametrize("server", ["apache", "prefork", "event"])
def test_name_based_vhosts_take_the_deadline_of_the_default_one(tmp_path, server):
    """The head has not arrived, so no Host picks a vhost: the connection has the first
    (default) vhost of its address (Apache's c->base_server), whatever Host it will send."""
    cls = ApacheServer if server == "apache" else FastcoreServer
    srv = cls(str(tmp_path), "prefork" if server == "apache" else server)
    srv.extra = (CONFS["reqtimeout"].replace("header=2", "header=6") +
                 f"<VirtualHost *:{srv.port}>\nServerName first\nRequestReadTimeout header=1\n"
                 f"</VirtualHost>\n<VirtualHost *:{srv.port}>\nServerName localhost\n"
                 "</VirtualHost>\n")
    srv.start()
    try:
        waited = _closed_after(srv.port, 4.0)
    finally:
        srv.stop()
    assert waited is not None and waited < 3.0


@pytest.mark.parametrize("server", ["apache", "prefork", "worker", "event"])
def test_min_rate_extends_the_header_deadline_up_to_its_maximum(tmp_path, server):
    """header=2-5,MinRate=20 and a client sending 10 bytes every 0.25 s (40 B/s): each
    piece adds 0.5 s, so the head outlives the initial 2 s and is cut at the 5 s maximum."""
    cls = ApacheServer if server == "apache" else FastcoreServer
    tmp = str(tmp_path)
    srv = cls(tmp, "prefork" if server == "apache" else server,
              CONFS["reqtimeout"].replace("header=2", "header=2-5,MinRate=20")).start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.setblocking(False)
            t0 = time.monotonic()
            head = b"GET / HTTP/1.1\r\nX-Slow: " + b"x" * 1000
            pos, data, cut = 0, b"", None
            while cut is None and time.monotonic() - t0 < 9:
                try:
                    chunk = s.recv(65536)
                    data += chunk
                    if not chunk:
                        cut = time.monotonic() - t0
                        break
                except BlockingIOError:
                    pass
                except OSError:
                    cut = time.monotonic() - t0
                    break
                try:
                    s.send(head[pos:pos + 10])
                except OSError:
                    pass
                pos += 10
                time.sleep(0.25)
    finally:
        srv.stop()
    assert cut is not None and 4.0 <= cut <= 7.0, cut
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")  # the request line arrived
