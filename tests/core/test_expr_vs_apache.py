"""ap_expr against real Apache 2.4: each expression guards a <Location> with
`Require expr`, so Apache's verdict is the status (200 true, 403 false, 500 failed);
fastcore's evaluator gets the same request facts in-process and must agree.  Every
location is asked twice.  Startup errors: `apache2 -t` and parse_condition give the same
message for the same bad expressions."""
from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
import types
from collections.abc import Iterator
from typing import cast

import pytest
from support.config_variants import LOG_EXPRS

from fastcore.config.engine import DirectiveError
from fastcore.core.connection import Connection
from fastcore.core.expr import ExprContext, ExprError, parse_condition
from fastcore.core.transaction import Transaction

APACHE = "/usr/sbin/apache2"
MODDIR = "/usr/lib/apache2/modules"
pytestmark = pytest.mark.skipif(not os.path.exists(APACHE), reason="needs apache2")

HEADERS = {"User-Agent": "Mozilla/5.0 probe", "Accept": "text/html", "Cookie": "a=1; b=2",
           "Referer": "http://r.example/x?y"}
EXPRS = (
    "true", "false", "!true", "true && false", "true || false", "!(false || false)",
    "'a' == 'a'", "'a' != 'a'", "'a' < 'b'", "'b' <= 'a'", "'10' < '9'", "10 -lt 9",
    "'010' -eq 10", "'abc' -eq 0", "' 12x' -eq 12", "-1 -lt 0", "5 ge 5",
    "'a' . 'b' == 'ab'", "'a' -in {'b', 'a'}", "'c' -in {'a','b'}",
    "'abc' =~ /B/i", "'abc' =~ /B/", "'abc' !~ /z/", "'a/c' =~ m|/|",
    "-n ''", "-z ''", "-T 'off'", "-T 'No'", "-T '00'", "-T ''", "-T 'false'",
    "'10.1.2.3' -ipmatch '10.0.0.0/8'", "'10.1.2.3' -ipmatch '10.1'",
    "'11.1.2.3' -ipmatch '10.0.0.0/255.0.0.0'", "-R '127.0.0.0/8'", "-R '10.0.0.0/8'",
    "'a/b' -fnmatch 'a/*'", "'a/b/c' -fnmatch 'a/*'", "'a/b/c' -strmatch 'a/*'",
    "'ABC' -strcmatch 'a?c'", "'ABC' -strmatch 'a?c'", "'\\x41' == 'x41'",
    "'\\101' == 'A'", "%{HTTP_USER_AGENT} =~ /^Mozilla/",
    "%{HTTP_COOKIE} == 'a=1; b=2'", "req('accept') == 'text/html'",
    "%{HTTP_REFERER} -strmatch 'http://*'", "%{REQUEST_METHOD} == 'GET'",
    "%{REQUEST_URI} =~ m#^/t[0-9]+$#", "%{QUERY_STRING} == 'q=1'",
    "%{THE_REQUEST} =~ m#^GET .* HTTP/1.1$#", "%{SERVER_PROTOCOL} == 'HTTP/1.1'",
    "%{REMOTE_ADDR} == '127.0.0.1'", "%{HTTPS} == 'off'", "%{IPV6} == 'off'",
    "%{REQUEST_SCHEME} == 'http'", "%{IS_SUBREQ} == 'false'", "%{CONTENT_TYPE} == ''",
    "%{SERVER_ADMIN} == 'admin@example.org'", "%{API_VERSION} == '20120211'",
    "tolower('AbC') == 'abc'", "toupper('abc') == 'ABC'", "base64('hello') == 'aGVsbG8='",
    "unbase64('aGVsbG8') == 'hello'", "md5('a') == '0cc175b9c0f1b6a831c399e269772661'",
    "sha1('a') == '86f7e437faa5a7fce15d1ddcb9eaeaea377667b8'",
    "escape('a b?') == 'a%20b%3f'", "unescape('a%20b%2fc') == 'a b%2fc'",
    "unescape('a%zz') == ''", "%{osenv:FC_EXPR_OS} == 'os-value'",
    "%{env:FC_EXPR_OS} == 'os-value'", "'x' =~ /(x)/ && $1 == 'x'",
    "'x' =~ /(x)/ && 'y' =~ /(z)/ || $1 == ''", "-f %{REQUEST_FILENAME}",
    "-d %{DOCUMENT_ROOT}", "-e '/nonexistent/file'", "filesize('{doc}/f.txt') == '6'",
    "file('{doc}/f.txt') == 'hello\\n'", "-s '{doc}/f.txt'", "-L '{doc}/link'",
    " || ".join(["false"] * 18 + ["true"]), " && ".join(["true"] * 40),
    "tolower(" * 18 + "'A'" + ")" * 18 + " == 'a'", "tolower(" * 19 + "'A'" + ")" * 19 + " == 'a'",
    "(" * 25 + "true" + " && true)" * 25, "true && (" * 25 + "true" + ")" * 25, "!" * 30 + "true",
    "file('/nonexistent') == ''",
)
SYNTAX = ("%{FOO} == 1", "foo(1) == 1", "-Q 1", "1 -foo 2", "split/,/ 1", "'a' =~ s/a/b/",
       "%{:1}", "'a", "1 == ~", "%{HTTP_HOST", "/a/ == 1", "'a' =~ /a/x",
       "PeerExtList('x')", "'a' -in foo('x')", "'a' =~ /a(/", "-R 10.0.0.1",
       "-R 'nonsense'", "'a' =~ /a\\/b/", "1 =", "(true", "true)", "true false", "|| true",
       "'a' == 'b' == 'c'", "'a' -in {}", "'x' -ipmatch 'x.y'", "$1 == 'x'",
       "'a' -in 'b'", "(1 == 1", "'a' =~ /a", "tolower('a'", "%{HTTP_HOST}x", "-R",
       "'a' . ", "'ab%{REMOTE_ADDR}cd", "'a' -in {'a'", "'a' -in {'a' 'b'}", "-n tolower",
       "1 -eq", "%{HTTP:Accept} == 'x'", "%{ENV:X} == 'y'", "%{tolower:%{HTTP_HOST}} == 'a'",
       "%{REMOTE_ADDR", "%{REMOTE-ADDR} == 1", "'\\9' == 'a'", "'\\777' == 'a'",
       "%{FOO} == %{BAR}", "%{tolower:a%{FOO}b", "'a' =~ m#a#i == 1", "md5 == 1", "()", "!", "1 == 1 &&",
       "'a' -strmatch", "true &&& true", "1 = = 1", "'a' -IPMATCH '1.2.3.4'", "-r 'x'",
       "'a' == 'a' -in {'a'}")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _conf(tmp: str, port: int, body: str) -> str:
    path = os.path.join(tmp, "httpd.conf")
    with open(path, "w") as fh:
        fh.write(f"""ServerRoot {tmp}
LoadModule mpm_prefork_module {MODDIR}/mod_mpm_prefork.so
LoadModule authz_core_module {MODDIR}/mod_authz_core.so
Listen 127.0.0.1:{port}
ServerName localhost
ServerAdmin admin@example.org
PidFile {tmp}/pid
ErrorLog {tmp}/error_log
DocumentRoot {tmp}/www
{body}""")
    return path


@pytest.fixture(scope="module")
def apache() -> Iterator[tuple[str, int]]:
    tmp = tempfile.mkdtemp(prefix="fc-expr-ap-")
    doc = os.path.join(tmp, "www")
    os.makedirs(doc)
    for i in range(len(EXPRS)):
        with open(os.path.join(doc, f"t{i}"), "w") as fh:
            fh.write("ok\n")
    with open(os.path.join(doc, "f.txt"), "w") as fh:
        fh.write("hello\n")
    os.symlink(os.path.join(doc, "f.txt"), os.path.join(doc, "link"))
    body = "".join(f'<Location "/t{i}">\n  Require expr "{_q(e.replace("{doc}", doc))}"\n'
                   f"</Location>\n" for i, e in enumerate(EXPRS))
    port = _port()
    env = dict(os.environ, FC_EXPR_OS="os-value")
    proc = subprocess.Popen([APACHE, "-f", _conf(tmp, port, body), "-DFOREGROUND"], env=env,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield doc, port
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(tmp, ignore_errors=True)


def _q(expr: str) -> str:
    """In a quoted config argument Apache unescapes only a backslash before the quote."""
    assert '"' not in expr
    return expr


def _apache_status(port: int, path: str) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers=HEADERS)
    status = c.getresponse().status
    c.close()
    return status


def _fastcore_status(doc: str, i: int, expr: str) -> int:
    main = types.SimpleNamespace(server_name="localhost", server_admin="admin@example.org",
                                 document_root=doc)
    srv = types.SimpleNamespace(cfg=types.SimpleNamespace(server_tokens="full", main=main),
                                server_name_port=lambda t: ("localhost", 80))
    conn = types.SimpleNamespace(srv=srv, tls=0, https=lambda: False, ssl_var=lambda name: None,
        client_ip="127.0.0.1", remote_port=50000,
                                 requests=0, local_addr=lambda: ("127.0.0.1", 80))
    t = Transaction(cast(Connection, conn), 0.0)
    t.method, t.protocol = "GET", "HTTP/1.1"
    t.uri_path = t.r_uri = f"/t{i}"
    t.query = "q=1"
    t.request_line = f"GET /t{i}?q=1 HTTP/1.1"
    t.filename = os.path.join(doc, f"t{i}")
    t.headers_in = {k.lower(): v for k, v in HEADERS.items()}
    t.headers_in["host"] = "127.0.0.1"
    os.environ["FC_EXPR_OS"] = "os-value"
    try:
        ok = parse_condition(expr).evaluate(ExprContext(t))
    except ExprError:
        return 500
    return 200 if ok else 403


@pytest.mark.parametrize("i", range(len(EXPRS)))
def test_same_verdict(apache: tuple[str, int], i: int) -> None:
    doc, port = apache
    expr = EXPRS[i].replace("{doc}", doc)
    want = _apache_status(port, f"/t{i}?q=1")
    assert _apache_status(port, f"/t{i}?q=1") == want  # asked twice
    assert _fastcore_status(doc, i, expr) == want, expr


@pytest.mark.parametrize("expr", SYNTAX + tuple(e for e in LOG_EXPRS if e not in SYNTAX))
def test_same_parse_error(expr: str, tmp_path: str) -> None:
    os.makedirs(os.path.join(tmp_path, "www"))
    conf = _conf(str(tmp_path), _port(), f'<Location "/">\n  Require expr "{_q(expr)}"\n'
                                         "</Location>\n")
    out = subprocess.run([APACHE, "-t", "-f", conf], capture_output=True, text=True).stderr
    prefix = "Cannot parse expression in require line: "
    line = next((x for x in out.splitlines() if x.startswith(prefix)), None)
    if line is None:  # Apache accepts it
        assert "Syntax OK" in out
        parse_condition(expr)
        return
    with pytest.raises(DirectiveError) as e:
        parse_condition(expr)
    assert str(e.value) == line[len(prefix):]


# -- the same httpd.conf through apache2 and fastcore: Require expr, CustomLog expr= ----
E2E_MODULES = ("mpm_prefork", "authz_core", "mime")
E2E_SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
<Location "/ua">
  Require expr "%{HTTP_USER_AGENT} =~ /probe/ && req('Accept') != 'x'"
</Location>
<Location "/not">
  <RequireAll>
    Require not expr "%{QUERY_STRING} == 'deny'"
    Require all granted
  </RequireAll>
</Location>
<Location "/file">
  Require expr "-f %{REQUEST_FILENAME} && %{REQUEST_URI} =~ m#^/file/(.*)$# && $1 == 'ok.txt'"
</Location>
<Location "/broken">
  Require expr "file('/nonexistent/fc-expr') == ''"
</Location>
LogFormat "%>s %U%q" short
CustomLog "{run}/expr_log" short "expr=%{REQUEST_STATUS} -eq 403 || %{QUERY_STRING} =~ /log/"
"""
E2E_REQUESTS = (("/ua/a.txt", "probe"), ("/ua/a.txt", "other"), ("/not/a.txt?deny", "x"),
                ("/not/a.txt?log", "x"), ("/file/ok.txt", "x"), ("/file/missing.txt", "x"),
                ("/broken/a.txt", "x"), ("/a.txt?log=1", "x"), ("/a.txt", "x"))


def _e2e(tmp: str, fastcore: bool) -> tuple[list[tuple[int, str | None]], list[str]]:
    from support.apache_oracle import ApacheOracle
    from support.wire import parse_responses, raw_request
    run = os.path.join(tmp, "fastcore" if fastcore else "apache")
    os.makedirs(run)
    www = os.path.join(tmp, "www")
    got: list[tuple[int, str | None]] = []
    with ApacheOracle(run, E2E_SITE.replace("{www}", www).replace("{run}", run),
                      modules=E2E_MODULES, fastcore=fastcore) as ap:
        for path, agent in E2E_REQUESTS + E2E_REQUESTS:
            resp = parse_responses(raw_request(ap.port, (
                f"GET {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: {agent}\r\n\r\n"
            ).encode()))[0]
            got.append((resp[0], resp[1].get("vary")))
        time.sleep(0.3)
    with open(os.path.join(run, "expr_log")) as fh:
        return got, fh.read().splitlines()


def test_require_expr_and_customlog_expr_match_apache(tmp_path) -> None:
    www = os.path.join(str(tmp_path), "www")
    for rel in ("a.txt", "ua/a.txt", "not/a.txt", "file/ok.txt", "broken/a.txt"):
        os.makedirs(os.path.dirname(os.path.join(www, rel)), exist_ok=True)
        with open(os.path.join(www, rel), "w") as fh:
            fh.write(rel + "\n")
    a = _e2e(str(tmp_path), False)
    f = _e2e(str(tmp_path), True)
    assert f == a
    # not vacuous: grants, denials, the 500, Vary and a filtered log all show in Apache's
    statuses = [s for s, _v in a[0]]
    assert {200, 403, 500} <= set(statuses) and ("User-Agent,Accept" in [v for _s, v in a[0]])
    assert "403 /ua/a.txt" in a[1] and "200 /a.txt?log=1" in a[1] and "200 /a.txt" not in a[1]


# -- string expressions: mod_headers' `Header set X "expr=..."` in Apache ---------------
STRINGS = ("%{HTTP_USER_AGENT}/x", "%{tolower:ABC}-%{toupper:abc}", "%{md5:x}",
           "%{sha1:x} %{base64:x}", "%{REQUEST_URI}?%{QUERY_STRING}", "%{unescape:a%41%2f}",
           "%{escape:a b&c}", "%{req:Accept} %{http:cookie}", "%{REQUEST_METHOD} %{HTTPS}",
           "%{unbase64:aGk} %{osenv:FC_EXPR_OS}", "literal 'text' here",
           "%{REMOTE_ADDR} %{IS_SUBREQ} %{API_VERSION}", "%{filesize:{doc}/f.txt}")


def test_string_expressions_match_apache(tmp_path) -> None:
    from fastcore.core.expr import parse_string
    tmp = str(tmp_path)
    doc = os.path.join(tmp, "www")
    os.makedirs(doc)
    with open(os.path.join(doc, "s"), "w") as fh:
        fh.write("ok\n")
    with open(os.path.join(doc, "f.txt"), "w") as fh:
        fh.write("hello\n")
    lines = "".join(f'  Header set X-S{i} "expr={s.replace("{doc}", doc)}"\n'
                    for i, s in enumerate(STRINGS))
    port = _port()
    conf = _conf(tmp, port, f"LoadModule headers_module {MODDIR}/mod_headers.so\n"
                            f'<Location "/s">\n  Require all granted\n{lines}</Location>\n')
    env = dict(os.environ, FC_EXPR_OS="os-value")
    proc = subprocess.Popen([APACHE, "-f", conf, "-DFOREGROUND"], env=env,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/s?q=1", headers=HEADERS)
        r = c.getresponse()
        got = {f"x-s{i}": r.getheader(f"X-S{i}") for i in range(len(STRINGS))}
        c.close()
    finally:
        proc.terminate()
        proc.wait(10)
    srv = types.SimpleNamespace(
        cfg=types.SimpleNamespace(server_tokens="full", main=types.SimpleNamespace(
            server_name="localhost", server_admin="admin@example.org", document_root=doc)),
        server_name_port=lambda t: ("localhost", 80))
    conn = types.SimpleNamespace(srv=srv, tls=0, https=lambda: False, ssl_var=lambda name: None,
        client_ip="127.0.0.1", remote_port=50000,
                                 requests=0, local_addr=lambda: ("127.0.0.1", 80))
    t = Transaction(cast(Connection, conn), 0.0)
    t.method, t.protocol, t.uri_path, t.r_uri, t.query = "GET", "HTTP/1.1", "/s", "/s", "q=1"
    t.headers_in = {k.lower(): v for k, v in HEADERS.items()}
    os.environ["FC_EXPR_OS"] = "os-value"
    for i, s in enumerate(STRINGS):
        mine = parse_string(s.replace("{doc}", doc)).evaluate(ExprContext(t))
        assert mine == got[f"x-s{i}"], s


@pytest.mark.parametrize("body", [
    '<Location "/">\n  Require expr "%{NOPE} == 1"\n</Location>\n',
    '<Location "/">\n  Require expr %{REQUEST_URI} =~ /a(/\n</Location>\n',
    '<Location "/">\n  Require not expr "true"\n</Location>\n',
    'CustomLog logs/x.log common "expr=%{HTTP_HOST"\n',
    'CustomLog logs/x.log common "expr=-Z 1"\n',
])
def test_startup_errors_match_apache(tmp_path, body: str) -> None:
    """The whole -t answer, file and line included, for expressions in directives."""
    from pathlib import Path

    from support.config_checks import fastcore_in_process
    os.makedirs(os.path.join(tmp_path, "www"))
    os.makedirs(os.path.join(tmp_path, "logs"))
    conf = _conf(str(tmp_path), _port(), body)
    ap = subprocess.run([APACHE, "-t", "-f", conf], capture_output=True, text=True)
    fc = fastcore_in_process(Path(conf), [])
    assert ap.returncode != 0 and fc.returncode != 0
    want = [x for x in ap.stderr.splitlines() if not x.startswith("AH00558")]
    assert fc.stderr.splitlines()[-2:] == want[-2:], (ap.stderr, fc.stderr)
