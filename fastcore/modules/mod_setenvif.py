"""mod_setenvif: SetEnvIf, SetEnvIfNoCase, BrowserMatch, BrowserMatchNoCase and
SetEnvIfExpr, request variables from the request's attributes or an ap_expr.

As mod_setenvif.c: a rule written outside any per-dir section belongs to the server and
runs in post_read_request (before the URI is decoded: Request_URI is the raw path then);
one in <Directory>, <Location>, <Files> or .htaccess runs in header_parser over the
merged per-dir list.  The attribute is one of the special names (Remote_Host,
Remote_Addr, Server_Addr, Remote_User, Request_Method, Request_Protocol, Request_URI), a
request header, or, for a name with characters outside [-A-Za-z0-9_], a regex over the
header names (the last matching header's value); a plain name that is no header is an
earlier-set variable.  A missing attribute is the empty string.  The value pattern is a
substring search when it has no regex metacharacters, else a PCRE2 regex (through
config.regex, Apache's options), whose captures fill `$1`..`$9` in the values.
SetEnvIfExpr evaluates a core/expr condition; its values take the captures of the last
successful regex match of the same pass (its own, else an earlier rule's: match_headers
keeps one capture array for the whole list).

Variables go into txn.env (lower-case names, as APR tables compare them); the core honours
nokeepalive, downgrade-1.0 and force-response-1.0 (core/keepalive.py), mod_deflate reads
no-gzip and gzip-only-text/html.  Cache: both caches answer a hit only when no rule gives
it a variable: the Python cache runs the rules (a cacheable.HitGate), the C engine the
same rules as `engine_checks` (src/fc_setenvif.h: any match hands the request to Python);
rules on Remote_Host, Server_Addr or a header-name regex keep the entry from the engine,
and SetEnvIfExpr from both caches.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore._pure.setenvif import HEADER, METHOD, PROTOCOL, RAW_PATH, REMOTE_ADDR
from fastcore.config.engine import OR_FILEINFO, Ctx, Directive, DirectiveError, Engine
from fastcore.config.lexer import get_word
from fastcore.config.model import DirConfig, VirtualHost, module_record, scope_record
from fastcore.config.regex import CompileError, Match, Regex, compile_regex, regex_options
from fastcore.config.tree import Node
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution, EngineCheck
from fastcore.core.expr import Condition, ExprContext, ExprError, parse_condition
from fastcore.core.paths import from_bytes, wire_bytes
from fastcore.core.phases import DECLINED, HEADER_PARSER, POST_READ_REQUEST, Hook, HookResult
from fastcore.core.pregsub import pregsub
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

NAME = "setenvif_module"
SPECIALS = frozenset(("remote_addr", "remote_host", "remote_user", "request_uri",
                      "request_method", "request_protocol", "server_addr"))
_PLAIN_NAME = re.compile(r"[-A-Za-z0-9_]*")
_METACHARS = frozenset("^.$|()[]*+?{}")


def simple_pattern(regex: str) -> str | None:
    """non_regex_pattern: the literal text a pattern without metacharacters stands for
    (backslashes that escape one removed), or None for a real regex."""
    out: list[str] = []
    escaped = False
    for ch in regex:
        if ch in _METACHARS:
            if not escaped:
                return None
            escaped = False
            out.append(ch)
        elif ch == "\\":
            if escaped:
                out.append(ch)
            escaped = not escaped
        else:
            if escaped:
                return None
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Feature:
    """One variable a rule sets (value) or unsets (a value starting with "!", as
    match_headers tests it)."""

    name: str    # lower-case
    value: str


@dataclass(frozen=True, slots=True)
class Rule:
    """sei_entry: the attribute, how its value is matched, and the variables."""

    attribute: str             # as written (header name, special name or name regex)
    special: str | None        # lower-case special name, or None
    name_regex: Regex | None   # the attribute is a regex over header names
    literal: str | None        # substring pattern (no metacharacters), or None
    regex: Regex | None        # the value regex when not a literal
    icase: bool
    features: tuple[Feature, ...]
    expr: Condition | None = None  # SetEnvIfExpr (attribute, literal and regex unused)
    where: str = ""                # "file:line", for the evaluation error's log line

    def value(self, txn: Transaction, early: bool) -> str:
        """The attribute's value for this request ("" when absent)."""
        sp = self.special
        if sp is not None:
            return _special(sp, txn, early) or ""
        if self.name_regex is not None:
            found = ""
            req = txn.request
            fields = req.fields if req is not None else list(txn.headers_in.items())
            for name, value in _merged(fields):
                if self.name_regex.search(name) is not None:
                    found = value
            return found
        low = self.attribute.lower()
        got = txn.headers_in.get(low)
        if got is None:
            got = txn.env.get(low)
        return got or ""

    def matches(self, subject: str) -> Match | bool:
        if self.literal is not None:
            if self.icase:
                return self.literal.lower() in subject.lower()
            return self.literal in subject
        assert self.regex is not None
        m = self.regex.search(subject)
        return m if m is not None else False


@dataclass(slots=True)
class Captures:
    """The pass's capture array: the subject and groups of the last successful match."""

    source: str | None = None
    groups: tuple[str | None, ...] = ()

    def substitute(self, template: str) -> str:
        """ap_pregsub over these captures ($N past them, or with none, is empty)."""
        groups = self.groups if self.source is not None else ()
        return pregsub(template, lambda g: groups[g] if g < len(groups) else None)


def _merged(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """headers_in as Apache keeps it: one entry per name (first spelling), repeats
    joined with ", "."""
    out: dict[str, tuple[str, str]] = {}
    for name, value in fields:
        low = name.lower()
        prev = out.get(low)
        out[low] = (name, value) if prev is None else (prev[0], f"{prev[1]}, {value}")
    return list(out.values())


def _special(kind: str, txn: Transaction, early: bool) -> str | None:
    if kind == "remote_addr":
        return txn.client_ip
    if kind == "server_addr":
        return txn.local_ip
    if kind == "remote_host":  # REMOTE_NAME: a name under HostnameLookups, else the address
        dc = txn.dirconf or txn.vhost.dir_defaults
        hl = dc.hostname_lookups or "off"
        ctx = txn.ctx
        name = ctx.remote_host(hl == "double") if hl != "off" else ctx.cached_host()
        return name or txn.client_ip
    if kind == "remote_user":
        return txn.user
    if kind == "request_method":
        return txn.method
    if kind == "request_protocol":
        return txn.protocol
    # request_uri: r->uri, still undecoded before translate_name
    if early and txn.request is not None:
        return txn.request.path_raw
    return txn.uri_path


@dataclass
class SetEnvIfRules:
    """sei_cfg_rec, the per-server record (post_read_request's rules) and the per-dir one
    (header_parser's) alike: the rules in order; a deeper scope's (or a virtual host's)
    come after the enclosing ones."""

    rules: tuple[Rule, ...] = ()

    def merge(self, add: SetEnvIfRules) -> SetEnvIfRules:
        return SetEnvIfRules(self.rules + add.rules)


def server_rules(vh: VirtualHost) -> SetEnvIfRules:
    return module_record(vh.module_config, NAME, SetEnvIfRules)


def dir_rules(dc: DirConfig | None) -> SetEnvIfRules:
    if dc is None:
        return SetEnvIfRules()
    return module_record(dc.modules, NAME, SetEnvIfRules)


def _words(text: str) -> list[str]:
    """ap_getword_conf until the first empty word."""
    out = []
    pos = 0
    while pos < len(text):
        w, pos = get_word(text, pos)
        if w == "":
            break
        out.append(w)
    return out


def _feature(word: str) -> Feature:
    var, eq, value = word.partition("=")
    if eq and value:
        return Feature(var.lower(), value)
    if var.startswith("!"):
        return Feature(var[1:].lower(), "!")
    return Feature(var.lower(), "1")  # "name" and "name=" alike set 1


def _add(ctx: Ctx, cmd: str, attribute: str, words: list[str], icase: bool) -> None:
    if not words:
        raise DirectiveError(f"Missing regular expression for {cmd}")
    regex, *features = words
    if not features:
        raise DirectiveError(f"Missing envariable expression for {cmd}")
    low = attribute.lower()
    special = low if low in SPECIALS else None
    name_regex = None
    if special is None and _PLAIN_NAME.fullmatch(attribute) is None:
        try:
            name_regex = compile_regex(attribute, icase)
        except CompileError:
            raise DirectiveError(f"{cmd}Header name regex could not be compiled.") from None
    literal = simple_pattern(regex)
    value_regex = None
    if literal is None:
        try:
            value_regex = compile_regex(regex, icase)
        except CompileError:
            raise DirectiveError(f"{cmd} regex could not be compiled.") from None
    _store(ctx, Rule(attribute, special, name_regex, literal, value_regex, icase,
                     tuple(_feature(w) for w in features)))


def _store(ctx: Ctx, rule: Rule) -> None:
    if ctx.section is None and not ctx.htaccess:  # cmd->path == NULL: the server's
        srv = scope_record(ctx.vhost.module_config, NAME, SetEnvIfRules)
        srv.rules = (*srv.rules, rule)
    else:
        rec = scope_record(ctx.dirconf.modules, NAME, SetEnvIfRules)
        rec.rules = (*rec.rules, rule)


def set_env_if(e: Engine, ctx: Ctx, a: str, n: Node) -> None:
    words = _words(a)
    if not words:
        raise DirectiveError(f"Missing header-field name for {n.name}")
    _add(ctx, n.name, words[0], words[1:], n.name.lower().endswith("nocase"))


def browser_match(e: Engine, ctx: Ctx, a: str, n: Node) -> None:
    _add(ctx, n.name, "User-Agent", _words(a), n.name.lower().endswith("nocase"))


def set_env_if_expr(e: Engine, ctx: Ctx, a: str, n: Node) -> None:
    words = _words(a)
    if not words:
        raise DirectiveError(f"Missing expression for {n.name}")
    text, *features = words
    try:
        cond = parse_condition(text)
    except DirectiveError as err:
        raise DirectiveError(f'Could not parse expression "{text}": {err}') from None
    if not features:
        raise DirectiveError(f"Missing envariable expression for {n.name}")
    _store(ctx, Rule("", None, None, None, None, False, tuple(_feature(w) for w in features),
                     cond, f"{n.filename}:{n.line}"))


def directives() -> list[Directive]:
    fi = frozenset({OR_FILEINFO})
    return [
        Directive("SetEnvIf", NAME, fi, "RAW_ARGS", set_env_if,
                  "A header-name, regex and a list of variables."),
        Directive("SetEnvIfNoCase", NAME, fi, "RAW_ARGS", set_env_if,
                  "a header-name, regex and a list of variables."),
        Directive("BrowserMatch", NAME, fi, "RAW_ARGS", browser_match,
                  "A browser regex and a list of variables."),
        Directive("BrowserMatchNoCase", NAME, fi, "RAW_ARGS", browser_match,
                  "A browser regex and a list of variables."),
        Directive("SetEnvIfExpr", NAME, fi, "RAW_ARGS", set_env_if_expr,
                  "A expression and a list of variables."),
    ]


def apply_rules(core: Handler | None, rules: tuple[Rule, ...], txn: Transaction,
                early: bool) -> None:
    """match_headers over one list: each matching rule sets or unsets its variables
    (`core` logs an expression's failure; a cache gate, whose rules have none, has no
    core)."""
    env = txn.env
    caps = Captures()
    for rule in rules:
        if rule.expr is not None:
            if not _expr_true(core, rule, txn, early, caps):
                continue
        else:
            m = rule.matches(rule.value(txn, early))
            if m is False:
                continue
            if isinstance(m, Match):
                caps.source = m.string
                caps.groups = (m.group(0), *m.groups())
        for f in rule.features:
            if f.value.startswith("!"):
                env.pop(f.name, None)
            elif rule.literal is None:
                env[f.name] = caps.substitute(f.value)
            else:
                env[f.name] = f.value


def _expr_true(core: Handler | None, rule: Rule, txn: Transaction, early: bool,
               caps: Captures) -> bool:
    """SetEnvIfExpr's condition (before translate_name r->uri is still the raw path);
    a failed evaluation is Apache's error-log line and no match."""
    assert rule.expr is not None and core is not None
    ctx = ExprContext(txn)
    saved = txn.r_uri, txn.uri_path
    if early and txn.request is not None:
        txn.r_uri = txn.uri_path = from_bytes(wire_bytes(txn.request.path_raw))
    try:
        ok = rule.expr.evaluate(ctx)
    except ExprError as err:
        core.srv.errlog(txn.vhost).log(
            "error", "setenvif", f"Evaluation of expression from {rule.where} failed: {err}",
            f"{txn.client_ip}:{txn.remote_port}", txn.dirconf)
        return False
    finally:
        txn.r_uri, txn.uri_path = saved
    if ok and ctx.source is not None:
        caps.source, caps.groups = ctx.source, tuple(ctx.groups)
    return ok


def post_read_request(core: Handler, txn: Transaction) -> HookResult:
    rules = server_rules(txn.vhost).rules
    if rules:
        apply_rules(core, rules, txn, True)
    return DECLINED


def header_parser(core: Handler, txn: Transaction) -> HookResult:
    rules = dir_rules(txn.dirconf).rules
    if rules:
        apply_rules(core, rules, txn, False)
    return DECLINED


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """Rules run on every request, so the C engine never answers under them; the Python
    cache may, for a hit the rules would give no variable (its gate runs them).  An
    expression rule reads more of the request than a hit has: not cacheable."""
    rules = server_rules(txn.vhost).rules + dir_rules(dc).rules
    if not rules:
        return NOTHING
    if any(r.expr is not None for r in rules):
        return NOT_CACHEABLE
    if served is None:
        return Contribution(gate=sets_nothing)
    return Contribution(gate=sets_nothing, engine_checks=engine_checks(txn, dc))


# the subjects the engine reads itself (src/fc_setenvif.h; _pure/setenvif.py's numbers)
_ENGINE_SPECIALS = {"remote_addr": REMOTE_ADDR, "request_method": METHOD,
                    "request_protocol": PROTOCOL}


def engine_checks(txn: Transaction, dc: DirConfig) -> tuple[EngineCheck, ...] | None:
    """The entry's rules (the server's, then its directory's) as checks the C engine runs
    on each hit, a match sending the request to Python; None when one of them reads what
    the engine does not see (Remote_Host, Server_Addr, a header-name regex) or always
    matches this entry (its subject is the entry's own URI or the absent user)."""
    out: list[EngineCheck] = []
    for early, rules in ((True, server_rules(txn.vhost).rules), (False, dir_rules(dc).rules)):
        for rule in rules:
            sp = rule.special
            if rule.name_regex is not None or sp in ("remote_host", "server_addr"):
                return None
            if sp == "remote_user" or (sp == "request_uri" and not early):
                # the same for every hit of this entry (no user; its decoded URI)
                if rule.matches("" if sp == "remote_user" else txn.uri_path):
                    return None
                continue
            if sp == "request_uri":
                kind, name = RAW_PATH, b""
            elif sp is not None:
                kind, name = _ENGINE_SPECIALS[sp], b""
            else:
                kind, name = HEADER, rule.attribute.lower().encode("latin-1")
            if rule.literal is not None:
                try:
                    pattern = rule.literal.encode("ascii")
                except UnicodeError:
                    return None  # str.lower and the engine's ASCII lowering may differ
                out.append(EngineCheck(kind, name, pattern, -1, rule.icase))
            else:
                assert rule.regex is not None
                out.append(EngineCheck(kind, name, rule.regex.pattern.encode(
                    "utf-8", "surrogateescape"), regex_options(rule.icase), rule.icase))
    return tuple(out)


def sets_nothing(txn: Transaction, dc: DirConfig, uri: str) -> bool:
    """A cache hit's gate: the server's rules, then the entry's directory rules, over
    this request leave the environment empty (so the full path would log and answer
    exactly what the entry holds)."""
    saved = txn.env, txn.dirconf, txn.uri_path
    txn.env = {}
    try:
        rules = server_rules(txn.vhost).rules
        if rules:
            apply_rules(None, rules, txn, True)
        txn.dirconf, txn.uri_path = dc, uri
        rules = dir_rules(dc).rules
        if rules:
            apply_rules(None, rules, txn, False)
        return not txn.env
    finally:
        txn.env, txn.dirconf, txn.uri_path = saved


HOOKS = (Hook(POST_READ_REQUEST, post_read_request), Hook(HEADER_PARSER, header_parser))
MODULE = ModuleSpec(NAME, directives, dir_record=SetEnvIfRules, server_record=SetEnvIfRules,
                    hooks=HOOKS, cache_contribution=cache_contribution)
