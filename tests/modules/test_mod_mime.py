"""mod_mime's lookups: types, charsets, languages and encodings from the file name's
extensions (AddType and friends, ForceType), and the shipped mime.types when TypesConfig
names no file."""
from __future__ import annotations

from pathlib import Path

from support.apache_oracle import ApacheOracle
from support.wire import parse_responses, raw_request

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


def test_remove_language_as_apache(tmp_path: Path) -> None:
    """RemoveLanguage (h5bp's pre-compressed brotli part, against Debian's `AddLanguage br
    .br`): the deeper scope drops the inherited language, also one its own AddLanguage
    gave before or after it (httpd applies the removals when the scope merges), and a
    scope without it keeps the language.  Apache and fastcore answer alike, twice."""
    www = tmp_path / "www"
    for rel in ("keep/a.css.br", "rm/a.css.br", "again/a.br", "before/a.br"):
        (www / rel).parent.mkdir(parents=True, exist_ok=True)
        (www / rel).write_text("x\n")
    body = (f'DocumentRoot "{www}"\n<Directory "{www}">\n Require all granted\n'
            ' AllowOverride None\n AddLanguage br .br\n</Directory>\n'
            f'<Directory "{www}/rm">\n <FilesMatch "\\.br$">\n  RemoveLanguage .br\n'
            ' </FilesMatch>\n</Directory>\n'
            f'<Directory "{www}/again">\n RemoveLanguage .br\n AddLanguage fr .br\n'
            '</Directory>\n'
            f'<Directory "{www}/before">\n AddLanguage fr .br\n RemoveLanguage .br\n'
            '</Directory>\n')
    seen = []
    for name in ("apache", "fastcore"):
        run = tmp_path / name
        run.mkdir()
        with ApacheOracle(str(run), body, modules=("mpm_prefork", "authz_core", "mime"),
                          fastcore=name == "fastcore") as ap:
            got = []
            for path in ("/keep/a.css.br", "/rm/a.css.br", "/again/a.br", "/before/a.br") * 2:
                r = parse_responses(raw_request(ap.port, f"GET {path} HTTP/1.0\r\n"
                                                f"Host: localhost\r\n\r\n".encode()))
                got.append((path, r[0][0], r[0][1].get("content-language")))
            seen.append(got)
    assert seen[0] == seen[1]
    assert [lang for _p, _s, lang in seen[1][:4]] == ["br", None, None, None]
