"""How a TLS connection ends, against Apache (SSLSessionTickets off: sessions live in the
shared shmcb cache): a client that closes without close_notify can still resume its
session on the next connection, and a client that sends close_notify gets Apache's
close_notify back (its unwrap() succeeds), in every MPM, TLS 1.2 and 1.3.
"""
from __future__ import annotations

import os
import socket
import ssl

import pytest
from support.apache_oracle import ApacheOracle
from support.ports import free_port
from support.tlscerts import Certs, make

SITE = """
DocumentRoot "{www}"
Listen 127.0.0.1:{tport} https
SSLSessionCache "shmcb:{run}/scache(512000)"
SSLSessionTickets off
SSLEngine on
SSLCertificateFile "{crt}"
SSLCertificateKeyFile "{key}"
"""
TRIES = 6


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make(str(tmp_path_factory.mktemp("certs")))


def _endings(port: int, c: Certs, version: ssl.TLSVersion) -> list[str]:
    """Each connection offers the previous one's session; every other one is closed
    with close_notify (unwrap), the others by a bare close."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(c.ca.cert)
    ctx.minimum_version = ctx.maximum_version = version
    sess = None
    seen = []
    for i in range(TRIES):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        s = ctx.wrap_socket(raw, server_hostname="a.test", session=sess)
        s.sendall(b"GET /i.html HTTP/1.1\r\nHost: a.test\r\n\r\n")
        head = s.recv(1000).split(b"\r\n", 1)[0].decode()
        seen.append(f"{head} resumed={s.session_reused}")
        sess = s.session
        if i % 2:
            try:
                s.unwrap()
                seen.append("close_notify answered")
            except ssl.SSLError as exc:
                seen.append(f"unwrap: {exc.reason}")
        s.close()
    return seen


@pytest.mark.parametrize("mpm", ["event", "prefork", "worker"])
def test_sessions_survive_a_bare_close_and_close_notify_is_answered(tmp_path, certs: Certs,
                                                                     mpm: str) -> None:
    mods = (f"mpm_{mpm}", "authz_core", "mime", "ssl", "socache_shmcb")
    seen = {}
    for fc in (False, True):
        run = str(tmp_path / ("fc" if fc else "ap"))
        www = os.path.join(run, "www")
        os.makedirs(www)
        with open(os.path.join(www, "i.html"), "w") as fh:
            fh.write("hi\n")
        tport = free_port()
        site = SITE.format(www=www, run=run, tport=tport, crt=certs.ec.cert, key=certs.ec.key)
        with ApacheOracle(run, site, modules=mods, fastcore=fc):
            seen[fc] = {v.name: _endings(tport, certs, v)
                        for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)}
    assert seen[True] == seen[False]
    assert seen[False]["TLSv1_2"].count("HTTP/1.1 200 OK resumed=True") == TRIES - 1
