"""mod_deflate and mod_filter against real Apache 2.4: the same httpd.conf
(AddOutputFilterByType, mod_mime's AddOutputFilter/RemoveOutputFilter/AddEncoding,
SetEnv no-gzip / force-gzip / gzip-only-text/html, DeflateFilterNote,
DeflateCompressionLevel) served by apache2 and by fastcore.  Every answer is compared
whole: status, every header but Date/Server (in order), and the body bytes (both sides
use zlib with the same parameters, so the gzip bytes are identical).  Each request is
sent twice, so an answer a cache could serve is compared too; the access-log lines with
the compression notes must match (mod_filter's smart filters are compared in
test_mod_filter_vs_apache.py).  `apache2 -t` and fastcore give the same startup errors for the directives."""
from __future__ import annotations

import base64
import gzip
import os
import random
import subprocess
import time

import pytest
from support.apache_oracle import APACHE, MODDIR, ApacheOracle, both_answers
from support.wire import Answer, answer_fields, raw_request

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "mime", "env", "filter", "deflate")

SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
AddOutputFilterByType DEFLATE text/html text/plain
AddOutputFilterByType DEFLATE;deflate text/css
AddOutputFilter DEFLATE js
AddEncoding gzip gz
DeflateFilterNote Input instream
DeflateFilterNote Output outstream
DeflateFilterNote Ratio ratio
LogFormat "%r %>s %{outstream}n/%{instream}n (%{ratio}n%%) %{Content-Encoding}o" deflate
CustomLog "{run}/access_log" deflate
<Directory "{www}/nogzip">
  SetEnv no-gzip 1
</Directory>
<Directory "{www}/force">
  SetEnv force-gzip 1
</Directory>
<Directory "{www}/htmlonly">
  SetEnv gzip-only-text/html 1
</Directory>
<Directory "{www}/css">
  AddOutputFilterByType DEFLATE text/css
</Directory>
<Directory "{www}/nojs">
  RemoveOutputFilter js
</Directory>
<Directory "{www}/ft">
  ForceType Text/HTML
</Directory>
<Directory "{www}/case">
  AddOutputFilterByType DEFLATE Text/Plain
</Directory>
<Directory "{www}/nommap">
  EnableMMAP Off
</Directory>
<Directory "{www}/setof">
  SetOutputFilter deflate
</Directory>
"""
LEVEL = "DeflateCompressionLevel 1\nDeflateAlterETag {etag}\n"

GZ = "Accept-Encoding: gzip\r\n"
PLAIN_PATHS = ("/big.txt", "/small.txt", "/tiny.txt", "/edge68.txt", "/edge69.txt",
               "/page.html", "/style.css", "/app.js", "/img.png", "/pre.css.gz",
               "/nogzip/n.txt", "/force/f.txt", "/htmlonly/h.txt", "/htmlonly/h.html",
               "/css/c.txt", "/css/c.css", "/nojs/n.js", "/missing.txt", "/empty.txt",
               "/ft/a.txt", "/case/a.txt", "/case/b.html", "/rnd60.txt", "/rnd80.txt",
               "/long.txt", "/nommap/long.txt", "/setof/a.png", "/setof/a.txt")
BIG = ("/rnd80.txt", "/long.txt")
CASES = [
    *(("GET", p, GZ) for p in PLAIN_PATHS),
    *(("GET", p, "") for p in ("/big.txt", "/small.txt", "/force/f.txt", "/img.png")),
    *(("HEAD", p, GZ) for p in ("/big.txt", "/small.txt", "/empty.txt", *BIG)),
    *(("GET", p, GZ + "Range: bytes=0-9\r\n") for p in BIG),
    ("GET", "/small.txt", "Accept-Encoding: x-gzip\r\n"),
    ("GET", "/small.txt", "Accept-Encoding: gzip;q=0\r\n"),
    ("GET", "/small.txt", "Accept-Encoding: gzip; q=0.00\r\n"),
    ("GET", "/small.txt", "Accept-Encoding: gzip;q=0.001\r\n"),
    ("GET", "/small.txt", "Accept-Encoding: deflate, GZIP;q=0.5\r\n"),
    ("GET", "/small.txt", "Accept-Encoding: br;q=1, identity\r\n"),
    ("GET", "/small.txt", "Accept-Encoding: *\r\n"),
    ("GET", "/small.txt", GZ + "Range: bytes=0-9\r\n"),
    ("GET", "/big.txt", GZ + "Range: bytes=5-20,100-150\r\n"),
    ("GET", "/small.txt", "Range: bytes=0-9\r\n"),
    ("GET", "/small.txt", GZ + "Range: bytes=100-110\r\n"),
    ("GET", "/small.txt", GZ + "If-None-Match: {tag}\r\n"),
    ("GET", "/small.txt", GZ + "If-None-Match: {gztag}\r\n"),
    ("GET", "/small.txt", GZ + "If-Match: \"nope\"\r\n"),
    ("GET", "/small.txt", GZ + "Range: bytes=0-9\r\nIf-Range: {gztag}\r\n"),
    ("GET", "/small.txt", GZ + "Range: bytes=0-9\r\nIf-Range: {tag}\r\n"),
    *(("GET", p, GZ + "X-Old: 1\r\n") for p in ("/small.txt", *BIG)),
]


def _site(root: str) -> str:
    www = os.path.join(root, "www")
    rnd = random.Random(7)
    words = ["".join(rnd.choice("abcdefghij") for _ in range(rnd.randint(2, 8)))
             for _ in range(400)]
    text = " ".join(rnd.choice(words) for _ in range(20000))
    files: dict[str, bytes] = {
        "big.txt": text[:100_000].encode(), "small.txt": b"hello world\n" * 10,
        "tiny.txt": b"tiny\n", "edge68.txt": b"x" * 68, "edge69.txt": b"x" * 69,
        "page.html": f"<p>{text[:5000]}</p>".encode(), "style.css": b"body{margin:0}\n" * 20,
        "app.js": b"var a = 1;\n" * 30, "img.png": b"\x89PNG" + bytes(500),
        "pre.css.gz": gzip.compress(b"p{}" * 100, mtime=0), "empty.txt": b"",
        "nogzip/n.txt": text[:3000].encode(), "force/f.txt": text[:3000].encode(),
        "htmlonly/h.txt": text[:3000].encode(), "htmlonly/h.html": text[:3000].encode(),
        "css/c.txt": text[:3000].encode(), "css/c.css": text[:3000].encode(),
        "nojs/n.js": text[:3000].encode(), "ft/a.txt": text[:3000].encode(),
        "case/a.txt": text[:3000].encode(), "case/b.html": text[:3000].encode(),
        # large enough that httpd streams some of them (no Content-Length), or not
        "rnd60.txt": base64.b64encode(rnd.randbytes(45_000)),
        "rnd80.txt": base64.b64encode(rnd.randbytes(60_000)),
        "long.txt": (text * 4)[:300_000].encode(), "nommap/long.txt": text[:70_000].encode(),
        "setof/a.png": text[:2000].encode(), "setof/a.txt": text[:2000].encode(),
    }
    for rel, data in files.items():
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    return www


def _tags(port: int) -> tuple[str, str]:
    got = raw_request(port, b"HEAD /small.txt HTTP/1.0\r\n\r\n")
    tag = [v for k, v in answer_fields(got)[1] if k == "ETag"][0]
    return tag, tag[:-1] + '-gzip"'


def _run(tmp: str, www: str, fastcore: bool, extra: str = "",
         cases: list[tuple[str, str, str]] = CASES) -> tuple[list[Answer], list[str]]:
    run = os.path.join(tmp, "fastcore" if fastcore else "apache")
    os.makedirs(run)
    out = []
    body = SITE.replace("{www}", www).replace("{run}", run) + extra
    with ApacheOracle(run, body, modules=MODULES, fastcore=fastcore) as ap:
        tag, gztag = _tags(ap.port)
        for method, path, hdrs in cases + cases:
            hdrs = hdrs.replace("{tag}", tag).replace("{gztag}", gztag)
            proto = "HTTP/1.0" if "X-Old: 1" in hdrs else "HTTP/1.1"
            req = f"{method} {path} {proto}\r\nHost: localhost\r\n{hdrs}Connection: close\r\n\r\n"
            out.append(answer_fields(raw_request(ap.port, req.encode())))
        time.sleep(0.3)
    with open(os.path.join(run, "access_log")) as fh:
        log = fh.read().splitlines()
    return out, [line for line in log if "/small.txt HTTP/1.0" not in line]


def _multipart_boundary_masked(answers: list[Answer]) -> list[Answer]:
    """A multi-range answer's boundary is random on both sides (and so its length):
    mask it, and its Content-Length once it is checked against the body."""
    out = []
    for status, fields, body in answers:
        for k, v in fields:
            if k == "Content-Type" and "boundary=" in v:
                b = v.split("boundary=", 1)[1]
                assert ("Content-Length", str(len(body))) in fields
                body = body.replace(b.encode(), b"BOUNDARY")
                fields = [(k2, "masked" if k2 == "Content-Length" else
                           v2.replace(b, "BOUNDARY")) for k2, v2 in fields]
        out.append((status, fields, body))
    return out


def test_answers_and_logs_match_apache(tmp_path) -> None:
    www = _site(str(tmp_path))
    a_answers, a_log = _run(str(tmp_path), www, fastcore=False)
    f_answers, f_log = _run(str(tmp_path), www, fastcore=True)
    a_answers = _multipart_boundary_masked(a_answers)
    f_answers = _multipart_boundary_masked(f_answers)
    for case, a, f in zip(CASES + CASES, a_answers, f_answers, strict=True):
        if case[1].endswith(".gz"):  # mod_mime's Content-Encoding: Apache sends it after
            a = (a[0], sorted(a[1]), a[2])  # Content-Type, fastcore's core before (not
            f = (f[0], sorted(f[1]), f[2])  # this module's: the fields are the same)
        assert f == a, case
    assert f_log == a_log
    # not vacuous: Apache compressed, varied, ranged and left alone in these answers
    by_case = dict(zip([f"{m} {p} {h}" for m, p, h in CASES], a_answers[:len(CASES)],
                       strict=True))
    big = by_case[f"GET /big.txt {GZ}"]
    with open(os.path.join(www, "big.txt"), "rb") as fh:
        assert ("Content-Encoding", "gzip") in big[1] and gzip.decompress(big[2]) == fh.read()
    assert ("Vary", "Accept-Encoding") in by_case["GET /small.txt "][1]
    assert not any(k == "Vary" for k, _ in by_case[f"GET /tiny.txt {GZ}"][1])
    assert by_case[f"GET /small.txt {GZ}Range: bytes=0-9\r\n"][0].endswith("206 Partial Content")
    assert ("Content-Encoding", "gzip") in by_case[f"GET /setof/a.png {GZ}"][1]  # SetOutputFilter
    assert any(line.startswith("GET /big.txt HTTP/1.1 200 ") and "(3" in line for line in a_log)


@pytest.mark.parametrize("etag", ["AddSuffix", "NoChange", "Remove"])
def test_level_and_etag_settings_match_apache(tmp_path, etag: str) -> None:
    www = _site(str(tmp_path))
    cases = [("GET", "/big.txt", GZ), ("GET", "/page.html", GZ), ("GET", "/small.txt", "")]
    extra = LEVEL.replace("{etag}", etag)
    a_answers, _ = _run(str(tmp_path), www, False, extra, cases)
    f_answers, _ = _run(str(tmp_path), www, True, extra, cases)
    assert f_answers == a_answers
    assert len(a_answers[0][2]) > 0 and ("Content-Encoding", "gzip") in a_answers[0][1]


def _conf(tmp: str, lines: str, loaded: bool = True) -> str:
    path = os.path.join(tmp, "httpd.conf")
    mods = ("filter", "deflate") if loaded else ()
    with open(path, "w") as fh:
        fh.write(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                 f"LoadModule mime_module {MODDIR}/mod_mime.so\n"
                 + "".join(f"LoadModule {m}_module {MODDIR}/mod_{m}.so\n" for m in mods)
                 + f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nDocumentRoot "{tmp}"\n'
                 f"Listen 127.0.0.1:1\nServerName localhost\n{lines}\n")
    return path


@pytest.mark.parametrize("line,loaded", [
    ("DeflateCompressionLevel 0", True), ("DeflateCompressionLevel 10", True),
    ("DeflateCompressionLevel x", True), ("DeflateWindowSize 16", True),
    ("DeflateWindowSize 0", True), ("DeflateMemLevel 0", True), ("DeflateMemLevel 10", True),
    ("DeflateBufferSize 0", True), ("DeflateBufferSize abc", True),
    ("DeflateFilterNote", True), ("DeflateFilterNote a b c", True),
    ("DeflateFilterNote Foo x", True), ("DeflateAlterETag bogus", True),
    ("DeflateAlterETag", True), ("AddOutputFilterByType DEFLATE", True),
    ("<Directory />\nDeflateCompressionLevel 5\n</Directory>", True),
    ("<Directory />\nDeflateFilterNote ratio\n</Directory>", True),
    ("DeflateCompressionLevel 5", False), ("AddOutputFilterByType DEFLATE text/html", False),
    ("RemoveOutputFilter", True), ("AddOutputFilter DEFLATE", True),
])
def test_refused_with_apaches_message(tmp_path, line: str, loaded: bool) -> None:
    path = _conf(str(tmp_path), line, loaded)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()


@pytest.mark.parametrize("line", [
    "DeflateCompressionLevel 9", "DeflateCompressionLevel 7x", "DeflateWindowSize 9",
    "DeflateMemLevel 1", "DeflateBufferSize 4096", "DeflateFilterNote ratio",
    "DeflateFilterNote INPUT in", "DeflateAlterETag remove",
    "<VirtualHost *:1>\nDeflateCompressionLevel 2\n</VirtualHost>",
    "<Directory />\nAddOutputFilterByType DEFLATE;deflate text/html text/css\n</Directory>",
])
def test_accepted_as_apache_accepts(tmp_path, line: str) -> None:
    path = _conf(str(tmp_path), line)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode == 0, apache.stderr
    load(path)


H5BP = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
AddOutputFilterByType DEFLATE text/css text/html text/javascript application/json
AddEncoding gzip svgz
<FilesMatch "\\.gz$">
  RemoveType gz
  AddType text/css css.gz
  AddType text/javascript js.gz
  AddType application/json json.gz
  AddCharset utf-8 .css.gz .js.gz .json.gz
</FilesMatch>
AddEncoding gzip .gz
<FilesMatch "\\.br$">
  AddType text/css css.br
  AddCharset utf-8 .css.br
</FilesMatch>
AddEncoding br .br
"""


def test_h5bp_precompressed_names_match_apache(tmp_path) -> None:
    """h5bp's pre-compressed recipes without their mod_rewrite part: `app.css.gz`,
    `app.css.br`, `image.svgz` asked for by name get mod_mime's Content-Type and
    Content-Encoding, and DEFLATE leaves them alone (no Vary, no second gzip)."""
    www = os.path.join(str(tmp_path), "www")
    os.makedirs(www)
    css = b"body { color: #333 }\n" * 200
    files = {"app.css": css, "app.css.gz": gzip.compress(css, mtime=0),
             "app.css.br": b"\x1b\x10\x00" + css[:50], "app.js.gz": gzip.compress(css, mtime=0),
             "data.json.gz": gzip.compress(b"{}" * 100, mtime=0),
             "image.svgz": gzip.compress(b"<svg/>" * 50, mtime=0)}
    for name, data in files.items():
        with open(os.path.join(www, name), "wb") as fh:
            fh.write(data)
        os.utime(os.path.join(www, name), (1_700_000_000, 1_700_000_000))
    cases = [("GET", "/" + n, "Accept-Encoding: gzip, br\r\n") for n in files]
    got = both_answers(str(tmp_path), H5BP.replace("{www}", www), MODULES, cases)
    for case, a, f in zip(cases + cases, got[False], got[True], strict=True):
        # mod_mime's Content-Encoding comes after Content-Type in Apache (see above)
        assert (f[0], sorted(f[1]), f[2]) == (a[0], sorted(a[1]), a[2]), case
    by_name = dict(zip(files, got[False], strict=False))
    # RemoveType gz leaves css's type; `AddCharset utf-8 .css.gz` never matches (mod_mime
    # looks each extension up alone), in Apache as in fastcore
    assert ("Content-Type", "text/css") in by_name["app.css.gz"][1]
    assert ("Content-Encoding", "gzip") in by_name["app.css.gz"][1]
    assert ("Content-Encoding", "br") in by_name["app.css.br"][1]
    assert ("Content-Encoding", "gzip") in by_name["app.css"][1]  # DEFLATE's
    assert not any(k == "Vary" for k, _ in by_name["app.css.gz"][1])


WITH_HEADERS = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
AddOutputFilterByType DEFLATE text/plain
<Directory "{www}/set">
  Header set Vary X-Foo
</Directory>
<Directory "{www}/append">
  Header append Vary User-Agent
</Directory>
<Directory "{www}/edit">
  Header edit ETag gzip zip
</Directory>
"""


def test_deflate_runs_before_mod_headers_as_in_apache(tmp_path) -> None:
    """httpd puts DEFLATE before mod_headers' output filter: `Header set Vary` replaces
    DEFLATE's Vary, `Header append Vary` comes after it, `Header edit ETag` sees -gzip."""
    www = os.path.join(str(tmp_path), "www")
    for d in ("set", "append", "edit"):
        os.makedirs(os.path.join(www, d))
        with open(os.path.join(www, d, "a.txt"), "wb") as fh:
            fh.write(b"headers and deflate\n" * 100)
        os.utime(os.path.join(www, d, "a.txt"), (1_700_000_000, 1_700_000_000))
    cases = [("GET", f"/{d}/a.txt", ae) for d in ("set", "append", "edit") for ae in (GZ, "")]
    got = both_answers(str(tmp_path), WITH_HEADERS.replace("{www}", www),
                       (*MODULES, "headers"), cases)
    for case, a, f in zip(cases + cases, got[False], got[True], strict=True):
        assert f == a, case
    fields = [dict(a[1]) for a in got[False]]
    assert fields[0]["Vary"] == "X-Foo" and fields[0]["Content-Encoding"] == "gzip"
    assert fields[2]["Vary"] == "Accept-Encoding,User-Agent"
    assert fields[4]["ETag"].endswith('-zip"')


def test_a_compressed_listing_matches_apache(tmp_path) -> None:
    """mod_autoindex's listing through DEFLATE: the same gzip bytes and fields (the
    listing itself is mod_autoindex's, compared in its own tests)."""
    www = os.path.join(str(tmp_path), "www")
    os.makedirs(os.path.join(www, "list"))
    for i in range(40):
        path = os.path.join(www, "list", f"file-{i:03}.txt")
        with open(path, "w") as fh:
            fh.write(f"file {i}\n")
        os.utime(path, (1_700_000_000, 1_700_000_000))
    os.utime(os.path.join(www, "list"), (1_700_000_000, 1_700_000_000))
    site = (f'DocumentRoot "{www}"\n<Directory "{www}">\n  Require all granted\n'
            "  Options +Indexes\n</Directory>\nAddOutputFilterByType DEFLATE text/html\n")
    cases = [("GET", "/list/", GZ), ("GET", "/list/?C=S;O=D", GZ), ("GET", "/list/", "")]
    got = both_answers(str(tmp_path), site, (*MODULES, "autoindex"), cases, host="localhost")
    for case, a, f in zip(cases + cases, got[False], got[True], strict=True):
        assert f == a, case
    assert ("Content-Encoding", "gzip") in got[False][0][1]
    assert b"file-039.txt" in gzip.decompress(got[False][0][2])
