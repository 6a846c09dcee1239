"""Cached rewrite outcomes (mod_rewrite/cache.py) against real Apache: h5bp's recipes (www
stripping, and www forcing, which h5bp skips on the loopback address) and a redirect list
in server context, each request asked three times (the repeats from fastcore's
caches), with files a condition tests created and removed between requests; statuses,
fields (Location, ETag, Content-Type...) and bodies compared step by step."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from support.apache_oracle import BASE_MODULES, ApacheOracle
from support.wire import Answer, answer_fields, raw_request

RULES = r"""RewriteEngine On
RewriteCond %{HTTPS} =on
RewriteRule ^ - [env=proto:https]
RewriteCond %{HTTPS} !=on
RewriteRule ^ - [env=proto:http]
RewriteCond %{HTTPS} !=on
RewriteCond %{HTTP_HOST} ^www\.(.+)$ [NC]
RewriteRule ^ %{ENV:PROTO}://%1%{REQUEST_URI} [R=301,L]
RewriteCond %{HTTPS} !=on
RewriteCond %{HTTP_HOST} !^www\. [NC]
RewriteCond %{SERVER_ADDR} !=127.0.0.1
RewriteCond %{SERVER_ADDR} !=::1
RewriteRule ^ %{ENV:PROTO}://www.%{HTTP_HOST}%{REQUEST_URI} [R=301,L]
RewriteCond %{DOCUMENT_ROOT}%{REQUEST_URI} !-f
RewriteRule ^(.+)\.(\w+)\.(bmp|css|cur|gif|ico|jpe?g|m?js|png|svgz?|webp|webmanifest)$ $1.$3 [L]
RewriteRule ^/old/path1$ /new/path1 [R=301,L]
RewriteRule ^/old/path2$ /new/path2?x=1 [R=302,L]
RewriteRule ^/old/path3$ /new/path3 [R=301,L]
RewriteCond %{DOCUMENT_ROOT}/moved -d
RewriteRule ^/m$ /elsewhere [R=302]
RewriteCond %{DOCUMENT_ROOT}/maint.html -s
RewriteRule ^/a\.html$ /maint.html [L]
"""


# one event process: each repeat meets the process whose caches hold the outcome
ONE_PROCESS = """StartServers 1
ServerLimit 1
ThreadsPerChild 4
MaxRequestWorkers 4
MinSpareThreads 1
MaxSpareThreads 4"""


def _file(p: Path, data: bytes) -> None:
    p.write_bytes(data)
    os.utime(p, (1_600_000_000, 1_600_000_000))  # strong ETags on both sides


def _ask(port: int, method: str, target: str, host: str) -> Answer:
    return answer_fields(raw_request(port, f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"
                                     "Connection: close\r\n\r\n".encode()))


def test_cached_outcomes_answer_as_apache(tmp_path: Path) -> None:
    doc = tmp_path / "htdocs"
    doc.mkdir()
    _file(doc / "a.html", b"<p>a</p>\n")
    _file(doc / "s.css", b"body{}\n")
    busted = doc / "s.123.css"
    maint = doc / "maint.html"
    site = f"""{ONE_PROCESS}
DocumentRoot "{doc}"
<Directory />
    Options FollowSymLinks
    AllowOverride None
</Directory>
<Directory "{doc}">
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
{RULES}"""
    steps: list[tuple[Callable[[], object] | None, str, str, str]] = [
        (None, "GET", "/s.123.css", "x"),
        (lambda: _file(busted, b"own\n"), "GET", "/s.123.css", "x"),
        (busted.unlink, "GET", "/s.123.css", "x"),
        (None, "GET", "/old/path1", "x"),
        (None, "GET", "/old/path2?q=a%20b", "x"),
        (None, "HEAD", "/old/path3", "x"),
        (None, "GET", "/old/path3", "x"),
        (None, "GET", "/a.html", "www.x"),
        (None, "GET", "/a.html?k=v", "WWW.x"),
        (None, "GET", "/a.html", "x"),
        (lambda: _file(maint, b"maintenance\n"), "GET", "/a.html", "x"),
        (lambda: _file(maint, b""), "GET", "/a.html", "x"),  # -s: an empty file fails it
        (maint.unlink, "GET", "/a.html", "x"),
        (None, "GET", "/m", "x"),
        (lambda: (doc / "moved").mkdir(), "GET", "/m", "x"),
        (lambda: (doc / "moved").rmdir(), "GET", "/m", "x"),
    ]
    _compare(tmp_path, site, steps)


Step = tuple[Callable[[], object] | None, str, str, str]


def _compare(tmp: Path, site: str, steps: list[Step]) -> None:
    """Each step's change, then its request three times to both servers, compared."""
    fc_run, ap_run = tmp / "fc", tmp / "ap"
    fc_run.mkdir()
    ap_run.mkdir()
    modules = ("mpm_event", *(m for m in BASE_MODULES if m != "mpm_prefork"), "rewrite")
    with ApacheOracle(str(ap_run), site, modules=modules) as ap, \
            ApacheOracle(str(fc_run), site, modules=modules, fastcore=True) as fc:
        for change, method, target, host in steps:
            if change is not None:
                change()
            for _ in range(3):  # the first answer, then the cached ones
                want = _ask(ap.port, method, target, host)
                got = _ask(fc.port, method, target, host)
                assert got == want, (method, target, host)


def test_directory_rules_answer_as_apache(tmp_path: Path) -> None:
    """h5bp's cache busting in <Directory> form (%{REQUEST_FILENAME} is the file there),
    a per-directory redirect with RewriteBase, the internal redirect's answer cached for
    the original target."""
    doc = tmp_path / "htdocs"
    (doc / "css").mkdir(parents=True)
    _file(doc / "css" / "s.css", b"body{}\n")
    busted = doc / "css" / "s.123.css"
    gone = doc / "css" / "gone"
    site = f"""{ONE_PROCESS}
DocumentRoot "{doc}"
<Directory />
    Options FollowSymLinks
    AllowOverride None
</Directory>
<Directory "{doc}">
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
<Directory "{doc}/css">
    RewriteEngine On
    RewriteBase /css/
    RewriteCond %{{REQUEST_FILENAME}} !-f
    RewriteRule ^(.+)\\.(\\w+)\\.(css|js)$ $1.$3 [L]
    RewriteCond %{{REQUEST_FILENAME}} !-d
    RewriteRule ^gone$ old/place [R=302,L]
</Directory>"""
    steps: list[Step] = [
        (None, "GET", "/css/s.123.css", "x"),
        (lambda: _file(busted, b"own\n"), "GET", "/css/s.123.css", "x"),
        (busted.unlink, "GET", "/css/s.123.css", "x"),
        (None, "GET", "/css/gone", "x"),
        (gone.mkdir, "GET", "/css/gone", "x"),
        (gone.rmdir, "GET", "/css/gone", "x"),
        (None, "HEAD", "/css/gone", "x"),
    ]
    _compare(tmp_path, site, steps)
