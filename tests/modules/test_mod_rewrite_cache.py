"""mod_rewrite's cached outcomes (cache.py, issue 14's Speed): which rule sets are a
function of (Host, target, file tests), and what a client sees through a real HttpServer:
the second request for a rewritten file or a redirect answered alike from the C engine
(its hit counter), the log alike, and never a stale outcome once a tested file is created
or removed between two requests."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from socket import AF_INET

from support.configs import cfg
from support.inprocess import engine_exchange

from fastcore.config import load
from fastcore.config.model import ListenAddr
from fastcore.core.server import HttpServer
from fastcore.modules.mod_rewrite import cache as RC
from fastcore.modules.mod_rewrite import config as C

DATE = re.compile(rb"Date: [^\r]*\r\n")
LOAD = "LoadModule rewrite_module modules/mod_rewrite.so\n"
# h5bp's rewrite recipes in server context (rewrite_engine.conf's proto, rewrite_nowww,
# filename-based cache busting)
H5BP = r"""RewriteEngine On
RewriteCond %{HTTPS} =on
RewriteRule ^ - [env=proto:https]
RewriteCond %{HTTPS} !=on
RewriteRule ^ - [env=proto:http]
RewriteCond %{HTTPS} !=on
RewriteCond %{HTTP_HOST} ^www\.(.+)$ [NC]
RewriteRule ^ %{ENV:PROTO}://%1%{REQUEST_URI} [R=301,L]
RewriteCond %{DOCUMENT_ROOT}%{REQUEST_URI} !-f
RewriteRule ^(.+)\.(\w+)\.(bmp|css|cur|gif|ico|jpe?g|m?js|png|svgz?|webp|webmanifest)$ $1.$3 [L]
"""


GET = b"GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n"
MODULES = ("mpm_event", "authz_core", "mime", "dir", "rewrite")


def _site(tmp: Path, body: str) -> str:
    """htdocs/a.html and htdocs/sub/b.txt (strong ETags: cacheable), the access log as
    "%>s %U [%f]", and `body` in server context."""
    doc = tmp / "htdocs"
    (doc / "sub").mkdir(parents=True, exist_ok=True)
    (doc / "a.html").write_bytes(b"<p>hello</p>\n" * 20)
    (doc / "sub" / "b.txt").write_bytes(b"b\n")
    for p in (doc / "a.html", doc / "sub" / "b.txt"):
        os.utime(p, (1_600_000_000, 1_600_000_000))
    path = tmp / "httpd.conf"
    mods = "".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so\n"
                   for m in MODULES)
    path.write_text(mods + f"""
ServerRoot "{tmp}"
Listen 127.0.0.1:80
ServerName localhost
TypesConfig /etc/mime.types
ErrorLog "{tmp}/error_log"
KeepAlive On
LogFormat "%>s %U [%f]" f
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
    return str(path)


def _exchange(path: str, reqs: list[bytes], engine: bool = True
              ) -> tuple[list[bytes], HttpServer]:
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        wire = engine_exchange(srv, engine, reqs)
    finally:
        srv.close()
    return [DATE.sub(b"", w) for w in wire], srv


def _config(tmp: Path, text: str) -> C.RewriteServer:
    c = cfg(tmp, LOAD + text)
    rec = C.server_config(c.main, c.main)
    assert rec is not None
    return rec


def _verdict(tmp: Path, text: str) -> RC.Verdict:
    return RC.verdict(_config(tmp, text))


def test_verdicts(tmp_path: Path) -> None:
    v = _verdict(tmp_path, H5BP)
    assert v.cacheable and v.reads_host
    assert not _verdict(tmp_path, "RewriteRule ^/x$ /a.html\n").reads_host
    for impure in ("RewriteCond %{HTTP:Accept-Encoding} br\nRewriteRule ^ /b\n",
                   "RewriteCond %{REMOTE_ADDR} =1.2.3.4\nRewriteRule ^ /b\n",
                   "RewriteCond %{TIME_HOUR} >12\nRewriteRule ^ /b\n",
                   "RewriteCond %{ENV:X} =1\nRewriteRule ^ /b\n",  # set outside the rules
                   "RewriteRule ^/a /b [E=X:1]\nRewriteRule ^ /c%{ENV:X}\n",  # not always
                   "RewriteRule ^ - [S=1]\nRewriteRule ^ - [E=X:1]\nRewriteRule ^ /%{ENV:X}\n",
                   "RewriteCond expr \"%{REQUEST_URI} == '/a'\"\nRewriteRule ^ /b\n",
                   "RewriteCond %{REQUEST_URI} -U\nRewriteRule ^ /b\n",
                   "RewriteRule ^/c$ /a.html [CO=k:v:localhost]\n",
                   "RewriteRule ^/c$ /a.html [E=nokeepalive:1]\n",  # framing: per request
                   "RewriteRule ^/c$ /a.html [E=%{REQUEST_URI}:1]\n",
                   f"RewriteMap r rnd:{tmp_path}/r.txt\nRewriteRule ^/r/(.*) /${{r:$1}}\n"):
        (tmp_path / "r.txt").write_text("a b|c\n")
        assert not _verdict(tmp_path, "RewriteEngine On\n" + impure).cacheable, impure
    # h5bp's www forcing: the local address is constant only for one specific Listen
    force = _config(tmp_path, "RewriteEngine On\nRewriteCond %{HTTPS} !=on\n"
                    "RewriteCond %{HTTP_HOST} !^www\\. [NC]\n"
                    "RewriteCond %{SERVER_ADDR} !=127.0.0.1\nRewriteCond %{SERVER_ADDR} !=::1\n"
                    "RewriteRule ^ http://www.%{HTTP_HOST}%{REQUEST_URI} [R=301,L]\n")
    assert RC.verdict(force, True).cacheable and not RC.verdict(force).cacheable
    assert RC.one_address((ListenAddr("127.0.0.1", 80, AF_INET),
                           ListenAddr("127.0.0.1", 81, AF_INET)))
    assert not RC.one_address((ListenAddr("", 80, AF_INET),))
    assert not RC.one_address((ListenAddr("127.0.0.1", 80, AF_INET),
                               ListenAddr("10.0.0.1", 80, AF_INET)))
    (tmp_path / "m.txt").write_text("a b\n")
    v = _verdict(tmp_path, f"RewriteEngine On\nRewriteMap m txt:{tmp_path}/m.txt\n"
                 "RewriteMap u int:toupper\nRewriteRule ^/m/(.*) /${m:$1}${u:$1}\n")
    assert v.cacheable and v.map_files == (f"{tmp_path}/m.txt",)


def _lines(tmp: Path) -> list[str]:
    return (tmp / "access_log").read_text().splitlines()


def test_rewritten_file_second_request_is_an_engine_hit(tmp_path: Path) -> None:
    path = _site(tmp_path, "RewriteEngine On\nRewriteRule ^/x$ /a.html\n")
    wire, srv = _exchange(path, [GET % (b"/x", b"")] * 3)
    assert srv.engine.cache.stats()["hits"] == 2
    assert wire[0] == wire[1] == wire[2]
    assert wire[0].startswith(b"HTTP/1.1 200 OK") and wire[0].endswith(b"<p>hello</p>\n")
    assert _lines(tmp_path) == [f"200 /x [{tmp_path}/htdocs/a.html]"] * 3


def test_python_cache_answers_alike_without_the_engine(tmp_path: Path) -> None:
    path = _site(tmp_path, "RewriteEngine On\nRewriteRule ^/x$ /a.html\n")
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        wire = engine_exchange(srv, False, [GET % (b"/x", b"")] * 3)
        assert len(srv.cache) == 1  # (close() empties it)
    finally:
        srv.close()
    assert wire[0] == wire[1] == wire[2] and srv.engine.cache.stats()["hits"] == 0


def test_redirect_second_request_is_an_engine_hit(tmp_path: Path) -> None:
    path = _site(tmp_path, "RewriteEngine On\nRewriteRule ^/old/(.*)$ /new/$1 [R=301,L]\n")
    head = b"HEAD /old/p?q=1 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    wire, srv = _exchange(path, [GET % (b"/old/p?q=1", b"")] * 3 + [head] * 2)
    assert srv.engine.cache.stats()["hits"] == 2  # HEAD is Python's
    assert wire[0] == wire[1] == wire[2]
    assert wire[0].startswith(b"HTTP/1.1 301 Moved Permanently\r\n")
    assert b"Location: http://localhost/new/p?q=1\r\n" in wire[0]
    assert wire[3] == wire[4] and wire[3].endswith(b"\r\n\r\n")  # HEAD: no body
    assert _lines(tmp_path) == ["301 /old/p [http://localhost/new/p?q=1]"] * 5


def test_cache_busting_follows_the_tested_file(tmp_path: Path) -> None:
    doc = tmp_path / "htdocs"
    path = _site(tmp_path, H5BP)
    _old_file(doc / "s.css", b"plain\n")
    busted = doc / "s.123.css"
    req = GET % (b"/s.123.css", b"")

    steps = [req, req, _then(lambda: _old_file(busted, b"own file\n"), req), req,
             _then(busted.unlink, req), req]
    wire, srv = _stepwise(path, steps)
    bodies = [w.split(b"\r\n\r\n", 1)[1] for w in wire]
    assert bodies == [b"plain\n", b"plain\n", b"own file\n", b"own file\n", b"plain\n",
                      b"plain\n"]
    # the engine answered the repeats of the first two outcomes (the third outcome is the
    # first's again: the engine was given that entry once, the Python cache serves it)
    assert srv.engine.cache.stats()["hits"] == 2


def test_created_and_removed_flag_changes_the_redirect(tmp_path: Path) -> None:
    doc = tmp_path / "htdocs"
    path = _site(tmp_path, "RewriteEngine On\nRewriteCond %{DOCUMENT_ROOT}/moved -d\n"
                 "RewriteRule ^/m$ /elsewhere [R=302]\nRewriteCond %{DOCUMENT_ROOT}/maint -f\n"
                 "RewriteRule ^/a.html$ /sub/b.txt [L]\n")
    m, a = GET % (b"/m", b""), GET % (b"/a.html", b"")
    steps = [m, m, _then(lambda: (doc / "moved").mkdir(), m), m,
             _then(lambda: (doc / "moved").rmdir(), m), m,
             a, a, _then(lambda: (doc / "maint").write_text(""), a), a]
    wire, srv = _stepwise(path, steps)
    status = [w.split(b"\r\n", 1)[0] for w in wire]
    assert status[:6] == [b"HTTP/1.1 404 Not Found"] * 2 + [b"HTTP/1.1 302 Found"] * 2 + [
        b"HTTP/1.1 404 Not Found"] * 2
    assert [w.split(b"\r\n\r\n", 1)[1][:8] for w in wire[6:]] == [b"<p>hello"] * 2 + [b"b\n"] * 2
    assert srv.engine.cache.stats()["hits"] >= 3


def _old_file(p: Path, data: bytes) -> None:
    """A file written with an mtime in the past (a strong ETag: cacheable at once)."""
    p.write_bytes(data)
    os.utime(p, (1_600_000_000, 1_600_000_000))


def _then(change: Callable[[], object], req: bytes) -> Callable[[], bytes]:
    """A step that edits the tree, then sends `req`."""
    def step() -> bytes:
        change()
        return req
    return step


def _stepwise(path: str, steps: list[bytes | Callable[[], bytes]]
              ) -> tuple[list[bytes], HttpServer]:
    """Each step a request (on a new connection of one server), or a tree change first."""
    srv = HttpServer(load(path), None)
    srv.child_init()
    out = []
    try:
        for s in steps:
            out += engine_exchange(srv, True, [s() if callable(s) else s])
    finally:
        srv.close()
    return [DATE.sub(b"", w) for w in out], srv


def test_host_bound_outcomes_per_spelling(tmp_path: Path) -> None:
    path = _site(tmp_path, H5BP)
    www = b"GET /a.html HTTP/1.1\r\nHost: www.localhost\r\n\r\n"
    plain = b"GET /a.html HTTP/1.1\r\nHost: localhost\r\n\r\n"
    for engine in (True, False):
        wire, _srv = _exchange(path, [www, plain, www, plain], engine=engine)
        assert [w.split(b"\r\n", 1)[0] for w in wire] == [
            b"HTTP/1.1 301 Moved Permanently", b"HTTP/1.1 200 OK"] * 2
        assert b"Location: http://localhost/a.html\r\n" in wire[2]


def test_txt_map_change_is_seen(tmp_path: Path) -> None:
    mp = tmp_path / "map.txt"
    mp.write_text("k /a.html\n")
    path = _site(tmp_path, f"RewriteEngine On\nRewriteMap m txt:{mp}\n"
                 "RewriteRule ^/m/(.*)$ ${m:$1|/none} [L]\n")
    req = GET % (b"/m/k", b"")
    wire, srv = _stepwise(path, [req, req, _then(lambda: mp.write_text("k /sub/b.txt\n"), req),
                                 req])
    assert [w.split(b"\r\n\r\n", 1)[1][:8] for w in wire] == [b"<p>hello"] * 2 + [b"b\n"] * 2
    assert srv.engine.cache.stats()["hits"] == 2


def test_impure_rule_sets_run_per_request(tmp_path: Path) -> None:
    path = _site(tmp_path, "RewriteEngine On\nRewriteCond %{HTTP:X-Mode} =on\n"
                 "RewriteRule ^/x$ /a.html\nRewriteRule ^/old$ /new [R=301]\n")
    wire, srv = _exchange(path, [GET % (b"/x", b"X-Mode: on\r\n"),
                                 GET % (b"/x", b"X-Mode: off\r\n")] + [GET % (b"/old", b"")] * 2)
    assert srv.engine.cache.stats()["hits"] == 0 and len(srv.cache) == 0
    assert wire[0].startswith(b"HTTP/1.1 200") and wire[1].startswith(b"HTTP/1.1 404")
    assert wire[2] == wire[3]


def test_env_in_the_log_keeps_answers_out(tmp_path: Path) -> None:
    path = _site(tmp_path, "RewriteEngine On\nRewriteRule ^/x$ /a.html [E=SEEN:1]\n"
                 f'CustomLog "{tmp_path}/env_log" "%{{SEEN}}e %{{SCRIPT_URL}}e"\n')
    wire, srv = _exchange(path, [GET % (b"/x", b"")] * 2)
    assert srv.engine.cache.stats()["hits"] == 0 and len(srv.cache) == 0
    assert (tmp_path / "env_log").read_text().splitlines() == ["1 /x"] * 2
    assert os.path.exists(tmp_path / "access_log")


def test_redirect_under_canonical_name_dns_stays_per_request(tmp_path: Path) -> None:
    # the redirect's host is then the local address's reverse name: not a function of
    # (Host, target)
    path = _site(tmp_path, "UseCanonicalName DNS\nRewriteEngine On\n"
                 "RewriteRule ^/old$ /new [R=301,L]\n")
    wire, srv = _exchange(path, [GET % (b"/old", b"")] * 2)
    assert srv.engine.cache.stats()["hits"] == 0
    assert wire[0] == wire[1] and wire[0].startswith(b"HTTP/1.1 301")


def test_engine_answers_frame_as_the_python_path(tmp_path: Path) -> None:
    # keep-alive and HTTP/1.0 framing of a cached redirect and a rewritten file: the
    # engine's answers are byte for byte those of the Python path
    path = _site(tmp_path, "RewriteEngine On\nRewriteRule ^/x$ /a.html\n"
                 "RewriteRule ^/old$ /new [R=302,L]\n")
    reqs = []
    for target in (b"/old", b"/x"):
        for line, extra in ((b"HTTP/1.1", b"Connection: keep-alive\r\n"), (b"HTTP/1.0", b""),
                            (b"HTTP/1.0", b"Connection: keep-alive\r\n"),
                            (b"HTTP/1.1", b"Connection: close\r\n")):
            reqs += [b"GET %s %s\r\nHost: localhost\r\n%s\r\n" % (target, line, extra)] * 2
    fast, srv = _exchange(path, reqs)
    slow, _ = _exchange(path, reqs, engine=False)
    assert fast == slow
    assert srv.engine.cache.stats()["hits"] == 14  # all but the first of each target
    assert b"Keep-Alive: timeout=5, max=" in fast[1] and b"Connection: close" in fast[3]


def test_directory_rules_outcome_is_an_engine_hit(tmp_path: Path) -> None:
    doc = tmp_path / "htdocs"
    own = doc / "sub" / "c.txt"
    path = _site(tmp_path, f'<Directory "{doc}/sub">\nRewriteEngine On\n'
                 "RewriteCond %{REQUEST_FILENAME} !-f\nRewriteRule ^c\\.txt$ b.txt [L]\n"
                 "RewriteRule ^old$ /new [R=301]\n</Directory>\n")
    c, old = GET % (b"/sub/c.txt", b""), GET % (b"/sub/old", b"")
    wire, srv = _stepwise(path, [c, c, old, old, _then(lambda: _old_file(own, b"c\n"), c), c])
    assert wire[0] == wire[1] and wire[0].endswith(b"\r\n\r\nb\n")  # the internal redirect
    assert wire[2] == wire[3] and b"Location: http://localhost/new\r\n" in wire[2]
    assert wire[4] == wire[5] and wire[4].endswith(b"\r\n\r\nc\n")  # now the file itself
    assert srv.engine.cache.stats()["hits"] == 3
    assert _lines(tmp_path)[:2] == [f"200 /sub/c.txt [{doc}/sub/b.txt]"] * 2


def test_directory_rules_without_followsymlinks_stay_per_request(tmp_path: Path) -> None:
    doc = tmp_path / "htdocs"
    path = _site(tmp_path, f'<Directory "{doc}/sub">\nOptions None\nRewriteEngine On\n'
                 "RewriteRule ^c\\.txt$ b.txt [L]\n</Directory>\n")
    wire, srv = _exchange(path, [GET % (b"/sub/c.txt", b"")] * 2)
    assert wire[0] == wire[1] and wire[0].startswith(b"HTTP/1.1 403")  # AH00670
    assert srv.engine.cache.stats()["hits"] == 0


def test_directory_redirect_under_require_ip_is_never_sent_to_a_denied_client(
        tmp_path: Path) -> None:
    """A <Directory> redirect answers after the access checks: once a granted client's
    redirect is cached, a client the scope's Require ip refuses still gets the 403."""
    doc = tmp_path / "htdocs"
    path = _site(tmp_path, "LoadModule authz_host_module "
                 "/usr/lib/apache2/modules/mod_authz_host.so\n"
                 f'<Directory "{doc}/sub">\nRequire ip 127.0.0.1\n'
                 "RewriteEngine On\nRewriteRule ^old$ /new [R=301]\n</Directory>\n")
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        old = GET % (b"/sub/old", b"")
        granted = engine_exchange(srv, True, [old] * 3)
        denied = engine_exchange(srv, True, [old] * 2, peer=("10.9.9.9", 40001))
    finally:
        srv.close()
    assert all(w.startswith(b"HTTP/1.1 301") for w in granted)
    assert all(w.startswith(b"HTTP/1.1 403") for w in denied)
