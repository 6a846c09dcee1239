"""mod_filter: AddOutputFilterByType and the smart filters (FilterDeclare,
FilterProvider with ap_expr, FilterChain) parsed and merged as mod_filter.c does, the
providers matched as filter_lookup does, and seen by a client through DEFLATE and
BROTLI_COMPRESS.  The comparisons with Apache are in test_mod_deflate_vs_apache.py."""
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
from fastcore.modules.mod_filter import (
    FilterDir,
    cache_contribution,
    filter_config,
    filters_for,
    may_select,
    media_type,
)

LOAD = ("LoadModule filter_module modules/mod_filter.so\n"
        "LoadModule deflate_module modules/mod_deflate.so\n"
        "LoadModule brotli_module modules/mod_brotli.so\n")


def test_media_type_is_the_part_before_parameters() -> None:
    assert media_type("Text/HTML; charset=utf-8") == "Text/HTML"
    assert media_type("text/plain charset") == "text/plain"
    assert media_type("text/css\t;x") == "text/css"
    assert media_type(None) is None


def test_types_filters_and_case(tmp_path: Path) -> None:
    """Provider names without case; types compared with case (filter_lookup's strncmp:
    `AddOutputFilterByType DEFLATE Text/HTML` never matches mod_mime's text/html)."""
    c = cfg(tmp_path, LOAD + "AddOutputFilterByType deflate;Brotli_Compress text/html\n"
            "AddOutputFilterByType DEFLATE text/css Text/Plain\n")
    dc = c.main.dir_defaults
    assert filters_for(dc, "text/html; charset=utf-8") == ("DEFLATE", "BROTLI_COMPRESS")
    assert filters_for(dc, "text/css") == ("DEFLATE",)
    assert filters_for(dc, "TEXT/CSS") == ()
    assert filters_for(dc, "text/plain") == ()
    assert filters_for(dc, "Text/Plain") == ("DEFLATE",)
    assert filters_for(dc, "text/htmlx") == () and filters_for(dc, None) == ()
    assert filters_for(None, "text/html") == ()
    # harnesses are named BYTYPE:<name as written>: a hash with case
    assert list(filter_config(dc).live) == ["BYTYPE:deflate", "BYTYPE:Brotli_Compress",
                                            "BYTYPE:DEFLATE"]


def test_a_deeper_scope_replaces_the_filters_providers(tmp_path: Path) -> None:
    """filter_merge overlays the live filters: a <Directory> that names DEFLATE again
    has only its own types for it; the chain holds the harness (twice: both scopes
    chained it), other harnesses are inherited."""
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    c = cfg(tmp_path, LOAD + "AddOutputFilterByType DEFLATE text/html text/plain\n"
            "AddOutputFilterByType BROTLI_COMPRESS text/plain\n"
            f"<Directory {www}/sub>\n AddOutputFilterByType DEFLATE text/css\n</Directory>\n")
    r = DirResolver(c)
    sub = r.dir_config(c.main, f"{www}/sub")
    assert filters_for(sub, "text/css") == ("DEFLATE", "DEFLATE")
    assert filters_for(sub, "text/plain") == ("BROTLI_COMPRESS",)
    top = r.dir_config(c.main, str(www))
    assert filters_for(top, "text/plain") == ("DEFLATE", "BROTLI_COMPRESS")


def test_chain_operations(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "FilterDeclare A\nFilterDeclare B\nFilterDeclare C\n"
            "FilterChain A +B\nFilterChain @C\nFilterChain -b\n")
    assert filter_config(c.main.dir_defaults).chain == ("C", "A")
    c = cfg(tmp_path, LOAD + "FilterChain A B\nFilterChain =C\n")
    assert filter_config(c.main.dir_defaults).chain == (None, "C")
    c = cfg(tmp_path, LOAD + "FilterChain A\nFilterChain !\nFilterChain -A\n")
    assert filter_config(c.main.dir_defaults).chain == (None,)  # (Apache crashes here)


def test_chain_merge_resets() -> None:
    base = FilterDir({}, ("A", "B"))
    assert base.merge(FilterDir({}, ("C",))).chain == ("A", "B", "C")
    assert base.merge(FilterDir({}, (None, "C"))).chain == (None, "C")
    assert base.merge(FilterDir({}, ())).chain == ("A", "B")
    assert FilterDir({}, ()).merge(base).chain == ("A", "B")


def test_providers_newest_first_and_may_select(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "FilterProvider Z DEFLATE \"%{CONTENT_TYPE} == 'text/css'\"\n"
            "FilterProvider Z BROTLI_COMPRESS \"true\"\nFilterChain Z\n")
    harness = filter_config(c.main.dir_defaults).live["Z"]
    assert [p.filter for p in harness.providers] == ["BROTLI_COMPRESS", "DEFLATE"]
    assert may_select(c.main.dir_defaults, "image/png", "DEFLATE")  # an expression: maybe
    c = cfg(tmp_path, LOAD + "AddOutputFilterByType DEFLATE text/css\n")
    assert may_select(c.main.dir_defaults, "text/css", "DEFLATE")
    assert not may_select(c.main.dir_defaults, "text/html", "DEFLATE")
    assert not may_select(c.main.dir_defaults, "text/css", "BROTLI_COMPRESS")


def test_contribution_is_nothing(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "AddOutputFilterByType DEFLATE text/html\n")
    assert cache_contribution(None, c.main.dir_defaults, None) is NOTHING  # type: ignore[arg-type]


def _serve(tmp: Path, lines: str, override: str = "None") -> FastcoreThread:
    www = tmp / "www"
    www.mkdir(exist_ok=True)
    (www / "a.txt").write_bytes(b"compress me please " * 100)
    (www / "a.css").write_bytes(b"body { margin: 0 }\n" * 100)
    path = tmp / "httpd.conf"
    path.write_text(HEADER.format(root=tmp) + LOAD + f"DocumentRoot {www}\n<Directory {www}>\n"
                    f" Require all granted\n AllowOverride {override}\n</Directory>\n" + lines)
    return FastcoreThread(str(path))


def _get(port: int, path: str, extra: str = "Accept-Encoding: gzip, br\r\n"):
    got = parse_responses(raw_request(port, f"GET {path} HTTP/1.0\r\n{extra}\r\n".encode()))
    return got[0]


def test_htaccess_needs_fileinfo(tmp_path: Path) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / ".htaccess").write_text("AddOutputFilterByType DEFLATE text/plain\n")
    for override, compressed in (("FileInfo", True), ("None", False)):
        srv = _serve(tmp_path, "", override)
        try:
            status, h, body = _get(srv.port, "/a.txt")
        finally:
            srv.stop()
        assert status == 200
        assert (h.get("content-encoding") == "gzip") is compressed
        if compressed:
            assert gzip.decompress(body) == b"compress me please " * 100


def test_smart_filter_with_expressions(tmp_path: Path) -> None:
    srv = _serve(tmp_path, "FilterDeclare PACK\n"
                 "FilterProvider PACK DEFLATE \"%{CONTENT_TYPE} =~ m#^text/#\"\n"
                 "FilterProvider PACK BROTLI_COMPRESS \"%{REQUEST_URI} =~ /css$/\"\n"
                 "FilterChain PACK\n")
    try:
        _, h_txt, _ = _get(srv.port, "/a.txt")
        _, h_css, _ = _get(srv.port, "/a.css")
    finally:
        srv.stop()
    assert h_txt["content-encoding"] == "gzip"
    assert h_css["content-encoding"] == "br"  # the newest provider is asked first


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Invalid command 'AddOutputFilterByType'"):
        cfg(tmp_path, "AddOutputFilterByType DEFLATE text/html\n")
    with pytest.raises(ConfigError, match="AddOutputFilterByType requires at least two "
                                          "arguments"):
        cfg(tmp_path, LOAD + "AddOutputFilterByType DEFLATE\n")
    with pytest.raises(ConfigError, match="Unknown filter provider SUBST"):
        cfg(tmp_path, LOAD + "AddOutputFilterByType SUBST text/html\n")
    with pytest.raises(ConfigError, match="fastcore does not implement the INFLATE output"):
        cfg(tmp_path, LOAD + "AddOutputFilterByType INFLATE text/html\n")
    with pytest.raises(ConfigError, match="Error parsing FilterProvider expression:"):
        cfg(tmp_path, LOAD + "FilterProvider X DEFLATE \"-z\"\n")
    with pytest.raises(ConfigError, match="Invalid command 'FilterProtocol'"):
        cfg(tmp_path, LOAD + "FilterProtocol X change=yes\n")
