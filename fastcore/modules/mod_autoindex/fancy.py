"""FancyIndexing (<pre>) and HTMLTable listings, byte for byte as mod_autoindex 2.4.

Icons (with IconWidth/IconHeight and IconsAreLinks), alt texts, descriptions cut to
DescriptionWidth (tags count as nothing, an entity as one character), names cut or
padded to NameWidth, XHTML's self-closing tags, and the IndexStyleSheet table flavour
(id/class attributes, AddAltClass row classes).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from fastcore.core.paths import escape_uri  # noqa: F401 - re-exported for mod_autoindex

_OS_PATH_SAFE = frozenset(b"$-_.+!*'(),:;@&=/~")

_ALL_SAFE = re.compile(r"[A-Za-z0-9$\-_.+!*'(),;@&=/~]*\Z")

K_NOADJUST, K_ADJUST, K_UNSET = 0, 1, 2


def os_escape_path(path: str) -> str:
    """ap_os_escape_path(path, partial=0)."""
    if _ALL_SAFE.match(path):  # nothing to escape (and no colon): the common name
        return path
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


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


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


def terminate_description(desc: bytes, maxsize: int) -> bytes:
    """Cut a description to `maxsize` visible characters, the last one replaced by
    '>' when text remains: an HTML tag counts as nothing, an entity as one character."""
    n = len(desc)
    x = 0
    while x < n and (maxsize > 0 or desc[x] == 60):
        c = desc[x]
        if c == 60:  # '<'
            while x < n and desc[x] != 62:
                x += 1
            if x >= n:
                maxsize = 0
                break
        elif c == 38:  # '&'
            maxsize -= 1
            while x < n and desc[x] != 59:
                x += 1
            if x >= n:
                maxsize = 0
                break
        else:
            maxsize -= 1
        x += 1
    if not maxsize and x < n:
        return desc[:x - 1] + b">"
    return desc


@dataclass
class Layout:
    """Everything about a listing's look that is not per entry."""

    table: bool
    keyid: str
    direction: str
    colargs: str
    opts: set[str]
    name_width: int = 23
    name_adjust: int = K_UNSET
    desc_width: int = 23
    desc_adjust: int = K_UNSET
    icon_width: int = 0
    icon_height: int = 0
    blank_icon: str | None = None
    default_icon: str | None = None
    style_sheet: bool = False

    def has(self, opt: str) -> bool:
        return opt in self.opts


def _link(label: str, column: str, lay: Layout) -> str:
    if lay.has("suppresscolumnsorting") or lay.has("ignoreclient"):
        return label
    d = "D" if (lay.keyid == column and lay.direction == "A") else "A"
    return f'<a href="?C={column};O={d}{lay.colargs}">{label}</a>'


def _img(src: str, alt: str, lay: Layout) -> str:
    out = f'<img src="{escape_html(src)}" alt="{alt}"'
    if lay.icon_width:
        out += f' width="{lay.icon_width}"'
    if lay.icon_height:
        out += f' height="{lay.icon_height}"'
    return out + (" />" if lay.has("xhtml") else ">")


def render_fancy(ents: list[Any], has_parent: bool, lay: Layout) -> str:
    """The listing part between the heading and the readme/signature."""
    no_icon = lay.has("suppressicon")
    no_lm = lay.has("suppresslastmodified")
    no_size = lay.has("suppresssize")
    no_desc = lay.has("suppressdescription")
    no_rules = lay.has("suppressrules")
    xhtml = lay.has("xhtml")
    links = lay.has("iconsarelinks")
    style = lay.style_sheet
    name_width, desc_width = lay.name_width, lay.desc_width
    if not lay.table:
        if lay.name_adjust == K_ADJUST:
            name_width = max([name_width] + [len(e.raw) for e in ents])
        if lay.desc_adjust == K_ADJUST:
            desc_width = max([desc_width] + [len(e.desc) for e in ents if e.desc is not None])
    pad = " " * name_width
    hr = "<hr />" if xhtml else "<hr>"
    out: list[str] = []
    breakrow = ""
    if lay.table:
        cols = 1
        out.append('  <table id="indexlist">\n   <tr class="indexhead">' if style
                   else "  <table>\n   <tr>")
        if not no_icon:
            out.append('<th class="indexcolicon">' if style else '<th valign="top">')
            out.append((_img(lay.blank_icon, "[ICO]", lay) if lay.blank_icon else "&nbsp;")
                       + "</th>")
            cols += 1
        out.append(('<th class="indexcolname">' if style else "<th>") + _link("Name", "N", lay))
        for flag, label, col, cls in ((no_lm, "Last modified", "M", "indexcollastmod"),
                                      (no_size, "Size", "S", "indexcolsize"),
                                      (no_desc, "Description", "D", "indexcoldesc")):
            if not flag:
                out.append((f'</th><th class="{cls}">' if style else "</th><th>")
                           + _link(label, col, lay))
                cols += 1
        if not no_rules:
            breakrow = (f'   <tr{" class=" + chr(34) + "indexbreakrow" + chr(34) if style else ""}>'
                        f'<th colspan="{cols}">{hr}</th></tr>\n')
        out.append("</th></tr>\n" + breakrow)
    else:
        out.append("<pre>")
        if not no_icon:
            if lay.blank_icon:
                out.append(_img(lay.blank_icon, "Icon ", lay) + " ")
            else:
                out.append("      ")
        out.append(_link("Name", "N", lay))
        out.append(pad[4:] + " ")
        if not no_lm:
            out.append(_link("Last modified", "M", lay) + "      ")
        if not no_size:
            out.append(_link("Size", "S", lay) + "  ")
        if not no_desc:
            out.append(_link("Description", "D", lay))
        out.append("\n" if no_rules else hr)
    maxdesc = desc_width
    if lay.desc_adjust == K_UNSET:
        maxdesc += (6 if no_icon else 0) + (19 if no_lm else 0) + (7 if no_size else 0)
    old_dates = lay.has("useolddateformat")
    whens: dict[int, str] = {}  # per second: entries made together share their date text
    imgs: dict[tuple[str, str], str] = {}  # per (icon, alt)

    def when(lm: int) -> str:
        sec = lm // 1000000
        text = whens.get(sec)
        if text is None:
            text = whens[sec] = _when(sec * 1000000, old_dates)
        return text

    def img(icon: str, alt: str) -> str:
        tag = imgs.get((icon, alt))
        if tag is None:
            tag = imgs[(icon, alt)] = _img(icon, alt, lay)
        return tag

    for x, e in enumerate(ents):
        anchor = escape_html(os_escape_path(e.name))
        shown = b"Parent Directory" if x == 0 and has_parent else e.raw
        icon = e.icon or lay.default_icon
        alt = e.alt if e.alt is not None else "   "
        if lay.table:
            if style:
                cls = "odd" if x & 1 else "even"
                if lay.has("addaltclass") and e.alt is not None:
                    cls += "-" + e.alt.lower()
                row = f'   <tr class="{cls}">'
            else:
                row = "<tr>"
            if not no_icon:
                row += '<td class="indexcolicon">' if style else '<td valign="top">'
                if links:
                    row += f'<a href="{anchor}">'
                row += img(icon, f"[{alt}]") if icon else "&nbsp;"
                row += "</a></td>" if links else "</td>"
            row += '<td class="indexcolname">' if style else "<td>"
            if lay.name_adjust == K_ADJUST:
                row += f'<a href="{anchor}">{escape_html(_s(shown))}</a>'
            else:
                if len(shown) > name_width:
                    shown = shown[:name_width - 3] + b"..>"
                row += f'<a href="{anchor}">{escape_html(_s(shown))}</a>{pad[len(shown):]}'
            lmcell = '</td><td class="indexcollastmod">' if style else '</td><td align="right">'
            if not no_lm:
                if e.lm != -1:
                    row += lmcell + when(e.lm)
                else:
                    row += ('</td><td class="indexcollastmod">' if style else "</td><td>") \
                        + "&nbsp;"
            if not no_size:
                row += ('</td><td class="indexcolsize">' if style
                        else '</td><td align="right">') + strfsize(e.size)
            if not no_desc:
                row += '</td><td class="indexcoldesc">' if style else "</td><td>"
                if e.desc is not None:
                    row += _s(e.desc if lay.desc_adjust == K_ADJUST
                              else terminate_description(e.desc, maxdesc))
                else:
                    row += "&nbsp;"
            out.append(row + "</td></tr>\n")
        else:
            row = ""
            if not no_icon:
                if links:
                    row += f'<a href="{anchor}">'
                row += img(icon, f"[{alt}]") if icon else "     "
                row += "</a> " if links else " "
            if len(shown) > name_width:
                shown = shown[:name_width - 3] + b"..>"
            row += f'<a href="{anchor}">{escape_html(_s(shown))}</a>{pad[len(shown):]} '
            if not no_lm:
                row += when(e.lm) if e.lm != -1 else " " * 19
            if not no_size:
                row += strfsize(e.size) + "  "
            if not no_desc and e.desc is not None:
                row += _s(terminate_description(e.desc, maxdesc))
            out.append(row + "\n")
    if lay.table:
        out.append(breakrow + "</table>\n")
    else:
        out.append("</pre>\n" if no_rules else hr[:-1] + "></pre>\n")
    return "".join(out)


def _when(lm: int, old_format: bool = False) -> str:
    """Last-modified column (IndexOptions UseOldDateFormat: 01-Jan-2026 style)."""
    fmt = "%d-%b-%Y %H:%M  " if old_format else "%Y-%m-%d %H:%M  "
    return time.strftime(fmt, time.localtime(lm / 1e6))
