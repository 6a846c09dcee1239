"""mod_expires: the codes parsed as check_code does (both syntaxes, its error messages),
the per-dir merge, the type lookup (exact, "major/*", default), the fields on the answers
Apache gives them to (2xx, 3xx, 304; never errors; never over an Expires already set),
and the same fields on cache hits: the Python cache, the C engine (its hit counter moves)
and a real fastcore process over keep-alive, each formatting them for its own time."""
from __future__ import annotations

import calendar
import email.utils
import os
import re
import socket
import time
from pathlib import Path

import pytest
from support.apache_oracle import ApacheOracle
from support.configs import cfg
from support.inprocess import engine_exchange
from support.wire import parse_responses, raw_request

from fastcore.config import ConfigError, load
from fastcore.config.merge import DirResolver
from fastcore.core.server import HttpServer
from fastcore.modules.mod_expires import Code, ExpiresDir, expires_config, parse_code

LOAD = "LoadModule expires_module modules/mod_expires.so\n"
MONTH, DAY, YEAR = 30 * 86400, 86400, 365 * 86400


def _epoch(http_date: str) -> int:
    parsed = email.utils.parsedate(http_date)
    assert parsed is not None, http_date
    return calendar.timegm(parsed)


@pytest.mark.parametrize("text,code", [
    ("access plus 1 month 2 days", Code("A", MONTH + 2 * DAY)),
    ("now plus 5 minutes", Code("A", 300)),
    ("modification plus 1 year", Code("M", YEAR)),
    ("a 10 s", Code("A", 10)),
    ("access 1 day", Code("A", DAY)),               # "plus" may be left out
    ("M3600", Code("M", 3600)), ("A0", Code("A", 0)),
    ("Ablah", Code("A", 0)),                        # the old form: atoi of the rest
    ("Access plus 1 day", Code("A", 0)),            # capital A: the old form too
    ("access plus 1 mo 3 mi", Code("A", MONTH + 180)),
    ("access plus 3x days", Code("A", 3 * DAY)),    # atoi: the digits that lead
    ("nonsense plus 2 weeks 1 hour", Code("A", 14 * DAY + 3600)),  # one letter decides
    ("access plus 100 years", Code("A", 3153600000 - 2**32)),      # C int arithmetic
])
def test_codes_parse_as_check_code(text: str, code: Code) -> None:
    assert parse_code(text) == code


@pytest.mark.parametrize("line,message", [
    ('ExpiresDefault "bogus"',
     "'ExpiresDefault bogus': bad expires code, unrecognised <base> 'bogus'"),
    ('ExpiresDefault "access plus x"',
     "'ExpiresDefault access plus x': bad expires code, numeric value expected <num> 'x'"),
    ('ExpiresDefault "access plus 1"',
     "'ExpiresDefault access plus 1': bad expires code, missing <type>"),
    ('ExpiresDefault "access plus 1 fortnights"', "'ExpiresDefault access plus 1 fortnights':"
     " bad expires code, unrecognised <type>'fortnights'"),
    ('ExpiresByType text/html "m 1 m"',
     "'ExpiresByType text/html m 1 m': bad expires code, unrecognised <type>'m'"),
    ("ExpiresActive maybe", "ExpiresActive must be On or Off"),
    ("ExpiresDefault", "ExpiresDefault takes one argument, an expiry date code"),
    ("ExpiresByType a",
     "ExpiresByType takes two arguments, a MIME type followed by an expiry date code"),
])
def test_bad_lines_get_apaches_messages(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        cfg(tmp_path, LOAD + line + "\n")
    assert message in str(err.value)
    assert "line 13" in str(err.value)  # the header's 11 lines, LoadModule, then this one


def test_unloaded_module_directives_are_invalid_commands(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        cfg(tmp_path, "ExpiresActive On\n")
    assert "Invalid command 'ExpiresActive'" in str(err.value)


def test_merge_and_type_lookup(tmp_path: Path) -> None:
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    c = cfg(tmp_path, LOAD + "ExpiresActive On\nExpiresDefault A1\n"
            "ExpiresByType text/* A2\nExpiresByType Text/HTML A3\n"
            f"<Directory {www}/sub>\n ExpiresActive Off\n ExpiresByType text/html M4\n"
            "</Directory>\n")
    r = DirResolver(c)
    top = expires_config(r.dir_config(c.main, str(www)))
    sub = expires_config(r.dir_config(c.main, f"{www}/sub"))
    assert top.applies and not sub.applies
    assert top.code_for("text/html; charset=utf-8") == Code("A", 3)  # no case, no params
    assert top.code_for("text/css") == Code("A", 2)                  # the major wildcard
    assert top.code_for("image/gif") == Code("A", 1)                 # the default
    assert top.code_for(None) == Code("A", 1)
    assert sub.code_for("text/html") == Code("M", 4) and sub.code_for("text/x") == Code("A", 2)
    assert ExpiresDir(True).merge(ExpiresDir()).active is True
    assert not ExpiresDir(True).applies  # on, but nothing to apply


SITE = """
DocumentRoot "{www}"
KeepAlive On
<Directory />
  AllowOverride None
</Directory>
<Directory "{www}">
  Require all granted
  AllowOverride None
  ExpiresActive On
  ExpiresDefault "access plus 1 month 2 days"
  ExpiresByType text/* A100
  ExpiresByType text/html "modification plus 1 year"
</Directory>
<Directory "{www}/old">
  ExpiresByType text/plain "modification plus 1 second"
</Directory>
<Directory "{www}/off">
  ExpiresActive Off
</Directory>
"""


def _site(root: Path) -> Path:
    """Files a cache may keep, and one whose "modification plus 1 second" is long past."""
    www = root / "www"
    for rel, data in (("a.txt", "hello\n"), ("b.html", "<p>b</p>\n"), ("c.gif", "gif\n"),
                      ("old/o.txt", "old\n"), ("off/f.txt", "off\n"), ("dir/x.txt", "x\n")):
        (www / rel).parent.mkdir(parents=True, exist_ok=True)
        (www / rel).write_text(data)
        recent = time.time() - 10 * DAY  # old enough for a strong ETag: cacheable
        os.utime(www / rel, (recent, recent))
    os.utime(www / "old" / "o.txt", (1_577_836_800, 1_577_836_800))  # 2020-01-01
    return www


def _fields(h: dict[str, str]) -> tuple[int, int]:
    """(max-age, Expires minus Date) of an answer; the full path computes Expires from
    the request time and the Date a moment later, so a second that ends in between makes
    the difference one less (it is reported as the max-age then)."""
    m = re.fullmatch(r"max-age=(\d+)", h["cache-control"])
    assert m is not None, h
    age, rel = int(m.group(1)), _epoch(h["expires"]) - _epoch(h["date"])
    return age, age if rel == age - 1 else rel


def test_fields_on_the_answers_apache_gives_them_to(tmp_path: Path) -> None:
    www = _site(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    body = SITE.replace("{www}", str(www)) + '\nRedirect /red http://example.com/\n'
    with ApacheOracle(str(run), body, modules=("mpm_prefork", "authz_core", "mime", "dir",
                                               "alias", "expires"), fastcore=True) as ap:
        def get(path: str, extra: str = "") -> tuple[int, dict[str, str]]:
            got = parse_responses(raw_request(ap.port, f"GET {path} HTTP/1.0\r\nHost: localhost"
                                              f"\r\n{extra}\r\n".encode()))
            return got[0][0], got[0][1]

        for _ in range(2):  # the second answer may come from a cache
            st, h = get("/a.txt")
            assert st == 200 and _fields(h) == (100, 100)
            st, h = get("/c.gif")
            assert st == 200 and _fields(h) == (MONTH + 2 * DAY, MONTH + 2 * DAY)
            st, h = get("/b.html")  # modification: a fixed Expires, a counting-down max-age
            mtime = int((www / "b.html").stat().st_mtime)
            assert st == 200 and _epoch(h["expires"]) == mtime + YEAR
            assert abs(int(h["cache-control"][8:]) - (mtime + YEAR - _epoch(h["date"]))) <= 1
            st, h = get("/old/o.txt")  # long past: the request time, max-age=0
            assert st == 200 and _fields(h) == (0, 0)
            st, h = get("/off/f.txt")
            assert st == 200 and "expires" not in h and "cache-control" not in h
        st, h = get("/a.txt", "If-Modified-Since: " + email.utils.formatdate(
            (www / "a.txt").stat().st_mtime + 1, usegmt=True) + "\r\n")
        assert st == 304 and _fields(h) == (100, 100)  # the file's type, though none is sent
        st, h = get("/a.txt", "Range: bytes=0-1\r\n")
        assert st == 206 and _fields(h) == (100, 100)
        keys = list(h)
        assert keys.index("expires") < keys.index("content-range")  # Apache's order
        st, h = get("/dir")  # mod_dir's redirect: text/html, the directory's mtime
        assert st == 301 and _epoch(h["expires"]) == int((www / "dir").stat().st_mtime) + YEAR
        for path in ("/missing", "/red"):  # an error; a redirect before any <Directory>
            st, h = get(path)
            assert st in (404, 302) and "expires" not in h and "cache-control" not in h


def test_engine_hits_format_expires_per_request(tmp_path: Path) -> None:
    """The C engine serves the repeats (its hit counter moves) and every hit's Expires is
    its own Date plus the code; the Python path answers the same bytes otherwise."""
    www = _site(tmp_path)
    conf = tmp_path / "httpd.conf"
    conf.write_text(LOAD.replace("modules/", "/usr/lib/apache2/modules/") +
                    "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\n"
                    "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n"
                    "LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so\n"
                    f"ServerRoot {tmp_path}\nErrorLog {tmp_path}/error_log\n"
                    f"TypesConfig /etc/mime.types\nListen 127.0.0.1:18080\nServerName localhost\n"
                    f"CustomLog {tmp_path}/access_log common\n" + SITE.replace("{www}", str(www)))
    req = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    html = b"GET /b.html HTTP/1.1\r\nHost: localhost\r\n\r\n"
    mtime = int((www / "b.html").stat().st_mtime)
    for engine in (True, False):
        srv = HttpServer(load(str(conf)), None)
        srv.child_init()
        try:
            rounds = []
            for reqs in ([req, html, req, html], [req, html, req]):
                before = int(time.time())
                got = engine_exchange(srv, engine, reqs)  # (its Date lines are masked)
                rounds.append((before, int(time.time()), got))
                time.sleep(1.1)  # the next second: an access-based Expires moves with it
            stats = srv.engine.cache.stats()
        finally:
            srv.close()
        assert (stats["hits"] >= 4) == engine, stats
        firsts = []
        for before, after, got in rounds:
            for raw in got:
                status, h, body = parse_responses(raw)[0]
                assert status == 200
                if body == b"hello\n":
                    assert h["cache-control"] == "max-age=100"
                    assert before + 100 <= _epoch(h["expires"]) <= after + 100
                else:
                    assert _epoch(h["expires"]) == mtime + YEAR
                    age = int(h["cache-control"].removeprefix("max-age="))
                    assert mtime + YEAR - after - 1 <= age <= mtime + YEAR - before
            firsts.append(_epoch(parse_responses(got[0])[0][1]["expires"]))
        assert firsts[1] > firsts[0]


def test_a_real_process_serves_cached_hits_with_their_own_expires(tmp_path: Path) -> None:
    """fastcore as a process on the extensions: keep-alive repeats of a cached file are
    the C engine's to serve; across a second boundary each carries Date + 100."""
    www = _site(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    with ApacheOracle(str(run), SITE.replace("{www}", str(www)),
                      modules=("mpm_prefork", "authz_core", "mime", "expires"),
                      fastcore=True) as ap:
        raw_request(ap.port, b"GET /a.txt HTTP/1.0\r\n\r\n")  # fills the caches
        seen = []
        with socket.create_connection(("127.0.0.1", ap.port), timeout=5) as s:
            for i in range(6):
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                data = b""
                while b"hello\n" not in data:
                    chunk = s.recv(65536)
                    assert chunk, data
                    data += chunk
                h = parse_responses(data)[0][1]
                assert _fields(h) == (100, 100), h
                seen.append(_epoch(h["date"]))
                if i == 2:
                    time.sleep(1.1)
        assert seen[-1] > seen[0]


@pytest.mark.parametrize("headers,cached", [
    # h5bp's forms: constant fields, one only for some types; the expiry is untouched
    ('Header always set X-Content-Type-Options "nosniff"\n'
     'Header set X-Frame-Options "DENY" "expr=%{CONTENT_TYPE} =~ m#text/plain#i"\n'
     'Header unset X-Powered-By\n', True),
    # an edit of the per-hit field: only the full path can merge it
    ('Header merge Cache-Control "public"\n', False),
    ('Header unset Expires\n', False),
])
def test_header_commands_with_an_access_expiry(tmp_path: Path, headers: str,
                                               cached: bool) -> None:
    """mod_headers runs after mod_expires: a hit may serve its own Expires beside the
    headers' fields only when no command touches the per-hit fields."""
    www = _site(tmp_path)
    conf = tmp_path / "httpd.conf"
    mods = "/usr/lib/apache2/modules/"
    conf.write_text(LOAD.replace("modules/", mods) +
                    f"LoadModule mpm_prefork_module {mods}mod_mpm_prefork.so\n"
                    f"LoadModule authz_core_module {mods}mod_authz_core.so\n"
                    f"LoadModule mime_module {mods}mod_mime.so\n"
                    f"LoadModule headers_module {mods}mod_headers.so\n"
                    f"ServerRoot {tmp_path}\nErrorLog {tmp_path}/error_log\n"
                    f"TypesConfig /etc/mime.types\nListen 127.0.0.1:18080\nServerName localhost\n"
                    f"CustomLog {tmp_path}/access_log common\n" + SITE.replace("{www}", str(www))
                    + headers)
    req = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    srv = HttpServer(load(str(conf)), None)
    srv.child_init()
    try:
        got = engine_exchange(srv, True, [req, req, req])
        stats = srv.engine.cache.stats()
    finally:
        srv.close()
    assert (stats["hits"] >= 2) == cached, stats
    answers = [parse_responses(raw)[0][1] for raw in got]
    first = answers[0]
    for h in answers:
        assert set(h) == set(first)  # every hit carries what the full path sent
        for name in ("x-content-type-options", "x-frame-options"):
            assert h.get(name) == first.get(name)
        if "expires" in h:
            assert h["cache-control"] == first["cache-control"]
    if cached:
        assert first["x-content-type-options"] == "nosniff"
        assert first["x-frame-options"] == "DENY" and first["cache-control"] == "max-age=100"
    elif "merge" in headers:
        assert first["cache-control"] == "max-age=100, public"
    else:
        assert "expires" not in first and first["cache-control"] == "max-age=100"


def test_a_server_context_rewrite_redirect_gets_the_servers_fields(tmp_path: Path) -> None:
    """h5bp's http-to-https vhost: a RewriteRule [R=301] in server context answers before
    any <Directory> walk, and httpd's EXPIRES filter reads the server's per-dir defaults
    there (ExpiresActive and ExpiresByType text/html "access": max-age=0), as fastcore."""
    www = _site(tmp_path)
    body = (SITE.replace("{www}", str(www)) + 'ExpiresActive on\nExpiresDefault "access plus'
            ' 1 year"\nExpiresByType text/html "access"\nRewriteEngine On\n'
            'RewriteRule ^/go https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]\n')
    answers = []
    for name in ("apache", "fastcore"):
        run = tmp_path / name
        run.mkdir()
        with ApacheOracle(str(run), body, modules=("mpm_prefork", "authz_core", "mime", "dir",
                                                   "expires", "rewrite"),
                          fastcore=name == "fastcore") as ap:
            got = []
            for _ in range(2):
                r = parse_responses(raw_request(ap.port, b"GET /go/x HTTP/1.0\r\n"
                                                b"Host: example.org\r\n\r\n"))
                st, h = r[0][0], r[0][1]
                got.append((st, h["location"], h.get("cache-control"), "expires" in h))
            answers.append(got)
    assert answers[0] == answers[1]
    assert answers[1][0] == (301, "https://example.org/go/x", "max-age=0", True)
