"""Connection: one client connection's loop around the request handler (keep-alive,
pipelining, request bodies, timeouts), with the C engine first.

Connection.run() hands the socket to the engine through the EngineLink it owns
(core/engine.py), which serves hits of the per-process FastCache without the GIL and gives
back the unserved bytes when a request is anything else: a cache miss, a conditional or
Range request, a body, a request that arrived in pieces (so Timeout and the slowloris
bound stay here). Those are answered from the Python cache (core/fastpath.py) or by
handler.Handler, serialized and logged by the request exchange (core/exchange.py) into
the OutputQueue the connection owns (core/output.py).
HttpServer (server.py) owns what all connections of a process share.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING, Any

from fastcore._ext import load
from fastcore.config.model import VirtualHost
from fastcore.core import exchange
from fastcore.core.client import ReqCtx
from fastcore.core.engine import CLOSED, WANT_READ, WANT_WRITE, EngineLink, FastConn, _fp
from fastcore.core.exchange import PendingAnswer
from fastcore.core.output import Flush, OutputQueue
from fastcore.core.preface import Preface
from fastcore.core.readclock import ReadClock
from fastcore.core.request import BodyReader, HttpError, Request, find_head_end
from fastcore.core.transaction import Transaction

if TYPE_CHECKING:
    from fastcore.core.server import HttpServer

_sf = load("sendfile")
_tls = load("tls")  # mod_ssl's sessions: reads of a TLS connection go through them


class Connection:
    """One client connection: buffer, keep-alive loop, output queue, engine link.

    What an MPM may use (fastcore/mpm uses nothing else):
      run(may_read) -> (WANT_READ | WANT_WRITE | CLOSED, timeout)  make progress
      read_wait(), on_timeout(), read_expired()   deadlines and what happens at one
      head_pending(), head_ready(), note_read(data)  the head holder's view of a head
      engine_idle(), engine_handle, sync_from_engine(), take_engine_bytes()
                                                  the event MPM's C loop hand-over
      engine_blocking(first_wait)                 prefork/worker: the engine's own loop
      assign_slot(slot)                           the scoreboard slot it reports through
      close(linger), release() -> fd, hand_over() -> fd, needs_linger
      fd, slot, requests, timeout, closed, buffered, has_read_deadline (read only)
    """

    def __init__(self, srv: HttpServer, fd: int, peer: tuple, slot: int, blocking: bool,
                 link: EngineLink | None = None) -> None:
        self.srv = srv
        self.fd = fd
        self.slot = slot
        self.fallback_reason = 0  # why the engine handed over the request being answered
        self.blocking = blocking
        self.buf = bytearray()
        self.requests: int = 0
        self.closed = False
        self.closing = False
        self.eof = False  # the client closed its side: no lingering needed
        self.out = OutputQueue(fd, blocking)
        self.unanswered: Transaction | None = None  # a request whose answer is not queued
        self.unanswered_req: Request | None = None
        self.body: BodyReader | None = None
        self.pending: PendingAnswer | None = None  # an answer waiting for its body
        self.client_ip: str = peer[0] if peer and isinstance(peer, tuple) else "127.0.0.1"
        self.remote_port: int = (peer[1] if peer and isinstance(peer, tuple) and len(peer) > 1
                                 else 0)
        self.peer_ip: str = self.client_ip  # the TCP peer (%{c}a), whatever PROXY says
        self.proxied = False  # the address came from a PROXY header (mod_remoteip)
        self._local: tuple | None = None
        # 1: a TLS connection (its session made at accept), 2: plain HTTP on a TLS port
        self.tls: int = _tls.state(fd)[0] if fd >= 0 else 0
        self.tls_vars: dict[str, str] | None = None  # SSL_* once the handshake is done
        self.ctx = ReqCtx(self.client_ip, self.local_addr, "GET", srv.dns)
        # mod_remoteip's PROXY header, read before anything else (then the engine link)
        self.preface: Preface | None = None
        if link is None and fd >= 0:
            for reader in srv.prefaces:
                self.preface = reader(self)
                if self.preface is not None:
                    break
        main = srv.cfg.main
        self.vh: VirtualHost = main  # the vhost of the current request (KeepAlive*, Timeout)
        self.timeout: float = main.timeout
        self.ka_timeout: float = main.keep_alive_timeout
        self.sb: Any = srv.scoreboard if slot >= 0 else None
        lim = srv.read_limits_for(self)
        self.rt = ReadClock(lim, time.monotonic()) if lim is not None else None
        self.link: EngineLink | None = link
        if link is not None:
            st = link.state()
            self.requests = st.requests
            if st.requests:
                self.timeout, self.ka_timeout = st.timeout, st.keep_alive_timeout
                if self.rt is not None:
                    self.rt.idle(st.requests)
        elif fd >= 0 and self.preface is None:
            self._open_link()
        if blocking:
            self._send_timeout()

    def _open_link(self) -> None:
        srv = self.srv
        self.link = EngineLink.open(srv.engine, self.fd, self.blocking, self.client_ip,
                                    self.remote_port, srv.scoreboard, self.slot,
                                    srv.engine.addr_key(self))

    def _send_timeout(self) -> None:
        try:  # a blocked send gives up after Timeout (one setsockopt per connection)
            if self.link is not None:
                self.link.set_send_timeout(self.timeout)
            else:
                self.out.set_send_timeout(self.timeout)
        except OSError:
            pass

    def https(self) -> bool:
        """The connection speaks TLS (ap_ssl_conn_is_ssl)."""
        return self.tls == 1

    def ssl_var(self, name: str) -> str | None:
        """mod_ssl's ssl_var_lookup for this connection: SSL_* (and HTTPS), None when
        unset (no TLS, or no such variable)."""
        if self.tls == 1 and self.tls_vars is None:
            self.tls = _tls.state(self.fd)[0]  # the engine may have read the first bytes
        if self.tls != 1:
            return "off" if name == "HTTPS" else None
        if self.tls_vars is None:
            self.tls_vars = _tls.variables(self.fd, True)
        return self.tls_vars.get(name)

    def ssl_vars(self) -> dict[str, str]:
        if self.tls != 1:
            return {}
        if self.tls_vars is None:
            self.tls_vars = _tls.variables(self.fd, True)
        return self.tls_vars

    def adopt_address(self, ip: str, port: int, rest: bytes) -> None:
        """The PROXY header gave the client's address (mod_remoteip): it is this
        connection's from now on (logs, Require, the engine), `rest` the bytes after
        the header; the engine takes the connection from here."""
        self.preface = None
        self.proxied = True
        self.client_ip, self.remote_port = ip, port
        self.ctx = ReqCtx(ip, self.local_addr, "GET", self.srv.dns)
        self.buf += rest
        self._open_link()
        if self.blocking:
            self._send_timeout()

    def assign_slot(self, slot: int) -> None:
        """The scoreboard slot this connection reports through from now on (-1: none; the
        thread that runs it changes in worker/event, the holder has none)."""
        self.slot = slot
        self.sb = self.srv.scoreboard if slot >= 0 else None

    @property
    def buffered(self) -> bool:
        """Bytes of a request not yet answered are buffered on the Python side."""
        return bool(self.buf)

    @property
    def has_read_deadline(self) -> bool:
        """RequestReadTimeout bounds this connection's reads (else Timeout does)."""
        return self.rt is not None

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
                exchange.answer_500(self, txn, req)
            if self.out:
                if not self._flush():
                    return WANT_WRITE, self.timeout
        except Exception as again:  # noqa: BLE001 - e.g. the socket itself fails
            if not isinstance(again, (ConnectionError, BrokenPipeError)):
                log.log("error", "core", f"internal error: {again!r}", self.peer_text)
            self._drop_output()
        return CLOSED, 0.0

    def _run(self, may_read: bool = True) -> tuple[int, float]:
        if self.preface is not None:  # mod_remoteip: the PROXY header comes first
            if not self.preface.advance(self, may_read):
                return (CLOSED, 0.0) if self.closing else (WANT_READ, self.read_wait())
            may_read = False
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
            if not may_read and not (self.tls and _tls.pending(self.fd)):
                return WANT_READ, self.read_wait()
            try:
                data = _tls.read(self.fd, 65536) if self.tls else os.read(self.fd, 65536)
            except BlockingIOError:
                return WANT_READ, self.read_wait()
            except InterruptedError:
                continue
            except OSError:
                self.closing = True
                return CLOSED, 0.0
            if self.tls:  # plain HTTP on the TLS port shows only once read
                self.tls = _tls.state(self.fd)[0]
            if not data:
                self.eof = True
                if self.pending is None and self.body is None and b"\n" in self.buf.lstrip(b"\r\n"):
                    exchange.fatal(self, 400)
                    continue
                if self.body is not None:
                    exchange.body_failed(self, 400)
                    continue
                self.closing = True
                return CLOSED, 0.0
            self.buf += data
            if self.rt is not None:
                self.rt.got(len(data), self.requests, time.monotonic())
            may_read = False
            if self.sb is not None:
                self.sb.set_status(self.slot, "R")

    # ------------------------------------------------------------ engine
    def engine_idle(self) -> bool:
        """True when the connection's whole state could live in the engine (nothing
        buffered or pending on the Python side)."""
        return (self.link is not None and not self.buf and not self.out and self.body is None
                and self.pending is None and not self.closing)

    @property
    def engine_handle(self) -> FastConn:
        """The engine's state of this connection, for the event MPM's C loop (only while
        engine_idle())."""
        assert self.link is not None
        return self.link.handle

    def _engine(self) -> tuple[int, float] | None:
        """Let the C engine serve what it can; None when the Python path takes over
        (its bytes are then in self.buf and may_read is spent)."""
        link = self.link
        assert link is not None
        self._engine_prepare(link)
        rc = link.serve()
        self.sync_from_engine()
        if rc == _fp.WANT_READ:
            if link.buffered:
                self.take_engine_bytes()  # a head in pieces: Python's Timeout and limits apply
            return WANT_READ, self.read_wait()
        if rc == _fp.WANT_WRITE:
            return WANT_WRITE, self.timeout
        if rc == _fp.CLOSED:
            self.closing = True
            return CLOSED, 0.0
        self.take_engine_bytes()
        return None

    def engine_blocking(self, first_wait: float) -> int:
        """serve_blocking's keep-alive loop in the engine; buffered bytes of a fallback or
        of a partial head are moved into the buffer."""
        link = self.link
        assert link is not None
        self._engine_prepare(link)
        rc = link.serve_blocking(first_wait)
        self.sync_from_engine()
        if rc in (_fp.FALLBACK, _fp.WANT_READ):
            self.take_engine_bytes()
        return rc

    def _engine_prepare(self, link: EngineLink) -> None:
        link.prepare(self.requests, self.slot, self.timeout, self.ka_timeout,
                     self.ctx.cached_host(), self.ctx.looked_up, self.ctx.confirmed,
                     self.ctx.double_settled)

    def sync_from_engine(self) -> None:
        """Take back what the engine changed while it served without Python."""
        if self.link is None:
            return
        st = self.link.state()
        if st.requests != self.requests:
            self.requests = st.requests
            self.timeout = st.timeout
            self.ka_timeout = st.keep_alive_timeout
        if st.eof:
            self.eof = True
        if st.closing:
            self.closing = True

    def take_engine_bytes(self) -> None:
        """Move the engine's unserved bytes into the buffer (they count for MinRate)."""
        if self.link is None:
            return
        data = self.link.take()
        reason = self.link.take_reason()
        if reason:
            self.fallback_reason = reason
        self.buf += data
        if self.rt is not None:
            self.rt.got(len(data), self.requests, time.monotonic())

    def read_wait(self) -> float:
        """How long the next read may wait: KeepAliveTimeout between requests, else
        Timeout, and never past the RequestReadTimeout deadline of the head or body."""
        idle = not self.buf and self.requests and self.body is None
        wait = self.ka_timeout if idle else self.timeout
        if self.tls == 1 and not self.requests:  # RequestReadTimeout handshake=, in C
            hs = _tls.handshake_left(self.fd)
            if hs >= 0.0:
                return min(hs, wait)
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
        if self.out or (self.link is not None and self.link.pending_output):
            self._drop_output()
        elif self.body is not None:
            exchange.body_failed(self, 408)
            self._flush_quietly()
        elif self.buf:
            line = self.buf.lstrip(b"\r\n")
            if b"\n" in line:
                exchange.fatal(self, 408)
                self._flush_quietly()
            elif not self.requests:  # ap_read_request: logged, not answered
                txn = Transaction(self, time.time())
                txn.vhost, txn.status, txn.bytes_sent = self.vh, 408, 0
                txn.request_line = None  # no request line read: %r logs "-"
                self.buf.clear()
                exchange.finish(self, txn, False)
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
        self.release()
        try:
            if linger and self.needs_linger:
                _sf.lingering_close(self.fd)  # close_notify first on a TLS connection
            else:
                if self.tls:
                    _tls.shutdown(self.fd)
                    _tls.forget(self.fd)
                os.close(self.fd)
        except OSError:
            try:
                _tls.forget(self.fd)
                os.close(self.fd)
            except OSError:
                pass

    # ------------------------------------------------------------ output
    def _drop_output(self) -> None:
        """Forget unsent responses, closing the file descriptors they owned."""
        if self.link is not None and self.link.pending_output:
            self.link.close()  # its connection is being given up
            self.link = None
        self.out.drop()

    def _flush(self) -> bool:
        """Send queued pieces; False when the socket would block."""
        got = self.out.flush()
        if got is Flush.STALLED:  # a blocking send timed out: give the connection up
            self._drop_output()
            self.closing = True
        return got is not Flush.BLOCKED

    # ------------------------------------------------------------ requests
    def _step(self) -> bool:
        """Process what the buffer allows; True if progress was made."""
        if self.body is not None:
            try:
                done = self.body.feed(self.buf)
            except HttpError as e:
                exchange.body_failed(self, e.status, no_length=True)
                return True
            if not done:
                return False
            self.body = None
            assert self.pending is not None  # a body is read only for a pending answer
            waiting = self.pending
            self.pending = None
            exchange.emit(self, waiting.txn, waiting.req, waiting.resp)
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
                exchange.fatal(self, status)
                return True
            return False
        head = bytes(self.buf[:end])
        del self.buf[:end]
        exchange.request(self, head)
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
        if self.link is not None:
            self.link.close()
        if self.sb is not None:
            self.sb.set_status(self.slot, "_")
        return self.fd

    def hand_over(self) -> int:
        """The MPM takes the descriptor as it is (for a lingering close it does itself):
        this connection touches it no more."""
        self.closed = True
        return self.fd
