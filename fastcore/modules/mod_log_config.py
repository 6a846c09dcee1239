"""mod_log_config and the error log.

Formats are compiled once into a list of small functions; each request is formatted into
one line and written with one write() (or appended to a buffer with BufferedLogs and
written when the buffer passes LOG_BUFSIZE and at flush/exit).  Log files are opened in
the parent before fork with O_APPEND, so every child appends to the same descriptors and
lines never interleave (each line is one write, < PIPE_BUF for ordinary requests).

The record passed to a formatter is any object with the attributes listed in
`LogRecordFields` (the server's per-request Transaction has them).
"""
from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore.config.engine import NOT_IN_DIR_LOC_FILE, RSRC, Ctx, Directive, DirectiveError, Engine
from fastcore.config.logformat import check_log_format
from fastcore.config.model import DirConfig, VirtualHost, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.expr import ExprContext, ExprError, parse_condition
from fastcore.core.paths import to_bytes
from fastcore.core.phases import LOG_TRANSACTION, OK, Hook, HookResult
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

    Formatter = Callable[[Transaction], str]

LOG_BUFSIZE = 4096
COMMON = '%h %l %u %t "%r" %>s %b'
COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"'
LogRecordFields = ("client_ip", "remote_host", "local_ip", "local_port", "request_line",
                   "status", "original_status", "bytes_sent", "start_time", "duration_us",
                   "headers_in", "headers_out", "vhost_name", "host_name", "port",
                   "keepalive_count", "conn_status", "uri_path", "query", "method",
                   "protocol", "filename", "bytes_in", "bytes_out", "user", "handler", "ctype")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ESC = {i: f"\\x{i:02x}" for i in range(256) if i < 32 or i >= 127}
_ESC.update({ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r", ord("\b"): "\\b",
             ord("\v"): "\\v", ord('"'): '\\"', ord("\\"): "\\\\"})


def escape(value: str) -> str:
    """ap_escape_logitem: quote, backslash and non-printables escaped."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value
    raw = value.encode("latin-1", "replace") if not isinstance(value, bytes) else value
    return "".join(_ESC.get(b, chr(b)) for b in raw)


def escape_path(value: str) -> str:
    """ap_escape_logitem of path text (%U, %f): over the path's own bytes (os.fsencode),
    so a UTF-8 or non-UTF-8 name logs as the \\xNN of what was requested."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value
    return "".join(_ESC.get(b, chr(b)) for b in to_bytes(value))


_tcache: list = [0, ""]


def clf_time(t: float) -> str:
    """[26/Nov/2026:11:16:35 +0000] in local time, cached per second."""
    sec = int(t)
    if _tcache[0] != sec:
        lt = time.localtime(sec)
        off = lt.tm_gmtoff // 60
        sign = "+" if off >= 0 else "-"
        off = abs(off)
        _tcache[0] = sec
        _tcache[1] = (f"[{lt.tm_mday:02d}/{_MONTHS[lt.tm_mon - 1]}/{lt.tm_year}:"
                      f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d} {sign}{off // 60:02d}{off % 60:02d}]")
    return _tcache[1]


def _dash(v: str | None) -> str:
    return "-" if v is None or v == "" else str(v)


def _item(code: str, arg: str | None) -> Formatter:
    """One % directive -> function(record) -> text."""
    a = arg
    if code == "h":  # escaped, as log_remote_host: a PTR name is not ours (fuzzing found)
        if a == "c":  # the connection's peer, not mod_remoteip's useragent
            return lambda r: r.conn.peer_ip
        return lambda r: escape(r.remote_host) if r.remote_host else r.client_ip
    if code == "a":
        if a == "c":
            return lambda r: r.conn.peer_ip
        return lambda r: r.client_ip
    if code == "A":
        return lambda r: r.local_ip
    if code == "l":
        return lambda r: "-"
    if code == "u":
        # an empty user (Basic credentials with no name) is `""`, as log_remote_user
        return lambda r: ('""' if r.user == "" else escape(r.user)) if r.user is not None \
            else "-"
    if code == "t":
        if a is None:
            return lambda r: clf_time(r.start_time)
        fmt = a
        for pre in ("begin:", "end:"):
            if fmt.startswith(pre):
                fmt = fmt[len(pre):]
        if fmt == "sec":
            return lambda r: str(int(r.start_time))
        if fmt == "msec":
            return lambda r: str(int(r.start_time * 1000))
        if fmt == "usec":
            return lambda r: str(int(r.start_time * 1000000))
        if fmt == "msec_frac":
            return lambda r: f"{int(r.start_time * 1000) % 1000:03d}"
        if fmt == "usec_frac":
            return lambda r: f"{int(r.start_time * 1000000) % 1000000:06d}"
        return lambda r: time.strftime(fmt, time.localtime(r.start_time))
    if code == "r":
        return lambda r: "-" if r.request_line is None else escape(r.request_line)
    if code == "s":
        return lambda r: str(r.original_status or r.status)
    if code == ">s":
        return lambda r: str(r.status)
    if code == "b":
        return lambda r: str(r.bytes_sent) if r.bytes_sent else "-"
    if code == "B":
        return lambda r: str(r.bytes_sent or 0)
    if code == "D":
        return lambda r: str(int(r.duration_us))
    if code == "T":
        unit = (a or "s").lower()
        div = {"ms": 1000, "us": 1, "s": 1000000}.get(unit, 1000000)
        return lambda r: str(int(r.duration_us) // div)
    if code == "i":
        key = (a or "").lower()
        return lambda r: escape(r.headers_in.get(key, "")) or "-"
    if code == "o":
        key = (a or "").lower()
        if key == "content-type":  # mod_log_config: the media type without parameters
            return lambda r: escape(r.ctype.split(";")[0].strip()) if r.ctype else "-"
        return lambda r: escape(r.headers_out.get(key, "")) or "-"
    if code == "v":
        return lambda r: r.vhost_name
    if code == "V":
        return lambda r: r.host_name or r.vhost_name
    if code == "p":
        if a == "remote":
            return lambda r: str(r.remote_port)
        if a == "local":
            return lambda r: str(r.local_port)
        return lambda r: str(r.port)
    if code == "P":
        if a in ("tid", "hextid"):
            return lambda r: str(threading.get_native_id()) if a == "tid" else f"{threading.get_native_id():x}"
        return lambda r: str(os.getpid())
    if code == "k":
        return lambda r: str(r.keepalive_count)
    if code == "X":
        return lambda r: r.conn_status
    if code == "U":
        return lambda r: escape_path(r.uri_path)
    if code == "q":
        return lambda r: ("?" + escape(r.query)) if r.query else ""
    if code == "m":
        return lambda r: escape(r.method)
    if code == "H":
        return lambda r: r.protocol
    if code == "f":
        return lambda r: escape_path(r.filename) if r.filename else "-"
    if code == "I":
        return lambda r: str(r.bytes_in)
    if code == "O":
        return lambda r: str(r.bytes_out)
    if code == "S":
        return lambda r: str(r.bytes_in + r.bytes_out)
    if code == "R":
        return lambda r: _dash(r.handler)
    if code == "C":
        name = a or ""
        return lambda r: _cookie(r.headers_in.get("cookie", ""), name)
    if code == "e":
        key = (a or "").lower()
        return lambda r: _env_var(r, key)
    if code == "n":
        key = (a or "").lower()
        return lambda r: _note(r, key)
    if code == "L":
        return lambda r: "-"
    if code == "x":  # mod_ssl's ssl_var_log_handler_x: a variable, - when empty
        name = (a or "").upper()
        return lambda r: _dash(r.conn.ssl_var(name))
    if code == "c":  # mod_ssl's ssl_var_log_handler_c: the connection's crypto facts
        var = {"version": "SSL_PROTOCOL", "cipher": "SSL_CIPHER",
               "subjectdn": "SSL_CLIENT_S_DN", "issuerdn": "SSL_CLIENT_I_DN"}.get(
                   (a or "").lower())
        return lambda r: _dash(r.conn.ssl_var(var) if var else None)
    if code == "%":
        return lambda r: "%"
    raise ValueError(f"Unrecognized LogFormat directive %{code}")


def _env_var(r: Transaction, key: str) -> str:
    """%{VAR}e: the request's environment variable (mod_env), escaped; - when unset."""
    value = getattr(r, "env", {}).get(key)
    return "-" if value is None else escape(value)


def _note(r: Transaction, key: str) -> str:
    """%{NAME}n: the request's note (r->notes), escaped; - when unset."""
    value = getattr(r, "notes", {}).get(key)
    return "-" if value is None else escape(value)


def log_condition(condition: str | None) -> Callable[[Transaction], bool]:
    """Whether a CustomLog with this condition writes a request's line: env=VAR when the
    request's environment has VAR, env=!VAR when it has not (mod_log_config's
    condition_sense); expr=EXPR when the ap_expr is true for the final request and its
    answer (an evaluation error writes no line, as Apache's rc <= 0)."""
    if condition is None:
        return lambda r: True
    if condition.lower().startswith("expr="):
        cond = parse_condition(condition[5:])

        def wants(r: Transaction) -> bool:
            try:
                return cond.evaluate(ExprContext(r, r.response))
            except ExprError:
                return False
        return wants
    if not condition.lower().startswith("env="):
        return lambda r: True
    name = condition[4:]
    negate = name.startswith("!")
    key = name.lstrip("!").lower()
    return lambda r: (key in getattr(r, "env", {})) != negate


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return escape(v)
    return "-"


# One item: its modifiers in any order and number, as parse_log_item's loop reads them
# ('!', status codes and ',', '<' / '>', {arg} where the last one wins), then the letter.
# (It took one {arg} in a fixed place, so "%{a}{%Y}t", which the check and Apache accept,
# failed at startup: found by fuzz/py/logformat.py.)
_DIRECTIVE = re.compile(r"%((?:[!<>,0-9]|\{[^}]*\})*)(\^t[io]|[a-zA-Z%])")
_MODIFIER = re.compile(r"\{([^}]*)\}|([0-9]+)|([!<>])")


def directive_groups(m: re.Match[str]) -> tuple[str, str | None, str | None, None, str]:
    """(condition, '<' or '>' or None, argument or None, None, letter) of a _DIRECTIVE
    match; the condition as "!200,304" (negation, then the status codes)."""
    negate, codes, mod, arg = False, [], None, None
    for a, num, ch in _MODIFIER.findall(m.group(1)):
        if num:
            codes.append(num)
        elif ch == "!":
            negate = not negate
        elif ch:
            mod = ch
        else:
            arg = a
    cond = ("!" if negate else "") + ",".join(codes) if (negate or codes) else ""
    return cond, mod, arg, None, m.group(2)
_ESCAPES = {"\\n": "\n", "\\t": "\t", "\\\\": "\\", '\\"': '"'}


def compile_format(fmt: str) -> Formatter:
    """A LogFormat string (or nickname already resolved) -> formatter(record) -> line."""
    parts: list[str | Formatter] = []
    pos = 0
    for m in _DIRECTIVE.finditer(fmt):
        if m.start() > pos:
            parts.append(fmt[pos:m.start()])
        cond, mod1, arg, mod2, code = directive_groups(m)
        if code == "s" and (mod1 == ">" or mod2 == ">"):
            code = ">s"
        fn = _item(code, arg)
        if cond:
            negate = cond.startswith("!")
            codes = frozenset(int(c) for c in cond.lstrip("!").split(",") if c)
            fn = _conditional(fn, codes, negate)
        parts.append(fn)
        pos = m.end()
    if pos < len(fmt):
        parts.append(fmt[pos:])
    for i, p in enumerate(parts):
        if isinstance(p, str):
            for k, v in _ESCAPES.items():
                p = p.replace(k, v)
            parts[i] = p
    frozen = tuple(parts)

    def render(r: Transaction) -> str:
        return "".join(p if isinstance(p, str) else p(r) for p in frozen)

    return render


def _conditional(fn: Formatter, codes: frozenset[int], negate: bool) -> Formatter:
    def f(r: Transaction) -> str:
        hit = r.status in codes
        return fn(r) if hit != negate else "-"
    return f


def open_log(path: str, server_root: str) -> int:
    """Open a log destination in the parent: file (O_APPEND) or `|command` (a pipe)."""
    if path.startswith("|"):
        import subprocess  # piped logs only, opened once in the parent

        proc = subprocess.Popen(path[1:].lstrip("$ "), shell=True, stdin=subprocess.PIPE)
        assert proc.stdin is not None
        fd = os.dup(proc.stdin.fileno())
        proc.stdin.close()
        return fd
    if not os.path.isabs(path):
        path = os.path.join(server_root, path)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)


class AccessLog:
    """One CustomLog: descriptor + compiled format + buffer (BufferedLogs)."""

    def __init__(self, fd: int, fmt: str, buffered: bool, condition: str | None = None) -> None:
        self.fd = fd
        self.render = compile_format(fmt)
        self.buffered = buffered
        self.condition = condition
        self.wants = log_condition(condition)
        self.buf: list[bytes] = []
        self.buflen = 0
        self.lock = threading.Lock()  # worker threads share one buffer

    def log(self, r: Transaction) -> None:
        if not self.wants(r):
            return
        line = (self.render(r) + "\n").encode("latin-1", "replace")
        if not self.buffered:
            write_all(self.fd, line)
            return
        with self.lock:
            if self.buflen + len(line) > LOG_BUFSIZE:
                self._flush_locked()
            self.buf.append(line)
            self.buflen += len(line)

    def flush(self) -> None:
        with self.lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self.buf:
            data = b"".join(self.buf)
            self.buf.clear()
            self.buflen = 0
            write_all(self.fd, data)


def write_all(fd: int, data: bytes) -> None:
    """Write everything, retrying EINTR; an error drops the data (never the caller)."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return  # a full disk or closed pipe must not kill the worker
        view = view[n:]


LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
          "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7", "trace8")
DEBUG_INDEX = 7  # LEVELS.index("debug"): from here on a line names its source


class ErrorLog:
    """ErrorLog with LogLevel: Apache's line layout, one write per line.  The threshold of
    a request's line is its per-dir LogLevel (`dirconf`: the module's level, else the
    scope's), else the server's."""

    def __init__(self, fd: int, level: str = "warn") -> None:
        self.fd = fd
        self.level = LEVELS.index(level.lower()) if level.lower() in LEVELS else LEVELS.index("warn")

    def enabled(self, level: str, module: str = "core", dirconf: DirConfig | None = None) -> bool:
        limit = self.level
        if dirconf is not None:
            scoped = dirconf.log_modules.get(module) or dirconf.log_level
            if scoped:
                limit = LEVELS.index(scoped)
        return LEVELS.index(level) <= limit

    def log(self, level: str, module: str, msg: str, client: str | None = None,
            dirconf: DirConfig | None = None, source: str | None = None,
            status: str | None = None) -> None:
        """One line; `source` is the "file.c(line)" Apache prints for debug and more,
        `status` the "(N)text" of an apr_status_t (%E, before the client)."""
        if not self.enabled(level, module, dirconf):
            return
        now = time.time()
        lt = time.localtime(now)
        stamp = time.strftime("%a %b %d %H:%M:%S", lt) + f".{int(now * 1e6) % 1000000:06d} {lt.tm_year}"
        cl = f" [client {client}]" if client else ""
        src = f" {source}:" if source and LEVELS.index(level) >= DEBUG_INDEX else ""
        if status:
            src += f" {status}:"
        line = (f"[{stamp}] [{module}:{level}] [pid {os.getpid()}:tid {threading.get_native_id()}]"
                f"{src}{cl} {msg}\n")
        write_all(self.fd, line.encode("latin-1", "replace"))


# -- configuration: LogFormat, CustomLog, TransferLog, BufferedLogs ----------------------

NAME = "log_config_module"


@dataclass(frozen=True)
class LogSpec:
    """A CustomLog/TransferLog: destination path (or "|cmd"), format string, env condition."""

    path: str
    format: str
    condition: str | None = None


@dataclass
class LogServer:
    """The server's CustomLog/TransferLog lines (None: none of its own)."""

    custom_logs: tuple[LogSpec, ...] | None = None

    def merge(self, add: LogServer) -> LogServer:
        """merge_config_log_state: a <VirtualHost> without logs of its own uses the main
        server's."""
        return LogServer(add.custom_logs if add.custom_logs is not None else self.custom_logs)


def log_config(vh: VirtualHost) -> LogServer:
    """This module's per-server record of a server (ap_get_module_config)."""
    return module_record(vh.module_config, NAME, LogServer)


def custom_logs(vh: VirtualHost) -> tuple[LogSpec, ...]:
    """The access logs a server writes."""
    return log_config(vh).custom_logs or ()


def _add_log(ctx: Ctx, spec: LogSpec) -> None:
    rec = scope_record(ctx.vhost.module_config, NAME, LogServer)
    rec.custom_logs = (rec.custom_logs or ()) + (spec,)


def log_format(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    check_log_format(a[0], e.module_loaded("ssl_module"))
    e.state.log_formats["CLF" if len(a) == 1 else a[1]] = a[0]


def custom_log(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    path = a[0] if a[0].startswith("|") else e.resolve_path(a[0])
    cond = None
    if len(a) == 3:
        c = a[2]
        if not c.lower().startswith(("env=", "expr=")):
            raise DirectiveError("error in condition clause")
        if c.lower().startswith("env=") and c[4:].lstrip("!") == "":
            raise DirectiveError("missing environment variable name")
        if c.lower().startswith("expr=") and not c[5:]:
            raise DirectiveError("missing condition")
        if c.lower().startswith("expr="):
            parse_condition(c[5:])
        cond = c
    check_log_format(a[1], e.module_loaded("ssl_module"))  # add_custom_log parses the format (or nickname) as given
    if not path.startswith("|"):
        e.state.log_paths.append((path, "custom", n.filename, n.line))
    _add_log(ctx, LogSpec(path, a[1], cond))


def transfer_log(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    path = a[0] if a[0].startswith("|") else e.resolve_path(a[0])
    _add_log(ctx, LogSpec(path, e.state.log_formats.get("CLF", COMMON)))


def buffered_logs(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    e.state.buffered_logs = a


def directives() -> list[Directive]:
    s = frozenset({RSRC})
    return [
        Directive("LogFormat", NAME, s, "TAKE12", log_format, "a log format string (see "
                  "docs) and an optional format name"),
        Directive("CustomLog", NAME, s, "TAKE23", custom_log, "a file name, a custom log "
                  "format string or format name, and an optional \"env=\" or \"expr=\" "
                  "clause (see docs)"),
        Directive("TransferLog", NAME, s, "TAKE1", transfer_log, "the filename of the "
                  "access log"),
        Directive("BufferedLogs", NAME, s, "FLAG", buffered_logs, "Enable Buffered Logging "
                  "(experimental)", NOT_IN_DIR_LOC_FILE),
    ]



def log_transaction(core: Handler, txn: Transaction) -> HookResult:
    """The request's lines in its vhost's access logs (else the main server's)."""
    srv = core.srv
    logs = srv.access_logs
    for lg in logs.get(id(txn.vhost)) or logs.get(id(srv.cfg.main)) or ():
        if not lg.wants(txn):  # CustomLog env=VAR / env=!VAR
            continue
        if lg.buffered:  # one buffer per log file for both paths: lines stay in order
            srv.engine.cache.log_line(lg.fd, (lg.render(txn) + "\n").encode("latin-1", "replace"), True)
        else:
            lg.log(txn)
    return OK


# compiled into httpd (config.modules.STATIC): it logs whatever LoadModule says
HOOKS = (Hook(LOG_TRANSACTION, log_transaction),)
MODULE = ModuleSpec(NAME, directives, server_record=LogServer, hooks=HOOKS)
