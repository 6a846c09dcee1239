"""Where mod_headers acts on a request: RequestHeader in post_read_request (`early`, the
server's commands) and in the fixups (headers_in, so %{X}i and later phases see the
result), Header in the output filter (FIXUP_HEADERS_OUT / FIXUP_HEADERS_ERR).

Which answers each table reaches (measured on Apache 2.4): the always table
(err_headers_out) every answer; the onsuccess table (headers_out) the answers a handler
sent itself (2xx, 304, and a local ErrorDocument's page, run in the redirected request
with that scope's commands), not the error path's answers, 3xx redirects included.  The
always table starts empty (the handler's fields are in headers_out), so `Header always
unset ETag` or `... edit Location` change nothing; the result is the always fields
first, then headers_out's.
"""
from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore.config.model import DirConfig
from fastcore.core.expr import ExprContext
from fastcore.core.phases import DECLINED, OK, HookResult
from fastcore.core.response import Response
from fastcore.modules.mod_headers.actions import Answer, Facts, Field, run, table_set
from fastcore.modules.mod_headers.config import EMPTY, HeadersDir, headers_config
from fastcore.modules.mod_log_config import escape

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

# fields httpd's header filter writes itself after the output filters ran
FIXED_FIELDS = frozenset(("date", "server"))
CONTENT_LENGTH = "Content-Length"
LATE_FIELDS = frozenset(("Content-Range",))
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass
class Built:
    """An answer's header fields after mod_headers: the table to send (always fields,
    then headers_out) and the content type (r->content_type, None when unset)."""

    fields: list[Field]
    ctype: str | None
    notes: dict[str, str]


def scoreboard_load(txn: Transaction) -> tuple[int, int]:
    """%i and %b (ap_get_sload): the idle and busy shares of the scoreboard's workers,
    in percent (a server without a scoreboard counts only the worker answering)."""
    sb = txn.conn.sb
    if sb is None:
        return 0, 100
    letters = sb.status_string()
    idle = letters.count("_")
    busy = sum(1 for c in letters if c not in "_.SI")
    total = idle + busy
    if total == 0:
        return 0, 100
    return idle * 100 // total, busy * 100 // total


def request_table(txn: Transaction) -> list[Field]:
    """headers_in as a table: the fields in the order first received, spelled as the
    client sent them, repeats joined (as httpd merges them when it reads the head)."""
    seen: dict[str, int] = {}
    table: list[Field] = []
    req = txn.request
    for name, _v in (req.fields if req is not None else ()):
        key = name.lower()
        if key not in seen and key in txn.headers_in:
            seen[key] = len(table)
            table.append((name, txn.headers_in[key]))
    for key, value in txn.headers_in.items():
        if key not in seen:
            table.append((key, value))
    return table


def facts_of(core: Handler, txn: Transaction, resp: Response | None,
             env: bool = True) -> Facts:
    """The request's side of the commands (env: False before the fixups set it); its
    expressions see the answer (resp) with the type the commands gave it so far."""
    def context(ctype: str | None) -> ExprContext:
        if resp is None:
            return ExprContext(txn)
        seen = Response(resp.status, resp.headers, ctype)
        return ExprContext(txn, seen)

    def report(msg: str) -> None:
        core.srv.errlog(txn.vhost).log("error", "headers", msg,
                                       f"{txn.client_ip}:{txn.remote_port}", txn.dirconf)

    return Facts(dict(txn.env) if env else {}, request_table(txn), txn.start_time,
                 lambda: scoreboard_load(txn), context, report,
                 # %{VAR}s: mod_ssl's lookup when it is loaded (else (null), even HTTPS)
                 txn.conn.ssl_var if "ssl_module" in core.srv.cfg.modules else _no_ssl)


def _no_ssl(name: str) -> str | None:
    return None


def build(conf: HeadersDir, server: HeadersDir, fields: list[Field], ctype: str | None,
          success: bool, facts: Facts, computed_length: str | None) -> Built:
    """The fields an answer goes out with: the server's early commands (run at
    post_read_request on empty tables), then, on the always table and (success only)
    on headers_out, the scope's commands; Content-Length as the length filter leaves
    it; Date and Server are the header filter's own."""
    early = Answer(ctype)
    before = Facts({}, facts.request_fields, facts.start, facts.load, facts.context,
                   facts.report, facts.ssl)  # no SetEnv yet
    err: list[Field] = []
    early_out: list[Field] = []
    run(server.fixup_err, err, early_out, early, before, True)
    run(server.fixup_out, early_out, early_out, early, before, True)
    answer = Answer(ctype)
    # the byte-range filter runs after mod_headers' and sets its field then
    late = [f for f in fields if f[0] in LATE_FIELDS]
    if late:
        fields = [f for f in fields if f[0] not in LATE_FIELDS]
    if success:
        out = early_out + fields
    else:  # ap_send_error_response: err_headers_out becomes headers_out, err restarts
        out, err = err + fields, []
    run(conf.fixup_err, err, out, answer, facts, False)
    if success:
        run(conf.fixup_out, out, out, answer, facts, False)
    length = next((v for k, v in fields if k == CONTENT_LENGTH), None)
    if length is not None:
        if any(k.lower() == "content-length" for k, _ in out):
            table_set(out, CONTENT_LENGTH, length)  # the real length, where it was
        else:
            out.append((CONTENT_LENGTH, length))    # unset: the filter adds it again
    elif computed_length is not None and any(
            k.lower() == "content-length" for k, _ in err + out):
        out.append((CONTENT_LENGTH, computed_length))
    for name, value in late:
        table_set(out, name, value)
    sent = [f for f in err + out if f[0].lower() not in FIXED_FIELDS]
    if any(k.lower() == "vary" for k, _ in sent):
        fixup_vary(sent)
    return Built(sent, answer.ctype, {**early.notes, **answer.notes})


def fixup_vary(fields: list[Field]) -> None:
    """The header filter's fixup_vary: every Vary field's names, repeats (compared
    without case) dropped, joined with "," in the first one."""
    names: list[str] = []
    seen: set[str] = set()
    for k, v in fields:
        if k.lower() == "vary":
            for name in v.replace(",", " ").split():
                if name.lower() not in seen:
                    seen.add(name.lower())
                    names.append(name)
    if names:
        table_set(fields, "Vary", ",".join(names))


def succeeded(resp: Response) -> bool:
    """Whether the onsuccess table reaches this answer (see the module docstring)."""
    return resp.internal_dc is not None or 200 <= resp.status < 300 or resp.status == 304


def output_filter(core: Handler, txn: Transaction) -> HookResult:
    """FIXUP_HEADERS_ERR and FIXUP_HEADERS_OUT over the finished answer."""
    resp = txn.response
    assert resp is not None
    server_dc = txn.vhost.dir_defaults
    dc: DirConfig = resp.internal_dc or txn.dirconf or server_dc
    conf, server = headers_config(dc), headers_config(server_dc)
    if not (conf.fixup_out or conf.fixup_err or server.fixup_out or server.fixup_err):
        return DECLINED
    computed = None
    if resp.status >= 200 and resp.status not in (204, 304) and not resp.no_length:
        computed = str(resp.length())
    facts = facts_of(core, txn, resp)
    ctype = resp.ctype
    if ctype is None and resp.status == 304 and txn.filename:
        # r->content_type is the file's (type_checker's) though a 304 sends none:
        # %{CONTENT_TYPE} in an expression sees it
        ctype = core.mime.content_type_header(txn.filename, dc)
    built = build(conf, server, resp.headers, ctype, succeeded(resp), facts, computed)
    if resp.status == 304 and resp.ctype is None and built.ctype == ctype:
        built.ctype = None  # ...and the 304 goes without it
    if not _fields_valid(core, txn, built.fields):
        return _refused(core, txn, conf, facts)
    te = next((v for k, v in built.fields if k.lower() == "transfer-encoding"), None)
    if te is not None:
        # the header filter: a coding other than chunked last is a 500; with chunked
        # last the field is sent, Content-Length dropped, the body as it is, then close
        if te.rsplit(",", 1)[-1].strip().lower() != "chunked":
            return _refused(core, txn, conf, facts)
        built.fields = [f for f in built.fields if f[0].lower() != "content-length"]
        resp.no_length = True
        resp.close = txn.method != "HEAD"  # a HEAD answer has no body to delimit
    resp.headers = built.fields
    resp.ctype = built.ctype
    if built.notes:
        txn.notes.update(built.notes)
    return OK


def _fields_valid(core: Handler, txn: Transaction, fields: list[Field]) -> bool:
    """The header filter's check_headers (whatever HttpProtocolOptions says): a name must be a
    token, a value must hold no control character but HTAB; the first bad one is
    logged as Apache logs it."""
    for name, value in fields:
        if not name or TOKEN.fullmatch(name) is None:
            msg = f"AH02429: Response header name '{escape(name)}' contains invalid characters"
        elif BAD_VALUE.search(value) is not None:
            msg = (f"AH02430: Response header '{escape(name)}' value of '{escape(value)}' "
                   "contains invalid characters")
        else:
            continue
        core.srv.errlog(txn.vhost).log("error", "http", msg + ", aborting request",
                                       f"{txn.client_ip}:{txn.remote_port}", txn.dirconf)
        return False
    return True


def _refused(core: Handler, txn: Transaction, conf: HeadersDir, facts: Facts) -> Response:
    """The answer after check_headers failed: ap_die's 500 (with the always fields,
    themselves checked; when they fail too, no fields and no body), and the connection
    closed."""
    resp = core.error(txn, 500, dirconf=txn.dirconf)
    # both tables were cleared (the early fields with them); the error filter runs again
    built = build(conf, EMPTY, resp.headers, resp.ctype, False, facts, None)
    if _fields_valid(core, txn, built.fields):
        resp.headers, resp.ctype = built.fields, built.ctype
    else:
        resp.headers, resp.body = [], b""
    resp.no_length = resp.close = True
    resp.cache = None
    return resp


def _request_headers(core: Handler, txn: Transaction, conf: HeadersDir, early: bool) -> None:
    """RequestHeader's commands over headers_in; the request's fields and the lookup
    table (%{X}i, later phases) both show the result."""
    table = request_table(txn)
    saved = txn.ctype
    if not early:  # r->content_type, type_checker's, for %{CONTENT_TYPE}
        walk = txn.walk
        if walk is not None and walk.st is not None and stat.S_ISREG(walk.st.st_mode):
            txn.ctype = core.mime.content_type_header(walk.filename, txn.dirconf)
    try:
        run(conf.fixup_in, table, [], Answer(None), facts_of(core, txn, None, env=not early),
            early)
    finally:
        txn.ctype = saved
    merged: dict[str, str] = {}
    for name, value in table:
        merged.setdefault(name.lower(), value)  # apr_table_get: the first field
    txn.headers_in.clear()  # the same dict as the Request's: every reader sees it
    txn.headers_in.update(merged)
    if txn.request is not None:
        txn.request.fields = table


def post_read_request(core: Handler, txn: Transaction) -> HookResult:
    """ap_headers_early: the server's `early` RequestHeader commands (its early Header
    commands run with the output filter, on the tables they would have built)."""
    conf = headers_config(txn.vhost.dir_defaults)
    if any(c.early for c in conf.fixup_in):
        _request_headers(core, txn, conf, True)
    return DECLINED


def fixups(core: Handler, txn: Transaction) -> HookResult:
    """ap_headers_fixup: the scope's RequestHeader commands (last among the fixups)."""
    conf = headers_config(txn.dirconf)
    if any(not c.early for c in conf.fixup_in):
        _request_headers(core, txn, conf, False)
    return DECLINED
