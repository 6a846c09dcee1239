"""The plain mod_autoindex listing: escaping, order, query arguments, IndexIgnore."""
from __future__ import annotations

import os

import pytest

from fastcore.config.model import DirConfig
from fastcore.http.autoindex import (
    FancyIndexingUnsupported,
    os_escape_path,
    parse_query,
    render,
    render_listing,
    strnatcmp,
)


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
    assert render(str(d), "/d/", None, DirConfig(autoindex={
        "header_name": "HEADER.html"})).decode() == plain
    (d / "HEADER.html").write_text("<p>head</p>")
    with pytest.raises(FancyIndexingUnsupported):
        render(str(d), "/d/", None, DirConfig(autoindex={"header_name": "HEADER.html"}))
    # icons are drawn only in fancy listings
    assert "<ul>" in render(str(d), "/d/", None, DirConfig(autoindex={
        "add_icon": (("/icons/x.gif", ".txt"),)})).decode()
    with pytest.raises(FancyIndexingUnsupported):
        render(str(d), "/d/", "F=1", DirConfig(autoindex={
            "add_icon": (("/icons/x.gif", ".txt"),)}))
    with pytest.raises(FancyIndexingUnsupported):
        render(str(d), "/d/", "F=1", DirConfig(autoindex={
            "index_options": (("ScanHTMLTitles",),)}))


def test_fancy_and_table(d) -> None:
    (d / "big.bin").write_bytes(b"\0" * 7000)
    os.utime(d / "b.txt", (1709647620, 1709647620))
    fancy = render(str(d), "/d/", "F=1", DirConfig()).decode()
    assert ('<pre>      <a href="?C=N;O=D;F=1">Name</a>' + " " * 20 +
            '<a href="?C=M;O=A;F=1">Last modified</a>') in fancy
    assert '<a href="big.bin">big.bin</a>' + " " * 17 in fancy and "  6.8K  \n" in fancy
    assert fancy.endswith("<hr></pre>\n</body></html>\n")
    # configured FancyIndexing, sorted by size descending, table format by query
    dc = DirConfig(autoindex={"index_options": (("FancyIndexing",),)})
    table = render(str(d), "/d/", "C=S;O=D;F=2", dc).decode()
    rows = [ln for ln in table.splitlines() if ln.startswith("<tr>")]
    assert "Parent Directory" in rows[0] and "big.bin" in rows[1]
    assert '<a href="?C=S;O=A;F=2">Size</a>' in table


def test_strfsize() -> None:
    from fastcore.http.autoindex import strfsize
    assert [strfsize(n) for n in (-1, 0, 5, 972, 973, 7000, 10 * 1024, 1048576 * 12)] == \
        ["  - ", "  0 ", "  5 ", "972 ", "1.0K", "6.8K", " 10K", " 12M"]


def test_index_ignore_and_options(d) -> None:
    dc = DirConfig(autoindex={"index_ignore": ((".??*", "*~", "*.txt"),),
                              "index_options": (("IgnoreCase",),)})
    names = items(render(str(d), "/d/", None, dc))
    assert not any(".hidden" in n or ".txt" in n for n in names)
    dc2 = DirConfig(autoindex={"index_ignore": ((".."),)})
    assert b"Parent Directory" not in render(str(d), "/d/", None, dc2)
    ci = items(render(str(d), "/d/", None, DirConfig(autoindex={
        "index_options": (("IgnoreCase",),)})))
    assert ci.index('<li><a href="Zed"> Zed</a></li>') > ci.index('<li><a href="b.txt"> b.txt</a></li>')
    ign = items(render(str(d), "/d/", "O=D", DirConfig(autoindex={
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
    cfg = DirConfig(autoindex={"header_name": ("H.html",), "readme_name": ("R.txt",)})
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
    body, streamed = render_listing(str(tmp_path), "/d/", None, DirConfig(
        autoindex={"header_name": ("R.txt",)}), lookup=_lookup(files))
    assert not streamed and " <body>\n<pre>\nx&amp; &lt;z&gt;\n</pre>\n<ul>" in body.decode()


def test_suppress_preamble_and_missing_or_binary_inserts(tmp_path) -> None:
    (tmp_path / "H.html").write_text("<html><body>own\n")
    (tmp_path / "R.html").write_text("<p>tail</p></body></html>\n")
    (tmp_path / "B.bin").write_text("bin")
    files = {"H.html": (str(tmp_path / "H.html"), "text/html; charset=utf-8"),
             "R.html": (str(tmp_path / "R.html"), "text/html"),
             "B.bin": (str(tmp_path / "B.bin"), "application/octet-stream")}
    cfg = DirConfig(autoindex={"header_name": "H.html", "readme_name": "R.html",
                               "index_options": (("SuppressHTMLPreamble",),)})
    text = render(str(tmp_path), "/d/", None, cfg, lookup=_lookup(files),
                  signature="SIG").decode()
    assert text.startswith("<html><body>own\n<ul>") and text.endswith("<p>tail</p></body></html>\n")
    plain = render(str(tmp_path), "/d/", None, DirConfig(), signature="SIG").decode()
    for name in ("B.bin", "nothere"):
        cfg = DirConfig(autoindex={"header_name": name, "readme_name": name})
        assert render(str(tmp_path), "/d/", None, cfg, lookup=_lookup(files),
                      signature="SIG").decode() == plain
