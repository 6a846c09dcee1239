"""mod_alias: the URI prefix match on segment boundaries, the first matching line winning
(with Apache's AH00671 warning for an Alias an earlier one covers), a vhost's own lines
before the main server's, Redirect before Alias, the escaping of the appended rest and the
request's query, and the answers served in-process (Python path and C engine, each asked
twice).  More forms against real Apache: test_mod_alias_vs_apache.py and the rewrite
suite's tests/modules/data/rwsuite/09_alias.txt."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.configs import cfg
from support.inprocess import engine_exchange
from support.wire import parse_responses

from fastcore.config import ConfigError, load
from fastcore.core.server import HttpServer
from fastcore.modules.mod_alias import alias_match, translate

MODS = "/usr/lib/apache2/modules"


def test_prefix_matches_whole_segments_and_slash_runs() -> None:
    assert alias_match("/pics/a.txt", "/pics") == len("/pics")
    assert alias_match("/pics", "/pics") == len("/pics")
    assert alias_match("/picsx/a", "/pics") == 0
    assert alias_match("//pics//a", "/pics/") == len("//pics//")
    assert alias_match("/pics", "/pics/") == 0
    assert alias_match("/a/b/c", "/a//b") == len("/a/b")


def test_first_line_wins_redirects_before_aliases(tmp_path: Path) -> None:
    c = cfg(tmp_path, "Alias /a /srv/one\nAlias /a/b /srv/two\n"
                      "Redirect 301 /a/r http://example.com/r\n"
                      "AliasMatch ^/m/(\\d+)$ /srv/num/$1.txt\n")
    assert translate(c.main, "/a/b/f", "").path == "/srv/one/b/f"
    assert translate(c.main, "/a/r/x y", "q=1").redirect == (
        301, "http://example.com/r/x%20y?q=1")
    assert translate(c.main, "/m/42", "").path == "/srv/num/42.txt"
    assert translate(c.main, "/m/x", "") is None
    assert any("AH00671: The Alias directive in " in w and "will probably never match "
               "because it overlaps an earlier Alias." in w for w in c.warnings)


def test_vhost_lines_come_before_the_main_servers(tmp_path: Path) -> None:
    c = cfg(tmp_path, "Alias /x /srv/main\nRedirect /old http://main.example/\n"
                      "<VirtualHost 127.0.0.1:18080>\n ServerName v.example\n"
                      " Alias /x /srv/vhost\n</VirtualHost>\n")
    vh = c.vhosts[0]
    assert translate(vh, "/x/f", "").path == "/srv/vhost/f"
    # the rest of the URI ("/p") is appended to the target as it is: httpd says "//p" too
    assert translate(vh, "/old/p", "").redirect == (302, "http://main.example//p")
    assert translate(c.main, "/x/f", "").path == "/srv/main/f"


def test_redirect_target_with_its_own_query_keeps_it(tmp_path: Path) -> None:
    c = cfg(tmp_path, "Redirect /q http://example.com/t?fixed=1\n"
                      "RedirectMatch 410 ^/gone\n")
    assert translate(c.main, "/q", "x=1").redirect == (302, "http://example.com/t?fixed=1")
    assert translate(c.main, "/gone/x", "").redirect == (410, None)


CONF = f"""LoadModule mpm_prefork_module {MODS}/mod_mpm_prefork.so
LoadModule authz_core_module {MODS}/mod_authz_core.so
LoadModule mime_module {MODS}/mod_mime.so
LoadModule dir_module {MODS}/mod_dir.so
LoadModule alias_module {MODS}/mod_alias.so
ServerRoot {{root}}
ErrorLog {{root}}/error_log
TypesConfig /etc/mime.types
Listen 127.0.0.1:18080
ServerName localhost
DocumentRoot "{{root}}/www"
<Directory "{{root}}">
  Require all granted
</Directory>
Alias /pics "{{root}}/ext"
RedirectTemp /tmp http://example.com/t
<Location "/loc">
  Redirect 301 http://example.com/whole
</Location>
"""


@pytest.mark.parametrize("engine", [True, False], ids=["engine", "python"])
def test_served_aliases_and_redirects(tmp_path: Path, engine: bool) -> None:
    for rel in ("www/index.html", "ext/a.txt", "ext/index.html"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel + "\n")
        os.utime(tmp_path / rel, (1_600_000_000, 1_600_000_000))
    conf = tmp_path / "httpd.conf"
    conf.write_text(CONF.replace("{root}", str(tmp_path)))
    paths = ["/pics/a.txt", "/pics", "/pics/", "/tmp/x?y=1", "/loc/any/thing"]
    srv = HttpServer(load(str(conf)), None)
    srv.child_init()
    try:
        got = [parse_responses(r)[0] for r in engine_exchange(
            srv, engine, [f"GET {p} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
                          for p in paths + paths])]
    finally:
        srv.close()
    assert got[0][0] == 200 and got[0][2] == b"ext/a.txt\n"
    assert got[1][0] == 301 and got[1][1]["location"] == "http://localhost/pics/"
    assert got[2][0] == 200 and got[2][2] == b"ext/index.html\n"
    assert got[3][0] == 302 and got[3][1]["location"] == "http://example.com/t/x?y=1"
    assert got[4][0] == 301 and got[4][1]["location"] == "http://example.com/whole"
    for first, again in zip(got[:5], got[5:], strict=True):
        first[1].pop("date"), again[1].pop("date")
        assert again == first


@pytest.mark.parametrize("line", ["Alias /a /b", "Redirect /a http://x/",
                                  "RedirectMatch ^/a http://x/", "ScriptAlias /c /d"])
def test_unloaded_module_directive_is_an_invalid_command(tmp_path: Path, line: str) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"ServerRoot {tmp_path}\nErrorLog {tmp_path}/e\n"
                    f"LoadModule mpm_event_module {MODS}/mod_mpm_event.so\n"
                    f"Listen 127.0.0.1:18080\nServerName x\n{line}\n")
    with pytest.raises(ConfigError, match=f"Invalid command '{line.split()[0]}', perhaps "
                                          "misspelled or defined by a module not included"):
        load(str(conf))
