"""HTTPS cache hits are the C engine's (issue 15): counted by strace, not timed.

fastcore serves a 10240-byte file over TLS 1.3 on one keep-alive connection; strace -f -c
is attached to every thread of its process tree while the client asks for it 200 times.
A hit costs what a plain one costs plus nothing the Python path would add: the record is
read with read-ahead (one read), the answer leaves as one record (one write), so the
plain keep-alive budget (7) holds.  Answers are checked byte for byte, and every child
still serves once hostile bytes (garbage for a ClientHello, a truncated handshake, plain
HTTP) went to the TLS port, with the same descriptors open as before.
"""
from __future__ import annotations

import os
import socket
import ssl
import time

import pytest
from harness import strace
from support.apache_oracle import ApacheOracle
from support.ports import free_port
from support.tlscerts import Certs, make

REQUESTS = 200
KEEPALIVE_BUDGET = 7
FLOOR = 2

SITE = """
StartServers 1
ServerLimit 1
ThreadsPerChild 4
MinSpareThreads 1
MaxSpareThreads 4
MaxRequestWorkers 4
MaxKeepAliveRequests 0
BufferedLogs On
CustomLog "{run}/access_log" common
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
DocumentRoot "{www}"
Listen 127.0.0.1:{tport} https
SSLEngine on
SSLCertificateFile "{crt}"
SSLCertificateKeyFile "{key}"
"""
MODULES = ("mpm_{mpm}", "authz_core", "mime", "ssl")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make(str(tmp_path_factory.mktemp("certs")))


def _client(c: Certs) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(c.ca.cert)
    ctx.check_hostname = False
    return ctx


def _get(s: ssl.SSLSocket, size: int) -> bytes:
    s.sendall(b"GET /10k.html HTTP/1.1\r\nHost: a.test\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < size:
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    return data.partition(b"\r\n\r\n")[2]


def _fds(pids: list[int]) -> int:
    return sum(len(os.listdir(f"/proc/{p}/fd")) for p in pids if os.path.exists(f"/proc/{p}"))


def _pids(srv: ApacheOracle) -> list[int]:
    assert srv.proc is not None
    out = [srv.proc.pid]
    for line in os.popen(f"pgrep -P {srv.proc.pid}").read().split():
        out.append(int(line))
    return out


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_https_keepalive_hits_keep_the_plain_budget(tmp_path, certs: Certs, mpm: str) -> None:
    www = tmp_path / "www"
    www.mkdir()
    body = os.urandom(5120).hex().encode()
    (www / "10k.html").write_bytes(body)
    run = str(tmp_path / "run")
    os.makedirs(run)
    tport = free_port()
    site = SITE.format(run=run, www=www, tport=tport, crt=certs.ec.cert, key=certs.ec.key)
    if mpm == "prefork":
        site = site.replace("ThreadsPerChild 4\n", "").replace("MinSpareThreads 1\n", "")\
            .replace("MaxSpareThreads 4\n", "MinSpareServers 1\nMaxSpareServers 1\n")
    mods = tuple(m.format(mpm=mpm) for m in MODULES)
    with ApacheOracle(run, site, modules=mods, fastcore=True) as srv:
        with socket.create_connection(("127.0.0.1", tport), timeout=10) as raw, \
                _client(certs).wrap_socket(raw, server_hostname="a.test") as s:
            for _ in range(20):  # the cache entry, then hits
                assert _get(s, len(body)) == body
            time.sleep(1.0)
            got: list[bytes] = []
            load = strace.traced(_pids(srv), lambda: got.extend(
                _get(s, len(body)) for _ in range(REQUESTS)))
            assert got == [body] * REQUESTS
        pr = strace.per_request(load, REQUESTS)
        detail = f"fastcore-{mpm} https: {pr.total:.2f} syscalls per request: " \
                 f"{strace.breakdown(pr)}"
        assert FLOOR <= pr.total <= KEEPALIVE_BUDGET, detail


HOSTILE = (
    os.urandom(600),                                   # garbage for a ClientHello
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a ClientHello cut short
    b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",         # plain HTTP
    b"\x16\x03\x01\xff\xff" + b"\x00" * 64,            # a record longer than allowed
    b"",                                               # connect, say nothing, leave
)


def test_hostile_bytes_on_the_tls_port_leave_every_child_serving(tmp_path,
                                                                  certs: Certs) -> None:
    www = tmp_path / "www"
    www.mkdir()
    body = b"x" * 10240
    (www / "10k.html").write_bytes(body)
    run = str(tmp_path / "run")
    os.makedirs(run)
    tport = free_port()
    site = SITE.format(run=run, www=www, tport=tport, crt=certs.ec.cert, key=certs.ec.key)
    with ApacheOracle(run, site, modules=tuple(m.format(mpm="event") for m in MODULES),
                      fastcore=True) as srv:
        def fetch() -> bytes:
            with socket.create_connection(("127.0.0.1", tport), timeout=10) as raw, \
                    _client(certs).wrap_socket(raw, server_hostname="a.test") as s:
                return _get(s, len(body))
        assert fetch() == body
        pids = _pids(srv)
        before = _fds(pids)
        for _ in range(20):
            for data in HOSTILE:
                with socket.create_connection(("127.0.0.1", tport), timeout=10) as s:
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                    try:
                        while s.recv(65536):
                            pass
                    except (ConnectionResetError, TimeoutError):
                        pass
        assert fetch() == body
        time.sleep(0.5)
        assert _pids(srv) == pids  # no child died
        assert _fds(pids) == before
