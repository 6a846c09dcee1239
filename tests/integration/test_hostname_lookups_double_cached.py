"""HostnameLookups Double with cached answers (issue 12): a connection's first request makes
the reverse and the forward lookup on the Python path; its later requests are C-engine
hits that log the confirmed name (%h), as Apache logs the name it keeps in conn_rec
(127.0.0.1 is localhost in /etc/hosts both ways).  Real Apache and
fastcore run the same httpd.conf; an in-process fastcore counts the engine's hits."""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
from support.apache_oracle import ApacheOracle, OraclePair, start_pair
from support.inprocess import FastcoreThread

MODULES = ("mpm_event", "authz_core", "mime")
WHEN = 1_600_000_000
SITE = """
StartServers 1
MinSpareThreads 5
MaxSpareThreads 10
ThreadsPerChild 5
MaxRequestWorkers 10
DocumentRoot "{www}"
HostnameLookups Double
LogFormat "%h %>s %U %b" names
CustomLog "{run}/names_log" names
<Directory />
    Options FollowSymLinks
    AllowOverride None
</Directory>
<Directory "{www}">
    Require all granted
</Directory>
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OraclePair]:
    root = tmp_path_factory.mktemp("hostnames_double")
    www = root / "www"
    www.mkdir()
    (www / "a.html").write_text("<p>a</p>\n")
    os.utime(www / "a.html", (WHEN, WHEN))
    both = start_pair(str(root), SITE.replace("{www}", str(www)), MODULES)
    try:
        yield both
    finally:
        both.apache.stop()
        both.fastcore.stop()


def _connection(port: int, n: int) -> list[bytes]:
    """n keep-alive GETs of /a.html on one connection: each answer's status line."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        for _ in range(n):
            s.sendall(b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            status = f.readline()
            length = 0
            while (line := f.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            f.read(length)
            out.append(status.split(b" ", 2)[1])
    return out


def _log(o: ApacheOracle, lines: int) -> list[str]:
    path = os.path.join(o.tmpdir, "names_log")
    deadline = time.monotonic() + 5
    got: list[str] = []
    while time.monotonic() < deadline:
        with open(path) as f:
            got = f.read().splitlines()
        if len(got) >= lines:
            break
        time.sleep(0.05)
    return got


def test_later_requests_are_engine_hits_logging_the_looked_up_name(pair: OraclePair) -> None:
    srv = FastcoreThread(pair.fastcore.conf_path, board="compiled")
    try:
        _connection(srv.port, 1)  # the entry exists from here on
        hits = srv.srv.engine.cache.stats()["hits"]
        for _ in range(2):
            want = _connection(pair.apache.port, 4)
            assert _connection(pair.fastcore.port, 4) == want == [b"200"] * 4
            assert _connection(srv.port, 4) == want
        served = srv.srv.engine.cache.stats()["hits"] - hits
    finally:
        srv.stop()
    # each connection's first request looks the name up on the Python path; the three
    # after it are the engine's (at least two: the first may be read before the link)
    assert served >= 4
    # (the in-process server writes the same log as the fastcore process: 1 + 8 lines more)
    apache, fastcore = _log(pair.apache, 8), _log(pair.fastcore, 17)
    assert apache == ["localhost 200 /a.html 9"] * 8  # 127.0.0.1 is localhost in /etc/hosts
    assert fastcore == apache[:1] * 17
