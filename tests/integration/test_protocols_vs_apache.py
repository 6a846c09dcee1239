"""Core's `Protocols` over HTTP/1.1, as httpd 2.4 without mod_http2 (HTML5 Boilerplate's
httpd.conf says `Protocols h2 http/1.1`): the first answer of each connection that reaches
the handler announces the protocols listed before http/1.1 (`Upgrade: h2`, `Connection:
Upgrade` joined with the keep-alive token), later answers on the connection and error
answers do not, a client's own Upgrade request gets none and no switch.  Apache and
fastcore serve the same files; every connection is asked twice, so a fastcore cache that
kept a first answer (or a later one) would show.  The answers are cache entries that
carry the announcement (issue 13): test_cache_hits_announce_as_apache has every request
of its connections answered by the C engine."""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.apache_oracle import ApacheOracle
from support.wire import parse_responses, raw_request

MODULES = ("mpm_event", "authz_core", "mime", "dir", "alias")
WHEN = 1_600_000_000
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
    AllowOverride None
</Directory>
Protocols h2c H2 http/1.1
<VirtualHost *>
    ServerName plain.test
    Protocols http/1.1
</VirtualHost>
<VirtualHost *>
    ServerName only2.test
    Protocols h2
</VirtualHost>
<VirtualHost *>
    ServerName main.test
</VirtualHost>
"""
FIELDS = ("upgrade", "connection", "keep-alive")


@dataclass
class Pair:
    apache: ApacheOracle
    fastcore: ApacheOracle


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("protocols")
    www = root / "www"
    (www / "dir").mkdir(parents=True)
    (www / "a.html").write_text("<p>a</p>\n")
    (www / "dir" / "index.html").write_text("<p>d</p>\n")
    for p in (www / "a.html", www / "dir" / "index.html"):
        os.utime(p, (WHEN, WHEN))
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


def _connection(o: ApacheOracle, host: str, requests: list[str]) -> list[tuple]:
    """One connection carrying `requests` (the last closes it): status and hop fields."""
    data = "".join(f"{r}\r\nHost: {host}\r\n" + ("Connection: close\r\n" if i == len(requests)
                                                    - 1 else "") + "\r\n"
                   for i, r in enumerate(requests))
    got = parse_responses(raw_request(o.port, data.encode()),
                          head_request=requests[0].startswith("HEAD"))
    assert len(got) == len(requests), got
    return [(st, {k: v for k, v in h.items() if k in FIELDS}) for st, h, _b in got]


CASES = [
    ("main.test", ["GET /a.html HTTP/1.1", "GET /a.html HTTP/1.1"]),
    ("main.test", ["GET /missing HTTP/1.1", "GET /a.html HTTP/1.1"]),
    ("main.test", ["GET /dir HTTP/1.1", "GET /dir/ HTTP/1.1"]),
    ("main.test", ["HEAD /a.html HTTP/1.1"]),
    ("main.test", ["GET /a.html HTTP/1.0"]),
    ("main.test", ["GET /a.html HTTP/1.1\r\nIf-Modified-Since: Sun, 01 Jan 2034 00:00:00 GMT"]),
    ("main.test", ["GET /a.html HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade"]),
    ("main.test", ["GET /a.html HTTP/1.1\r\nUpgrade: websocket"]),
    ("main.test", ["OPTIONS * HTTP/1.1"]),
    ("plain.test", ["GET /a.html HTTP/1.1", "GET /a.html HTTP/1.1"]),
    ("only2.test", ["GET /a.html HTTP/1.1", "GET /a.html HTTP/1.1"]),
]


@pytest.mark.parametrize(("host", "requests"), CASES)
def test_announced_as_apache(pair: Pair, host: str, requests: list[str]) -> None:
    for _ in range(2):  # a new connection each time: the cache must not answer the first
        a = _connection(pair.apache, host, requests)
        f = _connection(pair.fastcore, host, requests)
        assert f == a


def test_what_apache_announces(pair: Pair) -> None:
    """The comparison above is of answers that differ from the plain ones."""
    first, second = _connection(pair.apache, "main.test", ["GET /a.html HTTP/1.1"] * 2)
    assert first == (200, {"upgrade": "h2c,H2", "connection": "Upgrade"})  # as written
    assert second[1].get("upgrade") is None
    assert _connection(pair.fastcore, "only2.test", ["GET /a.html HTTP/1.0"])[0][1] == {
        "upgrade": "h2", "connection": "Upgrade, close"}
    assert "upgrade" not in _connection(pair.fastcore, "plain.test", ["GET /a.html HTTP/1.1"])[0][1]


HIT_CASES = [
    ["GET /a.html HTTP/1.1", "GET /a.html HTTP/1.1", "GET /a.html HTTP/1.1"],
    ["GET /a.html HTTP/1.0\r\nConnection: keep-alive", "GET /a.html HTTP/1.0"],
    ["HEAD /a.html HTTP/1.1", "GET /a.html HTTP/1.1"],
    ["GET /a.html HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade", "GET /a.html HTTP/1.1"],
    ["GET /a.html HTTP/1.1\r\nUpgrade:", "GET /a.html HTTP/1.1"],
]


@pytest.mark.parametrize("requests", HIT_CASES)
def test_cache_hits_announce_as_apache(pair: Pair, requests: list[str]) -> None:
    """The same connections against fastcore in-process with the C engine first, once
    the entry exists: every request is an engine hit, and each carries (or not) the
    announcement exactly as Apache's answers do."""
    from support.inprocess import FastcoreThread
    srv = FastcoreThread(pair.fastcore.conf_path, board="compiled")
    try:
        assert _connection(srv, "main.test", ["GET /a.html HTTP/1.1"])[0][0] == 200  # fills
        stats = srv.srv.engine.cache.stats()
        before = stats["hits"]
        for _ in range(2):
            want = _connection(pair.apache, "main.test", requests)
            assert _connection(srv, "main.test", requests) == want
        assert srv.srv.engine.cache.stats()["hits"] - before == 2 * len(requests)
    finally:
        srv.stop()
    # an Upgrade field with a value stops the announcement; an empty one does not
    assert want[0][1].get("upgrade") == (None if "Upgrade: h2c" in requests[0] else "h2c,H2")
