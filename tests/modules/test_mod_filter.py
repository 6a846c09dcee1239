"""mod_filter's AddOutputFilterByType: parsed and merged as mod_filter.c does, matched on
the media type as filter_lookup does, and seen by a client through DEFLATE (its
comparison with Apache is in test_mod_deflate_vs_apache.py)."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from support.configs import HEADER, cfg
from support.inprocess import FastcoreThread
from support.wire import parse_responses, raw_request

from fastcore.config import ConfigError
from fastcore.config.merge import DirResolver
from fastcore.core.cacheable import NOTHING
from fastcore.modules.mod_filter import FilterDir, cache_contribution, filters_for, media_type

LOAD = "LoadModule filter_module modules/mod_filter.so\n"


def test_media_type_is_the_part_before_parameters() -> None:
    assert media_type("Text/HTML; charset=utf-8") == "Text/HTML"
    assert media_type("text/plain charset") == "text/plain"
    assert media_type("text/css\t;x") == "text/css"
    assert media_type(None) is None


def test_types_filters_and_case(tmp_path: Path) -> None:
    """Filter names without case; types compared with case (filter_lookup's strncmp:
    `AddOutputFilterByType DEFLATE Text/HTML` never matches mod_mime's text/html)."""
    c = cfg(tmp_path, LOAD + "AddOutputFilterByType deflate;Inflate text/html\n"
            "AddOutputFilterByType DEFLATE text/css Text/Plain\n"
            "AddOutputFilterByType ;SUBST; x/y\n")
    dc = c.main.dir_defaults
    assert filters_for(dc, "text/html; charset=utf-8") == ("DEFLATE", "INFLATE")
    assert filters_for(dc, "text/css") == ("DEFLATE",)
    assert filters_for(dc, "TEXT/CSS") == ()
    assert filters_for(dc, "text/plain") == ()
    assert filters_for(dc, "Text/Plain") == ("DEFLATE",)
    assert filters_for(dc, "x/y") == ("SUBST",)
    assert filters_for(dc, "text/htmlx") == ()
    assert filters_for(dc, None) == ()
    assert filters_for(None, "text/html") == ()


def test_a_deeper_scope_replaces_the_filters_providers(tmp_path: Path) -> None:
    """filter_merge overlays the live filters: a <Directory> that names DEFLATE again
    has only its own types for it; other filters are inherited."""
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    c = cfg(tmp_path, LOAD + "AddOutputFilterByType DEFLATE text/html text/plain\n"
            "AddOutputFilterByType INFLATE text/plain\n"
            f"<Directory {www}/sub>\n AddOutputFilterByType DEFLATE text/css\n</Directory>\n")
    r = DirResolver(c)
    sub = r.dir_config(c.main, f"{www}/sub")
    assert filters_for(sub, "text/css") == ("DEFLATE",)
    assert filters_for(sub, "text/plain") == ("INFLATE",)
    assert filters_for(r.dir_config(c.main, str(www)), "text/plain") == ("DEFLATE", "INFLATE")


def test_chain_order_is_the_order_filters_were_named(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "AddOutputFilterByType B text/css\n"
            "AddOutputFilterByType A;B text/css text/html\n")
    assert filters_for(c.main.dir_defaults, "text/css") == ("B", "A")
    assert filters_for(c.main.dir_defaults, "text/html") == ("B", "A")  # B first named


def test_merge_record() -> None:
    base = FilterDir({"DEFLATE": frozenset({"text/html"}), "X": frozenset({"a/b"})})
    merged = base.merge(FilterDir({"DEFLATE": frozenset({"text/css"})}))
    assert merged.by_type == {"DEFLATE": frozenset({"text/css"}), "X": frozenset({"a/b"})}
    assert base.by_type["DEFLATE"] == {"text/html"}  # neither side changes


def test_contribution_is_nothing(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "AddOutputFilterByType DEFLATE text/html\n")
    assert cache_contribution(None, c.main.dir_defaults, None) is NOTHING  # type: ignore[arg-type]


def test_htaccess_needs_fileinfo(tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / ".htaccess").write_text("AddOutputFilterByType DEFLATE text/plain\n")
    (www / "a.txt").write_bytes(b"compress me please " * 100)
    for override, compressed in (("FileInfo", True), ("None", False)):
        path = tmp_path / "httpd.conf"
        path.write_text(HEADER.format(root=tmp_path) + LOAD
                        + "LoadModule deflate_module modules/mod_deflate.so\n"
                        f"DocumentRoot {www}\n<Directory {www}>\n Require all granted\n"
                        f" AllowOverride {override}\n</Directory>\n")
        srv = FastcoreThread(str(path))
        try:
            got = parse_responses(raw_request(srv.port, b"GET /a.txt HTTP/1.0\r\n"
                                              b"Accept-Encoding: gzip\r\n\r\n"))
        finally:
            srv.stop()
        status, h, body = got[0]
        assert status == 200
        assert (h.get("content-encoding") == "gzip") is compressed
        if compressed:
            assert gzip.decompress(body) == b"compress me please " * 100


def test_unloaded_is_an_invalid_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Invalid command 'AddOutputFilterByType'"):
        cfg(tmp_path, "AddOutputFilterByType DEFLATE text/html\n")
    with pytest.raises(ConfigError, match="AddOutputFilterByType requires at least two "
                                          "arguments"):
        cfg(tmp_path, LOAD + "AddOutputFilterByType DEFLATE\n")
