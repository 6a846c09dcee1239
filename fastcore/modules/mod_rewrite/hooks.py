"""mod_rewrite's hooks: translate_name (server-context rules, hook_uri2file), fixups
FIRST (per-directory rules, hook_fixup, with its internal redirect), fixups LAST ([T=]
and [H=], hook_mimetype), an output filter for the Vary names and cookies the rules
produced, and the cache contribution."""
from __future__ import annotations

import dataclasses
import os
import pwd
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastcore.config.model import OPT_SYM_LINKS, OPT_SYM_OWNER, DirConfig
from fastcore.core import errors as E
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.mapping import decode_path
from fastcore.core.paths import escape_uri
from fastcore.core.phases import DECLINED, OK, HookResult
from fastcore.core.request import HttpError
from fastcore.core.response import Response, VaryFields
from fastcore.modules.mod_dir import dir_config as dir_module_config
from fastcore.modules.mod_log_config import escape as log_escape
from fastcore.modules.mod_rewrite import cache as RC
from fastcore.modules.mod_rewrite import config as C
from fastcore.modules.mod_rewrite import rules as R
from fastcore.modules.mod_rewrite.expand import (
    COOKIE_NAMES_NOTE,
    COOKIE_NOTE,
    REDIRECTS_NOTE,
    TARGET_NOTE,
    VARY_NOTE,
    RewriteState,
    context_info,
)
from fastcore.modules.mod_rewrite.subreq import in_subreq

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

PENDING_NOTE = "fastcore-rewrite-pending"  # a per-dir internal redirect, for the last fixup
PENDING_ARGS_NOTE = "fastcore-rewrite-pending-args"
CHECK_NOTE = "fastcore-rewrite-check"  # a field the rules made: check_headers applies
BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# what an internal redirect keeps: END lives in the pool both requests share, the
# Vary names ("redirect-keeps-vary") and the cookies (the main request's
# err_headers_out) go on with the answer
KEPT_NOTES = (R.END_NOTE, VARY_NOTE, COOKIE_NOTE, COOKIE_NAMES_NOTE, REDIRECTS_NOTE)


def errorlog_escape(msg: str) -> str:
    """ap_escape_errorlog_item: backslashes doubled, control characters as \\xhh."""
    out = []
    for c in msg:
        if c == "\\":
            out.append("\\\\")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    return "".join(out)


def _logger(core: Handler, txn: Transaction, level: str) -> Callable[[str], None]:
    """The request's error log at `level`, as mod_rewrite's lines."""
    def log(msg: str) -> None:
        core.srv.errlog(txn.vhost).log(level, "rewrite", errorlog_escape(msg),
                                       f"{txn.client_ip}:{txn.remote_port}", txn.dirconf)
    return log


def _status_logger(core: Handler, txn: Transaction) -> Callable[[str, str], None]:
    """The request's rewrite:error lines that carry an apr_status_t (a map's file
    missing or unreadable): such an answer is kept out of the caches, whose hits would
    not write the line again (Apache writes it on every request)."""
    def log(status: str, msg: str) -> None:
        txn.cacheable = False
        core.srv.errlog(txn.vhost).log("error", "rewrite", errorlog_escape(msg),
                                       f"{txn.client_ip}:{txn.remote_port}", txn.dirconf,
                                       status=status)
    return log


def _state(core: Handler, txn: Transaction, server: C.RewriteServer | None,
           perdir: str | None, filename: str, path_info: str = "") -> RewriteState:
    st = RewriteState(core, txn, server, perdir, filename, txn.r_query or None,
                      path_info, log_error=_logger(core, txn, "error"),
                      log_status=_status_logger(core, txn))
    log = core.srv.errlog(txn.vhost)
    # translate_name runs under the server's per-dir config (an internal redirect's
    # txn.dirconf is still the previous request's until the walk)
    dc = (txn.dirconf if perdir is not None else None) or txn.vhost.dir_defaults
    if log.enabled("trace1", "rewrite", dc):  # else the trace lines cost nothing
        st.trace_level = max(n for n in range(1, 9) if log.enabled(f"trace{n}", "rewrite", dc))
        client = f"{txn.client_ip}:{txn.remote_port}"

        def out(level: int, msg: str) -> None:
            log.log(f"trace{level}", "rewrite", errorlog_escape(msg), client, dc)
        st.trace_out = out
    return st


def _set_script_env(core: Handler, txn: Transaction) -> None:
    """SCRIPT_URL (the request's URI, or REDIRECT_SCRIPT_URL) and SCRIPT_URI."""
    url = txn.env.get("redirect_script_url") or txn.r_uri
    name, port = core.srv.server_name_port(txn)
    scheme, dport = ("https", 443) if txn.conn.https() else ("http", 80)
    txn.env = {**txn.env, "script_url": url,
               "script_uri": f"{scheme}://{name}{'' if port == dport else f':{port}'}{url}"}


def _redirect(core: Handler, txn: Transaction, st: RewriteState, rc: int,
              oargs: str | None) -> Response:
    """The external redirect both hooks end in: the URL escaped (unless NE), the query
    appended (escaped unless NE or unchanged), 3xx from the rule else 302."""
    url = st.filename
    if rc != R.NOESCAPE:
        st.trace(1, f"escaping {url} for redirect")
        url = escape_absolute(url, R.absolute_uri(url)[0])
    if st.args:
        same = rc == R.NOESCAPE or (oargs is not None and st.args == oargs)
        if same and R.unsafe_args(st):  # escaped, the query could hold neither
            return core.error(txn, 403, dirconf=txn.dirconf)
        url += "?" + (st.args if same else escape_uri(st.args))
    status = st.status if 300 <= st.status < 400 else 302
    st.trace(1, f"redirect to {url} [REDIRECT/{status}]")
    txn.filename = url
    txn.notes[CHECK_NOTE] = "1"
    return core.error(txn, status, location=url, dirconf=txn.dirconf)


def escape_absolute(uri: str, scheme: int) -> str:
    """escape_absolute_uri: the part after the authority through ap_escape_uri (ldap's
    ?-separated parts one by one)."""
    if not scheme or len(uri) < scheme:
        return uri
    cp = scheme
    if uri[cp - 1] == "/":
        slash = uri.find("/", cp)
        if slash < 0 or slash + 1 >= len(uri):
            return uri
        cp = slash + 1
        if uri[:4].lower() == "ldap":
            parts = uri[cp:].split("?", 4)
            return uri[:cp] + "?".join(escape_uri(p) for p in parts)
    return uri[:cp] + escape_uri(uri[cp:])


def _prefix_stat(path: str) -> bool:
    """prefix_stat: does the first segment of the path exist?"""
    first = path[1:].split("/", 1)[0]
    try:
        os.stat("/" + first)
        return True
    except (OSError, ValueError):
        return False


def _tilde(path: str) -> str:
    """expand_tildepaths: /~user[/rest] through the password database."""
    if not path.startswith("/~"):
        return path
    user, sep, rest = path[2:].partition("/")
    if not user:
        return path
    try:
        home = pwd.getpwnam(user).pw_dir
    except KeyError:
        return path
    return home.rstrip("/") + "/" + rest if sep else home


def translate(core: Handler, txn: Transaction) -> HookResult:
    """hook_uri2file: the server's (vhost's) rules over the URI."""
    d = C.dir_config(txn.vhost.dir_defaults)
    if d is None or not d.state:
        return DECLINED
    conf = C.server_config(txn.vhost, core.srv.cfg.main)
    if conf is None or txn.notes.get(R.END_NOTE):
        return DECLINED
    req = txn.request
    if not d.options & C.ANYURI and ((req is not None and req.path_raw == "*")
                                     or not txn.r_uri.startswith("/")):
        return DECLINED
    keyed = RC.begin(txn, conf)  # else txn.cacheable is cleared: rules run per request
    oargs = txn.r_query or None
    _set_script_env(core, txn)
    st = _state(core, txn, conf, None, txn.r_uri)
    if keyed:  # the outcome is a function of (Host, target, these tests): cache.py
        st.probes = txn.probes
    st.trace(2, f"init rewrite engine with requested uri {txn.r_uri}")
    rc = R.apply_list(conf.rules, st)
    if not rc:
        st.trace(1, f"pass through {st.filename}")
        return DECLINED
    txn.filename = st.filename  # r->filename, the log's %f when the answer comes here
    original = txn.uri_path == txn.r_uri and REDIRECTS_NOTE not in txn.notes
    _set_args(txn, st.args, original)
    if rc == R.STATUS:
        return st.status
    f = st.filename
    if f.startswith("proxy:"):
        st.log_error(f"AH00669: attempt to make remote request from mod_rewrite without "
                     f"proxy enabled: {f}")
        return 403
    if R.absolute_uri(f)[0]:
        resp = _redirect(core, txn, st, rc, oargs)
        resp.fixed = keyed and RC.fixed_redirect(txn)  # may be the engine's (fixedanswer.py)
        return resp
    if R.unsafe_args(st):
        return 403
    if f.startswith("passthrough:"):
        txn.r_uri = f[12:]
        if original:
            txn.uri_path = txn.r_uri
        return DECLINED
    f = _tilde(f)
    if not f.startswith("/"):
        f = "/" + f  # 2.4.71 takes a relative result as a URL-path
    reduced = st.uri_reduced and not conf.options & C.LEGACY_PREFIX_DOCROOT
    st.trace(2, f"local path result: {f}")
    if st.unsafe_prefix or reduced or not _prefix_stat(f):
        # a path led by an expansion is never taken as a file-system path (2.4.60's
        # UnsafePrefixStat): it gets the DocumentRoot as any URL-path does
        f = txn.vhost.document_root.rstrip("/") + f
        st.trace(2, f"prefixed with document_root to {f}")
    st.trace(1, f"go-ahead with {f} [OK]")
    txn.mapped = f
    return OK


def _set_args(txn: Transaction, args: str | None, original: bool) -> None:
    txn.r_query = args or ""
    if original:
        txn.query = txn.r_query


def fixup(core: Handler, txn: Transaction) -> HookResult:
    """hook_fixup: the rules of the request's directory over its file name."""
    dc = txn.dirconf
    d = C.dir_config(dc)
    if d is None or not d.state or d.directory is None or dc is None:
        return DECLINED
    walk = txn.walk
    filename = txn.filename or txn.r_uri
    if not d.options & C.NOSLASH and filename == d.directory[:-1]:
        return DECLINED
    if txn.notes.get(R.END_NOTE):
        return DECLINED
    conf = C.server_config(txn.vhost, core.srv.cfg.main)
    keyed = RC.begin_dir(txn, conf, d)  # else txn.cacheable is cleared: per request
    if not (dc.options or 0) & (OPT_SYM_LINKS | OPT_SYM_OWNER):
        _logger(core, txn, "error")(
            "AH00670: Options FollowSymLinks and SymLinksIfOwnerMatch are both off, so the "
            "RewriteRule directive is also forbidden due to its similar ability to "
            f"circumvent directory restrictions : {filename}")
        return 403
    oargs = txn.r_query or None
    st = _state(core, txn, conf, d.directory, filename,
                walk.path_info if walk is not None else "")
    st.base = d.baseurl
    if keyed:
        st.probes = txn.probes
    rc = R.apply_list(d.rules, st)
    if not rc:
        st.trace(1, f"pass through {filename}")
        return DECLINED
    txn.r_query = st.args or ""
    txn.query = txn.r_query
    if rc == R.STATUS:
        return st.status
    txn.filename = st.filename
    f = st.filename
    if f.startswith("proxy:"):
        st.log_error(f"AH10160: attempt to make remote request from mod_rewrite without "
                     f"proxy enabled: {f}")
        return 403
    skip = R.absolute_uri(f)[0]
    if skip:
        if d.baseurl is not None:
            slash = f.find("/", skip)
            if slash >= 0 and slash + 1 < len(f):
                cp = f[slash + 1:]
                directory = d.directory[1:] if d.directory.startswith("/") else d.directory
                cp2 = subst_prefix(cp, directory, d.baseurl[1:])
                if cp2 != cp:
                    st.filename = f[:slash + 1] + cp2
        resp = _redirect(core, txn, st, rc, oargs)
        resp.fixed = keyed and RC.fixed_redirect(txn)
        return resp
    if R.unsafe_args(st):
        return 403
    if f.startswith("passthrough:"):
        f = f[12:]
    if not f.startswith("/"):
        return 400
    if f == filename:
        st.trace(1, f"initial URL equal rewritten URL: {f} [IGNORING REWRITE]")
        return OK
    if d.baseurl is not None:
        f = subst_prefix(f, d.directory, d.baseurl)
    else:
        root = txn.vhost.document_root.rstrip("/")
        if f.startswith(root) and f[len(root):len(root) + 1] == "/":
            st.trace(2, f"strip document_root prefix: {f} -> {f[len(root):]}")
            f = f[len(root):]
        elif not (d.options | (conf.options if conf else 0)) & C.IGNORE_CONTEXT_INFO:
            croot, prefix = context_info(txn)
            st.trace(2, f"trying to replace context docroot {croot} with context prefix "
                     f"{prefix}")
            f = subst_prefix(f, croot, prefix)
    st.trace(1, f"internal redirect with {f} [INTERNAL REDIRECT]")
    if in_subreq(txn):  # a look-up never runs the handler: the redirect-handler's mark
        txn.filename = "redirect:" + f
        return OK
    # httpd's redirect-handler runs it after every other fixup (mod_alias' Redirect in
    # the directory, mod_dir's slash): the last fixup here, `pending_redirect`
    txn.notes[PENDING_NOTE] = _pending_owner(txn) + "\0" + f
    if st.args is not None:
        txn.notes[PENDING_ARGS_NOTE] = st.args
    return OK


def _pending_owner(txn: Transaction) -> str:
    """Which request a pending redirect belongs to (an ErrorDocument's internal request
    keeps the notes but has another URI or depth)."""
    return f"{txn.error_depth}:{txn.r_uri}"


def pending_redirect(core: Handler, txn: Transaction) -> HookResult:
    """The per-directory internal redirect `fixup` left, unless an answer came first."""
    notes = txn.notes
    pending = notes.pop(PENDING_NOTE, None)
    args = notes.pop(PENDING_ARGS_NOTE, None)
    if pending is None or txn.dirconf is None:
        return DECLINED
    owner, _, uri = pending.partition("\0")
    if owner != _pending_owner(txn):  # left by a request an ErrorDocument replaced
        return DECLINED
    if _slash_first(core, txn, txn.dirconf):
        return DECLINED
    return internal_redirect(core, txn, uri, args)


def subst_prefix(text: str, match: str, subst: str) -> str:
    """subst_prefix_path: `match` (a directory) at the start of `text` becomes
    `subst` (the RewriteBase), with one slash between."""
    m = match[:-1] if match.endswith("/") else match
    if not (text.startswith(m) and text[len(m):len(m) + 1] == "/"):
        return text
    s = subst if subst.endswith("/") or not subst else subst + "/"
    return s + text[len(m) + 1:]


def _slash_first(core: Handler, txn: Transaction, dc: DirConfig) -> bool:
    """httpd makes the per-directory internal redirect in its redirect handler, after
    the other fixups: mod_dir's (a fixup there, a handler here) DirectorySlash 301 for
    a directory asked without its slash comes first."""
    if "dir_module" not in core.srv.cfg.modules or txn.r_uri.endswith("/"):
        return False
    if not core.directory_request(txn):
        return False
    return dir_module_config(dc).slash is not False


def internal_redirect(core: Handler, txn: Transaction, uri: str,
                      args: str | None) -> Response:
    """ap_internal_redirect after a per-directory rewrite: the new URI runs every phase
    again (the server's rules too); the environment gets the REDIRECT_ prefix."""
    count = int(txn.notes.get(REDIRECTS_NOTE, "0")) + 1
    client = f"{txn.client_ip}:{txn.remote_port}"
    limit = txn.vhost.redirect_limit  # LimitInternalRecursion
    if count > limit:
        txn.filename = "redirect:" + uri + ("?" + args if args else "")
        core.srv.errlog(txn.vhost).log(
            "error", "core", f"AH00124: Request exceeded the limit of {limit} "
            "internal redirects due to probable configuration error. Use "
            "'LimitInternalRecursion' to increase the limit if necessary. Use 'LogLevel "
            "debug' to get a backtrace.", client, txn.dirconf)
        return core.error(txn, 500, dirconf=txn.dirconf)
    target = uri + ("?" + args if args else "")
    path, _, query = target.partition("?")
    try:
        path = decode_path(path, txn.vhost.allow_encoded_slashes)
    except HttpError as e:
        return core.error(txn, e.status, dirconf=txn.dirconf)
    env = {"redirect_" + k: v for k, v in txn.env.items()}
    env["redirect_status"] = "200"
    txn.env = env
    kept = {k: v for k, v in txn.notes.items() if k in KEPT_NOTES}
    kept[REDIRECTS_NOTE] = str(count)
    kept[TARGET_NOTE] = target
    txn.notes = kept
    txn.query = query  # the log's %q is the final request's
    txn.dirconf = None  # the new request starts under the server's per-dir config
    return core.dispatch(txn, path, query)


def mimetype(core: Handler, txn: Transaction) -> HookResult:
    """hook_mimetype: [T=] becomes the answer's type, [H=] its handler."""
    notes = txn.notes
    t = notes.get("rewrite-forced-mimetype")
    if t and txn.dirconf is not None:
        notes[CHECK_NOTE] = "1"
        txn.dirconf = dataclasses.replace(txn.dirconf, force_type=t)
    h = notes.get("rewrite-forced-handler")
    if h:
        txn.handler_name = h
    return OK


def output(core: Handler, txn: Transaction) -> HookResult:
    """The Vary names of the matched rules' conditions (headers_out: 2xx and 304 only)
    and the [CO=] cookies (err_headers_out: every answer)."""
    resp = txn.response
    notes = txn.notes
    if resp is None:
        return OK
    vary = notes.get(VARY_NOTE)
    if vary and (resp.status < 300 or resp.status == 304):
        _merge_vary(txn, resp, [v.strip() for v in vary.split(",") if v.strip()])
    cookies = notes.get(COOKIE_NOTE)
    if cookies:
        resp.headers.extend(("Set-Cookie", c) for c in cookies.split("\n"))
    if (cookies or notes.get(CHECK_NOTE)) and not _fields_valid(core, txn, resp):
        return _aborted(core, txn, resp.status)
    return OK


def _aborted(core: Handler, txn: Transaction, status: int) -> Response:
    """ap_die's 500 after check_headers refused the answer: no ErrorDocument (a
    recursive error), the "Additionally" paragraph when the refused answer was an error
    or a redirect, and the connection closed without Content-Length."""
    extra = ""
    if status != 200:
        extra = (f"<p>Additionally, a {E.status_line(status)}\nerror was encountered while "
                 "trying to use an ErrorDocument to handle the request.</p>\n")
    dc = txn.dirconf or txn.vhost.dir_defaults
    body = E.error_body(500, txn.method, None, None, extra + core.signature(txn, dc),
                        txn.vhost.server_admin)
    out = Response(500, [], E.ERROR_CTYPE, body)
    out.no_length = out.close = True
    return out


def _fields_valid(core: Handler, txn: Transaction, resp: Response) -> bool:
    """The header filter's check_headers over what a rule put in a field (Location,
    Set-Cookie, the [T=] type): a control character but HTAB aborts the answer with
    AH02430 and a 500 (an expansion of the decoded URI must not split a field)."""
    fields = list(resp.headers)
    if resp.ctype:
        fields.append(("Content-Type", resp.ctype))
    for name, value in fields:
        if BAD_VALUE.search(value) is not None:
            core.srv.errlog(txn.vhost).log(
                "error", "http", f"AH02430: Response header '{log_escape(name)}' value of "
                f"'{log_escape(value)}' contains invalid characters, aborting request",
                f"{txn.client_ip}:{txn.remote_port}", txn.dirconf)
            return False
    return True


def _merge_vary(txn: Transaction, resp: Response, names: list[str]) -> None:
    """apr_table_merge into Vary: after the <If> names (set earlier, in the walk)."""
    fields = VaryFields.take(resp.headers)
    existing = fields.tokens
    walk = txn.walk
    lead = 0
    if walk is not None and walk.vary:
        ifs = {n.lower() for n in walk.vary}
        while lead < len(existing) and existing[lead].lower() in ifs:
            lead += 1
    resp.headers = fields.put(existing[:lead] + names + existing[lead:], len(fields.kept))


def cache_contribution(txn: Transaction, dc: DirConfig,
                       served: CacheInfo | None) -> Contribution:
    """Rules (per directory or the server's) whose outcome cache.py finds a function of
    the key leave the answer cacheable (with their probes); others run per request."""
    d = C.dir_config(dc)
    if d is not None and d.state and d.directory is not None:
        if txn is None or txn.vhost is None:
            return NOT_CACHEABLE
        return RC.dir_contribution(txn, C.server_config(txn.vhost, txn.conn.srv.cfg.main), d)
    if txn is not None and txn.vhost is not None:
        s = C.dir_config(txn.vhost.dir_defaults)
        conf = C.server_config(txn.vhost, txn.conn.srv.cfg.main) \
            if s is not None and s.state else None
        if conf is not None:
            return RC.contribution(txn, conf)
    return NOTHING
