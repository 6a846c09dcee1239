"""Accept* header parsing as mod_negotiation does it (its tokenizer and q-value parser,
not a strict RFC one), plus the small helpers both negotiation modules share."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Protocol

from fastcore.core.tokens import get_token, is_digits

INCLUDES_MAGIC_TYPE = "text/x-server-parsed-html"
INCLUDES_MAGIC_TYPE3 = "text/x-server-parsed-html3"
MAP_FILE_MAGIC_TYPE = "application/x-type-map"
CGI_MAGIC_TYPE = "application/x-httpd-cgi"

FLP_NONE, FLP_PREFER, FLP_FALLBACK = 1, 2, 4

_SEGMENT_SAFE = frozenset(b"$-_.+!*'(),:@&=~")


class Headers(Protocol):
    def get(self, name: str) -> str | None: ...


class Mime(Protocol):
    def lookup(self, filename: str, dirconf: Any) -> tuple[str | None, str | None,
                                                           str | None, str | None]: ...


def f32(x: float) -> float:
    """Round to IEEE single precision (Apache keeps qualities in C floats)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def escape_path_segment(s: str) -> str:
    """ap_escape_path_segment: %xx (lower-case hex) for bytes outside the segment set."""
    out = []
    for b in s.encode("utf-8", "surrogateescape"):
        if (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b in _SEGMENT_SAFE:
            out.append(chr(b))
        else:
            out.append(f"%{b:02x}")
    return "".join(out)


# ---------------------------------------------------------------- header parsing


def atoq(s: str) -> float:
    """mod_negotiation's locale-free q-value parser: anything that does not start with
    "0" or "." is 1.0; otherwise up to three decimals."""
    s = s.lstrip()
    if not s:
        return 1.0
    i = 0
    if s[0] != ".":
        if s[0] != "0":
            return 1.0
        i = 1
    if i < len(s) and s[i] == ".":
        v = 0
        digits = s[i + 1:i + 4]
        if is_digits(digits[:1]) and digits[:1].isascii():
            v += int(digits[0]) * 100
            if is_digits(digits[1:2]) and digits[1:2].isascii():
                v += int(digits[1]) * 10
                if digits[2:3] in tuple("123456789"):
                    v += int(digits[2])
        return f32(v / 1000.0)
    return 0.0


@dataclass
class AcceptRec:
    name: str
    quality: float = 1.0
    level: float = 0.0
    charset: str = ""


def get_entry(line: str, pos: int = 0) -> tuple[AcceptRec, int]:
    """One media range (or language, charset, coding) with its parameters."""
    name, pos = get_token(line, pos, False)
    rec = AcceptRec(name.lower())
    if rec.name == "text/html" or rec.name == INCLUDES_MAGIC_TYPE:
        rec.level = 2.0
    elif rec.name == INCLUDES_MAGIC_TYPE3:
        rec.level = 3.0
    n = len(line)
    while pos < n and line[pos] == ";":
        parm, pos = get_token(line, pos + 1, True)
        k = 0
        while k < len(parm) and not parm[k].isspace() and parm[k] != "=":
            k += 1
        if k >= len(parm):
            continue  # no '=': ignored
        var = parm[:k].lower()
        k += 1
        while k < len(parm) and (parm[k].isspace() or parm[k] == "="):
            k += 1
        if k < len(parm) and parm[k] == '"':
            k += 1
            end = k
            while end < len(parm) and parm[end] not in '\n\r"':
                end += 1
        else:
            end = k
            while end < len(parm) and not parm[end].isspace():
                end += 1
        value = parm[k:end].lower()
        if var in ("q", "qs"):
            rec.quality = atoq(value)
        elif var == "level":
            rec.level = float(_atoi(value))
        elif var == "charset":
            rec.charset = value
    if pos < n and line[pos] == ",":
        pos += 1
    return rec, pos


def _atoi(s: str) -> int:
    s = s.lstrip()
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    digits = ""
    for c in s:
        if not ("0" <= c <= "9"):
            break
        digits += c
    return sign * int(digits) if digits else 0


def parse_header(line: str | None) -> list[AcceptRec] | None:
    """do_header_line: None when the header is absent, else the (possibly empty) list."""
    if line is None:
        return None
    recs = []
    pos = 0
    while pos < len(line):
        rec, new = get_entry(line, pos)
        if new <= pos:  # cannot happen with the tokenizer above; never loop forever
            break
        pos = new
        recs.append(rec)
    return recs


