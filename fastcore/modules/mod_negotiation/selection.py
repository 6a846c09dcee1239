"""Variant selection: Apache mod_negotiation's server-driven algorithm and the response
headers it sets (Vary, TCN, Content-Location, Alternates), shared by MultiViews and type
maps.  Qualities are kept in single precision, as Apache's C floats are."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from fastcore.core.tokens import is_digits
from fastcore.modules.mod_negotiation.config import negotiation_of
from fastcore.modules.mod_negotiation.parse import (
    CGI_MAGIC_TYPE,
    FLP_FALLBACK,
    FLP_NONE,
    FLP_PREFER,
    INCLUDES_MAGIC_TYPE,
    INCLUDES_MAGIC_TYPE3,
    AcceptRec,
    Headers,
    Mime,
    escape_path_segment,
    f32,
    parse_header,
)
from fastcore.modules.mod_negotiation.variant import (  # noqa: F401 - re-exported: the module's API
    MultipleChoices,
    NegotiationError,
    NegotiationResult,
    NotAcceptable,
    Variant,
)

# ---------------------------------------------------------------- the algorithm

@dataclass
class _State:
    accepts: list[AcceptRec] | None
    accept_encodings: list[AcceptRec] | None
    accept_charsets: list[AcceptRec] | None
    accept_langs: list[AcceptRec] | None
    accept_q: bool
    language_priority: tuple[str, ...] | None
    force_priority: int
    variants: list[Variant]
    dir_name: str
    is_transparent: bool = False
    dont_fiddle_headers: bool = False
    ua_supports_trans: bool = False
    send_alternates: bool = False
    may_choose: bool = True
    use_rvsa: bool = False
    default_lang_quality: float = 1.0


def _force_priority(dirconf: Any) -> int:
    raw = negotiation_of(dirconf).force_language_priority
    if not raw:
        return FLP_PREFER
    if isinstance(raw, int):
        return raw
    words = raw.replace("|", " ").split() if isinstance(raw, str) else raw
    flags = 0
    for w in words:
        flags |= {"none": FLP_NONE, "prefer": FLP_PREFER, "fallback": FLP_FALLBACK}[w.lower()]
    return flags


def new_state(req_headers: Headers, dirconf: Any, dir_name: str) -> _State:
    accepts = parse_header(req_headers.get("accept"))
    prio = negotiation_of(dirconf).language_priority
    return _State(
        accepts=accepts,
        accept_encodings=parse_header(req_headers.get("accept-encoding")),
        accept_charsets=parse_header(req_headers.get("accept-charset")),
        accept_langs=parse_header(req_headers.get("accept-language")),
        accept_q=any(a.quality < 1.0 for a in accepts or ()),
        language_priority=tuple(prio) if prio else None,
        force_priority=_force_priority(dirconf),
        variants=[],
        dir_name=dir_name,
    )


def _parse_negotiate(neg: _State, req_headers: Headers) -> None:
    negotiate = req_headers.get("negotiate")
    if negotiate is None:
        return
    if negotiate == "trans":
        ua = req_headers.get("user-agent") or ""
        if ua.startswith("Lynx"):
            return
    neg.may_choose = False
    for tok in (t.strip().lower() for t in negotiate.split(",")):
        if not tok:
            continue
        if tok in ("trans", "vlist", "guess-small", "*") or is_digits(tok[0]):
            neg.ua_supports_trans = True
            neg.send_alternates = True
            if tok == "1.0":
                neg.may_choose = True
                neg.use_rvsa = True
                neg.dont_fiddle_headers = True
            elif tok[0] == "*":
                neg.may_choose = True
                neg.dont_fiddle_headers = True


def _mime_match(acc: AcceptRec, v: Variant) -> bool:
    a, t = acc.name, v.mime_type
    if not a:
        return False
    if a[0] == "*":
        v.mime_stars = max(v.mime_stars, 1)
        return True
    if a[-1] == "*" and t[:max(len(a) - 2, 0)] == a[:max(len(a) - 2, 0)] \
            and len(t) >= len(a) - 2:
        v.mime_stars = max(v.mime_stars, 2)
        return True
    if a == t or (a == "text/html" and t in (INCLUDES_MAGIC_TYPE, INCLUDES_MAGIC_TYPE3)):
        if acc.level >= v.level:
            v.level_matched = v.level
            v.mime_stars = 3
            return True
    return False


def _level_cmp(v1: Variant, v2: Variant) -> int:
    if v1.is_pseudo_html and not v2.is_pseudo_html:
        return 0
    if not v1.is_pseudo_html and v1.mime_type != v2.mime_type:
        return 0
    if v1.level_matched > v2.level_matched:
        return 1
    if v1.level_matched < v2.level_matched:
        return -1
    if v1.level < v2.level:
        return 1
    if v1.level > v2.level:
        return -1
    return 0


def _find_lang_index(prio: tuple[str, ...] | None, lang: str) -> int:
    if not prio or not lang:
        return -1
    for i, p in enumerate(prio):
        if lang.startswith(p):
            return i
    return -1


def _set_default_lang_quality(neg: _State) -> None:
    if not neg.dont_fiddle_headers and any(v.languages for v in neg.variants):
        neg.default_lang_quality = f32(0.0001)
    else:
        neg.default_lang_quality = 1.0


def _set_language_quality(neg: _State, v: Variant) -> None:
    force = neg.force_priority
    if not v.languages:
        if not neg.dont_fiddle_headers:
            v.lang_quality = neg.default_lang_quality
        return
    if neg.accept_langs is None:
        v.definite = False
    else:
        best: AcceptRec | None = None
        star: AcceptRec | None = None
        fiddle_q = 0.0
        any_match_on_star = False
        for lang in v.languages:
            bestthistag: AcceptRec | None = None
            longest = 0
            for acc in neg.accept_langs:
                if acc.name == "*":
                    if star is None:
                        star = acc
                    continue
                alen = len(acc.name)
                if len(lang) >= alen and lang[:alen] == acc.name and \
                        (len(lang) == alen or lang[alen] == "-"):
                    if alen > longest:
                        longest = alen
                        bestthistag = acc
                if bestthistag is None and not neg.dont_fiddle_headers:
                    dash = acc.name.find("-")
                    if dash >= 0 and lang[:dash] == acc.name[:dash] and len(lang) >= dash:
                        fiddle_q = f32(0.001)
            if best is None or (bestthistag is not None and bestthistag.quality > best.quality):
                best = bestthistag
            if bestthistag is None and star is not None:
                any_match_on_star = True
        if any_match_on_star and star is not None and \
                ((best is not None and star.quality > best.quality) or best is None):
            best = star
            v.definite = False
        v.lang_quality = best.quality if best is not None else fiddle_q

    if ((force & FLP_PREFER) and v.lang_index < 0) or \
            ((force & FLP_FALLBACK) and not v.lang_quality):
        bestidx = -1
        for lang in v.languages:
            idx = _find_lang_index(neg.language_priority, lang)
            if idx >= 0 and (bestidx == -1 or idx < bestidx):
                bestidx = idx
        if bestidx >= 0:
            if v.lang_quality:
                if force & FLP_PREFER:
                    v.lang_index = bestidx
            elif force & FLP_FALLBACK:
                v.lang_index = bestidx
                v.lang_quality = f32(0.0001)
                v.definite = False


def _find_content_length(neg: _State, v: Variant) -> int:
    if v.bytes < 0 and v.path is not None:
        try:
            v.bytes = os.stat(v.path).st_size
        except OSError:
            pass
    return v.bytes


def _set_accept_quality(neg: _State, v: Variant) -> None:
    if neg.accepts is None:
        if v.mime_type:
            v.definite = False
        return
    q = 0.0
    q_definite = True
    for acc in neg.accepts:
        prev = v.mime_stars
        if not _mime_match(acc, v):
            continue
        if prev == v.mime_stars:
            continue
        if not neg.dont_fiddle_headers and not neg.accept_q and v.mime_stars == 1:
            q = f32(0.01)
        elif not neg.dont_fiddle_headers and not neg.accept_q and v.mime_stars == 2:
            q = f32(0.02)
        else:
            q = acc.quality
        q_definite = v.mime_stars == 3
    v.mime_type_quality = q
    v.definite = v.definite and q_definite


def _set_charset_quality(neg: _State, v: Variant) -> None:
    charset = v.charset
    if neg.accept_charsets is None:
        if charset:
            v.definite = False
        return
    if not charset:
        if not (v.mime_type.startswith("text/") or
                v.mime_type in (INCLUDES_MAGIC_TYPE, INCLUDES_MAGIC_TYPE3)):
            return
        if neg.dont_fiddle_headers:
            return
        charset = "iso-8859-1"
    star = None
    for acc in neg.accept_charsets:
        if acc.name == charset:
            v.charset_quality = acc.quality
            return
        if acc.name == "*":
            star = acc
    if star is not None:
        v.charset_quality = star.quality
        v.definite = False
        return
    v.charset_quality = 1.0 if charset == "iso-8859-1" else 0.0


def _is_identity(enc: str | None) -> bool:
    return not enc or enc in ("7bit", "8bit", "binary")


def _set_encoding_quality(neg: _State, v: Variant) -> None:
    enc = v.encoding
    if neg.accept_encodings is None:
        v.encoding_quality = 1.0 if _is_identity(enc) else f32(0.5)
        return
    value_if_not_found = 0.0
    if _is_identity(enc):
        enc = "identity"
        value_if_not_found = f32(0.0001)
    assert enc is not None
    if enc.startswith("x-"):
        enc = enc[2:]
    star = None
    for acc in neg.accept_encodings:
        name = acc.name[2:] if acc.name.startswith("x-") else acc.name
        if name == enc:
            v.encoding_quality = acc.quality
            return
        if name == "*":
            star = acc
    v.encoding_quality = star.quality if star is not None else value_if_not_found


def _better_rvsa(v: Variant, best: Variant | None, bestq: float) -> float | None:
    if v.encoding_quality == 0.0:
        return None
    q = f32(f32(f32(v.mime_type_quality * v.source_quality) * v.charset_quality)
            * v.lang_quality)
    if q <= 0.0:
        return None
    if q > bestq:
        return q
    if q == bestq and best is not None and v.encoding_quality > best.encoding_quality:
        return q
    return None


def _better(neg: _State, v: Variant, best: Variant | None, bestq: float) -> float | None:
    """is_variant_better: the new best q when v beats best, else None."""
    if (v.encoding_quality == 0.0 or v.lang_quality == 0.0 or v.source_quality == 0.0
            or v.charset_quality == 0.0 or v.mime_type_quality == 0.0):
        return None
    q = f32(v.mime_type_quality * v.source_quality)
    if q == 0.0 or q < bestq:
        return None
    if q > bestq or best is None:
        return q
    if v.lang_quality < best.lang_quality:
        return None
    if v.lang_quality > best.lang_quality:
        return q
    if best.lang_index != -1 and (v.lang_index == -1 or v.lang_index > best.lang_index):
        return None
    if v.lang_index != -1 and (best.lang_index == -1 or v.lang_index < best.lang_index):
        return q
    lev = _level_cmp(v, best)
    if lev == -1:
        return None
    if lev == 1:
        return q
    if v.charset_quality < best.charset_quality:
        return None
    if v.charset_quality > best.charset_quality or (
            v.charset and v.charset != "iso-8859-1"
            and (not best.charset or best.charset == "iso-8859-1")):
        return q
    if v.encoding_quality < best.encoding_quality:
        return None
    if v.encoding_quality > best.encoding_quality:
        return q
    if _find_content_length(neg, v) >= _find_content_length(neg, best):
        return None
    return q


def _best_match(neg: _State) -> tuple[Variant | None, bool]:
    """(best variant, chosen?) -- chosen is Apache's alg_choice."""
    _set_default_lang_quality(neg)
    best: Variant | None = None
    bestq = 0.0
    for v in neg.variants:
        _set_accept_quality(neg, v)
        _set_language_quality(neg, v)
        _set_encoding_quality(neg, v)
        _set_charset_quality(neg, v)
        if neg.may_choose:
            q = _better_rvsa(v, best, bestq) if neg.use_rvsa else _better(neg, v, best, bestq)
            if q is not None:
                best, bestq = v, q
    if neg.use_rvsa:
        chosen = best is not None and best.definite and bestq > 0
    else:
        chosen = bestq > 0
    return best, chosen


def _qstr(q: float) -> str:
    s = f"{q:1.3f}"[:5]
    if len(s) >= 5 and s[4] == "0":
        s = s[:4]
        if s[3] == "0":
            s = s[:3]
            if s[2] == "0":
                s = s[:1]
    return s


def _neg_headers(neg: _State) -> tuple[list[str], list[tuple[str, str]]]:
    """Vary tokens and the Vary/TCN-less Alternates header (set_neg_headers)."""
    vary_type = vary_lang = vary_charset = vary_enc = False
    alts = []
    first = neg.variants[0] if neg.variants else None
    for v in neg.variants:
        lang = ",".join(v.languages) if v.languages else ""
        if first is not None and v is not first:
            vary_type = vary_type or v.mime_type != first.mime_type
            vary_charset = vary_charset or v.charset != first.charset
            vary_lang = vary_lang or lang != ",".join(first.languages)
            vary_enc = vary_enc or (v.encoding or "") != (first.encoding or "")
        if neg.send_alternates:
            s = '{"' + escape_path_segment(v.file_name) + '" ' + _qstr(v.source_quality)
            if v.mime_type:
                s += " {type " + v.mime_type + "}"
            if v.charset:
                s += " {charset " + v.charset + "}"
            if lang:
                s += " {language " + lang + "}"
            if v.encoding:
                s += " {encoding " + v.encoding + "}"
            if not v.has_handler:
                n = _find_content_length(neg, v)
                if n >= 0:
                    s += " {length " + str(n) + "}"
            alts.append(s + "}")
    vary = []
    if neg.is_transparent:
        vary.append("negotiate")
    if vary_type:
        vary.append("accept")
    if vary_lang:
        vary.append("accept-language")
    if vary_charset:
        vary.append("accept-charset")
    if vary_enc:
        vary.append("accept-encoding")
    headers = []
    if alts:
        headers.append(("Alternates", ", ".join(alts)))
    return vary, headers


def variant_list_html(variants: list[Variant]) -> str:
    """make_variant_list: the HTML list in 406/300 bodies (names are not escaped, as in
    Apache)."""
    out = ["Available variants:\n<ul>\n"]
    for v in variants:
        out.append(f'<li><a href="{v.file_name}">{v.file_name}</a> {v.description}')
        if v.mime_type:
            out.append(", type " + v.mime_type)
        if v.languages:
            out.append(", language " + ",".join(v.languages))
        if v.charset:
            out.append(", charset " + v.charset)
        if v.encoding is not None:
            out.append(", encoding " + v.encoding)
        out.append("</li>\n")
    out.append("</ul>\n")
    return "".join(out)


def negotiate(neg: _State, req_headers: Headers, method: str, path_info: bool,
              mime: Mime, dirconf: Any) -> NegotiationResult:
    """do_negotiation + the choice-response headers; raises NotAcceptable/MultipleChoices."""
    if method.upper() in ("GET", "HEAD"):
        neg.is_transparent = not path_info and not any(
            "/" in v.file_name or v.body is not None for v in neg.variants)
    if neg.is_transparent:
        _parse_negotiate(neg, req_headers)
    else:
        neg.may_choose = True
    if neg.accepts is None:
        neg.accepts = [AcceptRec("*/*", 1.0, 0.0)]
    cgi_q = 0.0 if neg.use_rvsa else (2.0 if method.upper() != "GET" and
                                       method.upper() != "HEAD" else f32(0.001))
    neg.accepts.append(AcceptRec(CGI_MAGIC_TYPE, cgi_q, 0.0))

    best, chosen = _best_match(neg)
    if not chosen:
        neg.send_alternates = True
        vary, headers = _neg_headers(neg)
        hdrs = list(headers)
        if vary:
            hdrs.append(("Vary", ",".join(vary)))
        if neg.is_transparent:
            hdrs.append(("TCN", "list"))
        html = variant_list_html(neg.variants)
        if neg.is_transparent and neg.ua_supports_trans:
            raise MultipleChoices(html, hdrs)
        if best is None:
            raise NotAcceptable(html, hdrs)
    assert best is not None
    vary, headers = _neg_headers(neg)
    out: list[tuple[str, str]] = []
    if neg.is_transparent:
        out.append(("Content-Location", escape_path_segment(best.file_name)))
    out.extend(headers)
    if vary:
        out.append(("Vary", ",".join(vary)))
    if neg.is_transparent:
        out.append(("TCN", "choice"))
    res = _result(best, vary, out, mime, dirconf)
    if res.body is None:  # a type map's Body: is sent as the map says (x-gzip stays)
        res.encoding = fix_encoding(res.encoding, req_headers.get("accept-encoding"))
    return res


def _result(best: Variant, vary: list[str], headers: list[tuple[str, str]], mime: Mime,
            dirconf: Any) -> NegotiationResult:
    if best.body is not None or best.path is None:
        ctype = best.mime_type or None
        return NegotiationResult(
            path=best.path, uri=best.file_name, vary=vary, content_type=ctype,
            charset=best.charset or None,
            language=best.languages[0] if best.languages else None,
            languages=list(best.languages), encoding=best.encoding, headers=headers,
            body=best.body, length=best.bytes)
    ctype, charset, language, encoding = mime.lookup(os.path.basename(best.path), dirconf)
    langs = list(best.languages) if best.languages else (language.split(",") if language else [])
    return NegotiationResult(
        path=best.path, uri=best.file_name, vary=vary, content_type=ctype, charset=charset,
        language=langs[0] if langs else None, languages=langs, encoding=encoding,
        headers=headers, body=None, length=_find_content_length_path(best))


def _find_content_length_path(v: Variant) -> int:
    if v.bytes >= 0:
        return v.bytes
    try:
        return os.stat(v.path).st_size if v.path else -1
    except OSError:
        return -1


def fix_encoding(encoding: str | None, accept_encoding: str | None) -> str | None:
    """mod_negotiation's fixup for every response with a Content-Encoding: use the
    client's spelling when its Accept-Encoding names the coding plainly ("gzip" for
    AddEncoding x-gzip) or with the x- prefix; otherwise keep the configured token."""
    if not encoding:
        return encoding
    enc = encoding[2:] if encoding.startswith("x-") else encoding
    accepts = parse_header(accept_encoding)
    if accepts is None:
        return encoding
    x_enc = None
    for acc in accepts:
        if acc.name == enc:
            return acc.name
        if acc.name.startswith("x-") and acc.name[2:] == enc:
            x_enc = acc.name
    return x_enc or encoding


