"""The core's part of a request (Apache's http_core and request.c): the request runs
through the phases (fastcore.core.phases) the loaded modules registered into, the
default handler serves files, and errors become Apache's error responses (ErrorDocument
text, URL or local path through an internal redirect).

The core knows no module: it runs what the registry gives it.  Its own phase functions
are below: translate_name (Redirect/Alias/DocumentRoot, core/mapping.py), TRACE and the
directory walk in map_to_storage, ScriptAlias's handler in type_checker, Redirect inside
<Location>/<Directory> in fixups, healthz and the default handler.

The result is a `Response`; connection.py serializes and sends it.  Successful plain-file
responses also carry a cache entry the server keeps for the fast path.
"""
from __future__ import annotations

import copy
import os
import stat as stmod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from fastcore.config.model import DirConfig
from fastcore.core import conditional as C
from fastcore.core import errors as E
from fastcore.core import static as S
from fastcore.core import subrequest
from fastcore.core.cacheable import CacheInfo, produced_by
from fastcore.core.mapping import IfOutcome, LinkRefused, WalkResult, decode_path, loose_path
from fastcore.core.paths import fs_to_wire, to_bytes
from fastcore.core.phases import (
    DECLINED,
    FIRST,
    HANDLER,
    MAP_TO_STORAGE,
    OK,
    OUTPUT_FILTER,
    REALLY_FIRST,
    REALLY_LAST,
    TRANSLATE_NAME,
    TYPE_CHECKER,
    Hook,
    HookResult,
    Phases,
    Registration,
)
from fastcore.core.protocols import announce_upgrades
from fastcore.core.request import HttpError, Request
from fastcore.core.response import ALLOW_405, ALLOW_OPTIONS, KNOWN_METHODS, Response, VaryFields
from fastcore.core.transaction import Transaction
from fastcore.modules import REGISTRY, ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.server import HttpServer

CtypeOverride = tuple[str | None, str | None, str | None]  # (Content-Type, language, encoding)


class Handler:
    """The core bound to one HttpServer: its services for the modules' phase functions
    (error, default_handler, byte_ranges, entry_allowed...) and the phases, ordered once
    per (re)start from the loaded modules' registrations."""

    def __init__(self, srv: HttpServer, registry: Sequence[ModuleSpec] | None = None) -> None:
        self.srv = srv
        self.resolver = srv.resolver
        self.mapper = srv.mapper
        self.mime = srv.mime
        specs = REGISTRY.load(srv.cfg.modules) if registry is None else registry
        regs = registrations(specs, srv.cfg.modules)
        # the <If> conditions' Vary: only where a request can meet an <If> (a test's
        # stand-in resolver without the attribute: always)
        if getattr(self.resolver, "if_possible", True):
            regs.append(Registration("core_module", IF_VARY))
        self.phases = Phases.build(regs)

    # ------------------------------------------------------------ errors
    def error(self, txn: Transaction, status: int, notes: str | None = None,
              extra: Sequence[tuple[str, str]] = (), dirconf: DirConfig | None = None,
              variants: str | None = None, location: str | None = None) -> Response:
        """Apache's error response, honouring ErrorDocument (text, URL, local path)."""
        vhost = txn.vhost
        dc = dirconf or (vhost.dir_defaults if vhost is not None else None)
        headers = list(extra)
        if location:
            headers.insert(0, ("Location", location))
        doc = E.error_document(dc.error_documents.get(status)) if dc is not None else None
        additional = ""
        if doc is not None and txn.error_depth == 0:
            kind, arg = doc
            if kind == "url":
                url = fs_to_wire(arg)  # the config's bytes, unescaped, as Apache sends them
                r = Response(302, [("Location", url)], E.ERROR_CTYPE,
                             E.error_body(302, txn.method, url, sig=self.signature(txn, dc)))
                return r
            if kind == "text":
                return Response(status, headers, E.ERROR_CTYPE, to_bytes(arg))
            if kind == "local":
                sub = self.internal(txn, arg, status)
                if 200 <= sub.status < 300:
                    sub.status = status
                    sub.headers = headers + sub.headers
                    sub.cache = None
                    return sub
                additional = (f"<p>Additionally, a {E.status_line(sub.status)}\nerror was "
                              "encountered while trying to use an ErrorDocument to handle the "
                              "request.</p>\n")
        body = E.error_body(status, txn.method, location, notes,
                            additional + self.signature(txn, dc),
                            vhost.server_admin if vhost else "[no address given]", variants)
        r = Response(status, headers, E.ERROR_CTYPE, body)
        if txn.method == "HEAD" and status >= 400:
            r.no_length = True
        return r

    def signature(self, txn: Transaction, dc: DirConfig | None) -> str:
        mode = dc.server_signature if dc is not None else None
        if not mode or mode == "off":
            return ""
        name, port = self.srv.server_name_port(txn)
        return E.signature(mode, self.srv.banner, name, port, txn.vhost.server_admin)

    def internal(self, txn: Transaction, uri: str, status: int = 0) -> Response:
        """Internal redirect for a local ErrorDocument (GET of that URI); errors inside it
        do not look up ErrorDocument again (Apache's "Additionally, ..." case).  The new
        request's environment is the old one renamed REDIRECT_* plus REDIRECT_STATUS
        (internal_internal_redirect), what the log's %{VAR}e then shows."""
        saved = (txn.dirconf, txn.request, txn.r_uri, txn.r_query, txn.mapped, txn.walk,
                 txn.handler_name)
        env = {"redirect_" + k: v for k, v in txn.env.items()}
        if status:
            env["redirect_status"] = str(status)
        txn.env = env
        txn.error_depth += 1
        txn.cacheable = False  # the answer is another URI's, chosen by the error
        txn.method = "GET"  # Apache re-runs the request as GET (and logs %m as GET)
        txn.user = None  # a new request_rec: the log's %u is the redirect's (none)
        try:
            # the configured URL's bytes, parsed and %-decoded as a request target
            path, _, query = fs_to_wire(uri).partition("?")
            txn.query = query  # the log's %q is the final request's r->args
            path = decode_path(path, txn.vhost.allow_encoded_slashes)
            resp = self.dispatch(txn, path, query)
            if resp.internal_dc is None:
                resp.internal_dc = txn.dirconf
            return resp
        except HttpError as e:
            return Response(e.status)
        finally:
            txn.error_depth -= 1
            (txn.dirconf, txn.request, txn.r_uri, txn.r_query, txn.mapped, txn.walk,
             txn.handler_name) = saved

    # ------------------------------------------------------------ main entry
    def handle(self, txn: Transaction, req: Request) -> Response:
        """The answer to one request: the phases and the handler (or the error they
        end in), then the output filters over it."""
        resp = self._respond(txn, req)
        try:
            return self.phases.run_output(self, txn, resp)
        except Exception as exc:  # a filter's bug: Apache's 500, never a dead worker
            self.srv.errlog(txn.vhost).log(
                "error", "core", f"internal error in an output filter: {exc!r}",
                f"{txn.client_ip}:{txn.remote_port}", txn.dirconf)
            return self.error(txn, 500, dirconf=txn.dirconf)

    def _respond(self, txn: Transaction, req: Request) -> Response:
        try:
            if req.path_raw == "*":
                star = Response(200, [], None, b"")
                announce_upgrades(txn, star)  # its handler runs core's announcement too
                return star
            vhost = txn.vhost
            log = self.srv.errlog(vhost)
            client = f"{txn.client_ip}:{txn.remote_port}"
            try:
                uri = decode_path(req.path_raw, vhost.allow_encoded_slashes,
                                  vhost.merge_slashes)
            except HttpError as e:
                if e.status == 400:  # ap_normalize_path refused it (bad %-escape, ../ above /)
                    log.log("error", "core", f"AH10244: invalid URI path ({req.path_raw})",
                            client, vhost.dir_defaults)
                raise
            txn.uri_path = uri
            return self.dispatch(txn, uri, req.query, req)
        except HttpError as e:
            if txn.dirconf is None:  # rejected before mapping: log the path as Apache does
                txn.uri_path = loose_path(req.path_raw)
            return self.error(txn, e.status, e.notes, list(e.headers), txn.dirconf)
        except Exception as exc:  # .htaccess errors, handler bugs: 500, never a dead worker
            htaccess = "htaccess" in type(exc).__name__.lower()  # Apache's alert, its text
            self.srv.errlog(txn.vhost).log(
                "alert" if htaccess else "error", "core",
                str(exc) if htaccess else f"internal error: {exc!r}",
                f"{txn.client_ip}:{txn.remote_port}", txn.dirconf)
            return self.error(txn, 500, dirconf=txn.dirconf)

    def dispatch(self, txn: Transaction, uri: str, query: str,
                 req: Request | None = None) -> Response:
        """ap_process_request_internal and the handler for `uri` (the request's, or an
        internal redirect's: then `req` is None)."""
        txn.r_uri, txn.r_query, txn.request = uri, query, req
        txn.walk = txn.handler_name = None
        txn.satisfy_any = False  # decided again by this URI's check_access
        phases = self.phases
        rv = phases.run_request(self, txn)
        if isinstance(rv, Response):
            return rv
        if rv <= OK:  # on to the handler
            rv = phases.run_handler(self, txn)
            if isinstance(rv, Response):
                announce_upgrades(txn, rv)
        return self.answer(txn, rv)

    def answer(self, txn: Transaction, rv: HookResult) -> Response:
        """A phase's result as the response: a status is an error (ErrorDocument
        applies); a handler phase where every function declined is httpd's 500."""
        if isinstance(rv, Response):
            return rv
        return self.error(txn, rv if rv >= 100 else 500, dirconf=txn.dirconf)

    def directory_request(self, txn: Transaction) -> bool:
        """A directory without path info that no CGI handler takes: mod_dir's, then
        mod_autoindex's, then the default handler's directory answer."""
        walk = txn.walk
        if walk is None or walk.st is None or walk.path_info:
            return False
        return stmod.S_ISDIR(walk.st.st_mode) and txn.handler_name != "cgi-script"

    # ------------------------------------------------------------ handlers
    def default_handler(self, txn: Transaction, filename: str, st: os.stat_result | None,
                        path_info: str, dc: DirConfig,
                        extra: list[tuple[str, str]] | None = None,
                        ctype_override: CtypeOverride | None = None,
                        vlv: str | None = None) -> Response:
        method = txn.method
        if method not in KNOWN_METHODS:
            return self.not_implemented(txn, dc)
        if ctype_override is not None:
            ctype, lang, enc = ctype_override
        else:
            ctype = self.mime.content_type_header(filename, dc)
            _t, _c, lang, enc = self.mime.lookup(filename, dc)
        if method == "OPTIONS":
            return Response(200, [("Allow", self.allow(txn))], ctype, b"")
        if method not in ("GET", "HEAD", "POST"):
            return self.not_allowed(txn, dc)
        if st is None or not S.is_regular(st) or (path_info and dc.accept_path_info != "on"):
            if st is None:
                self.srv.errlog(txn.vhost).log("info", "core", f"AH00128: File does not exist: {filename}",
                                       f"{txn.client_ip}:{txn.remote_port}", dc)
            return self.error(txn, 404, dirconf=dc)
        return self.file_response(txn, filename, st, dc, ctype, lang, enc, extra or [],
                                  vlv)

    def directory_default(self, txn: Transaction, dirname: str, dc: DirConfig) -> Response:
        """A directory no module answered (no index, no listing): the default handler's
        method rules, then its 404 (AH00129)."""
        if txn.method not in KNOWN_METHODS:
            return self.not_implemented(txn, dc)
        if txn.method == "OPTIONS":
            return Response(200, [("Allow", self.allow(txn))], None, b"")
        if txn.method not in ("GET", "HEAD", "POST"):  # Apache 2.4.71: DELETE, CONNECT
            return self.not_allowed(txn, dc)  # on a directory are 405, not 403
        self.srv.errlog(txn.vhost).log(
            "info", "core", f"AH00129: Attempt to serve directory: {shown_directory(txn, dirname)}",
            f"{txn.client_ip}:{txn.remote_port}", dc)
        return self.error(txn, 404, dirconf=dc)

    def not_implemented(self, txn: Transaction, dc: DirConfig) -> Response:
        """The default handler's 501 for a method Apache does not know, with its AH00135."""
        self.srv.errlog(txn.vhost).log(
            "error", "core", f"AH00135: Invalid method in request {txn.request_line}",
            f"{txn.client_ip}:{txn.remote_port}", dc)
        return self.error(txn, 501, extra=[("Allow", self.allow(txn))], dirconf=dc)

    def not_allowed(self, txn: Transaction, dc: DirConfig) -> Response:
        """The default handler's 405 for a known method it does not serve (PUT, DELETE,
        CONNECT without a proxy...), with the Allow list Apache sends."""
        allow = ALLOW_405 if self.srv.trace_enabled(txn.vhost) else ALLOW_405[:-6]
        return self.error(txn, 405, extra=[("Allow", allow)], dirconf=dc)

    def allow(self, txn: Transaction) -> str:
        if self.srv.trace_enabled(txn.vhost):
            return ALLOW_OPTIONS
        return ALLOW_OPTIONS.replace(",TRACE", "")

    def file_response(self, txn: Transaction, filename: str, st: os.stat_result, dc: DirConfig,
                      ctype: str | None, lang: str | None, enc: str | None,
                      extra: list[tuple[str, str]],
                      vlv: str | None = None) -> Response:
        now = txn.start_time
        tag = S.etag(st, dc.file_etag, now, filename)
        mtime = S.last_modified_time(st, now)
        tag = C.negotiated_etag(tag, vlv)
        base: list[tuple[str, str]] = [("Last-Modified", S.http_date(mtime).decode())]
        if tag:
            base.append(("ETag", tag))
        base.append(("Accept-Ranges", S.accept_ranges(dc)))
        lead: list[tuple[str, str]] = list(extra)
        if enc:
            fix = txn.encoding_fixup  # mod_negotiation's: the client's gzip/x-gzip spelling
            if fix is not None:
                enc = fix(enc, txn.headers_in.get("accept-encoding")) or enc
            lead.append(("Content-Encoding", enc))
        if lang:
            lead.append(("Content-Language", lang))
        hd = txn.headers_in
        cond = C.conditional_status(txn.method, hd, tag, mtime, now)
        if cond == 304:  # Apache's 304 leaves out Content-Language (measured)
            return Response(304, [h for h in lead if h[0] != "Content-Language"] + base, None, b"")
        if cond == 412:  # Apache: an empty body, but HEAD keeps the file's Content-Length
            r = Response(412, lead + base + [("Content-Length", "0")], ctype, b"")
            if txn.method == "HEAD":
                r.headers[-1], r.file = ("Content-Length", str(st.st_size)), (filename, 0, st.st_size)
            return r
        size = st.st_size
        ranged = self.byte_ranges(txn, dc, lead, base, filename, 0, size, ctype, tag, mtime)
        if ranged is not None:
            return ranged
        r = Response(200, lead + base + [("Content-Length", str(size))], ctype, None)
        r.file = (filename, 0, size)
        # the served file's facts; whether (and how) it is cached is core/cacheable.py's
        r.cache = CacheInfo(fname=filename, ino=st.st_ino, size=size, mtime_ns=st.st_mtime_ns,
                            ctime_ns=st.st_ctime_ns, mtime=mtime, tag=tag, ctype=ctype,
                            lang=lang, enc=enc, dc=dc)
        return r

    def byte_ranges(self, txn: Transaction, dc: DirConfig, lead: list[tuple[str, str]],
                    base: list[tuple[str, str]], filename: str, offset: int, size: int,
                    ctype: str | None, tag: str | None, mtime: int) -> Response | None:
        """The 206/416 answer to a Range request over `size` bytes at `offset` of the
        file (a whole file, or a type map's Body:), or None to send everything."""
        hd = txn.headers_in
        rng = hd.get("range")
        if txn.error_depth:  # an ErrorDocument's answer goes out with the error's status,
            return None      # and httpd's byterange filter serves ranges of 200s only
        if rng is None or not C.if_range_ok(hd.get("if-range"), tag, mtime, txn.start_time):
            return None
        ranges = S.parse_ranges(rng, size, S.range_limits(dc))
        if ranges == 416:  # an error page: Apache drops the content encoding/languages
            keep = [(k, v) for k, v in lead if k not in ("Content-Encoding", "Content-Language")]
            r = self.error(txn, 416, extra=keep, dirconf=dc)
            r.no_length = True
            r.chunked = txn.proto_num >= 1001
            r.close = not r.chunked
            return r
        if isinstance(ranges, list) and len(ranges) == 1:
            s, e = ranges[0]
            r = Response(206, lead + base, ctype, None)
            r.headers.append(("Content-Length", str(e - s + 1)))
            r.headers.append(("Content-Range", f"bytes {s}-{e}/{size}"))
            r.file = (filename, offset + s, e - s + 1)
            return r
        if isinstance(ranges, list):
            boundary = S.new_boundary()
            parts, tail = S.multipart_parts(ranges, size, ctype, boundary)
            r = Response(206, lead + base, f"multipart/byteranges; boundary={boundary}", None)
            r.parts = [(h, offset + s, n) for h, s, n in parts]
            r.tail, r.filename = tail, filename
            r.headers.append(("Content-Length", str(r.length())))
            return r
        return None

    def if_outcome(self, txn: Transaction, req: Transaction, dc: DirConfig) -> IfOutcome:
        """The <If> sections of `dc` for `req` (the request, or a sub-request's copy of
        it): a failed evaluation is false with Apache's two core:error lines; a
        request-dependent condition makes the answer of `txn` not cacheable."""
        out = self.mapper.if_walk(req, dc)
        if not out.cacheable:
            txn.cacheable = False
        if out.failures:
            log = self.srv.errlog(txn.vhost)
            client = f"{txn.client_ip}:{txn.remote_port}"
            for f in out.failures:
                sec = f.section
                log.log("error", "core", f"Evaluation of expression from {sec.filename}:"
                        f"{sec.line} failed: {f.message}", client, out.dirconf)
                log.log("error", "core", "AH00039: Failed to evaluate <If > condition: "
                        f"{f.message}", client, out.dirconf)
        return out

    def sub_if(self, txn: Transaction, uri: str, filename: str, dc: DirConfig) -> DirConfig:
        """ap_if_walk of a sub-request for `uri` (mapped to `filename`, no query), as
        ap_sub_req_lookup_dirent runs it: the sub-request's own Vary is not the answer's."""
        if not dc.if_sections:
            return dc
        sub = copy.copy(txn)
        sub.r_uri = sub.uri_path = uri
        sub.query = sub.r_query = ""
        sub.filename = filename
        sub.walk = None
        sub.env = {}
        return self.if_outcome(txn, sub, dc).dirconf

    def entry_allowed(self, txn: Transaction,
                      on_own: Callable[[], None] | None = None) -> Callable[[str], bool]:
        """Veto for listing entries and negotiation variants, as Apache's per-entry
        sub-request: the walk to the entry (a symlink without FollowSymLinks, a broken
        .htaccess below) and the entry's own Require (<Files ".ht*"> Require all denied).
        `on_own` is called for an entry decided under a configuration of its own (not
        the main request's), whose outcome may then rest on more than its name."""
        vhost = txn.vhost
        base = txn.uri_path[:txn.uri_path.rfind("/") + 1]

        def allowed(path: str) -> bool:
            dc = self.mapper.entry_allowed(vhost, path)
            if dc is None:
                if on_own is not None:
                    on_own()
                return False
            edc = self.entry_dc(txn, base, path, dc)
            if edc is txn.dirconf:  # request.c: the main request's own configuration
                return True
            if on_own is not None:
                on_own()
            return subrequest.allowed(self, txn, edc, path)
        return allowed

    def entry_dc_allowed(self, txn: Transaction, base: str, path: str, dc: DirConfig) -> bool:
        """The rest of entry_allowed once the walk gave the entry's DirConfig `dc`:
        <Location>, <If> and Require for the entry's URI (`base` + its name).  A listing
        that already knows an entry's walk result (mod_autoindex's probe) calls this."""
        dc = self.entry_dc(txn, base, path, dc)
        # request.c: a sub-request under the very configuration its main request was
        # granted with skips the access checks (Apache compares per_dir_config pointers)
        return dc is txn.dirconf or subrequest.allowed(self, txn, dc, path)

    def entry_dc(self, txn: Transaction, base: str, path: str, dc: DirConfig) -> DirConfig:
        """The DirConfig an entry's sub-request decides access under: the walk's `dc`
        with <Location> and <If> for the entry's URI (`base` + its name)."""
        uri = base + os.path.basename(path)
        return self.sub_if(txn, uri, path, self.resolver.location_config(txn.vhost, uri, dc))

    def trace(self, txn: Transaction, req: Request) -> Response:
        mode = txn.vhost.trace_enable
        if mode == "off":  # Apache answers with an empty Allow field here
            return self.error(txn, 405, extra=[("Allow", "")])
        if req.body_kind != "none" and mode != "extended":
            raise HttpError(413)
        lines = [req.request_line] + [f"{k}: {v}" for k, v in req.fields]
        body = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        r = Response(200, [], "message/http", body)
        r.no_length = True
        r.chunked = txn.proto_num >= 1001
        r.close = not r.chunked
        return r


def shown_directory(txn: Transaction, dirname: str) -> str:
    """The directory as Apache's error-log lines name it (a trailing slash when the URI
    has one)."""
    return dirname.rstrip("/") + "/" if txn.r_uri.endswith("/") else dirname


# ---------------------------------------------------------------- core's phase functions
def translate_name(core: Handler, txn: Transaction) -> HookResult:
    """Redirect, Alias, DocumentRoot (mod_alias and core's translate, in mapping.py)."""
    path, red = core.mapper.translate(txn.vhost, txn.r_uri, txn.r_query)
    if red is not None:
        status, loc = red
        if status == 410 or loc is None:
            return core.error(txn, status)
        if loc.startswith("/"):
            loc = core.srv.self_url(txn, loc)
        return core.error(txn, status, location=loc)
    txn.mapped = path
    return OK


def trace_method(core: Handler, txn: Transaction) -> HookResult:
    """TRACE is answered before the walk (http_core's map_to_storage hook)."""
    if txn.method == "TRACE" and txn.request is not None:
        return core.trace(txn, txn.request)
    return DECLINED


def walk_storage(core: Handler, txn: Transaction) -> HookResult:
    """The directory walk, then <Location>: r->filename, finfo, path info, per-dir config."""
    vhost = txn.vhost
    try:
        walk = core.mapper.walk(vhost, txn.mapped)
    except LinkRefused as e:  # directory_walk's AH00037 (a cache hit's refusal lands here)
        core.srv.errlog(vhost).log(
            "error", "core", "AH00037: Symbolic link not allowed or link target not "
            f"accessible: {e.path}", f"{txn.client_ip}:{txn.remote_port}", vhost.dir_defaults)
        raise
    txn.walk = walk
    txn.filename = walk.filename  # r->filename, the access log's %f
    dc = core.resolver.location_config(vhost, txn.r_uri, walk.dirconf)
    if dc.if_sections:
        dc = if_walk(core, txn, walk, dc)
    txn.dirconf = dc
    produced_by(txn, walk.cacheable, dc, walk.links, walk.deps)
    return OK


def if_walk(core: Handler, txn: Transaction, walk: WalkResult, dc: DirConfig) -> DirConfig:
    """ap_if_walk after the <Location> merge; the headers read are the answer's Vary."""
    out = core.if_outcome(txn, txn, dc)
    walk.vary = out.vary
    return out.dirconf


def if_vary(core: Handler, txn: Transaction) -> HookResult:
    """The request headers the <If> conditions read, in Vary: Apache merges them into
    headers_out during the walk, so they come before any other Vary token and an answer
    whose headers are generated (an error, a redirect) does not carry them; 304 does."""
    walk, resp = txn.walk, txn.response
    if walk is None or not walk.vary or resp is None or (
            resp.status >= 300 and resp.status != 304):
        return OK
    fields = VaryFields.take(resp.headers)
    resp.headers = fields.put([*walk.vary, *fields.tokens], 0)
    return OK


IF_VARY = Hook(OUTPUT_FILTER, if_vary, REALLY_FIRST)


def override_type(core: Handler, txn: Transaction) -> HookResult:
    """core_override_type: SetHandler is a core directive, the scope's handler whether
    or not a module types files (mod_mime, when loaded, names the same one)."""
    dc = txn.dirconf
    if dc is not None and dc.set_handler and dc.set_handler.lower() != "none":
        txn.handler_name = dc.set_handler
    return DECLINED


def healthz(core: Handler, txn: Transaction) -> HookResult:
    """`SetHandler healthz` (a fastcore extension): 200 while this process takes new
    work, 503 once it drains for a graceful stop, so a balancer moves away first."""
    if txn.handler_name != "healthz":
        return DECLINED
    if getattr(core.srv, "draining", False):
        r = Response(503, [("Content-Length", "9")], "text/plain", b"draining\n")
        r.close = True
        return r
    return Response(200, [("Content-Length", "3"), ("Cache-Control", "no-store")],
                    "text/plain", b"ok\n")


def default_handler(core: Handler, txn: Transaction) -> HookResult:
    """The handler of last resort: files (and their errors), directories nobody took."""
    walk = txn.walk
    dc = txn.dirconf
    if walk is None or dc is None:
        return DECLINED
    if core.directory_request(txn):
        return core.directory_default(txn, walk.filename, dc)
    return core.default_handler(txn, walk.filename, walk.st, walk.path_info, dc)


CORE_HOOKS = (
    Hook(TRANSLATE_NAME, translate_name, REALLY_LAST),
    Hook(MAP_TO_STORAGE, trace_method, FIRST),
    Hook(MAP_TO_STORAGE, walk_storage, REALLY_LAST),
    Hook(TYPE_CHECKER, override_type, REALLY_FIRST),
    Hook(HANDLER, healthz, FIRST),
    Hook(HANDLER, default_handler, REALLY_LAST),
)


def registrations(registry: Sequence[ModuleSpec], loaded: Sequence[str]
                  ) -> list[Registration]:
    """The core's functions, then those of each module LoadModule loaded (httpd
    registers a module's hooks when it is loaded, and only then)."""
    regs = [Registration("core_module", h) for h in CORE_HOOKS]
    names = set(loaded)
    for spec in registry:
        if spec.name in names:
            regs += [Registration(spec.name, h) for h in spec.hooks]
    return regs
