""".htaccess: only where AllowOverride allows, one open() per directory, cached by
(inode, size, mtime, ctime) and re-read while recently changed, and HtaccessError naming file and line for a disallowed directive."""
from __future__ import annotations

import os

import pytest
from support.configs import cfg

from fastcore.config import HtaccessError
from fastcore.config import merge as merge_mod
from fastcore.config.merge import DirResolver
from fastcore.config.model import OPT_INDEXES
from fastcore.modules.mod_alias import alias_dir
from fastcore.modules.mod_dir import dir_config


def _site(tmp_path, override: str):
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    c = cfg(tmp_path, f"<Directory {www}>\n  AllowOverride {override}\n</Directory>\n")
    return c, www


def test_allowed_directives_apply(tmp_path):
    c, www = _site(tmp_path, "Indexes FileInfo Options")
    (www / ".htaccess").write_text("DirectoryIndex start.html\nOptions +Indexes\n"
                                   "Redirect /x http://example.com/\n")
    r = DirResolver(c)
    ht = r.htaccess(c.main, str(www))
    assert dir_config(ht).index_names == ("start.html",) and ht.options_add == OPT_INDEXES
    assert ht.options is None  # relative: applied by merge(), so it carries down the walk
    assert alias_dir(ht).redirects[0].target == "http://example.com/"
    merged = r.merge(r.dir_config(c.main, str(www)), ht)
    assert merged.options & OPT_INDEXES


def test_disallowed_directive_is_an_error_with_file_and_line(tmp_path):
    c, www = _site(tmp_path, "Indexes")
    (www / ".htaccess").write_text("DirectoryIndex a.html\nOptions Indexes\n")
    with pytest.raises(HtaccessError) as info:
        DirResolver(c).htaccess(c.main, str(www))
    e = info.value
    assert (e.filename, e.line) == (str(www / ".htaccess"), 2)
    assert str(e) == f"{www}/.htaccess: Options not allowed here"


def test_unknown_directive_and_nonfatal(tmp_path):
    c, www = _site(tmp_path, "All")
    (www / ".htaccess").write_text("Sparkle on\n")
    with pytest.raises(HtaccessError, match="Invalid command 'Sparkle'"):
        DirResolver(c).htaccess(c.main, str(www))
    c2, www2 = _site(tmp_path / "n", "All Nonfatal=Unknown")
    (www2 / ".htaccess").write_text("Sparkle on\nDirectoryIndex z.html\n")
    assert dir_config(DirResolver(c2).htaccess(c2.main, str(www2))).index_names == ("z.html",)


def test_allow_override_list(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    c = cfg(tmp_path, f"<Directory {www}>\n  AllowOverride None\n"
                      f"  AllowOverrideList DirectoryIndex\n</Directory>\n")
    (www / ".htaccess").write_text("DirectoryIndex listed.html\n")
    assert dir_config(DirResolver(c).htaccess(c.main, str(www))).index_names == ("listed.html",)


def test_allowoverride_none_opens_nothing(tmp_path, monkeypatch):
    c, www = _site(tmp_path, "None")
    (www / ".htaccess").write_text("Bogus\n")
    calls = []
    real = os.open
    monkeypatch.setattr(merge_mod.os, "open", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    assert DirResolver(c).htaccess(c.main, str(www)) is None
    assert calls == []


def test_one_open_per_directory_and_cache_by_mtime(tmp_path, monkeypatch):
    c, www = _site(tmp_path, "All")
    ht = www / ".htaccess"
    ht.write_text("DirectoryIndex one.html\n")
    r = DirResolver(c)
    calls: list[str] = []
    parses: list[str] = []
    real_open, real_parse = os.open, r._parse_htaccess
    monkeypatch.setattr(merge_mod.os, "open",
                        lambda p, *a, **k: calls.append(p) or real_open(p, *a, **k))
    monkeypatch.setattr(r, "_parse_htaccess", lambda p, *a: parses.append(p) or real_parse(p, *a))
    for _ in range(3):
        assert dir_config(r.htaccess(c.main, str(www))).index_names == ("one.html",)
        assert r.htaccess(c.main, str(www / "sub")) is None  # absent: one failed open
    assert calls == [str(ht), str(www / "sub/.htaccess")] * 3
    assert parses == [str(ht)]  # parsed once, then validated by fstat
    ht.write_text("DirectoryIndex two.html two-b.html\n")
    assert dir_config(r.htaccess(c.main, str(www))).index_names == ("two.html", "two-b.html")
    assert len(parses) == 2


def test_same_stamp_rewrite_is_seen(tmp_path, monkeypatch):
    """A same-size rewrite within one timestamp tick keeps (inode, size, mtime, ctime)
    on a kernel or filesystem with coarse timestamps: the parse of a file changed that
    recently is not trusted on its stamp alone; one changed long ago is."""
    c, www = _site(tmp_path, "Indexes")
    ht = www / ".htaccess"
    ht.write_text("DirectoryIndex 5.html\n")
    real_fstat = os.fstat
    fd = os.open(ht, os.O_RDONLY)
    first = real_fstat(fd)
    os.close(fd)

    class Frozen:  # what a coarse clock reports for both writes
        st_ino, st_size = first.st_ino, first.st_size
        st_mtime_ns = st_ctime_ns = first.st_ctime_ns

    monkeypatch.setattr(merge_mod.os, "fstat", lambda fd: Frozen)
    r = DirResolver(c)
    assert dir_config(r.htaccess(c.main, str(www))).index_names == ("5.html",)
    ht.write_text("DirectoryIndex 6.html\n")  # same size, same (frozen) stamp
    assert dir_config(r.htaccess(c.main, str(www))).index_names == ("6.html",)
    # a stamp from long ago decides alone (the file is not read again): the limit
    # docs/compat.md states, a change that leaves all four fields as they were
    Frozen.st_mtime_ns = Frozen.st_ctime_ns = first.st_ctime_ns - 10 * merge_mod.RACY_NS
    assert dir_config(r.htaccess(c.main, str(www))).index_names == ("6.html",)
    ht.write_text("DirectoryIndex 7.html\n")
    assert dir_config(r.htaccess(c.main, str(www))).index_names == ("6.html",)
    monkeypatch.undo()  # the real stamp: the write changed the ctime
    assert dir_config(r.htaccess(c.main, str(www))).index_names == ("7.html",)
