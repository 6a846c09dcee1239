"""The table of per-directory directive cases for test_directives_vs_apache.py.

Each case puts a few files in its own folder twice: `/NAME/` under a <Directory> holding the
directive(s), `/ctl-NAME/` with the same files and no directive. Real Apache must answer
the two differently (so the directive has an effect a client sees) and fastcore must
answer each exactly as Apache does (status, the compared headers, the body).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    """One directive's demonstration."""

    name: str
    config: str  # lines inside <Directory DOCROOT/NAME>
    request: str  # what follows /NAME in the URL ("/" for the folder, "" for no slash)
    files: dict[str, str] = field(default_factory=lambda: {"page.html": "<p>page</p>\n"})
    # a value "-> TARGET" makes a symbolic link
    headers: tuple[str, ...] = ("content-type",)  # compared response fields (lower case)
    send: str = ""  # extra request header lines, CRLF-terminated
    body: str = ""  # request body (Content-Length is added)
    method: str = "GET"
    sub: str = ""  # lines inside <Directory DOCROOT/NAME/sub> (files are copied there too)
    htaccess: str = ""  # NAME/sub/.htaccess (the NAME section gets AllowOverride All)
    no_effect: bool = False  # Apache itself answers as without it (an oddity matched)


TEXT = {"a.txt": "plain text\n", "page.html": "<p>page</p>\n", "img.png": "not really\n"}

CASES: list[Case] = [
    # core: AddDefaultCharset (text/plain and text/html only; On = iso-8859-1)
    Case("adc-utf8", "AddDefaultCharset utf-8", "/page.html", TEXT),
    Case("adc-plain", "AddDefaultCharset utf-8", "/a.txt", TEXT),
    Case("adc-on", "AddDefaultCharset On", "/page.html", TEXT),
    Case("adc-png", "AddDefaultCharset utf-8\nAddType text/x-png-ish .png", "/img.png", TEXT),
    Case("adc-addcharset", "AddDefaultCharset utf-8\nAddCharset iso-8859-2 .html",
         "/page.html", TEXT),
    Case("adc-range", "AddDefaultCharset utf-8", "/page.html", TEXT,
         headers=("content-type", "content-range"), send="Range: bytes=0-3\r\n"),
    # core: FileETag, plain and relative, under the default
    Case("etag-inode", "FileETag INode", "/page.html", headers=("etag",)),
    Case("etag-all", "FileETag All", "/page.html", headers=("etag",)),
    Case("etag-none", "FileETag None", "/page.html", headers=("etag",)),
    Case("etag-plus-inode", "FileETag +INode", "/page.html", headers=("etag",)),
    # odd but Apache: -X under an unset FileETag leaves nothing set, which means MTime Size
    Case("etag-minus-mtime", "FileETag -MTime", "/page.html", headers=("etag",),
         no_effect=True),
    Case("etag-size-plus-inode", "FileETag Size +INode", "/page.html", headers=("etag",)),
    Case("etag-digest", "FileETag Digest", "/page.html", headers=("etag",)),
    Case("etag-digest-size", "FileETag Digest Size", "/page.html", headers=("etag",)),
    Case("etag-none-size", "FileETag None Size", "/page.html", headers=("etag",)),
    # FileETag across nested sections and .htaccess (merge_core_dir_configs)
    Case("etag-nest-rel", "FileETag INode MTime", "/sub/page.html", headers=("etag",),
         sub="FileETag -MTime +Size"),
    Case("etag-nest-plain", "FileETag +INode", "/sub/page.html", headers=("etag",),
         sub="FileETag Size"),
    Case("etag-nest-rel-rel", "FileETag -MTime", "/sub/page.html", headers=("etag",),
         sub="FileETag +INode"),
    Case("etag-nest-none-plus", "FileETag None", "/sub/page.html", headers=("etag",),
         sub="FileETag +Size"),
    Case("etag-nest-all-minus", "FileETag All", "/sub/page.html", headers=("etag",),
         sub="FileETag -Size -INode"),
    Case("etag-htaccess", "FileETag All", "/sub/page.html", headers=("etag",),
         htaccess="FileETag -MTime\n"),
    Case("etag-htaccess-sub", "FileETag -Size", "/sub/page.html", headers=("etag",),
         sub="FileETag +INode", htaccess="FileETag -MTime +Size\n"),
    # core: ForceType, SetHandler, ErrorDocument, ServerSignature, EnableMMAP/Sendfile
    Case("forcetype", "ForceType text/plain", "/page.html"),
    Case("errordoc", 'ErrorDocument 404 "gone fishing"', "/missing.html",
         headers=("content-type",)),
    Case("signature", "ServerSignature On", "/missing.html", headers=()),
    # mod_mime
    Case("addtype", "AddType application/x-thing .html", "/page.html"),
    Case("addcharset", "AddCharset utf-8 .txt", "/a.txt", TEXT),
    Case("addlanguage", "AddLanguage fr .html", "/page.html",
         headers=("content-language",)),
    Case("defaultlanguage", "DefaultLanguage de", "/page.html", headers=("content-language",)),
    Case("addencoding", "AddEncoding x-gzip .html", "/page.html",
         headers=("content-encoding", "content-type")),
    Case("removetype", "RemoveType .html", "/page.html"),
    # Apache too: without a module that registers DEFLATE (mod_deflate is not one of the
    # modules such a configuration can load) the filter is silently not added
    Case("addoutputfilter", "AddOutputFilter DEFLATE .html", "/page.html",
         headers=("content-type", "content-encoding", "content-length"),
         send="Accept-Encoding: gzip\r\n", no_effect=True),
    # mod_dir
    Case("directoryindex", "DirectoryIndex page.html", "/"),
    Case("directoryslash", "DirectorySlash Off", "", headers=("location",)),
    # core: LimitRequestBody, SetHandler, Require/AuthMerging, Redirect in a section
    Case("limitrequestbody", "LimitRequestBody 4", "/page.html", method="POST",
         body="0123456789"),
    Case("sethandler-typemap", "<Files doc.var>\nSetHandler type-map\n</Files>", "/doc.var",
         files={"doc.var": "URI: a.html\nContent-Type: text/html\n", "a.html": "<p>a</p>\n"}),
    Case("require-denied", "Require all denied", "/page.html"),
    Case("require-not-ip", "<RequireAll>\nRequire all granted\nRequire not ip 127.0.0.1\n"
         "</RequireAll>", "/page.html"),
    Case("authmerging", "Require ip 10.9.9.9", "/sub/page.html",
         sub="AuthMerging And\nRequire ip 127.0.0.1"),
    Case("redirect-dir", "Redirect /redirect-dir/page.html http://example.com/x", "/page.html",
         headers=("location",)),
    # mod_mime handlers
    Case("addhandler-typemap", "AddHandler type-map .var", "/doc.var",
         files={"doc.var": "URI: a.html\nContent-Type: text/html\n", "a.html": "<p>a</p>\n"}),
    Case("removehandler", "RemoveHandler .var", "/sub/doc.var",
         files={"doc.var": "URI: a.html\nContent-Type: text/html\n", "a.html": "<p>a</p>\n"},
         sub="AddHandler type-map .var"),
    # mod_negotiation
    Case("languagepriority", "Options +MultiViews\nAddLanguage en .en\nAddLanguage fr .fr\n"
         "LanguagePriority fr en", "/doc",
         files={"doc.en.html": "en\n", "doc.fr.html": "fr\n"},
         headers=("content-language",)),
    Case("forcelanguagepriority", "Options +MultiViews\nAddLanguage en .en\nAddLanguage fr .fr\n"
         "LanguagePriority fr\nForceLanguagePriority Fallback", "/doc", send="Accept-Language: de\r\n",
         files={"doc.en.html": "en\n", "doc.fr.html": "fr\n"}, headers=("content-language",)),
    # mod_autoindex
    Case("indexignore", "Options +Indexes\nIndexIgnore a.txt", "/", TEXT),
    Case("indexoptions", "Options +Indexes\nIndexOptions FancyIndexing", "/?C=N;O=A", TEXT),
    Case("headername", "Options +Indexes\nHeaderName HEADER.html", "/",
         {**TEXT, "HEADER.html": "<b>head</b>\n"}),
    Case("readmename", "Options +Indexes\nReadmeName README.html", "/",
         {**TEXT, "README.html": "<b>read me</b>\n"}),
    Case("useolddateformat", "Options +Indexes\nIndexOptions FancyIndexing UseOldDateFormat",
         "/?C=N;O=A", TEXT),
    Case("adddescription", "Options +Indexes\nIndexOptions FancyIndexing\n"
         'AddDescription "the text" a.txt', "/?C=N;O=A", TEXT),
    Case("indexorderdefault", "Options +Indexes\nIndexOptions FancyIndexing\n"
         "IndexOrderDefault Descending Name", "/", TEXT),
    Case("indexstylesheet", "Options +Indexes\nIndexOptions FancyIndexing HTMLTable\n"
         "IndexStyleSheet /s.css", "/?C=N;O=A", TEXT),
    Case("indexheadinsert", "Options +Indexes\nIndexOptions FancyIndexing\n"
         'IndexHeadInsert "<meta name=x>"', "/?C=N;O=A", TEXT),
    Case("addicon", "Options +Indexes\nIndexOptions FancyIndexing\n"
         "AddIcon /i/text.gif .txt", "/?C=N;O=A", TEXT),
    Case("addalt", "Options +Indexes\nIndexOptions FancyIndexing\n"
         'AddIcon /i/t.gif .txt\nAddAlt "TXT" .txt', "/?C=N;O=A", TEXT),
    Case("defaulticon", "Options +Indexes\nIndexOptions FancyIndexing\n"
         "DefaultIcon /i/unknown.gif", "/?C=N;O=A", TEXT),
    Case("addiconbytype", "Options +Indexes\nIndexOptions FancyIndexing\n"
         "AddIconByType (TXT,/i/text.gif) text/*", "/?C=N;O=A", TEXT),
    Case("addaltbytype", "Options +Indexes\nIndexOptions FancyIndexing\n"
         'AddIconByType /i/t.gif text/*\nAddAltByType "plain" text/plain', "/?C=N;O=A", TEXT),
    Case("addiconbyencoding", "Options +Indexes\nIndexOptions FancyIndexing\n"
         "AddEncoding x-gzip .gz\nAddIconByEncoding /i/z.gif x-gzip", "/?C=N;O=A",
         {"a.gz": "zz\n"}),
    Case("addaltbyencoding", "Options +Indexes\nIndexOptions FancyIndexing\n"
         "AddEncoding x-gzip .gz\nAddIconByEncoding /i/z.gif x-gzip\n"
         'AddAltByEncoding "gz" x-gzip', "/?C=N;O=A", {"a.gz": "zz\n"}),
    Case("indexignorereset", "Options +Indexes\nIndexIgnore *.txt", "/sub/",
         TEXT, sub="IndexIgnoreReset On"),
    # AllowOverride / AllowOverrideList
    Case("allowoverride", "AllowOverride FileInfo", "/page.html",
         files={"page.html": "<p>page</p>\n", ".htaccess": "ForceType text/plain\n"}),
    Case("allowoverridelist", "AllowOverride None\nAllowOverrideList ForceType", "/page.html",
         files={"page.html": "<p>page</p>\n", ".htaccess": "ForceType text/plain\n"}),
    Case("accessfile-denied", "AllowOverride None", "/page.html",
         files={"page.html": "<p>page</p>\n", ".htaccess": "Bogus\n"}),
    # core Options
    Case("options-followsymlinks", "Options -FollowSymLinks", "/link.html",
         files={"page.html": "<p>page</p>\n", "link.html": "-> page.html"}),
    Case("options-indexes", "Options +Indexes", "/"),
    Case("options-multiviews", "Options +MultiViews", "/page", headers=("content-type",)),
]
