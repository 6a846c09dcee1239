"""Core and mod_alias directives fastcore used to refuse or mishandle, each answered by a
live Apache 2.4 and by fastcore from the same httpd.conf, response by response: MaxRanges
(and MaxRangeOverlaps), AcceptPathInfo, MergeSlashes, StrictHostCheck, HttpProtocolOptions
RegisteredMethods / Require1.0, ScriptAlias(Match) without a CGI module, Redirect's status
forms, and PCRE2-only regex syntax in AliasMatch, RedirectMatch and <LocationMatch>."""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.apache_oracle import ApacheOracle
from support.inprocess import FastcoreThread
from support.ports import free_port
from support.wire import parse_responses, raw_request

# the facts compared besides the status (bodies of error pages differ only by signature)
OLD = 1_700_000_000  # a fixed past mtime
HEADERS = ("location", "accept-ranges", "content-range", "content-length", "connection")


@dataclass(frozen=True)
class Answer:
    """What a client sees of one response."""

    status: int
    headers: dict[str, str]
    body: bytes


def _w(path: str, data: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(data)


@pytest.fixture(scope="module")
def docroot(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = str(tmp_path_factory.mktemp("coredirs"))
    body = "".join(chr(97 + i % 26) for i in range(1000))
    for sub in ("", "none/", "two/", "unl/", "ovl/"):
        _w(f"{d}/htdocs/{sub}big.txt", body)
        os.utime(f"{d}/htdocs/{sub}big.txt", (OLD, OLD))  # strong ETag: cacheable
    _w(f"{d}/htdocs/pion/f.html", "on\n")
    _w(f"{d}/htdocs/pioff/f.html", "off\n")
    _w(f"{d}/htdocs/pidef/f.html", "def\n")
    _w(f"{d}/htdocs/a/b/f.html", "ab\n")
    _w(f"{d}/htdocs/ht1/f.html", "ht1\n")
    _w(f"{d}/htdocs/ht1/.htaccess", "AcceptPathInfo On\n")
    _w(f"{d}/htdocs/ht2/f.html", "ht2\n")
    _w(f"{d}/htdocs/ht2/.htaccess", "MaxRanges 2\n")
    _w(f"{d}/htdocs/c/d/f.html", "cd\n")
    _w(f"{d}/cgi/t.html", "page\n")
    _w(f"{d}/cgi/t.sh", "#!/bin/sh\necho hi\n")
    os.chmod(f"{d}/cgi/t.sh", 0o755)
    _w(f"{d}/named/x.html", "named\n")
    _w(f"{d}/one/f.html", "one\n")
    _w(f"{d}/two/f.html", "two\n")
    return d


@dataclass
class Pair:
    """Apache and fastcore serving the same configuration."""

    apache: ApacheOracle
    fastcore: FastcoreThread

    def ask(self, raw: str) -> tuple[Answer, Answer]:
        data = raw.replace("\n", "\r\n").encode("latin-1")
        return _answer(self.apache.port, data), _answer(self.fastcore.port, data)


def _answer(port: int, data: bytes) -> Answer:
    got = parse_responses(raw_request(port, data))
    assert got, f"no response to {data!r}"
    status, headers, body = got[0]
    keep = {k: v for k, v in headers.items() if k in HEADERS}
    if status >= 300 or headers.get("content-type", "").startswith("multipart/"):
        body = b""  # error pages carry the server's signature; boundaries are random
        keep.pop("content-length", None)
    return Answer(status, keep, body)


def _pair(tmp: str, body: str, engine: bool = False) -> Iterator[Pair]:
    port = free_port()
    ap = ApacheOracle(tmp, body.replace("@PORT@", str(port)), port=port)
    os.makedirs(tmp, exist_ok=True)
    with open(ap.conf_path, "w") as f:
        f.write(ap.config_text())
    # engine: no scoreboard, so connections run the C engine (FastConn) first, as the
    # MPMs' do, instead of the Python path only
    fc = FastcoreThread(ap.conf_path, board="none" if engine else "pure")
    try:
        with ap:
            yield Pair(ap, fc)
    finally:
        fc.stop()


def _same(pair: Pair, raw: str) -> Answer:
    a, f = pair.ask(raw)
    assert f == a, f"{raw!r}: apache {a} fastcore {f}"
    return a


MAIN = """DocumentRoot "{d}/htdocs"
MergeSlashes Off
<Directory "{d}">
    Require all granted
</Directory>
<Directory "{d}/htdocs/none">
    MaxRanges none
</Directory>
<Directory "{d}/htdocs/two">
    MaxRanges 2
</Directory>
<Directory "{d}/htdocs/unl">
    MaxRanges unlimited
</Directory>
<Directory "{d}/htdocs/ovl">
    MaxRangeOverlaps 1
</Directory>
<Directory "{d}/htdocs/pion">
    AcceptPathInfo On
</Directory>
<Directory "{d}/htdocs/pioff">
    AcceptPathInfo Off
</Directory>
<Directory "{d}/htdocs/ht1">
    AllowOverride FileInfo
</Directory>
<Directory "{d}/htdocs/ht2">
    AllowOverride All
</Directory>
<Location /a/b>
    Require all denied
</Location>
<LocationMatch "^/c//d">
    Require all denied
</LocationMatch>
<LocationMatch "^/(?<area>pidef)/f\\.html$">
    Require all denied
</LocationMatch>
ScriptAlias /cgi-bin/ "{d}/cgi/"
ScriptAliasMatch "^/sm/(?<rest>.*)" "{d}/cgi/$1"
AliasMatch "^/named/(?<file>x)++\\.html$" "{d}/named/x.html"
Redirect 403 /forbidden
Redirect gone /gone
Redirect seeother /other /elsewhere
Redirect 301x /loose /target
RedirectMatch gone "^/rxgone/(?<n>\\d++)$"
RedirectMatch permanent "^/rx/(?<n>[a-z]+)\\K/tail$" http://example.test/$1
RedirectMatch ^/amp/(.*)$ http://example.test/a&b\\$1$1$9
<Location /sec>
    Redirect /fixed
</Location>
<Location /secgone>
    Redirect 410
</Location>
"""

MANY = ",".join(f"{i * 3}-{i * 3}" for i in range(201))
ADJACENT = ",".join(f"{i}-{i}" for i in range(30))
MAIN_REQUESTS = [
    # MaxRanges: merged ranges counted; beyond the limit the whole file; none says so
    "GET /two/big.txt HTTP/1.0\nRange: bytes=0-1,5-6,10-11\n\n",
    "GET /two/big.txt HTTP/1.0\nRange: bytes=0-1,2-3,10-11\n\n",
    "GET /two/big.txt HTTP/1.0\nRange: bytes=0-1,5-6\n\n",
    "GET /none/big.txt HTTP/1.0\nRange: bytes=0-1\n\n",
    "GET /none/big.txt HTTP/1.0\n\n",
    "GET /none/big.txt HTTP/1.0\nRange: bytes=5000-\n\n",
    f"GET /big.txt HTTP/1.0\nRange: bytes={MANY}\n\n",
    f"GET /unl/big.txt HTTP/1.0\nRange: bytes={MANY}\n\n",
    # MaxRangeOverlaps (default 20; 1 here) and the sum-of-ranges rule
    f"GET /big.txt HTTP/1.0\nRange: bytes={ADJACENT}\n\n",
    "GET /ovl/big.txt HTTP/1.0\nRange: bytes=0-9,5-19,100-109\n\n",
    "GET /ovl/big.txt HTTP/1.0\nRange: bytes=0-9,5-19,15-29\n\n",
    "GET /big.txt HTTP/1.0\nRange: bytes=0-599,700-999,500-800\n\n",
    "GET /big.txt HTTP/1.0\nRange: bytes=5-9,0-\n\n",
    # AcceptPathInfo
    "GET /pion/f.html/extra HTTP/1.0\n\n",
    "GET /pion/f.html/ HTTP/1.0\n\n",
    "GET /pioff/f.html/extra HTTP/1.0\n\n",
    "GET /pidef/f.html/extra HTTP/1.0\n\n",
    # in .htaccess: AcceptPathInfo is FileInfo, MaxRanges is not allowed there (500)
    "GET /ht1/f.html/extra HTTP/1.0\n\n",
    "GET /ht2/f.html HTTP/1.0\n\n",
    # MergeSlashes Off: <Location> still matches, <LocationMatch> sees the doubled slash
    "GET /a//b/f.html HTTP/1.0\n\n",
    "GET /c//d/f.html HTTP/1.0\n\n",
    "GET /c/d/f.html HTTP/1.0\n\n",
    "GET //c/d/f.html HTTP/1.0\n\n",
    # PCRE2 syntax: named groups, possessive quantifiers, \\K
    "GET /pidef/f.html HTTP/1.0\n\n",
    "GET /named/x.html HTTP/1.0\n\n",
    "GET /named/xx.html HTTP/1.0\n\n",
    "GET /rxgone/12 HTTP/1.0\n\n",
    "GET /rx/abc/tail HTTP/1.0\n\n",
    "GET /amp/zz HTTP/1.0\n\n",  # ap_pregsub: '&' literal, "\\$" a dollar, $9 empty
    # ScriptAlias without a CGI module: the files as they are; the directory is 404
    "GET /cgi-bin/t.html HTTP/1.0\n\n",
    "GET /cgi-bin/t.sh HTTP/1.0\n\n",
    "GET /cgi-bin/ HTTP/1.0\n\n",
    "GET /cgi-bin/nope HTTP/1.0\n\n",
    "GET /sm/t.html HTTP/1.0\n\n",
    # Redirect's status forms
    "GET /forbidden HTTP/1.0\n\n",
    "GET /forbidden/x HTTP/1.0\n\n",
    "GET /gone HTTP/1.0\n\n",
    "GET /other/x HTTP/1.0\n\n",
    "GET /loose/y HTTP/1.0\n\n",
    "GET /sec/inner HTTP/1.0\n\n",
    "GET /secgone/x HTTP/1.0\n\n",
]


@pytest.fixture(scope="module")
def main_pair(docroot: str) -> Iterator[Pair]:
    yield from _pair(os.path.join(docroot, "run-main"), MAIN.format(d=docroot))


@pytest.mark.parametrize("raw", MAIN_REQUESTS)
def test_main_directives_answer_as_apache(main_pair: Pair, raw: str) -> None:
    _same(main_pair, raw)


def test_max_ranges_none_and_limits(main_pair: Pair) -> None:
    """The observable points, spelled out (they also hold for Apache, via _same)."""
    a = _same(main_pair, "GET /none/big.txt HTTP/1.0\nRange: bytes=0-1\n\n")
    assert a.status == 200 and a.headers["accept-ranges"] == "none"
    assert _same(main_pair, "GET /two/big.txt HTTP/1.0\nRange: bytes=0-1,5-6,10-11\n\n"
                 ).status == 200
    assert _same(main_pair, f"GET /unl/big.txt HTTP/1.0\nRange: bytes={MANY}\n\n").status == 206


def test_accept_path_info_and_merge_slashes(main_pair: Pair) -> None:
    assert _same(main_pair, "GET /pion/f.html/extra HTTP/1.0\n\n").body == b"on\n"
    assert _same(main_pair, "GET /pioff/f.html/extra HTTP/1.0\n\n").status == 404
    assert _same(main_pair, "GET /c//d/f.html HTTP/1.0\n\n").status == 403
    assert _same(main_pair, "GET /c/d/f.html HTTP/1.0\n\n").status == 200


def test_pcre2_syntax_and_script_alias(main_pair: Pair) -> None:
    assert _same(main_pair, "GET /named/xx.html HTTP/1.0\n\n").body == b"named\n"
    assert _same(main_pair, "GET /rx/abc/tail HTTP/1.0\n\n").headers["location"] == \
        "http://example.test/abc"
    assert _same(main_pair, "GET /amp/zz HTTP/1.0\n\n").headers["location"] == \
        "http://example.test/a&b$1zz"
    assert _same(main_pair, "GET /cgi-bin/t.sh HTTP/1.0\n\n").body == b"#!/bin/sh\necho hi\n"
    assert _same(main_pair, "GET /cgi-bin/ HTTP/1.0\n\n").status == 404
    assert _same(main_pair, "GET /forbidden HTTP/1.0\n\n").status == 403
    assert _same(main_pair, "GET /sec/inner HTTP/1.0\n\n").headers["location"].endswith("/fixed")


PROTO = """DocumentRoot "{d}/htdocs"
HttpProtocolOptions RegisteredMethods Require1.0
<Directory "{d}">
    Require all granted
</Directory>
<Location /a/b>
    Require all denied
</Location>
"""
PROTO_REQUESTS = [
    "FOO /a/b/f.html HTTP/1.0\n\n",
    "BREW /nope HTTP/1.0\n\n",
    "PATCH /nope HTTP/1.0\n\n",
    "GET /big.txt\n",
    "GET /c/d/f.html HTTP/1.1\nHost: x\n\n",
    "FOO /c/d/f.html HTTP/1.1\nHost: x\n\n",  # and whether the connection stays open
    "get /c/d/f.html HTTP/1.1\nHost: x\n\n",
]
LENIENT = PROTO.replace("HttpProtocolOptions RegisteredMethods Require1.0\n", "")


@pytest.fixture(scope="module")
def proto_pair(docroot: str) -> Iterator[Pair]:
    yield from _pair(os.path.join(docroot, "run-proto"), PROTO.format(d=docroot))


@pytest.fixture(scope="module")
def lenient_pair(docroot: str) -> Iterator[Pair]:
    yield from _pair(os.path.join(docroot, "run-lenient"), LENIENT.format(d=docroot))


@pytest.mark.parametrize("raw", PROTO_REQUESTS)
def test_http_protocol_options_answer_as_apache(proto_pair: Pair, raw: str) -> None:
    _same(proto_pair, raw)


def test_registered_methods_refuse_before_access_control(proto_pair: Pair,
                                                         lenient_pair: Pair) -> None:
    assert _same(proto_pair, "FOO /a/b/f.html HTTP/1.0\n\n").status == 501
    assert _same(lenient_pair, "FOO /a/b/f.html HTTP/1.0\n\n").status == 403
    assert _same(proto_pair, "GET /big.txt\n").status == 400


VHOSTS = """DocumentRoot "{d}/htdocs"
{main_strict}
<Directory "{d}">
    Require all granted
</Directory>
<VirtualHost *:@PORT@>
    ServerName one.test
    {one_strict}
    DocumentRoot "{d}/one"
</VirtualHost>
<VirtualHost *:@PORT@>
    ServerName two.test
    ServerAlias *.two.test
    {two_strict}
    DocumentRoot "{d}/two"
</VirtualHost>
"""
HOST_REQUESTS = [
    "GET /f.html HTTP/1.1\nHost: one.test\n\n",
    "GET /f.html HTTP/1.1\nHost: zzz.test\n\n",
    "GET /f.html HTTP/1.1\nHost: localhost\n\n",
    "GET /f.html HTTP/1.1\nHost: x.two.test\n\n",
    "GET /f.html HTTP/1.1\nHost: ONE.test.\n\n",
    "GET /f.html HTTP/1.0\n\n",
    "GET http://zzz.test/f.html HTTP/1.1\nHost: one.test\n\n",
    "GET http://two.test/f.html HTTP/1.1\nHost: zzz.test\n\n",
]
STRICT_CASES = {
    "main": {"main_strict": "StrictHostCheck On", "one_strict": "", "two_strict": ""},
    "default-vhost": {"main_strict": "", "one_strict": "StrictHostCheck On", "two_strict": ""},
    "other-vhost": {"main_strict": "", "one_strict": "", "two_strict": "StrictHostCheck On"},
    "default-off": {"main_strict": "StrictHostCheck On", "one_strict": "StrictHostCheck Off",
                    "two_strict": ""},
}


@pytest.mark.parametrize("case", sorted(STRICT_CASES))
def test_strict_host_check_as_apache(docroot: str, case: str) -> None:
    body = VHOSTS.format(d=docroot, **STRICT_CASES[case])
    for pair in _pair(os.path.join(docroot, f"run-strict-{case}"), body):
        answers = [_same(pair, raw) for raw in HOST_REQUESTS]
        refused = answers[1].status == 400
        assert refused == (case in ("main", "default-vhost"))
        with open(os.path.join(pair.apache.tmpdir, "error_log")) as f:
            said = Counter(line.split("AH10157: ", 1)[1] for line in f if "AH10157" in line)
        # both servers write this one file, so each line comes twice (file and line of the
        # default vhost included)
        assert bool(said) == refused and all(n % 2 == 0 for n in said.values()), said


def test_strict_host_check_without_vhosts(docroot: str) -> None:
    body = f'DocumentRoot "{docroot}/htdocs"\nStrictHostCheck On\n' \
           f'<Directory "{docroot}">\n    Require all granted\n</Directory>\n'
    for pair in _pair(os.path.join(docroot, "run-strict-novhost"), body):
        assert _same(pair, "GET /big.txt HTTP/1.1\nHost: localhost\n\n").status == 200
        assert _same(pair, "GET /big.txt HTTP/1.1\nHost: other.test\n\n").status == 400
        assert _same(pair, "GET /big.txt HTTP/1.0\n\n").status == 200
        with open(os.path.join(pair.apache.tmpdir, "error_log")) as f:
            log = f.read()  # both servers write this one file: each says it once
        assert log.count("AH10156: Requested hostname 'other.test' did not match any "
                         "ServerName/ServerAlias in the global server configuration") == 2


# Host names in the Host field and in absolute-form targets (vhost.c fix_hostname and
# its strict check, apr_parse_addr_port, apr_uri_parse), under Strict and Unsafe
HOST_FORMS = [
    "localhost", "0x7f.1", "127.1", "127.0.0.1", "127.0.0.01", "0127.0.0.1", "1.2.3.4.5",
    "1.2.3", "a.1", "a.1b", "a.b1", "a-b.c", "a_b.c", "_.c", "a._b", "a..b", "a.b.", ".a.b",
    "1.2.3.4.", "[::1]", "[::1", "[::1]:80", "[::1]x", "[1::2::3]", "[::ffff:1.2.3.4]",
    "[::g]", "[:.1]", "[1.2.3.4]", "[]", "[:::1]", "[1:2:3:4:5:6:7:8:9]", "[fe80::1%eth0]",
    "[::1]:", "[::1]:0", "[::1]:65536", "a:80", "a:0", "a:65536", "a:abc", "a:", "a:+80",
    "a:-1", "a,b", "a%41", "a~b.c", "-a.b", "a.-b", "123", "0", "1.2.3.0x4", "a.123",
    "a.b-1", "1.2.3.4:99999", "999.999.999.999", "*", ".", "..", "A.B.C",
]


@pytest.fixture(scope="module", params=["Strict", "Unsafe"])
def host_pair(docroot: str, request: pytest.FixtureRequest) -> Iterator[Pair]:
    body = (f'DocumentRoot "{docroot}/htdocs"\nHttpProtocolOptions {request.param}\n'
            f'<Directory "{docroot}">\n    Require all granted\n</Directory>\n')
    yield from _pair(os.path.join(docroot, f"run-hosts-{request.param}"), body)


@pytest.mark.parametrize("host", HOST_FORMS)
def test_host_forms_answer_as_apache(host_pair: Pair, host: str) -> None:
    _same(host_pair, f"GET /big.txt HTTP/1.1\nHost: {host}\nConnection: close\n\n")
    _same(host_pair, f"GET http://{host}/big.txt HTTP/1.1\nHost: x\nConnection: close\n\n")


def test_numeric_and_hex_hosts_are_refused(host_pair: Pair) -> None:
    strict = "Strict" in host_pair.apache.body
    for host in ("0x7f.1", "127.1", "a.123"):
        a = _same(host_pair, f"GET http://{host}/big.txt HTTP/1.1\nHost: x\n\n")
        assert a.status == (400 if strict else 200)
    assert _same(host_pair, "GET http://[::1/big.txt HTTP/1.1\nHost: x\n\n").status == 400


def _repeat(name: str, n: int, size: int) -> str:
    return "".join(f"{name}: {chr(97 + i) * size}\n" for i in range(n))


MERGED_FIELDS = [
    _repeat("X-A", 2, 499),   # merged: 1000 bytes, the limit itself
    _repeat("X-A", 2, 500),   # 1002: over
    _repeat("X-A", 3, 400),
    "X-A: " + "a" * 600 + "\nx-a: " + "b" * 600 + "\n",  # names compare case-insensitively
    "X-A: \nX-A: " + "b" * 995 + "\n",
    _repeat("Accept", 2, 600),
    _repeat("X-A", 1, 990) + _repeat("X-B", 1, 990),  # different names: never merged
]


@pytest.fixture(scope="module")
def limit_pair(docroot: str) -> Iterator[Pair]:
    body = (f'DocumentRoot "{docroot}/htdocs"\nLimitRequestFieldSize 1000\n'
            '<Directory />\n    AllowOverride None\n</Directory>\n'  # cacheable answers
            f'<Directory "{docroot}">\n    Require all granted\n</Directory>\n')
    yield from _pair(os.path.join(docroot, "run-limit"), body, engine=True)


@pytest.mark.parametrize("fields", MERGED_FIELDS)
def test_repeated_fields_merged_past_the_limit(limit_pair: Pair, fields: str) -> None:
    # a first plain request puts /big.txt into the C engine's cache, so the second one
    # is read by the engine's own parser before Python's
    _same(limit_pair, "GET /big.txt HTTP/1.1\nHost: localhost\nConnection: close\n\n")
    _same(limit_pair, f"GET /big.txt HTTP/1.1\nHost: localhost\n{fields}Connection: close\n\n")


def test_merged_field_over_the_limit_is_400(limit_pair: Pair) -> None:
    _same(limit_pair, "GET /big.txt HTTP/1.1\nHost: localhost\n\n")
    assert len(limit_pair.fastcore.srv.engine.cache)  # the engine's parser is the one tested below
    raw = f"GET /big.txt HTTP/1.1\nHost: localhost\n{_repeat('X-A', 2, 500)}\n"
    assert _same(limit_pair, raw).status == 400
    got = raw_request(limit_pair.fastcore.port, raw.replace("\n", "\r\n").encode())
    assert b"Size of a request header field exceeds server limit." in got


# request syntax that HttpProtocolOptions Unsafe tolerates and Strict refuses (sent as is)
SYNTAX = [
    b"GET  /big.txt HTTP/1.1\r\nHost: a\r\n\r\n", b"GET /big.txt  HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /big.txt http/1.1\r\nHost: a\r\n\r\n", b"GET /big.txt HTTP/1.1 x\r\nHost: a\r\n\r\n",
    b"GET /big.txt HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n",
    b"GET /big.txt HTTP/1.1\r\nHost: a\r\nX-A: b\x01c\r\n\r\n",
    b"GET /big.txt HTTP/1.1\r\nHost: a\r\nX-A: b\x7fc\r\n\r\n", b"GET /big.txt HTTP/01.1\r\n\r\n",
    b"GET\t/big.txt\tHTTP/1.1\r\nHost: a\r\n\r\n", b"GET /big.txt HTTP/1.1\r\nHost: a\r\nX@A: b\r\n\r\n",
    b"GET /big.txt HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", b"G(T /big.txt HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /big.txt HTTP/1.1 \r\nHost: a\r\n\r\n", b"GET /big.txt HTTP/1.1\r\nHost: a\r\nX-A:\x00b\r\n\r\n",
    b"POST  /big.txt  hTtP/1.0  \r\n\r\n",
    b"GET /big.txt HTTP/1.1\nHost: a\n\n",  # bare LF line ends
    b"GET /big.txt HTTP/1.1\r\nHost: a\nX-A: b\n  c\n\r\n",
    b"\nGET /big.txt HTTP/1.1\nHost: a\nX-A:\n c\n\n",
]


@pytest.mark.parametrize("raw", SYNTAX)
def test_request_syntax_as_apache(host_pair: Pair, raw: bytes) -> None:
    a, f = (_answer(srv.port, raw) for srv in (host_pair.apache, host_pair.fastcore))
    assert f == a
