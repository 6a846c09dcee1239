"""The generated site and request corpus of the differential test against real Apache.

build_site(root) writes a document root (file types, index variants, symlinks in and out
of the root, .htaccess files including a broken one, .ht* files, MultiViews and type-map
variants, a file for ranges) and returns the httpd.conf body (without Listen/logs).
requests() yields (id, raw bytes): normal, malformed and hostile requests.  Ids are
stable; docs/compat.md lists the ids that are known to differ, with the reason.
"""
from __future__ import annotations

import os

RANGE_BYTES = bytes(range(256)) * 8  # 2048 bytes


def _w(path: str, data: bytes | str, mtime: int = 1_600_000_000) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.utime(path, (mtime, mtime))


def build_site(root: str) -> str:  # noqa: PLR0915 - one flat description of the site
    """Create <root>/htdocs, <root>/outside, <root>/aliased; return the site config."""
    d = os.path.join(root, "htdocs")
    out = os.path.join(root, "outside")
    al = os.path.join(root, "aliased")
    _w(f"{d}/index.html", "<html><body>root index</body></html>\n")
    _w(f"{d}/page.html", "<p>page</p>\n")
    _w(f"{d}/style.css", "body{color:red}\n")
    _w(f"{d}/data.json", '{"a": 1}\n')
    _w(f"{d}/image.png", b"\x89PNG\r\n\x1a\n" + bytes(100))
    _w(f"{d}/noext", "no extension\n")
    _w(f"{d}/archive.tar.gz", b"\x1f\x8b" + bytes(50))
    _w(f"{d}/doc.en.txt", "english text\n")
    _w(f"{d}/r.bin", RANGE_BYTES)
    _w(f"{d}/empty.txt", b"")
    _w(f"{d}/space name.txt", "space\n")
    _w(f"{d}/.htpasswd", "user:secret\n")
    _w(f"{d}/.hidden", "hidden\n")
    _w(f"{d}/sub/index.html", "sub index\n")
    _w(f"{d}/sub/deep/file.txt", "deep\n")
    _w(f"{d}/noidx/file.txt", "noidx\n")
    _w(f"{d}/idx2/index.htm", "index htm\n")
    _w(f"{d}/idxlist/a.txt", "a\n")
    _w(f"{d}/disabled/index.html", "disabled index\n")
    _w(f"{d}/forced/file.data", "forced type\n")
    _w(f"{d}/charset/t.txt", "charset text\n")
    _w(f"{d}/ht/.htaccess", "Require all denied\n")
    _w(f"{d}/ht/file.txt", "behind htaccess\n")
    _w(f"{d}/broken/.htaccess", "ThisIsNotADirective on\n")
    _w(f"{d}/broken/file.txt", "broken htaccess\n")
    _w(f"{d}/mv/doc.html.en", "<p>english</p>\n")
    _w(f"{d}/mv/doc.html.fr", "<p>francais</p>\n")
    _w(f"{d}/mv/only.txt", "only\n")
    _w(f"{d}/tm/thing.en.html", "<p>thing en</p>\n")
    _w(f"{d}/tm/thing.de.html", "<p>thing de</p>\n")
    _w(f"{d}/tm/thing.var", "URI: thing.en.html\nContent-Type: text/html\nContent-Language: en\n\n"
       "URI: thing.de.html\nContent-Type: text/html\nContent-Language: de\n")
    _w(f"{d}/tm/plain.html", "<p>plain</p>\n")
    _w(f"{d}/tm/other.txt", "other\n")
    _w(f"{d}/tm/sub/f.dat", "dat\n")
    _w(f"{d}/tm/meta.var", "URI: plain.html\nContent-Type: text/html; charset=utf-8\n"
       "Content-Language: de\nContent-Encoding: gzip\n\n"
       "URI: other.txt\nContent-Type: text/plain\nContent-Language: fr\n")
    _w(f"{d}/tm/deep.var", "URI: sub/f.dat\nContent-Type: text/plain\n")
    _w(f"{d}/tm/body.var", "Content-Type: text/plain; charset=utf-8\nContent-Language: de\n"
       "Content-Encoding: x-gzip\nBody:----xyz----\nhallo\n----xyz----\n")
    _w(f"{d}/ed/file.txt", "ed\n")
    _w(f"{d}/err/404.html", "<p>custom not found page</p>\n")
    _w(f"{d}/nosym/real.txt", "real\n")
    _w(f"{d}/sig/file.txt", "sig\n")
    _w(f"{d}/owner/real.txt", "owner real\n")
    # loose ends between modules (issue 3/4 integration)
    _w(f"{d}/lst/a.txt", "a\n")
    _w(f"{d}/lst/.htsecret", "secret\n")
    _w(f"{d}/lst/b dir/c.txt", "c\n")
    _w(f"{d}/enc/data.txt.gz", b"\x1f\x8b" + bytes(20))
    _w(f"{d}/enc/data.txt", "plain variant\n")
    _w(f"{d}/enc/only.css.gz", b"\x1f\x8b" + bytes(30))
    _w(f"{d}/tm/guard.en.html", "<p>guarded en</p>\n")
    _w(f"{d}/tm/guard.de.html", "<p>guarded de</p>\n")
    _w(f"{d}/tm/guard.var", "URI: guard.en.html\nContent-Type: text/html\nContent-Language: en\n\n"
       "URI: guard.de.html\nContent-Type: text/html\nContent-Language: de\n")
    _w(f"{d}/htf/.htaccess", "<Files secret.txt>\n    Require all denied\n</Files>\n"
       "<FilesMatch \"\\.css$\">\n    ForceType text/x-from-htaccess\n</FilesMatch>\n")
    _w(f"{d}/htf/secret.txt", "htf secret\n")
    _w(f"{d}/htf/open.txt", "htf open\n")
    _w(f"{d}/htf/s.css", "htf css\n")
    _w(f"{d}/opt/.htaccess", "Options -Indexes +MultiViews\n")
    _w(f"{d}/opt/in/.htaccess", "Options +FollowSymLinks\n")
    _w(f"{d}/opt/in/z.html", "<p>z</p>\n")
    _w(f"{d}/opt/in/deep/q.txt", "q\n")
    _w(f"{d}/opt/top.txt", "top\n")
    _w(f"{d}/ord/.htaccess", "AddType text/x-from-htaccess .txt\n")
    _w(f"{d}/ord/f.txt", "ord f\n")
    _w(f"{d}/ord/inner/f.txt", "ord inner f\n")
    _w(f"{d}/ty/a.h3", "<p>level 3</p>\n")
    _w(f"{d}/ty/b.u8", "utf8\n")
    _w(f"{d}/hdr1/HEADER.html", "<p>header <b>html</b></p>\n")
    _w(f"{d}/hdr1/README.txt", "read <me> & you\n")
    _w(f"{d}/hdr1/a.txt", "a\n")
    _w(f"{d}/hdr2/HEADER.txt", "plain <b>head</b>\n")
    _w(f"{d}/hdr2/README.html", "<p>readme html</p>\n")
    _w(f"{d}/hdr2/a.txt", "a\n")
    _w(f"{d}/hdr3/HEADER.html", "<html><body>own preamble\n")
    _w(f"{d}/hdr3/README.html", "<p>tail</p></body></html>\n")
    _w(f"{d}/hdr3/denied/a.txt", "a\n")
    _w(f"{d}/hdr3/denied/HEADER.html", "<p>denied header</p>\n")
    _w(f"{d}/hdr4/HEADER.html", "<p>negotiated header</p>\n")
    _w(f"{d}/hdr4/b.txt", "b\n")
    _w(f"{d}/hdr5/HEADER.html", "<p>html header, longer than the text one</p>\n")
    _w(f"{d}/hdr5/HEADER.txt", "text header\n")
    _w(f"{d}/hdr5/README.xhtml", "<p>xhtml readme</p>\n")
    for sub in ("a", "b", "c", "d", "e"):
        for name in ("x.txt", "x.bak", "x.tmp", "zdir/y.txt"):
            _w(f"{d}/ix/{sub}/{name}", "ix\n")
    _w(f"{out}/secret.txt", "outside secret\n")
    _w(f"{al}/a.txt", "aliased file\n")
    vh2 = os.path.join(root, "vh2")
    _w(f"{vh2}/index.txt", "vh2 index\n")
    _w(f"{vh2}/a/b.txt", "vh2 a/b\n")
    _w(f"{vh2}/sub/x.txt", "vh2 sub x\n")
    _w(f"{al}/sub/b.txt", "aliased sub\n")
    links = [(f"{d}/link_in.txt", "page.html"), (f"{d}/link_out.txt", f"{out}/secret.txt"),
             (f"{d}/link_dir", "sub"), (f"{d}/nosym/link.txt", "real.txt"),
             (f"{d}/owner/link.txt", "real.txt"), (f"{d}/owner/foreign.txt", "real.txt"),
             (f"{d}/lst/link.txt", "a.txt"),
             (f"{d}/dangling", "nothere.txt")]
    for path, target in links:
        if not os.path.lexists(path):
            os.symlink(target, path)
    os.lchown(f"{d}/owner/foreign.txt", 65534, 65534)
    return f"""
DocumentRoot "{d}"
Timeout 3
KeepAliveTimeout 2
AddType text/plain .txt
AddLanguage en .en
AddLanguage fr .fr
AddLanguage de .de
AddEncoding x-gzip .gz
AddHandler type-map .var
<Directory />
    Options FollowSymLinks
    AllowOverride None
    Require all denied
</Directory>
<Directory "{d}">
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
<Directory "{d}/idx2">
    DirectoryIndex index.html index.htm
</Directory>
<Directory "{d}/idxlist">
    Options +Indexes
</Directory>
<Directory "{d}/disabled">
    DirectoryIndex disabled
</Directory>
<Directory "{d}/forced">
    ForceType text/x-forced
</Directory>
<Directory "{d}/charset">
    AddCharset UTF-8 .txt
</Directory>
<Directory "{d}/ht">
    AllowOverride All
</Directory>
<Directory "{d}/broken">
    AllowOverride All
</Directory>
<Directory "{d}/mv">
    Options +MultiViews
</Directory>
<Directory "{d}/ed">
    ErrorDocument 404 "custom text for missing"
    ErrorDocument 403 /err/404.html
</Directory>
<Directory "{d}/sig">
    ServerSignature On
    ErrorDocument 404 default
</Directory>
<Directory "{d}/nosym">
    Options -FollowSymLinks
</Directory>
<Directory "{d}/owner">
    Options -FollowSymLinks +SymLinksIfOwnerMatch
</Directory>
<Directory "{al}">
    Require all granted
</Directory>
<Directory "{d}/lst">
    Options Indexes
</Directory>
<Directory "{d}/enc">
    Options +MultiViews
</Directory>
<Directory "{d}/htf">
    AllowOverride All
</Directory>
<Directory "{d}/opt">
    Options Indexes
    AllowOverride All
</Directory>
<Directory "{d}/ord">
    AllowOverride FileInfo
</Directory>
<Directory "{d}/ord/inner">
    AddType text/x-from-directory .txt
</Directory>
<Directory "{d}/ty">
    AddType "text/html;level=3" .h3
    AddType text/plain .u8
    AddCharset UTF-8 .u8
</Directory>
<Directory "{d}/hdr1">
    Options Indexes
    HeaderName HEADER.html
    ReadmeName README.txt
</Directory>
<Directory "{d}/hdr2">
    Options Indexes
    IndexOptions FancyIndexing
    HeaderName HEADER.txt
    ReadmeName README.html
</Directory>
<Directory "{d}/hdr3">
    Options Indexes
    IndexOptions SuppressHTMLPreamble
    HeaderName HEADER.html
    ReadmeName README.html
</Directory>
<Location /hdr3/denied/HEADER.html>
    Require all denied
</Location>
<Directory "{d}/hdr5">
    Options Indexes MultiViews
    HeaderName HEADER
    ReadmeName README.xhtml
</Directory>
<Directory "{d}/hdr4">
    Options Indexes MultiViews
    HeaderName HEADER
    ReadmeName /hdr1/README.txt
</Directory>
<Directory "{d}/tm/sub">
    ForceType text/x-forced
    FileETag None
</Directory>
<Directory "{d}/ix">
    Options Indexes
    IndexOptions FancyIndexing Charset=UTF-8 NameWidth=12
    IndexIgnore *.bak
</Directory>
<Directory "{d}/ix/a">
    IndexOptions +FoldersFirst
    IndexIgnore *.tmp
</Directory>
<Directory "{d}/ix/b">
    IndexOptions HTMLTable
</Directory>
<Directory "{d}/ix/c">
    IndexOptions Type=text/plain
</Directory>
<Directory "{d}/ix/d">
    IndexIgnoreReset On
    IndexIgnore *.tmp
    IndexOptions None
</Directory>
<Files "guard.en.html">
    Require all denied
</Files>
<Files ".ht*">
    Require all denied
</Files>
<Location /private>
    Require ip 10.0.0.0/8
</Location>
<Location /local>
    Require local
</Location>
<Location /status-page>
    SetHandler server-status
</Location>
Alias /alias "{al}"
Alias /private "{d}/sub"
Alias /local "{d}/sub"
Redirect /old http://example.com/new
Redirect 301 /moved /page.html
Redirect 303 /other http://example.com/other
Redirect gone /gone
ErrorDocument 404 /err/404.html
LogFormat "%h %l %u \\"%r\\" %>s %s %b %B %m %U %q %H \\"%{{User-Agent}}i\\" %{{Content-Type}}o %v %k %X %{{remote}}p" difflog
CustomLog "{root}/LOGDIR/diff_log" difflog
<VirtualHost *>
    ServerName localhost
</VirtualHost>
<VirtualHost *>
    ServerName vh2.example
    ServerAlias *.vh2.example
    DocumentRoot "{vh2}"
    AllowEncodedSlashes On
    KeepAlive Off
    TraceEnable off
    CustomLog "{root}/LOGDIR/diff_log" difflog
    <Directory "{vh2}">
        Require all granted
        DirectoryIndex index.txt
        DirectorySlash Off
    </Directory>
</VirtualHost>
"""


def _get(path: str, extra: str = "", method: str = "GET", version: str = "HTTP/1.1") -> bytes:
    return f"{method} {path} {version}\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n".encode("latin-1")


def requests() -> list[tuple[str, bytes]]:
    """The corpus: (stable id, raw request)."""
    R: list[tuple[str, bytes]] = []
    paths = ["/", "/index.html", "/page.html", "/style.css", "/data.json", "/image.png", "/noext",
             "/archive.tar.gz", "/doc.en.txt", "/r.bin", "/empty.txt", "/space%20name.txt",
             "/.htpasswd", "/.hidden", "/sub", "/sub/", "/sub/deep/file.txt", "/noidx/",
             "/noidx", "/idx2/", "/disabled/", "/forced/file.data", "/charset/t.txt",
             "/ht/file.txt", "/ht/", "/broken/file.txt", "/mv/only.txt", "/tm/thing.en.html",
             "/ed/file.txt", "/ed/missing.txt", "/missing.html", "/nosym/real.txt",
             "/nosym/link.txt", "/owner/real.txt", "/owner/link.txt", "/owner/foreign.txt",
             "/link_in.txt", "/link_out.txt", "/link_dir/", "/link_dir/index.html", "/dangling",
             "/alias/a.txt", "/alias/sub/b.txt", "/alias/", "/alias/none", "/aliasx",
             "/private/", "/private/index.html", "/local/", "/old/x?y=1", "/old", "/moved",
             "/other", "/gone", "/gone/x", "/index.html/extra", "/page.html?q=1",
             "/sub/../page.html", "/./page.html", "//page.html", "/sub/%2e%2e/page.html",
             "/%70age.html", "/idxlist", "/idxlist/", "/idxlist/?C=M;O=D", "/idxlist/?C=S;O=A",
             "/mv/", "/tm/", "/sig", "/sig/", "/sig/missing.txt", "/sig/file.txt/x"]
    for i, p in enumerate(paths):
        R.append((f"get-{i:02d}", _get(p)))
    for i, p in enumerate(["/page.html", "/r.bin", "/", "/missing.html", "/sub", "/.htpasswd",
                           "/empty.txt", "/ed/missing.txt"]):
        R.append((f"head-{i:02d}", _get(p, method="HEAD")))
    for m in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH", "FOO", "get", "PROPFIND", "TRACE", "CONNECT"):
        for j, p in enumerate(("/page.html", "/missing.html", "/sub/")):
            R.append((f"method-{m.lower()}-{j}", _get(p, method=m)))
    R.append(("options-star", b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
    R.append(("post-body", _get("/page.html", "Content-Length: 5\r\n", "POST") + b"hello"))
    R.append(("post-chunked", b"POST /page.html HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
              b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
    R.append(("trace-body", _get("/page.html", "Content-Length: 3\r\n", "TRACE") + b"abc"))
    # ranges
    ranges = ["bytes=0-9", "bytes=100-", "bytes=-50", "bytes=0-0", "bytes=2047-", "bytes=2048-",
              "bytes=0-9,20-29", "bytes=0-9,5-20", "bytes=0-9,10-19", "bytes=-0", "bytes=5-2",
              "bytes=abc", "items=0-9", "bytes=0-99999", "bytes=0-1,3-4,6-7,2000-", "bytes= 0-9",
              "bytes=3000-4000", "bytes=,0-9", "bytes=0-9,3000-"]
    for i, rg in enumerate(ranges):
        R.append((f"range-{i:02d}", _get("/r.bin", f"Range: {rg}\r\n")))
    R.append(("range-head", _get("/r.bin", "Range: bytes=0-9\r\n", "HEAD")))
    R.append(("range-empty-file", _get("/empty.txt", "Range: bytes=0-9\r\n")))
    R.append(("range-post", _get("/r.bin", "Range: bytes=0-9\r\n", "POST")))
    # conditionals (the ETag of r.bin: size 800 hex, mtime 1600000000 s)
    etag = f'"{len(RANGE_BYTES):x}-{1_600_000_000 * 1_000_000:x}"'
    lm = "Sun, 13 Sep 2020 12:26:40 GMT"
    conds = [f"If-None-Match: {etag}", 'If-None-Match: "nope"', "If-None-Match: *",
             f"If-None-Match: W/{etag}", f"If-Match: {etag}", 'If-Match: "nope"', "If-Match: *",
             f"If-Modified-Since: {lm}", "If-Modified-Since: Sat, 12 Sep 2020 12:26:40 GMT",
             "If-Modified-Since: garbage", f"If-Unmodified-Since: {lm}",
             "If-Unmodified-Since: Sat, 12 Sep 2020 12:26:40 GMT",
             f"If-None-Match: \"nope\"\r\nIf-Modified-Since: {lm}",
             f"If-Match: \"nope\"\r\nIf-None-Match: {etag}",
             f"Range: bytes=0-9\r\nIf-Range: {etag}", 'Range: bytes=0-9\r\nIf-Range: "nope"',
             f"Range: bytes=0-9\r\nIf-Range: {lm}", "Range: bytes=0-9\r\nIf-Range: Sat, 12 Sep 2020 12:26:40 GMT",
             f"If-None-Match: {etag}, \"other\"", "If-Modified-Since: Sun, 13 Sep 2099 12:26:40 GMT"]
    for i, c in enumerate(conds):
        R.append((f"cond-{i:02d}", _get("/r.bin", c + "\r\n")))
    R.append(("cond-head-304", _get("/r.bin", f"If-None-Match: {etag}\r\n", "HEAD")))
    R.append(("cond-post-inm", _get("/r.bin", f"If-None-Match: {etag}\r\n", "POST")))
    # negotiation
    for i, h in enumerate(["", "Accept-Language: fr\r\n", "Accept-Language: en;q=0.5, fr;q=0.9\r\n",
                           "Accept-Language: de\r\n", "Accept: text/plain\r\n",
                           "Accept: image/png\r\n", "Accept-Language: fr\r\nAccept: text/html\r\n"]):
        R.append((f"mv-{i}", _get("/mv/doc", h)))
    for i, h in enumerate(["", "Accept-Language: de\r\n", "Accept-Language: en\r\n", "Accept: text/plain\r\n"]):
        R.append((f"tm-{i}", _get("/tm/thing.var", h)))
    R.append(("mv-missing", _get("/mv/nothing")))
    R.append(("tm-http10", b"GET /tm/thing.var HTTP/1.0\r\nAccept-Language: de\r\n\r\n"))
    R.append(("tm-http10-pi", b"GET /tm/thing.var/x HTTP/1.0\r\nAccept-Language: de\r\n\r\n"))
    R.append(("enc-pi", _get("/enc/data.txt/extra", "Accept-Encoding: gzip\r\n")))
    for i, h in enumerate(["Accept-Language: en\r\n", "Accept-Language: de\r\n", ""]):
        R.append((f"tmguard-{i}", _get("/tm/guard.var", h)))
    # a URI variant is served by an internal redirect: its own type, language, ETag
    for i, (p, h) in enumerate([("/tm/meta.var", "Accept-Language: de\r\n"),
                                ("/tm/meta.var", "Accept-Language: fr\r\n"),
                                ("/tm/deep.var", ""), ("/tm/body.var", "Accept-Encoding: gzip\r\n"),
                                ("/tm/body.var", "Range: bytes=0-1\r\n"),
                                ("/tm/body.var", "Range: bytes=0-1,3-4\r\n"),
                                ("/tm/body.var", "Range: bytes=9-\r\n"),
                                ("/tm/body.var", "Range: bytes=0-1\r\nIf-Range: \"x\"\r\n")]):
        R.append((f"tmredir-{i}", _get(p, h)))
    # MultiViews and plain files with AddEncoding x-gzip: the client's spelling comes back
    for i, h in enumerate(["Accept-Encoding: gzip\r\n", "Accept-Encoding: x-gzip\r\n",
                           "Accept-Encoding: identity\r\n", "",
                           "Accept-Encoding: gzip\r\nAccept: text/plain\r\n"]):
        R.append((f"enc-{i}", _get("/enc/data.txt", h)))
        R.append((f"encfile-{i}", _get("/enc/data.txt.gz", h)))
        R.append((f"enconly-{i}", _get("/enc/only.css", h)))
    R.append(("encfile-416", _get("/enc/data.txt.gz", "Range: bytes=900-\r\n")))
    R.append(("encfile-206", _get("/enc/data.txt.gz", "Range: bytes=0-3\r\nAccept-Encoding: gzip\r\n")))
    # listings: symlinks without FollowSymLinks and .ht* files are left out
    for i, p in enumerate(["/lst/", "/lst/?C=N;O=D", "/lst/?F=0&P=*.txt", "/lst/link.txt",
                           "/hdr1/", "/hdr1/?F=2", "/hdr2/", "/hdr3/", "/hdr3/denied/",
                           "/hdr4/", "/ix/a/", "/ix/b/", "/ix/c/", "/ix/d/", "/ix/e/",
                           "/ix/a/?C=S;O=D", "/ix/e/?F=2"]):
        R.append((f"lst-{i}", _get(p)))
    # .htaccess <Files>, nested Options +/-, .htaccess vs deeper <Directory>, AddType params
    for i, p in enumerate(["/htf/secret.txt", "/htf/open.txt", "/htf/s.css", "/opt/",
                           "/opt/in/", "/opt/in/z", "/opt/in/deep/", "/opt/top", "/ord/f.txt",
                           "/ord/inner/f.txt", "/ty/a.h3", "/ty/b.u8", "/mv/doc/extra",
                           "/mv/doc.html/x/y", "/tm/thing.var/extra", "/enc/data.txt/extra",
                           "/mv/nothing/x"]):
        R.append((f"walk-{i:02d}", _get(p)))
    R.append(("status-refresh", _get("/status-page?auto&refresh=7")))
    R.append(("lst-http10", b"GET /hdr2/ HTTP/1.0\r\n\r\n"))
    R.append(("lst-hdr-accept", _get("/hdr5/", "Accept: image/png\r\nAccept-Encoding: gzip\r\n")))
    R.append(("lst-hdr-plain", _get("/hdr5/", "Accept: text/plain\r\n")))
    R.append(("status-auto", _get("/status-page?auto")))
    # virtual hosts
    for i, (host, path) in enumerate([("vh2.example", "/"), ("vh2.example", "/index.txt"),
                                      ("www.vh2.example", "/index.txt"), ("VH2.Example", "/index.txt"),
                                      ("vh2.example.", "/index.txt"), ("vh2.example:80", "/a%2Fb.txt"),
                                      ("vh2.example", "/a/b.txt"), ("vh2.example", "/sub"),
                                      ("vh2.example", "/page.html"), ("other.example", "/page.html"),
                                      ("vh2.example", "/alias/a.txt"),
                                      ("vh2.example", "/old/x?y=1"), ("vh2.example", "/moved"),
                                      ("vh2.example", "/gone")]):
        R.append((f"vhost-{i:02d}", f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()))
    R.append(("vhost-trace", b"TRACE / HTTP/1.1\r\nHost: vh2.example\r\nConnection: close\r\n\r\n"))
    R.append(("vhost-options", b"OPTIONS /index.txt HTTP/1.1\r\nHost: vh2.example\r\nConnection: close\r\n\r\n"))
    # pipelines: every response is compared
    g = b"GET /page.html HTTP/1.1\r\nHost: localhost\r\n\r\n"
    R.append(("pipe-0", g + b"GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n" + g))
    R.append(("pipe-1", b"POST /page.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\nbody" + g))
    R.append(("pipe-2", b"GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + g))
    R.append(("pipe-3", b"GET /index.txt HTTP/1.1\r\nHost: vh2.example\r\n\r\n" + g))
    R.append(("pipe-4", b"POST /page.html HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"4\r\nbody\r\n0\r\n\r\n" + g))
    R.append(("pipe-5", g + b"GET /page.html HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-3\r\n\r\n" + g))
    R.append(("pipe-6", g + b"HEAD /page.html HTTP/1.1\r\nHost: localhost\r\n\r\n" + g))
    R.append(("pipe-7", g + b"GET /sub HTTP/1.1\r\nHost: localhost\r\n\r\n" + g))
    R.append(("pipe-8", g + b"GET /../x HTTP/1.1\r\nHost: localhost\r\n\r\n" + g))
    # HTTP versions and hosts
    R.append(("v10-nohost", b"GET /page.html HTTP/1.0\r\n\r\n"))
    R.append(("v10-sub", b"GET /sub HTTP/1.0\r\n\r\n"))
    R.append(("v10-keepalive", b"GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
    R.append(("v11-nohost", b"GET /page.html HTTP/1.1\r\nConnection: close\r\n\r\n"))
    # kept open: Keep-Alive/Connection: Keep-Alive only answer a keep-alive token
    R.append(("v11-kept-plain", b"GET /page.html HTTP/1.1\r\nHost: localhost\r\n\r\n"))
    R.append(("v11-kept-token", b"GET /page.html HTTP/1.1\r\nHost: localhost\r\n"
                                b"Connection: TE, Keep-Alive\r\n\r\n"))
    R.append(("v11-kept-404", b"GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n"))
    R.append(("v09", b"GET /page.html\r\n"))
    R.append(("v09-post", b"POST /page.html\r\n"))
    R.append(("v20", _get("/page.html", version="HTTP/2.0")))
    R.append(("v12", _get("/page.html", version="HTTP/1.2")))
    R.append(("host-port", b"GET /sub HTTP/1.1\r\nHost: example.org:8080\r\nConnection: close\r\n\r\n"))
    R.append(("host-bad", b"GET /page.html HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"))
    R.append(("host-two", b"GET /page.html HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"))
    R.append(("host-ipv6", b"GET /page.html HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n"))
    R.append(("host-badport", b"GET /page.html HTTP/1.1\r\nHost: x:99999\r\nConnection: close\r\n\r\n"))
    R.append(("host-empty", b"GET /page.html HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n"))
    R.append(("abs-form", b"GET http://other.example/page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    R.append(("abs-form-nopath", b"GET http://other.example HTTP/1.1\r\nConnection: close\r\n\r\n"))
    R.append(("abs-form-sub", b"GET http://other.example:81/sub HTTP/1.1\r\nConnection: close\r\n\r\n"))
    R.append(("abs-ftp", b"GET ftp://other/page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    # malformed heads
    mal = [b"GET /page.html HTTP/1.1\nHost: x\nConnection: close\n\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nX: a\r\n  b\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nX : a\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nX: a\tb\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nnocolon\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\n: empty\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/0.9\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET /page.html http/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.10\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET  /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET\t/page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.1 extra\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"G@T /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"\r\n\r\nGET /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b" GET /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET /page.html#frag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nX: a\rb\r\nConnection: close\r\n\r\n",
           b"GET /page\x01.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nConnection: close\r\n\r\n",
           b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
           b"GET /page.html HTTP/1.1\r\nHost: x\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(101)) + b"\r\n",
           b"GARBAGE\r\n\r\n",
           b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(40),
           b"GET /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /style.css HTTP/1.1\r\n\r\n"]
    for i, raw in enumerate(mal):
        R.append((f"mal-{i:02d}", raw))
    # bodies and smuggling
    bodies = [b"Content-Length: -1\r\n\r\n", b"Content-Length: 1x\r\n\r\n",
              b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
              b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nab",
              b"Content-Length: 99999999999999999999999\r\n\r\n",
              b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
              b"Transfer-Encoding: gzip\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
              b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
              b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
              b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
              b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n",
              b"Content-Length: 5\r\n\r\nab", b"Content-Length: 2000000000\r\n\r\nab",
              b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n"]
    for i, extra in enumerate(bodies):
        for m in ("GET", "POST"):
            R.append((f"body-{m.lower()}-{i:02d}", f"{m} /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode() + extra))
    # hostile paths
    hostile = ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/sub/%2e%2e/%2e%2e/etc/passwd",
               "/..%2f..%2fetc/passwd", "/%2F", "/page.html%00", "/page%00.html", "/%zz", "/%2",
               "/%25", "/%", "/\\..\\..\\etc\\passwd", "/sub\\..\\page.html", "/.%2e/page.html",
               "/%2e/page.html", "/sub/..", "/sub/.", "/..", "/.", "/alias/../page.html",
               "/alias/%2e%2e/page.html", "/page.html%2f", "/page.html/", "/" + "a/" * 200,
               "/%c0%ae%c0%ae/etc/passwd", "/%252e%252e/etc", "/link_out.txt/..", "/%5c..%5cpage.html",
               "/page.html;x=1", "/%7epage.html", "/~root", "/sub//deep///file.txt"]
    for i, p in enumerate(hostile):
        R.append((f"hostile-{i:02d}", _get(p)))
    return R
