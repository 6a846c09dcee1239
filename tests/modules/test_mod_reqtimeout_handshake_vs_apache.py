"""RequestReadTimeout handshake= against Apache: a TLS handshake that stalls or trickles
is cut when the handshake stage runs out (MinRate extending it byte by byte, up to its
maximum), in every MPM, at the moment Apache cuts it; a client that completes its
handshake in time is served.

Each probe starts a ClientHello and then either stalls after 5 bytes or sends one byte
every 0.5 s; it measures when the server closes the connection (without an answer).
Both servers run at once, the probes of one server in parallel.
"""
from __future__ import annotations

import os
import socket
import ssl
import threading
import time

import pytest
from support.apache_oracle import ApacheOracle
from support.ports import free_port
from support.tlscerts import Certs, make

# a TLS record header and the start of a ClientHello that announce more than is sent
HELLO = bytes.fromhex("16030100c8010000c40303") + bytes(range(32))
LIMIT = 12.0  # no probe may last longer: Timeout below, far past every expected cut
TOLERANCE = 0.7

SITE = """
DocumentRoot "{www}"
Timeout 12
Listen 127.0.0.1:{tport} https
RequestReadTimeout {rt}
SSLEngine on
SSLCertificateFile "{crt}"
SSLCertificateKeyFile "{key}"
"""

# (MPM, handshake stage, expected close for (stall, trickle)), the expectation as
# mod_reqtimeout computes it: 5 bytes then silence, or 2 bytes a second
CASES = (
    ("event", "handshake=2 header=20", (2.0, 2.0)),
    ("prefork", "handshake=1-3,MinRate=2", (3.0, 3.0)),  # 1 + 5 x 0.5 s, capped at 3
    ("worker", "handshake=2,MinRate=4", (2.0 + 5 * 0.25, 4.0)),  # t = 2 + 2t x 0.25
)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make(str(tmp_path_factory.mktemp("certs")))


def _probe(port: int, stall: bool, out: dict[str, tuple[float, bytes]], key: str) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(0.5)
        t0 = time.monotonic()
        sent = 0
        while time.monotonic() - t0 < LIMIT:
            if sent < (5 if stall else len(HELLO)):
                s.send(HELLO[sent:sent + 1])
                sent += 1
            try:
                data = s.recv(100)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            out[key] = (time.monotonic() - t0, data)
            return
        out[key] = (LIMIT, b"still open")


def _served(port: int, c: Certs) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(c.ca.cert)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="a.test") as s:
        s.sendall(b"GET /index.html HTTP/1.0\r\nHost: a.test\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.split(b"\r\n", 1)[0]


@pytest.mark.parametrize("mpm,rt,expected", CASES, ids=[c[0] for c in CASES])
def test_a_slow_handshake_is_cut_when_apache_cuts_it(tmp_path, certs: Certs, mpm: str,
                                                       rt: str,
                                                       expected: tuple[float, float]) -> None:
    mods = (f"mpm_{mpm}", "authz_core", "mime", "ssl", "reqtimeout")
    servers = []
    for fc in (False, True):
        run = str(tmp_path / ("fc" if fc else "ap"))
        www = os.path.join(run, "www")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as fh:
            fh.write("hello\n")
        tport = free_port()
        site = SITE.format(www=www, tport=tport, rt=rt, crt=certs.ec.cert, key=certs.ec.key)
        if mpm == "prefork":  # a child per probe from the start (the last value wins)
            site += "StartServers 3\nMinSpareServers 3\nMaxSpareServers 4\n"
        servers.append((fc, tport, ApacheOracle(run, site, modules=mods, fastcore=fc)))
    seen: dict[str, tuple[float, bytes]] = {}
    try:
        for _, _, srv in servers:
            srv.start()
        threads = [threading.Thread(target=_probe, args=(port, stall, seen, f"{fc}-{stall}"))
                   for fc, port, _ in servers for stall in (True, False)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        firsts = [_served(port, certs) for _, port, _ in servers]
    finally:
        for _, _, srv in servers:
            srv.stop()
    assert firsts == [b"HTTP/1.1 200 OK"] * 2
    for stall, want in zip((True, False), expected, strict=True):
        ap, fc = seen[f"False-{stall}"], seen[f"True-{stall}"]
        what = f"{mpm} {rt} {'stall' if stall else 'trickle'}: Apache {ap}, fastcore {fc}"
        assert ap[1] == fc[1] == b"", what  # closed, nothing answered
        assert abs(ap[0] - want) < TOLERANCE, what
        assert abs(fc[0] - ap[0]) < TOLERANCE, what
