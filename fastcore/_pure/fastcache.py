"""The twin's response cache (fastcore._fastpath's FastCache in Python): entries, their
bounded store and what put() checks; the connection side is in fastcore._pure.fastpath,
which re-exports all of this."""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from fastcore._pure.dirwatch import DirDep, dirwatch
from fastcore._pure.fastparse import parse
from fastcore._pure.rwprobe import put_fixed, set_probes
from fastcore._pure.setenvif import ENV_MAX, Check, compile_check
from fastcore.modules.mod_log_config import write_all

if TYPE_CHECKING:
    pass

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


class _Entry:
    """One cached response (fc_fentry in C)."""

    __slots__ = ("path", "dev", "ino", "size", "mtime_ns", "ctime_ns", "mid", "exp_kind",
                 "exp_val", "ctype", "content", "ffd",
                 "strategy", "keep_alive", "max_ka", "ka_timeout", "timeout", "log_set", "lv",
                 "vhost", "refs", "dead", "probes", "fixed", "sline", "links", "peer",
                 "variants", "upgrade", "env", "deps", "host_need")
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
    host_need: int  # 1: served only once the connection's name was looked up (dns_level)


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
            deps: tuple = (), host_need: int = 0, neg: tuple | None = None) -> bool:
        if neg is not None:
            # a negotiated answer (src/fc_negkey.h): the twin does not hold one, so the
            # Python path negotiates each such request
            return False
        if expires_kind not in (0, 1, 2, 3):
            raise ValueError("expires_kind is 0, 1, 2 or 3")
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
        e.host_need = host_need
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
        e = _Entry()
        e.host_need = 0  # (a fixed answer never logs a looked-up name: fixedanswer.py)
        return put_fixed(self, e, addr_key, host, target, status, status_line, mid,
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

    def lookup(self, addr_key: int, host: bytes | None, target: bytes,
               neg: tuple | None = None) -> dict | None:
        """The entry as a dict, or None (`neg` as the C one takes it: the twin holds no
        negotiated entry, so every entry it has answers any values)."""
        key, e = self._get(addr_key, host, target)
        if e is None:
            return None
        try:
            return {"path": e.path, "ino": e.ino, "size": e.size, "mtime_ns": e.mtime_ns,
                    "in_memory": e.content is not None, "mid": e.mid, "ctype_line": e.ctype,
                    "expires": (e.exp_kind, e.exp_val), "probes": len(e.probes),
                    "fixed": e.fixed, "links": e.links, "peer_rule": e.peer,
                    "variants": tuple((k, m, len(b)) for k, m, b in e.variants),
                    "upgrade": e.upgrade, "env_checks": len(e.env), "negotiated": False}
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
