"""Type-map parsing and negotiation (AddHandler type-map .var)."""
from __future__ import annotations

import pytest

from fastcore.config.model import DirConfig
from fastcore.modules.mod_mime import NAME, MimeDir
from fastcore.modules.mod_negotiation.handler import NegotiationError, NotAcceptable
from fastcore.modules.mod_negotiation.typemap import read_type_map, resolve


class Mime:
    types = {"html": "text/html", "txt": "text/plain"}

    def lookup(self, filename, dirconf):
        ext = filename.rsplit(".", 1)[-1]
        return self.types.get(ext), None, None, None


class H(dict):
    def get(self, k):  # type: ignore[override]
        return dict.get(self, k)


DC = DirConfig(modules={NAME: MimeDir(add_handler={"var": "type-map"})})

MAP = """# comment
URI: doc

URI: doc.en.html
Content-Type: text/html; qs=0.6
Content-Language: en
Description: English
  text

uri: doc.de.html
content-type: text/html
content-language: de, de-at
Content-Length: 7

URI: nocontent.html

URI: inline
Content-Type: text/plain; charset=utf-8; qs=0.2
Body:--END--
inline body
--END--
"""


def write(tmp_path, text: str, name: str = "doc.var") -> str:
    p = tmp_path / name
    p.write_text(text)
    for f in ("doc.en.html", "doc.de.html"):
        (tmp_path / f).write_text("x")
    return str(p)


def test_parse(tmp_path) -> None:
    vs = read_type_map(write(tmp_path, MAP))
    assert [v.file_name for v in vs] == ["doc.en.html", "doc.de.html", "doc.var"]
    en, de, body = vs
    assert en.source_quality == pytest.approx(0.6) and en.languages == ["en"]
    assert en.description == "English text"
    assert de.languages == ["de", "de-at"] and de.bytes == 7
    assert body.mime_type == "text/plain" and body.charset == "utf-8"
    with open(body.path, "rb") as f:
        f.seek(body.body[0])
        assert f.read(body.body[1]) == b"inline body\n"


def test_resolve_prefers_source_quality(tmp_path) -> None:
    p = write(tmp_path, MAP)
    r = resolve(p, H({}), DC, Mime())
    assert r.uri == "doc.de.html" and r.content_type == "text/html"
    assert r.path == str(tmp_path / "doc.de.html")
    # A Body: variant means the map is not transparently negotiable: no TCN header.
    assert ("TCN", "choice") not in r.headers
    r = resolve(p, H({"accept-language": "en"}), DC, Mime())
    assert r.uri == "doc.en.html"
    r = resolve(p, H({"accept": "text/plain"}), DC, Mime())
    assert r.body is not None and r.content_type == "text/plain" and r.charset == "utf-8"


def test_transparent_map_headers(tmp_path) -> None:
    p = write(tmp_path, "URI: a.html\nContent-Type: text/html\nContent-Language: en\n\n"
                        "URI: b.html\nContent-Type: text/html\nContent-Language: fr\n")
    r = resolve(p, H({"accept-language": "fr"}), DC, Mime())
    assert r.headers == [("Content-Location", "b.html"), ("Vary", "negotiate,accept-language"),
                         ("TCN", "choice")]


def test_errors(tmp_path) -> None:
    with pytest.raises(NegotiationError) as ei:
        resolve(str(tmp_path / "missing.var"), H({}), DC, Mime())
    assert ei.value.status == 404
    p = write(tmp_path, "URI: a.html\nthis line has no colon\n", "bad.var")
    with pytest.raises(NegotiationError) as ei:
        resolve(p, H({}), DC, Mime())
    assert ei.value.status == 500
    p = write(tmp_path, "# nothing\n", "empty.var")
    with pytest.raises(NotAcceptable):
        resolve(p, H({}), DC, Mime())
    p = write(tmp_path, "URI: x\nContent-Type: text/plain\nBody:--E--\nno end tag\n", "nb.var")
    with pytest.raises(NotAcceptable):  # Apache stops reading the map: no variant left
        resolve(p, H({}), DC, Mime())


def test_body_variant_rejects_put(tmp_path) -> None:
    p = write(tmp_path, "URI: x\nContent-Type: text/plain\nBody:--E--\nhello\n--E--\n", "b.var")
    assert resolve(p, H({}), DC, Mime()).body is not None
    with pytest.raises(NegotiationError) as ei:
        resolve(p, H({}), DC, Mime(), method="PUT")
    assert ei.value.status == 405


def test_map_choosing_a_map_is_506(tmp_path) -> None:
    p = write(tmp_path, "URI: other.var\nContent-Type: text/html\n", "m.var")
    with pytest.raises(NegotiationError) as ei:
        resolve(p, H({}), DC, Mime())
    assert ei.value.status == 506


def test_huge_or_binary_map_does_not_crash(tmp_path) -> None:
    p = tmp_path / "junk.var"
    p.write_bytes(b"URI: a\x00b\nContent-Type: text/html\n" + b"X" * 20000 + b"\n\xff\xfe:\n")
    try:
        res = resolve(str(p), H({}), DC, Mime())
    except (NegotiationError, NotAcceptable):
        return  # a clean negotiation answer (an HTTP status), not a crash
    assert isinstance(res.path, str) and res.path.startswith(str(tmp_path))
