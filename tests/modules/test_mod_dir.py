"""mod_dir: DirectoryIndex (the first name that exists and is allowed answers; "disabled";
a later DirectoryIndex line replaces an earlier one) and DirectorySlash (the 301 to the
slashed URL keeps the query string; Off leaves the slashless request alone), served
in-process by the Python path and by the C engine, each repeat asked again so that a
cached answer is compared with the first one."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.configs import cfg
from support.inprocess import engine_exchange
from support.wire import parse_responses

from fastcore.config import ConfigError, load
from fastcore.config.merge import DirResolver
from fastcore.core.server import HttpServer
from fastcore.modules.mod_dir import DirIndexDir, dir_config

MODS = "/usr/lib/apache2/modules"
CONF = f"""LoadModule mpm_prefork_module {MODS}/mod_mpm_prefork.so
LoadModule authz_core_module {MODS}/mod_authz_core.so
LoadModule mime_module {MODS}/mod_mime.so
LoadModule dir_module {MODS}/mod_dir.so
ServerRoot {{root}}
ErrorLog {{root}}/error_log
TypesConfig /etc/mime.types
Listen 127.0.0.1:18080
ServerName localhost
DocumentRoot "{{www}}"
<Directory "{{www}}">
  Require all granted
</Directory>
<Directory "{{www}}/list">
  DirectoryIndex missing.html second.html
</Directory>
<Directory "{{www}}/disabled">
  DirectoryIndex disabled
</Directory>
<Directory "{{www}}/noslash">
  DirectorySlash Off
</Directory>
<Directory "{{www}}/refused">
  DirectoryIndex secret.html open.html
  <Files "secret.html">
    Require all denied
  </Files>
</Directory>
"""
FILES = ("index.html", "list/second.html", "disabled/index.html", "noslash/index.html",
         "slash/index.html", "refused/secret.html", "refused/open.html")


def _answers(tmp: Path, paths: list[str], engine: bool
             ) -> tuple[list[tuple[int, dict[str, str], bytes]], int]:
    """Each path's answer on one keep-alive connection, and the C cache's hit count."""
    www = tmp / "www"
    for rel in FILES:
        (www / rel).parent.mkdir(parents=True, exist_ok=True)
        (www / rel).write_text(f"<p>{rel}</p>\n")
        os.utime(www / rel, (1_600_000_000, 1_600_000_000))
    conf = tmp / "httpd.conf"
    conf.write_text(CONF.replace("{root}", str(tmp)).replace("{www}", str(www)))
    srv = HttpServer(load(str(conf)), None)
    srv.child_init()
    try:
        got = engine_exchange(srv, engine, [f"GET {p} HTTP/1.1\r\nHost: localhost\r\n\r\n"
                                            .encode() for p in paths])
        hits = srv.engine.cache.stats()["hits"] if srv.engine else 0
    finally:
        srv.close()
    return [parse_responses(raw)[0] for raw in got], hits


@pytest.mark.parametrize("engine", [True, False], ids=["engine", "python"])
def test_index_names_in_order_and_repeats_alike(tmp_path: Path, engine: bool) -> None:
    paths = ["/", "/list/", "/refused/", "/disabled/"]
    got, hits = _answers(tmp_path, paths + paths, engine)
    first, again = got[:4], got[4:]
    assert [(s, b) for s, _, b in first] == [
        (200, b"<p>index.html</p>\n"), (200, b"<p>list/second.html</p>\n"),
        (200, b"<p>refused/open.html</p>\n"), (404, first[3][2])]
    # no mod_autoindex loaded: nothing handles the unindexed directory (httpd says 404 too)
    assert b"<h1>Not Found</h1>" in first[3][2]
    for (s1, h1, b1), (s2, h2, b2) in zip(first, again, strict=True):
        h1.pop("date"), h2.pop("date")
        assert (s2, h2, b2) == (s1, h1, b1)
    assert first[1][1]["content-type"] == "text/html"
    if engine:
        assert hits >= 1  # the repeats of the index answers came from the C cache


@pytest.mark.parametrize("engine", [True, False], ids=["engine", "python"])
def test_directory_slash(tmp_path: Path, engine: bool) -> None:
    got, _ = _answers(tmp_path, ["/slash", "/slash?a=b&c=%20", "/noslash", "/noslash/"],
                      engine)
    assert got[0][0] == 301 and got[0][1]["location"] == "http://localhost/slash/"
    assert got[1][0] == 301 and got[1][1]["location"] == "http://localhost/slash/?a=b&c=%20"
    assert b'<a href="http://localhost/slash/?a=b&amp;c=%20">' in got[1][2]
    assert got[2][0] != 301 and "location" not in got[2][1]
    assert got[3][:1] == (200,) and got[3][2] == b"<p>noslash/index.html</p>\n"


def test_merge_keeps_what_the_deeper_scope_leaves_unset(tmp_path: Path) -> None:
    top = DirIndexDir(("a.html", "b.html"), False)
    assert top.merge(DirIndexDir()).names == ("a.html", "b.html")
    assert top.merge(DirIndexDir(slash=True)) == DirIndexDir(("a.html", "b.html"), True)
    assert top.merge(DirIndexDir(index_names=())).names == ()
    assert DirIndexDir().names == ("index.html",)
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    c = cfg(tmp_path, f'DirectoryIndex one.html\n<Directory "{www}/sub">\n'
                      "DirectorySlash Off\nDirectoryIndex two.html three.html\n</Directory>\n")
    sub = dir_config(DirResolver(c).dir_config(c.main, f"{www}/sub"))
    assert sub == DirIndexDir(("two.html", "three.html"), False)
    assert dir_config(c.main.dir_defaults).names == ("one.html",)


@pytest.mark.parametrize("line", ["DirectoryIndex index.html", "DirectorySlash Off"])
def test_unloaded_module_directive_is_an_invalid_command(tmp_path: Path, line: str) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"ServerRoot {tmp_path}\nErrorLog {tmp_path}/e\n"
                    f"LoadModule mpm_event_module {MODS}/mod_mpm_event.so\n"
                    f"Listen 127.0.0.1:18080\nServerName x\n{line}\n")
    with pytest.raises(ConfigError, match=f"Invalid command '{line.split()[0]}', perhaps "
                                          "misspelled or defined by a module not included"):
        load(str(conf))
