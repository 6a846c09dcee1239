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

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from fastcore._ext import load
from fastcore._pure.dirwatch import DirDep
from fastcore._pure.vary import accepts_coding
from fastcore.config.model import DirConfig
from fastcore.core.linkcheck import LinkCheck, encode_links
from fastcore.core.protocols import protocol_upgrades
from fastcore.core.static import accept_ranges
from fastcore.core.transaction import Transaction

_sf = load("sendfile")

CACHE_METHODS = frozenset(("GET", "HEAD"))
# Request fields that send a request to the full path: a body (its length, framing or
# expectation), a byte range, and every conditional (If-*: the answer is not always 200).
FULL_PATH_FIELDS = frozenset(("content-length", "transfer-encoding", "expect", "range"))
CONDITIONAL_PREFIX = "if-"
# The request fields mod_negotiation chooses with, in the order both caches keep their
# values (src/fc_negkey.h); a Negotiate field (transparent negotiation) is never cached.
# NegValues: those values (None: absent), then the protocol the answer is for
# (b"HTTP/1.1" or b"HTTP/1.0": a type map's HTTP/1.0 answer has Expires), None for both.
NEG_FIELDS = ("accept", "accept-charset", "accept-encoding", "accept-language")
NegValues = tuple[bytes | None, ...]


def neg_values(headers: dict[str, str], proto: bytes | None = None) -> NegValues | None:
    """The values (None: absent) of NEG_FIELDS as both caches compare them, with the
    protocol, or None when no cached answer may be chosen by them (a Negotiate field)."""
    if "negotiate" in headers:
        return None
    out: list[bytes | None] = []
    for name in NEG_FIELDS:
        v = headers.get(name)
        try:
            out.append(None if v is None else v.encode("latin-1"))
        except UnicodeError:
            return None
    return (*out, proto)


def neg_answers(neg: NegValues, headers: dict[str, str], proto_num: int) -> bool:
    """Whether an answer chosen by `neg` answers a request with these fields."""
    if neg[-1] is not None and (neg[-1] == b"HTTP/1.1") != (proto_num >= 1001):
        return False
    return neg_values(headers) == (*neg[:-1], None)


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
class VariantChoice:
    """An answer chosen among variants by the request's NEG_FIELDS (mod_negotiation's
    MultiViews): the values it was chosen by, and the fields the choice put in front of
    the file's own (Vary, ...).  Set on the transaction by the module that chose."""

    neg: NegValues
    fields: tuple[Field, ...]
    expiry: Expiry | None = None  # per-hit fields (a type map's HTTP/1.0 Expires)

    def prepend(self, f: CachedFields) -> CachedFields:
        """The choice's fields first, as the handler sends them before the file's."""
        return CachedFields(self.fields + f.head, f.tail, f.content_type)


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
    # the answer depends on the Host field's exact value (mod_rewrite's %{HTTP_HOST}): the
    # Python cache, keyed by the resolved vhost, answers only that spelling (the engine is
    # keyed by the raw value anyway)
    host_bound: bool = False
    # a client-address rule every hit evaluates (mod_authz_core's Require ip tree, as
    # src/fc_ipmatch.h's program): the entry answers only the clients it grants
    peer_rule: bytes | None = None
    # the answer follows Accept-Encoding: one answer per coding (mod_deflate)
    codings: Codings | None = None
    # the gate as checks the C engine runs itself (any match: Python answers); None: the
    # gate is Python's only and the engine never holds the entry
    engine_checks: tuple[EngineCheck, ...] | None = None
    # 1: the answer logs the client's looked-up name (HostnameLookups On, %h): the engine
    # serves only a connection whose lookup was made (the first request of each makes it)
    host_need: int = 0
    # the answer was chosen by these values of NEG_FIELDS (mod_negotiation): both caches
    # answer only a request that sends the same
    neg: NegValues | None = None


# File-system tests an answer's producer made (txn.probes: mod_rewrite's -f/-d/-s/-x/-l
# conditions, a txt map's file); both caches repeat them per hit (src/fc_rwprobe.h).
# PROBE_STAT / PROBE_LSTAT compare what the tests read (the mode, whether it is empty);
# PROBE_IDENTITY the file's identity (inode, size, mtime, ctime) as same_file does.
PROBE_STAT, PROBE_LSTAT, PROBE_IDENTITY = 0, 1, 2
PROBE_ABSENT = -1  # Probe.mode of a path stat() could not find


@dataclass(frozen=True, slots=True)
class Probe:
    """One file-system test and what it saw: the cached outcome holds while it sees the
    same again (a created, removed or retyped file is a miss, never a stale answer)."""

    path: str
    kind: int        # PROBE_STAT, PROBE_LSTAT or PROBE_IDENTITY
    mode: int        # st_mode, PROBE_ABSENT when the path was not there
    size: int        # STAT/LSTAT: 1 non-empty, 0 empty; IDENTITY: st_size
    mtime_ns: int = 0  # IDENTITY only, as ino and ctime_ns
    ctime_ns: int = 0
    ino: int = 0


def probe_of(path: str, kind: int, st: os.stat_result | None) -> Probe:
    """The probe for a test that saw `st` (None: the path was not there)."""
    if st is None:
        return Probe(path, kind, PROBE_ABSENT, 0)
    if kind == PROBE_IDENTITY:
        return Probe(path, kind, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                     st.st_ino)
    return Probe(path, kind, st.st_mode, 1 if st.st_size > 0 else 0)


def take_probe(path: str, kind: int) -> Probe:
    """Make the test now (stat, lstat for PROBE_LSTAT)."""
    try:
        st = os.lstat(path) if kind == PROBE_LSTAT else os.stat(path)
    except (OSError, ValueError):
        return probe_of(path, kind, None)
    return probe_of(path, kind, st)


def probes_hold(probes: Iterable[Probe]) -> bool:
    """Whether every test comes out as it did (the Python cache's re-check per hit)."""
    return all(take_probe(p.path, p.kind) == p for p in probes)


@dataclass(frozen=True, slots=True)
class EngineCheck:
    """One request test of an entry's gate in the engine's terms (src/fc_setenvif.h):
    the subject (kind, header name), a substring (options -1) or a PCRE2 regex with
    these compile options, caseless or not."""

    kind: int
    name: bytes
    pattern: bytes
    options: int
    icase: bool


@dataclass(frozen=True, slots=True)
class CodedAnswer:
    """One content-coding's answer: the coding's token, its filter's edit of the fields
    (Content-Length dropped: entry_for states the encoded length after every field, as
    httpd's content-length filter does), and the encoded bytes."""

    coding: str
    edit: FieldEdit
    body: bytes


@dataclass(frozen=True, slots=True)
class Codings:
    """A share whose answer follows the request's Accept-Encoding: `plain` edits the
    fields for a client that accepts none of `coded` (whose order is the filters')."""

    plain: FieldEdit
    coded: tuple[CodedAnswer, ...]


@dataclass(frozen=True, slots=True)
class Variant:
    """An entry's answer for a client that accepts `coding`: its head, and the body."""

    coding: str
    head: bytes
    body: bytes


def variant_for(entry: CacheEntry, accept_encoding: str | None) -> Variant | None:
    """The variant a request with this Accept-Encoding gets (None: the entry's own
    answer), by mod_deflate's reading; the C engine's src/fc_vary.h picks the same."""
    for v in entry.variants:
        if accepts_coding(accept_encoding, v.coding):
            return v
    return None


# Expiry kinds, the same numbers in C (src/fc_expires.h): none, "access plus N seconds"
# (value: N), a fixed instant (value: microseconds since the epoch, "modification plus").
# EXPIRES_DATE: Expires equal to Date, alone (a type map's HTTP/1.0 answer: r->no_cache)
EXPIRES_NONE, EXPIRES_ACCESS, EXPIRES_AT, EXPIRES_DATE = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Expiry:
    """mod_expires' fields as a rule over the answer's time, not as bytes: an access-based
    Expires moves with each request and a modification-based max-age counts down."""

    kind: int   # EXPIRES_ACCESS, EXPIRES_AT or EXPIRES_DATE
    value: int  # seconds after the request, or the instant in microseconds (DATE: 0)


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
    if kind == EXPIRES_DATE:
        return b"Expires: %s\r\n" % _sf.http_date(at)
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
    probes: tuple[Probe, ...] = ()   # file-system tests each hit repeats (txn.probes)
    host_bound: bool = False         # valid only for a request whose Host field is `host`
    host: str | None = None
    links: bytes = b""    # symlink checks each hit repeats (core/linkcheck.py's encoding)
    peer_rule: bytes = b""  # the client-address program each hit evaluates (fc_ipmatch.h)
    variants: tuple[Variant, ...] = ()  # encoded answers picked by Accept-Encoding
    upgrade: str = ""  # Protocols' names a connection's first answer announces (protocols.py)
    engine_checks: tuple[EngineCheck, ...] = ()  # the gates as the C engine runs them
    deps: tuple[DirDep, ...] = ()  # watched directories it rests on (both caches check)
    host_need: int = 0  # Contribution.host_need: the engine's only (the Python cache skips it)
    neg: NegValues | None = None  # Contribution.neg: the request values it was chosen by


@cache
def _contributions(loaded: tuple[str, ...]) -> tuple[ContributionFn, ...]:
    """The loaded modules' contributions, in registry order, once per set of modules (the
    registry is imported on first use: the registry's modules import this file)."""
    from fastcore.modules import REGISTRY

    return tuple(spec.cache_contribution for spec in REGISTRY.load(loaded)
                 if spec.cache_contribution is not None)


def core_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """The core's share: under HostnameLookups On, hits only on a connection whose name
    was looked up (host_need 1), under Double only once it was confirmed (or none was
    found: host_need 2); then
    Last-Modified, a strong ETag (a weak one becomes strong a second later), Accept-Ranges
    and a non-zero Content-Length."""
    lookups = dc.hostname_lookups or "off"
    if lookups not in ("off", "on", "double"):
        return NOT_CACHEABLE
    # Double: only where the forward check was made and %h is the name it left (dns_level 2)
    need = {"on": 1, "double": 2}.get(lookups, 0)
    if served is None:
        return Contribution(host_need=need) if need else NOTHING
    tag = served.tag
    if tag is None or tag.startswith("W/") or served.size == 0:
        return NOT_CACHEABLE
    return Contribution(host_need=need, head=b"".join((
        b"Last-Modified: ", _sf.http_date(served.mtime), b"\r\nETag: ", tag.encode(),
        b"\r\nAccept-Ranges: ", accept_ranges(dc).encode(), b"\r\nContent-Length: ",
        str(served.size).encode(), b"\r\n")))


def shares(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> list[Contribution]:
    """Every loaded module's contribution, then the core's (fixedanswer.py too)."""
    return [*(fn(txn, dc, served) for fn in _contributions(txn.conn.srv.cfg.modules)),
            core_contribution(txn, dc, served)]


def produced_by(txn: Transaction, walk_cacheable: bool, dc: DirConfig,
                links: tuple[LinkCheck, ...] = (), deps: tuple[DirDep, ...] = ()) -> None:
    """Record a walk (and its merged configuration) the answer depends on: the original
    request's, a DirectoryIndex sub-request's.  The answer may be cached only when every
    one of them may.  `links`: the walk's symlink checks, which every hit of the cached
    answer repeats; its shares' client rules (a directory's Require ip before its
    DirectoryIndex file) must all grant too.  `deps`, the watched directories whose
    .htaccess files the walk read, go with the entry (every cache checks them before
    each hit)."""
    txn.link_checks.extend(links)
    parts = shares(txn, dc, None)
    if not walk_cacheable or not all(c.cacheable for c in parts):
        txn.cacheable = False
    txn.peer_rules.extend(c.peer_rule for c in parts if c.peer_rule is not None)
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
    parts = shares(txn, served.dc, served)
    if not all(c.cacheable for c in parts):
        return None
    ctype = served.ctype
    expiry = None
    if sum(c.expiry is not None for c in parts) > 1:
        return None  # two shares' per-hit fields: which one Apache keeps is not ours
    for c in parts:
        if c.content_type is not None:
            ctype = c.content_type
        if c.expiry is not None:
            expiry = c.expiry
    coding_shares = [c.codings for c in parts if c.codings is not None]
    if len(coding_shares) > 1 or (coding_shares and expiry is not None):
        return None  # (a Vary after per-hit fields: the engine's layout cannot say it)
    codings = coding_shares[0] if coding_shares else None
    built = _fields(parts, ctype, expiry, None if codings is None else codings.plain)
    if built is None:
        return None
    head, tail, sent_type = built
    variants: list[Variant] = []
    for coded in codings.coded if codings is not None else ():
        other = _fields(parts, ctype, expiry, coded.edit)
        if other is None or other[1:] != (tail, sent_type):
            return None
        variants.append(Variant(coded.coding, b"%sContent-Length: %d\r\n" % (
            other[0], len(coded.body)), coded.body))
    offers = ",".join(protocol_upgrades(txn.vhost.protocols))
    if offers:
        answers: list[FieldEdit | None] = [None] if codings is None else [
            codings.plain, *(c.edit for c in codings.coded)]
        if not all(_keeps_announcement(parts, ctype, expiry, a) for a in answers):
            return None  # an edit (mod_headers) would change the announcement
    gates = tuple(c.gate for c in parts if c.gate is not None)
    gated = [c for c in parts if c.gate is not None]
    engine_checks: tuple[EngineCheck, ...] = ()
    if gated and all(c.engine_checks is not None for c in gated):
        engine_checks = tuple(k for c in gated for k in c.engine_checks or ())
        engine_gated = True
    else:
        engine_gated = not gates
    host_bound = any(c.host_bound for c in parts)
    negs = {c.neg for c in parts if c.neg is not None}
    if len(negs) > 1:
        return None
    rules: list[bytes] = []
    for rule in (*txn.peer_rules, *(c.peer_rule for c in parts)):
        if rule is not None and rule not in rules:  # each walk's scope, once
            rules.append(rule)
    if len(rules) > 255:
        return None
    # several shares' rules must all grant: one <RequireAll> of them
    peer_rule = rules[0] if len(rules) == 1 else (
        b"A" + bytes((len(rules),)) + b"".join(rules) if rules else b"")
    return CacheEntry(served.fname, served.ino, served.size, served.mtime_ns, served.ctime_ns,
                      head, tail, served.dc, delivery(served.dc), txn.uri_path, sent_type,
                      engine_log_set if engine_gated else None, expiry, gates,
                      probes=tuple(txn.probes), host_bound=host_bound,
                      host=txn.headers_in.get("host") if host_bound else None,
                      links=encode_links(txn.link_checks), peer_rule=peer_rule,
                      variants=tuple(variants), upgrade=offers, engine_checks=engine_checks,
                      deps=tuple(txn.deps), host_need=max(c.host_need for c in parts),
                      neg=next(iter(negs), None))


# the announcement as the edits see it on a connection's first answer (protocols.py)
UPGRADE_STAND_INS: tuple[Field, ...] = (("Upgrade", "\x00announced"),
                                        ("Connection", "\x00announced"))


def _keeps_announcement(shares: list[Contribution], ctype: str | None, expiry: Expiry | None,
                        coding_edit: FieldEdit | None) -> bool:
    """Whether the edits leave the announcement alone and do to the rest what they do
    without it: then the hit may put it in front of the entry's head."""
    edits = [e for e in (coding_edit if c.codings is not None else c.edit for c in shares)
             if e is not None]
    if not edits:
        return True
    head = parse_fields(b"".join(c.head for c in shares))
    tail = parse_fields(b"".join(c.tail for c in shares))
    per_hit = PER_HIT_STAND_INS if expiry is not None else ()
    plain: CachedFields | None = CachedFields(head + per_hit, tail, ctype)
    lead: CachedFields | None = CachedFields(UPGRADE_STAND_INS + head + per_hit, tail, ctype)
    for edit in edits:
        if plain is None or lead is None:
            return False
        plain, lead = edit(plain), edit(lead)
    if plain is None or lead is None:
        return False
    return (lead.head[:2] == UPGRADE_STAND_INS and lead.head[2:] == plain.head
            and lead.tail == plain.tail and lead.content_type == plain.content_type)


def _fields(shares: list[Contribution], ctype: str | None, expiry: Expiry | None,
            coding_edit: FieldEdit | None) -> tuple[bytes, bytes, str | None] | None:
    """The shares' header bytes (head, tail) and Content-Type after every edit, with
    `coding_edit` run in the place of the Accept-Encoding share (one of its answers);
    None when they cannot be cached."""
    head = b"".join(c.head for c in shares)
    tail = b"".join(c.tail for c in shares)
    if expiry is not None and _sets_expiry_fields(head):
        return None  # another module's Cache-Control/Expires would merge with it per hit
    edits = [e for e in (coding_edit if c.codings is not None else c.edit for c in shares)
             if e is not None]
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
    return head, tail, ctype


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
