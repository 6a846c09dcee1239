"""The plain mod_autoindex listing: escaping, order, query arguments, IndexIgnore."""
from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastcore.config.model import DirConfig
from fastcore.modules.mod_autoindex.config import NAME, AutoindexDir, autoindex_config
from fastcore.modules.mod_autoindex.handler import (
    FancyIndexingUnsupported,
    os_escape_path,
    parse_query,
    render,
    render_listing,
    strnatcmp,
)
from fastcore.modules.mod_mime import NAME as MIME
from fastcore.modules.mod_mime import MimeDir


def ai_dc(values: dict) -> DirConfig:
    """A DirConfig whose mod_autoindex record has these settings."""
    return DirConfig(modules={NAME: AutoindexDir(**values)})


@pytest.fixture
def d(tmp_path):
    for name in ("b.txt", "a b&<x>.txt", "col:on", ".hidden", "file10", "file9", "Zed"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    os.symlink("/nonexistent/target", tmp_path / "dangling")
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


def items(body: bytes) -> list[str]:
    text = body.decode("utf-8", "surrogateescape")
    return [line for line in text.splitlines() if "<li>" in line]


def test_plain_listing_exact(d) -> None:
    body = render(str(d), "/dir/", None, DirConfig())
    assert body.decode() == (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" '
        '"http://www.w3.org/TR/html4/strict.dtd">\n<html>\n <head>\n'
        "  <title>Index of /dir</title>\n </head>\n <body>\n<h1>Index of /dir</h1>\n"
        '<ul><li><a href="/"> Parent Directory</a></li>\n'
        '<li><a href=".hidden"> .hidden</a></li>\n'
        '<li><a href="Zed"> Zed</a></li>\n'
        '<li><a href="a%20b&amp;%3cx%3e.txt"> a b&amp;&lt;x&gt;.txt</a></li>\n'
        '<li><a href="b.txt"> b.txt</a></li>\n'
        '<li><a href="./col:on"> col:on</a></li>\n'
        '<li><a href="file10"> file10</a></li>\n'
        '<li><a href="file9"> file9</a></li>\n'
        '<li><a href="sub/"> sub/</a></li>\n'
        "</ul>\n</body></html>\n")


def test_root_has_no_parent_and_nested_parent(d) -> None:
    assert b"Parent Directory" not in render(str(d), "/", None, DirConfig())
    assert b'<a href="/a/b/"> Parent Directory' in render(str(d), "/a/b/c/", None, DirConfig())


def test_query_order_version_pattern(d) -> None:
    desc = items(render(str(d), "/d/", "C=N;O=D", DirConfig()))
    assert desc[0].endswith("Parent Directory</a></li>") and "sub/" in desc[1]
    nat = items(render(str(d), "/d/", "V=1&O=A", DirConfig()))
    assert nat.index('<li><a href="file9"> file9</a></li>') < \
        nat.index('<li><a href="file10"> file10</a></li>')
    pat = items(render(str(d), "/d/", "P=*.txt", DirConfig()))
    assert len(pat) == 3  # parent + two .txt files; FNM_PERIOD keeps .hidden out
    assert len(items(render(str(d), "/d/", "P=%2a.t%78t", DirConfig()))) == 3
    # an unknown argument stops the parsing: O=D after it is ignored
    assert items(render(str(d), "/d/", "X=1&O=D", DirConfig())) == \
        items(render(str(d), "/d/", None, DirConfig()))


def test_parse_query() -> None:
    assert parse_query("C=M&O=D", "N", "A", set())[:2] == ("M", "D")
    assert parse_query("C=Q&O=D", "N", "A", set())[:2] == ("N", "A")
    assert parse_query("P=%zz", "N", "A", set())[2] is None
    assert parse_query("P=a%2fb", "N", "A", set())[2] is None
    assert parse_query("F=0", "N", "A", set())[3] == 0


def test_unsupported_settings_are_refused_not_faked(d) -> None:
    # HeaderName matters only when the file is there (Apache inserts nothing otherwise)
    plain = render(str(d), "/d/", None, DirConfig()).decode()
    assert render(str(d), "/d/", None, ai_dc({
        "header_name": "HEADER.html"})).decode() == plain
    (d / "HEADER.html").write_text("<p>head</p>")
    with pytest.raises(FancyIndexingUnsupported):
        render(str(d), "/d/", None, ai_dc({"header_name": "HEADER.html"}))
    # TrackModified changes headers only (the handler's): the same listing, every format
    for fmt in (None, "F=1", "F=2"):
        assert render(str(d), "/d/", fmt, ai_dc({
            "index_options": (("TrackModified",),)})) == render(str(d), "/d/", fmt, DirConfig())
    # ShowForbidden matters only when an entry is vetoed
    sf = ai_dc({"index_options": (("ShowForbidden",),)})
    assert render(str(d), "/d/", None, sf) == render(str(d), "/d/", None, DirConfig())
    # a denied regular file is listed; a denied directory (maybe a broken .htaccess,
    # which Apache would hide) is refused
    assert render(str(d), "/d/", None, sf, allowed=lambda p: not p.endswith("b.txt")) == \
        render(str(d), "/d/", None, DirConfig())
    with pytest.raises(FancyIndexingUnsupported):
        render(str(d), "/d/", None, sf, allowed=lambda p: not p.endswith("/sub"))


def test_fancy_and_table(d) -> None:
    (d / "big.bin").write_bytes(b"\0" * 7000)
    os.utime(d / "b.txt", (1709647620, 1709647620))
    fancy = render(str(d), "/d/", "F=1", DirConfig()).decode()
    assert ('<pre>      <a href="?C=N;O=D;F=1">Name</a>' + " " * 20 +
            '<a href="?C=M;O=A;F=1">Last modified</a>') in fancy
    assert '<a href="big.bin">big.bin</a>' + " " * 17 in fancy and "  6.8K  \n" in fancy
    assert fancy.endswith("<hr></pre>\n</body></html>\n")
    # configured FancyIndexing, sorted by size descending, table format by query
    dc = ai_dc({"index_options": (("FancyIndexing",),)})
    table = render(str(d), "/d/", "C=S;O=D;F=2", dc).decode()
    rows = [ln for ln in table.splitlines() if ln.startswith("<tr>")]
    assert "Parent Directory" in rows[0] and "big.bin" in rows[1]
    assert '<a href="?C=S;O=A;F=2">Size</a>' in table


def test_strfsize() -> None:
    from fastcore.modules.mod_autoindex.handler import strfsize
    assert [strfsize(n) for n in (-1, 0, 5, 972, 973, 7000, 10 * 1024, 1048576 * 12)] == \
        ["  - ", "  0 ", "  5 ", "972 ", "1.0K", "6.8K", " 10K", " 12M"]


def test_index_ignore_and_options(d) -> None:
    dc = ai_dc({"index_ignore": ((".??*", "*~", "*.txt"),),
                              "index_options": (("IgnoreCase",),)})
    names = items(render(str(d), "/d/", None, dc))
    assert not any(".hidden" in n or ".txt" in n for n in names)
    dc2 = ai_dc({"index_ignore": ((".."),)})
    assert b"Parent Directory" not in render(str(d), "/d/", None, dc2)
    ci = items(render(str(d), "/d/", None, ai_dc({
        "index_options": (("IgnoreCase",),)})))
    assert ci.index('<li><a href="Zed"> Zed</a></li>') > ci.index('<li><a href="b.txt"> b.txt</a></li>')
    ign = items(render(str(d), "/d/", "O=D", ai_dc({
        "index_options": (("IgnoreClient",),)})))
    assert ign == items(render(str(d), "/d/", None, DirConfig()))


def test_allowed_veto(d) -> None:
    names = items(render(str(d), "/d/", None, DirConfig(),
                         allowed=lambda p: not p.endswith("b.txt")))
    assert not any("b.txt" in n for n in names if "a b" not in n)


def test_signature_and_non_utf8_names(tmp_path) -> None:
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9"
    with open(raw, "w") as f:
        f.write("x")
    body = render(str(tmp_path), "/t/", None, DirConfig(), signature="<address>s</address>\n")
    assert b'<a href="caf%e9"> caf\xe9</a>' in body
    assert body.endswith(b"</ul>\n<address>s</address>\n</body></html>\n")


def test_escape_helpers() -> None:
    assert os_escape_path("a:b/c") == "./a:b/c"
    assert os_escape_path("x/a:b") == "x/a:b"
    assert os_escape_path("é") == "%c3%a9"
    assert strnatcmp(b"file9", b"file10") < 0
    assert strnatcmp(b"x01", b"x1") != 0
    assert strnatcmp(b"\xc3a", b"a") < 0  # signed chars, as APR compares them


def test_unreadable_directory_raises(tmp_path) -> None:
    with pytest.raises(OSError):
        render(str(tmp_path / "nope"), "/nope/", None, DirConfig())


def _lookup(files: dict[str, tuple[str, str]]):
    return lambda name, header: files.get(name)


def test_header_and_readme_as_apache_includes_them(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "H.html").write_text("<p>head</p>\n")
    (tmp_path / "R.txt").write_bytes(b"x\0y & <z>\n")
    cfg = ai_dc({"header_name": "H.html", "readme_name": "R.txt"})
    files = {"H.html": (str(tmp_path / "H.html"), "text/html"),
             "R.txt": (str(tmp_path / "R.txt"), "text/plain")}
    body, streamed = render_listing(str(tmp_path), "/d/", None, cfg, lookup=_lookup(files),
                                    signature="<address>sig</address>\n")
    text = body.decode()
    # an HTML header replaces the <h1>, a text readme is escaped in <pre> (cut at NUL, as
    # Apache writes C strings) and replaces the signature
    assert "<h1>" not in text and " <body>\n<p>head</p>\n<ul>" in text
    assert text.endswith("</ul>\n<pre>\nx&amp; &lt;z&gt;\n</pre>\n</body></html>\n")
    assert streamed  # Apache sends no Content-Length after an HTML sub-request
    body, streamed = render_listing(str(tmp_path), "/d/", None, ai_dc(
        {"header_name": "R.txt"}), lookup=_lookup(files))
    assert not streamed and " <body>\n<pre>\nx&amp; &lt;z&gt;\n</pre>\n<ul>" in body.decode()


def test_suppress_preamble_and_missing_or_binary_inserts(tmp_path) -> None:
    (tmp_path / "H.html").write_text("<html><body>own\n")
    (tmp_path / "R.html").write_text("<p>tail</p></body></html>\n")
    (tmp_path / "B.bin").write_text("bin")
    files = {"H.html": (str(tmp_path / "H.html"), "text/html; charset=utf-8"),
             "R.html": (str(tmp_path / "R.html"), "text/html"),
             "B.bin": (str(tmp_path / "B.bin"), "application/octet-stream")}
    cfg = ai_dc({"header_name": "H.html", "readme_name": "R.html",
                 "index_options": (("SuppressHTMLPreamble",),)})
    text = render(str(tmp_path), "/d/", None, cfg, lookup=_lookup(files),
                  signature="SIG").decode()
    assert text.startswith("<html><body>own\n<ul>") and text.endswith("<p>tail</p></body></html>\n")
    plain = render(str(tmp_path), "/d/", None, DirConfig(), signature="SIG").decode()
    for name in ("B.bin", "nothere"):
        cfg = ai_dc({"header_name": name, "readme_name": name})
        assert render(str(tmp_path), "/d/", None, cfg, lookup=_lookup(files),
                      signature="SIG").decode() == plain


# --- icons, alt texts, descriptions (Debian's autoindex.conf style) -------------------

DEB = {
    "index_options": (("FancyIndexing", "VersionSort", "HTMLTable", "NameWidth=*",
                       "DescriptionWidth=*", "Charset=UTF-8"),),
    "icon_items": (("encoding", "(CMP,/icons/compressed.gif)", "x-gzip"),
                   ("type", "(TXT,/icons/text.gif)", "text/*"),
                   ("type", "(IMG,/icons/image2.gif)", "image/*"),
                   ("path", "/icons/layout.gif", ".html", ".pdf"),
                   ("path", "/icons/back.gif", ".."),
                   ("path", "/icons/hand.right.gif", "README"),
                   ("path", "/icons/folder.gif", "^^DIRECTORY^^"),
                   ("path", "/icons/blank.gif", "^^BLANKICON^^")),
    "alt_items": (("encoding", "CMP", "x-gzip"), ("type", "TXT", "text/*"),
                  ("type", "IMG", "image/*")),
    "default_icon": "/icons/unknown.gif",
}


def _row(text: str, name: str) -> str:
    return next(ln for ln in text.splitlines() if f'href="{name}"' in ln)


def test_icons_alts_and_default_icon(tmp_path) -> None:
    for n in ("a.txt", "p.png", "z.pdf", "README", "q.unknownext", "page.html"):
        (tmp_path / n).write_text("x")
    (tmp_path / "dir").mkdir()
    text = render(str(tmp_path), "/d/", None, ai_dc(dict(DEB))).decode()
    assert text.count('<th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th>') == 1
    assert _row(text, "a.txt").startswith(
        '<tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td>')
    assert '<img src="/icons/image2.gif" alt="[IMG]">' in _row(text, "p.png")
    # by type comes first in the list: text/html gets the text icon, not layout.gif
    assert '<img src="/icons/text.gif" alt="[TXT]">' in _row(text, "page.html")
    assert '<img src="/icons/layout.gif" alt="[   ]">' in _row(text, "z.pdf")
    assert '<img src="/icons/hand.right.gif" alt="[   ]">' in _row(text, "README")
    assert '<img src="/icons/unknown.gif" alt="[   ]">' in _row(text, "q.unknownext")
    assert '<img src="/icons/folder.gif" alt="[DIR]">' in _row(text, "dir/")
    assert '<img src="/icons/back.gif" alt="[PARENTDIR]">' in _row(text, "/")
    # NameWidth=* in a table: no padding after the name
    assert '<a href="a.txt">a.txt</a></td><td align="right">' in text


def test_encoding_selects_by_encoding_items(tmp_path) -> None:
    (tmp_path / "t.txt.gz").write_text("x")
    dc = ai_dc(DEB)
    dc.modules[MIME] = MimeDir(add_encoding={"gz": "x-gzip"})
    row = _row(render(str(tmp_path), "/d/", "F=1", dc).decode(), "t.txt.gz")
    assert row.startswith('<img src="/icons/compressed.gif" alt="[CMP]"> ')
    # without the encoding the type (text/plain) decides
    row = _row(render(str(tmp_path), "/d/", "F=1", ai_dc(dict(DEB))).decode(),
               "t.txt.gz")
    assert not row.startswith('<img src="/icons/compressed.gif"')


def test_descriptions_width_and_sorting(tmp_path) -> None:
    for n in ("a.c", "b.c", "long.txt"):
        (tmp_path / n).write_text("x")
    ai = {"index_options": (("FancyIndexing",),),
          "add_description": (("Zeta source", "a.c"), ("Alpha <b>bold</b> source", "b.c"),
                              ("A &amp; very long description that goes on", "*.txt"))}
    text = render(str(tmp_path), "/d/", None, ai_dc(ai)).decode()
    assert _row(text, "a.c").endswith("  Zeta source")
    assert _row(text, "b.c").endswith("  Alpha <b>bold</b> source")  # tags count as nothing
    # 23 visible characters, the entity as one, the last replaced by '>'
    assert _row(text, "long.txt").endswith("  A &amp; very long descript>")
    by_desc = render(str(tmp_path), "/d/", "C=D;O=A", ai_dc(ai)).decode()
    assert by_desc.index('href="long.txt"') < by_desc.index('href="b.c"') < \
        by_desc.index('href="a.c"')
    # DescriptionWidth=* in <pre> mode: nothing is cut
    ai["index_options"] = (("FancyIndexing", "DescriptionWidth=*"),)
    text = render(str(tmp_path), "/d/", None, ai_dc(ai)).decode()
    assert _row(text, "long.txt").endswith("A &amp; very long description that goes on")


def test_xhtml_icons_are_links_style_sheet_head_insert(tmp_path) -> None:
    (tmp_path / "t.html").write_text("<html><head><TITLE>\nMy Page &amp; co</title>")
    ai = {"index_options": (("HTMLTable", "XHTML", "IconsAreLinks", "ScanHTMLTitles",
                             "AddAltClass", "IconWidth=7", "IconHeight"),),
          "icon_items": DEB["icon_items"], "alt_items": DEB["alt_items"],
          "index_style_sheet": "/s.css", "index_head_insert": '<meta name="x">'}
    text = render(str(tmp_path), "/d/", None, ai_dc(ai)).decode()
    assert text.startswith('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
                           '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                           '<html xmlns="http://www.w3.org/1999/xhtml">\n')
    assert ('  <link rel="stylesheet" href="/s.css" type="text/css" />\n'
            '<meta name="x"> </head>\n <body>\n  <h1 id="indextitle">Index of /d</h1>\n'
            '  <table id="indexlist">\n   <tr class="indexhead"><th class="indexcolicon">'
            '<img src="/icons/blank.gif" alt="[ICO]" width="7" height="22" /></th>') in text
    assert ('   <tr class="odd-txt"><td class="indexcolicon"><a href="t.html">'
            '<img src="/icons/text.gif" alt="[TXT]" width="7" height="22" /></a></td>'
            '<td class="indexcolname"><a href="t.html">t.html</a>') in text
    assert _row(text, "t.html").endswith(
        '<td class="indexcoldesc">My Page &amp; co</td></tr>')
    assert '   <tr class="even-parentdir">' in text
    assert text.count('<tr class="indexbreakrow"><th colspan="5"><hr /></th></tr>') == 2


def test_index_options_merge_like_apache() -> None:
    server = AutoindexDir(index_options=(("FancyIndexing", "HTMLTable"),))
    plus = AutoindexDir(index_options=(("+XHTML",),), section=True)
    other = AutoindexDir(add_description=(("x", "y"),), section=True)
    # a lone section with only +X builds on the server's flags
    assert server.merge(plus).effective_options() == {"fancyindexing", "htmltable", "xhtml"}
    # Apache merges the sections first: a parent section with any autoindex
    # directive turns the +XHTML into a plain setting that replaces the server's
    merged = server.merge(other).merge(plus)
    assert merged.effective_options() == {"xhtml"}
    none = AutoindexDir(index_options=(("None",),), section=True)
    assert server.merge(none).effective_options() == set()


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=8).map(lambda b: bytes(b"0 19aA._\xc3"[x % 9] for x in b)),
       st.binary(max_size=8).map(lambda b: bytes(b"0 19aA._\xc3"[x % 9] for x in b)),
       st.binary(max_size=4).map(lambda b: bytes(b"0 19aA"[x % 6] for x in b)),
       st.booleans())
def test_strnatcmp_prefix_skip_equals_full_scan(a: bytes, b: bytes, prefix: bytes,
                                                fold: bool) -> None:
    from fastcore.modules.mod_autoindex.sort import strnatcmp_full
    x, y = prefix + a, prefix + b
    assert strnatcmp(x, y, fold) == strnatcmp_full(x, y, fold)


def test_config_layer_keeps_icon_order_and_sections(tmp_path) -> None:
    """Debian's autoindex.conf through fastcore's parser: one ordered icon list across
    AddIcon/AddIconByType/AddIconByEncoding, alts from "(ALT,/url)", and a section's
    +XHTML turned plain by a parent section with an autoindex directive."""
    from support.configs import cfg

    from fastcore.config.errors import ConfigError
    from fastcore.config.merge import DirResolver
    www = tmp_path / "www"
    (www / "a" / "b").mkdir(parents=True)
    (www / "a" / "b" / "page.html").write_text("<title>x</title>")
    c = cfg(tmp_path, "LoadModule autoindex_module m.so\n"
                      "Include /etc/apache2/mods-available/autoindex.conf\n"
                      f"<Directory {www}/a>\n AddDescription d x\n</Directory>\n"
                      f"<Directory {www}/a/b>\n IndexOptions +XHTML\n</Directory>\n"
                      f"<Directory {www}/b>\n IndexOptions +XHTML\n</Directory>\n")
    r = DirResolver(c)
    ai = autoindex_config(r.dir_config(c.main, f"{www}/a/b"))
    kinds = [it[0] for it in ai.icon_items]
    assert kinds[:5] == ["encoding", "type", "type", "type", "type"] and kinds[5] == "path"
    assert ai.alt_items[0] == ("encoding", "CMP", "x-compress", "x-gzip", "x-bzip2")
    text = render(f"{www}/a/b", "/a/b/", "F=1", r.dir_config(c.main, f"{www}/a/b")).decode()
    assert '<img src="/icons/text.gif" alt="[TXT]" /> <a href="page.html">' in text
    assert "<ul>" in render(f"{www}/a/b", "/a/b/", None, r.dir_config(c.main, f"{www}/a/b"))\
        .decode()  # FancyIndexing lost, as in Apache
    assert "<table>" in render(f"{www}/a/b", "/b/", None, r.dir_config(c.main, f"{www}/b"))\
        .decode()  # a lone +XHTML section keeps the inherited table
    with pytest.raises(ConfigError, match="missing closing paren"):
        cfg(tmp_path, "LoadModule autoindex_module m.so\nAddIcon (X /i.gif .txt\n")
