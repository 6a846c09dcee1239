"""The request-head parser agrees with real Apache httpd 2.4 on every case below.

Each raw head goes to a private Apache (default limits, HttpProtocolOptions default) and to
both parser implementations.  Apache answering 400/414 means the parser must raise HeadError
with that status; any other answer (200, 404, 403, 501, an HTTP/0.9 body) means the head is
syntactically valid and the parser must return it (HTTP/0.9 exactly when Apache answered
without a status line).  Method semantics and Host rules are the server's, not the parser's,
so every HTTP/1.1 case carries a Host header.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

import pytest
from support.apache_oracle import ApacheOracle
from support.wire import raw_request

MODULES = ("mpm_event", "authz_core", "mime", "dir")
BODY = """\
User www-data
Group www-data
LogLevel debug
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
DocumentRoot {root}/htdocs
DirectoryIndex index.html
Timeout 3
KeepAlive Off
<Directory />
    Require all granted
</Directory>
"""


@contextlib.contextmanager
def apache(www_dir: str, extra: str = "") -> Iterator[ApacheOracle]:
    """A private Apache (event MPM, one child) on a document root with index.html."""
    root = tempfile.mkdtemp(prefix="fc-apache-", dir=www_dir)
    os.chmod(root, 0o755)  # www-data must traverse it
    os.makedirs(os.path.join(root, "htdocs"))
    with open(os.path.join(root, "htdocs", "index.html"), "w") as fh:
        fh.write("<html>hello</html>\n")
    os.chmod(os.path.join(root, "htdocs"), 0o755)
    with ApacheOracle(root, BODY.format(root=root) + extra, modules=MODULES) as ap:
        yield ap


def status(port: int, raw: bytes) -> str:
    """Send raw bytes, half-close; the status code, or 'nostatus:<first bytes>'."""
    data = raw_request(port, raw, timeout=4.0)
    if data.startswith(b"HTTP/"):
        return data.split(b" ", 2)[1].decode()
    return "nostatus:" + data[:20].decode("latin-1")


H = b"Host: x\r\n"


def rl(n: int) -> bytes:
    """A request line of exactly n bytes (without CRLF)."""
    pre, post = b"GET /?", b" HTTP/1.1"
    return pre + b"a" * (n - len(pre) - len(post)) + post


def field(n: int, trail: bytes = b"") -> bytes:
    """A header line of exactly n bytes (without CRLF)."""
    return b"X: " + b"a" * (n - 3 - len(trail)) + trail


def get(*headers: bytes, line: bytes = b"GET / HTTP/1.1") -> bytes:
    return line + b"\r\n" + H + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


CASES: dict[str, bytes] = {
    "plain": get(),
    "http10-no-host": b"GET / HTTP/1.0\r\n\r\n",
    "http2.0": get(line=b"GET / HTTP/2.0"),
    "http1.2": get(line=b"GET / HTTP/1.2"),
    "http3.0": get(line=b"GET / HTTP/3.0"),
    "http0.9-explicit": get(line=b"GET / HTTP/0.9"),
    "http01.1": get(line=b"GET / HTTP/01.1"),
    "http1.10": get(line=b"GET / HTTP/1.10"),
    "http1": get(line=b"GET / HTTP/1"),
    "HTTP1.1-no-slash": get(line=b"GET / HTTP1.1"),
    "lowercase-http": get(line=b"GET / http/1.1"),
    "trailing-space": get(line=b"GET / HTTP/1.1 "),
    "trailing-tab": get(line=b"GET / HTTP/1.1\t"),
    "trailing-text": get(line=b"GET / HTTP/1.1 x"),
    "cr-before-crlf": get(line=b"GET / HTTP/1.1\r"),
    "no-target": get(line=b"GET HTTP/1.1"),
    "method-only": get(line=b"GET"),
    "two-spaces-after-method": get(line=b"GET  / HTTP/1.1"),
    "two-spaces-after-target": get(line=b"GET /  HTTP/1.1"),
    "tab-after-method": get(line=b"GET\t/ HTTP/1.1"),
    "tab-after-target": get(line=b"GET /\tHTTP/1.1"),
    "vt-after-method": get(line=b"GET\x0b/ HTTP/1.1"),
    "leading-space": get(line=b" GET / HTTP/1.1"),
    "bad-method-char": get(line=b"G(T / HTTP/1.1"),
    "unknown-method": get(line=b"FOO / HTTP/1.1"),
    "lowercase-method": get(line=b"get / HTTP/1.1"),
    "token-method": get(line=b"M-SEARCH / HTTP/1.1"),
    "nul-in-target": get(line=b"GET /\x00 HTTP/1.1"),
    "ctl-in-target": get(line=b"GET /a\x01b HTTP/1.1"),
    "del-in-target": get(line=b"GET /a\x7fb HTTP/1.1"),
    "obs-text-target": get(line=b"GET /\xe9 HTTP/1.1"),
    "relative-target": get(line=b"GET foo HTTP/1.1"),
    "absolute-target": get(line=b"GET http://x/ HTTP/1.1"),
    "absolute-no-path": get(line=b"GET http://x HTTP/1.1"),
    "absolute-query": get(line=b"GET http://x?q=1 HTTP/1.1"),
    "scheme-relative-path": get(line=b"GET a:b HTTP/1.1"),
    "double-slash": get(line=b"GET //x/y HTTP/1.1"),
    "options-star": get(line=b"OPTIONS * HTTP/1.1"),
    "get-star": get(line=b"GET * HTTP/1.1"),
    "query-only": get(line=b"GET ?x HTTP/1.1"),
    "fragment-only": get(line=b"GET #x HTTP/1.1"),
    "path-fragment": get(line=b"GET /a#b HTTP/1.1"),
    "absolute-fragment": get(line=b"GET http://x/#f HTTP/1.1"),
    "absolute-fragment-no-path": get(line=b"GET http://x#f HTTP/1.1"),
    "query-fragment": get(line=b"GET ?x#f HTTP/1.1"),
    "scheme-then-relative": get(line=b"GET http:foo HTTP/1.1"),
    "scheme-then-absolute-path": get(line=b"GET http:/foo HTTP/1.1"),
    "digit-scheme": get(line=b"GET 1http://x/ HTTP/1.1"),
    "colon-first": get(line=b"GET :x HTTP/1.1"),
    "percent-target": get(line=b"GET %2F HTTP/1.1"),
    "http09-get": b"GET /\r\n",
    "http09-trailing-space": b"GET / \r\n",
    "http09-two-trailing-spaces": b"GET /  \r\n",
    "http09-head": b"HEAD /\r\n",
    "http09-post": b"POST /\r\n",
    "http09-absolute": b"GET http://x/\r\n",
    "bare-lf-everywhere": b"GET / HTTP/1.1\nHost: x\n\n",
    "bare-lf-header": b"GET / HTTP/1.1\r\nHost: x\n\r\n",
    "bare-lf-final": b"GET / HTTP/1.1\r\nHost: x\r\n\n",
    "blank-lines-1": b"\r\n" + get(),
    "blank-lines-10": b"\r\n" * 10 + get(),
    "blank-lines-11": b"\r\n" * 11 + get(),
    "blank-lines-bare-lf": b"\n\n" + get(),
    "only-blank-lines": b"\r\n" * 30,
    "line-8190": rl(8190) + b"\r\n" + H + b"\r\n",
    "line-8191": rl(8191) + b"\r\n" + H + b"\r\n",
    "line-8192": rl(8192) + b"\r\n" + H + b"\r\n",
    "line-20000": rl(20000) + b"\r\n" + H + b"\r\n",
    "field-8190": get(field(8190)),
    "field-8191": get(field(8191)),
    "field-8192": get(field(8192)),
    "field-8192-trailing-ws": get(field(8192, b"  ")),
    "field-20000": get(field(20000)),
    "fields-100": get(*[b"X%d: a" % i for i in range(99)]),
    "fields-101": get(*[b"X%d: a" % i for i in range(100)]),
    "fields-100-plus-fold": get(*[b"X%d: a" % i for i in range(98)], b"Y: a", b" b"),
    "obs-fold-space": get(b"X-A: a", b" b"),
    "obs-fold-tab": get(b"X-A: a", b"\tb"),
    "obs-fold-many-spaces": get(b"X-A: a", b"     b"),
    "obs-fold-empty": get(b"X-A: a", b" "),
    "obs-fold-ws-only": get(b"X-A: a", b" \t"),
    "obs-fold-first": b"GET / HTTP/1.1\r\n b\r\n" + H + b"\r\n",
    "obs-fold-empty-value": get(b"X-A:", b" b"),
    "obs-fold-too-long": get(b"X-A: " + b"a" * 5000, b" " + b"b" * 4000),
    "obs-fold-at-limit": get(b"X: " + b"a" * 4000, b" " + b"b" * 4184),
    "obs-fold-over-limit": get(b"X: " + b"a" * 4000, b" " + b"b" * 4185),
    "space-before-colon": get(b"X-A : a"),
    "tab-before-colon": get(b"X-A\t: a"),
    "no-space-after-colon": get(b"X-A:a"),
    "empty-value": get(b"X-A:"),
    "trailing-ws-value": get(b"X-A: a  \t"),
    "tab-in-value": get(b"X-A: a\tb"),
    "ctl-in-value": get(b"X-A: a\x01b"),
    "del-in-value": get(b"X-A: a\x7fb"),
    "cr-in-value": get(b"X-A: a\rb"),
    "nul-in-value": get(b"X-A: a\x00b"),
    "obs-text-value": get(b"X-A: \xe9t\xe9"),
    "ctl-in-name": get(b"X\x01A: a"),
    "obs-text-name": get(b"X\xe9: a"),
    "missing-colon": get(b"foo"),
    "empty-name": get(b": a"),
    "leading-space-first-header": b"GET / HTTP/1.1\r\n Host: x\r\n\r\n",
    "repeated-header": get(b"Accept: a", b"Accept: b"),
    "browser-head": get(b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0",
                        b"Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
                        b"Accept-Language: en-US,en;q=0.5", b"Accept-Encoding: gzip, deflate",
                        b"Connection: keep-alive", b"Upgrade-Insecure-Requests: 1"),
    # CONNECT without a proxy: the authority form reaches the handler (Apache: 405),
    # every other CONNECT target and the authority form for other methods are 400
    "connect-authority": get(line=b"CONNECT localhost:80 HTTP/1.1"),
    "connect-v6-authority": get(line=b"CONNECT [::1]:443 HTTP/1.1"),
    "connect-empty-host": get(line=b"CONNECT :80 HTTP/1.1"),
    "connect-signed-port": get(line=b"CONNECT h:+80 HTTP/1.1"),
    "connect-no-port": get(line=b"CONNECT localhost HTTP/1.1"),
    "connect-empty-port": get(line=b"CONNECT localhost: HTTP/1.1"),
    "connect-v6-no-port": get(line=b"CONNECT [::1] HTTP/1.1"),
    "connect-port-query": get(line=b"CONNECT h:80?q HTTP/1.1"),
    "connect-two-ports": get(line=b"CONNECT h:80:90 HTTP/1.1"),
    "connect-origin-form": get(line=b"CONNECT /x HTTP/1.1"),
    "connect-absolute-form": get(line=b"CONNECT http://h/ HTTP/1.1"),
    "get-authority-form": get(line=b"GET localhost:80 HTTP/1.1"),
    "options-authority-form": get(line=b"OPTIONS localhost:80 HTTP/1.1"),
}


@pytest.fixture(scope="module")
def apache_answers(www_dir: str) -> dict[str, str]:
    with apache(www_dir) as ap:
        return {name: status(ap.port, raw) for name, raw in CASES.items()}


def verdict(mod, raw: bytes) -> str:
    try:
        head = mod.parse_head(raw)
    except mod.HeadError as exc:
        return str(exc.status)
    if head is None:
        return "incomplete"
    return "ok-0.9" if head.proto_num == 9 else "ok"


def expected(apache_status: str) -> str:
    if apache_status in ("400", "414"):
        return apache_status
    if apache_status.startswith("nostatus:"):
        return "ok-0.9"  # Apache answered without a status line: an HTTP/0.9 request
    return "ok"


def test_enough_cases():
    assert len(CASES) >= 60


def test_parser_agrees_with_apache(impl, apache_answers):
    mod = impl.load("request")
    mismatches = {}
    for name, raw in CASES.items():
        want = expected(apache_answers[name])
        got = verdict(mod, raw)
        if got != want:
            mismatches[name] = (apache_answers[name], got)
    assert not mismatches, mismatches


def test_apache_oracle_is_discriminating(apache_answers):
    """The case list exercises every verdict, so agreement is not a trivial 'all ok'."""
    seen = {expected(s) for s in apache_answers.values()}
    assert {"ok", "ok-0.9", "400", "414"} <= seen


# The same rules with small configured limits: the server passes its Limit* values through.
SMALL = {"limit_line": 200, "limit_fields": 5, "limit_field_size": 100}
SMALL_CONF = "LimitRequestLine 200\nLimitRequestFields 5\nLimitRequestFieldSize 100\n"
SMALL_CASES: dict[str, bytes] = {
    **{f"line-{n}": rl(n) + b"\r\n" + H + b"\r\n" for n in (199, 200, 201, 202, 203)},
    **{f"field-{n}": get(field(n)) for n in (99, 100, 101, 102, 103)},
    "fields-5": get(*[b"X%d: a" % i for i in range(4)]),
    "fields-6": get(*[b"X%d: a" % i for i in range(5)]),
    "fields-5-plus-folds": get(*[b"X%d: a" % i for i in range(3)], b"Y: a", b" b", b" c"),
    "fold-under-limit": get(b"X: " + b"a" * 40, b" " + b"b" * 54),
    "fold-at-limit": get(b"X: " + b"a" * 40, b" " + b"b" * 55),
    "fold-two-lines-under": get(b"X: " + b"a" * 40, b" " + b"b" * 25, b"\t" + b"c" * 27),
    "fold-two-lines-over": get(b"X: " + b"a" * 40, b" " + b"b" * 25, b" " + b"c" * 30),
}


@pytest.fixture(scope="module")
def apache_small_limits(www_dir: str) -> dict[str, str]:
    with apache(www_dir, SMALL_CONF) as ap:
        return {name: status(ap.port, raw) for name, raw in SMALL_CASES.items()}


def test_parser_agrees_with_apache_small_limits(impl, apache_small_limits):
    mod = impl.load("request")
    mismatches = {}
    for name, raw in SMALL_CASES.items():
        want = expected(apache_small_limits[name])
        try:
            head = mod.parse_head(raw, **SMALL)
            got = "incomplete" if head is None else "ok"
        except mod.HeadError as exc:
            got = str(exc.status)
        if got != want:
            mismatches[name] = (apache_small_limits[name], got)
    assert not mismatches, mismatches
    assert {"ok", "400", "414"} <= {expected(v) for v in apache_small_limits.values()}


# The server's request path (fastcore.core.request.parse_head: scanner + HTTP semantics) on
# the heads where its former regex parser disagreed with the scanner.  Apache's status and
# its error-notes on the page must both match; a head Apache serves must give a Request.
SMALL_CASES.update({
    "fields-6-bad-name": get(*[b"X%d: a" % i for i in range(4)], b"X4\x01: a"),
    "field-too-long-ctl": get(b"X: " + b"a" * 120 + b"\x01"),
})
HTTP_CASES: dict[str, tuple[bytes, dict[str, int]]] = {
    **{n: (CASES[n], {}) for n in (
        "line-8190", "line-8191", "line-8192", "field-8191", "field-8192", "obs-fold-empty",
        "obs-fold-ws-only", "obs-fold-at-limit", "obs-fold-over-limit", "query-only",
        "scheme-then-absolute-path", "http09-trailing-space", "fields-101", "plain")},
    **{"small-" + n: (SMALL_CASES[n], SMALL) for n in (
        "line-200", "line-201", "line-202", "field-101", "field-102", "fold-at-limit",
        "fold-under-limit", "fold-two-lines-over", "fields-6-bad-name", "field-too-long-ctl")},
    "field-too-long-bare-lf": (get(b"X: " + b"a" * 9000 + b"\nY: b"), {}),
    # Apache reads the next line (a fold may follow) before it checks a field
    "bad-name-then-long-field": (get(b"Ho st: x", field(9000)), {}),
    "ctl-value-then-long-field": (get(b"X: a\x01", field(9000)), {}),
    "ctl-fold-then-long-field": (get(b"X: a", b" b\x7f", field(9000)), {}),
    "small-fields-6-then-bare-lf": (get(*[b"X%d: a" % i for i in range(4)], b"X4: a")[:-2] + b"\n",
                                    SMALL),
    "small-fields-6-then-long-field": (get(*[b"X%d: a" % i for i in range(4)], b"X4: a",
                                           field(150)), SMALL),
    "absolute-form-path-only": (get(line=b"GET http:/index.html HTTP/1.1"), {}),
    # CONNECT: its host name (not Host) is checked, after the header section
    "connect-authority-ok": (get(line=b"CONNECT localhost:80 HTTP/1.1"), {}),
    "connect-bad-host": (get(line=b"CONNECT a..b:80 HTTP/1.1"), {}),
    "connect-slash-host": (get(line=b"CONNECT a/b:80 HTTP/1.1"), {}),
    "connect-host-field-unused": (b"CONNECT h:80 HTTP/1.1\r\nHost: a/b\r\n\r\n", {}),
    "connect-two-host-fields": (b"CONNECT h:80 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", {}),
    "connect-http11-no-host": (b"CONNECT h:80 HTTP/1.1\r\n\r\n", {}),
    "connect-http10-no-host": (b"CONNECT h:80 HTTP/1.0\r\n\r\n", {}),
    "connect-bad-host-then-long-field": (get(field(9000), line=b"CONNECT a/b:80 HTTP/1.1"), {}),
    "connect-origin-then-long-field": (get(field(9000), line=b"CONNECT /x HTTP/1.1"), {}),
}
NOTES = ("Size of a request header field exceeds server limit.",
         "The number of request header fields exceeds this server's limit.")


@pytest.fixture(scope="module")
def apache_http_answers(www_dir: str) -> dict[str, tuple[str, str | None]]:
    """name -> (Apache's status or 'ok', the error-note on its page or None)."""
    out = {}
    for conf, small in (("", False), (SMALL_CONF, True)):
        with apache(www_dir, conf) as ap:
            for name, (raw, kw) in HTTP_CASES.items():
                if bool(kw) != small:
                    continue
                data = raw_request(ap.port, raw, timeout=4)
                st = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "0.9"
                note = next((n for n in NOTES if n.encode() in data), None)
                out[name] = (st, note) if st in ("400", "414", "417") else ("ok", None)
    return out


def test_http_request_path_agrees_with_apache(impl, apache_http_answers, monkeypatch):
    import fastcore.core.request as http_request

    monkeypatch.setattr(http_request, "_rq", impl.load("request"))
    mismatches = {}
    for name, (raw, kw) in HTTP_CASES.items():
        try:
            http_request.parse_head(raw[:http_request.find_head_end(raw)], **kw)
            got: tuple[str, str | None] = ("ok", None)
        except http_request.HttpError as exc:
            got = (str(exc.status), exc.notes)
        if got != apache_http_answers[name]:
            mismatches[name] = (apache_http_answers[name], got)
    assert not mismatches, mismatches
    assert {"ok", "400", "414"} <= {v[0] for v in apache_http_answers.values()}
    assert set(NOTES) <= {v[1] for v in apache_http_answers.values()}


def test_folded_fields_as_apache_traces_them(impl, monkeypatch, www_dir):
    """TRACE echoes the fields Apache kept: a fold onto an empty value has no leading space."""
    import fastcore.core.request as http_request

    monkeypatch.setattr(http_request, "_rq", impl.load("request"))
    raw = (b"TRACE / HTTP/1.1\r\nHost: x\r\nX-A:\r\n b\r\nX-B: a  \r\n \t c\r\n"
           b"X-C: d\r\n\r\n")
    with apache(www_dir, "TraceEnable on\n") as ap:
        data = raw_request(ap.port, raw, timeout=4)
    assert data.startswith(b"HTTP/1.1 200")
    echoed = data.split(b"\r\n\r\n", 1)[1].decode("latin-1")
    req = http_request.parse_head(raw)
    for name, value in req.fields:
        assert f"\r\n{name}: {value}\r\n" in echoed, (name, value, echoed)
