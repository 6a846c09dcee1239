"""mod_headers: Header and RequestHeader parsed and merged as mod_headers.c does, applied
to what a client sees, and answered from the caches (the Python one and the C engine)
with exactly the fields the slow path sends; request-dependent commands keep an answer
out of both caches."""
from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
from support.apache_oracle import ApacheOracle
from support.inprocess import engine_exchange

from fastcore.config import load
from fastcore.config.merge import DirResolver
from fastcore.config.regex import compile_regex
from fastcore.core.server import HttpServer
from fastcore.modules.mod_headers.actions import edit_value, has_token, table_merge, table_set
from fastcore.modules.mod_headers.config import Tag, headers_config, parse_format

MODS = ("mpm_event", "authz_core", "mime", "dir", "headers", "env")
DATE = re.compile(rb"Date: [^\r]*\r\n")


def _conf(tmp: Path, body: str, log: str = "%>s %U") -> tuple[str, Path]:
    doc = tmp / "htdocs"
    (doc / "sub").mkdir(parents=True, exist_ok=True)
    (doc / "a.html").write_bytes(b"<p>hello</p>\n" * 20)
    (doc / "sub" / "b.txt").write_bytes(b"b\n")
    for p in (doc / "a.html", doc / "sub" / "b.txt"):
        os.utime(p, (1_600_000_000, 1_600_000_000))  # strong ETag: cacheable
    path = tmp / "httpd.conf"
    mods = "".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so\n" for m in MODS)
    path.write_text(mods + f"""
ServerRoot "{tmp}"
Listen 127.0.0.1:80
ServerName localhost
TypesConfig /etc/mime.types
ErrorLog "{tmp}/error_log"
KeepAlive On
LogFormat "{log}" f
CustomLog "{tmp}/access_log" f
DocumentRoot "{doc}"
<Directory />
    Options FollowSymLinks
    AllowOverride None
</Directory>
<Directory "{doc}">
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
{body}
""")
    return str(path), tmp


def _fields(resp: bytes) -> list[str]:
    head = DATE.sub(b"", resp).split(b"\r\n\r\n")[0].decode("latin-1")
    return head.split("\r\n")


# ---------------------------------------------------------------- parsing and tables
def test_value_format_tags_and_escapes() -> None:
    assert parse_format(r"a\tb\q %% 100%") == (Tag("", "a\tb\\q "), Tag("", "%"),
                                               Tag("", " 100"), Tag("", "%"))
    assert parse_format("%{HOME}e|%t") == (Tag("e", "HOME"), Tag("", "|"), Tag("t", ""))


def test_merge_compares_whole_tokens_exactly() -> None:
    assert has_token("public, max-age=1", "max-age=1")
    assert not has_token("public, max-age=1", "Public")          # case counts
    assert not has_token("public , immutable", "public")          # so do trailing blanks
    assert has_token('a, "x, y", b', '"x, y"')                     # quoted commas
    assert not has_token("public, immutable", "public, immutable")  # one token at a time


def test_apr_table_semantics() -> None:
    t = [("X", "1"), ("Y", "2"), ("x", "3")]
    table_set(t, "X", "new")
    assert t == [("X", "new"), ("Y", "2")]
    table_merge(t, "y", "more")
    assert t == [("X", "new"), ("Y", "2, more")]


def test_edit_and_edit_star_with_backreferences() -> None:
    rx = compile_regex("([a-z])([0-9])")
    assert edit_value(rx, "$2$1", False, "a1b2") == "1ab2"
    assert edit_value(rx, "$2$1", True, "a1b2") == "1a2b"
    assert edit_value(compile_regex("^a|X"), "-", True, "aXbXc") == "--b-c"
    assert edit_value(compile_regex("(a) (b)"), r"$2 \$1 $9 &", False, "a b") == "b $1  &"


def test_deeper_scope_runs_after_the_enclosing_one(tmp_path: Path) -> None:
    path, _ = _conf(tmp_path, "Header set X top\nHeader always set Y top\n"
                    f'<Directory "{tmp_path}/htdocs/sub">\n Header unset X\n'
                    " Header always append Y sub\n RequestHeader set Z z\n</Directory>\n")
    cfg = load(path)
    r = DirResolver(cfg)
    top = headers_config(r.dir_config(cfg.main, f"{tmp_path}/htdocs"))
    sub = headers_config(r.dir_config(cfg.main, f"{tmp_path}/htdocs/sub"))
    assert [(c.action, c.header) for c in top.fixup_out] == [("set", "X")]
    assert [(c.action, c.header) for c in sub.fixup_out] == [("set", "X"), ("unset", "X")]
    assert [c.action for c in sub.fixup_err] == ["set", "append"]
    assert [c.header for c in sub.fixup_in] == ["Z"] and not top.fixup_in


# ---------------------------------------------------------------- the caches
CACHEABLE = """Header always set X-Frame-Options DENY
Header set Cache-Control "max-age=60"
Header merge Cache-Control "no-transform"
Header unset ETag
Header edit Last-Modified ^(...) "day $1"
Header set Content-Type "text/x-cached"
Header add Vary Accept
"""
REQS = [b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n"] * 3 + [
    b"HEAD /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /a.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"]


def test_cached_answers_carry_the_slow_paths_fields(tmp_path: Path) -> None:
    """The C engine (engine=True) and the Python cache (engine=False) answer the repeats
    with the fields the output filter gave the first answer."""
    path, tmp = _conf(tmp_path, CACHEABLE)
    wires = {}
    for engine in (True, False):
        srv = HttpServer(load(path), None)
        srv.child_init()
        try:
            wires[engine] = engine_exchange(srv, engine, REQS)
            hits = srv.engine.cache.stats()["hits"]
            python_entries = len(srv.cache)
        finally:
            srv.close()
        if engine:
            assert hits >= 2  # the engine served repeats itself
        else:
            assert hits == 0 and python_entries == 1
    first = _fields(wires[True][0])
    assert first[0] == "HTTP/1.1 200 OK" and first[1].startswith("Server: ")
    assert first[2:] == [
        "X-Frame-Options: DENY", "Accept-Ranges: bytes", "Content-Length: 260",
        "Cache-Control: max-age=60, no-transform",
        "Last-Modified: day Sun, 13 Sep 2020 12:26:40 GMT",  # an edit re-adds at the end
        "Content-Type: text/x-cached", "Vary: Accept"]  # before the Connection field
    for engine in (True, False):
        for i in (1, 2, 3):
            assert _fields(wires[engine][i]) == first, (engine, i)
    assert _fields(wires[True][4]) == first + ["Connection: close"]
    assert wires[True] == wires[False]


def test_request_independent_conditions_are_cached_per_type(tmp_path: Path) -> None:
    """An expr= condition on the answer's type is evaluated when the entry is filled:
    each file's cached repeats keep its own verdict."""
    path, tmp = _conf(tmp_path, 'Header set X-Html yes "expr=%{CONTENT_TYPE} =~ m#text/html#"\n'
                      'Header set X-Txt yes "expr=%{CONTENT_TYPE} =~ m#text/plain#"\n'
                      'Header set X-Len "expr=%{toupper:%{CONTENT_TYPE}}"\n')
    reqs = [b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"GET /sub/b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"] * 3
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        wire = engine_exchange(srv, True, reqs)
        assert srv.engine.cache.stats()["hits"] >= 4
    finally:
        srv.close()
    html, txt = _fields(wire[0]), _fields(wire[1])
    assert "X-Html: yes" in html and not any(f.startswith("X-Txt") for f in html)
    assert "X-Txt: yes" in txt and not any(f.startswith("X-Html") for f in txt)
    assert "X-Len: TEXT/HTML" in html
    assert [_fields(w) for w in wire] == [html, txt] * 3


@pytest.mark.parametrize("line", [
    'Header set X-Time "%D %t"', "Header set X-Env yes env=!NOPE", "Header echo ^User",
    "RequestHeader set X-In yes", 'Header set X-Load "%l %i %b"',
    'Header set X-Host yes "expr=%{HTTP_HOST} == \'localhost\'"',
    'Header set X-Uri "expr=%{REQUEST_URI}"'])
def test_request_dependent_commands_are_never_cached(tmp_path: Path, line: str) -> None:
    path, tmp = _conf(tmp_path, line)
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        wire = engine_exchange(srv, True, [b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n"
                                           b"User-Agent: t\r\n\r\n"] * 3)
        assert srv.engine.cache.stats()["hits"] == 0 and len(srv.cache) == 0
    finally:
        srv.close()
    assert all(w.startswith(b"HTTP/1.1 200 OK") for w in wire)


def test_time_and_load_values(tmp_path: Path) -> None:
    path, tmp = _conf(tmp_path, 'Header set X-Time "%t %D %l %i %b [%{NOPE}e] [%{X}s]"')
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        before = time.time()
        wire = engine_exchange(srv, False, [b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n"])
    finally:
        srv.close()
    m = re.search(rb"X-Time: t=(\d+) D=(\d+) l=[\d.]+/[\d.]+/[\d.]+ i=(\d+) b=(\d+) "
                  rb"\[\(null\)\] \[\(null\)\]\r\n", wire[0])
    assert m is not None, wire[0]
    assert abs(int(m.group(1)) / 1e6 - before) < 5 and int(m.group(2)) < 5_000_000
    assert int(m.group(3)) + int(m.group(4)) in (99, 100)


def test_request_header_reaches_the_access_log(tmp_path: Path) -> None:
    path, tmp = _conf(tmp_path, "RequestHeader set X-Early e early\n"
                      "RequestHeader append X-Early late\nRequestHeader unset User-Agent\n"
                      "RequestHeader edit Accept ^text text2\nSetEnv V v\n"
                      'RequestHeader add X-V "%{V}e"\n'
                      'RequestHeader set X-T "expr=<%{CONTENT_TYPE}>"\n',
                      log="%>s [%{X-Early}i] [%{User-Agent}i] [%{Accept}i] [%{X-V}i] [%{X-T}i]")
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        engine_exchange(srv, True, [b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n"
                                    b"User-Agent: ua\r\nAccept: text/html\r\n\r\n",
                                    b"GET /none HTTP/1.1\r\nHost: localhost\r\n\r\n"])
    finally:
        srv.close()
    log = (tmp / "access_log").read_text().splitlines()
    assert log == ["200 [e, late] [-] [text2/html] [v] [<text/html>]",
                   "404 [e, late] [-] [-] [v] [<>]"]  # the fixups know the file's type


def test_htaccess_needs_allowoverride_fileinfo(tmp_path: Path) -> None:
    path, tmp = _conf(tmp_path, f'<Directory "{tmp_path}/htdocs">\n AllowOverride FileInfo\n'
                      f'</Directory>\n<Directory "{tmp_path}/htdocs/sub">\n'
                      " AllowOverride Indexes\n</Directory>\n")
    (tmp / "htdocs" / ".htaccess").write_text("Header set X-Ht yes\n")
    (tmp / "htdocs" / "sub" / ".htaccess").write_text("Header set X-Ht no\n")
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        top, sub = engine_exchange(srv, True, [
            b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"GET /sub/b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"])
    finally:
        srv.close()
    assert top.startswith(b"HTTP/1.1 200 OK") and b"\r\nX-Ht: yes\r\n" in top
    assert sub.startswith(b"HTTP/1.1 500 ") and b"X-Ht" not in sub
    assert "Header not allowed here" in (tmp / "error_log").read_text()


def test_a_real_process_answers_its_cached_repeats_alike(tmp_path: Path) -> None:
    """`python -m fastcore` (the C engine serves the cached file) gives a keep-alive
    repeat the same fields as the first answer."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "a.html").write_bytes(b"<p>x</p>\n")
    os.utime(www / "a.html", (1_600_000_000, 1_600_000_000))
    run = tmp_path / "run"
    run.mkdir()
    site = (f'DocumentRoot "{www}"\n<Directory "{www}">\nRequire all granted\n</Directory>\n'
            + CACHEABLE)
    with ApacheOracle(str(run), site, modules=("mpm_event", "authz_core", "mime", "headers"),
                      fastcore=True) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            answers = []
            for _ in range(3):
                s.sendall(b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
                got = b""
                while not got.endswith(b"<p>x</p>\n"):
                    chunk = s.recv(65536)
                    assert chunk
                    got += chunk
                answers.append(_fields(got))
    assert answers[0] == answers[1] == answers[2]
    assert "Cache-Control: max-age=60, no-transform" in answers[0]
    assert not any(f.startswith("ETag") for f in answers[0])
