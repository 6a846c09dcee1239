"""mod_brotli against real Apache 2.4: BROTLI_COMPRESS by type and by extension, with
DEFLATE in the same chains (the first configured that compresses wins), no-brotli,
q=0, the empty body, HEAD and Range, BrotliFilterNote and the Brotli* settings.  Answers
are compared whole (fields in order, body bytes: the brotli library makes the same
bytes), each request twice; the access-log lines must match; `apache2 -t` and fastcore
give the same startup errors."""
from __future__ import annotations

import base64
import os
import random
import subprocess
import time

import brotli
import pytest
from support.apache_oracle import APACHE, MODDIR, ApacheOracle
from support.wire import raw_request

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "mime", "env", "filter", "deflate", "brotli")
SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
AddOutputFilterByType DEFLATE;BROTLI_COMPRESS text/html
AddOutputFilterByType BROTLI_COMPRESS text/plain
AddOutputFilterByType BROTLI_COMPRESS;DEFLATE text/css
AddOutputFilter BROTLI_COMPRESS js
BrotliFilterNote Input bin
BrotliFilterNote Output bout
BrotliFilterNote bratio
LogFormat "%r %>s %{bout}n/%{bin}n (%{bratio}n)" br
CustomLog "{run}/access_log" br
<Directory "{www}/nobr">
  SetEnv no-brotli 1
</Directory>
{extra}
"""
BR = "Accept-Encoding: br\r\n"
CASES = [
    ("GET", "/a.txt", BR), ("GET", "/a.txt", ""), ("GET", "/a.txt", "Accept-Encoding: gzip\r\n"),
    ("GET", "/a.txt", "Accept-Encoding: br;q=0\r\n"), ("GET", "/a.txt", "Accept-Encoding: BR\r\n"),
    ("GET", "/page.html", "Accept-Encoding: br, gzip\r\n"),
    ("GET", "/page.html", BR), ("GET", "/page.html", "Accept-Encoding: deflate\r\n"),
    ("GET", "/app.js", BR), ("GET", "/empty.txt", BR), ("GET", "/tiny.txt", BR),
    ("HEAD", "/a.txt", BR), ("GET", "/nobr/n.txt", BR), ("GET", "/a.txt", BR + "Range: bytes=0-4\r\n"),
    ("GET", "/missing.txt", BR), ("GET", "/s.css", "Accept-Encoding: gzip, br\r\n"),
    ("GET", "/s.css", "Accept-Encoding: gzip\r\n"), ("GET", "/s.css", "Accept-Encoding: x\r\n"),
    ("GET", "/big.txt", BR), ("HEAD", "/big.txt", BR), ("GET", "/big.txt", BR + "Range: bytes=0-9\r\n"),
]


def _site(root: str) -> str:
    www = os.path.join(root, "www")
    body = b"".join(b"brotli line %d for a text file\n" % i for i in range(800))
    for rel, data in (("a.txt", body), ("page.html", b"<p>" + body + b"</p>"),
                      ("app.js", body[:2000]), ("s.css", body[:3000]), ("empty.txt", b""),
                      # big enough that the encoder has output before the end: streamed
                      ("big.txt", base64.b64encode(random.Random(3).randbytes(700_000))), ("tiny.txt", b"t\n"),
                      ("nobr/n.txt", body)):
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    return www


def _answer(data: bytes) -> tuple[str, list[tuple[str, ...]], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = [tuple(x.split(": ", 1)) for x in lines[1:]
              if not x.startswith(("Date:", "Server:"))]
    if ("Transfer-Encoding", "chunked") in fields:  # the servers cut chunks differently
        data, body = body, b""
        while True:
            size, _, data = data.partition(b"\r\n")
            n = int(size or b"0", 16)
            if n == 0:
                break
            body, data = body + data[:n], data[n + 2:]
    return lines[0], fields, body


def _run(tmp: str, www: str, fastcore: bool, extra: str = ""):
    run = os.path.join(tmp, ("fastcore" if fastcore else "apache") + str(len(extra)))
    os.makedirs(run)
    out = []
    site = SITE.replace("{www}", www).replace("{run}", run).replace("{extra}", extra)
    with ApacheOracle(run, site, modules=MODULES, fastcore=fastcore) as ap:
        for method, path, hdrs in CASES + CASES:
            req = f"{method} {path} HTTP/1.1\r\nHost: x\r\n{hdrs}Connection: close\r\n\r\n"
            out.append(_answer(raw_request(ap.port, req.encode())))
        time.sleep(0.3)
    with open(os.path.join(run, "access_log")) as fh:
        return out, fh.read().splitlines()


@pytest.mark.parametrize("extra", ["", "BrotliCompressionQuality 9\nBrotliCompressionWindow 12\n"
                                       "BrotliCompressionMaxInputBlock 16\n"
                                       "BrotliAlterETag Remove\n"])
def test_answers_and_logs_match_apache(tmp_path, extra: str) -> None:
    www = _site(str(tmp_path))
    a, a_log = _run(str(tmp_path), www, False, extra)
    f, f_log = _run(str(tmp_path), www, True, extra)
    for case, x, y in zip(CASES + CASES, a, f, strict=True):
        assert y == x, case
    assert f_log == a_log
    first = a[0]
    assert ("Content-Encoding", "br") in first[1]
    with open(os.path.join(www, "a.txt"), "rb") as fh:
        assert brotli.decompress(first[2]) == fh.read()


def _conf(tmp: str, line: str) -> str:
    path = os.path.join(tmp, "httpd.conf")
    with open(path, "w") as fh:
        fh.write(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                 f"LoadModule brotli_module {MODDIR}/mod_brotli.so\n"
                 f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nDocumentRoot "{tmp}"\n'
                 f"Listen 127.0.0.1:1\nServerName localhost\n{line}\n")
    return path


@pytest.mark.parametrize("line", [
    "BrotliCompressionQuality 12", "BrotliCompressionQuality -1", "BrotliCompressionWindow 9",
    "BrotliCompressionWindow 25", "BrotliCompressionMaxInputBlock 15",
    "BrotliCompressionMaxInputBlock 0", "BrotliAlterETag x", "BrotliFilterNote Foo bar",
    "BrotliFilterNote", "<Directory />\nBrotliCompressionQuality 3\n</Directory>",
])
def test_refused_with_apaches_message(tmp_path, line: str) -> None:
    path = _conf(str(tmp_path), line)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()
