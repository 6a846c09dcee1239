"""Debian's stock setenvif.conf with cached answers (issue 13): the C engine evaluates the
BrowserMatch rules itself (src/fc_setenvif.h), so a request no rule matches is an engine
hit, and one a rule matches (nokeepalive, downgrade-1.0, force-response-1.0) goes to the
Python path and gets Apache's answer, also when the file is cached.  Real Apache and
fastcore run the same httpd.conf; every connection shape is asked twice (the second
time the entry exists), and an in-process fastcore with the engine first counts hits."""
from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.apache_oracle import ApacheOracle
from support.inprocess import FastcoreThread

MODULES = ("mpm_event", "authz_core", "mime", "dir", "alias", "setenvif")
WHEN = 1_600_000_000
# /etc/apache2/mods-available/setenvif.conf as Debian ships it (its active lines)
DEBIAN = r'''BrowserMatch "Mozilla/2" nokeepalive
BrowserMatch "MSIE 4\.0b2;" nokeepalive downgrade-1.0 force-response-1.0
BrowserMatch "RealPlayer 4\.0" force-response-1.0
BrowserMatch "Java/1\.0" force-response-1.0
BrowserMatch "JDK/1\.0" force-response-1.0
BrowserMatch "Microsoft Data Access Internet Publishing Provider" redirect-carefully
BrowserMatch "MS FrontPage" redirect-carefully
BrowserMatch "^WebDrive" redirect-carefully
BrowserMatch "^WebDAVFS/1\.[012]" redirect-carefully
BrowserMatch "^gnome-vfs/1\.0" redirect-carefully
BrowserMatch "^gvfs/1" redirect-carefully
BrowserMatch "^XML Spy" redirect-carefully
BrowserMatch "^Dreamweaver-WebDAV-SCM1" redirect-carefully
BrowserMatch " Konqueror/4" redirect-carefully
SetEnvIf Remote_Addr "^10\." internal
SetEnvIfNoCase Request_Method "^post$" posting
'''
SITE = """
StartServers 1
MinSpareThreads 5
MaxSpareThreads 10
ThreadsPerChild 5
MaxRequestWorkers 10
DocumentRoot "{www}"
<Directory />
    Options FollowSymLinks
    AllowOverride None
</Directory>
<Directory "{www}">
    Require all granted
</Directory>
""" + DEBIAN


@dataclass
class Pair:
    apache: ApacheOracle
    fastcore: ApacheOracle


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("setenvif")
    www = root / "www"
    www.mkdir()
    (www / "a.html").write_text("<p>a</p>\n")
    os.utime(www / "a.html", (WHEN, WHEN))
    runs = []
    for name in ("apache", "fastcore"):
        run = root / name
        run.mkdir()
        runs.append(ApacheOracle(str(run), SITE.replace("{www}", str(www)), modules=MODULES,
                                 fastcore=name == "fastcore"))
    for o in runs:
        o.start()
    try:
        yield Pair(*runs)
    finally:
        for o in runs:
            o.stop()


def _connection(port: int, proto: str, agent: str, n: int) -> list[tuple[bytes, dict[str, str]]]:
    """n requests on one connection, each sent after the previous answer (the server may
    close after any): each answer's status line and hop-by-hop fields."""
    out = []
    ka = "Connection: keep-alive\r\n" if proto == "HTTP/1.0" else ""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        for _ in range(n):
            try:
                s.sendall(f"GET /a.html {proto}\r\nHost: x\r\nUser-Agent: {agent}\r\n{ka}\r\n"
                          .encode())
            except OSError:
                break
            status = f.readline()
            if not status:
                break
            fields: dict[str, str] = {}
            length = 0
            while (line := f.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() in ("connection", "keep-alive"):
                    fields[name.lower()] = value.strip()
                if name.lower() == "content-length":
                    length = int(value)
            f.read(length)
            out.append((status.split(b" ", 1)[0], fields))
    return out


AGENTS = [
    ("HTTP/1.1", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", True),
    ("HTTP/1.0", "curl/8.0", True),
    ("HTTP/1.1", "Mozilla/2.02 (Win95)", False),             # nokeepalive
    ("HTTP/1.0", "Mozilla/4.0 (compatible; MSIE 4.0b2; Windows 95)", False),  # downgrade
    ("HTTP/1.0", "Java/1.0.2", False),                        # force-response-1.0
    ("HTTP/1.1", "WebDrive 9", False),                       # redirect-carefully
]


@pytest.mark.parametrize(("proto", "agent", "engine"), AGENTS)
def test_stock_rules_on_cached_answers_as_apache(pair: Pair, proto: str, agent: str,
                                                 engine: bool) -> None:
    srv = FastcoreThread(pair.fastcore.conf_path, board="compiled")
    try:
        _connection(srv.port, "HTTP/1.1", "filler", 1)  # the entry exists from here on
        stats = srv.srv.engine.cache.stats()
        hits = stats["hits"]
        for _ in range(2):
            want = _connection(pair.apache.port, proto, agent, 3)
            assert _connection(pair.fastcore.port, proto, agent, 3) == want
            assert _connection(srv.port, proto, agent, 3) == want
        served = srv.srv.engine.cache.stats()["hits"] - hits
    finally:
        srv.stop()
    # a request no rule matches is an engine hit (a connection's first request may be
    # read by Python before the engine link takes over); one a rule matches never is
    assert served >= 4 if engine else served == 0
    if agent.startswith("Mozilla/2"):
        assert want == [(b"HTTP/1.1", {"connection": "close"})]
    if agent.startswith("Java"):
        assert want[0][0] == b"HTTP/1.0"
