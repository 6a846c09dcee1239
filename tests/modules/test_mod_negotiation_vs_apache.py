"""MultiViews and type maps: fastcore's negotiation against real Apache 2.4.

One Apache instance serves a document root full of variants (languages, charsets,
encodings, levels, source qualities, sizes, a type map with Body: and comments); every
request below is answered by Apache over HTTP and by fastcore.modules.mod_negotiation.handler /
fastcore.modules.mod_negotiation.typemap directly, with the same per-directory configuration, and the
observable results must agree: status, Content-Location, Vary, TCN, Alternates,
Content-Type, Content-Language, Content-Encoding, the 406 variant list and Body: bytes.
"""
from __future__ import annotations

import dataclasses
import gzip
import os

import pytest
from support.apache_oracle import ApacheOracle
from support.wire import parse_responses, raw_request

from fastcore.config.model import DirConfig, ModuleRecord, merge_records  # noqa: E402
from fastcore.modules.mod_mime import NAME as MIME  # noqa: E402
from fastcore.modules.mod_mime import MimeDir, MimeMap  # noqa: E402
from fastcore.modules.mod_negotiation.config import NAME as NEG  # noqa: E402
from fastcore.modules.mod_negotiation.config import NegotiationDir  # noqa: E402
from fastcore.modules.mod_negotiation.handler import (  # noqa: E402
    MultipleChoices,
    NegotiationError,
    NotAcceptable,
    multiviews,
)
from fastcore.modules.mod_negotiation.typemap import resolve  # noqa: E402

LANGS = {"en": "en", "fr": "fr", "de": "de", "uk": "en-gb", "ptbr": "pt-br"}
CHARSETS = {"utf8": "utf-8", "iso2": "iso-8859-2"}  # upper case: see report (E)
TYPES = {"html3": "text/html; level=3", "lowq": "text/html; qs=0.5"}

CONF = """
TypesConfig /etc/mime.types
DocumentRoot "{root}"
{langs}
{charsets}
{types}
AddEncoding x-gzip .gz
AddHandler type-map .var
<Directory "{root}">
  Options MultiViews
  Require all granted
</Directory>
<Directory "{root}/p">
  LanguagePriority fr de en
  ForceLanguagePriority Prefer Fallback
</Directory>
<Directory "{root}/n">
  LanguagePriority de
  ForceLanguagePriority None
</Directory>
<Directory "{root}/q">
  DefaultLanguage de
</Directory>
"""

MAP = """# a type map with comments, continuation lines and an inline body
URI: map

URI: map.en.html
Content-Type: text/html; qs=0.7
Content-Language: en
Description: English
  version

URI: map.fr.html
Content-Type: text/html
Content-Language: fr

URI: map.txt
Content-Type: text/plain; qs=0.4
# comment inside a record

URI: map
Content-Type: text/plain; charset=utf-8; qs=0.3
Content-Language: de
Body:----xyz----
Hallo Welt (inline body)
----xyz----
"""

FILES = {
    "a/page.html.en": "english page\n",
    "a/page.html.fr": "page en français, plus longue\n",
    "a/page.html.de": "deutsch\n",
    "a/page.html.uk": "british english\n",
    "a/page.html.ptbr": "português do brasil\n",
    "b/doc.html": "<p>html</p>\n",
    "b/doc.txt": "text\n",
    "b/doc.pdf": "%PDF-1.4 fake\n",
    "b/doc.png": "png-ish\n",
    "c/x.html": "<p>level 2</p>\n",
    "c/x.html3": "<p>level 3 page</p>\n",
    "c/q.html": "<p>normal</p>\n",
    "c/q.lowq": "<p>low qs</p>\n",
    "d/cs.html.utf8": "utf8 text é\n",
    "d/cs.html.iso2": "latin2 text\n",
    "d/cs.html": "plain html\n",
    "e/enc.txt": "uncompressed text\n",
    "f/s.html.en": "a much longer english variant........\n",
    "f/s.html.fr": "court\n",
    "g/map.var": MAP,
    "g/map.en.html": "<p>EN map</p>\n",
    "g/map.fr.html": "<p>FR map</p>\n",
    "g/map.txt": "map text\n",
    "h/mix.html": "no language\n",
    "h/mix.html.en": "english\n",
    "i/r.html.bak": "backup\n",
    "i/r.bak": "bak\n",
    "p/page.html.en": "english\n",
    "p/page.html.fr": "francais\n",
    "p/page.html.de": "deutsch\n",
    "n/page.html.en": "english\n",
    "n/page.html.de": "deutsch\n",
    "q/m.html": "default language\n",
    "q/m.html.en": "english\n",
    "q/m.txt.fr": "texte\n",
}

A = "accept"
AL = "accept-language"
AC = "accept-charset"
AE = "accept-encoding"

CASES: list[tuple[str, dict[str, str]]] = [
    ("/a/page", {}),
    ("/a/page", {AL: "fr"}),
    ("/a/page", {AL: "de, en;q=0.5"}),
    ("/a/page", {AL: "en-gb"}),
    ("/a/page", {AL: "en-us"}),              # prefix fiddle: en at 0.001
    ("/a/page", {AL: "en-us, fr;q=0.0001"}),
    ("/a/page", {AL: "pt"}),                 # pt matches pt-br as a prefix
    ("/a/page", {AL: "it"}),                 # 406
    ("/a/page", {AL: "it, *;q=0.1"}),
    ("/a/page", {AL: "*"}),
    ("/a/page", {AL: "fr;q=0, en"}),
    ("/a/page", {AL: "FR"}),
    ("/a/page", {AL: "en;q=0.5, de;q=0.5"}),
    ("/a/page", {AL: ""}),
    ("/a/page.html", {AL: "de"}),
    ("/b/doc", {}),
    ("/b/doc", {A: "text/plain"}),
    ("/b/doc", {A: "text/*"}),
    ("/b/doc", {A: "text/*, application/pdf"}),
    ("/b/doc", {A: "text/html;q=0.5, text/plain;q=0.6"}),
    ("/b/doc", {A: "image/*;q=0.9, */*;q=0.1"}),
    ("/b/doc", {A: "application/pdf;q=0, text/*;q=0"}),
    ("/b/doc", {A: "*/*"}),
    ("/b/doc", {A: "text/html; q=0.5 , image/png"}),
    ("/b/doc", {A: "text/html;q=.7, text/plain;q=0.700"}),
    ("/b/doc", {A: "video/mp4"}),
    ("/b/doc", {A: "text/html;level=1"}),
    ("/b/doc", {A: "garbage;;;, ,q=1,"}),
    ("/b/doc", {A: "text/plain;q=2, text/html;q=1"}),
    ("/c/x", {}),
    ("/c/x", {A: "text/html;level=3"}),
    ("/c/x", {A: "text/html;level=2"}),
    ("/c/x", {A: "text/html"}),
    ("/c/q", {}),
    ("/c/q", {A: "text/html"}),
    ("/d/cs", {}),
    ("/d/cs", {AC: "utf-8"}),
    ("/d/cs", {AC: "iso-8859-2, iso-8859-1;q=0.5"}),
    ("/d/cs", {AC: "iso-8859-5"}),
    ("/d/cs", {AC: "*;q=0.3, utf-8;q=0.2"}),
    ("/e/enc", {}),
    ("/e/enc", {AE: "gzip"}),
    ("/e/enc", {AE: "x-gzip"}),
    ("/e/enc", {AE: "identity;q=0, gzip"}),
    ("/e/enc", {AE: "br"}),
    ("/e/enc", {AE: "*;q=0"}),
    ("/e/enc", {AE: ""}),
    ("/f/s", {}),
    ("/f/s", {AL: "en"}),
    ("/g/map.var", {}),
    ("/g/map.var", {AL: "en"}),
    ("/g/map.var", {AL: "fr;q=0.1, en;q=0.2"}),
    ("/g/map.var", {A: "text/plain"}),
    ("/g/map.var", {A: "text/plain", AL: "de"}),
    ("/g/map.var", {A: "image/png"}),
    ("/g/map", {AL: "fr"}),
    ("/h/mix", {}),
    ("/h/mix", {AL: "en"}),
    ("/h/mix", {AL: "fr"}),
    ("/i/r", {}),
    ("/a/page", {"negotiate": "trans"}),
    ("/a/page", {"negotiate": "vlist", AL: "fr"}),
    ("/a/page", {"negotiate": "*", AL: "fr"}),
    ("/a/page", {"negotiate": "1.0", AL: "fr"}),
    ("/b/doc", {"negotiate": "1.0", A: "text/plain"}),
    ("/p/page", {}),
    ("/p/page", {AL: "en"}),
    ("/p/page", {AL: "it"}),              # Fallback: LanguagePriority decides
    ("/p/page", {AL: "en;q=0.5, de;q=0.5"}),
    ("/n/page", {AL: "it"}),              # ForceLanguagePriority None: 406
    ("/n/page", {}),
    ("/q/m", {}),
    ("/q/m", {AL: "de"}),
    ("/q/m", {AL: "en"}),
    ("/q/m", {AL: "fr", A: "text/plain"}),
]

DIR_EXTRA: dict[str, dict[str, ModuleRecord]] = {
    "p": {NEG: NegotiationDir(("fr", "de", "en"), "Prefer Fallback")},
    "n": {NEG: NegotiationDir(("de",), "None")},
    "q": {MIME: MimeDir(default_language="de")},
}


class Hdrs(dict):
    def get(self, name: str) -> str | None:  # type: ignore[override]
        return dict.get(self, name)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("negroot")
    for rel, text in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    with gzip.open(root / "e" / "enc.txt.gz", "wb") as f:
        f.write(b"compressed text\n" * 4)
    body = CONF.format(
        root=root,
        langs="\n".join(f"AddLanguage {lang} .{ext}" for ext, lang in LANGS.items()),
        charsets="\n".join(f"AddCharset {cs} .{ext}" for ext, cs in CHARSETS.items()),
        types="\n".join(f'AddType "{t}" .{ext}' for ext, t in TYPES.items()),
    )
    dirconf = DirConfig(modules={MIME: MimeDir(
        add_language=dict(LANGS), add_charset=dict(CHARSETS), add_type=dict(TYPES),
        add_encoding={"gz": "x-gzip"}, add_handler={"var": "type-map"},
    )})
    run = tmp_path_factory.mktemp("negrun")
    with ApacheOracle(str(run), body) as ap:
        yield str(root), ap, dirconf


def apache(ap: ApacheOracle, path: str, hdrs: dict[str, str], proto: str = "HTTP/1.1"
           ) -> tuple[int, dict, bytes]:
    extra = "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    raw = raw_request(ap.port, f"GET {path} {proto}\r\nHost: localhost\r\n{extra}"
                               f"Connection: close\r\n\r\n".encode())
    return parse_responses(raw)[0]


def ours(root: str, dirconf: DirConfig, mime: MimeMap, path: str, hdrs: dict[str, str]
         ) -> tuple[int, dict[str, str], bytes]:
    fs = os.path.join(root, path.lstrip("/"))
    h = Hdrs(hdrs)
    try:
        if fs.endswith(".var"):
            res = resolve(fs, h, dirconf, mime)
        else:
            res = multiviews(os.path.dirname(fs), os.path.basename(fs), h, dirconf, mime)
    except MultipleChoices as exc:
        return 300, {k.lower(): v for k, v in exc.headers}, exc.variants_html.encode()
    except NotAcceptable as exc:
        return 406, {k.lower(): v for k, v in exc.headers}, exc.variants_html.encode()
    except NegotiationError as exc:
        return exc.status, {}, b""
    if res is None:
        return 404, {}, b""
    out = {k.lower(): v for k, v in res.headers}
    out["http10-expires"] = res.http10_expires
    if res.body is not None:
        ct = res.content_type
        if res.charset:
            ct = f"{ct}; charset={res.charset}"
        with open(res.path, "rb") as f:
            f.seek(res.body[0])
            data = f.read(res.body[1])
        out["content-type"] = ct
    else:
        # Apache serves the variant through a sub-request: mod_mime of the variant file.
        out["content-type"] = mime.content_type_header(os.path.basename(res.path), dirconf)
        with open(res.path, "rb") as f:
            data = f.read()
    if res.languages:
        out["content-language"] = ", ".join(res.languages)
    if res.encoding:
        out["content-encoding"] = res.encoding
    return 200, out, data


COMPARED = ("content-location", "vary", "tcn", "alternates", "content-type",
            "content-language", "content-encoding")


@pytest.mark.parametrize("path,hdrs", CASES, ids=[f"{p}-{h}" for p, h in CASES])
def test_same_as_apache(site, path: str, hdrs: dict[str, str]) -> None:
    root, ap, dirconf = site
    extra = DIR_EXTRA.get(path.split("/")[1])
    if extra:
        dirconf = dataclasses.replace(dirconf, modules=merge_records(dirconf.modules, extra))
    mime = MimeMap("/etc/mime.types")
    a_status, a_hdrs, a_body = apache(ap, path, hdrs)
    o_status, o_hdrs, o_body = ours(root, dirconf, mime, path, hdrs)
    assert o_status == a_status, (a_hdrs, a_body[:600])
    if a_status == 200:
        for k in COMPARED:
            assert o_hdrs.get(k) == a_hdrs.get(k), k
        assert o_body == a_body
    elif a_status in (406, 300):
        for k in ("vary", "tcn", "alternates"):
            assert o_hdrs.get(k) == a_hdrs.get(k), k
        assert o_body.decode() in a_body.decode("latin-1")


@pytest.mark.parametrize("path,hdrs", [("/g/map.var", {}), ("/g/map.var", {A: "text/plain"}),
                                       ("/a/page", {AL: "fr"}), ("/b/doc", {})])
def test_http10_expires_as_apache(site, path: str, hdrs: dict[str, str]) -> None:
    """A type map answers an HTTP/1.0 client with Expires (= Date); MultiViews does not."""
    root, ap, dirconf = site
    a_status, a_hdrs, _ = apache(ap, path, hdrs, "HTTP/1.0")
    o_status, o_hdrs, _ = ours(root, dirconf, MimeMap("/etc/mime.types"), path, hdrs)
    assert a_status == o_status == 200
    assert ("expires" in a_hdrs) == o_hdrs["http10-expires"]
    if "expires" in a_hdrs:
        assert a_hdrs["expires"] == a_hdrs["date"]
