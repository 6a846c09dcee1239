"""An answer produced through a sub-request or an internal redirect is cached only when
everything that produced it may be: checked against real Apache 2.4 while the .htaccess
files (and the files) it depends on change between requests, no restart in between.

Apache and fastcore (the in-process server whose connections use the C engine) serve
the same document root; each step asks both the same URL twice on one keep-alive
connection (the repeat is what a cache would answer) and compares status, Content-Type
and body.
"""
from __future__ import annotations

import os
import socket
import time

import pytest
from support.apache_oracle import ApacheOracle
from support.inprocess import FastcoreThread
from support.wire import parse_responses

HERE = os.path.dirname(os.path.abspath(__file__))

OLD = 1_600_000_000  # not "just modified": strong ETags, so the caches may keep them
MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias", "negotiation")

CONF = """DocumentRoot "{doc}"
<Directory />
  AllowOverride None
</Directory>
<Directory "{doc}">
  Require all granted
</Directory>
<Directory "{doc}/d">
  AllowOverride Indexes
</Directory>
<Directory "{doc}/e">
  DirectoryIndex a.html b.html
</Directory>
<Directory "{doc}/g">
  DirectoryIndex /other/4.html
  Require ip 127.0.0.1
</Directory>
<Directory "{doc}/f">
  AllowOverride FileInfo
</Directory>
<Directory "{doc}/m">
  AllowOverride Options=MultiViews
</Directory>
<Directory "{doc}/t">
  AllowOverride FileInfo
</Directory>
<Directory "{doc}/c">
  DirectoryIndex /other/4.html
</Directory>
"""

FILES = {"other/4.html": "4\n", "other/5.html": "5\n", "other/6.html": "6\n",
         "d/5.html": "d5\n", "d/6.html": "d6\n", "e/b.html": "b\n", "m/page.html": "page\n",
         "t/x.var": "URI: x.en.html\nContent-Type: text/html\nContent-Language: en\n",
         "t/x.en.html": "english\n", "g/.keep": "", "f/.keep": "", "c/.keep": ""}


def write(path: str, text: str, old: bool = False) -> None:
    """Replace a file's content in place (same inode, as an editor saving it)."""
    with open(path, "w") as f:
        f.write(text)
    if old:
        os.utime(path, (OLD, OLD))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("htcache")
    doc = str(tmp / "htdocs")
    for name, text in FILES.items():
        os.makedirs(os.path.dirname(os.path.join(doc, name)), exist_ok=True)
        write(os.path.join(doc, name), text, old=True)
    body = CONF.format(doc=doc)
    (tmp / "apache").mkdir()
    (tmp / "fastcore").mkdir()
    fc_conf = ApacheOracle(str(tmp / "fastcore"), body, modules=MODULES)
    with open(fc_conf.conf_path, "w") as f:
        f.write(fc_conf.config_text())
    fc = FastcoreThread(fc_conf.conf_path, board="compiled")
    try:
        with ApacheOracle(str(tmp / "apache"), body, modules=MODULES) as ap:
            yield doc, ap.port, fc
    finally:
        fc.stop()


def ask(port: int, path: str, src: str = "127.0.0.1", times: int = 2) -> list[tuple]:
    """GET `path` `times` times on one keep-alive connection from address `src`."""
    out = []
    with socket.socket() as s:
        s.settimeout(10)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        got = b""
        for i in range(times):
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            while True:
                rs = parse_responses(got)
                if len(rs) > i and len(rs[i][2]) >= int(rs[i][1].get("content-length", 0)):
                    break
                chunk = s.recv(65536)
                assert chunk, got
                got += chunk
        for status, headers, body in parse_responses(got):
            out.append((status, headers.get("content-type"), body))
    return out


def same(servers: tuple, path: str, src: str = "127.0.0.1") -> list[tuple]:
    _doc, ap_port, fc = servers
    want = ask(ap_port, path, src)
    assert ask(fc.port, path, src) == want, path
    return want


def bodies(answers: list[tuple]) -> list[tuple[int, bytes]]:
    return [(status, body) for status, _ctype, body in answers]


def test_directory_index_follows_htaccess_rewrites(servers) -> None:
    """The issue's sequence: an index named by URL (whose own walk reads no .htaccess),
    then 5.html, 6.html, nonexist.html written over d/.htaccess."""
    doc = servers[0]
    ht = os.path.join(doc, "d", ".htaccess")
    seen = []
    for line in ("DirectoryIndex /other/4.html", "DirectoryIndex 5.html",
                 "DirectoryIndex 6.html", "DirectoryIndex nonexist.html"):
        write(ht, line + "\n")
        seen.append(bodies(same(servers, "/d/"))[0])
    assert [s for s, _ in seen] == [200, 200, 200, 404]
    assert [b for _, b in seen[:3]] == [b"4\n", b"d5\n", b"d6\n"]


def test_directory_index_sees_an_earlier_name_created(servers) -> None:
    """DirectoryIndex a.html b.html: b.html served, then a.html appears."""
    doc = servers[0]
    assert bodies(same(servers, "/e/")) == [(200, b"b\n")] * 2
    write(os.path.join(doc, "e", "a.html"), "a\n", old=True)
    assert bodies(same(servers, "/e/")) == [(200, b"a\n")] * 2


def test_directory_index_keeps_the_directorys_require(servers) -> None:
    """The directory's Require depends on the client; the index file's does not."""
    assert bodies(same(servers, "/g/")) == [(200, b"4\n")] * 2
    assert [s for s, _ in bodies(same(servers, "/g/", src="127.0.0.2"))] == [403, 403]
    assert bodies(same(servers, "/other/4.html", src="127.0.0.2")) == [(200, b"4\n")] * 2


def test_error_document_follows_htaccess(servers) -> None:
    doc = servers[0]
    ht = os.path.join(doc, "f", ".htaccess")
    for line, body in (("ErrorDocument 404 /other/4.html", b"4\n"),
                       ("ErrorDocument 404 /other/5.html", b"5\n"),
                       ('ErrorDocument 404 "gone"', b"gone")):
        write(ht, line + "\n")
        assert bodies(same(servers, "/f/missing")) == [(404, body)] * 2


def test_multiviews_follows_htaccess(servers) -> None:
    doc = servers[0]
    ht = os.path.join(doc, "m", ".htaccess")
    write(ht, "Options +MultiViews\n")
    assert bodies(same(servers, "/m/page")) == [(200, b"page\n")] * 2
    write(ht, "Options -MultiViews\n")
    assert [s for s, _ in bodies(same(servers, "/m/page"))] == [404, 404]
    write(ht, "Options +MultiViews\n")
    assert bodies(same(servers, "/m/page")) == [(200, b"page\n")] * 2


def test_type_map_follows_htaccess(servers) -> None:
    doc = servers[0]
    ht = os.path.join(doc, "t", ".htaccess")
    write(ht, "AddHandler type-map .var\n")
    assert bodies(same(servers, "/t/x.var")) == [(200, b"english\n")] * 2
    write(ht, "\n")  # the map is now an ordinary file
    assert bodies(same(servers, "/t/x.var")) == [(200, FILES["t/x.var"].encode())] * 2
    write(ht, "AddHandler type-map .var\n")
    assert bodies(same(servers, "/t/x.var")) == [(200, b"english\n")] * 2


def test_index_without_any_htaccess_is_still_served_by_the_engine(servers) -> None:
    """The rule does not disable the cache where nothing can change unseen."""
    fc = servers[2]
    before = fc.srv.engine.cache.stats()["hits"]
    assert bodies(same(servers, "/c/")) == [(200, b"4\n")] * 2
    deadline = time.monotonic() + 10  # the engine counts a hit just after its answer
    while fc.srv.engine.cache.stats()["hits"] == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fc.srv.engine.cache.stats()["hits"] > before
