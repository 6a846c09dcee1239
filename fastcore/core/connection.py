"""Connection: one client connection's loop around the request handler (keep-alive,
pipelining, request bodies, timeouts, the output queue), with the C engine first.

Connection.run() hands the socket to the engine (FastConn.serve(), via EngineConnMixin),
which serves hits of the per-process FastCache without the GIL and gives back the
unserved bytes when a request is anything else: a cache miss, a conditional or Range
request, a body, a request that arrived in pieces (so Timeout and the slowloris bound
stay here). Those go through handler.Handler and are answered by _emit/_queue/_flush.
HttpServer (server.py) owns what all connections of a process share.
"""

from __future__ import annotations

import os
import re
import socket
import time
from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.core import errors as E
from fastcore.core import static
from fastcore.core.engine import CLOSED, WANT_READ, WANT_WRITE, EngineConnMixin, _fp
from fastcore.core.fastpath import FastPathMixin
from fastcore.core.handler import Response
from fastcore.core.mapping import loose_path
from fastcore.core.request import BodyReader, HttpError, Request, find_head_end, parse_head
from fastcore.core.transaction import Transaction
from fastcore.modules import mod_authz_core as authz
from fastcore.modules.mod_mime import with_default_charset
from fastcore.modules.mod_reqtimeout import ReadClock

if TYPE_CHECKING:
    from fastcore.core.server import HttpServer

_sf = load("sendfile")


class Connection(EngineConnMixin, FastPathMixin):
    """One client connection: buffer, keep-alive loop, output queue."""

    def __init__(self, srv: HttpServer, fd: int, peer: tuple, slot: int, blocking: bool,
                 fc: object = None) -> None:
        self.srv = srv
        self.fd = fd
        self.slot = slot
        self.blocking = blocking
        self.buf = bytearray()
        self.requests = 0
        self.closed = False
        self.closing = False
        self.eof = False  # the client closed its side: no lingering needed
        self.out: list[tuple] = []  # queued send_response argument tuples
        self.unanswered: Transaction | None = None  # a request whose answer is not queued
        self.unanswered_req: Request | None = None
        self.body: BodyReader | None = None
        self.pending: tuple | None = None  # (txn, req, response) waiting for its body
        self.client_ip = peer[0] if peer and isinstance(peer, tuple) else "127.0.0.1"
        self.remote_port = peer[1] if peer and isinstance(peer, tuple) and len(peer) > 1 else 0
        self._local: tuple | None = None
        self.ctx = authz.ReqCtx(self.client_ip, self.local_addr, "GET", srv.dns)
        main = srv.cfg.main
        self.vh = main  # the vhost of the current request (KeepAlive*, Timeout)
        self.timeout = main.timeout
        self.ka_timeout = main.keep_alive_timeout
        self.sb = srv.scoreboard if slot >= 0 else None
        lim = srv.read_limits_for(self)
        self.rt = ReadClock(lim, time.monotonic()) if lim is not None else None
        self.fc = fc
        if fc is not None:
            self.requests = fc.requests
            if fc.requests:
                self.timeout, self.ka_timeout = fc.timeout, fc.keep_alive_timeout
                if self.rt is not None:
                    self.rt.idle(fc.requests)
        elif fd >= 0:
            try:
                self.fc = _fp.FastConn(srv.engine, fd, blocking, self.client_ip.encode("latin-1"),
                                       self.remote_port, srv.scoreboard, slot, srv.addr_key(self))
            except (TypeError, UnicodeError):  # a scoreboard the engine cannot write
                self.fc = None
        if blocking:
            try:  # a blocked send gives up after Timeout (one setsockopt per connection)
                if self.fc is not None:
                    self.fc.set_send_timeout(self.timeout)
                else:
                    sec = int(self.timeout)
                    tv = sec.to_bytes(8, "little") + int((self.timeout - sec) * 1e6).to_bytes(8, "little")
                    _setsockopt(fd, tv)
            except OSError:
                pass

    @property
    def peer_text(self) -> str:
        """The client as the error log's [client ...] field shows it: address:port."""
        return f"{self.client_ip}:{self.remote_port}"

    def local_addr(self) -> tuple | None:
        if self._local is None:
            s = socket.socket(socket.AF_INET6 if ":" in self.client_ip else socket.AF_INET,
                              socket.SOCK_STREAM, 0, fileno=self.fd)
            try:
                self._local = s.getsockname()
            except OSError:
                self._local = ("", 0)
            finally:
                s.detach()
        return self._local

    # ------------------------------------------------------------ driving
    def run(self, may_read: bool = True) -> tuple[int, float]:
        """Make progress; return (WANT_READ|WANT_WRITE|CLOSED, timeout seconds).
        may_read=False: only process what is buffered (the socket was read already)."""
        try:
            return self._run(may_read)
        except (ConnectionError, BrokenPipeError):
            self.closing = True
            self._drop_output()
            return CLOSED, 0.0
        except Exception as exc:  # noqa: BLE001 - never a dead worker, never a silent close
            return self._internal_error(exc)

    def _internal_error(self, exc: Exception) -> tuple[int, float]:
        """An unexpected failure on the request path: the error log says what, the client
        whose answer had not been queued yet gets a 500 (an answer already begun can only
        be cut short), then the connection closes as after any 500 Apache sends."""
        txn, req = self.unanswered, self.unanswered_req
        log = self.srv.errlog(txn.vhost if txn is not None else self.vh)
        log.log("error", "core", f"internal error: {exc!r}", self.peer_text)
        self.unanswered = self.unanswered_req = None
        self.body = None
        self.pending = None
        self.buf.clear()
        self.closing = True
        try:
            if txn is not None:
                self._answer_500(txn, req)
            if self.out:
                if not self._flush():
                    return WANT_WRITE, self.timeout
        except Exception as again:  # noqa: BLE001 - e.g. the socket itself fails
            if not isinstance(again, (ConnectionError, BrokenPipeError)):
                log.log("error", "core", f"internal error: {again!r}", self.peer_text)
            self._drop_output()
        return CLOSED, 0.0

    def _answer_500(self, txn: Transaction, req: Request | None) -> None:
        """Queue the 500 (ErrorDocument honoured) and log the request; if even that fails
        before anything is queued, Apache's canned 500 page, built here."""
        before = len(self.out)
        try:
            resp = self.srv.handler.error(txn, 500, dirconf=txn.dirconf)
            resp.close = True
            self._emit(txn, req, resp)
        except Exception as exc:  # noqa: BLE001 - the error path itself is broken
            self.srv.errlog(txn.vhost).log("error", "core", f"internal error: {exc!r}",
                                           self.peer_text)
            if len(self.out) > before:
                return  # queued; only the access-log line failed
            body = b"" if txn.method == "HEAD" else E.error_body(500, txn.method)
            header = b"".join((
                b"HTTP/1.1 ", E.status_line(500).encode(), b"\r\n", _sf.date_header(),
                self.srv.server_line, b"Content-Length: %d\r\n" % len(E.error_body(500)),
                b"Connection: close\r\nContent-Type: ", E.ERROR_CTYPE.encode(), b"\r\n\r\n"))
            self._queue(header, -1, 0, 0, "auto", body, False)

    def _run(self, may_read: bool = True) -> tuple[int, float]:
        if may_read and self.engine_idle():
            got = self._engine()
            if got is not None:
                return got
            may_read = False  # the engine read once; the next read waits for the poll
        while True:
            if self.out:
                if not self._flush():
                    return WANT_WRITE, self.timeout
                continue
            if self.closing:
                return CLOSED, 0.0
            if self._step():
                continue
            if not may_read:
                return WANT_READ, self.read_wait()
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return WANT_READ, self.read_wait()
            except InterruptedError:
                continue
            except OSError:
                self.closing = True
                return CLOSED, 0.0
            if not data:
                self.eof = True
                if self.pending is None and self.body is None and b"\n" in self.buf.lstrip(b"\r\n"):
                    self._fatal(400)
                    continue
                if self.body is not None:
                    self._body_failed(400)
                    continue
                self.closing = True
                return CLOSED, 0.0
            self.buf += data
            if self.rt is not None:
                self.rt.got(len(data), self.requests, time.monotonic())
            may_read = False
            if self.sb is not None:
                self.sb.set_status(self.slot, "R")

    def read_wait(self) -> float:
        """How long the next read may wait: KeepAliveTimeout between requests, else
        Timeout, and never past the RequestReadTimeout deadline of the head or body."""
        idle = not self.buf and self.requests and self.body is None
        wait = self.ka_timeout if idle else self.timeout
        rt = self.rt
        if rt is not None and rt.timeout_at and rt.req == self.requests:
            left = rt.timeout_at - time.monotonic()
            if left < wait:
                return max(left, 0.0)
        return wait

    def read_expired(self) -> bool:
        """The RequestReadTimeout deadline of the current head or body has passed."""
        rt = self.rt
        return (rt is not None and bool(rt.timeout_at) and rt.req == self.requests
                and time.monotonic() >= rt.timeout_at - 0.01)

    def on_timeout(self) -> None:
        """No progress in time (Timeout, KeepAliveTimeout or RequestReadTimeout), as
        Apache: a body or a head whose request line arrived gets a 408; a request line
        still incomplete (or only blank lines) is closed without an answer, logged as
        "-" 408 on a connection's first request; an idle connection just closes."""
        if self.read_expired():
            stage = "body" if self.body is not None else "header"
            self.srv.error_log.log("info", "reqtimeout", f"AH01382: Request {stage} read "
                                   "timeout", f"{self.client_ip}:{self.remote_port}")
        if self.out or (self.fc is not None and self.fc.pending_output):
            self._drop_output()
        elif self.body is not None:
            self._body_failed(408)
            self._flush_quietly()
        elif self.buf:
            line = self.buf.lstrip(b"\r\n")
            if b"\n" in line:
                self._fatal(408)
                self._flush_quietly()
            elif not self.requests:  # ap_read_request: logged, not answered
                txn = Transaction(self, time.time())
                txn.vhost, txn.status, txn.bytes_sent = self.vh, 408, 0
                txn.request_line = None  # no request line read: %r logs "-"
                self.buf.clear()
                self._finish(txn, False)
        self.closing = True

    def _flush_quietly(self) -> None:
        try:
            self._flush()
        except OSError:
            pass

    @property
    def needs_linger(self) -> bool:
        """True when closing should drain the client first (Apache's lingering close):
        we answered something and the client has not closed its side yet."""
        return not self.eof and bool(self.requests or self.buf)

    def close(self, linger: bool = True) -> None:
        """Close the connection; linger=False lets an event MPM do the lingering close
        itself without holding a thread (it should check needs_linger first)."""
        if self.closed:
            return
        self.closed = True
        self._drop_output()
        if self.fc is not None:
            self.fc.close()
        if self.sb is not None:
            self.sb.set_status(self.slot, "_")
        try:
            if linger and self.needs_linger:
                _sf.lingering_close(self.fd)
            else:
                os.close(self.fd)
        except OSError:
            try:
                os.close(self.fd)
            except OSError:
                pass

    # ------------------------------------------------------------ output
    def _drop_output(self) -> None:
        """Forget unsent responses, closing the file descriptors they owned."""
        if self.fc is not None and self.fc.pending_output:
            self.fc.close()  # its connection is being given up
            self.fc = None
        for item in self.out:
            if item[6]:
                try:
                    os.close(item[1])
                except OSError:
                    pass
        self.out.clear()

    def _flush(self) -> bool:
        """Send queued pieces; False when the socket would block."""
        while self.out:
            header, ffd, off, cnt, strategy, body, closefd, total = self.out[0]
            try:
                n = _sf.send_response(self.fd, header, ffd, off, cnt, strategy, body)
            except BlockingIOError:
                return False
            except TimeoutError:
                n = 0
            if n >= total:
                self.out.pop(0)
                if closefd:
                    os.close(ffd)
                continue
            if n == 0 and self.blocking:
                self._drop_output()
                self.closing = True
                return True
            header, off, cnt, body = _sf.resume(header, off, cnt, n, body)
            self.out[0] = (header, ffd, off, cnt, strategy, body, closefd, total - n)
            if self.blocking:
                continue
            return False
        return True

    # ------------------------------------------------------------ requests
    def _step(self) -> bool:
        """Process what the buffer allows; True if progress was made."""
        if self.body is not None:
            try:
                done = self.body.feed(self.buf)
            except HttpError as e:
                self._body_failed(e.status, no_length=True)
                return True
            if not done:
                return False
            self.body = None
            txn, req, resp = self.pending
            self.pending = None
            self._emit(txn, req, resp)
            return True
        if not self.buf:
            return False
        if self.buf[:1] in (b"\r", b"\n"):
            n = len(self.buf) - len(self.buf.lstrip(b"\r\n"))
            if n >= len(self.buf):
                return False
            if self.buf[n - 1:n] == b"\n":
                del self.buf[:n]
        vh = self.srv.cfg.main
        end = find_head_end(self.buf, vh.http_strict)
        if end < 0:
            status = self._head_overflow()
            if status:
                self._fatal(status)
                return True
            return False
        head = bytes(self.buf[:end])
        del self.buf[:end]
        self._request(head)
        return True

    def _head_overflow(self) -> int:
        """414 or 400 when the incomplete head in buf is already longer than allowed."""
        vh = self.srv.cfg.main
        limit = vh.limit_request_line + vh.limit_request_fields * (vh.limit_request_field_size + 2) + 4
        if self.buf.find(b"\n") < 0 and len(self.buf) > vh.limit_request_line + 2:
            return 414
        return 400 if len(self.buf) > limit else 0

    def head_pending(self) -> bool:
        """A request head has begun to arrive and nothing else is in progress."""
        return (bool(self.buf) and self.body is None and self.pending is None
                and not self.out and not self.closing)

    def head_ready(self) -> bool:
        """The buffered head is complete, or already too long: a worker can answer it."""
        view = bytes(self.buf).lstrip(b"\r\n")
        return bool(view) and (find_head_end(view) >= 0 or self._head_overflow() != 0)

    def note_read(self, data: bytes) -> None:
        """Bytes an MPM read for this connection (its holder): buffer and count them."""
        self.buf += data
        if self.rt is not None:
            self.rt.got(len(data), self.requests, time.monotonic())

    def release(self) -> int:
        """Give the connection up but leave its descriptor open: the caller closes it
        (after a lingering close it does without holding a thread)."""
        self.closed = True
        self._drop_output()
        if self.fc is not None:
            self.fc.close()
        if self.sb is not None:
            self.sb.set_status(self.slot, "_")
        return self.fd

    def _fatal(self, status: int, notes: str | None = None) -> None:
        """An error before a usable request exists: respond and close."""
        txn = Transaction(self, time.time())
        self.unanswered, self.unanswered_req = txn, None
        txn.request_line = self.buf[:self.buf.find(b"\n")].rstrip(b"\r").decode("latin-1") if self.buf else ""
        self.buf.clear()
        resp = self.srv.handler.error(txn, status, notes)
        resp.close = True
        self._emit(txn, None, resp)

    def _body_failed(self, status: int, no_length: bool = False) -> None:
        """The request body was malformed, too large or cut short: error and close
        (Apache streams the page of a body error without Content-Length)."""
        txn = self.pending[0] if self.pending else Transaction(self, time.time())
        self.unanswered, self.unanswered_req = txn, None
        self.pending = None
        self.body = None
        self.buf.clear()
        resp = self.srv.handler.error(txn, status, None, dirconf=txn.dirconf)
        resp.close = True
        resp.no_length = no_length or status == 413
        self._emit(txn, None, resp)

    def _request(self, head: bytes) -> None:
        srv = self.srv
        main = srv.cfg.main
        now = time.time()
        txn = Transaction(self, now)
        self.unanswered, self.unanswered_req = txn, None
        if self.sb is not None:
            self.sb.set_status(self.slot, "W")
        try:
            req = parse_head(head, main.limit_request_line, main.limit_request_fields,
                             main.limit_request_field_size, main.http_strict)
        except HttpError as e:
            line = head.lstrip(b"\r\n")
            txn.request_line = line[:line.find(b"\n")].rstrip(b"\r").decode("latin-1")
            parts = txn.request_line.split()
            if parts:  # log what was asked, tokenized as Apache does (%r rebuilt from words)
                txn.method = parts[0]
                target = parts[1] if len(parts) > 1 else "/"
                txn.uri_path, _, txn.query = loose_path(target).partition("?")
                if len(parts) > 2:
                    txn.protocol = parts[2] if re.match(r"HTTP/[0-9]\.[0-9]\Z", parts[2]) else "HTTP/1.0"
                    txn.request_line = " ".join(parts[:3])
            self.buf.clear()
            resp = srv.handler.error(txn, e.status, e.notes)
            resp.close = True
            self._emit(txn, None, resp)
            return
        self.unanswered_req = req
        txn.method = req.method
        txn.proto_num = req.proto_num
        txn.protocol = req.protocol
        txn.request_line = req.request_line
        txn.headers_in = req.headers
        txn.query = req.query
        txn.uri_path = req.path_raw
        txn.host_name = req.host
        txn.host_port = req.host_port
        txn.bytes_in = len(head)
        vhost = srv.vhost_for(self, req.host)
        txn.vhost = vhost
        txn.vhost_name = vhost.server_name
        self.vh = vhost
        refusal = srv.refusal(self, req)
        if refusal is not None:
            self.buf.clear()
            resp = srv.handler.error(txn, refusal)
            resp.close = True
            self._emit(txn, None, resp)
            return
        self.timeout = vhost.timeout
        self.ka_timeout = vhost.keep_alive_timeout
        if self.sb is not None:
            self.sb.request_start(self.slot, head[:head.find(b"\r")], self.client_ip.encode(),
                                  vhost.server_name.encode())
        if req.expect_failed is not None:  # Apache: kept-connection fields, then it closes
            self._emit(txn, req, srv.handler.error(txn, 417, req.expect_failed))
            self.closing = True
            return
        resp = None
        if req.body_kind == "none" and req.method in ("GET", "HEAD") and not req.assbackwards:
            resp = self._fast(txn, req, vhost)
            if resp is True:
                self.unanswered = self.unanswered_req = None
                if self.fc is not None:  # the engine missed it (e.g. another Host spelling)
                    self._remember_fast(vhost, req, txn)
                return
        if resp is None:
            resp = srv.handler.handle(txn, req)
            if resp.cache is not None:
                self._remember(vhost, req.target, resp.cache, txn.uri_path)
                self._remember_fast(vhost, req, txn)
        if req.body_kind != "none" and not resp.close:
            dc = txn.dirconf or vhost.dir_defaults
            try:
                reader = BodyReader(req, dc.limit_request_body or 0)
            except HttpError as e:
                resp = srv.handler.error(txn, e.status, dirconf=dc)
                resp.close = True
                resp.no_length = e.status == 413
                self.buf.clear()
                self._emit(txn, req, resp)
                return
            if req.expect_continue and req.proto_num >= 1001:
                # as Apache, even when the body came with the head
                self.out.append((b"HTTP/1.1 100 Continue\r\n\r\n", -1, 0, 0, "auto", b"", False, 25))
                req.expect_continue = False
            self.body = reader
            self.pending = (txn, req, resp)
            if self.rt is not None:
                self.rt.start("body", time.monotonic())
            return
        self._emit(txn, req, resp)

    # ------------------------------------------------------------ fast path
    def _keepalive(self, req: Request | None, status: int, close: bool) -> bool:
        vh = self.vh
        if req is None or close or not req.keepalive or not vh.keep_alive or self.srv.draining:
            return False
        if req.expect_continue:  # Apache closes when a 100-continue was never answered
            return False
        if status in E.DROPS_CONNECTION:
            return False
        mk = vh.max_keep_alive_requests
        return not (mk > 0 and self.requests >= mk)  # Apache: max=1 is still kept

    def _conn_header(self, keep: bool, req: Request) -> bytes:
        """Connection: close when closing; Keep-Alive and Connection: Keep-Alive on a kept
        connection only when the client sent a keep-alive token (Apache's ka_sent rule)."""
        if not keep:
            return b"Connection: close\r\n"
        if not req.ka_sent:
            return b""
        vh = self.vh
        mk = vh.max_keep_alive_requests
        if mk <= 0:
            return b"Keep-Alive: timeout=%d\r\nConnection: Keep-Alive\r\n" % int(vh.keep_alive_timeout)
        return (b"Keep-Alive: timeout=%d, max=%d\r\nConnection: Keep-Alive\r\n"
                % (int(vh.keep_alive_timeout), mk - self.requests))

    def _queue(self, header: bytes, ffd: int, off: int, cnt: int, strategy: str,
               body: bytes | None, closefd: bool) -> None:
        total = len(header) + (len(body) if body is not None else cnt)
        self.out.append((header, ffd, off, cnt, strategy, body, closefd, total))

    def _emit(self, txn: Transaction, req: Request | None, resp: Response) -> None:
        """Serialize a slow-path Response and queue it."""
        srv = self.srv
        head_only = req is not None and req.method == "HEAD"
        delimited = not resp.no_length or resp.chunked or head_only or resp.status in (204, 304)
        keep = self._keepalive(req, resp.status, resp.close or not delimited)
        lines = [b"HTTP/1.1 ", E.status_line(resp.status).encode(), b"\r\n",
                 _sf.date_header(), srv.server_line]
        out_hdrs = txn.headers_out
        if head_only and (resp.length() == 0 or (resp.file is None and resp.parts is None)):
            resp.no_length = True  # HEAD: Apache never states a length it did not compute
        for k, v in resp.headers:
            if resp.no_length and k == "Content-Length":
                continue
            lines += [k.encode("latin-1"), b": ", v.encode("latin-1", "replace"), b"\r\n"]
            out_hdrs[k.lower()] = v
        body_len = resp.length()
        has_len = any(k == "Content-Length" for k, _ in resp.headers)
        if resp.status not in (304, 204) and not resp.no_length and not has_len \
                and resp.status >= 200:
            lines += [b"Content-Length: ", str(body_len).encode(), b"\r\n"]
        if resp.chunked and not head_only:
            lines.append(b"Transfer-Encoding: chunked\r\n")
        lines.append(self._conn_header(keep, req) if req is not None or not keep else b"")
        ctype = with_default_charset(resp.ctype, txn.dirconf or (txn.vhost or srv.cfg.main).dir_defaults)
        if ctype:
            lines += [b"Content-Type: ", ctype.encode("latin-1"), b"\r\n"]
            txn.ctype = ctype
        lines.append(b"\r\n")
        header = b"".join(lines)
        if req is not None and req.assbackwards:
            header = b""
        sent_body = 0
        if head_only or resp.status in (304, 204):
            self._queue(header, -1, 0, 0, "auto", b"", False)
        elif resp.file is not None:
            fname, off, cnt = resp.file
            try:
                ffd = os.open(fname, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                resp2 = srv.handler.error(txn, 403 if os.path.exists(fname) else 404)
                resp2.close = resp.close
                return self._emit(txn, req, resp2)
            dc = txn.dirconf
            if dc is not None and dc.enable_sendfile:
                strategy = "sendfile"
            elif dc is None or dc.enable_mmap is not False:
                strategy = "writev" if cnt < (1 << 24) else "readwrite"  # mmap + writev
            else:
                strategy = "readwrite"
            self._queue(header, ffd, off, cnt, strategy, None, True)
            sent_body = cnt
        elif resp.parts is not None:
            chunks = []
            with open(resp.filename, "rb") as f:
                for h, s, n in resp.parts:
                    chunks += [h, static.read_range(f.fileno(), s, n)]
            body = b"".join(chunks) + resp.tail
            self._queue(header, -1, 0, 0, "auto", body, False)
            sent_body = len(body)
        else:
            body = resp.body or b""
            if resp.chunked:
                body = (b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n") if body else b"0\r\n\r\n"
            self._queue(header, -1, 0, 0, "auto", body, False)
            sent_body = len(resp.body or b"")
        self.unanswered = self.unanswered_req = None  # queued: what fails now cannot be a 500
        txn.status = resp.status
        txn.bytes_sent = sent_body
        txn.bytes_out = len(header) + sent_body
        if resp.close or not keep:
            self.closing = True
        self._finish(txn, keep)

    def _finish(self, txn: Transaction, keep: bool) -> None:
        """Account and log the request; keep-alive bookkeeping."""
        self.requests += 1
        if self.fc is not None:  # the event loop may serve the next one from fc: same count
            self.fc.requests = self.requests
        if self.rt is not None:
            self.rt.idle(self.requests)
        srv = self.srv
        txn.conn_status = "+" if keep else "-"
        txn.keepalive_count = self.requests - 1
        txn.duration_us = int((time.time() - txn.start_time) * 1e6)
        txn.port = txn.host_port or 80
        dc = txn.dirconf or (txn.vhost or srv.cfg.main).dir_defaults  # (400s: the server's)
        hl = dc.hostname_lookups or "off"
        if hl != "off" and srv.dns is not None:
            txn.remote_host = self.ctx.remote_host(hl == "double")
        else:
            txn.remote_host = self.ctx.cached_host()
        if self.sb is not None:
            self.sb.set_status(self.slot, "L")
        for lg in srv.access_logs.get(id(txn.vhost)) or srv.access_logs.get(id(srv.cfg.main), ()):
            if not lg.wants(txn):  # CustomLog env=VAR / env=!VAR
                continue
            if lg.buffered:  # one buffer per log file for both paths: lines stay in order
                srv.engine.log_line(lg.fd, (lg.render(txn) + "\n").encode("latin-1", "replace"), True)
            else:
                lg.log(txn)
        if self.sb is not None:
            self.sb.request_end(self.slot, txn.bytes_sent)
            self.sb.set_status(self.slot, "K" if keep else "W")
        if not keep:
            self.closing = True


def _setsockopt(fd: int, tv: bytes) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fileno=fd)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
    finally:
        s.detach()

