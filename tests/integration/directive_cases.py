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
    headers: tuple[str, ...] = ("content-type",)  # compared response fields (lower case)
    send: str = ""  # extra request header lines, CRLF-terminated
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
    # mod_dir
    Case("directoryindex", "DirectoryIndex page.html", "/"),
    Case("directoryslash", "DirectorySlash Off", "", headers=("location",)),
    # core Options
    Case("options-indexes", "Options +Indexes", "/"),
    Case("options-multiviews", "Options +MultiViews", "/page", headers=("content-type",)),
]
