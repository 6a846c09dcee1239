"""mod_deflate in fastcore: the DEFLATE filter's decisions seen by a client (over a
real socket to an in-process server), the cache contract (a second request, on the
Python path and with the C engine first, gets the same answer as the first), the
compressed-file store (compressed once per file identity), the notes in the access log,
Accept-Encoding as mod_deflate reads it, and the directives' records."""
from __future__ import annotations

import gzip
import os
import time
import zlib
from pathlib import Path

import pytest
from support.configs import HEADER, cfg
from support.inprocess import FastcoreThread
from support.wire import parse_responses, raw_request

from fastcore.config import ConfigError
from fastcore.core.tokens import get_token
from fastcore.modules.mod_deflate import store
from fastcore.modules.mod_deflate.config import DeflateServer, deflate_server
from fastcore.modules.mod_deflate.filter import accepts_gzip, altered_etag

LOAD = ("LoadModule filter_module modules/mod_filter.so\n"
        "LoadModule deflate_module modules/mod_deflate.so\n"
        "LoadModule env_module modules/mod_env.so\n")
TEXT = b"".join(b"line %d of a compressible text file\n" % i for i in range(3000))


def _site(tmp: Path, extra: str = "") -> str:
    www = tmp / "www"
    (www / "sub").mkdir(parents=True)
    (www / "big.txt").write_bytes(TEXT)
    (www / "page.html").write_bytes(b"<p>" + TEXT[:5000] + b"</p>")
    (www / "tiny.txt").write_bytes(b"x" * 68)
    (www / "edge.txt").write_bytes(b"x" * 69)
    (www / "pic.png").write_bytes(b"\x89PNG" + bytes(4000))
    (www / "pre.txt.gz").write_bytes(gzip.compress(TEXT))
    (www / "sub" / "s.txt").write_bytes(TEXT[:4000])
    (www / "sub" / "s.css").write_bytes(TEXT[:4000])
    for f in www.rglob("*"):
        os.utime(f, (1_700_000_000, 1_700_000_000))
    body = (HEADER.format(root=tmp) + LOAD
            + f"DocumentRoot {www}\n<Directory {www}>\n Require all granted\n</Directory>\n"
            "AddOutputFilterByType DEFLATE text/plain text/html\nAddEncoding gzip gz\n"
            f"LogFormat \"%U %{{ratio}}n %{{in}}n %{{out}}n\" notes\n"
            f"CustomLog {tmp}/access_log notes\n" + extra)
    path = tmp / "httpd.conf"
    path.write_text(body)
    return str(path)


def _get(port: int, path: str, headers: str = "", method: str = "GET",
         proto: str = "HTTP/1.1") -> tuple[int, dict[str, str], bytes]:
    req = f"{method} {path} {proto}\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n"
    got = parse_responses(raw_request(port, req.encode()), head_request=method == "HEAD")
    assert len(got) == 1
    return got[0]


@pytest.fixture
def site(tmp_path: Path):
    srv = FastcoreThread(_site(tmp_path))
    yield srv
    srv.stop()


GZ = "Accept-Encoding: gzip\r\n"


def test_compressed_answer(site: FastcoreThread) -> None:
    status, h, body = _get(site.port, "/big.txt", GZ)
    assert status == 200
    assert h["content-encoding"] == "gzip" and h["vary"] == "Accept-Encoding"
    assert h["etag"].endswith('-gzip"')
    assert int(h["content-length"]) == len(body) < len(TEXT) // 4
    assert gzip.decompress(body) == TEXT
    # mod_deflate's own gzip header: no name, no time, Unix
    assert body[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"


def test_without_gzip_the_plain_answer_still_varies(site: FastcoreThread) -> None:
    for ae in ("", "Accept-Encoding: x-gzip\r\n", "Accept-Encoding: gzip;q=0\r\n",
               "Accept-Encoding: br, identity\r\n"):
        status, h, body = _get(site.port, "/big.txt", ae)
        assert status == 200 and body == TEXT, ae
        assert h["vary"] == "Accept-Encoding" and "content-encoding" not in h
        assert not h["etag"].endswith('-gzip"')


@pytest.mark.parametrize("board", ["pure", "compiled"])
def test_repeated_requests_never_come_back_from_a_cache_uncompressed(
        tmp_path: Path, board: str) -> None:
    """The cache contract: a compressible file is never cached by the core (its answer
    follows Accept-Encoding), on the Python path and with the C engine first."""
    srv = FastcoreThread(_site(tmp_path), board=board)  # type: ignore[arg-type]
    try:
        seen = [_get(srv.port, "/big.txt", GZ if i % 2 == 0 else "") for i in range(6)]
        plain_png = [_get(srv.port, "/pic.png", GZ) for _ in range(3)]
    finally:
        srv.stop()
    for i, (status, h, body) in enumerate(seen):
        assert status == 200
        if i % 2 == 0:
            assert h["content-encoding"] == "gzip" and gzip.decompress(body) == TEXT
        else:
            assert "content-encoding" not in h and body == TEXT
        assert h["vary"] == "Accept-Encoding"
    # a type DEFLATE does not take is untouched (and may be cached): same every time
    assert all("vary" not in h and "content-encoding" not in h for _, h, _ in plain_png)
    assert len({b for _, _, b in plain_png}) == 1


def test_head_states_the_compressed_length(site: FastcoreThread) -> None:
    _, got, body = _get(site.port, "/big.txt", GZ)
    status, h, nobody = _get(site.port, "/big.txt", GZ, method="HEAD")
    assert status == 200 and nobody == b""
    assert h["content-length"] == str(len(body)) and h["content-encoding"] == "gzip"


def test_small_bodies_and_other_types_are_left_alone(site: FastcoreThread) -> None:
    _, h, body = _get(site.port, "/tiny.txt", GZ)
    assert body == b"x" * 68 and "vary" not in h and "content-encoding" not in h
    _, h, body = _get(site.port, "/edge.txt", GZ)
    assert h["content-encoding"] == "gzip" and gzip.decompress(body) == b"x" * 69
    _, h, body = _get(site.port, "/pic.png", GZ)
    assert "vary" not in h and body.startswith(b"\x89PNG")


def test_an_encoded_file_and_errors_are_not_compressed(site: FastcoreThread) -> None:
    _, h, body = _get(site.port, "/pre.txt.gz", GZ)
    assert h["content-encoding"] == "gzip" and "vary" not in h
    assert gzip.decompress(body) == TEXT  # compressed once, by whoever made the file
    status, h, body = _get(site.port, "/missing.txt", GZ)
    assert status == 404 and "vary" not in h and b"Not Found" in body


def test_range_applies_to_the_compressed_bytes(site: FastcoreThread) -> None:
    _, _, whole = _get(site.port, "/big.txt", GZ)
    status, h, body = _get(site.port, "/big.txt", GZ + "Range: bytes=0-99\r\n")
    assert status == 206 and body == whole[:100]
    assert h["content-range"] == f"bytes 0-99/{len(whole)}"
    status, h, body = _get(site.port, "/big.txt", "Range: bytes=0-99\r\n")
    assert status == 206 and body == TEXT[:100] and h["vary"] == "Accept-Encoding"
    status, _, _ = _get(site.port, "/big.txt", GZ + f"Range: bytes={len(whole) + 5}-\r\n")
    assert status == 416


def test_validators_against_the_gzip_etag(site: FastcoreThread) -> None:
    """As Apache: If-None-Match with the -gzip tag never matches (the default handler
    compares the file's own), If-Range with it does (the byterange filter runs after
    DEFLATE)."""
    _, h, _ = _get(site.port, "/big.txt", GZ)
    gztag = h["etag"]
    plain = gztag[:-6] + '"'
    assert _get(site.port, "/big.txt", GZ + f"If-None-Match: {gztag}\r\n")[0] == 200
    status, h304, _ = _get(site.port, "/big.txt", GZ + f"If-None-Match: {plain}\r\n")
    assert status == 304 and h304["etag"] == plain and "vary" not in h304
    assert _get(site.port, "/big.txt", GZ + f"Range: bytes=0-9\r\nIf-Range: {gztag}\r\n")[0] == 206
    status, h, body = _get(site.port, "/big.txt", GZ + f"Range: bytes=0-9\r\nIf-Range: {plain}\r\n")
    assert status == 200 and gzip.decompress(body) == TEXT


def test_environment_variables(tmp_path: Path) -> None:
    www = tmp_path / "www"
    extra = (f"<Directory {www}/sub>\n SetEnv no-gzip 1\n</Directory>\n"
             f"<Files page.html>\n SetEnv gzip-only-text/html 1\n</Files>\n"
             f"<Files big.txt>\n SetEnv force-gzip yes\n</Files>\n")
    srv = FastcoreThread(_site(tmp_path, extra))
    try:
        _, h, body = _get(srv.port, "/sub/s.txt", GZ)
        assert "vary" not in h and body == TEXT[:4000]
        _, h, body = _get(srv.port, "/page.html", GZ)
        assert h["content-encoding"] == "gzip"
        _, h, body = _get(srv.port, "/big.txt")  # force-gzip: no Accept-Encoding needed
        assert h["content-encoding"] == "gzip" and gzip.decompress(body) == TEXT
    finally:
        srv.stop()


def test_gzip_only_text_html_spares_other_types(tmp_path: Path) -> None:
    srv = FastcoreThread(_site(tmp_path, "SetEnv gzip-only-text/html 1\n"))
    try:
        _, h, body = _get(srv.port, "/big.txt", GZ)
        assert "vary" not in h and body == TEXT
        _, h, body = _get(srv.port, "/page.html", GZ)
        assert h["content-encoding"] == "gzip"
    finally:
        srv.stop()


def test_mime_addoutputfilter_and_removeoutputfilter(tmp_path: Path) -> None:
    www = tmp_path / "www"
    extra = (f"AddOutputFilter DEFLATE css\n<Directory {www}/sub>\n RemoveOutputFilter css\n"
             "</Directory>\n")
    srv = FastcoreThread(_site(tmp_path, extra))
    try:
        (www / "top.css").write_bytes(TEXT[:4000])
        _, h, body = _get(srv.port, "/top.css", GZ)
        assert h["content-encoding"] == "gzip" and gzip.decompress(body) == TEXT[:4000]
        _, h, body = _get(srv.port, "/sub/s.css", GZ)
        assert "content-encoding" not in h and body == TEXT[:4000]
    finally:
        srv.stop()


def test_level_window_memlevel_make_the_same_bytes_as_zlib(tmp_path: Path) -> None:
    srv = FastcoreThread(_site(tmp_path, "DeflateCompressionLevel 1\nDeflateWindowSize 10\n"
                                         "DeflateMemLevel 2\nDeflateAlterEtag NoChange\n"))
    try:
        _, h, body = _get(srv.port, "/big.txt", GZ)
    finally:
        srv.stop()
    c = zlib.compressobj(1, zlib.DEFLATED, -10, 2)
    raw = c.compress(TEXT) + c.flush()
    assert body[10:-8] == raw
    assert body[-8:] == zlib.crc32(TEXT).to_bytes(4, "little") + len(TEXT).to_bytes(4, "little")
    assert not h["etag"].endswith('-gzip"')


def test_alter_etag_remove(tmp_path: Path) -> None:
    srv = FastcoreThread(_site(tmp_path, "DeflateAlterEtag Remove\n"))
    try:
        _, h, _ = _get(srv.port, "/big.txt", GZ)
        _, hp, _ = _get(srv.port, "/big.txt")
    finally:
        srv.stop()
    assert "etag" not in h and "etag" in hp


def test_filter_notes_reach_the_access_log(tmp_path: Path) -> None:
    srv = FastcoreThread(_site(tmp_path, "DeflateFilterNote ratio\nDeflateFilterNote Input in\n"
                                         "DeflateFilterNote OUTPUT out\n"))
    try:
        _, _, body = _get(srv.port, "/big.txt", GZ)
        _get(srv.port, "/big.txt")
    finally:
        srv.stop()
    time.sleep(0.2)
    lines = (tmp_path / "access_log").read_text().splitlines()
    out = len(body) - 18
    assert lines == [f"/big.txt {out * 100 // len(TEXT)} {len(TEXT)} {out}", "/big.txt - - -"]


def test_a_file_is_compressed_once_per_identity(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = store.gzip_bytes
    monkeypatch.setattr(store, "gzip_bytes", lambda d, p: calls.append(len(d)) or real(d, p))
    monkeypatch.setattr(store, "STORE", store.Store())
    srv = FastcoreThread(_site(tmp_path))
    try:
        bodies = [_get(srv.port, "/big.txt", GZ)[2] for _ in range(4)]
        target = tmp_path / "www" / "big.txt"
        target.write_bytes(TEXT + b"changed\n")
        changed = _get(srv.port, "/big.txt", GZ)[2]
    finally:
        srv.stop()
    assert len(set(bodies)) == 1 and calls[0] == len(TEXT)
    assert calls == [len(TEXT), len(TEXT) + 8]  # once, then once for the new identity
    assert gzip.decompress(changed) == TEXT + b"changed\n"


def test_store_is_bounded() -> None:
    s = store.Store(limit=1000)
    p = store.Params("gzip", 6, 15, 9)
    for i in range(10):
        s.put(store.FileKey(f"/f{i}", i, 1, 1, 1, p), store.Compressed(b"x" * 300, 1, 1))
    assert s.used <= 1000 and len(s) == 3
    assert s.get(store.FileKey("/f9", 9, 1, 1, 1, p)) is not None
    assert s.get(store.FileKey("/f0", 0, 1, 1, 1, p)) is None


@pytest.mark.parametrize("value,ok", [
    ("gzip", True), ("GZIP", True), ("x-gzip", False), ("gzip;q=0", False),
    ("gzip; q=0", False), ("gzip;q=0.", False), ("gzip;q=0.0", False),
    ("gzip;q=0.000", False), ("gzip;q=0.0000", True), ("gzip;q=0.001", True),
    ("gzip;Q=0", True), ("gzip;q=", True), ("deflate, gzip", True),
    ("deflate;q=1;level=2, gzip;q=0.5", True), ("deflate", False), ("*", False),
    ("", False), (None, False), ("identity, br", False), ('"gzip", gzip', True),
    ("gzip, deflate;q=0", True),
])
def test_accept_encoding_as_mod_deflate_reads_it(value: str | None, ok: bool) -> None:
    assert accepts_gzip(value) is ok


def test_get_token_is_ap_get_tokens() -> None:
    assert get_token("  gzip ;q=1", 0, False) == ("gzip", 7)
    assert get_token('"a,b" ,c', 0, False) == ('"a,b"', 6)
    assert get_token("q = 0 , x", 0, True) == ("q = 0 ", 6)


def test_altered_etag() -> None:
    assert altered_etag('"abc"', "addsuffix") == '"abc-gzip"'
    assert altered_etag('W/"abc"', "addsuffix") == 'W/"abc-gzip"'
    assert altered_etag('""', "addsuffix") == '""'
    assert altered_etag('"abc"', "nochange") == '"abc"'
    assert altered_etag('"abc"', "remove") is None


def test_server_records(tmp_path: Path) -> None:
    c = cfg(tmp_path, LOAD + "DeflateCompressionLevel 3\nDeflateBufferSize 100\n"
            "DeflateFilterNote r\n<VirtualHost 127.0.0.1:18080>\n ServerName v\n"
            " DeflateMemLevel 4\n</VirtualHost>\n")
    main = deflate_server(c.main)
    assert (main.level, main.buffer_size, main.note_ratio) == (3, 100, "r")
    vh = deflate_server(c.vhosts[0])
    assert vh.mem_level == 4 and vh.level == 6  # no server merge in mod_deflate
    assert DeflateServer().merge(DeflateServer(level=2)).level == 2


def test_unloaded_module_directives_are_invalid_commands(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Invalid command 'DeflateCompressionLevel', "
                                          "perhaps misspelled"):
        cfg(tmp_path, "DeflateCompressionLevel 5\n")
    with pytest.raises(ConfigError, match="Invalid command 'DeflateInflateLimitRequestBody'"):
        cfg(tmp_path, LOAD + "DeflateInflateLimitRequestBody 10\n")


def test_vary_is_merged_as_the_client_sees_it() -> None:
    """apr_table_mergen, then the header filter's fix_vary: each name once, ','."""
    from fastcore.modules.mod_deflate.filter import add_vary

    h = [("ETag", '"x"'), ("Content-Range", "bytes 0-1/2")]
    add_vary(h, "Accept-Encoding", before="Content-Range")
    assert h == [("ETag", '"x"'), ("Vary", "Accept-Encoding"), ("Content-Range", "bytes 0-1/2")]
    h = [("Vary", "User-Agent, accept-encoding"), ("X", "1"), ("Vary", "Cookie")]
    add_vary(h, "Accept-Encoding")
    assert h == [("Vary", "User-Agent,accept-encoding,Cookie"), ("X", "1")]


def test_when_httpd_streams_the_compressed_body() -> None:
    """deflate_out_filter passes a full 8096-byte buffer on when input of the bucket
    remains: for incompressible text that starts once zlib's 64 KiB window is full
    (measured on Apache: 65536 bytes of base64 keep a Content-Length, 65537 do not)."""
    import base64
    import random

    from fastcore.modules.mod_deflate.streaming import MMAP_LIMIT, READ_SIZE, gzip_streams

    data = base64.b64encode(random.Random(5).randbytes(60_000))
    assert not gzip_streams(data[:65536], 6, 15, 9, 8096, MMAP_LIMIT)
    assert gzip_streams(data[:65537], 6, 15, 9, 8096, MMAP_LIMIT)
    assert not gzip_streams(TEXT, 6, 15, 9, 8096, MMAP_LIMIT)
    # 8000-byte reads (EnableMMAP Off): the first block comes out with input left
    assert gzip_streams(data[:60000], 6, 15, 9, 1024, READ_SIZE)
    assert not gzip_streams(data[:60000], 6, 15, 9, 8096, MMAP_LIMIT)


def test_a_streamed_answer_has_no_length(tmp_path: Path) -> None:
    import base64
    import random

    srv = FastcoreThread(_site(tmp_path))
    try:
        noise = base64.b64encode(random.Random(9).randbytes(90_000))
        (tmp_path / "www" / "noise.txt").write_bytes(noise)
        s11, h11, b11 = _get(srv.port, "/noise.txt", GZ)
        s10, h10, b10 = _get(srv.port, "/noise.txt", GZ, proto="HTTP/1.0")
        sh, hh, _ = _get(srv.port, "/noise.txt", GZ, method="HEAD")
        sr, hr, br = _get(srv.port, "/noise.txt", GZ + "Range: bytes=0-9\r\n")
    finally:
        srv.stop()
    assert s11 == s10 == sh == sr == 200
    assert h11["transfer-encoding"] == "chunked" and "content-length" not in h11
    assert "content-length" not in h10 and "transfer-encoding" not in h10
    assert "content-length" not in hh and hh["content-encoding"] == "gzip"
    assert gzip.decompress(b11) == gzip.decompress(b10) == gzip.decompress(br) == noise


@pytest.mark.parametrize("extra", [
    "Accept-Encoding: " + ";" * 5000 + "gzip\r\n",
    "Accept-Encoding: \"gzip\r\n",
    "Accept-Encoding: gzip;q=\"0\r\n",
    "Accept-Encoding: \xff\xfe, gzip\r\n",
    "Accept-Encoding: gzip\r\nRange: bytes=" + ",".join(f"{i}-{i}" for i in range(500)) + "\r\n",
    "Accept-Encoding: gzip\r\nRange: bytes=-0\r\n",
    "Accept-Encoding: gzip\r\nRange: bytes=99999999999999999999-\r\n",
    "Accept-Encoding: gzip\r\nIf-Range: \"\r\nRange: bytes=0-1\r\n",
])
def test_hostile_headers_get_an_answer(site: FastcoreThread, extra: str) -> None:
    req = f"GET /big.txt HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
    got = parse_responses(raw_request(site.port, req.encode("latin-1")))
    assert got and got[0][0] in (200, 206, 416)
    status, h, body = got[0]
    if status == 200 and h.get("content-encoding") == "gzip":
        assert gzip.decompress(body) == TEXT
    # and the server still answers
    assert _get(site.port, "/big.txt", GZ)[0] == 200


def test_a_file_that_vanishes_is_not_a_traceback(tmp_path: Path, monkeypatch) -> None:
    """The file is gone between the handler's stat and the filter's read: the
    filter leaves the answer alone and the core reports the missing file."""
    monkeypatch.setattr(store, "STORE", store.Store())
    srv = FastcoreThread(_site(tmp_path))
    real = store.compressed_file

    def vanish(path, *a, **kw):
        os.unlink(path)
        return real(path, *a, **kw)

    monkeypatch.setattr("fastcore.modules.mod_deflate.filter.compressed_file", vanish)
    try:
        status, _, _ = _get(srv.port, "/big.txt", GZ)
        status2, _, _ = _get(srv.port, "/page.html", GZ)
    finally:
        srv.stop()
    assert status == 404 and status2 == 404


def test_a_same_size_rewrite_within_one_mtime_is_seen(tmp_path: Path) -> None:
    """The store's key has the ctime as the core's caches do: a rewrite of the same
    size whose mtime is put back (or falls in the same tick) is compressed anew."""
    srv = FastcoreThread(_site(tmp_path))
    target = tmp_path / "www" / "big.txt"
    try:
        first = _get(srv.port, "/big.txt", GZ)[2]
        st = target.stat()
        swapped = TEXT[::-1]  # the same length, other bytes
        target.write_bytes(swapped)
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert (target.stat().st_size, target.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
        second = _get(srv.port, "/big.txt", GZ)[2]
    finally:
        srv.stop()
    assert gzip.decompress(first) == TEXT
    assert gzip.decompress(second) == swapped
