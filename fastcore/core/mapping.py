"""URI -> file, as Apache 2.4's core, mod_alias and directory walk do it.

decode_path(): normalization and percent-decoding (400 for bad escapes and `..` above the
root, 404 for %2F with AllowEncodedSlashes Off and for %00).
Mapper.translate(): Redirect, Alias, DocumentRoot.
Mapper.walk(): the directory walk with the seed's exact per-request costs:
  - Options FollowSymLinks (without SymLinksIfOwnerMatch): no lstat at all;
  - SymLinksIfOwnerMatch, or neither option: one lstat per path component (using the
    options of the directory that contains it); a symlink is refused (403) without
    FollowSymLinks/SymLinksIfOwnerMatch, or when owners differ.  Each lstat is recorded
    (WalkResult.links, core/linkcheck.py) so that a cached answer repeats it on every hit;
  - AllowOverride not None: one open attempt of each AccessFileName per directory,
    through the resolver's htaccess(); AllowOverride None: none.  Such a directory is
    watched first (`watch`, the process's DirWatch: issue 12), and from the first such
    directory on every directory of the path ("/" included), so the answer may be cached
    while no watch shows a change; no watch to be had: not cacheable.
"""
from __future__ import annotations

import errno
import os
import re
import stat as stmod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeAlias

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
from fastcore.core import fscount
from fastcore.core.expr import ExprContext, ExprError
from fastcore.core.linkcheck import LinkCheck
from fastcore.core.paths import (
    BadEscape,
    EncodedNul,
    EncodedSlash,
    from_bytes,
    unescape_path,
    wire_bytes,
)
from fastcore.core.request import HttpError

if TYPE_CHECKING:
    from fastcore._pure.dirwatch import DirDep
    from fastcore.core.transaction import Transaction

# DirWatch.watch: a directory's (slot, generation) pair, None when no watch can be had
WatchFn = Callable[[bytes], "DirDep | None"]

_HEX = "0123456789abcdefABCDEF"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _stat(path: str) -> os.stat_result:
    """os.stat, counted (fastcore_fs_calls_total{kind="stat"})."""
    fscount.note(fscount.STAT)
    return os.stat(path)


def _lstat(path: str) -> os.stat_result:
    """os.lstat, counted (fastcore_fs_calls_total{kind="lstat"})."""
    fscount.note(fscount.LSTAT)
    return os.lstat(path)


def normalize(path: str, decode_unreserved: bool = True, merge_slashes: bool = True) -> str:
    """ap_normalize_path: decode %XX of unreserved characters, drop `.` segments, resolve
    `..` (above the root -> 400), merge slashes.  Any malformed %-escape -> 400."""
    if decode_unreserved and "%" in path:
        # one step per escape, not per character: the text between escapes is copied
        parts = path.split("%")
        out = [parts[0]]
        for part in parts[1:]:
            h = part[:2]
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                raise HttpError(400)
            ch = chr(int(h, 16))
            out.append(ch if ch in _UNRESERVED else "%" + h.upper())
            out.append(part[2:])
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


@dataclass(frozen=True, slots=True)
class Translated:
    """A module's translate_name answer: the file-system path, or a redirect (status and
    Location, None for 410) with no path."""

    path: str
    redirect: tuple[int, str | None] | None = None


# A module's translate_name for the mapper (mod_alias's translate_alias_redir): the
# decoded URI and the wire query in, None when it does not map that URI.
TranslateFn: TypeAlias = Callable[[VirtualHost, str, str], Translated | None]


class WalkResult:
    """The outcome of the directory walk.  `vary`: the request headers the <If>
    conditions of this walk read (Apache merges them into headers_out's Vary).  `links`:
    the symlink checks (lstats) the walk made, which a cached answer repeats per hit.
    `deps`: the watched directories whose .htaccess files the walk read (issue 12)."""

    __slots__ = ("filename", "st", "dirconf", "path_info", "cacheable", "vary", "links", "deps")

    def __init__(self, filename: str, st: os.stat_result | None, dirconf: DirConfig,
                 path_info: str, cacheable: bool, links: tuple[LinkCheck, ...] = (),
                 deps: tuple[DirDep, ...] = ()) -> None:
        self.filename = filename
        self.st = st
        self.dirconf = dirconf
        self.path_info = path_info
        self.cacheable = cacheable
        self.vary: list[str] = []
        self.links = links
        self.deps = deps


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


class LinkRefused(HttpError):
    """resolve_symlink's refusal (403): the walk's caller logs AH00037 with the path."""

    def __init__(self, path: str) -> None:
        super().__init__(403)
        self.path = path


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

    def __init__(self, resolver: DirWalker, translators: Sequence[TranslateFn] = (),
                 watch: WatchFn | None = None) -> None:
        self.resolver = resolver
        # the loaded modules' translate_name functions (REGISTRY.translators), in order
        self.translators = tuple(translators)
        self.watch = watch  # None: a .htaccess read keeps the answer out of the caches

    def watched(self, fs_dir: str, deps: list[DirDep]) -> bool:
        """Watch fs_dir before what the answer takes from it is read (issue 12): the
        pair joins deps; False when no watch can be had (the caller then keeps the answer
        out of the caches, so the files are read again on the next request)."""
        if self.watch is None:
            return False
        dep = self.watch(os.fsencode(fs_dir))
        if dep is None:
            return False
        deps.append(dep)
        return True

    def watched_path(self, fs_dir: str, deps: list[DirDep]) -> bool:
        """Watch "/" and every directory down to fs_dir: a name switched in any of them
        (a symlinked release directory retargeted onto hard-linked files, whose stat
        stays the same) changes what the path reaches."""
        parts = [p for p in fs_dir.split("/") if p]
        return all(self.watched("/" + "/".join(parts[:i]), deps) for i in range(len(parts) + 1))

    def translate(self, vhost: VirtualHost, uri: str, query: str
                  ) -> tuple[str, tuple[int, str | None] | None]:
        """(file-system path, redirect) for a decoded URI: the first module that maps it
        (mod_alias's Redirect/Alias), else core's DocumentRoot (ap_core_translate)."""
        target = None
        for fn in self.translators:
            got = fn(vhost, uri, query)
            if got is not None:
                if got.redirect is not None:
                    return "", got.redirect
                target = got.path
                break
        if target is None:
            target = vhost.document_root.rstrip("/") + uri
        if "//" in target:  # MergeSlashes Off: the file system path is still canonical
            target = re.sub("/{2,}", "/", target)
        return target, None

    def _stat_existing(self, path: str) -> tuple[str, os.stat_result | None, str]:
        """stat the full path; on ENOENT/ENOTDIR find the longest existing prefix
        (Apache's path_info split): (file name, its stat or None, path info)."""
        try:
            return path, _stat(path), ""
        except FileNotFoundError:
            try:
                if stmod.S_ISLNK(_lstat(path).st_mode):
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
                st = _stat(head)
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
        links: list[LinkCheck] = []
        deps: list[DirDep] = []
        watching = False  # from the first .htaccess read on, every directory is watched
        if reads_htaccess(dc):
            cacheable = watching = self.watched("/", deps)
            ht = r.htaccess(vhost, "/")
            if ht is not None:
                dc = merge(dc, ht)
        for i, name in enumerate(comps):
            nxt = cur + name
            opts = dc.options or 0
            if needs_lstat(opts):
                try:
                    lst = _lstat(nxt)
                except OSError:
                    cacheable = False  # vanished under the walk: nothing to repeat
                    break
                links.append(LinkCheck(nxt, bool(opts & OPT_SYM_OWNER)))
                if stmod.S_ISLNK(lst.st_mode):
                    if not (opts & (OPT_SYM_LINKS | OPT_SYM_OWNER)):
                        raise LinkRefused(nxt)
                    if opts & OPT_SYM_OWNER:
                        try:
                            tst = _stat(nxt)
                        except OSError:
                            raise LinkRefused(nxt) from None
                        if tst.st_uid != lst.st_uid:
                            raise LinkRefused(nxt)
            if i >= ndirs:
                break
            cur = nxt + "/"
            dc = r.walk_level(vhost, dc, nxt)
            if watching and cacheable:  # below a .htaccess read: this one's names count
                cacheable = self.watched(nxt, deps)
            elif cacheable and reads_htaccess(dc):  # the first read: its ancestors too
                cacheable = watching = self.watched_path(nxt, deps)
            if reads_htaccess(dc):
                ht = r.htaccess(vhost, nxt)
                if ht is not None:
                    dc = merge(dc, ht)
        dc = r.walk_end(vhost, dc, cur)
        if not is_dir:
            dc = r.files_config(vhost, dc, os.path.basename(filename))
        return WalkResult(filename, st, dc, path_info, cacheable, tuple(links),
                          tuple(deps) if cacheable else ())

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
