# cython: language_level=3
"""The GIL-free request fast path (DESIGN principle 1, issue 6 point 3).

FastCache is a bounded per-process table of static-file responses, filled by the Python
path on a cache miss (`put`) with everything a response needs (header parts, the file's
identity, its bytes or an open descriptor, keep-alive settings, the access-log programs).
FastConn drives one connection through fastcore/src/fc_fast.h: read -> parse strictly ->
look up (addr_key, Host, target) -> one stat() (a renamed-over, truncated or touched file
is noticed and evicted) -> one vectored write (or header + sendfile) -> access log in C ->
scoreboard -> next pipelined request, all without the GIL.  Anything else returns
FALLBACK with the bytes left for the Python path (`take()`).  FastConn.serve_blocking is
the prefork/worker keep-alive loop (SO_RCVTIMEO, no poll); EventLoop is the event MPM
listener's epoll loop that accepts, serves and lingering-closes connections in C and
reports only what needs Python (fastcore/src/fc_fastloop.h).
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcpy, memset
from libc.stdint cimport int64_t
from fastcore._tls cimport fc_tls_g, shared_table

from fastcore._scoreboard cimport Scoreboard
from fastcore._sendfile cimport FC_S_CORK, FC_S_READWRITE, FC_S_SENDFILE, FC_S_WRITEV
from fastcore._pure.fastpath import SMALL_FILE, compile_log_format, log_values  # config time

WANT_READ = FC_WANT_READ
WANT_WRITE = FC_WANT_WRITE
CLOSED = FC_CLOSED
FALLBACK = FC_FALLBACK
TIMEOUT = FC_TIMEOUT    # serve_blocking: the keep-alive wait ran out
EXPIRED = FC_EXPIRED    # EventLoop.wait: an attached connection's deadline passed
RAW = FC_EV_RAW         # EventLoop.wait: a descriptor the loop does not serve
OWNED = FC_EV_OWNED     # EventLoop.wait code flag: a connection the loop accepted (adopt it)
IMPLEMENTATION = "cython"
__all__ = ["FastCache", "FastConn", "EventLoop", "DirWatch", "dirwatch", "compile_log_format", "log_values", "WANT_READ", "WANT_WRITE",
           "CLOSED", "FALLBACK"]

cdef dict _STRATEGY = {"writev": FC_S_WRITEV, "sendfile": FC_S_SENDFILE, "cork": FC_S_CORK,
                       "readwrite": FC_S_READWRITE}


cdef char *_dupb(bytes b) except? NULL:
    cdef char *p = fc_dup(b, len(b))
    if p == NULL:
        raise MemoryError()
    return p


include "_dirwatch.pxi"  # issue 12: DirWatch, dirwatch(), _set_deps


cdef dict _NEG_PROTO = {None: 0, b"HTTP/1.1": 1, b"HTTP/1.0": 2}


cdef fc_negview *_neg_view(tuple neg) except NULL:
    """The C copy of put()'s `neg`: four values, bytes or None (absent), then the
    protocol the answer is for (b"HTTP/1.1", b"HTTP/1.0"; None: both)."""
    cdef const char *v[4]
    cdef size_t l[4]
    cdef int present[4]
    cdef int i
    if len(neg) != FC_NEG_FIELDS + 1:
        raise ValueError("neg holds the values of 4 fields and a protocol")
    if neg[4] not in _NEG_PROTO:
        raise ValueError("neg's protocol is b'HTTP/1.1', b'HTTP/1.0' or None")
    for i in range(4):
        present[i] = neg[i] is not None
        if present[i]:
            v[i] = <bytes>neg[i]
            l[i] = len(<bytes>neg[i])
        else:
            v[i] = NULL
            l[i] = 0
    cdef fc_negview *k = fc_neg_copy(v, l, present, _NEG_PROTO[neg[4]])
    if k == NULL:
        raise MemoryError()
    return k


cdef class FastCache:
    """Bounded cache of static responses + the per-process access-log buffers."""

    def __cinit__(self, size_t max_entries=4096, size_t content_budget=16 << 20,
                  size_t small_max=SMALL_FILE):
        if fc_cache_init(&self.c, max_entries, content_budget) < 0:
            raise MemoryError()
        self.small_max = small_max
        self.ready = True
        self.c.server_len = 0

    cdef fc_fcache *c_ptr(self) noexcept:
        return &self.c

    def configure(self, bytes server_line, int limit_line=8190, int limit_fields=100,
                  int limit_field_size=8190) -> None:
        """The Server header line and the request limits (LimitRequestLine, ...Fields,
        ...FieldSize): a head beyond them is left to the Python path."""
        if len(server_line) >= 256:
            raise ValueError("server line too long")
        memcpy(self.c.server_line, <const char *>server_line, len(server_line))
        self.c.server_len = len(server_line)
        self.c.limit_line = limit_line
        self.c.limit_fields = limit_fields
        self.c.limit_field_size = limit_field_size

    def set_log_set(self, int set_id, list logs) -> None:
        """logs: [(fd, program from compile_log_format, buffered)] of one vhost.  Called at
        setup, before any connection is served."""
        cdef fc_logset *sets
        cdef int i
        if set_id < 0 or len(logs) > FC_MAX_LOGS:
            raise ValueError("bad log set")
        if set_id >= self.c.nsets:
            sets = <fc_logset *>realloc(self.c.sets, (set_id + 1) * sizeof(fc_logset))
            if sets == NULL:
                raise MemoryError()
            memset(&sets[self.c.nsets], 0, (set_id + 1 - self.c.nsets) * sizeof(fc_logset))
            self.c.sets = sets
            self.c.nsets = set_id + 1
        ls = &self.c.sets[set_id]
        for i in range(ls.n):
            free(ls.logs[i].prog)
        ls.n = 0
        for fd, prog, buffered in logs:
            i = ls.n
            ls.logs[i].fd = fd
            ls.logs[i].buffered = 1 if buffered else 0
            ls.logs[i].prog = _dupb(prog)
            ls.logs[i].proglen = len(prog)
            ls.n += 1

    def put(self, long long addr_key, host, bytes target, bytes path, long long ino,
            long long size, long long mtime_ns, bytes mid, bytes ctype_line, *,
            str strategy="sendfile", bint keep_alive=True, int max_keep_alive=100,
            double keep_alive_timeout=5.0, double timeout=60.0, int log_set=-1,
            tuple log_values=(b"",) * 7, bytes vhost=b"", bint want_content=True,
            int expires_kind=0, long long expires_value=0, tuple probes=(),
            bytes links=b"", bytes peer_rule=b"", tuple variants=(),
            long long ctime_ns=0, bytes upgrade=b"", tuple env_checks=(),
            tuple deps=(), int host_need=0, tuple neg=None) -> bool:
        """Cache the 200 response for (addr_key, Host value or None, raw target).  The file
        is opened and checked against (ino, size, mtime_ns); False when it changed or the
        header would not fit.  expires_kind/value: mod_expires' rule (core/cacheable.py's
        Expiry), whose two fields each hit formats after `mid`.  probes: (path, kind,
        mode, size, mtime_ns, ctime_ns, ino) tests each hit repeats (src/fc_rwprobe.h).
        links: the symlink checks each hit repeats (core/linkcheck.py's encoding,
        src/fc_symlink.h); peer_rule: the Require ip program each hit evaluates
        (src/fc_ipmatch.h).  variants: ((coding, mid, body), ...) answers encoded from
        the file whose ctime is ctime_ns, each hit picking one by its Accept-Encoding
        (src/fc_vary.h); `mid` is then the answer for a client that accepts none of them.
        upgrade: the Protocols names a connection's first answer announces
        (src/fc_upgrade.h), b"" for none.  env_checks: SetEnvIf rules as ((kind, header
        name, pattern, PCRE2 options or -1 for a substring, caseless), ...); a request any
        of them matches goes to Python (src/fc_setenvif.h).  deps: the DirDep pairs of
        the directories the answer rests on (DirWatch.watch), checked before each hit.
        host_need: 1 when the answer logs a looked-up name (HostnameLookups On): only a
        connection whose lookup was made (FastConn.dns_level) is served.  neg: for an
        answer mod_negotiation chose, the values (bytes, None when absent) of Accept,
        Accept-Charset, Accept-Encoding and Accept-Language it chose with, then the
        protocol it is for (b"HTTP/1.1", b"HTTP/1.0", None: both): only a request with
        the same values is answered (src/fc_negkey.h)."""
        cdef fc_fentry *e
        cdef int rc, i
        cdef fc_variant *vp
        cdef fc_envcheck *ck
        if expires_kind not in (0, 1, 2, 3):
            raise ValueError("expires_kind is 0, 1, 2 or 3")
        room = len(upgrade) + FC_UPG_ROOM if upgrade else 0
        if len(mid) + len(ctype_line) + self.c.server_len + 120 + room + (
                FC_EXP_MAX if expires_kind else 0) > FC_HDR_MAX:
            return False
        if len(variants) > FC_VAR_MAX:
            raise ValueError("too many variants")
        for coding, vmid, vbody in variants:
            if not 0 < len(coding) < 16:
                raise ValueError("bad coding")
            if len(vmid) + len(ctype_line) + self.c.server_len + 120 + room > FC_HDR_MAX \
                    or expires_kind:
                return False
        if len(env_checks) > FC_ENV_MAX:
            return False
        if len(log_values) != FC_NLV or strategy not in _STRATEGY:
            raise ValueError("log_values needs 7 items; strategy one of " + ", ".join(_STRATEGY))
        if log_set >= self.c.nsets:
            raise ValueError(f"log set {log_set} was not set")
        e = <fc_fentry *>calloc(1, sizeof(fc_fentry))
        if e == NULL:
            raise MemoryError()
        e.ffd = -1
        try:
            e.addr_key = addr_key
            e.has_host = host is not None
            hb = host if host is not None else b""
            e.host = _dupb(hb); e.hostlen = len(hb)
            e.target = _dupb(target); e.tlen = len(target)
            e.path = _dupb(path)
            e.ino = ino; e.size = size; e.mtime_ns = mtime_ns
            e.mid = _dupb(mid); e.midlen = len(mid)
            e.exp_kind = expires_kind; e.exp_val = expires_value
            e.ctype = _dupb(ctype_line); e.ctlen = len(ctype_line)
            e.strategy = _STRATEGY[strategy]
            e.keep_alive = keep_alive
            e.max_ka = max_keep_alive
            e.ka_int = <int>keep_alive_timeout
            e.ka_timeout = keep_alive_timeout
            e.timeout = timeout
            e.log_set = log_set
            e.host_need = host_need
            for i in range(FC_NLV):
                v = log_values[i]
                e.lv[i] = _dupb(v); e.lvlen[i] = len(v)
            e.vhost = _dupb(vhost); e.vhostlen = len(vhost)
            if not _set_probes(e, probes):
                _free_entry(e)
                return False
            if links:  # issue 12: Options without FollowSymLinks, checked per hit
                e.links = _dupb(links); e.linkslen = len(links)
            if peer_rule:  # issue 12: Require ip, evaluated per hit
                e.peer = <unsigned char *>_dupb(peer_rule); e.peerlen = len(peer_rule)
            if env_checks:  # issue 13: fc_setenvif.h
                e.env = <fc_envcheck *>calloc(len(env_checks), sizeof(fc_envcheck))
                if e.env == NULL:
                    raise MemoryError()
                for kind, name, pattern, options, icase in env_checks:
                    ck = &e.env[e.nenv]
                    e.nenv += 1
                    ck.kind = kind
                    ck.name = _dupb(bytes(name).lower()); ck.nl = len(name)
                    ck.pat = _dupb(pattern); ck.pl = len(pattern)
                    ck.icase = 1 if icase else 0
                    if options >= 0 and fc_envcheck_compile(ck, options) < 0:
                        raise ValueError("the regex does not compile")
            if upgrade:  # issue 13: fc_upgrade.h
                e.upg = _dupb(upgrade); e.upglen = len(upgrade)
            if variants:  # issue 13: fc_vary.h
                e.ctime_ns = ctime_ns
                e.var = <fc_variant *>calloc(len(variants), sizeof(fc_variant))
                if e.var == NULL:
                    raise MemoryError()
                for coding, vmid, vbody in variants:
                    vp = &e.var[e.nvar]
                    e.nvar += 1
                    cb = bytes(coding).lower()
                    memcpy(vp.coding, <const char *>cb, len(cb))
                    vp.clen = len(cb)
                    vp.mid = _dupb(vmid); vp.midlen = len(vmid)
                    vp.body = _dupb(vbody); vp.blen = len(vbody)
            _set_deps(e, deps)  # issue 12 (_dirwatch.pxi)
            if neg is not None:  # issue 12: fc_negkey.h
                e.neg = _neg_view(neg)
        except BaseException:
            _free_entry(e)
            raise
        with nogil:
            rc = fc_cache_insert(&self.c, e, want_content, self.small_max)
        if rc != 1:
            _free_entry(e)
            return False
        return True

    def put_fixed(self, long long addr_key, host, bytes target, int status,
                  bytes status_line, bytes mid, bytes ctype_line, bytes body, *,
                  bint keep_alive=True, int max_keep_alive=100, double keep_alive_timeout=5.0,
                  double timeout=60.0, int log_set=-1, tuple log_values=(b"",) * 7,
                  bytes vhost=b"", tuple probes=()) -> bool:
        """Cache an answer that is fixed bytes (mod_rewrite's external redirect, issue 14)
        for GET of (addr_key, Host, target): `status_line` ("HTTP/1.1 301 ...\r\n"),
        `mid` the fields between Server and Connection, `ctype_line`, `body`.  No file
        backs it: only its probes are re-checked per hit.  False when it would not fit."""
        cdef fc_fentry *e
        if not 300 <= status <= 599 or not status_line.endswith(b"\r\n"):
            raise ValueError("a fixed answer has a 3xx-5xx status and a status line")
        if len(status_line) + len(mid) + len(ctype_line) + self.c.server_len + 120 > FC_HDR_MAX:
            return False
        if len(log_values) != FC_NLV:
            raise ValueError("log_values needs 7 items")
        if log_set >= self.c.nsets:
            raise ValueError(f"log set {log_set} was not set")
        e = <fc_fentry *>calloc(1, sizeof(fc_fentry))
        if e == NULL:
            raise MemoryError()
        e.ffd = -1
        try:
            e.addr_key = addr_key
            e.has_host = host is not None
            hb = host if host is not None else b""
            e.host = _dupb(hb); e.hostlen = len(hb)
            e.target = _dupb(target); e.tlen = len(target)
            e.path = _dupb(b"")
            e.fixed = status
            e.sline = _dupb(status_line); e.slen = len(status_line)
            e.size = len(body)
            e.mid = _dupb(mid); e.midlen = len(mid)
            e.ctype = _dupb(ctype_line); e.ctlen = len(ctype_line)
            e.strategy = FC_S_WRITEV
            e.keep_alive = keep_alive
            e.max_ka = max_keep_alive
            e.ka_int = <int>keep_alive_timeout
            e.ka_timeout = keep_alive_timeout
            e.timeout = timeout
            e.log_set = log_set
            for i in range(FC_NLV):
                v = log_values[i]
                e.lv[i] = _dupb(v); e.lvlen[i] = len(v)
            e.vhost = _dupb(vhost); e.vhostlen = len(vhost)
            if not _set_probes(e, probes):
                _free_entry(e)
                return False
        except BaseException:
            _free_entry(e)
            raise
        try:
            e.content = _dupb(body)
        except BaseException:
            _free_entry(e)
            raise
        if not fc_cache_link_fixed(&self.c, e):
            _free_entry(e)
            return False
        return True

    def may_use_cache(self, bytes head) -> bool:
        """Whether the engine would answer this complete request head from its cache (had
        it the entry), under the configured limits: the C side of core/cacheable.py's
        may_use_cache, for the parity test."""
        cdef const char *p = head
        cdef size_t n = len(head)
        cdef int ok
        with nogil:
            ok = fc_head_may_use_cache(&self.c, p, n)
        return ok != 0

    def lookup(self, long long addr_key, host, bytes target, tuple neg=None):
        """The entry as a dict (tests and -S style introspection), or None; neg: the
        request's negotiation values as put() takes them (None: any entry)."""
        cdef fc_fentry *e
        cdef fc_negview *nv = NULL
        cdef int i
        hb = host if host is not None else b""
        if neg is not None:
            nv = _neg_view(neg)
        try:
            e = fc_cache_get(&self.c, addr_key, host is not None, hb, len(hb), target,
                             len(target), nv)
        finally:
            if nv != NULL:
                fc_neg_free(nv)
        if e == NULL:
            return None
        try:
            return {"path": <bytes>e.path, "ino": e.ino, "size": e.size,
                    "mtime_ns": e.mtime_ns, "in_memory": e.content != NULL,
                    "mid": e.mid[:e.midlen], "ctype_line": e.ctype[:e.ctlen],
                    "expires": (e.exp_kind, e.exp_val), "probes": e.nprobes,
                    "fixed": e.fixed,
                    "links": e.links[:e.linkslen] if e.links != NULL else b"",
                    "peer_rule": (<char *>e.peer)[:e.peerlen] if e.peer != NULL else b"",
                    "variants": tuple((e.var[i].coding[:e.var[i].clen],
                                       e.var[i].mid[:e.var[i].midlen], e.var[i].blen)
                                      for i in range(e.nvar)),
                    "upgrade": e.upg[:e.upglen] if e.upglen else b"",
                    "env_checks": e.nenv, "negotiated": e.neg != NULL}
        finally:
            fc_cache_release(&self.c, e, 0)

    def remove(self, long long addr_key, host, bytes target) -> bool:
        hb = host if host is not None else b""
        return bool(fc_cache_remove(&self.c, addr_key, host is not None, hb, len(hb), target,
                                    len(target)))

    def clear(self) -> None:
        with nogil:
            fc_cache_clear(&self.c)

    def __len__(self) -> int:
        return self.c.count

    def set_draining(self, bint on) -> None:
        """Graceful stop: answer every further request with Connection: close, so a kept
        connection is closed only after announcing it (or when idle past KeepAliveTimeout)."""
        self.c.draining = on

    def stats(self) -> dict:
        return {"entries": self.c.count, "hits": self.c.hits, "fallbacks": self.c.fallbacks,
                "evictions": self.c.evictions, "content_bytes": self.c.content_bytes}

    def log_line(self, int fd, bytes line, bint buffered) -> None:
        """Write a line the Python path formatted through the same buffers, so lines of
        one log stay in order whichever path served the request."""
        cdef const char *p = line
        cdef size_t n = len(line)
        with nogil:
            fc_log_emit(&self.c, fd, buffered, p, n)

    def flush_logs(self) -> None:
        with nogil:
            fc_log_flush(&self.c)

    def __dealloc__(self):
        if self.ready:
            fc_log_flush(&self.c)
            fc_cache_clear(&self.c)


def links_ok(bytes spec) -> bool:
    """Whether a cached answer's symlink checks (core/linkcheck.py) still pass, without
    the GIL: the Python cache's hit check and the parity tests' C side."""
    cdef const char *p = spec
    cdef size_t n = len(spec)
    cdef int ok
    with nogil:
        ok = fc_links_ok(p, n)
    return ok != 0


def peer_granted(bytes prog, bytes client) -> bool:
    """Whether a Require ip program (mod_authz_core/peer.py) grants the client address
    text: the Python cache's hit check and the parity tests' C side."""
    cdef const unsigned char *p = <const unsigned char *><const char *>prog
    cdef const char *cl = client
    cdef size_t n = len(prog), cn = len(client)
    cdef int ok
    with nogil:
        ok = fc_peer_granted(p, n, cl, cn)
    return ok != 0


def peer_granted_host(bytes prog, bytes client, int hstate, bytes host) -> bool:
    """peer_granted with the connection's double-reverse state (fc_host: -1 not looked
    up, 0 no confirmed name, 1 `host` confirmed): the parity tests' C side."""
    cdef fc_host h
    h.state = hstate
    h.name = host
    h.len = len(host)
    cdef const unsigned char *p = <const unsigned char *><const char *>prog
    cdef const char *cl = client
    cdef size_t n = len(prog), cn = len(client)
    cdef int ok
    with nogil:
        ok = fc_peer_granted_host(p, n, cl, cn, &h)
    return ok != 0


cdef void _free_entry(fc_fentry *e) noexcept:
    cdef int i
    free(e.host); free(e.target); free(e.path); free(e.mid); free(e.ctype); free(e.vhost)
    free(e.links); free(e.peer)
    fc_variants_free(e.var, e.nvar)
    free(e.upg)
    fc_envchecks_free(e.env, e.nenv)
    free(e.deps)
    for i in range(7):
        free(e.lv[i])
    fc_probes_free(e.probes, e.nprobes); free(e.sline); free(e.content)
    free(e)


cdef bint _set_probes(fc_fentry *e, tuple probes) except -1:
    """Copy (path, kind, mode, size, mtime_ns, ctime_ns, ino) tuples into the entry (its
    fc_rwprobe.h tests); False for more than FC_PROBES_MAX of them."""
    cdef int i
    cdef fc_probe *p
    if not probes:
        return True
    if len(probes) > FC_PROBES_MAX:
        return False
    e.probes = <fc_probe *>calloc(len(probes), sizeof(fc_probe))
    if e.probes == NULL:
        raise MemoryError()
    for i in range(len(probes)):
        path, kind, mode, size, mtime_ns, ctime_ns, ino = probes[i]
        if kind not in (0, 1, 2):
            raise ValueError("a probe's kind is 0, 1 or 2")
        p = &e.probes[i]
        p.path = _dupb(path)
        e.nprobes = i + 1
        p.kind = kind; p.mode = mode; p.size = size
        p.mtime_ns = mtime_ns; p.ctime_ns = ctime_ns; p.ino = ino
    return True


cdef class FastConn:
    """One connection's fast-path state (buffer, pending output, keep-alive count)."""

    def __cinit__(self, FastCache cache, int fd, bint blocking, bytes client_ip,
                  int remote_port=0, scoreboard=None, int slot=-1, long long addr_key=0):
        if fc_conn_init(&self.k, fd, blocking) < 0:
            raise MemoryError()
        self.live = True
        self.cache = cache
        n = min(len(client_ip), 63)
        memcpy(self.k.client, <const char *>client_ip, n)
        self.k.clientlen = n
        self.k.remote_port = remote_port
        self.k.addr_key = addr_key
        self.k.slot = slot
        if scoreboard is not None:
            if not isinstance(scoreboard, Scoreboard):
                raise TypeError("the fast path needs the compiled scoreboard")
            self.sbref = scoreboard
            self.k.sb = (<Scoreboard>scoreboard).sb
        self.k.timeout = 60.0
        self.k.ka_timeout = 5.0

    def serve(self) -> int:
        """Serve cached requests; WANT_READ, WANT_WRITE, CLOSED or FALLBACK."""
        cdef int rc
        if not self.live:
            return FC_CLOSED
        with nogil:
            rc = fc_serve(&self.cache.c, &self.k)
        return rc

    def take(self) -> bytes:
        """Hand the unserved bytes to the Python path (the buffer is emptied)."""
        out = (PyBytes_FromStringAndSize(self.k.buf + self.k.start, self.k.len)
               if self.live and self.k.len else b"")
        self.k.start = 0
        self.k.len = 0
        return out

    def serve_blocking(self, double first_wait) -> int:
        """prefork/worker: serve keep-alive requests on a blocking socket until something
        needs Python; reads wait at most first_wait s, later KeepAliveTimeout (SO_RCVTIMEO,
        no poll).  TIMEOUT when the wait ran out, WANT_READ with a partial head buffered."""
        cdef int rc
        if not self.live:
            return FC_CLOSED
        with nogil:
            rc = fc_serve_blocking(&self.cache.c, &self.k, first_wait)
        return rc

    def set_send_timeout(self, double seconds) -> None:
        """SO_SNDTIMEO on a blocking socket: a blocked send gives up after Timeout."""
        cdef int rc
        with nogil:
            rc = fc_set_sndtimeo(self.k.fd, seconds)
        if rc < 0:
            raise OSError(-rc, "setsockopt(SO_SNDTIMEO)")

    def set_timeouts(self, double timeout, double keep_alive_timeout) -> None:
        """Timeout and KeepAliveTimeout until a served entry brings its vhost's."""
        self.k.timeout = timeout
        self.k.ka_timeout = keep_alive_timeout

    @property
    def fd(self) -> int:
        return self.k.fd

    property requests:
        def __get__(self): return self.k.requests
        def __set__(self, long v): self.k.requests = v

    property slot:
        def __get__(self): return self.k.slot
        def __set__(self, int v): self.k.slot = v

    def take_reason(self) -> int:
        """Why the engine last handed a request to Python (FALLBACK_REASONS index; 0:
        none since the last call)."""
        cdef int r = self.k.reason
        self.k.reason = 0
        return r

    property closing:
        def __get__(self): return bool(self.k.closing)
        def __set__(self, bint v): self.k.closing = v

    property dns_level:
        """1 once the connection's reverse lookup was made (remote_host is its name)."""
        def __get__(self): return self.k.dns_level
        def __set__(self, int v): self.k.dns_level = v

    property dns_confirmed:
        """1 when remote_host is a name its forward lookup confirmed (Require host)."""
        def __get__(self): return self.k.dns_confirmed
        def __set__(self, int v): self.k.dns_confirmed = v

    property remote_host:
        def __get__(self): return self.k.rhost[:self.k.rhostlen] if self.k.rhostlen else None
        def __set__(self, v):
            b = v or b""
            n = min(len(b), 255)
            if fc_conn_set_host(&self.k, <const char *>b, n) < 0:
                raise MemoryError()

    @property
    def eof(self) -> bool:
        return bool(self.k.eof)

    @property
    def timeout(self) -> float:
        return self.k.timeout

    @property
    def keep_alive_timeout(self) -> float:
        return self.k.ka_timeout

    @property
    def buffered(self) -> int:
        return self.k.len

    @property
    def pending_output(self) -> bool:
        return bool(self.k.has_out)

    def close(self) -> None:
        """Release the buffer and any entry held by unsent output (the descriptor is the
        caller's)."""
        if self.live:
            fc_conn_free(&self.cache.c, &self.k)
            self.live = False

    def __dealloc__(self):
        if self.live:
            fc_conn_free(&self.cache.c, &self.k)
        fc_conn_forget_host(&self.k)


include "_eventloop.pxi"  # the event MPM's epoll loop over engine connections


def keepalive_decision(i):
    """The engine's keep-alive rule (fc_keepalive in fc_keepalive.h) on a
    fastcore.core.keepalive.KeepAliveInput: the parity test's window into the C code."""
    from fastcore.core.keepalive import KeepAliveDecision
    cdef fc_ka_in k
    cdef char out[128]
    cdef size_t n = 0
    k.http11 = i.http11; k.close_token = i.close_token; k.ka_token = i.ka_token
    k.status = i.status; k.delimited = i.delimited; k.forced_close = i.forced_close
    k.framing_reusable = i.framing_reusable; k.unanswered_continue = i.unanswered_continue
    k.keep_alive = i.keep_alive; k.max_requests = i.max_requests; k.requests = i.requests
    k.timeout = i.timeout; k.draining = i.draining
    keep = fc_keepalive(&k, out, &n)
    return KeepAliveDecision(bool(keep), PyBytes_FromStringAndSize(out, n))


def expiry_fields(int kind, long long value, long long now_us) -> bytes:
    """The Cache-Control/Expires lines a hit at now_us sends for an entry's expiry rule
    (fc_expiry_fields in fc_expires.h): the parity test's window into the C code."""
    cdef char out[128]
    cdef size_t n = fc_expiry_fields(kind, value, now_us, out)
    return PyBytes_FromStringAndSize(out, n)


def accepts_coding(bytes value, bytes coding):
    """mod_deflate's reading of one Accept-Encoding value for `coding` as the engine
    reads it (fc_accepts_coding in src/fc_vary.h): True, False, or None where the engine
    leaves the request to the Python path.  The parity test's window into the C code."""
    cdef int rc = fc_accepts_coding(value, len(value), coding, len(coding))
    return None if rc == FC_VAR_UNDECIDED else bool(rc)


# mod_ssl: this extension's shims (src/fc_tls.h) see the process's TLS sessions
fc_tls_g = shared_table()
