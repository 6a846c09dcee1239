"""Pure-Python twin of fastcore._fastpath (FASTCORE_NO_EXTENSIONS=1): same API, same bytes
on the wire and in the logs, slow but correct (DESIGN principle 7).

The config-time log helpers both implementations share live in fastcore._pure.fastlog,
the event loop's twin in fastcore._pure.fastloop (both re-exported here), the
request-head parser in fastcore._pure.fastparse.
"""
from __future__ import annotations

import os
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING

from fastcore._pure.dirwatch import DirWatch, dirwatch
from fastcore._pure.fastcache import (  # noqa: F401 - re-exported: the module's API
    CLOSED,
    CONN_BUF,
    EXP_MAX,
    EXPIRED,
    FALLBACK,
    HDR_MAX,
    IMPLEMENTATION,
    LINGER,
    LOG_BUFSIZE,
    MAX_LOGS,
    NLV,
    OWNED,
    RAW,
    SMALL_FILE,
    STRATEGIES,
    TIMEOUT,
    UPG_ROOM,
    VAR_MAX,
    WANT_READ,
    WANT_WRITE,
    FastCache,
    _Entry,
)
from fastcore._pure.fastlog import (  # noqa: F401 - re-exported: the module's API
    OP_A,
    OP_B,
    OP_CTYPE_O,
    OP_D,
    OP_DASH,
    OP_FILENAME,
    OP_H,
    OP_HDR_IN,
    OP_HEXTID,
    OP_HOSTV,
    OP_I,
    OP_K,
    OP_LIT,
    OP_METHOD,
    OP_O,
    OP_PID,
    OP_PORT,
    OP_PROTO,
    OP_QUERY,
    OP_R,
    OP_RPORT,
    OP_S,
    OP_STATUS,
    OP_T_CLF,
    OP_T_DIV,
    OP_T_MSEC,
    OP_T_MSFRAC,
    OP_T_SEC,
    OP_T_USEC,
    OP_T_USFRAC,
    OP_TID,
    OP_URI,
    OP_VHOST,
    OP_X,
    OP_b,
    compile_log_format,
    log_values,
)
from fastcore._pure.fastparse import Req, esc, header_value, parse
from fastcore._pure.ipmatch import peer_granted, peer_granted_host
from fastcore._pure.rwprobe import probe_holds
from fastcore._pure.setenvif import any_match
from fastcore._pure.symlink import links_ok
from fastcore._pure.vary import UNDECIDED, engine_accepts, pick
from fastcore.core import fscount
from fastcore.core.cacheable import expiry_fields as _cacheable_expiry_fields
from fastcore.core.keepalive import KeepAliveDecision, KeepAliveInput, decide
from fastcore.core.protocols import announced_fields

if TYPE_CHECKING:
    from fastcore._pure.scoreboard import Scoreboard


__all__ = ["FastCache", "FastConn", "EventLoop", "DirWatch", "dirwatch", "compile_log_format",
           "log_values", "links_ok", "peer_granted", "peer_granted_host",
           "WANT_READ", "WANT_WRITE", "CLOSED", "FALLBACK", "TIMEOUT", "EXPIRED", "RAW", "OWNED"]


def _sendfile():  # noqa: ANN202 - the twin's own send path
    from fastcore._pure import sendfile
    return sendfile




def accepts_coding(value: bytes, coding: bytes) -> bool | None:
    """Twin of _fastpath.accepts_coding (fc_accepts_coding)."""
    return engine_accepts(value, coding)


def expiry_fields(kind: int, value: int, now_us: int) -> bytes:
    """Twin of fc_expiry_fields: core/cacheable.py's formatting, the one Python copy."""
    return _cacheable_expiry_fields(kind, value, now_us)


def keepalive_decision(i: KeepAliveInput) -> KeepAliveDecision:
    """The twin of the engine's test-visible fc_keepalive: the one Python rule itself."""
    return decide(i)


_clf_cache: list = [None, b""]


def _clf(sec: int) -> bytes:
    if _clf_cache[0] != sec:
        lt = time.localtime(sec)
        off = lt.tm_gmtoff // 60
        sign = "+" if off >= 0 else "-"
        off = abs(off)
        months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
        _clf_cache[1] = (f"[{lt.tm_mday:02d}/{months[lt.tm_mon - 1]}/{lt.tm_year}:{lt.tm_hour:02d}:"
                         f"{lt.tm_min:02d}:{lt.tm_sec:02d} {sign}{off // 60:02d}{off % 60:02d}]").encode()
        _clf_cache[0] = sec
    return _clf_cache[1]


NOT_CACHED, METHOD, BODY, RANGE, CONDITIONAL, SHAPE, INCOMPLETE = 2, 3, 12, 13, 14, 15, 16


def refusal(head: bytes) -> int:
    """Why parse() refused a head, as fc_parse_why (FALLBACK_REASONS index)."""
    line, _, rest = head.partition(b"\r\n")
    if not (line.startswith(b"GET ") or line.startswith(b"HEAD ")):
        return METHOD
    for field in rest.split(b"\r\n"):
        name = field.partition(b":")[0].strip().lower()
        if name in (b"content-length", b"transfer-encoding", b"expect"):
            return BODY
        if name == b"range":
            return RANGE
        if name.startswith(b"if-") and len(name) > 3:
            return CONDITIONAL
    return SHAPE


class FastConn:
    """Twin of the C connection state and loop."""

    def __init__(self, cache: FastCache, fd: int, blocking: bool, client_ip: bytes,
                 remote_port: int = 0, scoreboard: Scoreboard | None = None, slot: int = -1,
                 addr_key: int = 0) -> None:
        self.cache, self.fd, self.blocking = cache, fd, blocking
        self.client = bytes(client_ip[:63])
        self.remote_port, self.addr_key = remote_port, addr_key
        self.sb, self.slot = scoreboard, slot
        self.reason = 0  # FALLBACK_REASONS index (the twin names fewer than fc_fall)
        self.proc = -1  # the process stats record when slot < 0 (the event loop's)
        self.buf = bytearray()
        self.requests = 0
        self.closing = False
        self._eof = False
        self._rhost = b""
        self.dns_level = 0  # 1 once the reverse lookup was made (remote_host: its name)
        self.dns_confirmed = 0  # 1: remote_host was confirmed by a forward lookup
        self.out: list | None = None  # [header, entry key, entry, offset, count, body]
        self.timed_out = False
        self._timeout, self._ka_timeout = 60.0, 5.0
        self.live = True

    remote_host = property(lambda self: self._rhost or None,
                           lambda self, v: setattr(self, "_rhost", bytes(v or b"")[:255]))
    eof = property(lambda self: self._eof)
    timeout = property(lambda self: self._timeout)
    keep_alive_timeout = property(lambda self: self._ka_timeout)
    buffered = property(lambda self: len(self.buf))
    pending_output = property(lambda self: self.out is not None)

    def set_send_timeout(self, seconds: float) -> None:
        _set_timeo(self.fd, socket.SO_SNDTIMEO, seconds)

    def set_timeouts(self, timeout: float, keep_alive_timeout: float) -> None:
        self._timeout, self._ka_timeout = timeout, keep_alive_timeout

    def serve_blocking(self, first_wait: float) -> int:
        """Keep-alive loop on a blocking socket, reads bounded by SO_RCVTIMEO."""
        cur, want = -1.0, first_wait
        while True:
            if want != cur:
                try:
                    _set_timeo(self.fd, socket.SO_RCVTIMEO, want)
                except OSError:
                    return FALLBACK
                cur = want
            self.timed_out = False
            rc = self.serve()
            if rc != WANT_READ:
                return rc
            if self.buf:
                return WANT_READ
            if self.timed_out:
                return TIMEOUT
            want = self._ka_timeout if self.requests else self._timeout

    def take_reason(self) -> int:
        """Why the engine last handed a request to Python (0: none since the last call)."""
        r, self.reason = self.reason, 0
        return r

    def take(self) -> bytes:
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def close(self) -> None:
        self._drop()
        self.live = False

    def _drop(self) -> None:
        if self.out is not None:
            if self.out[2] is not None:
                self.cache._release(self.out[1], self.out[2], False)
            self.out = None

    def _flush(self) -> int:
        sf = _sendfile()
        while self.out is not None:
            header, _key, e, off, cnt, body = self.out
            ffd = e.ffd if (e is not None and body is None) else -1
            try:
                n = sf.send_response(self.fd, header, ffd, off, cnt if body is None else 0,
                                     e.strategy if body is None else "writev", body)
            except BlockingIOError:
                if not self.blocking:
                    return WANT_WRITE
                n = -1
            except OSError:
                n = -1
            want = len(header) + (len(body) if body is not None else cnt)
            if n < 0 or (n == 0 and want):
                self._drop()
                self.closing = True
                return CLOSED
            if n >= want:
                self._drop()
                return 0
            header, off, cnt, body = sf.resume(header, off, cnt, n, body)
            self.out[0], self.out[3], self.out[4], self.out[5] = header, off, cnt, body
            if not self.blocking:
                return WANT_WRITE
        return 0

    def serve(self) -> int:
        if not self.live:
            return CLOSED
        did_read = False
        if self.out is not None:
            rc = self._flush()
            if rc:
                return rc
        while True:
            if self.closing:
                return CLOSED
            if self.buf:
                got = parse(self.cache, self.buf)
                if got == -1:
                    self.reason = refusal(bytes(self.buf))
                    return FALLBACK
                if isinstance(got, tuple):
                    hl, r = got
                    rc = self._serve_one(r, hl)
                    if rc == FALLBACK:
                        return FALLBACK
                    del self.buf[:hl]
                    if rc:
                        return rc
                    continue
                if len(self.buf) >= CONN_BUF:
                    self.reason = INCOMPLETE
                    return FALLBACK
            if did_read:
                return WANT_READ
            try:
                data = os.read(self.fd, CONN_BUF - len(self.buf))
            except InterruptedError:
                continue
            except BlockingIOError:
                self.timed_out = self.blocking
                return WANT_READ
            except OSError:
                self.closing = True
                return CLOSED
            if not data:
                self._eof = True
                if not self.buf:
                    self.closing = True
                    return CLOSED
                self.reason = INCOMPLETE
                return FALLBACK
            self.buf += data
            did_read = True
            if self.sb is not None and self.slot >= 0:
                self.sb.set_status(self.slot, "R")

    def _serve_one(self, r: Req, hl: int) -> int:
        c = self.cache
        key, e = c._get(self.addr_key, r.host, r.target)
        if e is None:
            c.fallbacks += 1
            self.reason = NOT_CACHED
            return FALLBACK
        if e.fixed and r.method != b"GET":  # a fixed answer (redirect) is GET's only
            c._release(key, e, False)
            c.fallbacks += 1
            return FALLBACK
        if e.fixed:
            ok = True
        else:
            try:
                fscount.note(fscount.STAT)  # as fc_serve_one's fc_st_fs
                st = os.stat(e.path)
                ok = ((st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                      == (e.ino, e.dev, e.size, e.mtime_ns, e.ctime_ns))
            except OSError:
                ok = False
        if ok and e.probes:  # src/fc_rwprobe.h: a tested file came or went
            ok = all(probe_holds(p) for p in e.probes)
        if ok and e.deps:  # a .htaccess or a DirectoryIndex name changed there
            ok = dirwatch().valid(e.deps)
        if not ok:
            c._release(key, e, True)
            c.fallbacks += 1
            return FALLBACK
        hstate = 1 if self.dns_confirmed else -1  # a host leaf's confirmed name, or none yet
        if (e.links and not links_ok(e.links)) \
                or (e.peer and not peer_granted_host(e.peer, self.client, hstate, self._rhost)) \
                or e.host_need > self.dns_level:
            # a refused symlink, or a client Require ip does not grant: the Python path's 403;
            # or a name to look up first (HostnameLookups On): the Python path asks for it
            c._release(key, e, False)
            c.fallbacks += 1
            return FALLBACK
        mid, var = e.mid, None
        if e.variants:  # the encoded answer the request's Accept-Encoding picks
            at = pick([v[0] for v in e.variants], r.ae)
            if at == UNDECIDED:
                c._release(key, e, False)
                c.fallbacks += 1
                return FALLBACK
            if at >= 0:
                var = e.variants[at]
                mid = var[1]
        if e.env and any_match(e.env, r, self.client):  # SetEnvIf: fc_setenvif.h
            c._release(key, e, False)
            c.fallbacks += 1
            return FALLBACK
        announce = False
        if e.upgrade and self.requests == 0:
            if len(r.upg) > 1:  # Python reads them merged
                c._release(key, e, False)
                c.fallbacks += 1
                return FALLBACK
            announce = not (r.upg and r.upg[0])
        start = time.time()
        head_only = r.method == b"HEAD"
        ka = decide(KeepAliveInput(r.http11, r.close_token, r.ka_sent, e.fixed or 200,
                                   keep_alive=e.keep_alive,
                                   max_requests=e.max_ka, requests=self.requests,
                                   timeout=int(e.ka_timeout), draining=self.cache.draining))
        keep, conn = ka.keep, ka.header
        if announce:  # Protocols: the connection's first answer (fc_upgrade.h)
            lead, conn = announced_fields(e.upgrade, conn)
            mid = lead + mid
        if e.exp_kind:
            mid += expiry_fields(e.exp_kind, e.exp_val, time.time_ns() // 1000)
        header = b"".join((e.sline or b"HTTP/1.1 200 OK\r\n", _sendfile().date_header(),
                           c.server_line,
                           mid, conn, e.ctype, b"\r\n"))
        full = e.size if var is None else len(var[2])
        body_len = 0 if (head_only or full == 0) else full
        if body_len:
            self.out = [header, key, e, 0, full, e.content if var is None else var[2]]
        else:
            self.out = [header, key, None, 0, 0, b""]
        self._timeout, self._ka_timeout = e.timeout, e.ka_timeout
        if self.sb is not None and self.slot >= 0:
            self.sb.request_start(self.slot, r.line, self.client, e.vhost)
        rc = self._flush()
        # %k: httpd's keepalives - 1 (a closing answer logs the previous one's count)
        kcount = self.requests if keep or self.requests == 0 else self.requests - 1
        self.requests += 1
        if 0 <= e.log_set < len(c.sets):
            dur = int((time.time() - start) * 1e6)
            ctx = (start, dur, body_len, len(header) + body_len, hl, keep, kcount)
            for fd, prog, buffered in c.sets[e.log_set]:
                c.log_line(fd, self._render(prog, e, r, ctx) + b"\n", buffered)
        if self.sb is not None and self.slot >= 0:
            self.sb.request_end(self.slot, body_len)
            self.sb.set_status(self.slot, "K" if keep else "W")
        if self.sb is not None and (self.slot >= 0 or self.proc >= 0):
            cs = c.stats()  # fc_st_hit's series (the twin times it here)
            record = self.slot if self.slot >= 0 else self.sb.nslots + self.proc
            self.sb.record_hit(record, e.vhost, e.fixed or 200, body_len,
                               time.time() - start, (cs["entries"], cs["content_bytes"],
                                                     cs["evictions"]))
            for kind, n in enumerate(fscount.take()):  # the hit's own fs calls
                if n:
                    self.sb.add_fs(record, kind, n)
        if not body_len:
            c._release(key, e, False)
        with c.lock:
            c.hits += 1
        if not keep:
            self.closing = True
        return rc

    def _render(self, prog: bytes, e: _Entry, r: Req, ctx: tuple) -> bytes:
        start, dur, sent, out, bin_, keep, kcount = ctx
        parts: list[bytes] = []
        i = 0
        while i + 3 <= len(prog):
            op, al = prog[i], prog[i + 1] | (prog[i + 2] << 8)
            arg = prog[i + 3:i + 3 + al]
            i += 3 + al
            if op == OP_LIT:
                parts.append(arg)
            elif op == OP_H:
                parts.append(self._rhost or self.client)
            elif op == OP_A:
                parts.append(self.client)
            elif op == OP_T_CLF:
                parts.append(_clf(int(start)))
            elif op == OP_T_SEC:
                parts.append(b"%d" % int(start))
            elif op == OP_T_MSEC:
                parts.append(b"%d" % int(start * 1000))
            elif op == OP_T_USEC:
                parts.append(b"%d" % int(start * 1000000))
            elif op == OP_T_MSFRAC:
                parts.append(b"%03d" % (int(start * 1000) % 1000))
            elif op == OP_T_USFRAC:
                parts.append(b"%06d" % (int(start * 1000000) % 1000000))
            elif op == OP_R:
                parts.append(esc(r.line))
            elif op == OP_STATUS:
                parts.append(b"%d" % (e.fixed or 200))
            elif op == OP_b:
                parts.append(b"%d" % sent if sent else b"-")
            elif op == OP_B:
                parts.append(b"%d" % sent)
            elif op == OP_D:
                parts.append(b"%d" % dur)
            elif op == OP_T_DIV:
                parts.append(b"%d" % (dur // max(int(arg), 1)))
            elif op == OP_HDR_IN:
                parts.append(header_value(r, arg))
            elif OP_VHOST <= op <= OP_CTYPE_O:
                parts.append(e.lv[op - OP_VHOST])
            elif op == OP_METHOD:
                parts.append(r.method)
            elif op == OP_PROTO:
                parts.append(r.proto)
            elif op == OP_K:
                parts.append(b"%d" % kcount)
            elif op == OP_X:
                parts.append(b"+" if keep else b"-")
            elif op == OP_PID:
                parts.append(b"%d" % os.getpid())
            elif op == OP_TID:
                parts.append(b"%d" % threading.get_native_id())
            elif op == OP_HEXTID:
                parts.append(b"%x" % threading.get_native_id())
            elif op == OP_RPORT:
                parts.append(b"%d" % self.remote_port)
            elif op == OP_I:
                parts.append(b"%d" % bin_)
            elif op == OP_O:
                parts.append(b"%d" % out)
            elif op == OP_S:
                parts.append(b"%d" % (bin_ + out))
            elif op == OP_DASH:
                parts.append(b"-")
        return b"".join(parts)


def _set_timeo(fd: int, opt: int, seconds: float) -> None:
    sec = max(seconds, 0.001)
    tv = struct.pack("ll", int(sec), int((sec - int(sec)) * 1e6))
    s = socket.socket(fileno=fd)
    try:
        s.setsockopt(socket.SOL_SOCKET, opt, tv)
    finally:
        s.detach()


from fastcore._pure.fastloop import EventLoop  # noqa: E402,F401 - part of the API
