"""The expansion of mod_rewrite strings (do_expand): `\\x` escapes, $N (the rule's
captures), %N (the last matched condition's), %{VARIABLE} (lookup_variable) and
${map:key|default} (lookup_map), in one pass, so an expanded value is never expanded
again.  `RewriteState` is the rewrite_ctx of one run over a rule list."""
from __future__ import annotations

import grp
import os
import pwd
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastcore.config.regex import Match
from fastcore.core.tokens import is_digits
from fastcore.modules.mod_alias import alias_for, alias_server
from fastcore.modules.mod_rewrite.config import RewriteRule, RewriteServer, _atoi
from fastcore.modules.mod_rewrite.maps import lookup
from fastcore.modules.mod_rewrite.subreq import in_subreq, lookup_file, lookup_uri, subreq_ok

if TYPE_CHECKING:
    from fastcore.core.cacheable import Probe
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

TARGET_NOTE = "fastcore-rewrite-target"
REDIRECTS_NOTE = "fastcore-rewrite-redirects"
VARY_NOTE = "fastcore-rewrite-vary"
COOKIE_NOTE = "fastcore-rewrite-cookies"
COOKIE_NAMES_NOTE = "fastcore-rewrite-cookie-names"
API_VERSION = "20120211:140"  # MODULE_MAGIC_NUMBER_MAJOR:MINOR of httpd 2.4.71


@dataclass
class Captures:
    """backrefinfo: the string a regex matched and its groups (None: no match)."""

    source: str | None = None
    groups: tuple[str | None, ...] = ()

    @classmethod
    def of(cls, m: Match, source: str) -> Captures:
        return cls(source, (m.group(0), *m.groups()))

    def get(self, n: int) -> str:
        if self.source is None or n >= len(self.groups):
            return ""
        return self.groups[n] or ""


@dataclass
class RewriteState:
    """rewrite_ctx plus the request_rec fields the engine reads and writes: r->filename,
    r->args, r->path_info, the status a rule forces, the Vary names."""

    core: Handler
    txn: Transaction
    server: RewriteServer | None
    perdir: str | None
    filename: str
    args: str | None
    path_info: str = ""
    base: str | None = None  # RewriteBase (the per-dir LA-U look-ahead's prefix)
    uri: str = ""
    status: int = 200
    rr: Captures = field(default_factory=Captures)
    rc: Captures = field(default_factory=Captures)
    vary_this: list[str] = field(default_factory=list)
    vary: list[str] = field(default_factory=list)
    unsafe_prefix: bool = False  # a server-context substitution led by $N / %{...}
    uri_reduced: bool = False    # reduce_uri stripped http://ourhost
    log_error: Callable[[str], None] = lambda _msg: None  # rewrite:error lines
    # rewrite:error lines with an apr_status_t ("(N)text", then the message)
    log_status: Callable[[str, str], None] = lambda _status, _msg: None
    trace_level: int = 0  # the highest rewrite:traceN the scope's LogLevel writes
    trace_out: Callable[[int, str], None] = lambda _lvl, _msg: None
    # the file-system tests made, when the outcome may be cached (cache.py; None: not)
    probes: list[Probe] | None = None

    def trace(self, level: int, text: str, perdir: bool = True) -> None:
        """do_rewritelog: "rhost - user [server/sid#..][rid#../initial] [perdir D] text"
        at rewrite:traceN (the sid/rid are this process's object ids, as httpd's are
        its pointers)."""
        if level > self.trace_level:
            return
        txn = self.txn
        redir = int(txn.notes.get(REDIRECTS_NOTE, "0"))
        user = txn.user if txn.user is None or txn.user else '""'
        where = f"[perdir {self.perdir}] " if perdir and self.perdir is not None else ""
        name = self.core.srv.server_name_port(txn)[0]
        self.trace_out(level, f"{txn.client_ip} - {user or '-'} [{name}/sid#{id(txn.vhost):x}]"
                       f"[rid#{id(txn):x}/initial{f'/redir#{redir}' if redir else ''}] "
                       f"{where}{text}")

    def txn_raw_target(self) -> str:
        """r->unparsed_uri: the request target as the client sent it."""
        req = self.txn.request
        if req is None:
            return self.txn.notes.get(TARGET_NOTE, "")
        return req.path_raw + ("?" + req.query if req.query else "")

    def add_vary(self, names: list[str]) -> None:
        """apr_table_merge(headers_out, "Vary", ...): kept in a note until the answer."""
        old = self.txn.notes.get(VARY_NOTE)
        self.txn.notes[VARY_NOTE] = ", ".join(([old] if old else []) + names)

    def add_cookie(self, spec: str) -> None:
        """add_cookie: [CO=NAME:VALUE:DOMAIN[:lifetime[:path[:secure[:httponly
        [:samesite]]]]]] (`;` as separator when the spec starts with one), once per name."""
        sep = ":"
        if spec.startswith(";"):
            sep, spec = ";", spec[1:]
        parts = [p for p in spec.split(sep) if p]
        if len(parts) < 3:
            return
        var, val, domain = parts[:3]
        seen = self.txn.notes.get(COOKIE_NAMES_NOTE, "")
        if var in seen.split("\n"):
            return
        self.txn.notes[COOKIE_NAMES_NOTE] = seen + "\n" + var
        rest = parts[3:]
        expires = rest[0] if rest else None
        path = rest[1] if len(rest) > 1 else None
        secure = rest[2] if len(rest) > 2 else None
        httponly = rest[3] if len(rest) > 3 else None
        samesite = rest[4] if len(rest) > 4 else None
        cookie = f"{var}={val}; path={path or '/'}; domain={domain}"
        if expires is not None:
            minutes = _atoi(expires)
            if minutes:
                t = time.gmtime(self.txn.start_time + 60 * minutes)
                cookie += "; expires=" + time.strftime("%a, %d-%b-%Y %H:%M:%S GMT", t)
        if secure is not None and secure.lower() in ("true", "1", "secure"):
            cookie += "; secure"
        if httponly is not None and httponly.lower() in ("true", "1", "httponly"):
            cookie += "; HttpOnly"
        if samesite is not None and samesite != "0" and samesite.lower() != "false":
            cookie += "; SameSite=" + samesite
        old = self.txn.notes.get(COOKIE_NOTE)
        self.txn.notes[COOKIE_NOTE] = (old + "\n" if old else "") + cookie


def header(st: RewriteState, name: str) -> str | None:
    """lookup_header: a request field; its name goes to Vary (Host excepted)."""
    val = st.txn.headers_in.get(name.lower())
    if val is not None and name.lower() != "host":
        st.vary_this.append(name)
    return val


def _now() -> time.struct_time:
    return time.localtime()


def _owner(st: RewriteState, group: bool) -> str:
    walk = st.txn.walk
    if walk is None or walk.st is None:
        return "<unknown>"
    try:
        if group:
            return grp.getgrgid(walk.st.st_gid).gr_name
        return pwd.getpwuid(walk.st.st_uid).pw_name
    except KeyError:
        return "<unknown>"


def variable(var: str, st: RewriteState) -> str:
    """lookup_variable: %{NAME}, %{ENV:x}, %{SSL:x} (mod_ssl's; empty without TLS),
    %{HTTP:x}."""
    txn = st.txn
    if len(var) < 4:
        return ""
    if var[3:4] == ":":
        head, rest = var[:3].upper(), var[4:]
        if rest and head == "ENV":
            val = txn.notes.get(rest.lower())
            if val is None:
                val = txn.env.get(rest.lower())
            if val is None:
                val = os.environ.get(rest)
            return val or ""
        if rest and head == "SSL":  # rewrite_ssl_lookup: mod_ssl's variable
            return txn.conn.ssl_var(rest.upper()) or ""
        return ""
    if var[4:5] == ":":
        head = var[:4].upper()
        if var[5:] and head == "HTTP":
            return header(st, var[5:]) or ""
        if var[5:] and head in ("LA-U", "LA-F") and st.uri and subreq_ok(txn):
            return look_ahead(st, head, var[5:])
        return ""
    v = var.upper()
    srv = st.core.srv
    if v.startswith("TIME"):
        tm = _now()
        return {"TIME": time.strftime("%Y%m%d%H%M%S", tm), "TIME_YEAR": f"{tm.tm_year:04d}",
                "TIME_MON": f"{tm.tm_mon:02d}", "TIME_DAY": f"{tm.tm_mday:02d}",
                "TIME_HOUR": f"{tm.tm_hour:02d}", "TIME_MIN": f"{tm.tm_min:02d}",
                "TIME_SEC": f"{tm.tm_sec:02d}",
                "TIME_WDAY": str((tm.tm_wday + 1) % 7)}.get(v, "")
    headers = {"HTTP_HOST": "Host", "HTTP_ACCEPT": "Accept", "HTTP_COOKIE": "Cookie",
               "HTTP_REFERER": "Referer", "HTTP_FORWARDED": "Forwarded",
               "HTTP_USER_AGENT": "User-Agent", "HTTP_PROXY_CONNECTION": "Proxy-Connection"}
    if v in headers:
        return header(st, headers[v]) or ""
    vh = txn.vhost
    if v == "IPV6":
        return "on" if ":" in txn.client_ip else "off"
    if v == "HTTPS":
        return "on" if txn.conn.https() else "off"
    if v == "IS_SUBREQ":
        return "true" if in_subreq(txn) else "false"
    if v == "PATH_INFO":
        return st.path_info
    if v == "SERVER_NAME":
        return srv.server_name_port(txn)[0]
    if v == "SERVER_PORT":
        return str(srv.server_name_port(txn)[1])
    if v == "REMOTE_ADDR" or v == "CONN_REMOTE_ADDR":
        return txn.client_ip
    if v == "SERVER_ADDR":
        return txn.local_ip
    if v == "THE_REQUEST":
        return txn.request_line or ""
    if v == "API_VERSION":
        return API_VERSION
    if v == "REMOTE_HOST":
        return txn.remote_host or txn.client_ip
    if v == "REMOTE_PORT":
        return str(txn.remote_port)
    if v == "REMOTE_USER":
        return txn.user or ""
    if v == "SCRIPT_USER":
        return _owner(st, False)
    if v == "SCRIPT_GROUP":
        return _owner(st, True)
    if v == "REQUEST_URI":
        return txn.r_uri
    if v == "REMOTE_IDENT" or v == "AUTH_TYPE":
        return ""
    if v == "QUERY_STRING":
        return st.args or ""
    if v == "SERVER_ADMIN":
        return vh.server_admin
    if v == "DOCUMENT_ROOT":
        return vh.document_root
    if v == "CONTEXT_DOCUMENT_ROOT":
        return context_info(txn)[0]
    if v == "CONTEXT_PREFIX":
        return context_info(txn)[1]
    if v == "REQUEST_METHOD":
        return txn.method
    if v == "REQUEST_SCHEME":
        return "https" if txn.conn.https() else "http"
    if v == "SCRIPT_FILENAME" or v == "REQUEST_FILENAME":
        return st.filename
    if v == "SERVER_PROTOCOL":
        return txn.protocol
    if v == "SERVER_SOFTWARE":
        return srv.banner
    return ""


def look_ahead(st: RewriteState, kind: str, name: str) -> str:
    """%{LA-U:VAR} / %{LA-F:VAR}: VAR as a sub-request for the URI (or file) being
    rewritten would see it."""
    path = st.uri
    if kind == "LA-U" or (st.perdir is not None and path.startswith("/")):
        if st.perdir is not None and not path.startswith("/"):
            path = (st.base or st.perdir) + path  # la_u
        res = lookup_uri(st.core, st.txn, path)
    else:
        if st.perdir is not None:
            path = st.perdir + path
        res = lookup_file(st.core, st.txn, path)
    walk = res.txn.walk
    sub = RewriteState(st.core, res.txn, st.server, st.perdir, res.txn.filename or "",
                       res.txn.r_query or None, walk.path_info if walk else "")
    value = variable(name, sub)
    st.vary_this.extend(sub.vary_this)
    st.trace(5, f"lookahead: path={path} var={name} -> val={value}")
    return value


def _closing(s: str, i: int) -> int:
    """find_closing_curly from s[i:] (just after the '{'): its index or -1."""
    depth = 1
    while i < len(s):
        c = s[i]
        if c == "}":
            depth -= 1
            if depth == 0:
                return i
        elif c == "{":
            depth += 1
        i += 1
    return -1


def _char_in_curlies(s: str, i: int, ch: str) -> int:
    depth = 1
    while i < len(s):
        c = s[i]
        if c == ch and depth == 1:
            return i
        if c == "}":
            depth -= 1
            if depth == 0:
                return -1
        elif c == "{":
            depth += 1
        i += 1
    return -1


def escape_backref(s: str, rule: RewriteRule) -> str:
    """The B flag family: escape a backreference as php's urlencode (B), only the
    chars given (B=chars), never those of BNE=, only controls and space (BCTLS); a
    space is '+' unless BNP."""
    out = []
    for c in s:
        o = ord(c)
        if rule.escape_ctls:
            if c == " " and not rule.escape_noplus:
                out.append("+")
            elif o < 0x20 or o == 0x7F or c == " ":
                out.append(f"%{o:02x}")
            else:
                out.append(c)
            continue
        if rule.noescapes and c in rule.noescapes:
            out.append(c)
        elif rule.escapes is None:
            if c.isascii() and (c.isalnum() or c == "_"):
                out.append(c)
            elif c == " " and not rule.escape_noplus:
                out.append("+")
            else:
                out.extend(f"%{b:02x}" for b in c.encode("utf-8", "surrogateescape"))
        elif c in rule.escapes:
            out.append("+" if c == " " and not rule.escape_noplus else f"%{o:02x}")
        else:
            out.append(c)
    return "".join(out)


def expand(text: str, st: RewriteState, rule: RewriteRule | None) -> str:
    """do_expand."""
    if "\\" not in text and "$" not in text and "%" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                out.append(c)
                break
            out.append(text[i + 1])
            i += 2
            continue
        if c in "$%" and i + 1 < n and text[i + 1] == "{":
            end = _closing(text, i + 2)
            if end < 0:
                out.append(text[i:i + 2])
                i += 2
                continue
            if c == "%":
                out.append(variable(text[i + 2:end], st))
                i = end + 1
                continue
            colon = _char_in_curlies(text, i + 2, ":")
            if colon < 0:
                out.append(text[i:i + 2])
                i += 2
                continue
            body = text[i + 2:end]
            name, key = body[:colon - i - 2], body[colon - i - 1:]
            bar = _char_in_curlies(key, 0, "|")
            dflt = None
            if bar >= 0:
                key, dflt = key[:bar], key[bar + 1:]
            value = map_value(st, name, expand(key, st, rule))
            if value is None and dflt:
                value = expand(dflt, st, rule)
            if value:
                out.append(value)
            i = end + 1
            continue
        if c in "$%" and i + 1 < n and is_digits(text[i + 1]):
            bri = st.rr if c == "$" else st.rc
            val = bri.get(int(text[i + 1]))
            if val and rule is not None and rule.escape_backrefs:
                esc = escape_backref(val, rule)
                st.trace(5, f"escaping backreference '{val}' to '{esc}'")
                val = esc
            out.append(val)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def map_value(st: RewriteState, name: str, key: str) -> str | None:
    """lookup_map over the request's server's maps."""
    spec = st.server.maps.get(name) if st.server is not None else None
    if spec is None:
        return None
    value = lookup(spec, key, st.log_status)
    if value is None:
        st.trace(5, f"map lookup FAILED: map={name} key={key}", False)
    else:
        st.trace(5, f"map lookup OK: map={name} key={key} -> val={value}", False)
    return value


def context_info(txn: Transaction) -> tuple[str, str]:
    """ap_context_document_root / ap_context_prefix: the directory and URL-path of the
    Alias that mapped the request (mod_alias sets them), else the DocumentRoot and ""."""
    hit = alias_for(alias_server(txn.vhost).aliases, txn.r_uri)
    if hit is not None and hit[1].regex is None and not hit[1].whole and hit[0] == txn.mapped:
        return hit[1].target, hit[1].url_prefix
    return txn.vhost.document_root, ""
