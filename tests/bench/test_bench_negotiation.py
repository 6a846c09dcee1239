"""The seed's negotiation advice, measured: a type map is cheaper than MultiViews, because
MultiViews reads the whole directory for every request while a map is one small file.
Also the cost of the access checks (authz) that run on every request."""
from __future__ import annotations

import pytest

from fastcore.config.model import DirConfig
from fastcore.modules.mod_authz_core import ReqCtx, Require, RequireGroup, authorize
from fastcore.modules.mod_mime import NAME, MimeDir, MimeMap
from fastcore.modules.mod_negotiation.handler import multiviews
from fastcore.modules.mod_negotiation.typemap import resolve

DC = DirConfig(modules={NAME: MimeDir(add_language={"en": "en", "fr": "fr", "de": "de"},
                                       add_handler={"var": "type-map"})})


class H(dict):
    def get(self, k):  # type: ignore[override]
        return dict.get(self, k)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    d = tmp_path_factory.mktemp("benchneg")
    for lang in ("en", "fr", "de"):
        (d / f"page.html.{lang}").write_text(f"{lang} page\n")
    for i in range(200):  # a realistic directory: many unrelated files
        (d / f"other{i}.html").write_text("x")
    (d / "page.var").write_text("".join(
        f"URI: page.html.{lang}\nContent-Type: text/html\nContent-Language: {lang}\n\n"
        for lang in ("en", "fr", "de")))
    return str(d)


HDRS = H({"accept-language": "fr, en;q=0.5", "accept": "text/html,*/*;q=0.8"})


def test_multiviews(benchmark, site) -> None:
    mime = MimeMap()
    r = benchmark(multiviews, site, "page", HDRS, DC, mime)
    assert r.uri == "page.html.fr"


def test_typemap(benchmark, site) -> None:
    mime = MimeMap()
    r = benchmark(resolve, site + "/page.var", HDRS, DC, mime)
    assert r.uri == "page.html.fr"


def test_authz_ip_any(benchmark) -> None:
    g = RequireGroup("any", (Require("ip", ("10.0.0.0/8", "192.168")), Require("local")))
    ctx = ReqCtx("127.0.0.1", "127.0.0.1", "GET", None)
    assert benchmark(authorize, ctx, g) is True
