"""AllowOverride and DirectoryIndex lists answered by the C engine (issue 12), checked
against real Apache 2.4 while the files the answers rest on change between requests.

A .htaccess created, rewritten (same size, its mtime put back: the stamp cannot tell)
and removed above the DocumentRoot (AllowOverride at /), in the DocumentRoot and in a
subdirectory; a DirectoryIndex name before the served one added and removed.  Each step
asks Apache and fastcore (in-process, connections on the C engine) the same URL twice on
one connection and compares status, Content-Type and body; the repeat must be an engine
hit.  With no watch to be had (the watch limit), the answers stay right and nothing is
cached.
"""
from __future__ import annotations

import os
import socket
import time

import pytest
from support.apache_oracle import ApacheOracle
from support.inprocess import FastcoreThread
from support.wire import parse_responses

from fastcore._ext import load

OLD = 1_600_000_000
MODULES = ("mpm_prefork", "authz_core", "mime", "dir")

SCOPES = {
    "root": "<Directory />\n  AllowOverride All\n  Require all granted\n</Directory>\n",
    "docroot": "<Directory />\n  AllowOverride None\n  Require all granted\n</Directory>\n"
               '<Directory "{doc}">\n  AllowOverride FileInfo Indexes\n</Directory>\n',
}


def write(path: str, text: str, old: bool = True) -> None:
    with open(path, "w") as f:
        f.write(text)
    if old:
        os.utime(path, (OLD, OLD))


@pytest.fixture(scope="module", params=sorted(SCOPES))
def servers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("override-" + request.param)
    top = tmp / "top"  # above the DocumentRoot: read only with AllowOverride at /
    doc = top / "htdocs"
    (doc / "sub").mkdir(parents=True)
    (doc / "idx").mkdir()
    write(str(doc / "a.html"), "a\n")
    write(str(doc / "sub" / "b.html"), "b\n")
    write(str(doc / "idx" / "second.html"), "second\n")
    body = (f'DocumentRoot "{doc}"\n' + SCOPES[request.param].format(doc=doc)
            + f'<Directory "{doc}/idx">\n  DirectoryIndex first.html second.html\n'
              "</Directory>\n")
    (tmp / "apache").mkdir()
    (tmp / "fastcore").mkdir()
    fc_conf = ApacheOracle(str(tmp / "fastcore"), body, modules=MODULES)
    with open(fc_conf.conf_path, "w") as f:
        f.write(fc_conf.config_text())
    fc = FastcoreThread(fc_conf.conf_path, board="compiled")
    try:
        with ApacheOracle(str(tmp / "apache"), body, modules=MODULES) as ap:
            yield request.param, str(top), ap.port, fc
    finally:
        fc.stop()


def ask(port: int, path: str, times: int = 2) -> list[tuple]:
    """GET path `times` times on one keep-alive connection (a new one when the server
    closed it, as both do after a 500)."""
    out: list[tuple] = []
    while len(out) < times:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            got = b""
            closed = False
            for i in range(times - len(out)):
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
                while True:
                    rs = parse_responses(got)
                    if len(rs) > i and len(rs[i][2]) >= int(rs[i][1].get("content-length", 0)):
                        break
                    chunk = s.recv(65536)
                    assert chunk or rs, got
                    if not chunk:
                        closed = True
                        break
                    got += chunk
                if closed or b"Connection: close" in got:
                    break
            for status, headers, body in parse_responses(got):
                out.append((status, headers.get("content-type"), body))
    return out


def hits(fc: FastcoreThread) -> int:
    return int(fc.srv.engine.cache.stats()["hits"])


def same(servers: tuple, path: str, engine_hit: bool = True) -> list[tuple]:
    """Both servers' answers to path, asked twice; the repeat an engine hit or not.
    With AllowOverride at / the watched directories include /tmp, where other programs
    create files: such an event costs a hit its validity, so a missed hit is asked for
    again (three times at most)."""
    fc = servers[3]
    want = ask(servers[2], path)
    for _attempt in range(3):
        before = hits(fc)
        assert ask(fc.port, path) == want, path
        deadline = time.monotonic() + (1 if engine_hit else 0.2)
        while hits(fc) == before and time.monotonic() < deadline:
            time.sleep(0.01)  # the engine counts a hit just after its answer
        if (hits(fc) > before) == engine_hit:
            break
    assert (hits(fc) > before) == engine_hit, (path, hits(fc), before)
    return want


def ctypes_of(answers: list[tuple]) -> list[str | None]:
    return [c for _s, c, _b in answers]


@pytest.mark.parametrize("where", ["top", "htdocs", "htdocs/sub"])
def test_htaccess_created_rewritten_and_removed(servers, where: str) -> None:
    scope, top = servers[0], servers[1]
    folder = top if where == "top" else os.path.join(top, where)
    url = "/sub/b.html" if where.endswith("sub") else "/a.html"
    seen_by_walk = scope == "root" or where != "top"
    ht = os.path.join(folder, ".htaccess")
    assert ctypes_of(same(servers, url)) == ["text/html"] * 2
    write(ht, "AddType text/x-one .html\n")
    st = os.stat(ht)
    want = "text/x-one" if seen_by_walk else "text/html"
    assert ctypes_of(same(servers, url)) == [want] * 2
    with open(ht, "r+") as f:  # same inode, same size, the mtime put back
        f.write("AddType text/x-two .html\n")
    os.utime(ht, ns=(st.st_atime_ns, st.st_mtime_ns))
    want = "text/x-two" if seen_by_walk else "text/html"
    assert ctypes_of(same(servers, url)) == [want] * 2
    os.unlink(ht)
    assert ctypes_of(same(servers, url)) == ["text/html"] * 2


def test_broken_htaccess_is_a_500_then_fixed(servers) -> None:
    top = servers[1]
    ht = os.path.join(top, "htdocs", "sub", ".htaccess")
    assert same(servers, "/sub/b.html")[0][0] == 200
    write(ht, "NoSuchDirective on\n")
    assert [s for s, _c, _b in same(servers, "/sub/b.html", engine_hit=False)] == [500, 500]
    os.unlink(ht)
    assert same(servers, "/sub/b.html")[0][0] == 200


def test_directory_index_list_follows_an_earlier_name(servers) -> None:
    """DirectoryIndex first.html second.html: the answer rests on first.html's absence."""
    idx = os.path.join(servers[1], "htdocs", "idx")
    assert [b for _s, _c, b in same(servers, "/idx/")] == [b"second\n"] * 2
    write(os.path.join(idx, "first.html"), "first\n")
    assert [b for _s, _c, b in same(servers, "/idx/")] == [b"first\n"] * 2
    os.unlink(os.path.join(idx, "first.html"))
    assert [b for _s, _c, b in same(servers, "/idx/")] == [b"second\n"] * 2


def test_no_watch_to_be_had_means_no_caching(servers) -> None:
    """At the watch limit (the stand-in for max_user_watches) a .htaccess-dependent
    answer is read afresh each time, never trusted from a cache."""
    top = servers[1]
    watches = load("fastpath").dirwatch()
    watches.reset()
    watches.set_limit(0)
    try:
        ht = os.path.join(top, "htdocs", ".htaccess")
        assert ctypes_of(same(servers, "/a.html", engine_hit=False)) == ["text/html"] * 2
        write(ht, "AddType text/x-one .html\n")
        assert ctypes_of(same(servers, "/a.html", engine_hit=False)) == ["text/x-one"] * 2
        os.unlink(ht)
        assert ctypes_of(same(servers, "/a.html", engine_hit=False)) == ["text/html"] * 2
    finally:
        watches.set_limit(65536)
    assert ctypes_of(same(servers, "/a.html")) == ["text/html"] * 2


def test_docroot_symlink_switched_onto_hard_links(tmp_path) -> None:
    """A release layout: DocumentRoot .../current -> rel1, AllowOverride at the
    DocumentRoot only.  rel2 holds a hard link of the same file (same inode, size, mtime,
    ctime) and another .htaccess; `current` is switched to rel2 by a rename.  Only the
    watch of the directory above the DocumentRoot sees it: the next answer is rel2's."""
    rel1, rel2, cur = tmp_path / "rel1", tmp_path / "rel2", tmp_path / "current"
    rel1.mkdir()
    rel2.mkdir()
    write(str(rel1 / "a.html"), "a\n")
    write(str(rel1 / ".htaccess"), "AddType text/x-one .html\n")
    write(str(rel2 / ".htaccess"), "AddType text/x-two .html\n")
    os.link(rel1 / "a.html", rel2 / "a.html")
    os.symlink("rel1", cur)
    body = (f'DocumentRoot "{cur}"\n'
            "<Directory />\n  AllowOverride None\n  Require all granted\n</Directory>\n"
            f'<Directory "{cur}">\n  AllowOverride FileInfo\n</Directory>\n')
    (tmp_path / "apache").mkdir()
    (tmp_path / "fastcore").mkdir()
    fc_conf = ApacheOracle(str(tmp_path / "fastcore"), body, modules=MODULES)
    with open(fc_conf.conf_path, "w") as f:
        f.write(fc_conf.config_text())
    fc = FastcoreThread(fc_conf.conf_path, board="compiled")
    try:
        with ApacheOracle(str(tmp_path / "apache"), body, modules=MODULES) as ap:
            servers = ("docroot", str(tmp_path), ap.port, fc)
            assert ctypes_of(same(servers, "/a.html")) == ["text/x-one"] * 2
            os.symlink("rel2", tmp_path / "next")
            os.rename(tmp_path / "next", cur)  # atomic switch, as deploy tools do
            assert ctypes_of(same(servers, "/a.html")) == ["text/x-two"] * 2
    finally:
        fc.stop()
