"""mod_expires: ExpiresActive, ExpiresDefault and ExpiresByType, the Expires and
Cache-Control: max-age fields of an answer.

As httpd 2.4's mod_expires, the work is an output filter (AP_FTYPE_CONTENT_SET-2, so it
runs before mod_headers': FIRST here): it leaves an answer alone when it already carries
an Expires, when its status is an error (4xx/5xx: the insert hooks refuse them, an
ErrorDocument's answer included), or when no rule applies; redirects and 304s get the
fields.  The code for the answer's type is the exact type (parameters dropped), then
"major/*", then ExpiresDefault.  "access" counts from the request time, "modification"
from the mtime of what the walk found (nothing on disk: no fields); an instant already
past becomes the request time (max-age=0).

Cache: a cached 200 carries the rule (cacheable.Expiry), and each hit of the Python cache
and of the C engine formats the two fields for its own time (src/fc_expires.h).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.config.engine import OR_INDEXES, Ctx, Directive, DirectiveError, Engine
from fastcore.config.lexer import get_word
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.cacheable import (
    EXPIRES_ACCESS,
    EXPIRES_AT,
    NOTHING,
    CacheInfo,
    Contribution,
    Expiry,
    expiry_times,
)
from fastcore.core.phases import DECLINED, FIRST, OK, OUTPUT_FILTER, Hook, HookResult
from fastcore.core.tokens import is_digits
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

NAME = "expires_module"
_sf = load("sendfile")

# <type> words as check_code compares them: (name, how many leading letters must match)
_UNITS = (("years", 1, 365 * 86400), ("months", 2, 30 * 86400), ("weeks", 1, 7 * 86400),
          ("days", 1, 86400), ("hours", 1, 3600), ("minutes", 2, 60), ("seconds", 1, 1))


def _int32(n: int) -> int:
    """C int arithmetic (check_code sums into an int): wrap as the machine does."""
    n &= 0xFFFFFFFF
    return n - (1 << 32) if n >= 1 << 31 else n


def _atoi(s: str) -> int:
    """C atoi: leading space, a sign, the digits that follow (0 when none)."""
    s = s.lstrip(" \t\n\v\f\r")
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    digits = ""
    for ch in s:
        if not ch.isascii() or not is_digits(ch):
            break
        digits += ch
    return _int32(sign * int(digits)) if digits else 0


def _prefix(word: str, name: str, n: int) -> bool:
    """strncasecmp(word, name, n) == 0."""
    return word[:n].lower() == name[:n]


@dataclass(frozen=True, slots=True)
class Code:
    """An expiry code as mod_expires keeps it ("A3600", "M60"): base and seconds."""

    base: str      # "A" (access) or "M" (modification)
    seconds: int


def parse_code(text: str) -> Code | str:
    """check_code: the code, or the reason Apache gives for refusing it.  A text that
    starts with a capital A or M is the old "A<seconds>" form, whatever follows."""
    if text[:1] in ("A", "M"):
        return Code(text[0], _atoi(text[1:]))
    words = []
    pos = 0
    while pos < len(text):
        w, pos = get_word(text, pos)
        if w == "":
            break
        words.append(w)
    words.append("")  # ap_getword_conf at the end: the empty word
    it = iter(words)
    word = next(it)
    if _prefix(word, "now", 1) or _prefix(word, "access", 1):
        base = "A"
    elif _prefix(word, "modification", 1):
        base = "M"
    else:
        return f"bad expires code, unrecognised <base> '{word}'"
    word = next(it, "")
    if _prefix(word, "plus", 1):
        word = next(it, "")
    total = 0
    while word:
        if not (word[0].isascii() and is_digits(word[0])):
            return f"bad expires code, numeric value expected <num> '{word}'"
        num = _atoi(word)
        word = next(it, "")
        if not word:
            return "bad expires code, missing <type>"
        for unit, n, factor in _UNITS:
            if _prefix(word, unit, n):
                total = _int32(total + _int32(factor * num))
                break
        else:
            return f"bad expires code, unrecognised <type>'{word}'"
        word = next(it, "")
    return Code(base, total)


@dataclass
class ExpiresDir:
    """expires_dir_config: ExpiresActive (None: not said here), ExpiresDefault and the
    ExpiresByType codes by lower-case type (APR tables compare without case)."""

    active: bool | None = None
    default: Code | None = None
    by_type: dict[str, Code] = field(default_factory=dict)

    def merge(self, add: ExpiresDir) -> ExpiresDir:
        """merge_expires_dir_configs: the deeper scope's flag and default win; its types
        overlay the enclosing ones."""
        return ExpiresDir(self.active if add.active is None else add.active,
                          self.default if add.default is None else add.default,
                          {**self.by_type, **add.by_type})

    def code_for(self, ctype: str | None) -> Code | None:
        """The code for an answer of this Content-Type: exact type without parameters,
        then its "major/*", then the default."""
        if ctype is not None:
            exact = ctype.split(";", 1)[0].rstrip(" \t").lower()
            code = self.by_type.get(exact)
            if code is not None:
                return code
            major, slash, _rest = ctype.partition("/")
            if slash:
                code = self.by_type.get(major.lower() + "/*")
                if code is not None:
                    return code
        return self.default

    @property
    def applies(self) -> bool:
        return self.active is True and (bool(self.by_type) or self.default is not None)


def expires_config(dc: DirConfig | None) -> ExpiresDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    if dc is None:
        return ExpiresDir()
    return module_record(dc.modules, NAME, ExpiresDir)


def expires_active(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    scope_record(ctx.dirconf.modules, NAME, ExpiresDir).active = a


def expires_by_type(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    mime, text = a
    code = parse_code(text)
    if isinstance(code, str):
        raise DirectiveError(f"'ExpiresByType {mime} {text}': {code}")
    scope_record(ctx.dirconf.modules, NAME, ExpiresDir).by_type[mime.lower()] = code


def expires_default(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    code = parse_code(a[0])
    if isinstance(code, str):
        raise DirectiveError(f"'ExpiresDefault {a[0]}': {code}")
    scope_record(ctx.dirconf.modules, NAME, ExpiresDir).default = code


def directives() -> list[Directive]:
    ix = frozenset({OR_INDEXES})
    return [
        Directive("ExpiresActive", NAME, ix, "FLAG", expires_active, "Limited to 'on' or 'off'"),
        Directive("ExpiresByType", NAME, ix, "TAKE2", expires_by_type, "a MIME type followed "
                  "by an expiry date code"),
        Directive("ExpiresDefault", NAME, ix, "TAKE1", expires_default, "an expiry date code"),
    ]


def _answer_type(core: Handler, txn: Transaction) -> str | None:
    """r->content_type: what the answer says, or for a 304 (which sends none) what the
    file it stands for would have been sent as."""
    resp = txn.response
    assert resp is not None
    if resp.ctype is not None or resp.status != 304 or txn.walk is None:
        return resp.ctype
    return core.mime.content_type_header(txn.walk.filename, txn.dirconf)


def _rule(code: Code, txn: Transaction) -> Expiry | None:
    """The code as a rule over the request time; None: "modification" of nothing."""
    if code.base == "A":
        return Expiry(EXPIRES_ACCESS, code.seconds)
    served = txn.response.cache if txn.response is not None else None
    if served is not None:  # the file sent (a negotiated variant: r->finfo is its)
        mtime_ns = served.mtime_ns
    elif txn.walk is not None and txn.walk.st is not None:
        mtime_ns = txn.walk.st.st_mtime_ns
    else:
        return None
    return Expiry(EXPIRES_AT, mtime_ns // 1000 + code.seconds * 1_000_000)


def expires_filter(core: Handler, txn: Transaction) -> HookResult:
    """The MOD_EXPIRES filter over every answer that is not an error."""
    resp = txn.response
    assert resp is not None
    if resp.status >= 400:
        return DECLINED
    # an answer made before the walk (a server-context RewriteRule's redirect) has the
    # server's per-dir defaults, as r->per_dir_config is lookup_defaults then
    conf = expires_config(txn.dirconf if txn.dirconf is not None else txn.vhost.dir_defaults)
    if not conf.applies:
        return DECLINED
    headers = resp.headers
    if any(k.lower() == "expires" for k, _v in headers):
        return DECLINED
    code = conf.code_for(_answer_type(core, txn))
    rule = _rule(code, txn) if code is not None else None
    if rule is None:
        return DECLINED
    max_age, at = expiry_times(rule.kind, rule.value, int(txn.start_time * 1_000_000))
    age = f"max-age={max_age}"
    for i, (k, v) in enumerate(headers):
        if k.lower() == "cache-control":  # apr_table_mergen
            headers[i] = (k, f"{v}, {age}")
            break
    else:
        _insert(headers, ("Cache-Control", age))
    _insert(headers, ("Expires", _sf.http_date(at).decode()))
    return OK


def _insert(headers: list[tuple[str, str]], item: tuple[str, str]) -> None:
    """Where Apache's table has them: after the handler's fields, before the
    Content-Range the byte-range filter adds later."""
    for i, (k, _v) in enumerate(headers):
        if k == "Content-Range":
            headers.insert(i, item)
            return
    headers.append(item)


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """A cached 200 of a file carries the rule its type selects (each hit formats it)."""
    if served is None:
        return NOTHING
    conf = expires_config(served.dc)
    if not conf.applies:
        return NOTHING
    code = conf.code_for(served.ctype)
    if code is None:
        return NOTHING
    if code.base == "A":
        return Contribution(expiry=Expiry(EXPIRES_ACCESS, code.seconds))
    return Contribution(expiry=Expiry(EXPIRES_AT,
                                      served.mtime_ns // 1000 + code.seconds * 1_000_000))


HOOKS = (Hook(OUTPUT_FILTER, expires_filter, FIRST),)
MODULE = ModuleSpec(NAME, directives, dir_record=ExpiresDir, hooks=HOOKS,
                    cache_contribution=cache_contribution)
