"""Content negotiation: Apache 2.4 mod_negotiation's server-driven algorithm.

MultiViews (`multiviews()`) builds the variant list from the directory, type-map files
(fastcore.modules.mod_negotiation.typemap) from the map; both are scored here by the same code, so a client
sees the same choice, Vary, TCN, Content-Location, Alternates and 406 body Apache gives.

The steps follow mod_negotiation.c: parse Accept* headers (its tokenizer and q-value
parser, not a strict RFC one), give every variant a quality per dimension (type with the
0.01/0.02 wildcard fiddle when no q= was sent, language with prefix matching and the
0.001/0.0001 fiddles, charset with the iso-8859-1 default, encoding with the identity
rule), then pick with Apache's ordered tie-breaks (type*source quality, language quality,
LanguagePriority index, level, charset, encoding, smaller content length).  Arithmetic is
done in single precision, as Apache's `float` fields are, so ties break the same way.
"""
from __future__ import annotations

import os
import stat as _stat
from collections.abc import Callable
from typing import Any

from fastcore.core.cacheable import PROBE_IDENTITY, Probe, probe_of
from fastcore.modules.mod_negotiation.config import mime_of
from fastcore.modules.mod_negotiation.parse import (  # noqa: F401  (re-exported API)
    CGI_MAGIC_TYPE,
    INCLUDES_MAGIC_TYPE,
    INCLUDES_MAGIC_TYPE3,
    MAP_FILE_MAGIC_TYPE,
    AcceptRec,
    Headers,
    Mime,
    atoq,
    escape_path_segment,
    f32,
    get_entry,
    parse_header,
)
from fastcore.modules.mod_negotiation.selection import (  # noqa: F401  (re-exported API)
    MultipleChoices,
    NegotiationError,
    NegotiationResult,
    NotAcceptable,
    Variant,
    fix_encoding,
    negotiate,
    new_state,
    variant_list_html,
)

# ---------------------------------------------------------------- MultiViews

def _segment_meta(low: str, dirconf: Any, mime: Mime) -> tuple[bool, str | None]:
    """mod_mime's per-extension check: (does the extension carry a type, charset,
    language or encoding?, its language).  ForceType, DefaultLanguage and handlers do
    not count, exactly as in mod_mime's find_ct."""
    mc = mime_of(dirconf)
    removed = mc.remove_type
    add_type = mc.add_type
    has_type = False
    if low not in removed:
        types = getattr(mime, "types", None)
        if low in add_type:
            has_type = True
        elif isinstance(types, dict):
            has_type = low in types
        else:
            has_type = mime.lookup("x." + low, None)[0] is not None
    language = mc.add_language.get(low)
    found = (has_type or low in mc.add_charset or language is not None
             or low in mc.add_encoding)
    return found, language


def classify(name: str, dirconf: Any, mime: Mime) -> tuple[bool, list[str], list[str], bool]:
    """mod_mime's view of a file name: (found_metadata, exception segments, languages,
    has_type_map_handler).  The exception list starts with the base name and holds every
    extension that carried no type, charset, language or encoding."""
    handlers = mime_of(dirconf).add_handler
    segs = name.split(".")
    exceptions = [segs[0]]
    languages: list[str] = []
    found_any = False
    typemap_handler = False
    for seg in segs[1:]:
        if not seg:
            continue
        low = seg.lower()
        found, language = _segment_meta(low, dirconf, mime)
        if language:
            languages.append(language.lower())
        if handlers.get(low) == "type-map":
            typemap_handler = True
        if found:
            found_any = True
        else:
            exceptions.append(seg)
    return found_any, exceptions, languages, typemap_handler


def has_handler(name: str, dirconf: Any) -> bool:
    """True when SetHandler or an AddHandler extension gives the file a handler (Apache
    then leaves {length} out of its Alternates entry)."""
    if getattr(dirconf, "set_handler", None):
        return True
    handlers = mime_of(dirconf).add_handler
    return any(seg.lower() in handlers for seg in name.split(".")[1:] if seg)


def _exceptions_match(request_name: str, exceptions: list[str]) -> bool:
    """Each unrecognised segment must match the requested name's segments in order."""
    it = iter(exceptions)
    cur = next(it, None)
    for seg in request_name.split("."):
        if cur is None:
            break
        if seg == cur:
            cur = next(it, None)
    return cur is None


def read_types_multi(dir_path: str, name: str, dirconf: Any, mime: Mime,
                     allowed: Callable[[str], bool] | None, accept_encoding: str | None = None,
                     seen: list[Probe] | None = None
                     ) -> tuple[list[Variant], bool, str | None]:
    """Variants for `name` in `dir_path`: (variants, any file matched, type map path).
    `seen`, when given, receives each variant's identity as it was read (a cached choice
    holds while they stay the same: the smaller content length breaks ties).

    Each variant's encoding is what Apache's per-variant sub-request ends up with, i.e.
    after mod_negotiation's own fixup (`x-gzip` becomes `gzip` when the client asked
    for `gzip`), so Alternates and the 406 list show the client's spelling."""
    try:
        entries = os.listdir(dir_path)
    except OSError as exc:
        raise NegotiationError(403, f"cannot read directory for multi: {dir_path}") from exc
    prefix = name + "."
    variants: list[Variant] = []
    anymatch = False
    for entry in entries:
        if not entry.startswith(prefix):
            continue
        full = os.path.join(dir_path, entry)
        try:
            st = os.stat(full)
        except OSError:
            continue
        if _stat.S_ISDIR(st.st_mode):
            continue
        anymatch = True
        if not _stat.S_ISREG(st.st_mode):
            continue
        if allowed is not None and not allowed(full):
            continue
        found, exceptions, languages, typemap = classify(entry, dirconf, mime)
        if not found or not _exceptions_match(name, exceptions):
            continue
        ctype, charset, language, encoding = mime.lookup(entry, dirconf)
        if not ctype:
            continue
        if ctype.split(";")[0].strip().lower() == MAP_FILE_MAGIC_TYPE or typemap:
            return [], True, full
        v = Variant(file_name=entry, path=full, bytes=st.st_size,
                    has_handler=has_handler(entry, dirconf))
        if seen is not None:
            seen.append(probe_of(full, PROBE_IDENTITY, st))
        ct = ctype
        if charset and "charset=" not in ct.lower():
            ct = f"{ct}; charset={charset}"
        v.set_mime_fields(ct)
        v.encoding = fix_encoding(encoding.lower(), accept_encoding) if encoding else None
        v.languages = languages or (language.lower().split(",") if language else [])
        variants.append(v)
    variants.sort(key=lambda v: (-v.source_quality, v.file_name.encode("utf-8", "surrogateescape")))
    return variants, anymatch, None


def multiviews(dir_path: str, name: str, req_headers: Headers, dirconf: Any, mime: Mime, *,
               method: str = "GET", path_info: bool = False,
               allowed: Callable[[str], bool] | None = None,
               seen: list[Probe] | None = None) -> NegotiationResult | None:
    """MultiViews for a request whose file `dir_path/name` does not exist.

    None: no file `name.*` at all (the caller answers 404 or goes on).  Raises
    NegotiationError(404) when files matched but none could be negotiated (Apache logs
    "None could be negotiated"), NotAcceptable (406) / MultipleChoices (300).
    `allowed(path)` lets the caller veto a variant (access control, symlink Options) the
    way Apache's per-variant sub-request does; by default every regular file counts.
    `seen` as read_types_multi's; it is cleared when a type map answers.
    """
    variants, anymatch, typemap_path = read_types_multi(dir_path, name, dirconf, mime, allowed,
                                                        req_headers.get("accept-encoding"),
                                                        seen)
    if typemap_path is not None:
        if seen is not None:
            seen.clear()  # the map's content decides: not a choice a cache may recall
        from fastcore.modules.mod_negotiation import typemap
        res = typemap.resolve(typemap_path, req_headers, dirconf, mime, method=method,
                              path_info=path_info)
        res.http10_expires = False  # MultiViews' fast redirect drops r->no_cache
        return res
    if not variants:
        if anymatch:
            raise NegotiationError(404, f"Negotiation: discovered file(s) matching request: "
                                        f"{os.path.join(dir_path, name)} (None could be "
                                        f"negotiated).")
        return None
    neg = new_state(req_headers, dirconf, dir_path)
    neg.variants = variants
    return negotiate(neg, req_headers, method, path_info, mime, dirconf)

