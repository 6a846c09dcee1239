"""URI -> file, as Apache 2.4's core, mod_alias and directory walk do it.

decode_path(): normalization and percent-decoding (400 for bad escapes and `..` above the
root, 404 for %2F with AllowEncodedSlashes Off and for %00).
Mapper.translate(): Redirect, Alias, DocumentRoot.
Mapper.walk(): the directory walk with the seed's exact per-request costs:
  - Options FollowSymLinks (without SymLinksIfOwnerMatch): no lstat at all;
  - SymLinksIfOwnerMatch, or neither option: one lstat per path component (using the
    options of the directory that contains it), never cached; a symlink is refused (403)
    without FollowSymLinks/SymLinksIfOwnerMatch, or when owners differ;
  - AllowOverride not None: one open attempt of each AccessFileName per directory,
    through the resolver's htaccess(); AllowOverride None: none.
"""
from __future__ import annotations

import errno
import os
import re
import stat as stmod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from fastcore.config.model import (
    ELSE,
    IF,
    OPT_SYM_LINKS,
    OPT_SYM_OWNER,
    DirConfig,
    IfSection,
    VirtualHost,
    reads_htaccess,
)
from fastcore.config.regex import Match
from fastcore.core.expr import ExprContext, ExprError
from fastcore.core.paths import (
    BadEscape,
    EncodedNul,
    EncodedSlash,
    escape_uri,
    from_bytes,
    fs_to_wire,
    to_bytes,
    unescape_path,
    wire_bytes,
)
from fastcore.core.request import HttpError
from fastcore.modules.mod_alias import Alias, Redirect, alias_server

if TYPE_CHECKING:
    from fastcore.core.transaction import Transaction

_HEX = "0123456789abcdefABCDEF"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalize(path: str, decode_unreserved: bool = True, merge_slashes: bool = True) -> str:
    """ap_normalize_path: decode %XX of unreserved characters, drop `.` segments, resolve
    `..` (above the root -> 400), merge slashes.  Any malformed %-escape -> 400."""
    if decode_unreserved and "%" in path:
        out = []
        i, n = 0, len(path)
        while i < n:
            c = path[i]
            if c == "%":
                h = path[i + 1:i + 3]
                if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                    raise HttpError(400)
                ch = chr(int(h, 16))
                out.append(ch if ch in _UNRESERVED else "%" + h.upper())
                i += 3
            else:
                out.append(c)
                i += 1
        path = "".join(out)
    if not path.startswith("/"):
        raise HttpError(400)
    segs = path.split("/")
    result: list[str] = []
    last = len(segs) - 1
    for idx, seg in enumerate(segs[1:], 1):
        if seg == "" and merge_slashes and idx != last:
            continue
        if seg == ".":
            if idx == last:
                result.append("")
            continue
        if seg == "..":
            if not result:
                raise HttpError(400)
            result.pop()
            if idx == last:
                result.append("")
            continue
        result.append(seg)
    return "/" + "/".join(result)


def decode_path(path: str, allow_encoded_slashes: str = "off", merge_slashes: bool = True
                ) -> str:
    """Normalized, fully decoded URL path (Apache's r->uri after ap_unescape_url), as
    path text: the wire bytes, %XX decoded, reach the filesystem unchanged (http.paths);
    with MergeSlashes Off runs of '/' stay as sent."""
    p = normalize(path, merge_slashes=merge_slashes)
    try:
        result, decoded_slash = unescape_path(p, allow_encoded_slashes)
    except BadEscape:
        raise HttpError(400) from None
    except (EncodedNul, EncodedSlash):
        raise HttpError(404) from None
    if decoded_slash:
        result = normalize(result, decode_unreserved=False)
    return result


def loose_path(target: str) -> str:
    """Best-effort decoded path of a rejected target, for the access log's %U (Apache logs
    r->uri as far as its parser got: absolute-form reduced to the path, fragment dropped,
    %XX decoded up to a NUL, dot segments removed without going above /)."""
    m = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*", target)
    if m:
        target = target[m.end():] or "/"
    elif not target.startswith("/"):
        return target  # "*", "page.html": logged as sent
    target = target.split("#", 1)[0]
    path, sep, query = target.partition("?")
    path = re.sub(r"%(2[eE]|[46][1-9a-fA-F]|[57][0-9aA]|3[0-9]|2[dD]|5[fF]|7[eE])",
                  lambda m: chr(int(m.group(1), 16)), path)  # unreserved first, as Apache
    segs: list[str] = []
    for seg in path.split("/")[1:]:
        if seg == "..":
            if segs:
                segs.pop()
        elif seg != ".":
            segs.append(seg)
    out = bytearray()
    raw = wire_bytes("/" + "/".join(segs))
    i = 0
    while i < len(raw):
        h = raw[i + 1:i + 3]
        if raw[i] == 0x25 and len(h) == 2 and all(x in b"0123456789abcdefABCDEF" for x in h):
            if int(h, 16) == 0:
                break
            out.append(int(h, 16))
            i += 3
            continue
        out.append(raw[i])
        i += 1
    return from_bytes(bytes(out)) + (sep + query if sep else "")


def alias_match(uri: str, prefix: str) -> int:
    """Length of `uri` matched by an Alias/Redirect prefix (slash runs match slash runs),
    0 if no match; the match must end on a segment boundary."""
    u = a = 0
    lu, la = len(uri), len(prefix)
    while a < la:
        if prefix[a] == "/":
            if u >= lu or uri[u] != "/":
                return 0
            while a < la and prefix[a] == "/":
                a += 1
            while u < lu and uri[u] == "/":
                u += 1
        else:
            if u >= lu or uri[u] != prefix[a]:
                return 0
            u += 1
            a += 1
    if prefix.endswith("/") or u == lu or uri[u] == "/":
        return u
    return 0


def _subst(template: str, m: Match) -> str:
    """ap_pregsub: $0-$9 are the match's groups (unset or missing ones are empty), a
    backslash makes the next character literal, everything else is copied."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        i += 1
        if c == "$" and i < n and template[i] in "0123456789":  # not "²" (fuzzing)
            g = int(template[i])
            i += 1
            if g <= m.re.groups:
                out.append(m.group(g) or "")
            continue
        if c == "\\" and i < n:
            c = template[i]
            i += 1
        out.append(c)
    return "".join(out)


def apply_redirects(redirects: tuple[Redirect, ...], uri: str, query: str
                    ) -> tuple[int, str | None] | None:
    """First matching Redirect/RedirectMatch -> (status, Location or None for 410).
    `uri` is path text, `query` wire text; the Location is wire text (header bytes).
    As mod_alias: a section's own one-URL Redirect (the last one set) comes first;
    Redirect appends ap_os_escape_path of the rest of the URI to its target, RedirectMatch
    escapes its substituted target (ap_escape_uri) up to its own query or fragment, and the
    request's query is appended when the result has none."""
    for rd in reversed(redirects):
        if rd.section:
            return rd.status, (quote(to_bytes(rd.target), safe="/;:@&=+$,-_.!~*'()%?#")
                               if rd.target else None)
    for rd in redirects:
        if rd.section:
            continue
        if rd.regex is not None:
            m = rd.regex.search(uri)
            if m is None:
                continue
            if not rd.target:
                return rd.status, None
            found = _subst(rd.target, m)
            cut = min((i for i in (found.find("?"), found.find("#")) if i >= 0),
                      default=len(found))
            loc = escape_uri(found[:cut]) + fs_to_wire(found[cut:])
        else:
            n = alias_match(uri, rd.url_prefix)
            if not n:
                continue
            if rd.target is None:
                return rd.status, None
            loc = fs_to_wire(rd.target) + escape_uri(uri[n:])  # ap_os_escape_path(.., 1)
        if query and "?" not in loc:
            loc += "?" + query
        return rd.status, loc
    return None


def alias_for(aliases: tuple[Alias, ...], uri: str) -> tuple[str, Alias] | None:
    """First matching (Script)Alias(Match) -> (file-system path, the alias)."""
    for al in aliases:
        if al.regex is not None:
            m = al.regex.search(uri)
            if m is not None:
                return _subst(al.target, m), al
            continue
        n = alias_match(uri, al.url_prefix)
        if n:
            return al.target + uri[n:], al
    return None


def apply_aliases(aliases: tuple[Alias, ...], uri: str) -> str | None:
    """First matching Alias/AliasMatch -> file-system path."""
    hit = alias_for(aliases, uri)
    return None if hit is None else hit[0]


class WalkResult:
    """The outcome of the directory walk.  `vary`: the request headers the <If>
    conditions of this walk read (Apache merges them into headers_out's Vary)."""

    __slots__ = ("filename", "st", "dirconf", "path_info", "cacheable", "vary")

    def __init__(self, filename: str, st: os.stat_result | None, dirconf: DirConfig,
                 path_info: str, cacheable: bool) -> None:
        self.filename = filename
        self.st = st
        self.dirconf = dirconf
        self.path_info = path_info
        self.cacheable = cacheable
        self.vary: list[str] = []


@dataclass(frozen=True)
class IfFailure:
    """An <If>/<ElseIf> whose condition could not be evaluated (taken as false)."""

    section: IfSection
    message: str


@dataclass
class IfOutcome:
    """What ap_if_walk made of a merged per-dir config for one request: the config with
    the true sections merged in, whether the choice may be cached (every condition it
    evaluated is request-independent and none failed), the request headers the
    conditions read (Vary) and the failed evaluations (AH00039 lines)."""

    dirconf: DirConfig
    cacheable: bool = True
    vary: list[str] = field(default_factory=list)
    failures: list[IfFailure] = field(default_factory=list)


def needs_lstat(options: int) -> bool:
    return not (options & OPT_SYM_LINKS) or bool(options & OPT_SYM_OWNER)


class DirWalker(Protocol):
    """The per-directory config the walk asks for at each level (config.merge.DirResolver;
    the tests' fakes): the core knows this shape, not the config package's class."""

    def walk_level(self, vhost: VirtualHost, base: DirConfig, fs_dir: str) -> DirConfig: ...

    def walk_end(self, vhost: VirtualHost, base: DirConfig, fs_dir: str) -> DirConfig: ...

    def merge_cached(self, base: DirConfig, delta: DirConfig) -> DirConfig: ...

    def files_config(self, vhost: VirtualHost, base: DirConfig, name: str) -> DirConfig: ...

    def htaccess(self, vhost: VirtualHost, fs_dir: str) -> DirConfig | None: ...


class Mapper:
    """Per-server mapping: translate (Redirect/Alias/DocumentRoot) and walk."""

    def __init__(self, resolver: DirWalker) -> None:
        self.resolver = resolver

    def translate(self, vhost: VirtualHost, uri: str, query: str
                  ) -> tuple[str, tuple[int, str | None] | None]:
        """(file-system path, redirect) for a decoded URI.  A vhost's lists already hold
        the main server's Alias/Redirect lines after its own (config.state.finish)."""
        conf = alias_server(vhost)
        red = apply_redirects(conf.redirects, uri, query)
        if red is not None:
            return "", red
        target = apply_aliases(conf.aliases, uri)
        if target is None:
            target = vhost.document_root.rstrip("/") + uri
        if "//" in target:  # MergeSlashes Off: the file system path is still canonical
            target = re.sub("/{2,}", "/", target)
        return target, None

    @staticmethod
    def script_aliased(vhost: VirtualHost, uri: str) -> bool:
        """Whether the URI was mapped by ScriptAlias(Match): its handler is cgi-script
        (unknown without a CGI module, so the default handler serves it)."""
        aliases = alias_server(vhost).aliases
        if not any(al.script for al in aliases):
            return False
        hit = alias_for(aliases, uri)
        return hit is not None and hit[1].script

    def _stat_existing(self, path: str) -> tuple[str, os.stat_result | None, str]:
        """stat the full path; on ENOENT/ENOTDIR find the longest existing prefix
        (Apache's path_info split): (file name, its stat or None, path info)."""
        try:
            return path, os.stat(path), ""
        except FileNotFoundError:
            try:
                if stmod.S_ISLNK(os.lstat(path).st_mode):
                    raise HttpError(403)  # dangling symlink: "link target not accessible"
            except OSError:
                pass
        except NotADirectoryError:
            pass
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:
                # a component past NAME_MAX, or the path past PATH_MAX: Apache's walk
                # answers 403 to any stat error but "not found" / "not a directory"
                raise HttpError(403) from None
            return path, None, ""
        head, info = path, ""
        while True:
            head, _, tail = head.rpartition("/")
            info = "/" + tail + info
            if not head:
                return path, None, ""
            try:
                st = os.stat(head)
            except OSError:
                continue
            if stmod.S_ISDIR(st.st_mode):
                # missing entry inside an existing directory: as Apache, r->filename is
                # that first missing entry and the rest is path info (MultiViews then
                # negotiates on the entry's name)
                first, sep, rest = info[1:].partition("/")
                return head + "/" + first, None, ("/" + rest) if sep else ""
            return head, st, info

    def walk(self, vhost: VirtualHost, path: str) -> WalkResult:
        """Directory walk over `path` (absolute); raises HttpError(403/500).

        Apache's order, level by level from "/": that level's <Directory> sections, then
        its .htaccess (so a deeper <Directory> overrides a parent's .htaccess, and a
        parent's `Options +X/-Y` carries down); <DirectoryMatch> after the walk; then the
        <Files> sections (server, nested in <Directory>, and from .htaccess files)."""
        r = self.resolver
        filename, st, path_info = self._stat_existing(path)
        is_dir = st is not None and stmod.S_ISDIR(st.st_mode)
        comps = [c for c in filename.split("/") if c]
        ndirs = len(comps) if is_dir else max(len(comps) - 1, 0)
        if st is None:
            ndirs = max(len(comps) - 1, 0)
        merge = r.merge_cached
        cur = "/"
        dc = r.walk_level(vhost, vhost.dir_defaults, "/")
        cacheable = True
        if reads_htaccess(dc):
            cacheable = False
            ht = r.htaccess(vhost, "/")
            if ht is not None:
                dc = merge(dc, ht)
        for i, name in enumerate(comps):
            nxt = cur + name
            opts = dc.options or 0
            if needs_lstat(opts):
                cacheable = False
                try:
                    lst = os.lstat(nxt)
                except OSError:
                    break
                if stmod.S_ISLNK(lst.st_mode):
                    if not (opts & (OPT_SYM_LINKS | OPT_SYM_OWNER)):
                        raise HttpError(403)
                    if opts & OPT_SYM_OWNER:
                        try:
                            tst = os.stat(nxt)
                        except OSError:
                            raise HttpError(403) from None
                        if tst.st_uid != lst.st_uid:
                            raise HttpError(403)
            if i >= ndirs:
                break
            cur = nxt + "/"
            dc = r.walk_level(vhost, dc, nxt)
            if reads_htaccess(dc):
                cacheable = False
                ht = r.htaccess(vhost, nxt)
                if ht is not None:
                    dc = merge(dc, ht)
        dc = r.walk_end(vhost, dc, cur)
        if not is_dir:
            dc = r.files_config(vhost, dc, os.path.basename(filename))
        return WalkResult(filename, st, dc, path_info, cacheable)

    def if_walk(self, txn: Transaction, dc: DirConfig) -> IfOutcome:
        """ap_if_walk over the sections `dc` carries (those of every scope merged into
        it, in merge order): an <If> whose condition holds, or an <ElseIf>/<Else>
        whose chain has not matched yet, is taken; the taken sections are merged with
        each other, then over `dc`; the <If>s nested in them are walked the same way
        after.  A failed evaluation counts as false.  Merges go through merge_cached, so
        the same choice over the same config yields the same objects."""
        out = IfOutcome(dc)
        sections = dc.if_sections
        merge = self.resolver.merge_cached
        while sections:
            taken: DirConfig | None = None
            prev = False
            for sec in sections:
                if sec.kind != IF and prev:
                    continue  # an earlier branch of this chain was taken
                if sec.kind != ELSE:
                    prev = self._holds(txn, sec, out)
                    if not prev:
                        continue
                taken = sec.config if taken is None else merge(taken, sec.config)
            if taken is None:
                break
            out.dirconf = merge(out.dirconf, taken)
            sections = taken.if_sections  # the nested ones (2.4.26+)
        return out

    @staticmethod
    def _holds(txn: Transaction, sec: IfSection, out: IfOutcome) -> bool:
        cond = sec.condition
        assert cond is not None  # only <Else> has none
        ctx = ExprContext(txn)
        try:
            ok = cond.evaluate(ctx)
        except ExprError as e:
            out.failures.append(IfFailure(sec, str(e)))
            out.cacheable = False
            ok = False
        if not cond.request_independent:
            out.cacheable = False
        for h in ctx.vary:
            if h.lower() not in (v.lower() for v in out.vary):
                out.vary.append(h)
        return ok

    def entry_allowed(self, vhost: VirtualHost, path: str) -> DirConfig | None:
        """The DirConfig of a directory entry reached by a sub-request (listing entries,
        negotiation variants), or None when the walk refuses it (a symlink without
        FollowSymLinks, a broken .htaccess): Apache then leaves the entry out."""
        try:
            return self.walk(vhost, path).dirconf
        except Exception:  # HttpError, HtaccessError: not offered
            return None
