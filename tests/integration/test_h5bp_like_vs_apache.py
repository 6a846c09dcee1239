"""An .htaccess in the style of the HTML5 Boilerplate's Apache server configs (the
rules of theirs that need only the modules Debian loads by default: custom 404, charset
and media types, Options -MultiViews -Indexes, blocked backup/source files, FileETag
None, ServerSignature Off; their mod_headers / mod_expires / mod_rewrite / mod_deflate
parts sit in <IfModule> and drop out as in Apache without those modules).  Real Apache
and fastcore serve the same site from the same httpd.conf; each path is asked twice
(the second answer of a plain file comes from fastcore's cache) and the answers must
agree: status, every header but Date and Server, the body.  Forms taken from h5bp's real
httpd.conf and vhosts: `Protocols h2 http/1.1` (Upgrade announced), a pre-compressed
`.br` file under <FilesMatch> with RemoveLanguage."""
from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support.apache_oracle import ApacheOracle
from support.wire import parse_responses, raw_request

MODULES = ("mpm_event", "authz_core", "authz_host", "mime", "dir", "alias", "autoindex",
           "negotiation", "env", "reqtimeout")
WHEN = 1_700_000_000

HTACCESS = r"""# HTML5-Boilerplate-style rules (the ones Debian's default modules can honour)
ErrorDocument 404 /404.html
<IfModule mod_autoindex.c>
    Options -Indexes
</IfModule>
Options -MultiViews
AddDefaultCharset utf-8
<IfModule mod_mime.c>
    AddType application/manifest+json   webmanifest
    AddType image/svg+xml               svg svgz
    AddType text/markdown               md
    AddEncoding gzip                    svgz
    AddCharset utf-8 .css .js .json .md .mjs .webmanifest .xml
    # pre-compressed brotli files, with Debian's Breton language for .br dropped
    AddLanguage br .br
    AddEncoding br .br
    <FilesMatch "\.br$">
        RemoveLanguage .br
        AddType text/css css.br
        AddCharset utf-8 .css.br
    </FilesMatch>
</IfModule>
<IfModule mod_rewrite.c>
    RewriteEngine On
    RewriteRule "(^|/)\.(?!well-known/)" - [F]
</IfModule>
<FilesMatch "(^#.*#|\.(bak|conf|dist|fla|in[ci]|log|orig|psd|sh|sql|sw[op])|~)$">
    Require all denied
</FilesMatch>
<IfModule mod_headers.c>
    Header unset ETag
    Header always set X-Content-Type-Options "nosniff"
</IfModule>
FileETag None
<IfModule mod_expires.c>
    ExpiresActive on
    ExpiresDefault "access plus 1 month"
</IfModule>
<IfModule mod_deflate.c>
    AddOutputFilterByType DEFLATE text/html text/css
</IfModule>
"""

FILES = {
    "index.html": "<!doctype html><title>h5bp-like</title><p>home</p>\n",
    "404.html": "<!doctype html><title>Page Not Found</title><p>Sorry.</p>\n",
    "css/style.css": "body { color: #222; }\n",
    "js/app.mjs": "export const x = 1;\n",
    "data.json": '{"a": 1}\n',
    "site.webmanifest": '{"name": "x"}\n',
    "readme.md": "# readme\n",
    "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>\n",
    "notes.bak": "old\n",
    "deploy.sh": "#!/bin/sh\n",
    "page.html~": "editor backup\n",
    "#draft#": "emacs autosave\n",
    "empty/.keep": "",
    "feed.xml": "<rss/>\n",
    "css/style.css.br": "\x0b\x02\x80body{}\x03",
    "lang.br": "breton\n",
}

PATHS = ["/", "/index.html", "/css/style.css", "/js/app.mjs", "/data.json",
         "/site.webmanifest", "/readme.md", "/img/logo.svg", "/img/logo.svgz",
         "/notes.bak", "/deploy.sh", "/page.html~", "/%23draft%23", "/empty/", "/empty",
         "/no-such-page", "/css/missing.css", "/feed.xml", "/index", "/.htaccess",
         "/.well-known/none", "/css/style.css.br", "/lang.br"]


@dataclass
class Sites:
    apache: ApacheOracle
    fastcore: ApacheOracle


def _write_site(www: str) -> None:
    for rel, text in {**FILES, ".htaccess": HTACCESS}.items():
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
        os.utime(path, (WHEN, WHEN))
    with open(os.path.join(www, "img", "logo.svgz"), "wb") as fh:
        fh.write(gzip.compress(FILES["img/logo.svg"].encode(), mtime=0))
    os.utime(os.path.join(www, "img", "logo.svgz"), (WHEN, WHEN))
    for d, _dirs, files in os.walk(www):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)


SITE = """
StartServers 1
MinSpareThreads 5
MaxSpareThreads 10
ThreadsPerChild 5
MaxRequestWorkers 10
DocumentRoot "{www}"
<Directory "{www}">
    Options Indexes FollowSymLinks MultiViews
    AllowOverride All
    Require all granted
</Directory>
<FilesMatch "^\\.ht">
    Require all denied
</FilesMatch>
ServerSignature On
# h5bp's httpd.conf: the first answer of a connection announces h2 (Upgrade)
Protocols h2 http/1.1
"""


@pytest.fixture(scope="module")
def sites(www_dir: str) -> Iterator[Sites]:
    www = os.path.join(www_dir, "www")
    _write_site(www)
    body = SITE.replace("{www}", www)
    runs = []
    for name in ("apache", "fastcore"):
        run = os.path.join(www_dir, name)
        os.makedirs(run)
        os.chmod(run, 0o755)
        runs.append(ApacheOracle(run, body, modules=MODULES, fastcore=name == "fastcore"))
    for o in runs:
        o.start()
    try:
        yield Sites(*runs)
    finally:
        for o in runs:
            o.stop()


def _answer(o: ApacheOracle, target: str, method: str, extra: str) -> tuple:
    raw = raw_request(o.port, f"{method} {target} HTTP/1.1\r\nHost: localhost\r\n"
                      f"Connection: close\r\n{extra}\r\n".encode())
    resps = parse_responses(raw, head_request=method == "HEAD")
    assert resps, f"no answer to {method} {target}: {raw!r}"
    status, headers, body = resps[0]
    headers = {k: v.replace(str(o.port), "PORT") for k, v in headers.items()
               if k not in ("date", "server")}
    body = re.sub(rb"(Apache|fastcore)/[0-9.]+ \([A-Za-z]+\)", b"SERVER", body)
    return status, headers, body.replace(str(o.port).encode(), b"PORT")


def same(s: Sites, target: str, method: str = "GET", extra: str = "") -> tuple:
    first = None
    for _ in range(2):
        a = _answer(s.apache, target, method, extra)
        f = _answer(s.fastcore, target, method, extra)
        assert f == a, f"{method} {target} {extra!r}"
        first = first or a
    return first


@pytest.mark.parametrize("path", PATHS)
def test_get(sites: Sites, path: str) -> None:
    same(sites, path)


@pytest.mark.parametrize("path", ["/", "/css/style.css", "/no-such-page", "/notes.bak"])
def test_head(sites: Sites, path: str) -> None:
    same(sites, path, method="HEAD")


def test_what_the_rules_do(sites: Sites) -> None:
    """The rules take effect (so the comparison above is not of two servers that
    ignored the .htaccess alike)."""
    status, headers, body = same(sites, "/no-such-page")
    assert status == 404 and b"Page Not Found" in body  # ErrorDocument 404 /404.html
    assert "etag" not in same(sites, "/css/style.css")[1]  # FileETag None
    assert same(sites, "/css/style.css")[1]["content-type"] == "text/css; charset=utf-8"
    assert same(sites, "/site.webmanifest")[1]["content-type"] == \
        "application/manifest+json; charset=utf-8"
    svgz = same(sites, "/img/logo.svgz")[1]
    assert (svgz["content-type"], svgz["content-encoding"]) == ("image/svg+xml", "gzip")
    assert same(sites, "/notes.bak")[0] == 403 and same(sites, "/%23draft%23")[0] == 403
    assert same(sites, "/empty/")[0] == 403  # Options -Indexes
    assert same(sites, "/index")[0] == 404  # Options -MultiViews
    assert same(sites, "/")[1]["content-type"] == "text/html; charset=utf-8"
    br = same(sites, "/css/style.css.br")[1]
    assert (br["content-type"], br["content-encoding"]) == ("text/css; charset=utf-8", "br")
    assert "content-language" not in br and "content-language" not in same(sites, "/lang.br")[1]
    assert same(sites, "/index.html")[1]["upgrade"] == "h2"  # Protocols h2 http/1.1
    assert "upgrade" not in same(sites, "/notes.bak")[1]  # an error answer: none


def test_conditional_without_etag(sites: Sites) -> None:
    lm = same(sites, "/css/style.css")[1]["last-modified"]
    assert same(sites, "/css/style.css", extra=f"If-Modified-Since: {lm}\r\n")[0] == 304
    assert same(sites, "/css/style.css", extra="Range: bytes=0-3\r\n")[0] == 206
    # a range over the ErrorDocument's 404: Apache sends the whole page (ranges are 200s')
    st, h, body = same(sites, "/no-such-page", extra="Range: bytes=0-3\r\n")
    assert st == 404 and "content-range" not in h and b"Page Not Found" in body
