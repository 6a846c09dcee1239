"""The rewriting engine: one RewriteCond (apply_rewrite_cond), one RewriteRule
(apply_rewrite_rule) and a rule list with its flow flags (apply_rewrite_list)."""
from __future__ import annotations

import os
import stat as stmod

from fastcore.core.cacheable import PROBE_LSTAT, PROBE_STAT, probe_of
from fastcore.core.expr import ExprContext, ExprError
from fastcore.core.tokens import is_digits
from fastcore.modules.mod_rewrite import config as C
from fastcore.modules.mod_rewrite.expand import Captures, RewriteState, expand
from fastcore.modules.mod_rewrite.subreq import in_subreq, lookup_file, lookup_uri, subreq_ok

# apply_rewrite_list's answer (ACTION_*): 0 nothing changed
NORMAL, NOESCAPE, STATUS = 1, 2, 4

# schemes is_absolute_uri knows: name -> (length with "://", takes a query string)
SCHEMES = (("ajp://", True), ("balancer://", True), ("ftp://", False), ("fcgi://", True),
           ("gopher://", False), ("http://", True), ("https://", True), ("h2://", True),
           ("h2c://", True), ("ldap://", False), ("mailto:", True), ("news:", False),
           ("nntp://", False), ("scgi://", True), ("ws://", True), ("wss://", True))


def absolute_uri(uri: str) -> tuple[int, bool]:
    """is_absolute_uri: (length of the scheme part, whether it takes a query), (0, False)
    for a local path."""
    if uri.startswith("/") or len(uri) <= 5:
        return 0, False
    low = uri[:12].lower()
    for scheme, qs in SCHEMES:
        if low.startswith(scheme):
            return len(scheme), qs
    return 0, False


def _cmp(a: str, b: str) -> int:
    """compare_lexicography: the longer string is greater, else bytewise."""
    if len(a) != len(b):
        return 1 if len(a) > len(b) else -1
    return 0 if a == b else (1 if a > b else -1)


def _cmp_nocase(a: str, b: str) -> int:
    la, lb = a.lower(), b.lower()
    return 0 if la == lb else (1 if la > lb else -1)


def _atoi(s: str) -> int:
    return C._atoi(s)


def _stat(path: str, link: bool = False) -> os.stat_result | None:
    try:
        return os.lstat(path) if link else os.stat(path)
    except (OSError, ValueError):
        return None


def apply_cond(cond: C.RewriteCond, st: RewriteState) -> bool:
    """apply_rewrite_cond, with its trace4 line."""
    rc = _cond(cond, st)
    if st.trace_level >= 4:
        text = "" if cond.kind == C.AP_EXPR else expand(cond.input, st, None)
        st.trace(4, f"RewriteCond: input='{text}' pattern='{cond.pattern}'"
                 f"{' [NC]' if cond.nocase else ''} => "
                 f"{'matched' if rc else 'not-matched'}")
    return rc


def _cond(cond: C.RewriteCond, st: RewriteState) -> bool:
    kind = cond.kind
    rc = False
    if kind == C.AP_EXPR:
        assert cond.expr is not None
        ectx = ExprContext(st.txn)
        try:
            rc = cond.expr.evaluate(ectx)
        except ExprError as exc:
            st.trace(1, f"RewriteCond: expr='{cond.pattern}' evaluation failed: {exc}")
            rc = False
        if not cond.novary:
            st.vary_this.extend(ectx.vary)
        if rc and not cond.negate and ectx.source is not None:
            st.rc = Captures(ectx.source, tuple(ectx.groups))
        return rc != cond.negate
    text = expand(cond.input, st, None)
    if kind == C.REGEX:
        assert cond.regex is not None
        m = cond.regex.search(text)
        rc = m is not None
        if m is not None and not cond.negate:
            st.rc = Captures.of(m, text)
    elif kind in (C.FILE_EXISTS, C.FILE_SIZE, C.FILE_DIR, C.FILE_XBIT):
        s = _stat(text)
        if st.probes is not None:  # a cached outcome repeats the test (cache.py)
            st.probes.append(probe_of(text, PROBE_STAT, s))
        if s is not None:
            if kind == C.FILE_EXISTS:
                rc = stmod.S_ISREG(s.st_mode)
            elif kind == C.FILE_SIZE:
                rc = stmod.S_ISREG(s.st_mode) and s.st_size > 0
            elif kind == C.FILE_DIR:
                rc = stmod.S_ISDIR(s.st_mode)
            else:
                rc = bool(s.st_mode & 0o111)
    elif kind == C.LU_URL:
        if text and subreq_ok(st.txn):
            res = lookup_uri(st.core, st.txn, text)
            rc = res.status < 400
            st.trace(5, f"RewriteCond URI (-U check: path={text} -> status={res.status}",
                     False)
    elif kind == C.LU_FILE:
        if text and subreq_ok(st.txn):
            res = lookup_file(st.core, st.txn, text)
            rc = res.status < 300 and _stat(res.txn.filename or "") is not None
            st.trace(5, f"RewriteCond file (-F check: path={text} -> file="
                     f"{res.txn.filename} status={res.status}", False)
    elif kind == C.FILE_LINK:
        s = _stat(text, link=True)
        if st.probes is not None:
            st.probes.append(probe_of(text, PROBE_LSTAT, s))
        rc = s is not None and stmod.S_ISLNK(s.st_mode)
    elif C.STR_LT <= kind <= C.STR_GE:
        value = cond.operand
        if kind == C.STR_EQ:
            rc = (text.lower() == value.lower()) if cond.nocase else text == value
        else:
            d = _cmp_nocase(text, value) if cond.nocase else _cmp(text, value)
            rc = {C.STR_LT: d <= -1, C.STR_LE: d <= 0, C.STR_GT: d >= 1,
                  C.STR_GE: d >= 0}[kind]
    else:
        a, b = _atoi(text), _atoi(cond.operand)
        rc = {C.INT_LT: a < b, C.INT_LE: a <= b, C.INT_EQ: a == b, C.INT_GT: a > b,
              C.INT_GE: a >= b}[kind]
    return rc != cond.negate


def split_query(st: RewriteState, rule: C.RewriteRule) -> None:
    """splitout_queryargs."""
    length, takes_qs = absolute_uri(st.filename)
    if length and not takes_qs:
        st.args = None
        return
    if rule.qsdiscard:
        st.args = None
    q = st.filename.rfind("?") if rule.qslast else st.filename.find("?")
    if q < 0:
        return
    rest = st.filename[q + 1:]
    st.filename = st.filename[:q]
    if rule.qsappend:
        if rest:
            st.args = rest + "&" + (st.args or "") if st.args is not None else rest + "&"
    else:
        st.args = rest
    if st.args is not None:
        if not st.args:
            st.args = None
        elif st.args.endswith("&"):
            st.args = st.args[:-1]


def fully_qualify(st: RewriteState) -> None:
    """fully_qualify_uri: http://name[:port] before a local path."""
    if absolute_uri(st.filename)[0]:
        return
    name, port = st.core.srv.server_name_port(st.txn)
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    sep = "" if st.filename.startswith("/") else "/"
    scheme, dport = ("https", 443) if st.txn.conn.https() else ("http", 80)
    st.filename = f"{scheme}://{name}{'' if port == dport else f':{port}'}{sep}{st.filename}"


def reduce_uri(st: RewriteState) -> bool:
    """reduce_uri: http://ourhost[:port]/x becomes /x; True when reduced."""
    f = st.filename
    if not (len(f) > 7 and f[:7].lower() == "http://"):
        return False
    rest = f[7:]
    cut = len(rest)
    for i, ch in enumerate(rest):
        if ch in "/:":
            cut = i
            break
    host = rest[:cut]
    port = 80
    url = "/"
    if cut < len(rest) and rest[cut] == ":":
        j = rest.find("/", cut)
        digits = rest[cut + 1:j if j >= 0 else len(rest)]
        port = _atoi(digits) & 0xFFFF
        url = rest[j:] if j >= 0 else "/"
    elif cut < len(rest):
        url = rest[cut:]
    if not _matches_vhost(st, host, port):
        return False
    st.filename = url
    return True


def _matches_vhost(st: RewriteState, host: str, port: int) -> bool:
    """ap_matches_request_vhost: the request's server by ServerName or ServerAlias and
    its port."""
    vh = st.txn.vhost
    host = host.lower()
    if any(h.lower() == host and p in (0, port) for h, p in vh.addrs):
        return True
    if port != vh.server_port:  # httpd's s->port: 0 when ServerName names none
        return False
    return host in (vh.server_name.split(":")[0].lower(),
                    *(a.lower() for a in vh.server_aliases))


def apply_rule(rule: C.RewriteRule, st: RewriteState) -> int:
    """apply_rewrite_rule: 0 no match, 1 rewritten (or redirect/passthrough), 2 matched
    without substitution, 3 refused (a status in st.status: the %3f check)."""
    uri = st.filename
    if st.perdir is not None:
        if st.path_info:
            st.trace(3, f"add path info postfix: {uri} -> {uri}{st.path_info}")
            uri += st.path_info
        if len(uri) >= len(st.perdir) and uri.startswith(st.perdir):
            st.trace(3, f"strip per-dir prefix: {uri} -> {uri[len(st.perdir):]}")
            uri = uri[len(st.perdir):]
    st.uri = uri
    st.trace(3, f"applying pattern '{rule.pattern}' to uri '{uri}'")
    m = rule.regex.search(uri)
    if (m is not None) == rule.negate:
        return 0
    st.vary_this = []
    st.rc = Captures()
    st.rr = Captures() if rule.negate or m is None else Captures.of(m, uri)
    conds = rule.conds
    i = 0
    while i < len(conds):
        c = conds[i]
        ok = apply_cond(c, st)
        if c.novary:
            st.vary_this = []
        if c.ornext:
            if not ok:
                st.vary_this = []
                i += 1
                continue
            while i < len(conds) and conds[i].ornext:
                i += 1
        elif not ok:
            return 0
        if st.vary_this:
            st.vary.extend(st.vary_this)
            st.vary_this = []
        i += 1
    newuri = None if rule.nosub else expand(rule.output, st, rule)
    if newuri is not None:
        st.trace(2, f"rewrite '{uri}' -> '{newuri}'")
    apply_env(rule, st)
    apply_cookies(rule, st)
    if rule.nosub:
        force_type_handler(rule, st)
        if rule.status_only:
            st.trace(2, f"forcing responsecode {rule.status} for {st.filename}")
            st.status = rule.status
        return 2
    assert newuri is not None
    if (not rule.unsafe_allow_3f and "?" in newuri and "?" not in rule.output
            and "%3f" in st.txn_raw_target().lower()):
        # the only '?' came from an expansion of the decoded URI's %3f
        st.log_error("AH10508: Unsafe URL with %3f URL rewritten without UnsafeAllow3F")
        st.status = 403
        return 3
    if st.perdir is None and not rule.unsafe_prefix_stat and _leading_backref(rule.output):
        st.unsafe_prefix = True
    st.filename = newuri
    if st.perdir is not None and rule.dpi:
        st.path_info = ""
    split_query(st, rule)
    if (st.perdir is not None and not st.filename.startswith("/")
            and not absolute_uri(st.filename)[0]):
        st.trace(3, f"add per-dir prefix: {st.filename} -> {st.perdir}{st.filename}")
        st.filename = st.perdir + st.filename
    if rule.proxy:
        fully_qualify(st)
        st.filename = "proxy:" + st.filename
        return 1
    if rule.redirect:
        fully_qualify(st)
        st.trace(2, f"explicitly forcing redirect with {st.filename}")
        st.status = rule.status
        return 1
    if reduce_uri(st):
        st.uri_reduced = True
    if absolute_uri(st.filename)[0]:
        st.status = rule.status
        return 1
    force_type_handler(rule, st)
    return 1


def _leading_backref(output: str) -> bool:
    """A substitution whose first path segment starts with a variable or a
    backreference ($N, %N, %{VAR}, ${map:key})."""
    s = output[1:] if output.startswith("/") else output
    return len(s) > 1 and s[0] in "$%" and (is_digits(s[1]) or s[1] == "{")


def apply_env(rule: C.RewriteRule, st: RewriteState) -> None:
    """do_expand_env: [E=VAR:VAL] sets, [E=!VAR] unsets (names without case)."""
    for item in rule.env:
        name = expand(item, st, None)
        if name.startswith("!"):
            gone = name[1:].lower()  # a new dict: txn.env may be a scope's own table
            st.txn.env = {k: v for k, v in st.txn.env.items() if k != gone}
            continue
        key, _, val = name.partition(":")
        st.txn.env = {**st.txn.env, key.lower(): val}


def apply_cookies(rule: C.RewriteRule, st: RewriteState) -> None:
    for item in rule.cookies:
        st.add_cookie(expand(item, st, None))


def force_type_handler(rule: C.RewriteRule, st: RewriteState) -> None:
    """[T=type] and [H=handler], kept in the notes for the mimetype hook."""
    if rule.mimetype:
        t = expand(rule.mimetype, st, rule)
        if t:
            st.txn.notes["rewrite-forced-mimetype"] = t.lower()
    if rule.handler:
        h = expand(rule.handler, st, rule)
        if h:
            st.txn.notes["rewrite-forced-handler"] = h.lower()


def apply_list(rules: list[C.RewriteRule], st: RewriteState) -> int:
    """apply_rewrite_list: the flow flags C, S, N, L, END, PT and the status rules."""
    changed = 0
    rounds = 1
    limit = 2 * st.txn.vhost.limit_request_line
    i = 0
    sub = in_subreq(st.txn)
    while i < len(rules):
        rule = rules[i]
        if sub and (rule.nosubreq or rule.redirect):
            i += 1
            continue
        st.vary = []
        rc = apply_rule(rule, st)
        if rc == 3:
            return STATUS
        if rc:
            if len(st.filename) > limit:
                st.log_error(f"RewriteRule '{rule.pattern}' and URI '{st.txn.r_uri}' "
                             f"exceeded maximum length ({limit})")
                st.status = 500
                return STATUS
            if st.vary:
                st.add_vary(st.vary)
            if rule.status_only:
                return STATUS
            if rc != 2:
                changed = NOESCAPE if rule.noescape else NORMAL
                st.trace(2, f"setting lastsub to rule with output {rule.output}")
            if rule.passthrough:
                st.filename = "passthrough:" + st.filename
                return NORMAL
            if rule.end:
                st.txn.notes[END_NOTE] = "1"
                return changed
            if rule.proxy or rule.last:
                return changed
            if rule.next_round:
                rounds += 1
                if rounds >= rule.max_rounds:
                    st.log_error(f"AH02596: RewriteRule '{rule.pattern}' and URI "
                                 f"'{st.txn.r_uri}' exceeded maximum number of rounds "
                                 f"({rule.max_rounds}) via the [N] flag")
                    st.status = 500
                    return STATUS
                i = 0
                continue
            if rule.skip > 0:
                i += rule.skip
        else:
            while i < len(rules) and rules[i].chain:
                i += 1
        i += 1
    return changed


END_NOTE = "fastcore-rewrite-end"



def unsafe_args(st: RewriteState) -> bool:
    """The rewritten query string holds a space or a control character: httpd checks
    it once the rule list is done and the outcome stays in the server (a redirect's
    Location is escaped instead), and refuses it (AH10410)."""
    if st.args is None or not any(c == " " or ord(c) < 0x20 or ord(c) == 0x7F
                                  for c in st.args):
        return False
    st.log_error("AH10410: Rewritten query string contains control characters or spaces")
    return True
