"""FastcorePrecompressed, fastcore's own directive (mod_deflate's package): FILE.br,
FILE.gz or FILE.zst beside FILE answers a client that accepts that encoding, with the
original's Content-Type, the sibling's validators and length, Vary and
Content-Encoding; conditional requests are decided on the sibling's ETag; DEFLATE
leaves such an answer alone; nothing of it is cached by the core."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import brotli
import pytest
import zstandard
from support.configs import HEADER, cfg
from support.inprocess import FastcoreThread
from support.wire import parse_responses, raw_request

from fastcore.config import ConfigError
from fastcore.modules.mod_deflate.config import precompressed_codings
from fastcore.modules.mod_deflate.precompressed import accepted

LOAD = ("LoadModule filter_module modules/mod_filter.so\n"
        "LoadModule deflate_module modules/mod_deflate.so\n")
CSS = b"body { margin: 0; padding: 0 }\n" * 200


def _site(tmp: Path, directive: str = "FastcorePrecompressed br gzip zstd",
          extra: str = "") -> str:
    www = tmp / "www"
    (www / "off").mkdir(parents=True)
    (www / "app.css").write_bytes(CSS)
    (www / "app.css.gz").write_bytes(gzip.compress(CSS, mtime=0))
    (www / "app.css.br").write_bytes(brotli.compress(CSS))
    (www / "app.css.zst").write_bytes(zstandard.ZstdCompressor().compress(CSS))
    (www / "only.css").write_bytes(CSS)
    (www / "only.css.gz").write_bytes(gzip.compress(CSS, mtime=0))
    (www / "off" / "o.css").write_bytes(CSS)
    (www / "off" / "o.css.gz").write_bytes(gzip.compress(CSS, mtime=0))
    for i, f in enumerate(sorted(www.rglob("*"))):
        os.utime(f, (1_700_000_000 + i, 1_700_000_000 + i))
    path = tmp / "httpd.conf"
    path.write_text(HEADER.format(root=tmp) + LOAD
                    + f"DocumentRoot {www}\n<Directory {www}>\n Require all granted\n"
                    f" {directive}\n</Directory>\n<Directory {www}/off>\n"
                    " FastcorePrecompressed off\n</Directory>\n" + extra)
    return str(path)


def _get(port: int, path: str, headers: str = "", method: str = "GET"
         ) -> tuple[int, dict[str, str], bytes]:
    req = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n"
    got = parse_responses(raw_request(port, req.encode()), head_request=method == "HEAD")
    return got[0]


@pytest.fixture
def site(tmp_path: Path):
    srv = FastcoreThread(_site(tmp_path), board="compiled")
    yield srv
    srv.stop()


def test_each_encoding_serves_its_sibling(site: FastcoreThread, tmp_path: Path) -> None:
    www = tmp_path / "www"
    for ae, coding, decode in (("br", "br", brotli.decompress),
                               ("gzip", "gzip", gzip.decompress),
                               ("x-gzip", "gzip", gzip.decompress),
                               ("zstd", "zstd", zstandard.ZstdDecompressor().decompress)):
        status, h, body = _get(site.port, "/app.css", f"Accept-Encoding: {ae}\r\n")
        assert status == 200, ae
        assert h["content-encoding"] == coding and h["vary"] == "Accept-Encoding"
        assert h["content-type"] == "text/css"
        sibling = www / ("app.css" + {"br": ".br", "gzip": ".gz", "zstd": ".zst"}[coding])
        assert body == sibling.read_bytes() and decode(body) == CSS
        assert h["content-length"] == str(sibling.stat().st_size)
        st = sibling.stat()
        assert h["etag"] == f'"{st.st_size:x}-{st.st_mtime_ns // 1000:x}"'


def test_preference_order_and_fallbacks(site: FastcoreThread) -> None:
    _, h, _ = _get(site.port, "/app.css", "Accept-Encoding: gzip, zstd, br\r\n")
    assert h["content-encoding"] == "br"  # the directive's order, not the client's
    _, h, _ = _get(site.port, "/app.css", "Accept-Encoding: br;q=0, gzip\r\n")
    assert h["content-encoding"] == "gzip"
    _, h, body = _get(site.port, "/only.css", "Accept-Encoding: br\r\n")
    assert "content-encoding" not in h and body == CSS and h["vary"] == "Accept-Encoding"
    _, h, body = _get(site.port, "/only.css", "Accept-Encoding: br, gzip\r\n")
    assert h["content-encoding"] == "gzip"
    _, h, body = _get(site.port, "/app.css", "Accept-Encoding: *\r\n")
    assert "content-encoding" not in h and body == CSS
    _, h, body = _get(site.port, "/off/o.css", "Accept-Encoding: gzip\r\n")
    assert "content-encoding" not in h and "vary" not in h and body == CSS


def test_never_cached_by_the_core(site: FastcoreThread) -> None:
    answers = [_get(site.port, "/app.css", ae) for ae in
               ("", "Accept-Encoding: br\r\n", "", "Accept-Encoding: br\r\n", "")]
    assert [h.get("content-encoding") for _, h, _ in answers] == [None, "br", None, "br", None]
    assert all(h["vary"] == "Accept-Encoding" for _, h, _ in answers)


def test_conditionals_use_the_siblings_etag(site: FastcoreThread) -> None:
    _, h, _ = _get(site.port, "/app.css", "Accept-Encoding: br\r\n")
    status, h304, _ = _get(site.port, "/app.css",
                           f"Accept-Encoding: br\r\nIf-None-Match: {h['etag']}\r\n")
    assert status == 304 and h304["etag"] == h["etag"] and h304["vary"] == "Accept-Encoding"
    status, _, _ = _get(site.port, "/app.css", "Accept-Encoding: br\r\nIf-Match: \"x\"\r\n")
    assert status == 412
    status, h, body = _get(site.port, "/app.css", "Accept-Encoding: br\r\n", method="HEAD")
    assert status == 200 and body == b"" and h["content-encoding"] == "br"


def test_deflate_leaves_a_sibling_alone(tmp_path: Path) -> None:
    srv = FastcoreThread(_site(tmp_path, "FastcorePrecompressed br",
                               "AddOutputFilterByType DEFLATE text/css\n"))
    try:
        _, h, body = _get(srv.port, "/app.css", "Accept-Encoding: br, gzip\r\n")
        assert h["content-encoding"] == "br" and brotli.decompress(body) == CSS
        assert h["vary"] == "Accept-Encoding"
        _, h, body = _get(srv.port, "/app.css", "Accept-Encoding: gzip\r\n")  # no .gz rule
        assert h["content-encoding"] == "gzip" and h["vary"] == "Accept-Encoding"
        assert gzip.decompress(body) == CSS
    finally:
        srv.stop()


def test_accepted_codings() -> None:
    assert accepted("gzip;q=0.5, br;q=0, X-GZIP, zstd;q=abc") == {"gzip"}
    assert accepted("br ; q=1.0 ,, identity") == {"br", "identity"}
    assert accepted(None) == frozenset() and accepted("") == frozenset()


def test_directive(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "FastcorePrecompressed gzip BR gzip\n")
    assert precompressed_codings(c.main.dir_defaults) == ("gzip", "br")
    with pytest.raises(ConfigError, match="FastcorePrecompressed: unknown encoding 'lzma'"):
        cfg(tmp_path, LOAD + "FastcorePrecompressed lzma\n")
    with pytest.raises(ConfigError, match="Invalid command 'FastcorePrecompressed'"):
        cfg(tmp_path, "FastcorePrecompressed gzip\n")
