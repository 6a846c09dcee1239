"""ap_expr (fastcore.core.expr): Apache's parse errors, every operator, the variables and
functions, regex captures, Vary, request_independent, the recursion limit."""
from __future__ import annotations

import os
import tempfile
import types
from typing import cast

import pytest
from support.inprocess import make_server

from fastcore.config.engine import DirectiveError
from fastcore.core.connection import Connection
from fastcore.core.expr import ExprContext, ExprError, parse_condition, parse_string
from fastcore.core.response import Response
from fastcore.core.transaction import Transaction

_TMP = tempfile.mkdtemp(prefix="fc-expr-")
_SRV = make_server(_TMP)
DOC = _SRV.cfg.main.document_root
os.symlink(os.path.join(DOC, "a.txt"), os.path.join(DOC, "link"))
open(os.path.join(DOC, "empty"), "wb").close()


def txn(headers: dict[str, str] | None = None, ip: str = "10.1.2.3") -> Transaction:
    conn = types.SimpleNamespace(srv=_SRV, tls=0, https=lambda: False, ssl_var=lambda name: None,
        client_ip=ip, remote_port=40000, requests=0,
                                 local_addr=lambda: ("127.0.0.1", 80))
    t = Transaction(cast(Connection, conn), 0.0)
    t.method, t.protocol = "GET", "HTTP/1.1"
    t.request_line = "GET /a.txt?x=1 HTTP/1.1"
    t.uri_path = t.r_uri = "/a.txt"
    t.query = "x=1"
    t.filename = os.path.join(DOC, "a.txt")
    t.headers_in = {k.lower(): v for k, v in (headers or {"host": "example.org",
                                                          "user-agent": "curl/8"}).items()}
    t.host_name = "example.org"
    t.env = {"foo": "bar"}
    t.ctype = "text/plain"
    return t


def ev(expr: str, t: Transaction | None = None) -> bool:
    return parse_condition(expr).evaluate(ExprContext(t or txn()))


def sv(expr: str, t: Transaction | None = None) -> str:
    return parse_string(expr).evaluate(ExprContext(t or txn()))


@pytest.mark.parametrize("expr,message", [
    ("%{FOO} == 1", "Variable 'FOO' does not exist"),
    ("foo(1) == 1", "Function 'foo' does not exist"),
    ("-Q 1", "Unary operator '-Q' does not exist"),
    ("1 -foo 2", "Binary operator '-foo' does not exist"),
    ("split/,/ 1", "syntax error, unexpected T_REGEX, expecting '('"),
    ('"a" =~ s/a/b/', "syntax error, unexpected T_ID, expecting T_REGEX or T_REGEX_I"),
    ("%{:1}", "syntax error, unexpected ':', expecting T_ID"),
    ('"a', "Unterminated string or variable"),
    ("1 == ~", "syntax error, unexpected T_ERROR: Parse error near '~'"),
    ("%{HTTP_HOST", "syntax error, unexpected T_ERROR, expecting T_VAR_END or ':': "
                    "Unterminated string or variable"),
    ("/a/ == 1", "syntax error, unexpected T_REGEX"),
    ('"a" =~ /a/x', "syntax error, unexpected T_ID, expecting $end"),
    ('PeerExtList("x")', "syntax error, unexpected $end: Function 'PeerExtList' does not exist"),
    ('"a" -in foo("x")', "List-returning function 'foo' does not exist"),
    ('"a" =~ /a(/', "Failed to compile regular expression"),
    ("-R 10.0.0.1", "-R requires subnet/netmask as constant argument"),
    ("-R 'nonsense'", "parsing of subnet/netmask failed"),
    # sub-request tests: refused, not guessed (docs/compat.md)
    ("-F 'x'", "Unary operator '-F' (a sub-request) is not supported by fastcore"),
    ("-U '/x'", "Unary operator '-U' (a sub-request) is not supported by fastcore"),
    ("-A '/x'", "Unary operator '-A' (a sub-request) is not supported by fastcore"),
])
def test_parse_errors(expr: str, message: str) -> None:
    with pytest.raises(DirectiveError) as e:
        parse_condition(expr)
    assert str(e.value) == message


@pytest.mark.parametrize("expr,want", [
    ("true", True), ("false", False), ("!true", False), ("not false", True),
    ("true && false", False), ("true || false", True), ("true and true", True),
    ("false or false", False), ("!(true && false)", True), ("!true || true", True),
    ("'a' == 'a'", True), ("'a' = 'a'", True), ("'a' != 'b'", True), ("'a' < 'b'", True),
    ("'b' <= 'a'", False), ("'b' > 'a'", True), ("'a' >= 'a'", True),
    ("'10' < '9'", True), ("10 -lt 9", False), ("10 -gt 9", True), ("'010' -eq 10", True),
    ("'abc' -eq 0", True), ("' 12x' -eq 12", True), ("-1 -lt 0", True), ("5 -ge 5", True),
    ("5 -le 4", False), ("5 -ne 4", True), ("5 eq 5", True), ("5 lt 6", True),
    ("'a' . 'b' == 'ab'", True), ("'x%{HTTP_HOST}y' == 'xexample.orgy'", True),
    ("'a' -in {'b', 'a'}", True), ("'c' -in {'a','b'}", False), ("'a' in {'a'}", True),
    ("'abc' =~ /b/", True), ("'abc' =~ /B/", False), ("'abc' =~ /B/i", True),
    ("'abc' !~ /z/", True), ("'abc' =~ m#^a.c$#", True), ("'a/c' =~ m|/|", True),
    ("-n 'x'", True), ("-n ''", False), ("-z ''", True), ("-T 'off'", False),
    ("-T 'No'", False), ("-T '0'", False), ("-T '00'", True), ("-T 'yes'", True),
    ("-T ''", False), ("'10.1.2.3' -ipmatch '10.0.0.0/8'", True),
    ("'10.1.2.3' -ipmatch '10.1'", True), ("'11.1.2.3' -ipmatch '10.0.0.0/255.0.0.0'", False),
    ("-R '10.1.0.0/16'", True), ("-R '::1'", False),
    ("'a/b' -fnmatch 'a/*'", True), ("'a/b/c' -fnmatch 'a/*'", False),
    ("'a/b/c' -strmatch 'a/*'", True), ("'ABC' -strcmatch 'a?c'", True),
    ("'ABC' -strmatch 'a?c'", False), ("'\\x41' == 'x41'", True), ("'\\101' == 'A'", True),
    ("'a\\'b' == \"a'b\"", True),
])
def test_operators(expr: str, want: bool) -> None:
    assert ev(expr) is want


def test_captures_and_backrefs() -> None:
    t = txn()
    ctx = ExprContext(t)
    c = parse_condition("%{REQUEST_URI} =~ m#^/(a)\\.(txt)$# && $1 == 'a' && '$2' == 'txt'")
    assert c.evaluate(ctx) and ctx.groups[:3] == ["/a.txt", "a", "txt"]
    # a failed match with groups clears them; a regex without groups keeps them
    assert ev("'x' =~ /(x)/ && 'y' =~ /(z)/ || $1 == ''")
    assert ev("'x' =~ /(x)/ && 'y' =~ /y/ && $1 == 'x'")


def test_file_tests() -> None:
    f = os.path.join(DOC, "a.txt")
    assert ev(f"-f '{f}'") and ev(f"-e '{f}'") and ev(f"-s '{f}'") and not ev(f"-d '{f}'")
    assert ev(f"-d '{DOC}'") and not ev(f"-f '{DOC}/nope'") and not ev(f"-s '{DOC}/empty'")
    assert ev(f"-L '{DOC}/link'") and ev(f"-h '{DOC}/link'") and not ev(f"-L '{f}'")
    assert ev("-f %{REQUEST_FILENAME}")
    assert sv(f"%{{filesize:{f}}}") == "8" and sv(f"%{{filesize:{DOC}}}") == "0"
    assert sv(f"%{{file:{f}}}") == "hello a\n"
    with pytest.raises(ExprError, match="Cannot open file"):
        sv(f"%{{file:{DOC}/nope}}")
    with pytest.raises(ExprError, match="Cannot read from file"):
        sv(f"%{{file:{DOC}}}")
    with pytest.raises(ExprError, match="Cannot open file"):
        sv("%{file:a\\0b}")


def test_functions() -> None:
    assert sv("%{tolower:AbC}") == "abc" and sv("%{TOUPPER:abc}") == "ABC"
    assert sv("%{base64:hello}") == "aGVsbG8=" and sv("%{unbase64:aGVsbG8}") == "hello"
    assert sv("%{unbase64:aGVsbG8=!junk}") == "hello"
    assert sv("%{md5:a}") == "0cc175b9c0f1b6a831c399e269772661"
    assert sv("%{sha1:a}") == "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"
    assert sv("%{escape:a b?}") == "a%20b%3f" and sv("%{unescape:a%20b%2fc}") == "a b%2fc"
    assert sv("%{unescape:a%zz}") == "" and sv("%{unescape:a%00}") == ""
    assert sv("%{req:User-Agent}|%{http:host}|%{req_novary:nope}") == "curl/8|example.org|"
    assert sv("%{reqenv:FOO}|%{env:foo}|%{note:x}") == "bar|bar|"
    os.environ["FC_EXPR_T"] = "os"
    assert sv("%{osenv:FC_EXPR_T}/%{env:FC_EXPR_T}") == "os/os"
    assert ev("tolower(%{HTTP_USER_AGENT}) == 'curl/8'")
    t = txn()
    r = Response(200, [("X-A", "1")], "text/html")
    assert parse_string("%{resp:x-a}%{CONTENT_TYPE}").evaluate(ExprContext(t, r)) == "1text/html"


def test_variables() -> None:
    got = sv("%{REQUEST_METHOD} %{REQUEST_SCHEME} %{REQUEST_URI} %{QUERY_STRING} "
             "%{THE_REQUEST}|%{SERVER_NAME}:%{SERVER_PORT} %{SERVER_PROTOCOL} "
             "%{REMOTE_ADDR}:%{REMOTE_PORT} %{CONN_REMOTE_ADDR} %{HTTPS} %{IPV6} "
             "%{IS_SUBREQ} %{CONTENT_TYPE} %{API_VERSION} %{REQUEST_STATUS}")
    assert got == ("GET http /a.txt x=1 GET /a.txt?x=1 HTTP/1.1|example.org:80 HTTP/1.1 "
                   "10.1.2.3:40000 10.1.2.3 off off false text/plain 20120211 200")
    assert sv("%{REQUEST_FILENAME}") == os.path.join(DOC, "a.txt") == sv("%{SCRIPT_FILENAME}")
    assert sv("%{DOCUMENT_ROOT}") == DOC and sv("%{request_uri}") == "/a.txt"
    assert sv("%{SERVER_SOFTWARE}").startswith("fastcore/")
    assert len(sv("%{TIME}")) == 14 and sv("%{TIME}").startswith(sv("%{TIME_YEAR}"))
    assert sv("%{IPV6}", txn(ip="::1")) == "on" and sv("%{IPV6}", txn(ip="::ffff:1.2.3.4")) == "off"
    assert sv("'quotes' stay $1") == "'quotes' stay "


def test_vary() -> None:
    ctx = ExprContext(txn())
    c = parse_condition("%{HTTP_USER_AGENT} == 'x' || req('Accept') == 'y' || "
                        "%{HTTP_HOST} == 'z' || req_novary('Cookie') == 'w'")
    assert c.evaluate(ctx) is False
    assert ctx.vary == ["User-Agent", "Accept"]


@pytest.mark.parametrize("expr,fixed", [
    ("true", True), ("%{CONTENT_TYPE} =~ m#^text/#", True), ("-f %{REQUEST_FILENAME}", True),
    ("tolower(%{REQUEST_FILENAME}) =~ /txt$/", True), ("%{SERVER_ADMIN} == 'x'", True),
    ("%{HTTP_HOST} == 'a'", False), ("req('X') == 'a'", False), ("-R '10.0.0.0/8'", False),
    ("%{REQUEST_METHOD} == 'GET'", False), ("%{QUERY_STRING} == ''", False),
    ("%{TIME_HOUR} -gt 3", False), ("%{env:X} == 'a'", False), ("-f '/etc/passwd'", False),
    ("%{REMOTE_ADDR} -ipmatch '10.0.0.0/8'", False), ("true && %{HTTP_ACCEPT} == ''", False),
    ("'a' -in {'b', %{HTTP_COOKIE}}", False), ("%{SERVER_NAME} == 'x'", False),
])
def test_request_independent(expr: str, fixed: bool) -> None:
    assert parse_condition(expr).request_independent is fixed


def test_recursion_limit() -> None:
    # chains loop (Apache's tree nests them to the right); nested calls count
    assert ev(" || ".join(["false"] * 40 + ["true"]))
    assert ev("!" * 30 + "true") and ev("(" * 25 + "true" + ")" * 25)
    assert ev("tolower(" * 18 + "'A'" + ")" * 18 + " == 'a'")
    with pytest.raises(ExprError, match="Recursion limit reached"):
        ev("tolower(" * 19 + "'A'" + ")" * 19 + " == 'a'")
    with pytest.raises(ExprError, match="Recursion limit reached"):
        ev("(" * 25 + "true" + " && true)" * 25)


def test_string_expressions() -> None:
    assert sv("%{HTTP_HOST}/x") == "example.org/x"
    assert sv("plain text") == "plain text"
    assert sv("a\\tb") == "a\tb"
    with pytest.raises(DirectiveError, match="Variable 'NOPE' does not exist"):
        parse_string("%{NOPE}")


def test_customlog_expr_condition() -> None:
    """CustomLog ... expr= writes a line only when the expression holds for the request
    and its answer; a failing evaluation writes none."""
    from fastcore.modules.mod_log_config import log_condition
    t = txn()
    t.response = Response(404, [], "text/html")
    assert log_condition("expr=%{REQUEST_STATUS} == '404'")(t)
    assert not log_condition("expr=%{REQUEST_STATUS} == '200'")(t)
    assert log_condition("expr=%{HTTP_USER_AGENT} =~ /curl/ && -f %{REQUEST_FILENAME}")(t)
    assert not log_condition("expr=file('/nonexistent/x') == ''")(t)
    with pytest.raises(DirectiveError, match="Variable 'NOPE' does not exist"):
        log_condition("expr=%{NOPE} == 1")
