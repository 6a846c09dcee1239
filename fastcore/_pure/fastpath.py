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
from typing import TYPE_CHECKING, Any

from fastcore._pure.dirwatch import DirDep, DirWatch, dirwatch
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
from fastcore._pure.ipmatch import peer_granted
from fastcore._pure.rwprobe import probe_holds, put_fixed, set_probes
from fastcore._pure.setenvif import ENV_MAX, Check, any_match, compile_check
from fastcore._pure.symlink import links_ok
from fastcore._pure.vary import UNDECIDED, engine_accepts, pick
from fastcore.core.cacheable import expiry_fields as _cacheable_expiry_fields
from fastcore.core.keepalive import KeepAliveDecision, KeepAliveInput, decide
from fastcore.core.protocols import announced_fields
from fastcore.modules.mod_log_config import write_all

if TYPE_CHECKING:
    from fastcore._pure.scoreboard import Scoreboard

WANT_READ, WANT_WRITE, CLOSED, FALLBACK = 1, 2, 3, 4
TIMEOUT = EXPIRED = 5
RAW = 0
OWNED = 0x100
LINGER = 2.0
IMPLEMENTATION = "pure"
SMALL_FILE = 65536
CONN_BUF = 16384
HDR_MAX = 2048
LOG_BUFSIZE = 4096
MAX_LOGS = 8
NLV = 7
EXP_MAX = 96  # FC_EXP_MAX: room put() leaves for an expiry's two lines
VAR_MAX = 4   # FC_VAR_MAX: encoded variants per entry
UPG_ROOM = 64  # FC_UPG_ROOM: the announcement's fixed text
STRATEGIES = ("writev", "sendfile", "cork", "readwrite")
__all__ = ["FastCache", "FastConn", "EventLoop", "DirWatch", "dirwatch", "compile_log_format",
           "log_values", "links_ok", "peer_granted",
           "WANT_READ", "WANT_WRITE", "CLOSED", "FALLBACK", "TIMEOUT", "EXPIRED", "RAW", "OWNED"]


def _sendfile():  # noqa: ANN202 - the twin's own send path
    from fastcore._pure import sendfile
    return sendfile




class _Entry:
    """One cached response (fc_fentry in C)."""

    __slots__ = ("path", "dev", "ino", "size", "mtime_ns", "ctime_ns", "mid", "exp_kind",
                 "exp_val", "ctype", "content", "ffd",
                 "strategy", "keep_alive", "max_ka", "ka_timeout", "timeout", "log_set", "lv",
                 "vhost", "refs", "dead", "probes", "fixed", "sline", "links", "peer",
                 "variants", "upgrade", "env", "deps")
    path: bytes
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    mid: bytes
    exp_kind: int
    exp_val: int
    ctype: bytes
    content: bytes | None
    ffd: int
    strategy: str
    keep_alive: bool
    max_ka: int
    ka_timeout: float
    timeout: float
    log_set: int
    lv: tuple[bytes, ...]
    vhost: bytes
    refs: int
    dead: bool
    probes: tuple[tuple, ...]  # src/fc_rwprobe.h: (path, kind, mode, size, mtime, ctime, ino)
    fixed: int                 # a fixed answer's status (a redirect), 0 for a file
    sline: bytes               # its status line
    links: bytes  # symlink checks per hit (_pure/symlink.py), or b""
    peer: bytes   # Require ip program per hit (_pure/ipmatch.py), or b""
    variants: tuple[tuple[bytes, bytes, bytes], ...]  # (coding, mid, body): fc_vary.h
    upgrade: bytes  # Protocols' names a connection's first answer announces: fc_upgrade.h
    env: tuple[Check, ...]  # SetEnvIf rules: any match sends the request to Python
    deps: tuple[DirDep, ...]  # directories the answer rests on (dirwatch.py)


class FastCache:
    """Twin of the C cache: a dict, a lock, reference counted entries."""

    def __init__(self, max_entries: int = 4096, content_budget: int = 16 << 20,
                 small_max: int = SMALL_FILE) -> None:
        self.max_entries = max(max_entries, 1)
        self.budget = content_budget
        self.small_max = small_max
        self.entries: dict[tuple, _Entry] = {}
        self.content_bytes = 0
        self.lock = threading.Lock()
        self.loglock = threading.Lock()
        self.server_line = b""
        self.limit_line, self.limit_fields, self.limit_field_size = 8190, 100, 8190
        self.sets: list[list[tuple[int, bytes, bool]]] = []
        self.bufs: dict[int, bytearray] = {}
        self.hits = self.fallbacks = self.evictions = 0
        self.draining = False

    def configure(self, server_line: bytes, limit_line: int = 8190, limit_fields: int = 100,
                  limit_field_size: int = 8190) -> None:
        if len(server_line) >= 256:
            raise ValueError("server line too long")
        self.server_line = bytes(server_line)
        self.limit_line, self.limit_fields, self.limit_field_size = limit_line, limit_fields, limit_field_size

    def set_log_set(self, set_id: int, logs: list) -> None:
        if set_id < 0 or len(logs) > MAX_LOGS:
            raise ValueError("bad log set")
        while len(self.sets) <= set_id:
            self.sets.append([])
        self.sets[set_id] = [(int(fd), bytes(prog), bool(buf)) for fd, prog, buf in logs]

    def put(self, addr_key: int, host: bytes | None, target: bytes, path: bytes, ino: int,
            size: int, mtime_ns: int, mid: bytes, ctype_line: bytes, *,
            strategy: str = "sendfile", keep_alive: bool = True, max_keep_alive: int = 100,
            keep_alive_timeout: float = 5.0, timeout: float = 60.0, log_set: int = -1,
            log_values: tuple = (b"",) * 7, vhost: bytes = b"", want_content: bool = True,
            expires_kind: int = 0, expires_value: int = 0, probes: tuple = (),
            links: bytes = b"", peer_rule: bytes = b"", variants: tuple = (),
            ctime_ns: int = 0, upgrade: bytes = b"", env_checks: tuple = (),
            deps: tuple = ()) -> bool:
        if expires_kind not in (0, 1, 2):
            raise ValueError("expires_kind is 0, 1 or 2")
        room = len(upgrade) + UPG_ROOM if upgrade else 0
        if len(mid) + len(ctype_line) + len(self.server_line) + 120 + room + (
                EXP_MAX if expires_kind else 0) > HDR_MAX:
            return False
        if len(variants) > VAR_MAX:
            raise ValueError("too many variants")
        for coding, vmid, _ in variants:
            if not 0 < len(coding) < 16:
                raise ValueError("bad coding")
            if len(vmid) + len(ctype_line) + len(self.server_line) + 120 + room > HDR_MAX \
                    or expires_kind:
                return False
        if len(env_checks) > ENV_MAX:
            return False
        if len(log_values) != NLV or strategy not in STRATEGIES:
            raise ValueError("log_values needs 7 items; strategy one of " + ", ".join(STRATEGIES))
        if log_set >= len(self.sets):
            raise ValueError(f"log set {log_set} was not set")
        env = tuple(compile_check(*c) for c in env_checks)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
        except OSError:
            return False
        st = os.fstat(fd)
        import stat as stmod
        if (not stmod.S_ISREG(st.st_mode) or st.st_ino != ino or st.st_size != size
                or st.st_mtime_ns != mtime_ns or (variants and st.st_ctime_ns != ctime_ns)):
            os.close(fd)
            return False
        if deps and not dirwatch().valid(deps):  # a directory it rests on changed since
            os.close(fd)
            return False
        e = _Entry()
        e.path, e.dev, e.ino, e.size, e.mtime_ns = bytes(path), st.st_dev, ino, size, mtime_ns
        e.ctime_ns = st.st_ctime_ns  # seen at insert: a rewrite that puts mtime back
        e.mid, e.ctype, e.strategy = bytes(mid), bytes(ctype_line), strategy
        e.exp_kind, e.exp_val = expires_kind, expires_value
        e.keep_alive, e.max_ka = bool(keep_alive), max_keep_alive
        e.ka_timeout, e.timeout, e.log_set = keep_alive_timeout, timeout, log_set
        e.lv, e.vhost, e.refs, e.dead = tuple(bytes(v) for v in log_values), bytes(vhost), 1, False
        e.content, e.ffd = None, -1
        e.fixed, e.sline, e.probes = 0, b"", ()
        if not set_probes(e, probes):
            os.close(fd)
            return False
        e.links, e.peer = bytes(links), bytes(peer_rule)
        e.upgrade = bytes(upgrade)
        e.env = env
        e.variants = tuple((bytes(k).lower(), bytes(m), bytes(b)) for k, m, b in variants)
        e.deps = tuple(deps)
        with self.lock:
            keep = want_content and size <= self.small_max and self.content_bytes + size <= self.budget
            if keep:
                self.content_bytes += size
        if keep:
            data = os.pread(fd, size, 0) if size else b""
            os.close(fd)
            if len(data) != size:
                with self.lock:
                    self.content_bytes -= size
                return False
            e.content = data
        else:
            e.ffd = fd
        self._link(addr_key, host, target, e)
        return True

    def put_fixed(self, addr_key: int, host: bytes | None, target: bytes, status: int,
                  status_line: bytes, mid: bytes, ctype_line: bytes, body: bytes,
                  **kw: Any) -> bool:
        """A fixed answer for GET (the C engine's put_fixed, src/fc_rwfixed.h)."""
        return put_fixed(self, _Entry(), addr_key, host, target, status, status_line, mid,
                         ctype_line, body, **kw)

    def _link(self, addr_key: int, host: bytes | None, target: bytes, e: _Entry) -> None:
        """fc_cache_link: the entry replaces the key's old one."""
        key = (addr_key, host is not None, bytes(host or b""), bytes(target))
        with self.lock:
            old = self.entries.get(key)
            if old is not None:
                self._unlink(key)
            if len(self.entries) >= self.max_entries:
                for k in list(self.entries):
                    self._unlink(k)
                    self.evictions += 1
            self.entries[key] = e

    def _unlink(self, key: tuple) -> None:  # under self.lock
        e = self.entries.pop(key)
        e.dead = True
        self._unref(e)

    def _unref(self, e: _Entry) -> None:  # under self.lock
        e.refs -= 1
        if e.refs == 0:
            if e.content is not None:
                self.content_bytes -= e.size
            if e.ffd >= 0:
                os.close(e.ffd)
                e.ffd = -1

    def _get(self, addr_key: int, host: bytes | None, target: bytes) -> tuple[tuple, _Entry | None]:
        key = (addr_key, host is not None, bytes(host or b""), bytes(target))
        with self.lock:
            e = self.entries.get(key)
            if e is not None:
                e.refs += 1
        return key, e

    def _release(self, key: tuple, e: _Entry, evict: bool) -> None:
        with self.lock:
            if evict and not e.dead and self.entries.get(key) is e:
                self._unlink(key)
                self.evictions += 1
            self._unref(e)

    def may_use_cache(self, head: bytes) -> bool:
        """Whether the engine would answer this complete head from its cache (had it the
        entry), under the configured limits (the C engine's method of that name)."""
        got = parse(self, head)
        return isinstance(got, tuple) and got[0] == len(head)

    def lookup(self, addr_key: int, host: bytes | None, target: bytes) -> dict | None:
        key, e = self._get(addr_key, host, target)
        if e is None:
            return None
        try:
            return {"path": e.path, "ino": e.ino, "size": e.size, "mtime_ns": e.mtime_ns,
                    "in_memory": e.content is not None, "mid": e.mid, "ctype_line": e.ctype,
                    "expires": (e.exp_kind, e.exp_val), "probes": len(e.probes),
                    "fixed": e.fixed, "links": e.links, "peer_rule": e.peer,
                    "variants": tuple((k, m, len(b)) for k, m, b in e.variants),
                    "upgrade": e.upgrade, "env_checks": len(e.env)}
        finally:
            self._release(key, e, False)

    def remove(self, addr_key: int, host: bytes | None, target: bytes) -> bool:
        key = (addr_key, host is not None, bytes(host or b""), bytes(target))
        with self.lock:
            if key in self.entries:
                self._unlink(key)
                return True
        return False

    def clear(self) -> None:
        with self.lock:
            for k in list(self.entries):
                self._unlink(k)

    def __len__(self) -> int:
        return len(self.entries)

    def set_draining(self, on: bool) -> None:
        """Graceful stop: every further answer closes its connection (announced)."""
        self.draining = bool(on)

    def stats(self) -> dict:
        return {"entries": len(self.entries), "hits": self.hits, "fallbacks": self.fallbacks,
                "evictions": self.evictions, "content_bytes": self.content_bytes}

    def log_line(self, fd: int, line: bytes, buffered: bool) -> None:
        if not buffered:
            write_all(fd, line)
            return
        with self.loglock:
            buf = self.bufs.setdefault(fd, bytearray())
            if len(buf) + len(line) > LOG_BUFSIZE:
                write_all(fd, bytes(buf))
                buf.clear()
            if len(line) > LOG_BUFSIZE:
                write_all(fd, line)
            else:
                buf += line

    def flush_logs(self) -> None:
        with self.loglock:
            for fd, buf in self.bufs.items():
                if buf:
                    write_all(fd, bytes(buf))
                    buf.clear()


_clf_cache: list = [None, b""]


def accepts_coding(value: bytes, coding: bytes) -> bool | None:
    """Twin of _fastpath.accepts_coding (fc_accepts_coding)."""
    return engine_accepts(value, coding)


def expiry_fields(kind: int, value: int, now_us: int) -> bytes:
    """Twin of fc_expiry_fields: core/cacheable.py's formatting, the one Python copy."""
    return _cacheable_expiry_fields(kind, value, now_us)


def keepalive_decision(i: KeepAliveInput) -> KeepAliveDecision:
    """The twin of the engine's test-visible fc_keepalive: the one Python rule itself."""
    return decide(i)


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


class FastConn:
    """Twin of the C connection state and loop."""

    def __init__(self, cache: FastCache, fd: int, blocking: bool, client_ip: bytes,
                 remote_port: int = 0, scoreboard: Scoreboard | None = None, slot: int = -1,
                 addr_key: int = 0) -> None:
        self.cache, self.fd, self.blocking = cache, fd, blocking
        self.client = bytes(client_ip[:63])
        self.remote_port, self.addr_key = remote_port, addr_key
        self.sb, self.slot = scoreboard, slot
        self.buf = bytearray()
        self.requests = 0
        self.closing = False
        self._eof = False
        self._rhost = b""
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
            return FALLBACK
        if e.fixed and r.method != b"GET":  # a fixed answer (redirect) is GET's only
            c._release(key, e, False)
            c.fallbacks += 1
            return FALLBACK
        if e.fixed:
            ok = True
        else:
            try:
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
        if (e.links and not links_ok(e.links)) or (e.peer and not peer_granted(e.peer, self.client)):
            # a refused symlink, or a client Require ip does not grant: the Python path's 403
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
