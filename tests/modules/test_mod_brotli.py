"""mod_brotli in fastcore: BROTLI_COMPRESS seen by a client over a real socket (the
cache contract with the C engine first, HEAD, no-brotli, the store shared with DEFLATE
by coding), its directives' records and refusals."""
from __future__ import annotations

import os
from pathlib import Path

import brotli
import pytest
from support.configs import HEADER, cfg
from support.inprocess import FastcoreThread
from support.wire import parse_responses, raw_request

from fastcore.config import ConfigError
from fastcore.modules.mod_brotli import brotli_server
from fastcore.modules.mod_deflate import store

LOAD = ("LoadModule filter_module modules/mod_filter.so\n"
        "LoadModule brotli_module modules/mod_brotli.so\n"
        "LoadModule deflate_module modules/mod_deflate.so\n"
        "LoadModule env_module modules/mod_env.so\n")
TEXT = b"".join(b"brotli %d\n" % i for i in range(4000))


def _conf(tmp: Path, extra: str = "") -> str:
    www = tmp / "www"
    (www / "off").mkdir(parents=True)
    (www / "a.txt").write_bytes(TEXT)
    (www / "off" / "b.txt").write_bytes(TEXT)
    for f in www.rglob("*"):
        os.utime(f, (1_700_000_000, 1_700_000_000))
    path = tmp / "httpd.conf"
    path.write_text(HEADER.format(root=tmp) + LOAD + f"DocumentRoot {www}\n"
                    f"<Directory {www}>\n Require all granted\n</Directory>\n"
                    "AddOutputFilterByType BROTLI_COMPRESS;DEFLATE text/plain\n"
                    f"<Directory {www}/off>\n SetEnv no-brotli 1\n</Directory>\n" + extra)
    return str(path)


def _get(port: int, path: str, headers: str = "", method: str = "GET"):
    req = f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
    return parse_responses(raw_request(port, req.encode()), head_request=method == "HEAD")[0]


@pytest.mark.parametrize("board", ["pure", "compiled"])
def test_br_answers_and_the_cache_contract(tmp_path: Path, board: str) -> None:
    srv = FastcoreThread(_conf(tmp_path), board=board)  # type: ignore[arg-type]
    try:
        got = [_get(srv.port, "/a.txt", ae) for ae in
               ("Accept-Encoding: br\r\n", "", "Accept-Encoding: gzip, br\r\n",
                "Accept-Encoding: gzip\r\n", "Accept-Encoding: br\r\n")]
        head = _get(srv.port, "/a.txt", "Accept-Encoding: br\r\n", "HEAD")
        off = _get(srv.port, "/off/b.txt", "Accept-Encoding: br, gzip\r\n")
    finally:
        srv.stop()
    codings = [h.get("content-encoding") for _, h, _ in got]
    assert codings == ["br", None, "br", "gzip", "br"]  # BROTLI_COMPRESS first in the chain
    assert all(h["vary"] == "Accept-Encoding" for _, h, _ in got)
    assert brotli.decompress(got[0][2]) == TEXT and got[0][1]["etag"].endswith('-br"')
    assert head[1]["content-length"] == str(len(got[0][2])) and head[2] == b""
    assert off[1]["content-encoding"] == "gzip"  # no-brotli leaves it to DEFLATE


def test_settings_reach_the_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "STORE", store.Store())
    srv = FastcoreThread(_conf(tmp_path, "BrotliCompressionQuality 0\nBrotliCompressionWindow 10\n"
                                         "BrotliAlterETag NoChange\n"))
    try:
        status, h, body = _get(srv.port, "/a.txt", "Accept-Encoding: br\r\n")
    finally:
        srv.stop()
    assert status == 200 and not h["etag"].endswith('-br"')
    assert body == brotli.compress(TEXT, quality=0, lgwin=10)
    assert body != brotli.compress(TEXT, quality=5, lgwin=18)


def test_records_and_refusals(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "BrotliCompressionQuality 7\nBrotliFilterNote Output o\n")
    rec = brotli_server(c.main)
    assert (rec.quality, rec.lgwin, rec.note_output) == (7, 18, "o")
    with pytest.raises(ConfigError, match="BrotliCompressionWindow must be between 10 and 24"):
        cfg(tmp_path, LOAD + "BrotliCompressionWindow 8\n")
    with pytest.raises(ConfigError, match="Invalid command 'BrotliCompressionQuality'"):
        cfg(tmp_path, "BrotliCompressionQuality 7\n")
