"""Rewrite outcomes at fast-path speed (issue 14's Speed): which rule sets (the server's,
a <Directory>'s) may have their outcome cached, and with what the cached answer is
validated.

Once per configuration record (on its first request, memoized) `verdict(conf)` decides
whether a rule set's outcome is a function of the request target, the Host field and
file-system tests only: its conditions and substitutions read only KEY_VARS (and
%{ENV:x} that an earlier, unconditional rule of the same list always set), its
conditions are regex, string, integer or -f/-s/-d/-x/-l tests, its maps are int:, txt:
or dbm: (the file's identity joins the validation; both of an sdbm map's files), and no rule sets a cookie, a variable that
changes the answer's framing (nokeepalive, downgrade-1.0, force-response-1.0) or one whose
name is expanded.  Anything else (another header, the client address, the time, rnd:
maps, -U/-F look-ups, expr conditions) keeps the per-request path (translate clears
txn.cacheable).

For such a rule set translate (or fixup) records every file-system test it made as a
cacheable.Probe in txn.probes (rules.py appends them); the answer then goes to the caches
like any other (the served file's entry, keyed by the original target) and each hit
repeats the probes (src/fc_rwprobe.h in C), so a file created or removed between two
requests is a miss, never a stale outcome.  An external redirect is marked
Response.fixed: the connection gives its bytes to the engine (cacheable.fixed_answer).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore.core.cacheable import (
    NOT_CACHEABLE,
    NOTHING,
    PROBE_IDENTITY,
    Contribution,
    take_probe,
)
from fastcore.modules.mod_rewrite import config as C
from fastcore.modules.mod_rewrite.maps import DBM, INT, TXT, RewriteMapSpec

if TYPE_CHECKING:
    from fastcore.config.model import ListenAddr
    from fastcore.core.transaction import Transaction

# %{NAME} values that are a function of (Host, target) or constant per server
KEY_VARS = frozenset((
    "HTTP_HOST", "REQUEST_URI", "REQUEST_FILENAME", "SCRIPT_FILENAME", "QUERY_STRING",
    "HTTPS", "DOCUMENT_ROOT", "CONTEXT_DOCUMENT_ROOT", "CONTEXT_PREFIX", "REQUEST_SCHEME",
    "SERVER_ADMIN", "API_VERSION", "SERVER_SOFTWARE"))
HOST_VARS = frozenset(("HTTP_HOST", "HTTP:HOST"))
# the local address: constant when every Listen names the same address (h5bp's www
# forcing tests it), else it varies with the interface a request came in on
ADDR_VAR = "SERVER_ADDR"
WILDCARDS = frozenset(("", "*", "0.0.0.0", "::"))
# condition kinds whose outcome is the test string's and the file system's
KEY_KINDS = frozenset((C.REGEX, C.FILE_EXISTS, C.FILE_SIZE, C.FILE_DIR, C.FILE_XBIT,
                       C.FILE_LINK, C.STR_LT, C.STR_LE, C.STR_EQ, C.STR_GT, C.STR_GE,
                       C.INT_LT, C.INT_LE, C.INT_EQ, C.INT_GT, C.INT_GE))
# patterns that match every string (the rule always applies when its conditions hold)
ALWAYS = frozenset(("^", ".*", "^.*", "^.*$", "(.*)", "^(.*)", "^(.*)$", ""))
# %{HTTPS} is constant per listener (a TLS port or not) and cached answers are kept per
# listener address; the analysis of always-set ENV names assumes a plain port, which on
# a TLS port only makes it keep fewer names (conservative)
HTTPS_VALUE = "off"
# variables that change how the answer is framed (keepalive.env_protocol): a cache hit
# frames it without them, so a rule set that sets one runs per request
FRAMING_ENV = frozenset(("nokeepalive", "downgrade-1.0", "force-response-1.0"))

_VAR = re.compile(r"%\{([^{}]*)\}")
_MAP = re.compile(r"\$\{([^:{}]*):")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A rule set's cacheability, decided once: `cacheable`, whether it reads the Host
    field, and the txt:/dbm: maps' files (their identity is probed per request)."""

    cacheable: bool
    reads_host: bool = False
    map_files: tuple[str, ...] = ()


NEVER = Verdict(False)
Record = C.RewriteServer | C.RewriteDir
_VERDICTS: dict[tuple[int, bool], tuple[Record, Verdict]] = {}
VERDICTS_MAX = 4096  # per-directory records merged per request (.htaccess) come and go


def verdict(conf: C.RewriteServer, fixed_addr: bool = False) -> Verdict:
    """The server rule set's verdict.  `fixed_addr`: every Listen names one address, so
    %{SERVER_ADDR} is constant."""
    return _memo(conf, conf.rules, conf.maps, fixed_addr)


def dir_verdict(d: C.RewriteDir, conf: C.RewriteServer | None,
                fixed_addr: bool = False) -> Verdict:
    """A per-directory rule set's verdict (its maps are the server's)."""
    return _memo(d, d.rules, conf.maps if conf is not None else {}, fixed_addr)


def _memo(rec: Record, rules: list[C.RewriteRule], maps: dict[str, RewriteMapSpec],
          fixed_addr: bool) -> Verdict:
    """Memoized per record (kept with its verdict, so its id is never reused; bounded)."""
    key = (id(rec), fixed_addr)
    got = _VERDICTS.get(key)
    if got is not None and got[0] is rec:
        return got[1]
    v = _decide(rules, maps, fixed_addr)
    if len(_VERDICTS) >= VERDICTS_MAX:
        _VERDICTS.clear()
    _VERDICTS[key] = (rec, v)
    return v


def one_address(listeners: Iterable[ListenAddr]) -> bool:
    """Whether every listener is bound to the same specific address."""
    hosts = {la.host for la in listeners}
    return len(hosts) == 1 and not hosts & WILDCARDS


def _verdict_of(txn: Transaction, conf: C.RewriteServer) -> Verdict:
    return verdict(conf, one_address(txn.conn.srv.cfg.listeners))


def _texts(rule: C.RewriteRule) -> list[str]:
    """Every string of a rule that is expanded per request."""
    out = [rule.output, *rule.env]
    if rule.mimetype:
        out.append(rule.mimetype)
    if rule.handler:
        out.append(rule.handler)
    return out


def _reads(texts: list[str]) -> tuple[list[str], list[str]]:
    """The %{VAR} names and ${map:...} names the texts expand."""
    names: list[str] = []
    maps: list[str] = []
    for t in texts:
        names += _VAR.findall(t)
        maps += _MAP.findall(t)
    return names, maps


def _const_cond(cond: C.RewriteCond) -> bool | None:
    """The value of a condition on %{HTTPS} alone (constant per listener), else None."""
    if cond.input != "%{HTTPS}" or cond.ornext:
        return None
    if cond.kind == C.STR_EQ:
        rc = (HTTPS_VALUE.lower() == cond.operand.lower()) if cond.nocase \
            else HTTPS_VALUE == cond.operand
    elif cond.kind == C.REGEX and cond.regex is not None:
        rc = cond.regex.search(HTTPS_VALUE) is not None
    else:
        return None
    return rc != cond.negate


def _decide(rules: list[C.RewriteRule], maps: dict[str, RewriteMapSpec],
            fixed_addr: bool) -> Verdict:
    reads_host = False
    map_files: list[str] = []
    always_set: set[str] = set()  # ENV names every run has set by this point
    flow_known = True             # no skip or chain yet: each rule is reached in order
    for rule in rules:
        if rule.cookies:
            return NEVER
        for item in rule.env:
            name = item.partition(":")[0].removeprefix("!")
            if "%" in name or "$" in name or name.lower() in FRAMING_ENV:
                return NEVER
        texts = _texts(rule)
        for cond in rule.conds:
            if cond.kind not in KEY_KINDS:
                return NEVER
            texts.append(cond.input)
        names, used = _reads(texts)
        for name in names:
            up = name.upper()
            if up in HOST_VARS:
                reads_host = True
            elif up.startswith("ENV:"):
                if name[4:].lower() not in always_set:
                    return NEVER
            elif up not in KEY_VARS and not (fixed_addr and up == ADDR_VAR):
                return NEVER
        for m in used:
            spec = maps.get(m)
            if spec is None:
                continue  # an unknown map expands to its default: no lookup
            if spec.kind in (TXT, DBM):
                map_files += spec.files()  # dbm: its file(s), as apr_dbm names them
            elif spec.kind != INT:
                return NEVER
        if rule.skip or rule.chain:
            flow_known = False
        if flow_known and not rule.negate and rule.pattern in ALWAYS:
            consts = [_const_cond(c) for c in rule.conds]
            if all(c is True for c in consts):
                for item in rule.env:
                    key, sep, _ = item.partition(":")
                    if sep and not key.startswith("!") and "%" not in key and "$" not in key:
                        always_set.add(key.lower())
    return Verdict(True, reads_host, tuple(dict.fromkeys(map_files)))


def begin(txn: Transaction, conf: C.RewriteServer) -> bool:
    """Before the server's rules run: for a cacheable rule set, probe its maps' files
    (before the look-ups: a file changed meanwhile is a miss) and say True (the rules then
    record their tests in txn.probes); else clear txn.cacheable."""
    return _begin(txn, _verdict_of(txn, conf))


def begin_dir(txn: Transaction, conf: C.RewriteServer | None, d: C.RewriteDir) -> bool:
    """begin() for a directory's rules (hook_fixup)."""
    return _begin(txn, _dir_verdict_of(txn, conf, d))


def _dir_verdict_of(txn: Transaction, conf: C.RewriteServer | None,
                    d: C.RewriteDir) -> Verdict:
    return dir_verdict(d, conf, one_address(txn.conn.srv.cfg.listeners))


def _begin(txn: Transaction, v: Verdict) -> bool:
    if not v.cacheable:
        txn.cacheable = False
        return False
    txn.probes.extend(take_probe(f, PROBE_IDENTITY) for f in v.map_files)
    return True


def fixed_redirect(txn: Transaction) -> bool:
    """Whether a cacheable rule set's redirect is a function of (Host, target): not under
    UseCanonicalName DNS, whose host name is the local address's reverse name."""
    dc = txn.dirconf or txn.vhost.dir_defaults
    return (dc.use_canonical_name or "off") != "dns"


def contribution(txn: Transaction, conf: C.RewriteServer) -> Contribution:
    """The server rules' share: nothing to add for a cacheable rule set whose vhost's logs
    show none of the variables the rules set (SCRIPT_URL, [E=]: a hit has none), bound to
    the Host value when the rules read it; else not cacheable."""
    return _share(txn, _verdict_of(txn, conf))


def dir_contribution(txn: Transaction, conf: C.RewriteServer | None,
                     d: C.RewriteDir) -> Contribution:
    """contribution() for a directory's rules (the scope's AH00670 check is config)."""
    return _share(txn, _dir_verdict_of(txn, conf, d))


def _share(txn: Transaction, v: Verdict) -> Contribution:
    if not v.cacheable or id(txn.vhost) in txn.conn.srv.engine.env_logged:
        return NOT_CACHEABLE
    return Contribution(host_bound=True) if v.reads_host else NOTHING
