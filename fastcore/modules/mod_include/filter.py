"""The INCLUDES filter (includes_setup + includes_filter + include_fixup's XBitHack) as
an OUTPUT_FILTER hook over the default handler's answer for a file.

Whether the filter runs: XBitHack on/full for a text/html file with its user-execute
bit.  (AddOutputFilter/SetOutputFilter/AddOutputFilterByType naming INCLUDES need the
filter-name machinery of branch `deflate`; until it lands they do not reach here.)

What it answers, as httpd does: the parsed document as a 200 without ETag (unless
SSIETag on), without Last-Modified (unless SSILastModified on, or XBitHack full with
the group-execute bit, which is also the only case a 304 stays possible), without
Content-Length unless httpd's content-length filter would have seen the whole body at
once (no element found, and the file read in one piece: EnableMMAP's mapping up to
4 MiB, else two 8000-byte reads), with Range ignored.  Without `Options +Includes`
the filter removes itself with AH01374 (the file is sent as it is, without ETag).
"""
from __future__ import annotations

import copy
import mmap
import os
import pwd
import stat as stmod
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore.config.model import OPT_INCLUDES, OPT_INCNOEXEC, DirConfig
from fastcore.core.expr import ExprContext
from fastcore.core.expr import values as V
from fastcore.core.mapping import decode_path
from fastcore.core.phases import OK, HookResult
from fastcore.core.request import HttpError
from fastcore.core.response import Response
from fastcore.modules.mod_deflate.filter import chain
from fastcore.modules.mod_filter import in_harness
from fastcore.modules.mod_include import text as T
from fastcore.modules.mod_include.config import (
    DEFAULT_ERROR,
    DEFAULT_TIME_FORMAT,
    DEFAULT_UNDEFINED,
    XBITHACK_FULL,
    XBITHACK_OFF,
    include_dir,
    include_server,
)
from fastcore.modules.mod_include.elements import LAZY, Document, Settings, Vars
from fastcore.modules.mod_include.parser import tokenize
from fastcore.modules.mod_mime import handler_for, output_filters

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

FILTER = "INCLUDES"
MAX_SUBREQ_DEPTH = 10  # LimitInternalRecursion's default for sub-requests
MMAP_LIMIT = 4 * 1024 * 1024  # APR_MMAP_LIMIT: one mapping covers at most this much
READ_CHUNK = 8000  # APR_BUCKET_BUFF_SIZE: a file bucket's read without mmap
ABOVE_ROOT = "(20023)The given path was above the root path"
VALIDATORS = ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
              "if-range", "range")


@dataclass
class Parent:
    """What a nested document shares with the document that included it (httpd's
    kludge: the base document's variables and modification time) and how deep the
    sub-requests are."""

    env: Vars
    mtime: float
    depth: int


_PARENT: ContextVar[Parent | None] = ContextVar("ssi_parent", default=None)


def wants_includes(core: Handler, txn: Transaction, resp: Response, dc: DirConfig) -> bool:
    """Whether INCLUDES is in the chain of the default handler's answer for a file:
    named by AddOutputFilter, SetOutputFilter or a mod_filter harness (as for a 200:
    the filter's setup has already ruled out the 304, 412 and 206), or added by
    include_fixup (the server-parsed handler; XBitHack on a text/html file with its
    user-execute bit).  A 304 or 412 carries no type: r->content_type is the file's."""
    walk = txn.walk
    if walk is None or walk.st is None or not stmod.S_ISREG(walk.st.st_mode):
        return False
    if resp.status not in (200, 206, 304, 412) or txn.handler_name not in (
            None, "server-parsed"):
        return False
    ctype = resp.ctype if resp.ctype is not None or resp.status not in (304, 412) \
        else core.mime.content_type_header(walk.filename, dc)
    if txn.handler_name == "server-parsed":
        return True
    as_200 = Response(200, list(resp.headers), ctype, b"")
    if FILTER in chain(txn, as_200, ctype):
        return True
    xbit = include_dir(dc).xbithack or XBITHACK_OFF
    if xbit == XBITHACK_OFF or not walk.st.st_mode & stmod.S_IXUSR:
        return False
    return (ctype or "").startswith("text/html")


def in_scope(dc: DirConfig, fname: str, ctype: str | None) -> bool:
    """Whether INCLUDES may run over this file here (the cache's question)."""
    return (in_harness(dc, FILTER) or FILTER in output_filters(fname, dc)
            or FILTER in (dc.output_filters or ()) or handler_for(fname, dc) == "server-parsed"
            or ((include_dir(dc).xbithack or XBITHACK_OFF) != XBITHACK_OFF
                and (ctype or "").startswith("text/html")))


def includes_filter(core: Handler, txn: Transaction) -> HookResult:
    """The OUTPUT_FILTER hook (FIRST: INCLUDES is a resource filter, before DEFLATE)."""
    resp, dc = txn.response, txn.dirconf
    if resp is None or dc is None:
        return OK
    if wants_includes(core, txn, resp, dc):
        txn.cacheable = False
        return run_filter(core, txn, resp, dc)
    if in_harness(dc, FILTER):
        txn.cacheable = False
        return setup_only(core, txn, resp, dc)
    return OK


def setup_only(core: Handler, txn: Transaction, resp: Response, dc: DirConfig) -> Response:
    """A mod_filter harness with an INCLUDES provider that did not pick it: httpd ran
    includes_setup anyway (filter_init), so the file's answer has no ETag (unless
    SSIEtag on) and no 304 or 412 (no_local_copy); a 206 stays."""
    walk = txn.walk
    if walk is None or walk.st is None or not stmod.S_ISREG(walk.st.st_mode) or \
            resp.status not in (200, 206, 304, 412) or txn.handler_name is not None:
        return resp
    sent = resp
    if resp.status in (304, 412):
        sent = _whole_file(core, txn, walk.filename, walk.st, dc, resp) or resp
    if not include_dir(dc).etag:
        sent.headers = [h for h in sent.headers if h[0].lower() != "etag"]
    return sent


def run_filter(core: Handler, txn: Transaction, resp: Response, dc: DirConfig) -> Response:
    """includes_setup and includes_filter for an answer the filter was added to."""
    walk = txn.walk
    assert walk is not None and walk.st is not None
    conf = include_dir(dc)
    st = walk.st
    lm_kept = conf.xbithack == XBITHACK_FULL and bool(st.st_mode & stmod.S_IXGRP)
    if resp.status == 304 and lm_kept:
        resp.headers = [h for h in resp.headers if h[0].lower() != "etag" or conf.etag]
        return resp
    base = _whole_file(core, txn, walk.filename, st, dc, resp)
    if base is None:
        return resp
    if not (dc.options or 0) & OPT_INCLUDES:
        # the filter removes itself; includes_setup already cost the ETag and the 304
        core.srv.errlog(txn.vhost).log(
            "warn", "include", "AH01374: mod_include: Options +Includes (or "
            "IncludesNoExec) wasn't set, INCLUDES filter removed: "
            f"{V.from_path(txn.uri_path)}", f"{txn.client_ip}:{txn.remote_port}", dc)
        sent = resp if resp.status == 206 else base
        sent.headers = [h for h in sent.headers if h[0].lower() != "etag" or conf.etag]
        return sent
    data = read_document(walk.filename, dc)
    if data is None:  # vanished or unreadable between the walk and the read
        return core.error(txn, 403 if os.path.exists(walk.filename) else 404, dirconf=dc)
    parent = _PARENT.get()
    sconf = include_server(txn.vhost)
    pieces = tokenize(data.decode("latin-1"), V.from_path(sconf.start_tag),
                      V.from_path(sconf.end_tag))
    svc = RequestServices(core, txn, dc, parent.mtime if parent else st.st_mtime,
                          parent.depth if parent else 0)
    env = parent.env if parent else initial_env(core, txn, dc, walk.filename)
    if txn.query:
        env.set("QUERY_STRING", txn.query)
        env.set("QUERY_STRING_UNESCAPED", T.escape_shell(T.unescape_url(txn.query)))
    svc.env = env
    # configuration text is path text (utf-8 + surrogateescape): as bytes, like the page
    doc = Document(svc, Settings(V.from_path(conf.error_msg or DEFAULT_ERROR),
                                 V.from_path(conf.time_fmt or DEFAULT_TIME_FORMAT),
                                 V.from_path(conf.undefined_echo or DEFAULT_UNDEFINED),
                                 bool((dc.options or 0) & OPT_INCNOEXEC)), env)
    body = doc.run(pieces).encode("latin-1")
    keep = []
    for k, v in base.headers:
        low = k.lower()
        if low == "content-length" or (low == "etag" and not conf.etag):
            continue
        if low == "last-modified" and not (conf.last_modified or lm_kept):
            continue
        keep.append((k, v))
    ctype = base.ctype
    if not ctype and txn.handler_name == "server-parsed":
        ctype = "text/html"  # include_fixup's default for the server-parsed handler
    out = Response(200, keep, ctype, body)
    whole = all(isinstance(p, str) for p in pieces) and _one_read(len(data), dc)
    if whole:  # the document passed through untouched, in one brigade
        out.headers.append(("Content-Length", str(len(body))))
        if txn.method == "HEAD":  # a length the content-length filter did compute
            out.body, out.file = None, (walk.filename, 0, len(body))
    else:
        out.no_length = True
        if txn.method != "HEAD":
            out.chunked = txn.proto_num >= 1001
            out.close = not out.chunked
    return out


def _whole_file(core: Handler, txn: Transaction, filename: str, st: os.stat_result,
                dc: DirConfig, resp: Response) -> Response | None:
    """The default handler's 200 for the file with the request's validators and Range
    set aside (no_local_copy: the filter's answer is never a 304, 412 or 206)."""
    if resp.status == 200 and resp.file is not None:
        return resp
    plain = copy.copy(txn)
    plain.headers_in = {k: v for k, v in txn.headers_in.items() if k not in VALIDATORS}
    ctype = resp.ctype or core.mime.content_type_header(filename, dc)
    got = core.file_response(plain, filename, st, dc, ctype,
                             *_lang_enc(resp), [], None)
    return got if got.status == 200 else None


def _lang_enc(resp: Response) -> tuple[str | None, str | None]:
    lang = enc = None
    for k, v in resp.headers:
        if k == "Content-Language":
            lang = v
        elif k == "Content-Encoding":
            enc = v
    return lang, enc


def _one_read(size: int, dc: DirConfig) -> bool:
    """Whether httpd's INCLUDES passes the whole file in its last brigade: the file
    bucket reads it in one mapping (EnableMMAP, up to 4 MiB) or in 8000-byte pieces,
    passed on once more than 8000 bytes are waiting."""
    if dc.enable_mmap is not False:
        return size <= MMAP_LIMIT
    return size <= 2 * READ_CHUNK


def read_document(filename: str, dc: DirConfig) -> bytes | None:
    """The document's bytes: mapped (EnableMMAP on, the default) or read.  The mapping
    is copied out at once through the kernel (_copy_out), so a file truncated while it
    is served cannot fault the child: the parse sees what the copy got."""
    try:
        fd = os.open(filename, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if dc.enable_mmap is not False and size > 0:
            try:
                with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mm:
                    return _copy_out(mm, size)
            except (OSError, ValueError):
                pass  # not mappable (a special file, truncated meanwhile): read it
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _copy_out(mm: mmap.mmap, size: int) -> bytes:
    """The mapping's bytes, copied by the kernel (write into a memfd, then read back):
    a page past a new end of the file then faults inside the kernel, which ends the
    write short (EFAULT) where a copy in user space would raise SIGBUS and kill the
    child - httpd's own risk with EnableMMAP, which fastcore does not share."""
    mfd = os.memfd_create("fastcore-ssi", os.MFD_CLOEXEC)
    view = memoryview(mm)
    try:
        done = 0
        while done < size:
            try:
                n = os.write(mfd, view[done:])
            except OSError:
                break
            if n <= 0:
                break
            done += n
        parts = []
        got = 0
        while got < done:
            b = os.pread(mfd, done - got, got)
            if not b:
                break
            parts.append(b)
            got += len(b)
        return b"".join(parts)
    finally:
        view.release()
        os.close(mfd)


def initial_env(core: Handler, txn: Transaction, dc: DirConfig, filename: str) -> Vars:
    """ap_add_common_vars + ap_add_cgi_vars + add_include_vars, in httpd's order."""
    env = Vars()
    for k, v in txn.env.items():
        env.set(k, V.from_path(v))
    for k, v in txn.headers_in.items():
        if k in ("authorization", "proxy-authorization"):
            continue
        if not all((c.isascii() and c.isalnum()) or c == "-" for c in k):
            continue  # ap_add_common_vars does not export such a name
        name = k.upper().replace("-", "_")
        env.set(name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name, v)
    vh = txn.vhost
    name, port = core.srv.server_name_port(txn)
    env.set("PATH", os.environ.get("PATH", "/bin:/usr/bin:/usr/ucb:/usr/bsd:/usr/local/bin"))
    env.set("SERVER_SIGNATURE", V.from_path(core.signature(txn, dc)))
    env.set("SERVER_SOFTWARE", core.srv.banner)
    env.set("SERVER_NAME", name)
    env.set("SERVER_ADDR", txn.local_ip)
    env.set("SERVER_PORT", str(port))
    if txn.remote_host:
        env.set("REMOTE_HOST", txn.remote_host)
    env.set("REMOTE_ADDR", txn.client_ip)
    root = V.from_path(vh.document_root)
    env.set("DOCUMENT_ROOT", root)
    env.set("REQUEST_SCHEME", "https" if txn.conn.https() else "http")
    env.set("CONTEXT_PREFIX", "")
    env.set("CONTEXT_DOCUMENT_ROOT", root)
    env.set("SERVER_ADMIN", V.from_path(vh.server_admin))
    env.set("SCRIPT_FILENAME", V.from_path(filename))
    env.set("REMOTE_PORT", str(txn.remote_port))
    if txn.user:
        env.set("REMOTE_USER", txn.user)
    env.set("GATEWAY_INTERFACE", "CGI/1.1")
    env.set("SERVER_PROTOCOL", txn.protocol)
    env.set("REQUEST_METHOD", txn.method)
    env.set("QUERY_STRING", txn.query or "")
    req = txn.request
    env.set("REQUEST_URI", req.target if req is not None else V.from_path(txn.uri_path))
    walk = txn.walk
    info = V.from_path(walk.path_info) if walk is not None and walk.path_info else ""
    uri = V.from_path(txn.uri_path)
    env.set("SCRIPT_NAME", uri[:len(uri) - len(info)] if info and uri.endswith(info) else uri)
    if info:
        env.set("PATH_INFO", info)
        translated = _translated(core, txn, walk.path_info)  # type: ignore[union-attr]
        if translated is not None:
            env.set("PATH_TRANSLATED", translated)
    for lazy in ("DATE_LOCAL", "DATE_GMT", "LAST_MODIFIED"):
        env.set(lazy, LAZY)
    env.set("DOCUMENT_URI", uri)
    env.set("DOCUMENT_ARGS", txn.query or "")
    if info:
        env.set("DOCUMENT_PATH_INFO", info)
    env.set("USER_NAME", LAZY)
    env.set("DOCUMENT_NAME", V.from_path(os.path.basename(filename)))
    return env


def _translated(core: Handler, txn: Transaction, path_info: str) -> str | None:
    """PATH_TRANSLATED: the path info looked up as a URI (its file name and path info)."""
    path, _red = core.mapper.translate(txn.vhost, path_info, "")
    if path is None:
        return None
    walk = core.mapper.walk(txn.vhost, path)
    return V.from_path(walk.filename + walk.path_info)


@dataclass
class SubResult:
    """A sub-request's outcome: `setup` the status of its lookup (the phases before
    the handler), `status` the handler's, the transaction and answer it ran with."""

    setup: int
    status: int = 0
    sub: Transaction | None = None
    resp: Response | None = None


class RequestServices:
    """elements.Services for one document of one request."""

    def __init__(self, core: Handler, txn: Transaction, dc: DirConfig, mtime: float,
                 depth: int) -> None:
        self.core = core
        self.txn = txn
        self.dc = dc
        self.mtime = mtime
        self.depth = depth
        self.filename = V.from_path(txn.filename)
        self.env = Vars()
        self.errlog = core.srv.errlog(txn.vhost)
        self.client = f"{txn.client_ip}:{txn.remote_port}"

    def log(self, level: str, msg: str, status: str | None = None) -> None:
        if status is None:
            self.errlog.log(level, "include", msg, self.client, self.dc)
        elif self.errlog.enabled(level, "include", self.dc):
            self.errlog.log(level, "include", f"{status}: [client {self.client}] {msg}",
                            None, self.dc)

    def lazy(self, name: str, time_fmt: str) -> str | None:
        """add_include_vars_lazy: the dates in the current timefmt, the file's owner."""
        key = name.upper()
        if key == "DATE_LOCAL":
            return T.ht_time(int(self.txn.start_time), time_fmt, False)
        if key == "DATE_GMT":
            return T.ht_time(int(self.txn.start_time), time_fmt, True)
        if key == "LAST_MODIFIED":
            return T.ht_time(int(self.mtime), time_fmt, False)
        if key == "USER_NAME":
            walk = self.txn.walk
            try:
                return pwd.getpwuid(walk.st.st_uid).pw_name if walk and walk.st else None
            except KeyError:
                return "<unknown>"
        return None

    def expr_context(self, source: str | None, groups: list[str | None]) -> ExprContext:
        view = copy.copy(self.txn)
        view.env = {k: v for k, (_n, v) in self.env.rows.items() if isinstance(v, str)}
        return ExprContext(view, self.txn.response, source=source, groups=list(groups))

    # -- sub-requests ---------------------------------------------------------------
    def _relative(self, value: str) -> str | None:
        """apr_filepath_merge(SECUREROOTTEST | NOTABSOLUTE): a relative path that never
        climbs above its start, else None."""
        if value.startswith("/"):
            return None
        depth = 0
        parts: list[str] = []
        for seg in value.split("/"):
            if seg in ("", "."):
                continue
            if seg == "..":
                depth -= 1
                if depth < 0:
                    return None
                parts.pop()
                continue
            depth += 1
            parts.append(seg)
        return "/".join(parts)

    def _uri_for_file(self, rel: str) -> str:
        base = V.from_path(self.txn.uri_path)
        return base[:base.rfind("/") + 1] + rel

    def subrequest(self, uri: str, run: bool) -> SubResult:
        """ap_sub_req_lookup_uri (+ ap_run_sub_req when `run`) for byte-text `uri`."""
        txn, core = self.txn, self.core
        if self.depth >= MAX_SUBREQ_DEPTH:
            self.errlog.log("error", "core", f"AH00125: Request exceeded the limit of "
                            f"{MAX_SUBREQ_DEPTH} subrequest nesting levels due to probable "
                            "configuration error. Use 'LimitInternalRecursion' to increase "
                            "the limit if necessary. Use 'LogLevel debug' to get a "
                            "backtrace.", self.client, self.dc)
            return SubResult(500)
        if not uri.startswith("/"):
            base = V.from_path(txn.uri_path)
            uri = base[:base.rfind("/") + 1] + uri
        path_w, _, query = uri.partition("?")
        try:
            path = decode_path(path_w, txn.vhost.allow_encoded_slashes)
        except HttpError as e:
            return SubResult(e.status)
        sub = copy.copy(txn)
        sub.headers_in = {k: v for k, v in txn.headers_in.items() if k not in VALIDATORS}
        sub.method, sub.uri_path, sub.query = "GET", path, query
        sub.r_uri, sub.r_query, sub.request = path, query, None
        sub.walk = sub.handler_name = sub.response = None
        sub.env, sub.notes = {}, dict(txn.notes)
        sub.error_depth = txn.error_depth + 1  # no ErrorDocument inside a sub-request
        phases = core.phases
        try:
            rv = phases.run_request(core, sub)
            if isinstance(rv, Response):
                return SubResult(rv.status, sub=sub)
            if rv > OK:
                return SubResult(rv, sub=sub)
            if not run:
                return SubResult(200, sub=sub)
            token = _PARENT.set(Parent(self.env, self.mtime, self.depth + 1))
            try:
                resp = core.answer(sub, phases.run_handler(core, sub))
                # the sub-request's own resource filter: a nested document is parsed;
                # the protocol-level ones (DEFLATE skips sub-requests, headers) are the
                # main request's
                sub.response = resp
                nested = includes_filter(core, sub)
                if isinstance(nested, Response):
                    resp = nested
            finally:
                _PARENT.reset(token)
        except HttpError as e:
            return SubResult(e.status, sub=sub)
        return SubResult(200, resp.status, sub, resp)

    def include(self, tag: str, value: str, raw: str) -> str | None:
        f = self.filename
        if tag == "file":
            rel = self._relative(value)
            if rel is None:
                self.log("error", f'unable to include file "{raw}" in parsed file {f}',
                         ABOVE_ROOT)
                return None
            value = self._uri_for_file(rel)
        got = self.subrequest(value, run=True)
        if got.setup != 200:
            self.log("error", f'unable to include "{raw}" in parsed file {f}, subrequest '
                     f"setup returned {got.setup}")
            return None
        resp = got.resp
        assert resp is not None
        if (self.txn.dirconf and (self.txn.dirconf.options or 0) & OPT_INCNOEXEC
                and resp.ctype and not resp.ctype.startswith("text/")):
            self.log("error", f'unable to include potential exec "{raw}" in parsed file '
                     f"{f}, content type not text/*")
            return None
        if got.status != 200:
            self.log("error", f'unable to include "{raw}" in parsed file {f}, subrequest '
                     f"returned {got.status}")
            return None
        return _body(resp)

    def finfo(self, directive: str, tag: str, value: str) -> os.stat_result | None:
        f = self.filename
        if tag == "file":
            rel = self._relative(value)
            if rel is None:
                self.log("error", f'AH02668: unable to access file "{value}" in parsed '
                         f"file {f}", ABOVE_ROOT)
                return None
            got = self.subrequest(self._uri_for_file(rel), run=False)
            st = _found(got)
            if st is None:
                self.log("error", f'AH02670: unable to lookup information about "{value}" '
                         f"in parsed file {f}")
            return st
        if tag == "virtual":
            st = _found(self.subrequest(value, run=False))
            if st is None:
                self.log("error", f'AH01339: unable to get information about "{value}" in '
                         f"parsed file {f}")
            return st
        self.log("error", f'AH01340: unknown parameter "{tag}" to tag {directive} in {f}')
        return None


def _found(got: SubResult) -> os.stat_result | None:
    sub = got.sub
    if got.setup != 200 or sub is None or sub.walk is None or sub.walk.st is None:
        return None
    return sub.walk.st


def _body(resp: Response) -> str:
    """A sub-request's answer as byte text (what it would have written)."""
    if resp.file is not None:
        path, offset, count = resp.file
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                return fh.read(count).decode("latin-1")
        except OSError:
            return ""
    return (resp.body or b"").decode("latin-1")
