"""Type-map files (`AddHandler type-map .var`): parse the map, negotiate, pick a variant.

The map format is mod_negotiation's: records of RFC 822-style headers separated by blank
lines, `#` comment lines, continuation lines that start with white space.  Recognised
headers: URI, Content-Type (with qs= and level=), Content-Length, Content-Language,
Content-Encoding, Description and Body (inline content up to an end tag).  A record becomes
a variant only when it names a URI (or has a Body) and gives some content header.  Scoring
is shared with MultiViews (fastcore.modules.mod_negotiation.handler).

Apache serves a URI variant by an internal redirect to the variant's URL (which is why the
response's Content-Type comes from the variant file's MIME mapping, not from the map):
`NegotiationResult.uri` is that URL relative to the map's directory and `.path` the file it
names.  A Body variant is served from the map itself: `.path` is the map and `.body` is
(offset, length).
"""
from __future__ import annotations

import os
from typing import Any

from fastcore.core.cacheable import PROBE_IDENTITY, Probe, take_probe
from fastcore.core.tokens import get_token, is_digits
from fastcore.modules.mod_negotiation.config import mime_of
from fastcore.modules.mod_negotiation.handler import (
    AcceptRec,
    Headers,
    Mime,
    NegotiationError,
    NegotiationResult,
    Variant,
    get_entry,
    negotiate,
    new_state,
)

MAX_STRING_LEN = 8192


class _Reader:
    """apr_file_gets/getc/ungetc over the map's bytes (latin-1 keeps offsets exact)."""

    def __init__(self, data: bytes) -> None:
        self.text = data.decode("latin-1")
        self.pos = 0

    def gets(self) -> str | None:
        if self.pos >= len(self.text):
            return None
        end = self.text.find("\n", self.pos, self.pos + MAX_STRING_LEN - 1)
        stop = end + 1 if end >= 0 else min(len(self.text), self.pos + MAX_STRING_LEN - 1)
        line = self.text[self.pos:stop]
        self.pos = stop
        return line

    def getc(self) -> str | None:
        if self.pos >= len(self.text):
            return None
        c = self.text[self.pos]
        self.pos += 1
        return c

    def ungetc(self) -> None:
        self.pos -= 1


SEEN, SEP, EOF = 1, 2, 3


def _header_line(rd: _Reader) -> tuple[int, str]:
    """get_header_line: one logical header (continuations folded), a separator, or EOF."""
    while True:
        line = rd.gets()
        if line is None:
            return EOF, ""
        if not line.startswith("#"):
            break
    if not line.strip():
        return SEP, ""
    buf = line
    if line[:5].lower() == "body:":
        return SEEN, buf
    while True:
        c = rd.getc()
        if c is None:
            return SEEN, buf
        if c == "#":
            while True:
                c = rd.getc()
                if c is None or c == "\n":
                    break
        elif c.isspace():
            while c is not None and c != "\n" and c.isspace():
                c = rd.getc()
            if c is not None:
                rd.ungetc()
            if c == "\n":
                return SEEN, buf  # blank line follows: picked up next time round
            cont: list[str] = []
            while len(buf) + len(cont) < MAX_STRING_LEN - 2:
                c = rd.getc()
                if c is None or c == "\n":
                    break
                cont.append(c)
            buf = buf + "".join(cont) + "\n"
        else:
            rd.ungetc()
            return SEEN, buf


def _strip_paren_comments(s: str) -> str:
    out = list(s)
    i = 0
    n = len(out)
    while i < n:
        if out[i] == '"':
            j = s.find('"', i + 1)
            if j < 0:
                break
            i = j + 1
        elif out[i] == "(":
            while i < n and out[i] != ")":
                out[i] = " "
                i += 1
            if i < n:
                out[i] = " "
                i += 1
        else:
            i += 1
    return "".join(out)


def _languages(body: str) -> list[str]:
    langs = []
    pos = 0
    while pos < len(body):
        tok, pos = get_token(body, pos, False)
        langs.append(tok.lower())
        if pos < len(body) and body[pos] in ",;":
            pos += 1
    return langs


def _get_body(rd: _Reader, tag: str) -> tuple[int, int] | None:
    """The bytes after the Body: line up to `tag`; the reader moves past the tag's line."""
    start = rd.pos
    window = rd.text[start:start + MAX_STRING_LEN - len(tag)]
    idx = window.find(tag)
    if idx < 0 or not tag:
        return None
    after = idx + len(tag)
    nl = window.find("\n", after)
    rd.pos = start + (nl + 1 if nl >= 0 else len(window))
    return start, idx


def read_type_map(path: str) -> list[Variant]:
    """Parse a type map into variants (in file order)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as exc:
        raise NegotiationError(404, f"cannot access type map file: {path}") from exc
    except NotADirectoryError as exc:
        raise NegotiationError(404, f"cannot access type map file: {path}") from exc
    except OSError as exc:
        raise NegotiationError(403, f"cannot access type map file: {path}") from exc
    rd = _Reader(data)
    variants: list[Variant] = []
    cur = Variant(file_name="", source_quality=0.0)
    has_content = False
    while True:
        state, buf = _header_line(rd)
        if state == SEEN:
            colon = buf.find(":")
            if colon < 0:
                raise NegotiationError(500, f"Syntax error in type map, no ':' in {path} "
                                            f"for header {buf.strip()}")
            name = buf[:colon].lower()
            body = buf[colon + 1:].lstrip()
            if not body:
                raise NegotiationError(500, f"Syntax error in type map --- no header body: "
                                            f"{path} for {buf.strip()}")
            body = _strip_paren_comments(body)
            if name == "uri":
                cur.file_name = get_token(body, 0, False)[0]
            elif name == "content-type":
                cur.set_mime_fields(body)
                has_content = True
            elif name == "content-length":
                tok = get_token(body, 0, False)[0]
                if not is_digits(tok) or not tok.isascii():
                    break  # Apache logs the parse error and stops reading the map
                cur.bytes = int(tok)
                has_content = True
            elif name == "content-language":
                cur.languages = _languages(body)
                has_content = True
            elif name == "content-encoding":
                cur.encoding = get_token(body, 0, False)[0]
                has_content = True
            elif name == "description":
                desc = body.replace("\n", " ")
                cur.description = desc[:-1] if desc else desc
            elif name == "body":
                tag = body.rstrip()
                got = _get_body(rd, tag)
                if got is None:
                    break  # no end tag: Apache stops reading the map
                cur.body = got
                cur.bytes = got[1]
                cur.file_name = os.path.basename(path)
                cur.path = path
        else:
            if cur.file_name and has_content:
                variants.append(cur)
            cur = Variant(file_name="", source_quality=0.0)
            has_content = False
            if state == EOF:
                break
    return variants


def resolve(var_path: str, req_headers: Headers, dirconf: Any, mime: Mime, *,
            method: str = "GET", path_info: bool = False,
            seen: list[Probe] | None = None) -> NegotiationResult:
    """Negotiate over the type map at `var_path`.

    Raises NotAcceptable (406) / MultipleChoices (300) like multiviews(), and
    NegotiationError for a missing/unreadable map (404/403), a syntax error (500), a Body
    variant asked for with a method other than GET/HEAD/POST (405), or a transparent
    choice that is itself a type map (506, Apache's "variant also varies").
    `seen`, when given, receives each URI variant's identity before negotiation reads its
    size (a cached choice holds while they stay the same).
    """
    variants = read_type_map(var_path)
    map_dir = os.path.dirname(var_path)
    for v in variants:
        if v.body is None:
            v.path = os.path.normpath(os.path.join(map_dir, v.file_name))
            if seen is not None:
                seen.append(take_probe(v.path, PROBE_IDENTITY))
    neg = new_state(req_headers, dirconf, map_dir)
    neg.variants = variants
    # An empty map is no special case: negotiation finds no variant and answers 406.
    result = negotiate(neg, req_headers, method, path_info, mime, dirconf)
    result.http10_expires = True
    if result.body is not None:
        if method.upper() not in ("GET", "HEAD", "POST"):
            raise NegotiationError(405, "type map body variant: method not allowed")
        return result
    handlers = mime_of(dirconf).add_handler
    ext = os.path.splitext(result.uri)[1][1:].lower()
    if neg.is_transparent and handlers.get(ext) == "type-map":
        raise NegotiationError(506, f"type map {var_path} selects another type map")
    return result


__all__ = ["resolve", "read_type_map", "AcceptRec", "get_entry"]
