"""URI decoding/normalization and the directory walk's per-request costs."""
from __future__ import annotations

import os

import pytest
from support.http_fakes import FakeResolver, effective_defaults

from fastcore.config.model import (
    OPT_SYM_LINKS,
    OPT_SYM_OWNER,
    DirConfig,
    Section,
    ServerConfig,
    VirtualHost,
)
from fastcore.core.mapping import Mapper, decode_path
from fastcore.core.request import HttpError
from fastcore.modules.mod_alias import NAME as ALIAS
from fastcore.modules.mod_alias import Alias, AliasServer, Redirect, alias_match, apply_redirects
from fastcore.modules.mod_alias import translate as alias_translate


def code(path: str, slashes: str = "off") -> str | int:
    try:
        return decode_path(path, slashes)
    except HttpError as e:
        return e.status


@pytest.mark.parametrize("raw,expected", [
    ("/a/b.html", "/a/b.html"),
    ("/a/../b", "/b"),
    ("/../etc/passwd", 400),
    ("/a/../../etc", 400),
    ("/%2e%2e/%2e%2e/etc/passwd", 400),
    ("/a/%2e%2e/b", "/b"),
    ("/.%2e/x", 400),
    ("/%2F", 404),
    ("/a%2fb", 404),
    ("/%00", 404),
    ("/a%00b", 404),
    ("/%zz", 400),
    ("/%2", 400),
    ("/%", 400),
    ("/%25", "/%"),
    ("/%41%42", "/AB"),
    ("//a///b", "/a/b"),
    ("/./a/.", "/a/"),
    ("/a/..", "/"),
    ("/\\..\\..\\etc", "/\\..\\..\\etc"),   # backslashes are ordinary characters on Unix
    ("/%5c..%5cx", "/\\..\\x"),
    ("/%c0%ae%c0%ae/x", os.fsdecode(b"/\xc0\xae\xc0\xae/x")),  # overlong UTF-8: no dot
    ("/%252e%252e/x", "/%2e%2e/x"),               # decoded once only
])
def test_decode(raw: str, expected: str | int) -> None:
    assert code(raw) == expected


def test_encoded_slashes_modes() -> None:
    assert code("/a%2Fb", "on") == "/a/b"
    assert code("/a%2Fb", "nodecode") == "/a%2Fb"
    assert code("/a/..%2F..%2Fetc", "on") == 400


def test_alias_and_redirect_matching() -> None:
    assert alias_match("/icons/a.png", "/icons") == 6
    assert alias_match("/iconsx", "/icons") == 0
    assert alias_match("//icons//a", "/icons/") == 9
    reds = (Redirect(301, "/old", "http://e.com/new"), Redirect(410, "/gone", None))
    assert apply_redirects(reds, "/old/a b", "q=1") == (301, "http://e.com/new/a%20b?q=1")
    assert apply_redirects(reds, "/gone/x", "") == (410, None)
    assert apply_redirects(reds, "/oldx", "") is None


def site(tmp_path: object, options: int) -> tuple[Mapper, VirtualHost, FakeResolver, str]:
    root = str(tmp_path)
    docroot = os.path.join(root, "htdocs")
    os.makedirs(os.path.join(docroot, "d"))
    with open(os.path.join(docroot, "d", "f.txt"), "w") as f:
        f.write("x")
    os.symlink("f.txt", os.path.join(docroot, "d", "link.txt"))
    os.symlink("f.txt", os.path.join(docroot, "d", "foreign.txt"))
    os.lchown(os.path.join(docroot, "d", "foreign.txt"), 65534, 65534)
    sec = Section("directory", docroot, None, DirConfig(options=options), "t", 1)
    vh = VirtualHost(addrs=(), server_name="t", document_root=docroot, sections=(sec,),
                     dir_defaults=effective_defaults(),
                     module_config={ALIAS: AliasServer(
                         aliases=(Alias("/al", os.path.join(docroot, "d")),))})
    cfg = ServerConfig("", root, root, "", (), vh)
    res = FakeResolver(cfg)
    return Mapper(res, (alias_translate,)), vh, res, docroot


def walk_status(m: Mapper, vh: VirtualHost, path: str) -> int:
    try:
        w = m.walk(vh, path)
    except HttpError as e:
        return e.status
    return 200 if w.st is not None else 404


def test_symlink_options(tmp_path: object) -> None:
    m, vh, _, d = site(tmp_path, OPT_SYM_LINKS)
    assert walk_status(m, vh, d + "/d/link.txt") == 200
    m, vh, _, d = site(tmp_path / "b", 0)
    assert walk_status(m, vh, d + "/d/f.txt") == 200
    assert walk_status(m, vh, d + "/d/link.txt") == 403
    m, vh, _, d = site(tmp_path / "c", OPT_SYM_OWNER)
    assert walk_status(m, vh, d + "/d/link.txt") == 200
    assert walk_status(m, vh, d + "/d/foreign.txt") == 403
    assert walk_status(m, vh, d + "/d/missing") == 404


def test_path_info_and_cacheability(tmp_path: object) -> None:
    m, vh, _, d = site(tmp_path, OPT_SYM_LINKS)
    w = m.walk(vh, d + "/d/f.txt/extra/x")
    assert w.filename == d + "/d/f.txt" and w.path_info == "/extra/x"
    assert m.walk(vh, d + "/d/f.txt").cacheable
    assert m.walk(vh, d + "/d/f.txt").links == ()     # FollowSymLinks: nothing to repeat
    m, vh, _, d = site(tmp_path / "o", OPT_SYM_LINKS | OPT_SYM_OWNER)
    w = m.walk(vh, d + "/d/f.txt")
    # cacheable, with the lstat of each component the scope's Options check (those in
    # the docroot's <Directory>), which every hit repeats
    assert w.cacheable
    assert [(c.path, c.owner_match) for c in w.links] == [(d + "/d", True), (d + "/d/f.txt", True)]
    m, vh, _, d = site(tmp_path / "n", 0)
    assert [(c.path, c.owner_match) for c in m.walk(vh, d + "/d/f.txt").links] == [
        (d + "/d", False), (d + "/d/f.txt", False)]


def test_htaccess_attempts_per_directory(tmp_path: object) -> None:
    m, vh, res, d = site(tmp_path, OPT_SYM_LINKS)
    m.walk(vh, d + "/d/f.txt")
    assert res.htaccess_opens == 0                     # AllowOverride None: no attempts
    vh.dir_defaults = effective_defaults(allow_override=frozenset(("FileInfo",)))
    w = m.walk(vh, d + "/d/f.txt")
    ndirs = len([c for c in (d + "/d").split("/") if c]) + 1  # "/" and each directory
    assert res.htaccess_opens == ndirs and not w.cacheable


def test_translate(tmp_path: object) -> None:
    m, vh, _, d = site(tmp_path, OPT_SYM_LINKS)
    assert m.translate(vh, "/al/f.txt", "") == (d + "/d/f.txt", None)
    assert m.translate(vh, "/x", "") == (d + "/x", None)
