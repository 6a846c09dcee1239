"""The one cacheability decision (issue 11): which requests a cached entry may answer, and
which served responses may become one, with which fixed header bytes.

Request side: `may_use_cache` is the rule both caches apply (the Python cache in
core/fastpath.py and the engine's twin in _pure/fastparse.py call it; the C engine has its
copy in src/fc_fastparse.h, held to it by tests/core/test_cacheable_parity.py).

Response side: `entry_for` asks every registered module for its `Contribution` (fixed
header bytes, or "not cacheable"), adds the core's own, and answers with the `CacheEntry`
both caches store.  The core knows no module: it iterates over the registry's specs.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from fastcore._ext import load
from fastcore._pure.dirwatch import DirDep
from fastcore.config.model import DirConfig
from fastcore.core.protocols import protocol_upgrades
from fastcore.core.static import accept_ranges
from fastcore.core.transaction import Transaction

_sf = load("sendfile")

CACHE_METHODS = frozenset(("GET", "HEAD"))
# Request fields that send a request to the full path: a body (its length, framing or
# expectation), a byte range, and every conditional (If-*: the answer is not always 200).
FULL_PATH_FIELDS = frozenset(("content-length", "transfer-encoding", "expect", "range"))
CONDITIONAL_PREFIX = "if-"


def forces_full_path(name: str) -> bool:
    """True for a (lower-case) request field name that a cached 200 cannot answer."""
    return name in FULL_PATH_FIELDS or (len(name) > 3 and name.startswith(CONDITIONAL_PREFIX))


def may_use_cache(method: str, target: str, field_names: Iterable[str],
                  http09: bool = False) -> bool:
    """Whether a cached entry may answer this request: GET or HEAD of an origin-form
    ("/...") target, with a header section (not HTTP/0.9) and no field that forces the
    full path.  `field_names` are lower-case."""
    if method not in CACHE_METHODS or http09 or not target.startswith("/"):
        return False
    return not any(forces_full_path(name) for name in field_names)


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """The plain file a 200 answer served, as the handler saw it (Response.cache)."""

    fname: str
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    mtime: int            # the Last-Modified time sent (seconds)
    tag: str | None       # the ETag sent (None: FileETag None)
    ctype: str | None     # Content-Type before AddDefaultCharset
    lang: str | None
    enc: str | None
    dc: DirConfig


Field = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CachedFields:
    """The header fields of a cacheable answer as the shares built them, for a share that
    edits what others produced (mod_headers' unset/edit/set over core's ETag, mod_mime's
    Content-Type...): those before the Connection field, those after it (Content-Type),
    and the Content-Type sent (%{Content-Type}o)."""

    head: tuple[Field, ...]
    tail: tuple[Field, ...]
    content_type: str | None


# a share's transformation of the fields: None when the result cannot be cached
FieldEdit = Callable[[CachedFields], "CachedFields | None"]


@dataclass(frozen=True, slots=True)
class Contribution:
    """One module's (or the core's) share in a cacheable response: header lines it adds
    before the Connection field (`head`) or after it (`tail`, where the serializer puts
    Content-Type), the Content-Type it sets (for %{Content-Type}o), or not cacheable.
    `edit`, when given, runs over every share's fields once all are added (in share
    order), as an output filter runs over the handler's answer."""

    cacheable: bool = True
    head: bytes = b""
    tail: bytes = b""
    content_type: str | None = None
    edit: FieldEdit | None = None
    # Cache-Control/Expires that every hit formats for its own time (mod_expires)
    expiry: Expiry | None = None
    # a check each Python-cache hit must pass, else the full path answers (an entry with
    # one is never the C engine's: it cannot run Python)
    gate: HitGate | None = None


# Expiry kinds, the same numbers in C (src/fc_expires.h): none, "access plus N seconds"
# (value: N), a fixed instant (value: microseconds since the epoch, "modification plus").
EXPIRES_NONE, EXPIRES_ACCESS, EXPIRES_AT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Expiry:
    """mod_expires' fields as a rule over the answer's time, not as bytes: an access-based
    Expires moves with each request and a modification-based max-age counts down."""

    kind: int   # EXPIRES_ACCESS or EXPIRES_AT
    value: int  # seconds after the request, or the instant in microseconds


def expiry_times(kind: int, value: int, now_us: int) -> tuple[int, int]:
    """(max-age, Expires in epoch seconds) for a request at `now_us`, as mod_expires'
    set_expiration_fields: an instant already past is the request time (max-age=0)."""
    expires_us = now_us + value * 1_000_000 if kind == EXPIRES_ACCESS else value
    if expires_us < now_us:
        expires_us = now_us
    return (expires_us - now_us) // 1_000_000, expires_us // 1_000_000


def expiry_fields(kind: int, value: int, now_us: int) -> bytes:
    """The header lines a cache hit at `now_us` sends for an entry's expiry (b"" for
    none); the C engine's fc_expiry_fields gives the same bytes (a parity test)."""
    if kind == EXPIRES_NONE:
        return b""
    max_age, at = expiry_times(kind, value, now_us)
    return b"Cache-Control: max-age=%d\r\nExpires: %s\r\n" % (max_age, _sf.http_date(at))


# (the hit's transaction, the entry's DirConfig, the entry's decoded URI) -> may it answer
HitGate = Callable[[Transaction, DirConfig, str], bool]

NOT_CACHEABLE = Contribution(cacheable=False)
NOTHING = Contribution()
# (transaction, the DirConfig of one walk the answer rests on, the served file or None
# for a walk that only led to it, such as the directory before its DirectoryIndex)
ContributionFn = Callable[[Transaction, DirConfig, CacheInfo | None], Contribution]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cacheable 200 answer: valid while the file's stat shows the same identity.  The
    Python cache stores it; the C engine's put() receives these same bytes."""

    fname: str
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    head: bytes           # fields between Server and Connection
    tail: bytes           # fields after Connection (Content-Type)
    dc: DirConfig
    strategy: str         # sendfile | writev | readwrite (EnableSendfile, EnableMMAP)
    uri: str              # %U of the request that filled it
    ctype: str | None     # the Content-Type sent
    engine_log_set: int | None  # the C engine's log set for the vhost; None: not for it
    expiry: Expiry | None = None  # formatted per hit after `head` (mod_expires)
    gates: tuple[HitGate, ...] = ()  # each Python-cache hit must pass them all
    deps: tuple[DirDep, ...] = ()  # watched directories it rests on (both caches check)


@cache
def _contributions() -> tuple[ContributionFn, ...]:
    """The registered modules' contributions, in registry order (imported on first use:
    the registry's modules import this file)."""
    from fastcore.modules import REGISTRY

    return tuple(spec.cache_contribution for spec in REGISTRY.every()
                 if spec.cache_contribution is not None)


def core_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """The core's share: no reverse lookup (%h) under HostnameLookups; then Last-Modified,
    a strong ETag (a weak one becomes strong a second later), Accept-Ranges and a
    non-zero Content-Length."""
    if (dc.hostname_lookups or "off") != "off":
        return NOT_CACHEABLE
    if protocol_upgrades(txn.vhost.protocols):  # announced on a connection's first answer
        return NOT_CACHEABLE
    if served is None:
        return NOTHING
    tag = served.tag
    if tag is None or tag.startswith("W/") or served.size == 0:
        return NOT_CACHEABLE
    return Contribution(head=b"".join((
        b"Last-Modified: ", _sf.http_date(served.mtime), b"\r\nETag: ", tag.encode(),
        b"\r\nAccept-Ranges: ", accept_ranges(dc).encode(), b"\r\nContent-Length: ",
        str(served.size).encode(), b"\r\n")))


def _shares(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> list[Contribution]:
    return [*(fn(txn, dc, served) for fn in _contributions()),
            core_contribution(txn, dc, served)]


def produced_by(txn: Transaction, walk_cacheable: bool, dc: DirConfig,
                deps: tuple[DirDep, ...] = ()) -> None:
    """Record a walk (and its merged configuration) the answer depends on: the original
    request's, a DirectoryIndex sub-request's.  The answer may be cached only when every
    one of them may; `deps`, the watched directories whose .htaccess files the walk read,
    go with the entry (every cache checks them before each hit)."""
    if not walk_cacheable or not all(c.cacheable for c in _shares(txn, dc, None)):
        txn.cacheable = False
    for d in deps:
        if d not in txn.deps:
            txn.deps.append(d)


def delivery(dc: DirConfig) -> str:
    """How a cached file is sent, from EnableSendfile and EnableMMAP."""
    if dc.enable_sendfile:
        return "sendfile"
    return "writev" if dc.enable_mmap is not False else "readwrite"


def entry_for(txn: Transaction, served: CacheInfo, target: str,
              engine_log_set: int | None) -> CacheEntry | None:
    """The cache entry for a served plain file, or None when no cache may answer it.
    `target` is the raw request target (only origin-form ones are ever looked up);
    `engine_log_set` is the vhost's C log set, None when the C engine cannot write its
    logs (the entry then stays with the Python cache)."""
    if not txn.cacheable or not target.startswith("/"):
        return None
    shares = _shares(txn, served.dc, served)
    if not all(c.cacheable for c in shares):
        return None
    ctype = served.ctype
    expiry = None
    for c in shares:
        if c.content_type is not None:
            ctype = c.content_type
        if c.expiry is not None:
            expiry = c.expiry
    head = b"".join(c.head for c in shares)
    tail = b"".join(c.tail for c in shares)
    if expiry is not None and _sets_expiry_fields(head):
        return None  # another module's Cache-Control/Expires would merge with it per hit
    edits = [c.edit for c in shares if c.edit is not None]
    if edits:
        # mod_headers runs after mod_expires: the per-hit fields go through the edits as
        # stand-ins, and an edit that touches them keeps the answer out of the caches
        per_hit = PER_HIT_STAND_INS if expiry is not None else ()
        fields: CachedFields | None = CachedFields(parse_fields(head) + per_hit,
                                                   parse_fields(tail), ctype)
        for edit in edits:
            assert fields is not None
            fields = edit(fields)
            if fields is None:
                return None
        assert fields is not None
        out_head = fields.head
        if per_hit:
            out_head = tuple(f for f in fields.head if f not in per_hit)
            if tuple(f for f in fields.head if f in per_hit) != per_hit \
                    or _sets_expiry_fields(field_bytes(out_head)):
                return None
        head, tail = field_bytes(out_head), field_bytes(fields.tail)
        ctype = fields.content_type
    gates = tuple(c.gate for c in shares if c.gate is not None)
    return CacheEntry(served.fname, served.ino, served.size, served.mtime_ns, served.ctime_ns,
                      head, tail, served.dc, delivery(served.dc), txn.uri_path, ctype,
                      None if gates else engine_log_set, expiry, gates, tuple(txn.deps))


# what an entry's expiry sends per hit, as the edits see it (values no command can
# produce: a command that changes or drops them, or adds its own, is seen)
PER_HIT_STAND_INS: tuple[Field, ...] = (("Cache-Control", "max-age=\x00per-hit"),
                                        ("Expires", "\x00per-hit"))


def _sets_expiry_fields(head: bytes) -> bool:
    low = b"\n" + head.lower()
    return b"\ncache-control:" in low or b"\nexpires:" in low


def parse_fields(raw: bytes) -> tuple[Field, ...]:
    """The fields of a share's header bytes ("Name: value\r\n" lines, as serialized)."""
    out = []
    for line in raw.split(b"\r\n"):
        if line:
            name, _, value = line.partition(b": ")
            out.append((name.decode("latin-1"), value.decode("latin-1")))
    return tuple(out)


def field_bytes(fields: Iterable[Field]) -> bytes:
    """Fields back to header bytes, encoded as the slow path's serializer does."""
    return b"".join(k.encode("latin-1") + b": " + v.encode("latin-1", "replace") + b"\r\n"
                    for k, v in fields)
