"""The directory walk with the real resolver: Apache's order of <Directory> sections and
.htaccess files, Options +/- carried down, .htaccess <Files>, AllowOverride left unset,
and the vhost's inherited Alias/Redirect lines (each checked against Apache 2.4.71)."""
from __future__ import annotations

import pytest
from support.configs import cfg

from fastcore.config.errors import HtaccessError
from fastcore.config.merge import DirResolver
from fastcore.config.model import OPT_INDEXES, OPT_MULTI, OPT_SYM_LINKS, reads_htaccess
from fastcore.core.mapping import Mapper
from fastcore.core.request import HttpError
from fastcore.modules import REGISTRY
from fastcore.modules.mod_alias import alias_server
from fastcore.modules.mod_authz_core import authz_config
from fastcore.modules.mod_mime import MimeMap, mime_config, normalize_type


def _walk(c, path: str):
    return Mapper(DirResolver(c)).walk(c.main, path)


def test_deeper_directory_wins_over_parent_htaccess(tmp_path) -> None:
    www = tmp_path / "www"
    (www / "inner").mkdir(parents=True)
    (www / ".htaccess").write_text("AddType text/x-from-htaccess .txt\n")
    (www / "f.txt").write_text("f")
    (www / "inner" / "f.txt").write_text("f")
    c = cfg(tmp_path, f"<Directory {www}>\n AllowOverride FileInfo\n</Directory>\n"
                      f"<Directory {www}/inner>\n AddType text/x-from-directory .txt\n"
                      "</Directory>\n")
    assert mime_config(_walk(c, f"{www}/f.txt").dirconf).add_type["txt"] == "text/x-from-htaccess"
    # Apache: the inner <Directory> is applied after the parent's .htaccess
    assert mime_config(_walk(c, f"{www}/inner/f.txt").dirconf).add_type["txt"] == "text/x-from-directory"


def test_options_plus_minus_carry_down_nested_htaccess(tmp_path) -> None:
    www = tmp_path / "www"
    (www / "in" / "deep").mkdir(parents=True)
    (www / ".htaccess").write_text("Options -Indexes +MultiViews\n")
    (www / "in" / ".htaccess").write_text("Options +FollowSymLinks\n")
    c = cfg(tmp_path, f"<Directory {www}>\n Options Indexes\n AllowOverride All\n"
                      "</Directory>\n")
    for d in (f"{www}/in", f"{www}/in/deep"):
        opts = _walk(c, d).dirconf.options
        assert not opts & OPT_INDEXES and opts & OPT_MULTI and opts & OPT_SYM_LINKS


def test_files_section_inside_htaccess(tmp_path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / ".htaccess").write_text("<Files secret.txt>\n Require all denied\n</Files>\n")
    (www / "secret.txt").write_text("s")
    (www / "open.txt").write_text("o")
    c = cfg(tmp_path, f"<Directory {www}>\n AllowOverride All\n</Directory>\n")
    denied = authz_config(_walk(c, f"{www}/secret.txt").dirconf).authz
    assert denied is not None and "denied" in repr(denied)
    assert authz_config(_walk(c, f"{www}/open.txt").dirconf).authz is None


def test_unset_allowoverride_still_reads_htaccess(tmp_path) -> None:
    """No AllowOverride anywhere: Apache 2.4.71 opens .htaccess and answers 500 for any
    directive in it ("not allowed here"); a comment-only file is fine; an explicit
    AllowOverride None opens nothing."""
    www = tmp_path / "www"
    (www / "bad").mkdir(parents=True)
    (www / "ok").mkdir()
    (www / "bad" / ".htaccess").write_text("Require all denied\n")
    (www / "bad" / "f.txt").write_text("x")
    (www / "ok" / ".htaccess").write_text("# nothing\n")
    (www / "ok" / "f.txt").write_text("x")
    c = cfg(tmp_path, f"DocumentRoot {www}\n")
    assert reads_htaccess(c.main.dir_defaults)
    with pytest.raises(HtaccessError, match="Require not allowed here"):
        _walk(c, f"{www}/bad/f.txt")
    assert _walk(c, f"{www}/ok/f.txt").st is not None
    c2 = cfg(tmp_path, f"DocumentRoot {www}\n<Directory />\n AllowOverride None\n</Directory>\n")
    assert _walk(c2, f"{www}/bad/f.txt").st is not None


def test_missing_entry_splits_path_info(tmp_path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    c = cfg(tmp_path, f"DocumentRoot {www}\n<Directory />\n AllowOverride None\n</Directory>\n")
    w = _walk(c, f"{www}/doc/extra/more")
    assert (w.filename, w.st, w.path_info) == (f"{www}/doc", None, "/extra/more")
    w = _walk(c, f"{www}/doc")
    assert (w.filename, w.path_info) == (f"{www}/doc", "")


def test_symlink_refused_without_followsymlinks(tmp_path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "a.txt").write_text("a")
    (www / "l.txt").symlink_to("a.txt")
    c = cfg(tmp_path, f"<Directory {www}>\n Options Indexes\n AllowOverride None\n"
                      "</Directory>\n")
    m = Mapper(DirResolver(c))
    with pytest.raises(HttpError):
        m.walk(c.main, f"{www}/l.txt")
    assert m.entry_allowed(c.main, f"{www}/l.txt") is None
    assert m.entry_allowed(c.main, f"{www}/a.txt") is not None


def test_vhost_inherits_main_alias_and_redirect_after_its_own(tmp_path) -> None:
    c = cfg(tmp_path, f"Alias /al {tmp_path}\nRedirect /old /new\n"
                      "<VirtualHost *:18080>\n ServerName v.example\n"
                      f" Alias /mine {tmp_path}\n Redirect /old /vhost-new\n</VirtualHost>\n")
    vh = c.vhosts[0]
    assert [a.url_prefix for a in alias_server(vh).aliases] == ["/mine", "/al"]
    assert [(r.url_prefix, r.target) for r in alias_server(vh).redirects][:2] == [("/old", "/vhost-new"),
                                                                    ("/old", "/new")]
    path, red = Mapper(DirResolver(c), REGISTRY.translators(c)).translate(vh, "/old/x", "")
    assert red is not None and red[1] == "/vhost-new/x"


def test_addtype_parameters_and_addcharset_case(tmp_path) -> None:
    assert normalize_type("text/html;level=3") == "text/html; level=3"
    assert normalize_type("text/html ;  Level=3;") == "text/html; level=3"
    assert normalize_type("text/plain") == "text/plain"
    c = cfg(tmp_path, '<Directory />\n AddType "text/html;level=3" .h3\n'
                      " AddCharset UTF-8 .u8\n AddType text/plain .u8\n</Directory>\n")
    dc = DirResolver(c).dir_config(c.main, "/x")
    assert mime_config(dc).add_charset["u8"] == "utf-8"
    mm = MimeMap()
    assert mm.content_type_header("/x/a.h3", dc) == "text/html; level=3"
    assert mm.content_type_header("/x/b.u8", dc) == "text/plain; charset=utf-8"


def test_unrendered_autoindex_settings_are_reported_at_startup(tmp_path) -> None:
    c = cfg(tmp_path, "LoadModule autoindex_module m.so\nHeaderName HEADER.html\n"
                      "AddIcon /icons/a.gif .txt\n"
                      "IndexOptions FancyIndexing ScanHTMLTitles TrackModified\n"
                      "IndexOptions +ShowForbidden\n")
    text = "\n".join(c.warnings)
    assert "httpd.conf:" in text and "IndexOptions +ShowForbidden" in text
    # rendered (or sent as headers) as Apache does: not reported
    for name in ("HeaderName", "AddIcon", "ScanHTMLTitles", "TrackModified"):
        assert name not in text


def test_autoindex_settings_merge_like_mod_autoindex(tmp_path) -> None:
    from fastcore.modules.mod_autoindex.handler import content_type, render
    www = tmp_path / "www"
    for sub in ("a", "b", "c", "d"):
        (www / sub / "zdir").mkdir(parents=True)
        for name in ("x.txt", "x.bak", "x.tmp"):
            (www / sub / name).write_text("x")
    c = cfg(tmp_path, "LoadModule autoindex_module m.so\n"
                      f"<Directory {www}>\n IndexOptions FancyIndexing Charset=UTF-8\n"
                      " IndexIgnore *.bak\n</Directory>\n"
                      f"<Directory {www}/a>\n IndexOptions +FoldersFirst\n IndexIgnore *.tmp\n"
                      "</Directory>\n"
                      f"<Directory {www}/b>\n IndexOptions HTMLTable\n</Directory>\n"
                      f"<Directory {www}/c>\n IndexOptions None Type=text/plain\n</Directory>\n"
                      f"<Directory {www}/d>\n IndexIgnoreReset On\n IndexIgnore *.tmp\n"
                      "</Directory>\n")
    r = DirResolver(c)
    dcs = {s: r.dir_config(c.main, f"{www}/{s}") for s in "abcd"}
    # +FoldersFirst builds on the inherited FancyIndexing; the ignore lists accumulate
    a = render(f"{www}/a", "/a/", None, dcs["a"]).decode()
    assert "<pre>" in a and a.index("zdir/") < a.index("x.txt")
    assert "x.bak" not in a and "x.tmp" not in a
    # a plain keyword replaces the inherited options (HTMLTable alone makes a table)
    assert "<table>" in render(f"{www}/b", "/b/", None, dcs["b"]).decode()
    # ... but Charset=/Type= are inherited separately
    assert content_type(dcs["b"]) == "text/html;charset=UTF-8"
    assert content_type(dcs["c"]) == "text/plain;charset=UTF-8"
    assert "<ul>" in render(f"{www}/c", "/c/", None, dcs["c"]).decode()
    d = render(f"{www}/d", "/d/", None, dcs["d"]).decode()
    assert "x.bak" in d and "x.tmp" not in d  # IndexIgnoreReset drops inherited ignores
