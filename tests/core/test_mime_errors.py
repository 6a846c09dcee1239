"""MIME lookups (mod_mime semantics) and Apache-shaped error pages."""
from __future__ import annotations

from fastcore.config.model import DirConfig
from fastcore.core import errors as E
from fastcore.modules.mod_mime import NAME, MimeDir, MimeMap


def test_mime_lookup(tmp_path: object) -> None:
    types = tmp_path / "mime.types"
    types.write_text("text/html html htm\napplication/x-tar tar\n# comment\ntext/plain txt\n")
    m = MimeMap(str(types))
    dc = DirConfig(modules={NAME: MimeDir(
        add_type={"data": "text/x-data"}, add_charset={"txt": "UTF-8"},
        add_language={"en": "en", "fr": "fr"}, add_encoding={"gz": "x-gzip"})})
    assert m.lookup("a.html", dc) == ("text/html", None, None, None)
    assert m.lookup("a.en.html", dc) == ("text/html", None, "en", None)
    assert m.lookup("a.tar.gz", dc) == ("application/x-tar", None, None, "x-gzip")
    assert m.content_type_header("t.txt", dc) == "text/plain; charset=utf-8"
    assert m.lookup("x.data", dc)[0] == "text/x-data"
    assert m.lookup("noext", dc)[0] is None
    assert m.lookup("a.HTML", dc)[0] == "text/html"
    forced = DirConfig(force_type="text/x-forced")
    assert m.lookup("a.html", forced)[0] == "text/x-forced"


def test_missing_types_config_falls_back_to_shipped() -> None:
    m = MimeMap("/nonexistent/mime.types")
    assert m.lookup("a.css", None)[0] == "text/css"


def test_error_pages_match_apache_lengths() -> None:
    # Content-Length values measured on Apache/2.4.71 for the same inputs.
    assert len(E.error_body(404)) == 236
    assert len(E.error_body(403)) == 239
    assert len(E.error_body(400)) == 266
    assert len(E.error_body(501, "FOO")) == 242
    assert len(E.error_body(405, "PUT")) == 260
    assert len(E.error_body(302, location="http://example.com/x/a?b=c")) == 250
    assert len(E.error_body(303, location="http://example.com/y")) == 267
    assert len(E.error_body(410)) == 322
    assert len(E.error_body(414)) == 288
    assert len(E.error_body(417, notes="    Expect: foo")) == 395
    assert len(E.error_body(400, notes="Size of a request header field exceeds server limit.")) == 318


def test_signature_and_tokens() -> None:
    assert E.server_banner("prod") == "fastcore"
    assert E.server_banner("major") == "fastcore/0"
    assert E.signature("off", "x", "h", 80, "a") == ""
    sig = E.signature("on", "fastcore", "www.example.com", 8080, "a@b")
    assert sig == "<hr>\n<address>fastcore Server at www.example.com Port 8080</address>\n"
    assert "mailto:a@b" in E.signature("email", "fastcore", "h", 80, "a@b")
    page = E.error_body(404, sig=sig).decode()
    assert page.endswith("<address>fastcore Server at www.example.com Port 8080</address>\n</body></html>\n")
    assert E.error_document('"custom text') == ("text", "custom text")
    assert E.error_document("/err.html") == ("local", "/err.html")
    assert E.error_document("http://e.com/") == ("url", "http://e.com/")
