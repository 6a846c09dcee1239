"""Conditional requests exactly as Apache 2.4's ap_meets_conditions evaluates them
(modules/http/http_protocol.c), measured against Apache 2.4.71 by
tests/integration/test_conditional_vs_apache.py.

Apache does not follow RFC 9110 section 13.2.2 to the letter, and fastcore matches it:
  - If-Unmodified-Since is evaluated even after a matching If-Match (so a matching
    If-Match with a failing If-Unmodified-Since is 412);
  - If-Modified-Since is evaluated even when If-None-Match is present: every condition
    that does not match (a satisfied If-Unmodified-Since included, a malformed or
    future date included) vetoes the 304 that another one would give;
  - GET and HEAD compare If-None-Match weakly (strongly with Range) and answer 304;
    other methods compare strongly and answer 412 (If-Modified-Since never applies);
  - a file changed within 60 s of the request has only "weak" date validators: with a
    Range header, If-Unmodified-Since/If-Modified-Since/If-Range dates then never match;
  - If-Range together with Range turns any would-be 304 into a normal answer (the range
    is honoured only when If-Range matches);
  - entity-tag lists are scanned as ap_find_etag_strong/weak do: the scan stops at the
    first item that does not start with a quote (or W/ and a quote, for weak ones).
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from fastcore.core.static import etag, parse_http_date

_GET = ("GET", "HEAD")  # Apache's M_GET covers HEAD


def _item_end(line: str, i: int) -> int:
    """Index of the comma ending the list item at i (quotes, comments, quoted pairs
    skipped as Apache's list scanner does), or len(line)."""
    in_q = pair = False
    depth = 0
    n = len(line)
    while i < n:
        c = line[i]
        if pair:
            pair = False
        elif c == "\\":
            pair = True
        elif c == '"' and not depth:
            in_q = not in_q
        elif c == "(" and not in_q:
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif c == "," and not (in_q or depth):
            return i
        i += 1
    return n


def find_etag(line: str, tag: str | None, weak: bool) -> bool:
    """ap_find_etag_weak/strong: does the list `line` hold `tag`?  A strong search
    never matches a weak tag; a weak one ignores W/ on both sides."""
    if tag is None:
        return False
    if weak and tag.startswith('W/"'):
        tag = tag[2:]
    if not tag.startswith('"'):
        return False
    i, n = 0, len(line)
    while True:
        while i < n and (line[i] == "," or line[i] in " \t\n\r\f\v"):
            i += 1
        if weak and line.startswith('W/"', i):
            i += 2
        if i >= n or line[i] != '"':
            return False  # no item left, or one that is no entity tag: the scan stops
        end = _item_end(line, i)
        if line[i:end].rstrip(" \t") == tag:
            return True
        i = end


def _date(value: str) -> int:
    """apr_date_parse_http in seconds, 0 for a malformed date (APR_DATE_BAD)."""
    t = parse_http_date(value)
    return int(t) if t is not None and t > 0 else 0


def conditional_status(method: str, headers: Mapping[str, str], tag: str | None,
                       mtime: int, now: float) -> int:
    """0 (proceed), 304 or 412 for a response with ETag `tag` (None: none) and
    Last-Modified `mtime` (seconds), requested at `now`."""
    get = method in _GET
    rng = "range" in headers
    reqtime = int(now)
    weak_dates = reqtime < mtime + 60
    not_modified: bool | None = None  # unset until a condition speaks
    im = headers.get("if-match")
    if im is not None and not (im[:1] == "*" or find_etag(im, tag, weak=False)):
        return 412
    ius = headers.get("if-unmodified-since")
    if ius is not None:
        t = _date(ius)
        if t and mtime > t and not (weak_dates and rng):
            return 412
        not_modified = False
    inm = headers.get("if-none-match")
    if inm is not None:
        if inm[:1] == "*":
            match = True
        else:
            match = find_etag(inm, tag, weak=get and not rng)
        if not match:
            not_modified = False
        elif not get:
            return 412
        elif not_modified is None:
            not_modified = True
    ims = headers.get("if-modified-since")
    if ims is not None:
        t = _date(ims)
        if not (mtime <= t <= reqtime) or (weak_dates and rng):
            not_modified = False
        elif get and not_modified is None:
            not_modified = True
    if rng and "if-range" in headers:
        return 0  # the byte-range step decides between 206 and the whole answer
    return 304 if not_modified else 0


def if_range_ok(value: str | None, tag: str | None, mtime: int, now: float | None = None) -> bool:
    """If-Range (ap_condition_if_range): a value starting with a quote must equal the
    ETag exactly (a weak ETag never does); anything else is a date that must equal
    Last-Modified, for a file unchanged for 60 s before the request."""
    if value is None:
        return True
    if value[:1] == '"':
        return tag is not None and value == tag
    t = _date(value)
    if t != mtime:
        return False
    return now is None or int(now) >= mtime + 60


def variant_list_validator(filename: str, typemap: bool, components: frozenset[str] | None,
                           now: float) -> str | None:
    """mod_negotiation's variant-list validator: the type map's own ETag, or for
    MultiViews the ETag Apache makes for the missing name (the directory's mtime only,
    in microseconds; weak within a second of a change).  None when there is none."""
    try:
        st = os.stat(filename if typemap else os.path.dirname(filename))
    except OSError:
        return None
    if typemap:
        return etag(st, components, now)
    weak = "W/" if now - st.st_mtime <= 1.0 else ""
    return f'{weak}"{st.st_mtime_ns // 1000:x}"'


def negotiated_etag(variant: str | None, vlv: str | None) -> str | None:
    """ap_set_etag of a negotiated answer: the variant's ETag up to its closing quote,
    ';', the validator after its opening quote - and, as Apache 2.4.71 sends it, no
    closing quote (`"3-60a24181e4000;79-60a24181e4000`); weak when either is weak.
    Without a validator (or without an ETag) the ETag is unchanged."""
    if variant is None or vlv is None:
        return variant
    weak = vlv[:1] == "W" or variant[:1] == "W"
    core = vlv[3:] if vlv[:1] == "W" else vlv[1:]
    tag = variant[2:] if variant[:1] == "W" else variant
    return ("W/" if weak else "") + tag[:-1] + ";" + core.rstrip('"')
