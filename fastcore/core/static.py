"""File responses: ETag (FileETag), Last-Modified, HTTP dates, byte ranges (single,
multipart/byteranges, suffix, open, 416); conditional requests are http/conditional.py.

Pure functions over a stat result and the request headers, so the hot path and the slow
path share them and unit tests need no sockets.
"""
from __future__ import annotations

import base64
import os
import re
import stat as stmod
from dataclasses import dataclass

from fastcore._ext import load
from fastcore.config.directives_http import (
    DEFAULT_MAX_OVERLAPS,
    DEFAULT_MAX_RANGES,
    DEFAULT_MAX_REVERSALS,
    RANGES_NONE,
    effective_limit,
)
from fastcore.config.model import DirConfig
from fastcore.core.digests import sha1

_sf = load("sendfile")
http_date = _sf.http_date

DEFAULT_ETAG = frozenset(("mtime", "size"))


def etag(st: os.stat_result, components: frozenset[str] | None, now: float,
         path: str | None = None) -> str | None:
    """Apache's ap_make_etag: hex inode-size-mtime(usec) per FileETag; weak (W/) when the
    file changed within the last second (it might change again within the same second).
    FileETag Digest, for a file (`path`): the base64 SHA-1 of its content instead, never
    weak (Apache 2.4.71, measured)."""
    comps = DEFAULT_ETAG if components is None else components
    if not comps:
        return None
    if "digest" in comps and path is not None:
        digest = file_digest(path)
        if digest is not None:  # the content itself: strong even when just modified
            return f'"{digest}"'
    weak = "W/" if now - st.st_mtime <= 1.0 else ""
    parts = []
    if "inode" in comps:
        parts.append(f"{st.st_ino:x}")
    if "size" in comps:
        parts.append(f"{st.st_size:x}")
    if "mtime" in comps:
        parts.append(f"{st.st_mtime_ns // 1000:x}")
    return f'{weak}"{"-".join(parts)}"'


def file_digest(path: str) -> str | None:
    """base64(SHA-1(content)), as Apache's FileETag Digest; None if unreadable."""
    h = sha1()  # Apache's choice: an entity tag, not security
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                h.update(chunk)
    except OSError:
        return None
    return base64.b64encode(h.digest()).decode("ascii")


def last_modified_time(st: os.stat_result, now: float) -> int:
    """Seconds used for Last-Modified: the mtime, but never in the future."""
    return int(min(st.st_mtime, now))


_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
# IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT",
# asctime "Sun Nov  6 08:49:37 1994" (RFC 9110 5.6.7); the zone is GMT by definition.
_DATE_FORMS = (
    re.compile(r"[A-Za-z]{3,9},\s*(\d{1,2})[ -]([A-Za-z]{3})[ -](\d{2}|\d{4})\s+"
               r"(\d{1,2}):(\d{2}):(\d{2})(?:\s+(?:GMT|UTC|UT|\+0000|-0000))?\s*\Z"),
    re.compile(r"[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})"
               r"\s+(\d{4})\s*\Z"),
)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def parse_http_date(value: str) -> float | None:
    """RFC 9110 HTTP-date (and the two obsolete forms) -> epoch seconds, None if invalid.
    A small parser of our own: email.utils would cost every process ~1 MB of modules."""
    value = value.strip()
    m = _DATE_FORMS[0].match(value)
    if m:
        day, mon, year, hh, mm, ss = m.groups()
        y = int(year)
        if len(year) == 2:  # RFC 850: two-digit years (RFC 9110's 50-year rule)
            y += 1900 if y >= 70 else 2000
    else:
        m = _DATE_FORMS[1].match(value)
        if not m:
            return None
        mon, day, hh, mm, ss, year = m.groups()
        y = int(year)
    month = _MONTHS.get(mon.lower())
    d, h, mi, se = int(day), int(hh), int(mm), int(ss)
    if month is None or not 1 <= d <= 31 or h > 23 or mi > 59 or se > 60:
        return None
    return float(_days_from_civil(y, month, d) * 86400 + h * 3600 + mi * 60 + se)


@dataclass(frozen=True)
class RangeLimits:
    """MaxRanges, MaxRangeOverlaps, MaxRangeReversals in effect (None: unlimited)."""

    ranges: int | None = 200
    overlaps: int | None = 20
    reversals: int | None = 20


DEFAULT_LIMITS = RangeLimits()


def range_limits(dc: DirConfig) -> RangeLimits:
    """The byterange filter's limits for a directory's merged configuration."""
    return RangeLimits(effective_limit(dc.max_ranges, DEFAULT_MAX_RANGES),
                       effective_limit(dc.max_range_overlaps, DEFAULT_MAX_OVERLAPS),
                       effective_limit(dc.max_range_reversals, DEFAULT_MAX_REVERSALS))


def accept_ranges(dc: DirConfig) -> str:
    """Accept-Ranges as Apache sends it: "none" under MaxRanges none."""
    return "none" if dc.max_ranges == RANGES_NONE else "bytes"


def _digits(text: str) -> bool:
    """Only 0-9, as apr_strtoff reads them."""
    return text.isascii() and text.isdigit()


def parse_ranges(value: str, size: int, limits: RangeLimits = DEFAULT_LIMITS
                 ) -> list[tuple[int, int]] | None | int:
    """A Range header against a representation of `size` bytes, as ap_set_byterange and
    the byterange filter read it.

    Returns None to send the whole body (not bytes=, a syntax error, more merged ranges,
    overlaps or reversals than allowed, or ranges adding up to more than the body), 416
    when no range is satisfiable, else the merged (start, end) inclusive ranges."""
    if value[:6].lower() != "bytes=" or size == 0:
        return None
    out: list[tuple[int, int]] = []
    overlaps = reversals = 0
    unsatisfiable = False
    cur: tuple[int, int] | None = None  # the set being merged (Apache's ostart/oend)
    for spec in value[6:].split(","):
        if not spec:
            break
        first, dash, last = spec.partition("-")
        # ASCII digits only: str.isdigit() takes "²" (a latin-1 header byte), which int()
        # refuses (found by fuzz/py/ranges.py)
        if not dash or (first and not _digits(first)) or (last and not _digits(last)):
            return None
        if not first:
            if not last or int(last) == 0:
                return None
            start, end = max(size - int(last), 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
            if last and end < start:
                return None
            if not last and start == 0:  # "0-": the whole body, other ranges ignored
                out, cur = [], (0, size - 1)
                break
        if start >= size:
            unsatisfiable = True
            continue
        end = min(end, size - 1)
        if cur is None:
            cur = (start, end)
            continue
        ostart, oend = cur
        merged = start >= ostart and end <= oend
        if start < ostart and end >= ostart - 1:
            ostart, reversals, merged = start, reversals + 1, True
        if end >= oend and start <= oend + 1:
            oend, merged = end, True
        if merged:
            overlaps += 1
            cur = (ostart, oend)
        else:
            out.append(cur)
            cur = (start, end)
    if cur is not None:
        out.append(cur)
    elif unsatisfiable:
        # the limits are compared with a count of -1 here, so even MaxRanges none says 416
        return 416
    if not out or sum(e - s + 1 for s, e in out) > size:
        return None
    if ((limits.ranges is not None and len(out) > limits.ranges)
            or (limits.overlaps is not None and overlaps > limits.overlaps)
            or (limits.reversals is not None and reversals > limits.reversals)):
        return None
    return out


def multipart_parts(ranges: list[tuple[int, int]], size: int, ctype: str | None,
                    boundary: str) -> tuple[list[tuple[bytes, int, int]], bytes]:
    """([(part header bytes, start, count)], closing bytes) for multipart/byteranges."""
    parts = []
    for s, e in ranges:
        head = f"\r\n--{boundary}\r\n"
        if ctype:
            head += f"Content-type: {ctype}\r\n"
        head += f"Content-range: bytes {s}-{e}/{size}\r\n\r\n"
        parts.append((head.encode("latin-1"), s, e - s + 1))
    return parts, f"\r\n--{boundary}--\r\n".encode("latin-1")


def new_boundary() -> str:
    """A random 64-bit number in hex without leading zeros, like Apache's boundary."""
    return f"{int.from_bytes(os.urandom(8), 'little'):x}"


def is_regular(st: os.stat_result | None) -> bool:
    return st is not None and stmod.S_ISREG(st.st_mode)


def read_range(fd: int, offset: int, count: int) -> bytes:
    """pread the whole range (used for multipart bodies and small cached files)."""
    chunks = []
    while count > 0:
        b = os.pread(fd, min(count, 1 << 20), offset)
        if not b:
            break
        chunks.append(b)
        offset += len(b)
        count -= len(b)
    return b"".join(chunks)
