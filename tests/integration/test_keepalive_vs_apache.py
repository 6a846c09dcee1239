"""Keep-alive follows Apache's one token rule (ap_find_token) on every path: a generated
corpus of Connection values (0xA0, tabs, ';', '=', quotes, mixed case, prefixes of
keep-alive and close) goes to real Apache and to fastcore through the engine (a cached
file) and through the Python path (the same request with an If-None-Match that does not
match, which the engine never answers), in both builds (extensions and twins).  Each
answer is followed on the same connection by a second request: whether it is answered
shows whether the server kept the connection, without waiting on any timer."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.apache_trio import Trio, exchange, start_trio
from support.wire import parse_responses, raw_request

PIECES = st.sampled_from(["keep-alive", "Keep-Alive", "KEEP-ALIVE", "close", "Close", "keep",
                          "k", "c", "clo", "keep-alivex", "closed", "upgrade", "x-foo", "te"])
SEPS = st.sampled_from([" ", "\t", ",", ", ", ";", "=", '"', "\xa0", "/", "(", ")", "\xe9"])
VALUES = st.lists(st.one_of(PIECES, SEPS, st.text(alphabet="abceklopsv-", max_size=4)),
                  max_size=6).map("".join)
SECOND = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Trio:
    root = str(tmp_path_factory.mktemp("keepalive"))
    os.chmod(root, 0o755)
    os.makedirs(f"{root}/htdocs")
    with open(f"{root}/htdocs/a.txt", "w") as f:
        f.write("hello\n")
    os.utime(f"{root}/htdocs/a.txt", (1_700_000_000, 1_700_000_000))
    body = f"""DocumentRoot "{root}/htdocs"
AddType text/plain .txt
KeepAliveTimeout 7
<Directory />
    AllowOverride None
    Require all granted
</Directory>
"""
    t = start_trio(f"{root}/run", body)
    for port in t.ports[1:]:  # put /a.txt in the engines' caches
        assert parse_responses(raw_request(port, SECOND))[0][0] == 200
    yield t
    t.stop()


def answers(port: int, first: bytes) -> list[tuple[int, str | None, str | None]]:
    got = parse_responses(exchange(port, first, SECOND))
    return [(st_, h.get("connection"), h.get("keep-alive")) for st_, h, _ in got]


@pytest.mark.parametrize("value,version,expected", [
    ("keep-alive\xa0", "HTTP/1.0", ("Keep-Alive", "timeout=7, max=100")),
    ("keep", "HTTP/1.0", ("Keep-Alive", "timeout=7, max=100")),
    ("x-foo keep-alive", "HTTP/1.0", ("Keep-Alive", "timeout=7, max=100")),
    ("keep-alive;", "HTTP/1.0", ("Keep-Alive", "timeout=7, max=100")),
    ("keep-alive, close", "HTTP/1.0", ("close", None)),
    ("keep-alivex", "HTTP/1.0", ("close", None)),
    ("c", "HTTP/1.1", ("close", None)),
    ('"close"', "HTTP/1.1", ("close", None)),
])
@pytest.mark.parametrize("path", ["engine", "python"])
def test_measured_examples(trio: Trio, value: str, version: str, expected: tuple, path: str) -> None:
    extra = 'If-None-Match: "nope"\r\n' if path == "python" else ""
    first = (f"GET /a.txt {version}\r\nHost: localhost\r\n{extra}Connection: {value}\r\n\r\n"
             .encode("latin-1"))
    got = [answers(port, first) for port in trio.ports]
    kept = expected[0] != "close"
    assert got[0][0] == (200, *expected) and len(got[0]) == (2 if kept else 1)  # Apache
    assert got[1] == got[0], "fastcore"
    assert got[2] == got[0], "fastcore twin"


@settings(max_examples=150, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUES, version=st.sampled_from(["HTTP/1.0", "HTTP/1.1"]),
       path=st.sampled_from(["engine", "python"]))
def test_generated_connection_values_match_apache(trio: Trio, value: str, version: str,
                                                  path: str) -> None:
    extra = 'If-None-Match: "nope"\r\n' if path == "python" else ""
    first = (f"GET /a.txt {version}\r\nHost: localhost\r\n{extra}Connection: {value}\r\n\r\n"
             .encode("latin-1"))
    got = [answers(port, first) for port in trio.ports]
    assert got[0] and got[0][0][0] == 200
    assert got[1] == got[0], ("fastcore", value, version, path)
    assert got[2] == got[0], ("fastcore twin", value, version, path)
