"""Request dispatch (the slow path): vhost, URI decoding, Redirect/Alias, TRACE, the
directory walk, <Location>, Require, DirectorySlash/DirectoryIndex, negotiation,
server-status, and the default handler's method rules - in Apache's hook order.

The result is a `Response`; server.py serializes and sends it.  Successful plain-file
responses also return a cache entry the server keeps for the fast path.
"""
from __future__ import annotations

import os
import stat as stmod

from fastcore._ext import load
from fastcore.config.model import OPT_MULTI, DirConfig, VirtualHost
from fastcore.core import conditional as C
from fastcore.core import errors as E
from fastcore.core import static as S
from fastcore.core.fastpath import CacheInfo, produced_by
from fastcore.core.mapping import apply_redirects, decode_path, loose_path, normalize
from fastcore.core.paths import fs_to_wire, to_bytes
from fastcore.core.request import HttpError, Request
from fastcore.core.response import (  # noqa: F401 - Response is this module's API too
    ALLOW_405,
    ALLOW_OPTIONS,
    KNOWN_METHODS,
    Response,
)
from fastcore.modules.mod_alias import alias_dir
from fastcore.modules.mod_dir import DirectoryMixin, HeaderView
from fastcore.modules.mod_env import request_env
from fastcore.modules.mod_mime import mime_config
from fastcore.modules.mod_negotiation import handler as negotiation
from fastcore.modules.mod_negotiation import typemap as tm
from fastcore.modules.mod_negotiation.selection import fix_encoding
from fastcore.modules.mod_status import handler as status
from fastcore.modules.mod_status import metrics

_sf = load("sendfile")


class Handler(DirectoryMixin):
    """Dispatch bound to one HttpServer (resolver, mapper, mime, negotiation modules)."""

    def __init__(self, srv: object) -> None:
        self.srv = srv
        self.resolver = srv.resolver
        self.mapper = srv.mapper
        self.mime = srv.mime

    # ------------------------------------------------------------ errors
    def error(self, txn: object, status: int, notes: str | None = None,
              extra: list[tuple[str, str]] | tuple = (), dirconf: DirConfig | None = None,
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
                sub = self.internal(txn, arg)
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

    def signature(self, txn: object, dc: DirConfig | None) -> str:
        mode = dc.server_signature if dc is not None else None
        if not mode or mode == "off":
            return ""
        name, port = self.srv.server_name_port(txn)
        return E.signature(mode, self.srv.banner, name, port, txn.vhost.server_admin)

    def internal(self, txn: object, uri: str) -> Response:
        """Internal redirect for a local ErrorDocument (GET of that URI); errors inside it
        do not look up ErrorDocument again (Apache's "Additionally, ..." case)."""
        saved = txn.dirconf
        txn.error_depth += 1
        txn.cacheable = False  # the answer is another URI's, chosen by the error
        txn.method = "GET"  # Apache re-runs the request as GET (and logs %m as GET)
        try:
            # the configured URL's bytes, parsed and %-decoded as a request target
            path, _, query = fs_to_wire(uri).partition("?")
            path = decode_path(path, txn.vhost.allow_encoded_slashes)
            return self.dispatch(txn, path, query, 1)
        except HttpError as e:
            return Response(e.status)
        finally:
            txn.error_depth -= 1
            txn.dirconf = saved

    # ------------------------------------------------------------ main entry
    def handle(self, txn: object, req: Request) -> Response:
        try:
            if req.path_raw == "*":
                return Response(200, [], None, b"")
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
            return self.dispatch(txn, uri, req.query, 0, req)
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

    def dispatch(self, txn: object, uri: str, query: str, recursion: int,
                 req: Request | None = None) -> Response:
        vhost: VirtualHost = txn.vhost
        method = txn.method
        path, red = self.mapper.translate(vhost, uri, query)
        if red is not None:
            status, loc = red
            if status == 410 or loc is None:
                return self.error(txn, status)
            if loc.startswith("/"):
                loc = self.srv.self_url(txn, loc)
            return self.error(txn, status, location=loc)
        if method == "TRACE" and req is not None:
            return self.trace(txn, req)
        walk = self.mapper.walk(vhost, path)
        txn.filename = walk.filename  # r->filename, the access log's %f
        dc = self.resolver.location_config(vhost, uri, walk.dirconf)
        txn.dirconf = dc
        produced_by(txn, walk.cacheable, dc)
        granted = self.srv.authorize(txn, dc, walk.filename)
        if granted is False:
            return self.error(txn, 403, dirconf=dc)
        txn.env = request_env(dc)  # the fixups: mod_env's variables
        redirects = alias_dir(dc).redirects
        if redirects:
            red = apply_redirects(redirects, uri, query)
            if red is not None:
                status, loc = red
                if loc is not None and loc.startswith("/"):
                    loc = self.srv.self_url(txn, loc)
                return self.error(txn, status, location=loc, dirconf=dc)
        handler = self.handler_name(walk.filename, dc)
        if handler is None and self.mapper.script_aliased(vhost, uri):
            handler = "cgi-script"
        if handler == "server-status":
            return self.server_status(txn, query)
        if handler == "metrics" and "status_module" in self.srv.cfg.modules:
            return self.metrics(txn)
        if handler == "healthz":
            return self.healthz()
        st = walk.st
        if (st is not None and stmod.S_ISDIR(st.st_mode) and not walk.path_info
                and handler != "cgi-script"):
            return self.directory(txn, uri, query, walk.filename, dc, recursion)
        if handler == "type-map" and S.is_regular(st):
            return self.negotiated(txn, walk.filename, dc, typemap=True,
                                   path_info=walk.path_info)
        if st is None and (dc.options or 0) & OPT_MULTI:
            neg = self.negotiated(txn, walk.filename, dc, typemap=False,
                                  path_info=walk.path_info)
            if neg is not None:
                return neg
        return self.default_handler(txn, walk.filename, st, walk.path_info, dc, walk.cacheable)

    def handler_name(self, filename: str, dc: DirConfig) -> str | None:
        if dc.set_handler and dc.set_handler.lower() != "none":
            return dc.set_handler
        base = os.path.basename(filename)
        for ext in reversed(base.split(".")[1:]):
            h = mime_config(dc).add_handler.get(ext.lower())
            if h:
                return h
        return None

    # ------------------------------------------------------------ handlers
    def default_handler(self, txn: object, filename: str, st: os.stat_result | None,
                        path_info: str, dc: DirConfig, cacheable: bool,
                        extra: list[tuple[str, str]] | None = None,
                        ctype_override: tuple | None = None, vlv: str | None = None) -> Response:
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
        return self.file_response(txn, filename, st, dc, ctype, lang, enc, cacheable, extra or [],
                                  vlv)

    def not_implemented(self, txn: object, dc: DirConfig) -> Response:
        """The default handler's 501 for a method Apache does not know, with its AH00135."""
        self.srv.errlog(txn.vhost).log(
            "error", "core", f"AH00135: Invalid method in request {txn.request_line}",
            f"{txn.client_ip}:{txn.remote_port}", dc)
        return self.error(txn, 501, extra=[("Allow", self.allow(txn))], dirconf=dc)

    def not_allowed(self, txn: object, dc: DirConfig) -> Response:
        """The default handler's 405 for a known method it does not serve (PUT, DELETE,
        CONNECT without a proxy...), with the Allow list Apache sends."""
        allow = ALLOW_405 if self.srv.trace_enabled(txn.vhost) else ALLOW_405[:-6]
        return self.error(txn, 405, extra=[("Allow", allow)], dirconf=dc)

    def allow(self, txn: object) -> str:
        if self.srv.trace_enabled(txn.vhost):
            return ALLOW_OPTIONS
        return ALLOW_OPTIONS.replace(",TRACE", "")

    def file_response(self, txn: object, filename: str, st: os.stat_result, dc: DirConfig,
                      ctype: str | None, lang: str | None, enc: str | None,
                      cacheable: bool, extra: list[tuple[str, str]],
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
        if enc:  # mod_negotiation's fixup: the client's spelling of gzip/x-gzip
            enc = fix_encoding(enc, txn.headers_in.get("accept-encoding"))
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
        # Not for the fast path: encoded files (their Content-Encoding depends on the
        # request's Accept-Encoding) and negotiated responses (`extra`).
        if (cacheable and txn.cacheable and not extra and not enc and tag is not None
                and not tag.startswith("W/")):
            r.cache = CacheInfo(filename, st.st_ino, st.st_size, st.st_mtime_ns, mtime, tag,
                                ctype, lang, enc, dc, st.st_ctime_ns)
        return r

    def byte_ranges(self, txn: object, dc: DirConfig, lead: list[tuple[str, str]],
                    base: list[tuple[str, str]], filename: str, offset: int, size: int,
                    ctype: str | None, tag: str | None, mtime: int) -> Response | None:
        """The 206/416 answer to a Range request over `size` bytes at `offset` of the
        file (a whole file, or a type map's Body:), or None to send everything."""
        hd = txn.headers_in
        rng = hd.get("range")
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

    def negotiated(self, txn: object, filename: str, dc: DirConfig, typemap: bool,
                   quiet: bool = False, path_info: str = "") -> Response | None:
        """MultiViews or a type map.  With path info the choice is made (not
        transparently) and then refused by the default handler: 404 carrying the Vary
        (and HTTP/1.0 Expires) of the negotiation, as Apache answers."""
        txn.cacheable = False  # chosen among variants (and by the request's Accept*)
        hd = HeaderView(txn.headers_in)
        vdc: DirConfig | None = None
        try:
            if typemap:
                res = tm.resolve(filename, hd, dc, self.mime, method=txn.method,
                                 path_info=bool(path_info))
                if path_info and txn.uri_path.endswith(path_info):
                    # mod_negotiation cuts the path info off r->uri before redirecting
                    txn.uri_path = txn.uri_path[:len(txn.uri_path) - len(path_info)]
                if res.path is not None and res.body is None and not path_info:
                    # Apache serves a URI variant through an internal redirect: the
                    # variant's own walk, <Location> and Require apply, and its type,
                    # language, encoding and ETag come from its own configuration.
                    denied, vdc = self.redirect_target(txn, res.path, res.uri)
                    if denied is not None:
                        return self.error(txn, denied, dirconf=dc)
            else:
                d, name = os.path.split(filename)
                res = negotiation.multiviews(d, name, hd, dc, self.mime, method=txn.method,
                                             path_info=bool(path_info),
                                             allowed=self.allowed_fn(txn))
                if res is None:
                    return None
                if res.uri:  # the variant is what Apache's sub-request served (%U)
                    base = txn.uri_path[:len(txn.uri_path) - len(path_info)]
                    txn.uri_path = base.rsplit("/", 1)[0] + "/" + res.uri + path_info
        except negotiation.NotAcceptable as e:
            return self.error(txn, e.status, extra=list(e.headers), dirconf=dc,
                              variants=e.variants_html)
        except negotiation.NegotiationError as e:
            if quiet:
                return None
            return self.error(txn, e.status, dirconf=dc)
        extra = list(res.headers)
        if res.http10_expires and txn.proto_num < 1001 and not self.srv.caches_negotiated(txn.vhost):
            # Apache's type-map handler sets r->no_cache: HTTP/1.0 gets Expires = Date
            # (the same clock as the Date field the server adds)
            extra.append(("Expires", _sf.date_header()[6:].rstrip().decode()))
        if path_info:
            keep = [(k, v) for k, v in extra if k in ("Vary", "Expires")]
            return self.error(txn, 404, extra=keep, dirconf=dc)
        ctype = res.content_type
        if ctype and res.charset and "charset=" not in ctype:
            ctype = f"{ctype}; charset={res.charset}"
        if res.path is None or res.body is not None:
            # a type map's Body: sent by the map handler itself (with Range support)
            meta = list(extra)
            if res.encoding:
                meta.append(("Content-Encoding", res.encoding))
            if res.languages:
                meta.append(("Content-Language", ", ".join(res.languages)))
            off, size = res.body if res.body is not None else (0, 0)
            ranged = self.byte_ranges(txn, dc, meta, [("Accept-Ranges", S.accept_ranges(dc))], filename,
                                      off, size, ctype, None, -1)
            if ranged is not None:
                return ranged
            body = b""
            if size:
                with open(filename, "rb") as f:
                    f.seek(off)
                    body = f.read(size)
            return Response(200, meta + [("Accept-Ranges", S.accept_ranges(dc)),
                                         ("Content-Length", str(len(body)))], ctype, body)
        vlv = C.variant_list_validator(filename, typemap, dc.file_etag, txn.start_time)
        try:
            st = os.stat(res.path)
        except OSError:
            return self.error(txn, 404, dirconf=dc)
        txn.filename = res.path  # the variant, as Apache's fast internal redirect leaves it
        if vdc is not None:
            txn.dirconf = vdc
            return self.default_handler(txn, res.path, st, "", vdc, False, extra, vlv=vlv)
        return self.default_handler(txn, res.path, st, "", dc, False, extra,
                                    (ctype, res.language, res.encoding), vlv)

    def redirect_target(self, txn: object, path: str, rel_uri: str
                        ) -> tuple[int | None, DirConfig | None]:
        """Apache's internal redirect to a type map's URI variant: (error status, None)
        when it is refused (403 by Require, the walk's 403/500), else (None, the
        variant's own DirConfig)."""
        vhost = txn.vhost
        try:
            walk = self.mapper.walk(vhost, path)
            uri = normalize(txn.uri_path.rsplit("/", 1)[0] + "/" + rel_uri,
                            decode_unreserved=False)
        except HttpError as e:
            return e.status, None
        except Exception:  # a broken .htaccess on the variant's way
            return 500, None
        vdc = self.resolver.location_config(vhost, uri, walk.dirconf)
        if self.srv.authorize(txn, vdc, walk.filename) is False:
            return 403, None
        return None, vdc

    def status_page(self, txn: object, query: str, extended: bool,
                    signature: str = "") -> tuple[str, bytes]:
        """mod_status's page (or ?auto document) for this request's host and address."""
        srv = self.srv
        local = txn.conn.local_addr() or ("127.0.0.1", 0)
        return status.render(srv.scoreboard, srv.cfg, query, extended,
                             host=txn.host_name or txn.vhost.server_name,
                             local_ip=str(local[0]), signature=signature,
                             server_version=E.server_banner("full"), proctable=srv.proctable)

    def server_status(self, txn: object, query: str) -> Response:
        if self.srv.scoreboard is None:  # no MPM around (tests): nothing to report
            return self.error(txn, 500, dirconf=txn.dirconf)
        ctype, body = self.status_page(txn, query, self.srv.cfg.extended_status,
                                       self.signature(txn, txn.dirconf))
        # mod_status shows the full version whatever ServerTokens says (it is behind
        # its own access control); ?refresh=N adds a Refresh field.
        headers = [("Content-Length", str(len(body)))]
        refresh = status.refresh_header(query)
        if refresh is not None:
            headers.insert(0, ("Refresh", refresh))
        return Response(200, headers, ctype, body)

    def metrics(self, txn: object) -> Response:
        """`SetHandler metrics` (with mod_status): the Prometheus series of ?auto, with
        the totals whatever ExtendedStatus says."""
        if self.srv.scoreboard is None:
            return self.error(txn, 500, dirconf=txn.dirconf)
        _ctype, auto = self.status_page(txn, "auto", True)
        body = metrics.render_from_auto(auto.decode("latin-1"))
        return Response(200, [("Content-Length", str(len(body)))], metrics.CONTENT_TYPE, body)

    def healthz(self) -> Response:
        """`SetHandler healthz` (a fastcore extension): 200 while this process takes new
        work, 503 once it drains for a graceful stop, so a balancer moves away first."""
        if getattr(self.srv, "draining", False):
            r = Response(503, [("Content-Length", "9")], "text/plain", b"draining\n")
            r.close = True
            return r
        return Response(200, [("Content-Length", "3"), ("Cache-Control", "no-store")],
                        "text/plain", b"ok\n")

    def trace(self, txn: object, req: Request) -> Response:
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
