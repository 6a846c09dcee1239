"""Header-value tokens as httpd's server/util.c reads them (ap_get_token), shared by the
modules that parse Accept-* and similar fields (mod_negotiation, mod_deflate)."""
from __future__ import annotations


def get_token(line: str, pos: int, accept_white: bool) -> tuple[str, int]:
    """ap_get_token: skip blanks, take up to ';' or ',' (or a blank unless
    accept_white), keeping quoted strings whole; then skip blanks."""
    n = len(line)
    while pos < n and line[pos].isspace():
        pos += 1
    start = pos
    while pos < n and (accept_white or not line[pos].isspace()) and line[pos] not in ";,":
        ch = line[pos]
        pos += 1
        if ch == '"':
            while pos < n:
                ch = line[pos]
                pos += 1
                if ch == '"':
                    break
    token = line[start:pos]
    while pos < n and line[pos].isspace():
        pos += 1
    return token, pos


def is_digits(text: str) -> bool:
    """apr_isdigit over every character: ASCII 0-9 only.  str.isdigit() also takes "²" (a
    latin-1 byte) and "٣" (UTF-8 in a config file), which Apache refuses as digits."""
    return text.isascii() and text.isdigit()
