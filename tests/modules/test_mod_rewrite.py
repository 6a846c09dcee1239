"""mod_rewrite: directives parsed and merged as mod_rewrite.c does (server records with
RewriteOptions Inherit*, per-dir records, RewriteBase), the engine's pieces (argument
splitting, flags, expansion, maps, conditions), and what a client sees through a real
HttpServer: redirects, internal redirects, cookies, Vary, the answers never cached and a
repeated request answered alike."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from support.configs import cfg
from support.inprocess import engine_exchange

from fastcore.cli import main
from fastcore.config import ConfigError, load
from fastcore.config.merge import DirResolver
from fastcore.core.server import HttpServer
from fastcore.modules.mod_rewrite import config as C
from fastcore.modules.mod_rewrite import maps as M
from fastcore.modules.mod_rewrite.hooks import escape_absolute, subst_prefix

LOAD = "LoadModule rewrite_module modules/mod_rewrite.so\n"
DATE = re.compile(rb"Date: [^\r]*\r\n")


def test_argument_line_is_split_as_parseargline() -> None:
    line = C.parse_arg_line('  ^a\\ b  "x y"   [L,R=301]')
    assert (line.a1, line.a2, line.a3, line.error) == ("^a\\ b", "x y", "[L,R=301]", None)
    assert C.parse_arg_line("^a").error == "bad argument line 'TEXT'"
    assert C.parse_arg_line("^a b c").error == "bad flag delimiters"
    assert C.parse_arg_line("^a b").a3 is None
    assert C.flag_fields("[ L , E=A:b=c,QSA ]") == [("L", ""), ("E", "A:b=c"), ("QSA", "")]


def _rules(tmp: Path, text: str) -> list[C.RewriteRule]:
    c = cfg(tmp, LOAD + text)
    rec = C.server_config(c.main, c.main)
    assert rec is not None
    return rec.rules


def test_rule_flags(tmp_path: Path) -> None:
    r = _rules(tmp_path, "RewriteCond %{HTTP_HOST} =x [NC,OR]\nRewriteCond a -lt3\n"
               "RewriteRule !^a - [F,NC]\nRewriteRule ^b c [R=permanent,QSA,B=&,BNP,NE,"
               "S=2,E=X:1,E=!Y,CO=a:b:c,T=text/x,H=h,END,DPI,NS,PT,QSD,QSL,N=3,C]\n"
               "RewriteRule ^c d [R=404]\n")
    assert r[0].negate and r[0].nosub and r[0].status_only and r[0].status == 403
    assert r[0].regex.search("A") is not None  # NC compiles caseless
    assert [c.kind for c in r[0].conds] == [C.STR_EQ, C.INT_LT]
    assert r[0].conds[0].ornext and r[0].conds[0].nocase  # = compares without case
    assert r[0].conds[1].operand == "3"
    b = r[1]
    assert (b.status, b.qsappend, b.escapes, b.escape_noplus, b.noescape, b.skip) == (
        301, True, "&", True, True, 2)
    assert b.env == ("X:1", "!Y") and b.cookies == ("a:b:c",)
    assert (b.mimetype, b.handler, b.end, b.dpi, b.nosubreq, b.passthrough) == (
        "text/x", "h", True, True, True, True)
    assert (b.qsdiscard, b.qslast, b.next_round, b.max_rounds, b.chain) == (
        True, True, True, 3, True)
    assert r[1].conds == () and r[2].status_only and r[2].status == 404


def test_condition_warnings(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "RewriteCond %{HTTP_HOST} -f [NC]\nRewriteRule ^ -\n"
            "RewriteOptions MaxRedirects=5\n")
    assert any("AH00665: RewriteCond: NoCase option for non-regex pattern '-f' is not "
               "supported and will be ignored." in w for w in c.warnings)
    assert any("AH00664: RewriteOptions: MaxRedirects option has been removed" in w
               for w in c.warnings)


@pytest.mark.parametrize("line, message", [
    ("RewriteMap p prg:/bin/cat", "RewriteMap: prg: maps (external programs) are not "
     "supported by fastcore"),
])
def test_what_fastcore_cannot_do_is_refused(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        cfg(tmp_path, LOAD + line + "\n")


def test_unloaded_module_directive_is_an_invalid_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Invalid command 'RewriteEngine'"):
        cfg(tmp_path, "RewriteEngine On\n")


def test_server_records_merge_as_config_server_merge(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "RewriteEngine On\nRewriteOptions InheritDown\n"
            "RewriteRule ^/main - [F]\n"
            "<VirtualHost 127.0.0.1:18080>\n ServerName a\n RewriteRule ^/a - [F]\n"
            "</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:18080>\n ServerName b\n RewriteOptions IgnoreInherit\n"
            " RewriteRule ^/b - [F]\n</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:18080>\n ServerName c\n</VirtualHost>\n")
    a, b, v = c.vhosts
    pats = {vh.server_name: [r.pattern for r in C.server_config(vh, c.main).rules]
            for vh in (a, b)}
    assert pats == {"a": ["^/a", "^/main"], "b": ["^/b"]}
    assert C.server_config(b, c.main).state  # the engine state is inherited
    assert C.server_config(v, c.main) is None  # no directive of its own: declined


def test_vhost_without_directives_drops_the_main_rules(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "RewriteEngine On\nRewriteRule ^/main - [F]\n"
            "<VirtualHost 127.0.0.1:18080>\n ServerName c\n</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:18080>\n ServerName d\n RewriteOptions InheritBefore\n"
            " RewriteRule ^/d - [F]\n</VirtualHost>\n")
    c_vh, d_vh = c.vhosts
    assert C.server_config(c_vh, c.main) is None
    assert [r.pattern for r in C.server_config(d_vh, c.main).rules] == ["^/main", "^/d"]


def test_perdir_merge_and_base(tmp_path: Path) -> None:
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    (www / "sub" / ".htaccess").write_text("RewriteOptions Inherit MergeBase\n"
                                           "RewriteRule ^y z\n")
    c = cfg(tmp_path, LOAD + f"<Directory {www}>\n AllowOverride FileInfo\n"
            " RewriteEngine On\n RewriteBase /base/\n RewriteRule ^x y\n</Directory>\n")
    r = DirResolver(c)
    top = C.dir_config(r.dir_config(c.main, str(www)))
    assert top is not None and top.directory == f"{www}/" and top.baseurl == "/base/"
    ht = r.htaccess(c.main, f"{www}/sub")
    assert ht is not None
    merged = top.merge(C.dir_config(ht))
    assert merged.directory == f"{www}/sub/" and merged.state
    assert [x.pattern for x in merged.rules] == ["^y", "^x"]
    assert merged.baseurl == "/base/"  # MergeBase keeps the parent's RewriteBase


def test_htaccess_needs_fileinfo(tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / ".htaccess").write_text("RewriteEngine On\n")
    c = cfg(tmp_path, LOAD + f"<Directory {www}>\n AllowOverride Indexes\n</Directory>\n")
    with pytest.raises(ConfigError, match="RewriteEngine not allowed here"):
        DirResolver(c).htaccess(c.main, str(www))


def test_maps(tmp_path: Path) -> None:
    m = tmp_path / "m.txt"
    m.write_text("# c\nkey value extra\n indented x\nrnd a|b\n")
    spec = M.parse_map("m", f"txt:{m}", None, str)
    assert M.lookup(spec, "key", print) == "value"
    assert M.lookup(spec, "indented", print) is None
    m.write_text("key changed\n")
    os.utime(m, (time.time() + 5, time.time() + 5))  # a new mtime forgets the cache
    assert M.lookup(spec, "key", print) == "changed"
    rnd = M.parse_map("r", f"rnd:{m}", None, str)
    m.write_text("k a|b|c\n")
    os.utime(m, (time.time() + 9, time.time() + 9))
    assert {M.lookup(rnd, "k", print) for _ in range(60)} == {"a", "b", "c"}
    assert M.INTERNAL["unescape"]("a%41%zz%") == "aA%zz%"
    assert M.INTERNAL["escape"]("a b?") == "a%20b%3f"
    with pytest.raises(C.DirectiveError, match="RewriteMap: file for map x not found:"):
        M.parse_map("x", "txt:/nonexistent/m", None, str)


def test_redirect_escaping_and_prefixes() -> None:
    assert escape_absolute("http://h/a b#c", 7) == "http://h/a%20b%23c"
    assert escape_absolute("http://h", 7) == "http://h"
    assert subst_prefix("/www/sub/x", "/www/", "/base/") == "/base/sub/x"
    assert subst_prefix("/other/x", "/www/", "/base/") == "/other/x"


def _site(tmp: Path, body: str, override: str = "None") -> str:
    doc = tmp / "htdocs"
    (doc / "sub").mkdir(parents=True, exist_ok=True)
    (doc / "a.html").write_bytes(b"<p>hello</p>\n" * 20)
    (doc / "sub" / "b.txt").write_bytes(b"b\n")
    for p in (doc / "a.html", doc / "sub" / "b.txt"):
        os.utime(p, (1_600_000_000, 1_600_000_000))  # strong ETag: cacheable
    path = tmp / "httpd.conf"
    mods = "".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so\n"
                   for m in ("mpm_event", "authz_core", "mime", "dir", "rewrite"))
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
    AllowOverride {override}
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


GET = b"GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n"


def test_server_rules_keep_answers_out_of_the_caches(tmp_path: Path) -> None:
    # a rule set that reads the client address (a cacheable one: test_mod_rewrite_cache.py)
    path = _site(tmp_path, "RewriteEngine On\nRewriteCond %{REMOTE_ADDR} .\n"
                 "RewriteRule ^/x$ /a.html\n")
    wire, srv = _exchange(path, [GET % (b"/x", b"")] * 3 + [GET % (b"/a.html", b"")] * 2)
    assert srv.engine.cache.stats()["hits"] == 0 and len(srv.cache) == 0
    assert wire[0] == wire[1] == wire[2] == wire[3] == wire[4]
    assert wire[0].startswith(b"HTTP/1.1 200 OK") and wire[0].endswith(b"<p>hello</p>\n")


def test_engine_off_costs_nothing_and_caches(tmp_path: Path) -> None:
    path = _site(tmp_path, "RewriteEngine Off\nRewriteRule ^/x$ /a.html\n")
    wire, srv = _exchange(path, [GET % (b"/a.html", b"")] * 3 + [GET % (b"/x", b"")])
    assert srv.engine.cache.stats()["hits"] == 2
    assert wire[0] == wire[1] == wire[2] and wire[3].startswith(b"HTTP/1.1 404")


def test_perdir_rules_are_cached_until_their_htaccess_changes(tmp_path: Path) -> None:
    """A .htaccess rule set of a pure outcome is cached like a <Directory> one: the
    directory watches (issue 12) hold the answer only while no .htaccess on the path
    changes, so an edit takes effect on the very next request."""
    path = _site(tmp_path, "", "FileInfo")
    ht = tmp_path / "htdocs" / "sub" / ".htaccess"
    ht.write_text("RewriteEngine On\nRewriteRule ^c\\.txt$ b.txt [E=SEEN:1]\n")
    (tmp_path / "htdocs" / ".htaccess").write_text("")
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        before = engine_exchange(srv, True, [GET % (b"/sub/c.txt", b"")] * 3)
        hits = srv.engine.cache.stats()["hits"]
        ht.write_text("RewriteEngine On\nRewriteRule ^c\\.txt$ /a.html [E=SEEN:1]\n")
        after = engine_exchange(srv, True, [GET % (b"/sub/c.txt", b"")] * 2)
    finally:
        srv.close()
    before = [DATE.sub(b"", w) for w in before]
    after = [DATE.sub(b"", w) for w in after]
    assert hits == 2  # the repeats were engine hits
    assert before[0] == before[1] == before[2] and before[0].endswith(b"\r\n\r\nb\n")
    assert after[0] == after[1] and after[0].endswith(b"<p>hello</p>\n")
    log = (tmp_path / "access_log").read_text().splitlines()
    assert log == [f"200 /sub/c.txt [{tmp_path}/htdocs/sub/b.txt]"] * 3 + [
        f"200 /sub/c.txt [{tmp_path}/htdocs/a.html]"] * 2


def test_vary_cookie_and_type(tmp_path: Path) -> None:
    path = _site(tmp_path, "RewriteEngine On\n"
                 "RewriteCond %{HTTP:X-Mode} on\nRewriteCond %{HTTP_HOST} .\n"
                 "RewriteRule ^/v$ /a.html [CO=;k;v;localhost;10;/p;1;true;Lax,T=text/x-t]\n"
                 "RewriteCond %{HTTP_USER_AGENT} x [NV]\nRewriteRule ^/nv$ /a.html\n")
    wire, _srv = _exchange(path, [GET % (b"/v", b"X-Mode: on\r\n"),
                                  GET % (b"/nv", b"User-Agent: x\r\n")])
    head = wire[0].split(b"\r\n\r\n")[0].decode() + "\r\n"
    assert "Vary: X-Mode\r\n" in head  # Host is never a Vary name
    assert "Content-Type: text/x-t\r\n" in head
    m = re.search(r"Set-Cookie: k=v; path=/p; domain=localhost; expires=(\w{3}, \d\d-\w{3}-"
                  r"\d{4} \d\d:\d\d:\d\d GMT); secure; HttpOnly; SameSite=Lax\r\n", head)
    assert m is not None, head
    assert "Vary" not in wire[1].split(b"\r\n\r\n")[0].decode()


def test_redirect_under_use_canonical_name(tmp_path: Path) -> None:
    path = _site(tmp_path, "UseCanonicalName On\nServerName canon.example:8080\n"
                 "RewriteEngine On\nRewriteRule ^/r$ /a.html?q=a%20b [R=307]\n")
    wire, _srv = _exchange(path, [GET % (b"/r", b"")], engine=False)
    assert wire[0].startswith(b"HTTP/1.1 307 Temporary Redirect")
    assert b"Location: http://canon.example:8080/a.html?q=a0b\r\n" in wire[0]  # %2: empty


def test_internal_redirect_loop_is_a_500(tmp_path: Path) -> None:
    path = _site(tmp_path, "", "FileInfo")
    (tmp_path / "htdocs" / "sub" / ".htaccess").write_text(
        "RewriteEngine On\nRewriteRule ^(.*)$ /sub/x$1\n")
    wire, _srv = _exchange(path, [GET % (b"/sub/q", b"")], engine=False)
    assert wire[0].startswith(b"HTTP/1.1 500")
    assert "AH00124: Request exceeded the limit of 10 internal redirects" in (
        tmp_path / "error_log").read_text()


def test_options_without_symlinks_forbid_perdir_rules(tmp_path: Path) -> None:
    path = _site(tmp_path, f"<Directory \"{tmp_path}/htdocs/sub\">\n Options None\n"
                 " RewriteEngine On\n RewriteRule ^x y\n</Directory>\n")
    wire, _srv = _exchange(path, [GET % (b"/sub/b.txt", b"")], engine=False)
    assert wire[0].startswith(b"HTTP/1.1 403")
    assert "AH00670: Options FollowSymLinks and SymLinksIfOwnerMatch are both off" in (
        tmp_path / "error_log").read_text()


def test_dash_m_lists_rewrite_module(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"ServerRoot {tmp_path}\nErrorLog {tmp_path}/error.log\n"
                    "LoadModule mpm_event_module modules/mod_mpm_event.so\n" + LOAD +
                    "Listen 127.0.0.1:18080\nServerName x\n")
    assert main(["-f", str(conf), "-M"]) == 0
    assert " rewrite_module (shared)" in capsys.readouterr().out.splitlines()


def test_a_vanished_map_file_takes_the_default(tmp_path: Path) -> None:
    mapfile = tmp_path / "pages.map"
    mapfile.write_text("a sub/b.txt\n")
    path = _site(tmp_path, f"RewriteEngine On\nRewriteMap pages txt:{mapfile}\n"
                 "RewriteRule ^/p/(.*)$ /${pages:$1|a.html} [L]\n")
    srv = HttpServer(load(path), None)
    srv.child_init()
    try:
        first = engine_exchange(srv, False, [GET % (b"/p/a", b"")])[0]
        mapfile.unlink()
        second = engine_exchange(srv, False, [GET % (b"/p/a", b"")])[0]
    finally:
        srv.close()
    assert first.endswith(b"\r\n\r\nb\n")
    assert second.startswith(b"HTTP/1.1 200 OK") and second.endswith(b"<p>hello</p>\n")
    assert (f"AH00661: mod_rewrite: can't access text RewriteMap file {mapfile}"
            in (tmp_path / "error_log").read_text())


def test_trace_lines_only_where_loglevel_asks(tmp_path: Path) -> None:
    path = _site(tmp_path, "RewriteEngine On\nRewriteRule ^/x$ /a.html\n"
                 f"<Directory \"{tmp_path}/htdocs/sub\">\n LogLevel rewrite:trace2\n"
                 " RewriteEngine On\n RewriteRule ^c\\.txt$ b.txt\n</Directory>\n")
    _exchange(path, [GET % (b"/x", b""), GET % (b"/sub/c.txt", b"")], engine=False)
    lines = [x for x in (tmp_path / "error_log").read_text().splitlines() if "trace" in x]
    assert lines and all("[rewrite:trace" in x and "[perdir " in x for x in lines)
    assert any("rewrite 'c.txt' -> 'b.txt'" in x for x in lines)
    assert not any("/x" in x for x in lines)  # the server's rules log at warn
