"""mod_mime's lookups: types, charsets, languages and encodings from the file name's
extensions (AddType and friends, ForceType), and the shipped mime.types when TypesConfig
names no file."""
from __future__ import annotations

from fastcore.config.model import DirConfig
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
