"""MIME lookups as mod_mime does them: TypesConfig + AddType/ForceType/AddCharset/
AddLanguage/AddEncoding, resolved from every extension of a file name.

The TypesConfig file is read once (at startup); per-directory directives come from the
merged DirConfig.  Results are memoized per (filename, dirconf identity), so the hot path
pays one dict lookup.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastcore.config.engine import OR_FILEINFO, RSRC, Ctx, Directive, Engine
from fastcore.config.model import DirConfig, ServerConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.phases import DECLINED, OK, TYPE_CHECKER, Hook, HookResult
from fastcore.core.typemap import forced_type, with_default_charset
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

NAME = "mime_module"


@dataclass
class MimeDir:
    """mod_mime's per-dir record (mime_dir_config): lower-case extension (no dot) ->
    value for each Add* directive, the RemoveType'd extensions, DefaultLanguage."""

    add_type: dict[str, str] = field(default_factory=dict)
    add_handler: dict[str, str] = field(default_factory=dict)
    add_charset: dict[str, str] = field(default_factory=dict)
    add_language: dict[str, str] = field(default_factory=dict)
    add_encoding: dict[str, str] = field(default_factory=dict)
    remove_type: frozenset[str] = frozenset()
    # RemoveLanguage: extensions whose inherited language this scope drops (remove_items)
    remove_language: frozenset[str] = frozenset()
    default_language: str | None = None
    # AddOutputFilter: extension -> the (upper-case) filter names it adds
    add_output_filter: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def merge(self, add: MimeDir) -> MimeDir:
        """merge_mime_dir_configs: extension maps combine (the deeper scope's entry
        wins); a type removed in the deeper scope drops an inherited AddType."""
        add_type = {**self.add_type, **add.add_type}
        if add.remove_type:
            add_type = {k: v for k, v in add_type.items()
                        if k not in add.remove_type or k in add.add_type}
        return MimeDir(add_type, {**self.add_handler, **add.add_handler},
                       {**self.add_charset, **add.add_charset},
                       {k: v for k, v in {**self.add_language, **add.add_language}.items()
                        if k not in add.remove_language},
                       {**self.add_encoding, **add.add_encoding},
                       self.remove_type | add.remove_type,
                       add.remove_language,
                       add.default_language if add.default_language is not None
                       else self.default_language,
                       {**self.add_output_filter, **add.add_output_filter})


def mime_config(dc: DirConfig) -> MimeDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    return module_record(dc.modules, NAME, MimeDir)

_HERE = os.path.dirname(__file__)
# fastcore's own table (package data), used when TypesConfig and /etc/mime.types are absent.
SHIPPED_TYPES = (os.path.join(_HERE, os.pardir, "config", "mime.types"),)

def read_types_config(path: str) -> dict[str, str]:
    """Parse a mime.types file: `type ext ext ...` lines, '#' comments."""
    table: dict[str, str] = {}
    with open(path, encoding="latin-1") as f:
        for text in f:
            words = text.split("#", 1)[0].split()
            if len(words) < 2:
                continue
            ctype = words[0].lower()
            for ext in words[1:]:
                table[ext.lower()] = ctype
    return table


def normalize_type(ctype: str) -> str:
    """mod_mime rebuilds a type that carries parameters from its parsed parts:
    `text/html;level=3` is sent as `text/html; level=3` (attribute names lower-cased)."""
    if ";" not in ctype:
        return ctype
    parts = [p.strip() for p in ctype.split(";")]
    out = [parts[0]]
    for p in parts[1:]:
        if not p:
            continue
        attr, eq, val = p.partition("=")
        out.append(f"{attr.strip().lower()}{eq}{val.strip()}")
    return "; ".join(out)


class MimeMap:
    """Compiled TypesConfig plus dirconf-aware lookup (Apache mod_mime semantics)."""

    def __init__(self, types_config_path: str | None = None) -> None:
        path = types_config_path or "/etc/mime.types"
        table: dict[str, str] | None = None
        for candidate in (path, "/etc/mime.types", *SHIPPED_TYPES):
            try:
                table = read_types_config(candidate)
                break
            except OSError:
                continue
        self.types: dict[str, str] = table if table is not None else {}
        self._memo: dict[tuple[str, int], tuple[str | None, str | None, str | None, str | None]] = {}

    def lookup(self, filename: str, dirconf: DirConfig | None
               ) -> tuple[str | None, str | None, str | None, str | None]:
        """(content_type, charset, language, encoding) for a file name.

        As mod_mime: every dot-separated extension after the first component is looked at
        left to right; a later type/charset/encoding wins, languages accumulate (joined
        with "," as Content-Language says them: "a.en.fr.html" is "en,fr"). ForceType overrides the type; DefaultType is not applied (2.4 ignores it
        except `none`), so an unknown extension gives None."""
        key = (filename, id(dirconf))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        dc = dirconf or DirConfig()
        mc = mime_config(dc)
        base = os.path.basename(filename)
        exts = base.split(".")[1:]
        ctype = charset = language = encoding = None
        removed = mc.remove_type
        for ext in exts:
            e = ext.lower()
            t = mc.add_type.get(e) if e not in removed else None
            if t is None and e not in removed:
                t = self.types.get(e)
            if t is not None:
                ctype = normalize_type(t)
            if e in mc.add_language:
                lang = mc.add_language[e]
                language = lang if language is None else f"{language},{lang}"
            if e in mc.add_encoding:
                encoding = mc.add_encoding[e]
            if e in mc.add_charset:
                charset = mc.add_charset[e].lower()
        ctype = forced_type(dc) or ctype
        if language is None and mc.default_language:
            language = mc.default_language
        result = (ctype, charset, language, encoding)
        if len(self._memo) > 4096:
            self._memo.clear()
        self._memo[key] = result
        return result

    def content_type_header(self, filename: str, dirconf: DirConfig | None) -> str | None:
        """The Content-Type value Apache sends: type plus `; charset=` from AddCharset."""
        ctype, charset, _lang, _enc = self.lookup(filename, dirconf)
        if ctype is None:
            return None
        if not charset:
            return ctype
        # find_ct: AddCharset's charset replaces a charset parameter of the type (AddType
        # "text/html; charset=ISO-8859-1" with a .utf8 extension is utf-8); others stay
        base, *params = (p.strip() for p in ctype.split(";"))
        out, put = [base], False
        for p in params:
            if p.split("=", 1)[0].strip().lower() != "charset":
                out += [p] if p else []
            elif not put:  # the first charset parameter's place; later ones are dropped
                out.append(f"charset={charset}")
                put = True
        return "; ".join(out if put else [*out, f"charset={charset}"])


# -- the directives ----------------------------------------------------------------------

def _ext(e: str) -> str:
    return e.lower().lstrip(".")


def _map(field_name: str) -> Callable[[Engine, Ctx, list[str], Node], None]:
    """AddType/AddHandler/...: the first argument is the value, the rest extensions."""
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        target: dict[str, str] = getattr(scope_record(ctx.dirconf.modules, NAME, MimeDir),
                                         field_name)
        for ext in a[1:]:
            target[_ext(ext)] = a[0].lower()
    return h


def types_config(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    e.state.types_config = e.resolve_path(a[0])


def remove_type(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    rec = scope_record(ctx.dirconf.modules, NAME, MimeDir)
    rec.remove_type = rec.remove_type | {_ext(x) for x in a}
    for x in a:
        rec.add_type.pop(_ext(x), None)


def remove_handler(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    rec = scope_record(ctx.dirconf.modules, NAME, MimeDir)
    for x in a:
        rec.add_handler.pop(_ext(x), None)


def remove_language(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """RemoveLanguage ext...: as httpd's remove_items, applied when this scope merges over
    its parent, so it drops the language this scope or an outer one gave the extension."""
    rec = scope_record(ctx.dirconf.modules, NAME, MimeDir)
    rec.remove_language = rec.remove_language | {_ext(x) for x in a}
    for x in a:
        rec.add_language.pop(_ext(x), None)


def default_language(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    scope_record(ctx.dirconf.modules, NAME, MimeDir).default_language = a[0]


def add_output_filter(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """AddOutputFilter FILTER[;FILTER...] ext...: the filters mod_mime inserts for a file
    with that extension (an output filter of fastcore reads them: output_filters)."""
    names = tuple(f.upper() for f in a[0].split(";") if f)
    rec = scope_record(ctx.dirconf.modules, NAME, MimeDir)
    for ext in a[1:]:
        rec.add_output_filter[_ext(ext)] = names


def remove_output_filter(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """RemoveOutputFilter ext...: the scope no longer adds filters for these extensions
    (an empty entry, so the merge drops the inherited one, as remove_items does)."""
    rec = scope_record(ctx.dirconf.modules, NAME, MimeDir)
    for ext in a:
        rec.add_output_filter[_ext(ext)] = ()


def output_filters(filename: str, dc: DirConfig) -> tuple[str, ...]:
    """The filter names AddOutputFilter gives a file, in the order mod_mime's find_ct
    adds them: extension by extension, each name once."""
    table = mime_config(dc).add_output_filter
    if not table:
        return ()
    out: list[str] = []
    for ext in os.path.basename(filename).split(".")[1:]:
        out += [name for name in table.get(ext.lower(), ()) if name not in out]
    return tuple(out)


def directives() -> list[Directive]:
    fi, s = frozenset({OR_FILEINFO}), frozenset({RSRC})
    return [
        Directive("TypesConfig", NAME, s, "TAKE1", types_config, "the MIME types config file"),
        Directive("AddType", NAME, fi, "ITERATE2", _map("add_type"), "a mime type followed "
                  "by one or more file extensions"),
        Directive("AddHandler", NAME, fi, "ITERATE2", _map("add_handler"), "a handler name "
                  "followed by one or more file extensions"),
        Directive("AddCharset", NAME, fi, "ITERATE2", _map("add_charset"), "a charset (e.g., "
                  "iso-2022-jp), followed by one or more file extensions"),
        Directive("AddLanguage", NAME, fi, "ITERATE2", _map("add_language"), "a language "
                  "(e.g., fr), followed by one or more file extensions"),
        Directive("AddEncoding", NAME, fi, "ITERATE2", _map("add_encoding"), "an encoding "
                  "(e.g., gzip), followed by one or more file extensions"),
        Directive("AddOutputFilter", NAME, fi, "ITERATE2", add_output_filter, "output "
                  "filter name (or ; delimited names) followed by one or more file "
                  "extensions"),
        Directive("RemoveOutputFilter", NAME, fi, "ITERATE", remove_output_filter, "one or "
                  "more file extensions"),
        Directive("RemoveType", NAME, fi, "ITERATE", remove_type, "one or more file "
                  "extensions"),
        Directive("RemoveLanguage", NAME, fi, "ITERATE", remove_language, "one or more "
                  "file extensions"),
        Directive("RemoveHandler", NAME, fi, "ITERATE", remove_handler, "one or more file "
                  "extensions"),
        Directive("DefaultLanguage", NAME, fi, "TAKE1", default_language, "language to use "
                  "for documents with no other language file extension"),
    ]



def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """mod_mime's share in a cached answer: Content-Language before the Connection field,
    Content-Type (with AddDefaultCharset) after it.  An encoded file is not cacheable: the
    Content-Encoding spelling follows the request's Accept-Encoding (gzip or x-gzip)."""
    if served is None:
        return NOTHING
    if served.enc:
        return NOT_CACHEABLE
    ctype = with_default_charset(served.ctype, dc)
    lang = b"Content-Language: " + served.lang.encode("latin-1") + b"\r\n" if served.lang else b""
    line = b"Content-Type: " + ctype.encode("latin-1") + b"\r\n" if ctype else b""
    return Contribution(head=lang, tail=line, content_type=ctype)



def handler_for(filename: str, dc: DirConfig) -> str | None:
    """The handler a file gets: SetHandler, else the last extension AddHandler names."""
    if dc.set_handler and dc.set_handler.lower() != "none":
        return dc.set_handler
    base = os.path.basename(filename)
    for ext in reversed(base.split(".")[1:]):
        h = mime_config(dc).add_handler.get(ext.lower())
        if h:
            return h
    return None


def type_checker(core: Handler, txn: Transaction) -> HookResult:
    """r->handler from SetHandler/AddHandler (DECLINED when none names one)."""
    walk, dc = txn.walk, txn.dirconf
    if walk is None or dc is None:
        return DECLINED
    name = handler_for(walk.filename, dc)
    if name is None:
        return DECLINED
    txn.handler_name = name
    return OK


HOOKS = (Hook(TYPE_CHECKER, type_checker),)


def type_map(cfg: ServerConfig) -> MimeMap:
    """The core's type service while mod_mime is loaded: TypesConfig's map."""
    return MimeMap(cfg.types_config)


MODULE = ModuleSpec(NAME, directives, dir_record=MimeDir, hooks=HOOKS,
                    cache_contribution=cache_contribution, type_map=type_map)
