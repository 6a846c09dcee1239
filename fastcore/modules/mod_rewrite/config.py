"""mod_rewrite's configuration: the directive table, the per-server and per-directory
records with mod_rewrite.c's create/merge semantics, and the parsing of RewriteRule and
RewriteCond lines (its own argument splitter, the flag field, the condition kinds), with
Apache's startup messages."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from fastcore.config.engine import OR_FILEINFO, RSRC, Ctx, Directive, DirectiveError, Engine
from fastcore.config.errors import error_log_line
from fastcore.config.model import DirConfig, VirtualHost, module_record, scope_record
from fastcore.config.regex import CompileError, Regex, compile_regex
from fastcore.config.tree import Node
from fastcore.core.expr import Condition, parse_condition
from fastcore.core.tokens import is_digits
from fastcore.modules.mod_rewrite.maps import RewriteMapSpec, parse_map

NAME = "rewrite_module"

# RewriteOptions bits (mod_rewrite.c's OPTION_*)
INHERIT, INHERIT_BEFORE, NOSLASH, ANYURI, MERGEBASE = 1 << 1, 1 << 2, 1 << 3, 1 << 4, 1 << 5
INHERIT_DOWN, INHERIT_DOWN_BEFORE, IGNORE_INHERIT = 1 << 6, 1 << 7, 1 << 8
IGNORE_CONTEXT_INFO, LEGACY_PREFIX_DOCROOT, LONGOPT = 1 << 9, 1 << 10, 1 << 11
OPTION_WORDS = {"inherit": INHERIT, "inheritbefore": INHERIT_BEFORE,
                "inheritdown": INHERIT_DOWN, "inheritdownbefore": INHERIT_DOWN_BEFORE,
                "ignoreinherit": IGNORE_INHERIT, "allownoslash": NOSLASH,
                "allowanyuri": ANYURI, "mergebase": MERGEBASE,
                "ignorecontextinfo": IGNORE_CONTEXT_INFO,
                "legacyprefixdocroot": LEGACY_PREFIX_DOCROOT, "longurloptimization": LONGOPT}

# Condition pattern kinds (CONDPAT_*)
REGEX, FILE_EXISTS, FILE_SIZE, FILE_LINK, FILE_DIR, FILE_XBIT, LU_URL, LU_FILE = range(8)
STR_LT, STR_LE, STR_EQ, STR_GT, STR_GE = range(10, 15)
INT_LT, INT_LE, INT_EQ, INT_GT, INT_GE = range(20, 25)
AP_EXPR = 30

# the codes httpd has a status line for (ap_index_of_response finds them)
KNOWN_STATUSES = frozenset((*range(100, 104), *range(200, 209), 226, *range(300, 309),
                            *range(400, 418), *range(421, 427), 428, 429, 431, 451,
                            *range(500, 509), 510, 511))

MAX_ROUNDS = 10000  # REWRITE_MAX_ROUNDS: the [N] loop limit


@dataclass(frozen=True)
class RewriteCond:
    """One RewriteCond: the test string, the pattern as written (for the log), its kind
    and compiled form, and the flags NC/OR/NV and the leading `!`."""

    input: str
    pattern: str
    kind: int
    regex: Regex | None = None
    expr: Condition | None = None
    nocase: bool = False
    ornext: bool = False
    novary: bool = False
    negate: bool = False
    operand: str = ""  # the pattern after `!` and the operator (-gt, <=, = ...)


@dataclass
class RewriteRule:
    """One RewriteRule with the conditions written before it (rewriterule_entry)."""

    pattern: str
    regex: Regex
    output: str
    conds: tuple[RewriteCond, ...] = ()
    negate: bool = False
    redirect: bool = False
    status: int = 302        # forced_responsecode
    status_only: bool = False  # RULEFLAG_STATUS: F, G, R=4xx/5xx
    nosub: bool = False      # `-` substitution, or a status rule
    last: bool = False
    end: bool = False
    chain: bool = False
    nosubreq: bool = False
    passthrough: bool = False
    proxy: bool = False
    qsappend: bool = False
    qsdiscard: bool = False
    qslast: bool = False
    noescape: bool = False
    escape_backrefs: bool = False
    escape_noplus: bool = False
    escape_ctls: bool = False
    escapes: str | None = None     # B=chars
    noescapes: str | None = None   # BNE=chars
    dpi: bool = False
    next_round: bool = False
    max_rounds: int = MAX_ROUNDS
    skip: int = 0
    mimetype: str | None = None
    handler: str | None = None
    env: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    unsafe_allow_3f: bool = False
    unsafe_prefix_stat: bool = False


@dataclass
class RewriteServer:
    """rewrite_server_conf: engine state and options (with their `set` marks), the maps,
    the server-context rules, the conditions still waiting for their rule, and the
    server the record was made for (merge keeps the override's)."""

    state: bool = False
    state_set: bool = False
    options: int = 0
    options_set: bool = False
    maps: dict[str, RewriteMapSpec] = field(default_factory=dict)
    rules: list[RewriteRule] = field(default_factory=list)
    pending: list[RewriteCond] = field(default_factory=list)
    server: int = 0

    def merge(self, add: RewriteServer) -> RewriteServer:
        """config_server_merge."""
        out = RewriteServer(
            state=self.state if not add.state_set else add.state,
            state_set=add.state_set or self.state_set,
            options=self.options if not add.options_set else add.options,
            options_set=add.options_set or self.options_set, server=add.server)
        inherit_down = not out.options & IGNORE_INHERIT
        if out.options & INHERIT or (self.options & INHERIT_DOWN and inherit_down):
            out.maps = {**self.maps, **add.maps}
            out.rules = add.rules + self.rules
        elif out.options & INHERIT_BEFORE or (self.options & INHERIT_DOWN_BEFORE
                                              and inherit_down):
            out.maps = {**add.maps, **self.maps}
            out.rules = self.rules + add.rules
        else:
            out.maps, out.rules = add.maps, add.rules
        return out


@dataclass
class RewriteDir:
    """rewrite_perdir_conf: state and options, RewriteBase, the directory the rules are
    relative to (None for the server's own per-dir record) and the rules."""

    state: bool = False
    state_set: bool = False
    options: int = 0
    options_set: bool = False
    baseurl: str | None = None
    baseurl_set: bool = False
    directory: str | None = None
    rules: list[RewriteRule] = field(default_factory=list)
    pending: list[RewriteCond] = field(default_factory=list)

    def merge(self, add: RewriteDir) -> RewriteDir:
        """config_perdir_merge."""
        out = RewriteDir(
            state=self.state if not add.state_set else add.state,
            state_set=add.state_set or self.state_set,
            options=self.options if not add.options_set else add.options,
            options_set=add.options_set or self.options_set, directory=add.directory)
        if out.options & MERGEBASE:
            out.baseurl = self.baseurl if not add.baseurl_set else add.baseurl
            out.baseurl_set = add.baseurl_set or self.baseurl_set
        else:
            out.baseurl = add.baseurl
        inherit_down = not out.options & IGNORE_INHERIT
        if out.options & INHERIT or (self.options & INHERIT_DOWN and inherit_down):
            out.rules = add.rules + self.rules
        elif out.options & INHERIT_BEFORE or (self.options & INHERIT_DOWN_BEFORE
                                              and inherit_down):
            out.rules = self.rules + add.rules
        else:
            out.rules = add.rules
        return out


def dir_config(dc: DirConfig | None) -> RewriteDir | None:
    """This module's record of a merged DirConfig, None where no scope configured it."""
    if dc is None:
        return None
    rec = dc.modules.get(NAME)
    return rec if isinstance(rec, RewriteDir) else None


def server_config(vh: VirtualHost, main: VirtualHost) -> RewriteServer | None:
    """The server's record, None for a <VirtualHost> without any mod_rewrite directive:
    it holds the main server's record, and httpd's hook_uri2file declines there
    (conf->server != r->server), whatever the main server's options (measured on
    2.4.71: no SCRIPT_URL, no rule)."""
    rec = vh.module_config.get(NAME)
    if not isinstance(rec, RewriteServer):
        return None
    if vh is not main and rec.server != id(vh):
        return None
    return rec


def _server_rec(ctx: Ctx) -> RewriteServer:
    rec = scope_record(ctx.vhost.module_config, NAME, RewriteServer)
    rec.server = id(ctx.vhost)
    return rec


def _dir_rec(ctx: Ctx) -> RewriteDir:
    rec = scope_record(ctx.dirconf.modules, NAME, RewriteDir)
    where = _where(ctx)
    if where is not None and rec.directory is None:
        rec.directory = where if where.endswith("/") else where + "/"
    return rec


def _where(ctx: Ctx) -> str | None:
    """cmd->path: the section's argument, the .htaccess file's directory, None at
    server level."""
    if ctx.htaccess:
        return ctx.htaccess_dir or "/"
    return ctx.path if ctx.kinds else None


def rewrite_engine(e: Engine, ctx: Ctx, flag: bool, n: Node) -> None:
    """cmd_rewriteengine: at server level both the server and its per-dir record."""
    if _where(ctx) is None:
        s = _server_rec(ctx)
        s.state, s.state_set = flag, True
    d = _dir_rec(ctx)
    d.state, d.state_set = flag, True


def rewrite_options(e: Engine, ctx: Ctx, args: list[str], n: Node) -> None:
    options = 0
    for w in args:
        low = w.lower()
        if low in OPTION_WORDS:
            options |= OPTION_WORDS[low]
        elif low.startswith("maxredirects="):
            e.warnings.append(error_log_line(
                "rewrite", "warn", "AH00664: RewriteOptions: MaxRedirects option has been "
                "removed in favor of the global LimitInternalRecursion directive and will "
                "be ignored."))
        else:
            raise DirectiveError(f"RewriteOptions: unknown option '{w}'")
    if _where(ctx) is None:
        s = _server_rec(ctx)
        s.options |= options
        s.options_set = True
    d = _dir_rec(ctx)
    if _where(ctx) is None:
        # httpd's per-directory scopes never inherit down from a server-context
        # InheritDown/InheritDownBefore (the suite's 04_options shows it): only the
        # virtual hosts do, through the server record
        options &= ~(INHERIT_DOWN | INHERIT_DOWN_BEFORE)
    d.options |= options
    d.options_set = True


def rewrite_base(e: Engine, ctx: Ctx, args: list[str], n: Node) -> None:
    if _where(ctx) is None:
        raise DirectiveError("RewriteBase: only valid in per-directory config files")
    a1 = args[0]
    if not a1:
        raise DirectiveError("RewriteBase: empty URL not allowed")
    if not a1.startswith("/"):
        raise DirectiveError("RewriteBase: argument is not a valid URL")
    d = _dir_rec(ctx)
    d.baseurl, d.baseurl_set = a1, True


def rewrite_map(e: Engine, ctx: Ctx, args: list[str], n: Node) -> None:
    spec = parse_map(args[0], args[1], args[2] if len(args) > 2 else None, e.resolve_path)
    _server_rec(ctx).maps[args[0]] = spec


@dataclass(frozen=True)
class ArgLine:
    """parseargline's three words (None where absent) or its error."""

    a1: str | None
    a2: str | None
    a3: str | None
    error: str | None = None


def _word(s: str, i: int) -> tuple[str, int, bool]:
    """One argument from s[i:]: quoted by ' or ", or up to white space; a backslash
    before white space keeps it in the word.  Returns (word, index after the
    terminator, whether a terminator was found)."""
    quote = s[i] if i < len(s) and s[i] in "\"'" else ""
    if quote:
        i += 1
    start = i
    while i < len(s):
        c = s[i]
        if (c.isspace() and not quote) or (quote and c == quote):
            return s[start:i], i + 1, True
        if c == "\\" and i + 1 < len(s) and s[i + 1].isspace():
            i += 2
            continue
        i += 1
    return s[start:], i, False


def _skip_space(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t\n\r\f\v":
        i += 1
    return i


def parse_arg_line(s: str) -> ArgLine:
    """mod_rewrite's own splitter for RewriteRule/RewriteCond (parseargline)."""
    i = _skip_space(s, 0)
    a1, i, ended = _word(s, i)
    if not ended:
        return ArgLine(a1, None, None, "bad argument line 'TEXT'")
    i = _skip_space(s, i)
    a2, i, ended = _word(s, i)
    if not ended:
        return ArgLine(a1, a2, None)
    i = _skip_space(s, i)
    if i >= len(s):
        return ArgLine(a1, a2, None)
    a3, i, _ = _word(s, i)
    if not a3.startswith("[") or not a3.endswith("]"):
        return ArgLine(a1, a2, a3, "bad flag delimiters")
    return ArgLine(a1, a2, a3)


def flag_fields(text: str) -> list[tuple[str, str]]:
    """cmd_parseflagfield: "[a,b=c]" -> [(a, ""), (b, c)], spaces around each trimmed."""
    out = []
    body = text[1:-1] + ","
    i = 0
    while i < len(body):
        i = _skip_space(body, i)
        if i >= len(body):
            break
        j = body.find(",", i)
        if j < 0:
            break
        item = body[i:j].rstrip()
        key, _, val = item.partition("=")
        out.append((key, val))
        i = j + 1
    return out


def rewrite_cond(e: Engine, ctx: Ctx, text: str, n: Node) -> None:
    """cmd_rewritecond: the condition waits for the next RewriteRule of its scope."""
    line = parse_arg_line(text)
    if line.error is not None:
        raise DirectiveError(f"RewriteCond: {line.error}".replace("'TEXT'", f"'{text}'"))
    a1, a2 = line.a1 or "", line.a2 or ""
    nocase = ornext = novary = False
    for key, _val in flag_fields(line.a3) if line.a3 else []:
        k = key.lower()
        if k in ("nocase", "nc"):
            nocase = True
        elif k in ("ornext", "or"):
            ornext = True
        elif k in ("novary", "nv"):
            novary = True
        else:
            raise DirectiveError(f"RewriteCond: unknown flag '{key}'")
    negate = a2.startswith("!")
    pat = a2[1:] if negate else a2
    kind = REGEX
    if a1.lower() == "expr":
        kind = AP_EXPR
    elif len(pat) > 1:
        if pat[0] == "-":
            if len(pat) == 2:
                kind = {"f": FILE_EXISTS, "s": FILE_SIZE, "d": FILE_DIR, "x": FILE_XBIT,
                        "h": FILE_LINK, "L": FILE_LINK, "l": FILE_LINK, "U": LU_URL,
                        "F": LU_FILE}.get(pat[1], REGEX)
            elif len(pat) > 3:
                op = pat[1:3]
                ints = {"lt": INT_LT, "le": INT_LE, "gt": INT_GT, "ge": INT_GE, "eq": INT_EQ,
                        "ne": INT_EQ}
                if op in ints:
                    kind = ints[op]
                    pat = pat[3:]
                    if op == "ne":
                        negate = not negate
        elif pat[0] == ">":
            kind, pat = (STR_GE, pat[2:]) if pat[1:2] == "=" else (STR_GT, pat[1:])
        elif pat[0] == "<":
            kind, pat = (STR_LE, pat[2:]) if pat[1:2] == "=" else (STR_LT, pat[1:])
        elif pat[0] == "=":
            kind, pat = STR_EQ, pat[1:]
            if pat == '""':
                pat = ""
    if kind != REGEX and not STR_LT <= kind <= STR_GE and nocase:
        e.warnings.append(error_log_line(
            "rewrite", "warn", f"AH00665: RewriteCond: NoCase option for non-regex "
            f"pattern '{pat}' is not supported and will be ignored. ({n.filename}:"
            f"{n.line})"))
        nocase = False
    regex = expr = None
    if kind == REGEX:
        try:
            regex = compile_regex(pat, caseless=nocase)
        except CompileError:
            raise DirectiveError(
                f"RewriteCond: cannot compile regular expression '{pat}'") from None
    elif kind == AP_EXPR:
        try:
            expr = parse_condition(pat)
        except DirectiveError as err:
            raise DirectiveError(
                f"RewriteCond: cannot compile expression \"{pat}\" {err}") from None
    cond = RewriteCond(a1, a2, kind, regex, expr, nocase, ornext, novary, negate, pat)
    _pending(ctx).append(cond)


def _pending(ctx: Ctx) -> list[RewriteCond]:
    return _server_rec(ctx).pending if _where(ctx) is None else _dir_rec(ctx).pending


def _redirect_status(val: str) -> tuple[int, bool]:
    """R=code: (status, whether it is a non-redirect status rule)."""
    low = val.lower()
    if low == "permanent":
        return 301, False
    if low == "temp":
        return 302, False
    if low == "seeother":
        return 303, False
    if is_digits(val[:1]):
        digits = ""
        for c in val:
            if not is_digits(c):
                break
            digits += c
        status = int(digits)
        if status != 500 and status not in KNOWN_STATUSES:
            raise DirectiveError(f"RewriteRule: invalid HTTP response code '{val}' for "
                                 "flag 'R'")
        return status, not 300 <= status < 400
    return 302, False


def _rule_flag(rule: RewriteRule, key: str, val: str) -> None:
    """cmd_rewriterule_setflag for one flag (unknown ones are errors)."""
    k = key.lower()
    env = list(rule.env)
    cookies = list(rule.cookies)
    if k in ("b", "backrefescaping"):
        rule.escape_backrefs = True
        if val:
            rule.escapes = val
    elif k in ("bnp", "backrefernoplus"):
        rule.escape_noplus = True
    elif k == "bctls":
        rule.escape_ctls = rule.escape_backrefs = True
    elif k == "bne":
        if val:
            rule.noescapes = val
    elif k in ("c", "chain"):
        rule.chain = True
    elif k in ("co", "cookie"):
        cookies.append(val)
    elif k in ("d", "dpi", "discardpath"):
        rule.dpi = True
    elif k in ("e", "env"):
        env.append(val)
    elif k == "end":
        rule.end = True
    elif k in ("f", "forbidden"):
        rule.status_only = rule.nosub = True
        rule.status = 403
    elif k in ("g", "gone"):
        rule.status_only = rule.nosub = True
        rule.status = 410
    elif k in ("h", "handler"):
        rule.handler = val
    elif k in ("l", "last"):
        rule.last = True
    elif k in ("ne", "noescape"):
        rule.noescape = True
    elif k in ("n", "next"):
        rule.next_round = True
        if val:
            rule.max_rounds = _atoi(val)
    elif k in ("ns", "nosubreq"):
        rule.nosubreq = True
    elif k in ("p", "proxy"):
        rule.proxy = True
    elif k in ("pt", "passthrough"):
        rule.passthrough = True
    elif k in ("qsa", "qsappend"):
        rule.qsappend = True
    elif k in ("qsd", "qsdiscard"):
        rule.qsdiscard = True
    elif k in ("qsl", "qslast"):
        rule.qslast = True
    elif k in ("r", "redirect"):
        rule.redirect = True
        if val:
            rule.status, rule.status_only = _redirect_status(val)
            if rule.status_only:
                rule.nosub = True
    elif k in ("s", "skip"):
        rule.skip = _atoi(val)
    elif k in ("t", "type"):
        rule.mimetype = val
    elif k == "unsafeallow3f":
        rule.unsafe_allow_3f = True
    elif k == "unsafeprefixstat":
        rule.unsafe_prefix_stat = True
    else:
        raise DirectiveError(f"RewriteRule: unknown flag '{key}'")
    rule.env, rule.cookies = tuple(env), tuple(cookies)


def _atoi(s: str) -> int:
    """C's atoi: leading white space, a sign, digits; anything else ends it."""
    s = s.lstrip()
    sign = -1 if s[:1] == "-" else 1
    if s[:1] in "+-":
        s = s[1:]
    digits = ""
    for c in s:
        if not is_digits(c):
            break
        digits += c
    return sign * int(digits) if digits else 0


def rewrite_rule(e: Engine, ctx: Ctx, text: str, n: Node) -> None:
    """cmd_rewriterule: the rule takes the conditions written before it."""
    line = parse_arg_line(text)
    if line.error is not None:
        raise DirectiveError(f"RewriteRule: {line.error}".replace("'TEXT'", f"'{text}'"))
    a1, a2 = line.a1 or "", line.a2 or ""
    rule = RewriteRule(a1, compile_regex("x"), a2)
    nocase = False
    for key, val in flag_fields(line.a3) if line.a3 else []:
        if key.lower() in ("nc", "nocase"):
            nocase = True
            continue
        _rule_flag(rule, key, val)
    negate = a1.startswith("!")
    pat = a1[1:] if negate else a1
    try:
        regex = compile_regex(pat, caseless=nocase)
    except CompileError:
        raise DirectiveError(
            f"RewriteRule: cannot compile regular expression '{pat}'") from None
    pend = _pending(ctx)
    rule = replace(rule, pattern=pat, regex=regex, negate=negate, conds=tuple(pend),
                   nosub=rule.nosub or a2 == "-")
    pend.clear()
    if _where(ctx) is None:
        _server_rec(ctx).rules.append(rule)
    else:
        _dir_rec(ctx).rules.append(rule)


def directives() -> list[Directive]:
    fi = frozenset({OR_FILEINFO})
    return [
        Directive("RewriteEngine", NAME, fi, "FLAG", rewrite_engine,
                  "On or Off to enable or disable (default) the whole rewriting engine"),
        Directive("RewriteOptions", NAME, fi, "ITERATE", rewrite_options,
                  "List of option strings to set"),
        Directive("RewriteBase", NAME, fi, "TAKE1", rewrite_base,
                  "the base URL of the per-directory context"),
        Directive("RewriteCond", NAME, fi, "RAW_ARGS", rewrite_cond,
                  "an input string and a to be applied regexp-pattern"),
        Directive("RewriteRule", NAME, fi, "RAW_ARGS", rewrite_rule,
                  "an URL-applied regexp-pattern and a substitution URL"),
        Directive("RewriteMap", NAME, frozenset({RSRC}), "TAKE23", rewrite_map,
                  "a mapname and a filename and options"),
    ]


def engine_dir(dc: DirConfig) -> RewriteDir:
    """The merged per-dir record (an empty one where nothing configured rewriting)."""
    return module_record(dc.modules, NAME, RewriteDir)

