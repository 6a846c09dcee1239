"""Directory listings as mod_autoindex produces them (Options Indexes, no index file).

Apache's default (no IndexOptions) is the plain list: a <ul> of links, "Parent Directory"
first, names sorted byte-wise, directories with a trailing slash, hrefs escaped with
ap_os_escape_path (plus "./" before a name whose first segment has a colon) and HTML
escaped.  Client query arguments are honoured as Apache does: C= (sort column), O= (order),
V= (version sort), P= (file pattern) and F= (0 plain, 1 fancy, 2 table).  In the plain
list only the name order and the direction matter (Apache records no dates or sizes for it).

The fancy and table formats (IndexOptions FancyIndexing/HTMLTable, ?F=1, ?F=2) are
produced as Apache 2.4 does, with icons, alt texts, descriptions (AddDescription,
ScanHTMLTitles), NameWidth/DescriptionWidth, IconsAreLinks, XHTML, IndexStyleSheet,
IndexHeadInsert and AddAltClass (rendering in fancy.py, lookups in icons.py, ordering
in sort.py).  HeaderName and ReadmeName files are
included as mod_autoindex does (HTML as is, other text/* escaped in <pre>, found through
the caller's sub-request `lookup`, hooks.subrequest_lookup), with SuppressHTMLPreamble.  ShowForbidden lists
denied regular files; ShowForbidden for a denied directory or symlink raises
FancyIndexingUnsupported instead of sending a listing Apache would not send.
TrackModified changes no byte of the listing: its Last-Modified/ETag fields are the
phase function's (hooks.py, with listing_validators).
"""
from __future__ import annotations

import fnmatch
import os
import stat as _stat
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from fastcore.core import static as S
from fastcore.core.tokens import is_digits
from fastcore.modules.mod_autoindex.config import AutoindexDir, autoindex_config
from fastcore.modules.mod_autoindex.fancy import (
    K_ADJUST,
    K_NOADJUST,
    Layout,
    escape_html,
    escape_uri,
    os_escape_path,
    render_fancy,
    strfsize,
)
from fastcore.modules.mod_autoindex.icons import Lookup, any_match, find_title
from fastcore.modules.mod_autoindex.sort import sort_entries, strnatcmp
from fastcore.modules.mod_mime import MimeMap

__all__ = ["CONTENT_TYPE", "FancyIndexingUnsupported", "content_type", "escape_html",
           "os_escape_path", "parse_query", "render", "render_listing", "strfsize",
           "strnatcmp"]

CONTENT_TYPE = "text/html;charset=ISO-8859-1"
DOCTYPE = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" '
           '"http://www.w3.org/TR/html4/strict.dtd">\n')

K_VALID = "NMSD"


# (uri, is_header) -> (file, Content-Type) of the sub-request, or None
InsertLookup = Callable[[str, bool], "tuple[str, str | None] | None"]


class FancyIndexingUnsupported(Exception):
    """The listing needs an autoindex feature this module does not reproduce (icons,
    descriptions, HeaderName/ReadmeName, ...); the config layer should reject those
    directives so this is never reached at request time."""


def listing_validators(dirname: str, dc: Any, now: float) -> list[tuple[str, str]]:
    """IndexOptions TrackModified: Last-Modified and ETag (per FileETag) of the
    directory itself, made as for a file.  Apache 2.4.71 only sets them: it does not
    evaluate If-None-Match/If-Modified-Since/If-Match on a listing (always 200)."""
    if "trackmodified" not in autoindex_config(dc).effective_options():
        return []
    try:
        st = os.stat(dirname)
    except OSError:  # gone since it was listed: nothing to track
        return []
    out = [("Last-Modified", S.http_date(S.last_modified_time(st, now)).decode())]
    tag = S.etag(st, dc.file_etag, now)
    if tag:
        out.append(("ETag", tag))
    return out


def content_type(dirconf: Any) -> str:
    """The listing's Content-Type: IndexOptions Type= and Charset= (the last of each
    wins, inherited from outer scopes), else text/html and ISO-8859-1."""
    ctype, charset = "text/html", "ISO-8859-1"
    for line in autoindex_config(dirconf).index_options:
        for w in ((line,) if isinstance(line, str) else line):
            key, eq, val = w.partition("=")
            if eq and key.lower() == "type":
                ctype = val
            elif eq and key.lower() == "charset":
                charset = val
    return f"{ctype};charset={charset}"


def _fnmatch_period(pattern: str, name: str) -> bool:
    """apr_fnmatch(pattern, name, FNM_NOESCAPE | FNM_PERIOD)."""
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern.replace("[^", "[!"))


def _options(dirconf: Any) -> set[str]:
    """Effective IndexOptions flags (lower-case keywords), merged as mod_autoindex
    does (AutoindexDir.merge)."""
    return set(autoindex_config(dirconf).effective_options())


def _ignore_patterns(dirconf: Any) -> list[str]:
    pats: list[str] = []
    for item in autoindex_config(dirconf).index_ignore:
        pats.extend((item,) if isinstance(item, str) else item)
    return pats


def _ignore_test(patterns: list[str]) -> Callable[[str], bool]:
    """IndexIgnore: whether ap_strcmp_match of a name against any pattern's last part
    holds (one test made once per listing)."""
    return any_match([p.rsplit("/", 1)[-1] for p in patterns])


def parse_query(query: str | None, keyid: str, direction: str, opts: set[str]
                ) -> tuple[str, str, str | None, int | None, bool]:
    """(keyid, direction, pattern, format (0/1/2 or None), version_sort) from the query
    string, with Apache's rule that an unrecognised argument ends the parsing."""
    pattern: str | None = None
    fmt: int | None = None
    version = "versionsort" in opts
    q = query or ""
    i = 0

    def term(j: int) -> bool:
        return j >= len(q) or q[j] in "&;"

    while i < len(q):
        s = q[i:]
        if s[:2] == "C=" and len(s) > 2 and s[2] in K_VALID and term(i + 3):
            keyid = s[2]
            i += 4
        elif s[:2] == "O=" and len(s) > 2 and s[2] in "AD" and term(i + 3):
            direction = s[2]
            i += 4
        elif s[:2] == "F=" and len(s) > 2 and s[2] in "012" and term(i + 3):
            fmt = int(s[2])
            i += 4
        elif s[:2] == "V=" and len(s) > 2 and s[2] in "01" and term(i + 3):
            version = s[2] == "1"
            i += 4
        elif s[:2] == "P=":
            j = i + 2
            while j < len(q) and q[j] not in "&;":
                j += 1
            pattern = _unescape_pattern(q[i + 2:j])
            if j < len(q) and j + 1 < len(q):
                i = j + 1
            else:
                break
        else:
            break
    return keyid, direction, pattern, fmt, version


def _unescape_pattern(raw: str) -> str | None:
    """ap_unescape_url for P=: None when empty or invalid (bad %-escape, %2F, %00),
    in which case Apache ignores the pattern."""
    if not raw:
        return None
    for k, c in enumerate(raw):
        if c == "%" and not (len(raw) >= k + 3 and all(
                h in "0123456789abcdefABCDEF" for h in raw[k + 1:k + 3])):
            return None
    dec = unquote_to_bytes(raw)
    if b"/" in dec or b"\0" in dec:
        return None
    return dec.decode("utf-8", "surrogateescape")


def _parent(uri: str) -> str | None:
    path = uri if uri.endswith("/") else uri + "/"
    if path == "/":
        return None
    parent = path[:-1].rsplit("/", 1)[0]
    return (parent or "") + "/"


DOCTYPE_XHTML = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
                 '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n')


class _Ent:
    """One listed entry: name (dirs end in '/'), size and mtime (apr_time_t, -1 when
    not shown), FoldersFirst flag, and in fancy listings icon, alt and description."""

    __slots__ = ("name", "raw", "size", "lm", "isdir", "icon", "alt", "desc")

    def __init__(self, name: str, size: int, lm: int, isdir: bool) -> None:
        self.name = name
        self.raw = name.encode("utf-8", "surrogateescape")
        self.size = size
        self.lm = lm
        self.isdir = isdir
        self.icon: str | None = None
        self.alt: str | None = None
        self.desc: bytes | None = None


def _insert_file_present(dir_path: str, name: str) -> bool:
    """Would Apache find a HeaderName/ReadmeName file here (itself, or a MultiViews
    variant `name.*`)?  A URI path is assumed present (it is looked up elsewhere)."""
    if name.startswith("/"):
        return True
    try:
        entries = os.listdir(dir_path)
    except OSError:
        return False
    return any(e == name or e.startswith(name + ".") for e in entries)


def render(dir_path: str, uri: str, query: str | None, dirconf: Any, *,
           allowed: Callable[[str], bool] | None = None, signature: str = "",
           lookup: InsertLookup | None = None) -> bytes:
    """The listing body (see render_listing)."""
    return render_listing(dir_path, uri, query, dirconf, allowed=allowed, signature=signature,
                          lookup=lookup)[0]


def render_listing(dir_path: str, uri: str, query: str | None, dirconf: Any, *,
                   allowed: Callable[[str], bool] | None = None, signature: str = "",
                   lookup: InsertLookup | None = None,
                   stat: Callable[[str], os.stat_result] = os.stat,
                   listdir: Callable[[str], list[str]] = os.listdir) -> tuple[bytes, bool]:
    """(listing body, streamed) for directory `dir_path` requested as `uri` (decoded).

    `allowed(path)` vetoes entries the way Apache's per-entry sub-request does (access
    denied, symlink refused); `signature` is the ServerSignature line (ap_psignature with
    an empty prefix) or "".  `lookup(uri)` is Apache's sub-request for HeaderName and
    ReadmeName: (file, Content-Type) when that URI would be served as a regular file
    (its second argument is True for the header, which Apache negotiates as text).
    `streamed` is True when an HTML header/readme was included (Apache then sends the
    listing without Content-Length: chunked, or close-delimited for HTTP/1.0).
    `stat` stats an entry (os.stat; hooks.py passes probe.EntryProbe's, which also
    learns the entry's walk result for `allowed` and `lookup`); `listdir` reads the
    directory (os.listdir; the probe's also records the names for the listing cache).
    Raises OSError if the directory cannot be read (Apache: 403), and
    FancyIndexingUnsupported for settings this module does not reproduce (icons,
    descriptions, style sheets; header/readme files when no `lookup` is given).
    """
    opts = _options(dirconf)
    ai = autoindex_config(dirconf)
    inserts: dict[str, tuple[str, bytes] | None] = {}
    for key in ("header_name", "readme_name"):
        name = getattr(ai, key) or None
        if not name:
            inserts[key] = None
        elif lookup is None:
            if _insert_file_present(dir_path, name):
                raise FancyIndexingUnsupported(f"autoindex setting {key} needs a lookup")
            inserts[key] = None
        else:
            inserts[key] = _insert(lookup, name, key == "header_name")
    order = ai.index_order_default
    keyid = {"name": "N", "date": "M", "size": "S", "description": "D"}.get(
        order[1], "N") if order else "N"
    direction = ("D" if order[0] == "descending" else "A") if order else "A"
    # HTMLTable makes a table by itself (Apache 2.4 checks it before FancyIndexing)
    fancy = 2 if "htmltable" in opts else 1 if "fancyindexing" in opts else 0
    pattern = None
    version = "versionsort" in opts
    colargs = ""
    if "ignoreclient" not in opts:
        keyid, direction, pattern, fmt, version = parse_query(query, keyid, direction, opts)
        if fmt is not None:
            fancy = fmt
        colargs = _colargs(query)
    ignore_case = "ignorecase" in opts
    folders_first = fancy and "foldersfirst" in opts
    ignored = _ignore_test(_ignore_patterns(dirconf))
    lk = Lookup(ai) if fancy else None
    dir_slash = os.path.join(dir_path, "")

    ents: list[_Ent] = []
    for name in listdir(dir_path):
        if name in (".", ".."):
            continue
        if pattern is not None and not _fnmatch_period(pattern, name):
            continue
        if ignored(name):
            continue
        full = dir_slash + name
        try:
            st = stat(full)
        except OSError:
            continue
        isdir = _stat.S_ISDIR(st.st_mode)
        if not (isdir or _stat.S_ISREG(st.st_mode)):
            continue
        forbidden = allowed is not None and not allowed(full)
        if forbidden:
            if "showforbidden" not in opts:
                continue
            if isdir or os.path.islink(full):
                # the veto may be a refused symlink or a broken .htaccess below (Apache
                # then hides the entry even with ShowForbidden): not told apart here
                raise FancyIndexingUnsupported(
                    "IndexOptions ShowForbidden for a denied directory or symlink is not "
                    "implemented")
        lm = st.st_mtime_ns // 1000 if fancy else (0 if keyid == "M" else -1)
        ent = _Ent(name + "/" if isdir else name,
                   -1 if (isdir or not fancy) else st.st_size, lm,
                   bool(folders_first and isdir))
        if lk is not None:
            _describe(ent, lk, full, isdir, dirconf, None if forbidden else lookup,
                      "scanhtmltitles" in opts, forbidden)
        ents.append(ent)

    sort_entries(ents, keyid, direction, version, ignore_case)

    title = escape_html(uri)
    while len(title) > 1 and title.endswith("/"):
        title = title[:-1]
    suppress_amble = "suppresshtmlpreamble" in opts
    style = ai.index_style_sheet or None
    xhtml = "xhtml" in opts
    preamble = [DOCTYPE_XHTML + '<html xmlns="http://www.w3.org/1999/xhtml">' if xhtml
                else DOCTYPE + "<html>", "\n <head>\n  <title>Index of ", title, "</title>\n"]
    if style:
        preamble.append(f'  <link rel="stylesheet" href="{style}" type="text/css"'
                        + (" />\n" if xhtml else ">\n"))
    head_insert = ai.index_head_insert or None
    if head_insert:
        preamble.append(head_insert)
    preamble.append(" </head>\n <body>\n")
    streamed = False
    header = inserts["header_name"]
    if header is not None and header[0] == "html":  # the file replaces preamble and <h1>
        out = ([] if suppress_amble else preamble) + [_raw(header[1])]
        streamed = True
    elif header is not None:  # text/*: in a <pre> block after the preamble, no <h1>
        out = preamble + [_plaintext(header[1])]
    elif style:
        out = preamble + ['  <h1 id="indextitle">Index of ', title, "</h1>\n"]
    else:
        out = preamble + ["<h1>Index of ", title, "</h1>\n"]
    parent = _parent(uri)
    if parent is not None and not ignored(".."):
        pent = _Ent(parent, -1, -1, False)
        if lk is not None:
            _describe_parent(pent, lk, dir_slash + "..")
        ents.insert(0, pent)
    else:
        parent = None
    if fancy:
        lay = _layout(ai, opts, fancy == 2, keyid, direction, colargs, lk, bool(style))
        out.append(render_fancy(ents, parent is not None, lay))
    else:
        out.append("<ul>")
        for k, e in enumerate(ents):
            label = "Parent Directory" if k == 0 and parent is not None else escape_html(e.name)
            out.append(f'<li><a href="{escape_html(os_escape_path(e.name))}"> {label}'
                       "</a></li>\n")
        out.append("</ul>\n")
    readme = inserts["readme_name"]
    post = True
    if readme is not None and readme[0] == "html":
        out.append(_raw(readme[1]))
        streamed = True
        post = not suppress_amble
    elif readme is not None:
        out.append(_plaintext(readme[1]))
    else:
        out.append(signature)
    if post:
        out.append("</body></html>\n")
    return "".join(out).encode("utf-8", "surrogateescape"), streamed


def _describe(ent: _Ent, lk: Lookup, full: str, isdir: bool, dirconf: Any,
              lookup: InsertLookup | None, scan_titles: bool, forbidden: bool = False
              ) -> None:
    """Icon, alt and description of a listed entry (make_autoindex_entry): a
    directory is matched by name only and falls back to ^^DIRECTORY^^ and "DIR"; a
    file by name, then by type (no encoding) or by encoding.  A forbidden file
    (ShowForbidden) has no type: Apache's sub-request stopped before mod_mime ran."""
    if forbidden:
        ent.icon = lk.icon(full)
        ent.alt = lk.alt(full)
        desc = lk.desc(full)
        ent.desc = desc.encode("utf-8", "surrogateescape") if desc is not None else None
        return
    if isdir:
        ent.icon = lk.icon(full, path_only=True) or lk.icon("^^DIRECTORY^^", path_only=True)
        ent.alt = (lk.alt(full, path_only=True) or lk.alt("^^DIRECTORY^^", path_only=True)
                   or "DIR")
        ctype = enc = None
    else:
        ctype, enc = entry_type(full, dirconf, lookup)
        ent.icon = lk.icon(full, ctype, enc)
        ent.alt = lk.alt(full, ctype, enc)
    desc = lk.desc(full)
    if desc is not None:
        ent.desc = desc.encode("utf-8", "surrogateescape")
    elif scan_titles and not isdir:
        ent.desc = find_title(full, ctype, enc)


def _describe_parent(ent: _Ent, lk: Lookup, testpath: str) -> None:
    """make_parent_entry: "<dir>/.." is matched by name, then ^^DIRECTORY^^."""
    ent.icon = lk.icon(testpath, path_only=True) or lk.icon("^^DIRECTORY^^", path_only=True)
    ent.alt = (lk.alt(testpath, path_only=True) or lk.alt("^^DIRECTORY^^", path_only=True)
               or "PARENTDIR")
    desc = lk.desc(testpath)
    ent.desc = desc.encode("utf-8", "surrogateescape") if desc is not None else None


_MIME: list[MimeMap] = []


def entry_type(full: str, dirconf: Any, lookup: InsertLookup | None
               ) -> tuple[str | None, str | None]:
    """(content type without parameters, content encoding) of a listed file, as the
    entry's sub-request gets them from mod_mime: the type from the caller's
    sub-request lookup when it has one (TypesConfig, <Files> sections), else from the
    system types table with this directory's AddType/ForceType."""
    if not _MIME:
        _MIME.append(MimeMap())
    ctype, _cs, _lang, enc = _MIME[0].lookup(full, dirconf)
    if lookup is not None:
        try:
            found = lookup(os.path.basename(full), False)
        except Exception:  # a failed sub-request: keep mod_mime's answer
            found = None
        if found is not None:
            ctype = found[1]
    if ctype is not None:
        ctype = ctype.split(";", 1)[0].rstrip() or None
    return ctype, enc


def _layout(ai: AutoindexDir, opts: set[str], table: bool, keyid: str, direction: str,
            colargs: str, lk: Lookup | None, style: bool) -> Layout:
    """Widths, icon size and the blank/default icons from the merged settings."""
    words = [w for line in ai.index_options
             for w in ((line,) if isinstance(line, str) else line)]
    lay = Layout(table=table, keyid=keyid, direction=direction, colargs=colargs,
                 opts=opts, style_sheet=style)
    for w in words:
        action = w[0] if w[:1] in ("+", "-") else ""
        k, eq, v = w.lstrip("+-").partition("=")
        k = k.lower()
        if k in ("namewidth", "descriptionwidth"):
            dflt = 23
            if not eq:
                width, adjust = dflt, K_NOADJUST
            elif v.startswith("*"):
                width = lay.name_width if k == "namewidth" else lay.desc_width
                adjust = K_ADJUST
            else:
                width, adjust = _atoi(v), K_NOADJUST
            if k == "namewidth":
                lay.name_width, lay.name_adjust = width, adjust
            else:
                lay.desc_width, lay.desc_adjust = width, adjust
        elif k in ("iconwidth", "iconheight"):
            val = _atoi(v) if eq else (0 if action == "-" else (20 if k == "iconwidth" else 22))
            if k == "iconwidth":
                lay.icon_width = val
            else:
                lay.icon_height = val
    if lk is not None:
        lay.blank_icon = lk.icon("^^BLANKICON^^", path_only=True)
        lay.default_icon = lk.default_icon
    return lay


def _atoi(v: str) -> int:
    n = 0
    for c in v.strip():
        if not is_digits(c):
            break
        n = n * 10 + int(c)
    return n



def _insert(lookup: InsertLookup, name: str, header: bool) -> tuple[str, bytes] | None:
    """("html"|"text", file bytes) for a HeaderName/ReadmeName that Apache would
    include: text/html and application/xhtml+xml as they are, other text/* types
    escaped; anything else (or no such file, or access denied) is not included."""
    found = lookup(name, header)
    if found is None or not found[1]:
        return None
    path, ctype = found[0], found[1]
    base = ctype.split(";", 1)[0].strip().lower()
    if base in ("text/html", "application/xhtml+xml"):
        kind = "html"
    elif ctype[:5].lower() == "text/":
        kind = "text"
    else:
        return None
    try:
        with open(path, "rb") as f:
            return kind, f.read()
    except OSError:
        return None


def _raw(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _plaintext(data: bytes) -> str:
    """mod_autoindex's do_emit_plaintext: <pre> around the file, with <, > and &
    escaped; it reads 8 KiB blocks and writes each piece as a C string, so a piece
    ends at a NUL byte."""
    out = ["<pre>\n"]
    esc = {60: "&lt;", 62: "&gt;", 38: "&amp;"}
    for off in range(0, len(data), 8192):
        buf = data[off:off + 8192]
        c, n = 0, len(buf)
        while c < n:
            i = c
            while i < n and buf[i] not in esc:
                i += 1
            piece = buf[c:i]
            z = piece.find(b"\0")
            out.append(_raw(piece if z < 0 else piece[:z]))
            if i < n:
                out.append(esc[buf[i]])
            c = i + 1
    out.append("</pre>\n")
    return "".join(out)


def _colargs(query: str | None) -> str:
    """The F=/V=/P= arguments carried over into the column-sorting links."""
    fval = vval = pat = ""
    q = query or ""
    i = 0
    while i < len(q):
        s = q[i:]
        term = len(s) == 3 or (len(s) > 3 and s[3] in "&;")
        if s[:2] in ("C=", "O=") and len(s) > 2 and term and \
                s[2] in ("NMSD" if s[0] == "C" else "AD"):
            i += 4
        elif s[:2] == "F=" and len(s) > 2 and s[2] in "012" and term:
            fval = ";F=" + s[2]
            i += 4
        elif s[:2] == "V=" and len(s) > 2 and s[2] in "01" and term:
            vval = ";V=" + s[2]
            i += 4
        elif s[:2] == "P=":
            j = i + 2
            while j < len(q) and q[j] not in "&;":
                j += 1
            p = _unescape_pattern(q[i + 2:j])
            pat = ";P=" + escape_uri(p) if p is not None else ""
            if j < len(q) and j + 1 < len(q):
                i = j + 1
            else:
                break
        else:
            break
    return fval + vval + pat
