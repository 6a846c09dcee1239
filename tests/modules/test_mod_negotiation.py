"""mod_negotiation's parsing and selection rules, with a small fake MIME map."""
from __future__ import annotations

import pytest

from fastcore.config.model import DirConfig
from fastcore.modules.mod_mime import NAME as MIME
from fastcore.modules.mod_mime import MimeDir, mime_config
from fastcore.modules.mod_negotiation import handler as neg
from fastcore.modules.mod_negotiation.config import NAME as NEG
from fastcore.modules.mod_negotiation.config import NegotiationDir
from fastcore.modules.mod_negotiation.handler import (
    MultipleChoices,
    NegotiationError,
    NotAcceptable,
    atoq,
    fix_encoding,
    get_entry,
    multiviews,
    parse_header,
)


class FakeMime:
    """TypesConfig {html, txt, gz->application/gzip} + the dirconf maps, like mod_mime."""

    types = {"html": "text/html", "txt": "text/plain", "gz": "application/gzip",
             "png": "image/png"}

    def lookup(self, filename, dirconf):
        dc = mime_config(dirconf or DirConfig())
        ctype = charset = language = encoding = None
        for ext in filename.split(".")[1:]:
            e = ext.lower()
            t = dc.add_type.get(e) or self.types.get(e)
            if t:
                ctype = t
            if e in dc.add_language and language is None:
                language = dc.add_language[e]
            if e in dc.add_charset:
                charset = dc.add_charset[e]
            if e in dc.add_encoding:
                encoding = dc.add_encoding[e]
        if language is None and dc.default_language:
            language = dc.default_language
        return ctype, charset, language, encoding


class H(dict):
    def get(self, k):  # type: ignore[override]
        return dict.get(self, k)


LANGS = {"en": "en", "fr": "fr", "de": "de"}
DC = DirConfig(modules={MIME: MimeDir(add_language=LANGS, add_charset={"utf8": "utf-8"},
                                      add_encoding={"gz": "x-gzip"})})


def make(tmp_path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return str(tmp_path)


@pytest.mark.parametrize("s,q", [("1", 1.0), ("0", 0.0), ("0.5", 0.5), (".5", 0.5),
                                 ("0.123", 0.123), ("0.1239", 0.123), ("2", 1.0), ("", 1.0),
                                 (" 0.7", 0.7), ("0x", 0.0), ("-1", 1.0)])
def test_atoq(s: str, q: float) -> None:
    assert atoq(s) == pytest.approx(q, abs=1e-6)


def test_get_entry_params_and_html_level() -> None:
    rec, _ = get_entry("Text/HTML")
    assert (rec.name, rec.level, rec.quality) == ("text/html", 2.0, 1.0)
    rec, _ = get_entry('text/html; level=3; q = 0.5 ; charset="UTF-8"')
    assert (rec.level, rec.quality, rec.charset) == (3.0, 0.5, "utf-8")
    rec, _ = get_entry("text/plain;qs=0.3")
    assert rec.quality == pytest.approx(0.3)


def test_parse_header_lists() -> None:
    assert parse_header(None) is None
    assert parse_header("") == []
    names = [r.name for r in parse_header("a/b, c/d;q=0.2,e/f text/x")]
    assert names == ["a/b", "c/d", "e/f", "text/x"]  # old space-separated form too


def test_language_choice_vary_and_headers(tmp_path) -> None:
    d = make(tmp_path, {"p.html.en": "english", "p.html.fr": "francais!", "p.txt": "t"})
    r = multiviews(d, "p", H({"accept-language": "fr"}), DC, FakeMime())
    assert r.uri == "p.html.fr" and r.language == "fr"
    assert r.vary == ["negotiate", "accept", "accept-language"]
    assert r.headers == [("Content-Location", "p.html.fr"),
                         ("Vary", "negotiate,accept,accept-language"), ("TCN", "choice")]


def test_wildcard_fiddle_prefers_explicit_type(tmp_path) -> None:
    d = make(tmp_path, {"d.html": "<p>html</p>", "d.txt": "text"})
    # No q= anywhere: */* is worth 0.01, text/* 0.02, an explicit type its own q.
    r = multiviews(d, "d", H({"accept": "text/*, text/plain"}), DC, FakeMime())
    assert r.uri == "d.txt"
    # With a q= present, the fiddle is off: text/* at 1 ties and the smaller file wins.
    r = multiviews(d, "d", H({"accept": "text/*, image/png;q=0.5"}), DC, FakeMime())
    assert r.uri == "d.txt"


def test_406_lists_variants(tmp_path) -> None:
    d = make(tmp_path, {"x.html.en": "a", "x.html.de": "b"})
    with pytest.raises(NotAcceptable) as ei:
        multiviews(d, "x", H({"accept-language": "it"}), DC, FakeMime())
    exc = ei.value
    assert exc.status == 406
    assert '<li><a href="x.html.de">x.html.de</a> , type text/html, language de</li>' in \
        exc.variants_html
    assert dict(exc.headers)["TCN"] == "list"
    assert dict(exc.headers)["Alternates"].startswith('{"x.html.de" 1 {type text/html}')


def test_negotiate_trans_gives_300(tmp_path) -> None:
    d = make(tmp_path, {"x.html.en": "a", "x.html.de": "b"})
    with pytest.raises(MultipleChoices) as ei:
        multiviews(d, "x", H({"negotiate": "trans"}), DC, FakeMime())
    assert ei.value.status == 300


def test_no_match_none_and_unnegotiable_404(tmp_path) -> None:
    d = make(tmp_path, {"r.bak": "x", "r.html.orig": "y"})
    assert multiviews(d, "zzz", H({}), DC, FakeMime()) is None
    with pytest.raises(NegotiationError) as ei:
        multiviews(d, "r", H({}), DC, FakeMime())
    assert ei.value.status == 404


def test_exception_segments_must_follow_request(tmp_path) -> None:
    # index.bak.html is not a variant of "index" (bak unknown) but is of "index.bak"
    d = make(tmp_path, {"index.bak.html": "x"})
    with pytest.raises(NegotiationError):
        multiviews(d, "index", H({}), DC, FakeMime())
    r = multiviews(d, "index.bak", H({}), DC, FakeMime())
    assert r is not None and r.uri == "index.bak.html"


def test_encoding_rules(tmp_path) -> None:
    d = make(tmp_path, {"e.txt": "plain text", "e.txt.gz": "gz"})
    assert multiviews(d, "e", H({}), DC, FakeMime()).uri == "e.txt"  # identity preferred
    r = multiviews(d, "e", H({"accept-encoding": "gzip"}), DC, FakeMime())
    assert r.uri == "e.txt" or r.encoding == "gzip"
    r = multiviews(d, "e", H({"accept-encoding": "gzip, identity;q=0"}), DC, FakeMime())
    assert r.uri == "e.txt.gz" and r.encoding == "gzip"  # the client's spelling


def test_fix_encoding() -> None:
    assert fix_encoding("x-gzip", "gzip") == "gzip"
    assert fix_encoding("gzip", "x-gzip") == "x-gzip"
    assert fix_encoding("x-gzip", None) == "x-gzip"
    assert fix_encoding("x-gzip", "br") == "x-gzip"
    assert fix_encoding(None, "gzip") is None


def test_charset_default_iso_8859_1(tmp_path) -> None:
    d = make(tmp_path, {"c.html": "latin", "c.html.utf8": "unicode text"})
    r = multiviews(d, "c", H({"accept-charset": "utf-8"}), DC, FakeMime())
    assert r.uri == "c.html.utf8"
    r = multiviews(d, "c", H({"accept-charset": "iso-8859-5"}), DC, FakeMime())
    assert r.uri == "c.html"  # unlabelled text is iso-8859-1, which is always acceptable


def test_language_priority_fallback(tmp_path) -> None:
    d = make(tmp_path, {"p.html.en": "e", "p.html.de": "d"})
    dc = DirConfig(modules={MIME: MimeDir(add_language=LANGS), NEG: NegotiationDir(
        language_priority=("de", "en"), force_language_priority="fallback prefer")})
    assert multiviews(d, "p", H({"accept-language": "it"}), dc, FakeMime()).uri == "p.html.de"
    dc_none = DirConfig(modules={MIME: MimeDir(add_language=LANGS), NEG: NegotiationDir(
        language_priority=("de",), force_language_priority="none")})
    with pytest.raises(NotAcceptable):
        multiviews(d, "p", H({"accept-language": "it"}), dc_none, FakeMime())


def test_allowed_veto_and_directories_skipped(tmp_path) -> None:
    d = make(tmp_path, {"v.html.en": "e", "v.html.fr": "f"})
    (tmp_path / "v.dir").mkdir()
    r = multiviews(d, "v", H({}), DC, FakeMime(), allowed=lambda p: not p.endswith(".en"))
    assert r.uri == "v.html.fr"
    with pytest.raises(NotAcceptable):  # the only acceptable variant is vetoed
        multiviews(d, "v", H({"accept-language": "fr"}), DC, FakeMime(),
                   allowed=lambda p: not p.endswith(".fr"))


def test_post_is_not_transparent(tmp_path) -> None:
    d = make(tmp_path, {"m.html.en": "e", "m.html.fr": "f"})
    r = multiviews(d, "m", H({"accept-language": "fr"}), DC, FakeMime(), method="POST")
    assert r.uri == "m.html.fr"
    assert r.headers == [("Vary", "accept-language")]


def test_float32_ties(tmp_path) -> None:
    assert neg.f32(0.1) != 0.1 and abs(neg.f32(0.1) - 0.1) < 1e-8


def test_escape_path_segment() -> None:
    assert neg.escape_path_segment("a b/c?d&e.html") == "a%20b%2fc%3fd&e.html"
