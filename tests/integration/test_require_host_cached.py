"""`Require host` with cached answers (issue 12): a connection's first request makes the
double-reverse lookup on the Python path (Apache's REMOTE_DOUBLE_REV, kept on conn_rec);
its later requests are C-engine hits whose host leaf (src/fc_ipmatch.h) reads the name the
forward lookup confirmed.  Real Apache and fastcore run the same httpd.conf (127.0.0.1 is
localhost in /etc/hosts both ways); an in-process fastcore counts the engine's hits."""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
from support.apache_oracle import ApacheOracle, OraclePair, start_pair
from support.inprocess import FastcoreThread

MODULES = ("mpm_event", "authz_core", "authz_host", "mime")
WHEN = 1_600_000_000
SITE = """
StartServers 1
MinSpareThreads 5
MaxSpareThreads 10
ThreadsPerChild 5
MaxRequestWorkers 10
DocumentRoot "{www}"
HostnameLookups Off
LogFormat "%h %>s %U" names
CustomLog "{run}/names_log" names
<Directory />
    Options FollowSymLinks
    AllowOverride None
</Directory>
<Directory "{www}">
    Require host localhost
</Directory>
<Directory "{www}/not">
    <RequireAll>
        Require all granted
        Require not host localhost
    </RequireAll>
</Directory>
<Directory "{www}/other">
    Require host example.org .invalid
</Directory>
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OraclePair]:
    root = tmp_path_factory.mktemp("requirehost")
    www = root / "www"
    for d in (www, www / "not", www / "other"):
        d.mkdir()
        (d / "a.html").write_text("<p>a</p>\n")
        os.utime(d / "a.html", (WHEN, WHEN))
    both = start_pair(str(root), SITE.replace("{www}", str(www)), MODULES)
    try:
        yield both
    finally:
        both.apache.stop()
        both.fastcore.stop()


def _connection(port: int, n: int, path: str = "/a.html") -> list[bytes]:
    """n keep-alive GETs of path on one connection: each answer's status line."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        for _ in range(n):
            s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
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


def _log(o: ApacheOracle) -> list[str]:
    with open(os.path.join(o.tmpdir, "names_log")) as f:
        return f.read().splitlines()


def test_require_host_answers_as_apache(pair: OraclePair) -> None:
    for path in ("/a.html", "/not/a.html", "/other/a.html"):
        want = _connection(pair.apache.port, 3, path)
        assert _connection(pair.fastcore.port, 3, path) == want, path
    assert want == [b"403"] * 3  # no domain matches localhost
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(_log(pair.fastcore)) < 9:
        time.sleep(0.05)
    # the name the lookup found is what %h logs, as Apache's conn_rec keeps it
    assert _log(pair.fastcore) == _log(pair.apache)
    assert _log(pair.apache)[:4] == ["localhost 200 /a.html"] * 3 + ["localhost 403 /not/a.html"]


def test_later_requests_are_engine_hits(pair: OraclePair) -> None:
    srv = FastcoreThread(pair.fastcore.conf_path, board="compiled")
    try:
        # a denied client is never the engine's: the Python path answers each 403
        for _ in range(2):
            assert _connection(srv.port, 3, "/not/a.html") == [b"403"] * 3
        assert srv.srv.engine.cache.stats()["hits"] == 0
        _connection(srv.port, 1)  # the entry exists from here on
        hits = srv.srv.engine.cache.stats()["hits"]
        for _ in range(2):
            assert _connection(srv.port, 4) == [b"200"] * 4
        served = srv.srv.engine.cache.stats()["hits"] - hits
    finally:
        srv.stop()
    # each connection's first request looks the name up on the Python path; the three
    # after it are the engine's (at least two: the first may be read before the link)
    assert served >= 4
