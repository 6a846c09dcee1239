"""Directory listings as mod_autoindex produces them (Options Indexes, no index file).

Apache's default (no IndexOptions) is the plain list: a <ul> of links, "Parent Directory"
first, names sorted byte-wise, directories with a trailing slash, hrefs escaped with
ap_os_escape_path (plus "./" before a name whose first segment has a colon) and HTML
escaped.  Client query arguments are honoured as Apache does: C= (sort column), O= (order),
V= (version sort), P= (file pattern) and F= (0 plain, 1 fancy, 2 table).  In the plain
list only the name order and the direction matter (Apache records no dates or sizes for it).

The fancy and table formats (IndexOptions FancyIndexing/HTMLTable, ?F=1, ?F=2) are
produced as Apache 2.4 does without icons or descriptions.  HeaderName and ReadmeName
files are included as mod_autoindex does (HTML as is, other text/* escaped in <pre>,
found through the caller's sub-request `lookup`), with SuppressHTMLPreamble.  Settings
that need icons, alt texts, descriptions, HTML titles or style sheets raise
FancyIndexingUnsupported instead of sending a listing Apache would not send (the config
layer reports them at startup).
"""
from __future__ import annotations

import fnmatch
import functools
import os
import stat as _stat
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

CONTENT_TYPE = "text/html;charset=ISO-8859-1"
DOCTYPE = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" '
           '"http://www.w3.org/TR/html4/strict.dtd">\n')

_OS_PATH_SAFE = frozenset(b"$-_.+!*'(),:;@&=/~")
K_VALID = "NMSD"


# (uri, is_header) -> (file, Content-Type) of the sub-request, or None
InsertLookup = Callable[[str, bool], "tuple[str, str | None] | None"]


class FancyIndexingUnsupported(Exception):
    """The listing needs an autoindex feature this module does not reproduce (icons,
    descriptions, HeaderName/ReadmeName, ...); the config layer should reject those
    directives so this is never reached at request time."""


def content_type(dirconf: Any) -> str:
    """The listing's Content-Type: IndexOptions Type= and Charset= (the last of each
    wins, inherited from outer scopes), else text/html and ISO-8859-1."""
    ctype, charset = "text/html", "ISO-8859-1"
    ai = getattr(dirconf, "autoindex", None) or {}
    for line in ai.get("index_options", ()):
        for w in ((line,) if isinstance(line, str) else line):
            key, eq, val = w.partition("=")
            if eq and key.lower() == "type":
                ctype = val
            elif eq and key.lower() == "charset":
                charset = val
    return f"{ctype};charset={charset}"


def os_escape_path(path: str) -> str:
    """ap_os_escape_path(path, partial=0)."""
    raw = path.encode("utf-8", "surrogateescape")
    out = []
    colon, slash = raw.find(b":"), raw.find(b"/")
    if colon >= 0 and (slash < 0 or colon < slash):
        out.append("./")
    for b in raw:
        if (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b in _OS_PATH_SAFE:
            out.append(chr(b))
        else:
            out.append(f"%{b:02x}")
    return "".join(out)


def escape_html(s: str) -> str:
    """ap_escape_html: & < > and double quote."""
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _signed(b: int) -> int:
    return b - 256 if b >= 128 else b


def _isdigit(b: int) -> bool:
    return 48 <= b <= 57


def _isspace(b: int) -> bool:
    return b in (9, 10, 11, 12, 13, 32)


def strnatcmp(a: bytes, b: bytes, fold_case: bool = False) -> int:
    """apr_strnatcmp: digit runs compare by value; other bytes as (signed) C chars."""
    ai = bi = 0
    la, lb = len(a), len(b)

    def at(s: bytes, i: int) -> int:
        return s[i] if i < len(s) else 0

    while True:
        ca, cb = at(a, ai), at(b, bi)
        while ca and _isspace(ca):
            ai += 1
            ca = at(a, ai)
        while cb and _isspace(cb):
            bi += 1
            cb = at(b, bi)
        if _isdigit(ca) and _isdigit(cb):
            if ca == 48 or cb == 48:
                r = _compare_left(a, ai, b, bi)
            else:
                r = _compare_right(a, ai, b, bi)
            if r:
                return r
        if not ca and not cb:
            return 0
        if fold_case:
            ca = ca - 32 if 97 <= ca <= 122 else ca
            cb = cb - 32 if 97 <= cb <= 122 else cb
        sa, sb = _signed(ca), _signed(cb)
        if sa < sb:
            return -1
        if sa > sb:
            return 1
        ai += 1
        bi += 1
        if ai > la and bi > lb:
            return 0


def _compare_right(a: bytes, ai: int, b: bytes, bi: int) -> int:
    bias = 0
    while True:
        ca = a[ai] if ai < len(a) else 0
        cb = b[bi] if bi < len(b) else 0
        da, db = _isdigit(ca), _isdigit(cb)
        if not da and not db:
            return bias
        if not da:
            return -1
        if not db:
            return 1
        if ca < cb and not bias:
            bias = -1
        elif ca > cb and not bias:
            bias = 1
        ai += 1
        bi += 1


def _compare_left(a: bytes, ai: int, b: bytes, bi: int) -> int:
    while True:
        ca = a[ai] if ai < len(a) else 0
        cb = b[bi] if bi < len(b) else 0
        da, db = _isdigit(ca), _isdigit(cb)
        if not da and not db:
            return 0
        if not da:
            return -1
        if not db:
            return 1
        if ca < cb:
            return -1
        if ca > cb:
            return 1
        ai += 1
        bi += 1


def strcmp_match(s: str, pattern: str) -> bool:
    """ap_strcmp_match: '*' (any run, '/' included) and '?' only."""
    return fnmatch.fnmatchcase(s, pattern.replace("[", "[[]")) if "[" in pattern \
        else fnmatch.fnmatchcase(s, pattern)


def _fnmatch_period(pattern: str, name: str) -> bool:
    """apr_fnmatch(pattern, name, FNM_NOESCAPE | FNM_PERIOD)."""
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern.replace("[^", "[!"))


def _options(dirconf: Any) -> set[str]:
    """Effective IndexOptions flags (lower-case keywords), following mod_autoindex's
    add_opts: a prefixed word (+X/-X) only increments or decrements, a plain word sets the
    flag and cancels the increments/decrements accumulated so far, `None` clears all."""
    ai = getattr(dirconf, "autoindex", None) or {}
    opts: set[str] = set()
    add: set[str] = set()
    remove: set[str] = set()
    for line in ai.get("index_options", ()):
        words = (line,) if isinstance(line, str) else line
        for w in words:
            action = w[0] if w[:1] in ("+", "-") else ""
            key = w.lstrip("+-").split("=", 1)[0].lower()
            flag = None if "=" in w or key in ("namewidth", "descriptionwidth", "iconwidth",
                                               "iconheight") else key
            if key == "none":
                opts, add, remove = set(), set(), set()
                continue
            if action == "":
                if flag:
                    opts.add(flag)
                add, remove = set(), set()
            elif action == "+":
                if flag:
                    add.add(flag)
                    remove.discard(flag)
            else:
                if flag:
                    remove.add(flag)
                    add.discard(flag)
    return (opts | add) - remove


def _ignore_patterns(dirconf: Any) -> list[str]:
    ai = getattr(dirconf, "autoindex", None) or {}
    pats: list[str] = []
    for item in ai.get("index_ignore", ()):
        pats.extend((item,) if isinstance(item, str) else item)
    return pats


def _ignored(name: str, patterns: list[str]) -> bool:
    for p in patterns:
        last = p.rsplit("/", 1)[-1]
        if strcmp_match(name, last):
            return True
    return False


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


_UNSUPPORTED_KEYS = ("header_name", "readme_name", "add_icon", "add_icon_by_type",
                     "add_icon_by_encoding", "default_icon", "add_alt", "add_alt_by_type",
                     "add_alt_by_encoding", "add_description", "index_style_sheet",
                     "index_head_insert")
_FANCY_ONLY_KEYS = tuple(k for k in _UNSUPPORTED_KEYS if k not in (
    "header_name", "readme_name", "index_style_sheet", "index_head_insert"))


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


_UNSUPPORTED_OPTS = ("scanhtmltitles", "iconsarelinks", "xhtml", "trackmodified",
                     "showforbidden", "addaltclass")


class _Ent:
    __slots__ = ("name", "raw", "size", "lm", "isdir")

    def __init__(self, name: str, size: int, lm: int, isdir: bool) -> None:
        self.name = name
        self.raw = name.encode("utf-8", "surrogateescape")
        self.size = size
        self.lm = lm  # microseconds, as apr_time_t
        self.isdir = isdir


def _width(opts_raw: list[str], key: str, default: int) -> tuple[int, bool]:
    """(width, adjust) from IndexOptions NameWidth=N|* / DescriptionWidth=N|*."""
    width, adjust = default, False
    for w in opts_raw:
        k, _, v = w.lstrip("+-").partition("=")
        if k.lower() == key:
            if w.startswith("-"):
                width, adjust = default, False
            elif v == "*":
                adjust = True
            elif v.isdigit():
                width, adjust = max(int(v), 5), False
    return width, adjust


def strfsize(size: int) -> str:
    """apr_strfsize: "  5 ", "6.8K", " 12M", "  - " for no size."""
    if size < 0:
        return "  - "
    if size < 973:
        return f"{size:3d} "
    for o in "KMGTPE":
        remain = size & 1023
        size >>= 10
        if size >= 973:
            continue
        if size < 9 or (size == 9 and remain < 973):
            remain = (remain * 5 + 256) // 512
            if remain >= 10:
                size, remain = size + 1, 0
            return f"{size}.{remain}{o}"
        if remain >= 512:
            size += 1
        return f"{size:3d}{o}"
    return "****"


def render(dir_path: str, uri: str, query: str | None, dirconf: Any, *,
           allowed: Callable[[str], bool] | None = None, signature: str = "",
           lookup: InsertLookup | None = None) -> bytes:
    """The listing body (see render_listing)."""
    return render_listing(dir_path, uri, query, dirconf, allowed=allowed, signature=signature,
                          lookup=lookup)[0]


def render_listing(dir_path: str, uri: str, query: str | None, dirconf: Any, *,
                   allowed: Callable[[str], bool] | None = None, signature: str = "",
                   lookup: InsertLookup | None = None) -> tuple[bytes, bool]:
    """(listing body, streamed) for directory `dir_path` requested as `uri` (decoded).

    `allowed(path)` vetoes entries the way Apache's per-entry sub-request does (access
    denied, symlink refused); `signature` is the ServerSignature line (ap_psignature with
    an empty prefix) or "".  `lookup(uri)` is Apache's sub-request for HeaderName and
    ReadmeName: (file, Content-Type) when that URI would be served as a regular file
    (its second argument is True for the header, which Apache negotiates as text).
    `streamed` is True when an HTML header/readme was included (Apache then sends the
    listing without Content-Length: chunked, or close-delimited for HTTP/1.0).
    Raises OSError if the directory cannot be read (Apache: 403), and
    FancyIndexingUnsupported for settings this module does not reproduce (icons,
    descriptions, style sheets; header/readme files when no `lookup` is given).
    """
    opts = _options(dirconf)
    ai = getattr(dirconf, "autoindex", None) or {}
    for key in ("index_style_sheet", "index_head_insert"):  # every listing's preamble
        if ai.get(key):
            raise FancyIndexingUnsupported(f"autoindex setting {key} is not implemented")
    inserts: dict[str, tuple[str, bytes] | None] = {}
    for key in ("header_name", "readme_name"):
        name = _setting(ai.get(key))
        if not name:
            inserts[key] = None
        elif lookup is None:
            if _insert_file_present(dir_path, name):
                raise FancyIndexingUnsupported(f"autoindex setting {key} needs a lookup")
            inserts[key] = None
        else:
            inserts[key] = _insert(lookup, name, key == "header_name")
    order = ai.get("index_order_default")
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
    if fancy and any(o in opts for o in _UNSUPPORTED_OPTS):
        raise FancyIndexingUnsupported("these IndexOptions are not implemented")
    if fancy and any(ai.get(k) for k in _FANCY_ONLY_KEYS):  # icons, alt texts, descriptions
        raise FancyIndexingUnsupported("icons and descriptions are not implemented")
    ignore_case = "ignorecase" in opts
    folders_first = fancy and "foldersfirst" in opts
    patterns = _ignore_patterns(dirconf)

    ents: list[_Ent] = []
    for name in os.listdir(dir_path):
        if name in (".", ".."):
            continue
        if pattern is not None and not _fnmatch_period(pattern, name):
            continue
        if _ignored(name, patterns):
            continue
        full = os.path.join(dir_path, name)
        try:
            st = os.stat(full)
        except OSError:
            continue
        isdir = _stat.S_ISDIR(st.st_mode)
        if not (isdir or _stat.S_ISREG(st.st_mode)):
            continue
        if allowed is not None and not allowed(full):
            continue
        lm = st.st_mtime_ns // 1000 if fancy else (0 if keyid == "M" else -1)
        ents.append(_Ent(name + "/" if isdir else name,
                         -1 if (isdir or not fancy) else st.st_size, lm,
                         bool(folders_first and isdir)))

    def names_cmp(x: bytes, y: bytes) -> int:
        r = 0
        if version:
            if ignore_case:
                r = strnatcmp(x, y, True)
            if not r:
                r = strnatcmp(x, y)
        if not r and ignore_case:
            xl, yl = x.lower(), y.lower()
            r = (xl > yl) - (xl < yl)
        if not r:
            r = (x > y) - (x < y)
        return r

    def cmp(e1: _Ent, e2: _Ent) -> int:
        if e1.isdir != e2.isdir:
            return -1 if e1.isdir else 1
        c1, c2 = (e1, e2) if direction == "A" else (e2, e1)
        if keyid == "M" and c1.lm != c2.lm:
            return 1 if c1.lm > c2.lm else -1
        if keyid == "S" and c1.size != c2.size:
            return 1 if c1.size > c2.size else -1
        return names_cmp(c1.raw, c2.raw)

    ents.sort(key=functools.cmp_to_key(cmp))

    title = escape_html(uri)
    while len(title) > 1 and title.endswith("/"):
        title = title[:-1]
    suppress_amble = "suppresshtmlpreamble" in opts
    preamble = [DOCTYPE, "<html>\n <head>\n  <title>Index of ", title,
                "</title>\n </head>\n <body>\n"]
    streamed = False
    header = inserts["header_name"]
    if header is not None and header[0] == "html":  # the file replaces preamble and <h1>
        out = ([] if suppress_amble else preamble) + [_raw(header[1])]
        streamed = True
    elif header is not None:  # text/*: in a <pre> block after the preamble, no <h1>
        out = preamble + [_plaintext(header[1])]
    else:
        out = preamble + ["<h1>Index of ", title, "</h1>\n"]
    parent = _parent(uri)
    if parent is not None and not _ignored("..", patterns):
        ents.insert(0, _Ent(parent, -1, -1, False))
    else:
        parent = None
    if fancy:
        raw_opts = [w for line in ai.get("index_options", ())
                    for w in ((line,) if isinstance(line, str) else line)]
        name_width, adjust = _width(raw_opts, "namewidth", 23)
        if adjust and fancy == 1:
            name_width = max([name_width] + [len(e.raw) for e in ents])
        out.append(_fancy(ents, parent is not None, fancy == 2, name_width, keyid, direction,
                          colargs, "suppresscolumnsorting" in opts, opts,
                          adjust and fancy == 2))
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


def _setting(value: object) -> str | None:
    """A TAKE1 autoindex value as stored by the config layer (a string or a 1-tuple)."""
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    return str(value) if value else None


def _insert(lookup: InsertLookup, name: str, header: bool) -> tuple[str, bytes] | None:
    """("html"|"text", file bytes) for a HeaderName/ReadmeName that Apache would
    include: text/html and application/xhtml+xml as they are, other text/* types
    escaped; anything else (or no such file, or access denied) is not included."""
    found = lookup(name, header)
    if found is None or not found[1]:
        return None
    path, ctype = found
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
            pat = ";P=" + _escape_uri(p) if p is not None else ""
            if j < len(q) and j + 1 < len(q):
                i = j + 1
            else:
                break
        else:
            break
    return fval + vval + pat


def _escape_uri(s: str) -> str:
    """ap_escape_uri (= ap_os_escape_path with partial=1)."""
    out = []
    for b in s.encode("utf-8", "surrogateescape"):
        if (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b in _OS_PATH_SAFE:
            out.append(chr(b))
        else:
            out.append(f"%{b:02x}")
    return "".join(out)


def _link(label: str, column: str, keyid: str, direction: str, colargs: str,
          nosort: bool) -> str:
    if nosort:
        return label
    d = "D" if (keyid == column and direction == "A") else "A"
    return f'<a href="?C={column};O={d}{colargs}">{label}</a>'


def _fancy(ents: list[_Ent], has_parent: bool, table: bool, name_width: int, keyid: str,
           direction: str, colargs: str, nosort: bool, opts: set[str],
           table_adjust: bool = False) -> str:
    """FancyIndexing (<pre>) or HTMLTable listing without icons or descriptions;
    table_adjust: HTMLTable with NameWidth=* (names neither padded nor truncated)."""
    no_lm = "suppresslastmodified" in opts
    no_size = "suppresssize" in opts
    no_desc = "suppressdescription" in opts
    no_rules = "suppressrules" in opts
    no_icon = "suppressicon" in opts
    pad = " " * name_width
    out: list[str] = []
    if table:
        cols = 1
        out.append("  <table>\n   <tr>")
        if not no_icon:
            out.append('<th valign="top">&nbsp;</th>')
            cols += 1
        out.append("<th>" + _link("Name", "N", keyid, direction, colargs, nosort) + "</th>")
        for flag, label, col in ((no_lm, "Last modified", "M"), (no_size, "Size", "S"),
                                 (no_desc, "Description", "D")):
            if not flag:
                out.append("<th>" + _link(label, col, keyid, direction, colargs, nosort)
                           + "</th>")
                cols += 1
        cols -= 1 if no_icon else 0
        breakrow = "" if no_rules else f'   <tr><th colspan="{cols}"><hr></th></tr>\n'
        out.append("</tr>\n" + breakrow)
    else:
        out.append("<pre>")
        if not no_icon:
            out.append("      ")
        out.append(_link("Name", "N", keyid, direction, colargs, nosort))
        out.append(pad[4:] + " ")
        if not no_lm:
            out.append(_link("Last modified", "M", keyid, direction, colargs, nosort) + "      ")
        if not no_size:
            out.append(_link("Size", "S", keyid, direction, colargs, nosort) + "  ")
        if not no_desc:
            out.append(_link("Description", "D", keyid, direction, colargs, nosort))
        out.append("\n" if no_rules else "<hr>")
    for k, e in enumerate(ents):
        anchor = escape_html(os_escape_path(e.name))
        label = (b"Parent Directory" if k == 0 and has_parent else e.raw)
        if len(label) > name_width and not table_adjust:
            label = label[:name_width - 3] + b"..>"
        shown = escape_html(label.decode("utf-8", "surrogateescape"))
        padding = "" if table_adjust else pad[len(label):]
        when = time.strftime("%Y-%m-%d %H:%M  ", time.localtime(e.lm / 1e6)) \
            if e.lm != -1 else None
        if table:
            row = "<tr>"
            if not no_icon:
                row += '<td valign="top">&nbsp;</td>'
            row += f'<td><a href="{anchor}">{shown}</a>{padding}'
            if not no_lm:
                row += (f'</td><td align="right">{when}' if when else "</td><td>&nbsp;")
            if not no_size:
                row += f'</td><td align="right">{strfsize(e.size)}'
            if not no_desc:
                row += "</td><td>&nbsp;"
            out.append(row + "</td></tr>\n")
        else:
            row = "      " if not no_icon else ""
            row += f'<a href="{anchor}">{shown}</a>{padding} '
            if not no_lm:
                row += when if when else " " * 19
            if not no_size:
                row += strfsize(e.size) + "  "
            out.append(row + "\n")
    if table:
        out.append(breakrow + "</table>\n")
    else:
        out.append("</pre>\n" if no_rules else "<hr></pre>\n")
    return "".join(out)
