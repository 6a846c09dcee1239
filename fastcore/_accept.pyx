# cython: language_level=3
"""Accept serialization: the mechanisms of Apache's `Mutex mpm-accept`, and the accept loop.

The loop (poll every listener while holding the mutex, accept4, give the mutex back) runs
in C without the GIL (fastcore/src/fc_accept.h); this module creates the shared objects in
the parent, maps errors to Python exceptions and offers the same API as the pure-Python
twin fastcore/_pure/accept.py.
"""
import os
import tempfile  # at import, as root: a child under User may not read the stdlib
import socket

from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t
from libc.string cimport memset, strlen
from fastcore._tls cimport fc_tls_g, shared_table

MECHANISMS = ("default", "none", "fcntl", "flock", "sysvsem", "posixsem", "pthread",
              "reuseport", "epollexclusive")
LOCK_MECHANISMS = ("fcntl", "flock", "sysvsem", "posixsem", "pthread")
# Apache's other spellings (ap_parse_mutex): on Linux "file" is fcntl and "sem" posixsem.
ALIASES = {"yes": "default", "no": "none", "file": "fcntl", "sem": "posixsem"}

# Chosen from docs/bench/accept.md (measured with bench_lock on 2 cores, same run as the
# plain-C limits in /work/shared/limits/counters.c).
DEFAULT_MECHANISM = "pthread"
DEFAULT_REASON = (
    "robust process-shared pthread mutex: lock+unlock stays in user space (65-68 ns "
    "uncontended, 109 ns with 2 processes contending, docs/bench/accept.md), as cheap as "
    "posixsem and 10-30x cheaper than flock, fcntl and sysvsem (0.45-1.7 us; sysvsem "
    "7-18 us contended); unlike posixsem it recovers by itself when a holder dies "
    "(EOWNERDEAD); APR's first choice on Linux. With a single Listen, 'default' accepts "
    "unserialized (SINGLE_LISTEN_UNSERIALIZED_ACCEPT)"
)

cdef extern from "fc_accept.h" nogil:
    int fc_mutex_create(fc_mutex_t *m, int mech, const char *lock_dir, unsigned serial)
    int fc_mutex_child_init(fc_mutex_t *m)
    int fc_mutex_lock(fc_mutex_t *m, int64_t deadline, int wake_fd)
    int fc_mutex_unlock(fc_mutex_t *m)
    int fc_mutex_recover(fc_mutex_t *m, int32_t dead_pid)
    void fc_mutex_destroy(fc_mutex_t *m)
    double fc_mutex_bench(fc_mutex_t *m, long n, int *err)
    int fc_acceptor_init(fc_acceptor_t *a, const int *fds, int n, fc_mutex_t *mutex, int epoll,
                         int nonblock)
    void fc_acceptor_close(fc_acceptor_t *a)
    int fc_acceptor_accept(fc_acceptor_t *a, int64_t timeout_ns, sockaddr_storage *peer,
                           socklen_t *plen, int *status, int *err)
    int64_t fc_now_ns()

cdef extern from "<netinet/in.h>" nogil:
    cdef struct in_addr:
        uint32_t s_addr
    cdef struct in6_addr:
        unsigned char s6_addr[16]
    cdef struct sockaddr_in:
        unsigned short sin_family
        uint16_t sin_port
        in_addr sin_addr
    cdef struct sockaddr_in6:
        unsigned short sin6_family
        uint16_t sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr
        uint32_t sin6_scope_id
    uint16_t ntohs(uint16_t)
    uint32_t ntohl(uint32_t)
    int AF_INET
    int AF_INET6
    int AF_UNIX

cdef extern from "<sys/un.h>" nogil:
    cdef struct sockaddr_un:
        unsigned short sun_family
        char sun_path[108]

cdef extern from "<arpa/inet.h>" nogil:
    const char *inet_ntop(int af, const void *src, char *dst, socklen_t size)

cdef dict _CODES = {
    "none": FC_M_NONE, "fcntl": FC_M_FCNTL, "flock": FC_M_FLOCK, "sysvsem": FC_M_SYSVSEM,
    "posixsem": FC_M_POSIXSEM, "pthread": FC_M_PTHREAD, "reuseport": FC_M_REUSEPORT,
    "epollexclusive": FC_M_EPOLLEXCL,
}
cdef unsigned _serial = 0


# ---- the exported nogil C API (see _accept.pxd) ------------------------------------------

cdef int mutex_lock_c(fc_mutex_t *m, int64_t deadline_ns, int wake_fd) noexcept nogil:
    return fc_mutex_lock(m, deadline_ns, wake_fd)

cdef int mutex_unlock_c(fc_mutex_t *m) noexcept nogil:
    return fc_mutex_unlock(m)

cdef int acceptor_accept_c(fc_acceptor_t *a, int64_t timeout_ns, sockaddr_storage *peer,
                           socklen_t *plen, int *status, int *err) noexcept nogil:
    return fc_acceptor_accept(a, timeout_ns, peer, plen, status, err)

cdef int64_t monotonic_ns_c() noexcept nogil:
    return fc_now_ns()


cdef _oserror(int err, str what):
    return OSError(err, f"{what}: {os.strerror(err)}")


def _resolve(mechanism: str) -> str:
    """Apache's Mutex mechanism name (case-insensitive, with its aliases) -> the one used."""
    name = _canonical(mechanism)
    return DEFAULT_MECHANISM if name == "default" else name


def _canonical(mechanism: str) -> str:
    name = str(mechanism).strip().lower()
    name = ALIASES.get(name, name)
    if name not in MECHANISMS:
        raise ValueError(
            f"Mutex: unknown mechanism {mechanism!r}; expected one of "
            f"{', '.join(MECHANISMS)} (or {', '.join(ALIASES)})"
        )
    return name


# ---- listeners -----------------------------------------------------------------------

def open_listener(host: str, port: int, family: int = socket.AF_INET, backlog: int = 511,
                  reuseport: bool = False) -> int:
    """A non-blocking, close-on-exec listening socket; returns its descriptor (the caller owns it).

    SO_REUSEADDR as Apache sets it; IPV6_V6ONLY on AF_INET6 so [::] and 0.0.0.0 can be
    separate Listen lines; reuseport=True for the per-child SO_REUSEPORT mechanism.
    """
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, port))
        s.listen(backlog)
        s.setblocking(False)
    except OSError as exc:
        s.close()
        raise OSError(exc.errno,
                      f"could not bind/listen on {host}:{port}: {exc.strerror}") from None
    return s.detach()


def listener_port(fd: int) -> int:
    """The local port a listening descriptor is bound to (for port 0 in tests)."""
    s = socket.socket(fileno=os.dup(fd))
    try:
        return s.getsockname()[1]
    finally:
        s.close()


# ---- the mutex -----------------------------------------------------------------------

cdef class AcceptMutex:
    """The accept mutex, created in the parent before fork (Apache's Mutex mpm-accept)."""

    def __cinit__(self):
        memset(&self.m, 0, sizeof(self.m))
        self.m.fd = -1
        self.m.semid = -1
        self.alive = False

    def __init__(self, mechanism: str = "default", lock_dir: str | None = None):
        global _serial
        resolved = _resolve(mechanism)
        self.requested = _canonical(mechanism)
        self.mechanism = resolved
        if not lock_dir and resolved in ("fcntl", "flock"):
            # Only these two use a lock file: gettempdir() probes /tmp with a file
            # created and unlinked, which a child's in-process mutex must not pay for
            # when hundreds of children start at once.
            lock_dir = tempfile.gettempdir()
        self.lock_dir = lock_dir or ""
        _serial += 1
        cdef bytes d = os.fsencode(self.lock_dir)
        cdef int r = fc_mutex_create(&self.m, _CODES[resolved], d, _serial)
        if r < 0:
            fc_mutex_destroy(&self.m)
            where = f" in {self.lock_dir}" if resolved in ("fcntl", "flock") else ""
            raise _oserror(-r, f"Mutex {resolved}: cannot create the accept mutex{where}")
        self.alive = True

    def __dealloc__(self):
        if self.alive:
            fc_mutex_destroy(&self.m)

    cdef _check(self):
        if not self.alive:
            raise ValueError(f"Mutex {self.mechanism}: used after destroy()")

    def child_init(self) -> None:
        """In each child after fork: its own lock-file descriptor (flock locks belong to it)."""
        self._check()
        cdef int r = fc_mutex_child_init(&self.m)
        if r < 0:
            raise _oserror(-r, f"Mutex {self.mechanism}: child_init failed for {self.lock_path}")

    def lock(self) -> None:
        """Take the mutex; the GIL is released while waiting, EINTR runs signal handlers."""
        self._check()
        cdef int r
        while True:
            with nogil:
                r = fc_mutex_lock(&self.m, -1, FC_WAKE_EINTR)
            if r == FC_OK:
                return
            if r == FC_WOKEN:
                PyErr_CheckSignals()
                continue
            raise _oserror(-r, f"Mutex {self.mechanism}: lock failed")

    def unlock(self) -> None:
        self._check()
        cdef int r
        with nogil:
            r = fc_mutex_unlock(&self.m)
        if r < 0:
            raise _oserror(-r, f"Mutex {self.mechanism}: unlock failed")

    def recover(self, dead_pid: int) -> bool:
        """Parent, after reaping a child: True if it died holding the mutex (now released)."""
        self._check()
        cdef int r = fc_mutex_recover(&self.m, dead_pid)
        if r < 0:
            raise _oserror(-r, f"Mutex {self.mechanism}: recover failed")
        return r == 1

    def destroy(self) -> None:
        """Release everything; the creating process also removes the lock file / semaphore."""
        if self.alive:
            self.alive = False
            fc_mutex_destroy(&self.m)

    @property
    def holder(self) -> int:
        """pid of the process holding the mutex now (0: free)."""
        return self.m.shm.holder if self.alive and self.m.shm != NULL else 0

    @property
    def owner_dead_recoveries(self) -> int:
        """How often a dead holder's lock was recovered (EOWNERDEAD, or recover() re-posts)."""
        return self.m.shm.owner_dead if self.alive and self.m.shm != NULL else 0

    @property
    def lock_path(self) -> str | None:
        return os.fsdecode(bytes(self.m.path)) if self.m.path[0] else None

    def __repr__(self) -> str:
        return f"<AcceptMutex {self.mechanism} (requested {self.requested})>"


def bench_lock(AcceptMutex mutex not None, long n) -> float:
    """lock+unlock n times in a nogil C loop; returns ns per pair."""
    mutex._check()
    cdef int err = 0
    cdef double ns
    with nogil:
        ns = fc_mutex_bench(&mutex.m, n, &err)
    if err:
        raise _oserror(-err, f"Mutex {mutex.mechanism}: benchmark failed")
    return ns


# ---- the accept loop ------------------------------------------------------------------

cdef object _peer(sockaddr_storage *ss, socklen_t plen):
    cdef char buf[64]
    cdef sockaddr_in *a4
    cdef sockaddr_in6 *a6
    cdef sockaddr_un *au
    if ss.ss_family == AF_INET:
        a4 = <sockaddr_in *>ss
        inet_ntop(AF_INET, &a4.sin_addr, buf, sizeof(buf))
        return (buf.decode("ascii"), ntohs(a4.sin_port))
    if ss.ss_family == AF_INET6:
        a6 = <sockaddr_in6 *>ss
        inet_ntop(AF_INET6, &a6.sin6_addr, buf, sizeof(buf))
        return (buf.decode("ascii"), ntohs(a6.sin6_port), ntohl(a6.sin6_flowinfo),
                a6.sin6_scope_id)
    if ss.ss_family == AF_UNIX:
        au = <sockaddr_un *>ss
        if plen <= sizeof(unsigned short):
            return ("",)
        return (os.fsdecode(au.sun_path[:strlen(au.sun_path)]),)
    return ()


cdef class Acceptor:
    """Accepts from one or several listeners, serialized by the mutex where it applies.

    Build it in the child (after fork). Serialized when the mechanism is a lock, except
    that 'default' with a single listener is unserialized (SINGLE_LISTEN_UNSERIALIZED_ACCEPT);
    'reuseport' expects this child's own SO_REUSEPORT listeners; 'epollexclusive' waits in
    epoll with EPOLLEXCLUSIVE so one child wakes per connection.
    """

    def __cinit__(self):
        memset(&self.a, 0, sizeof(self.a))
        self.a.wake_r = self.a.wake_w = self.a.epfd = -1
        self.alive = False

    def __init__(self, listen_fds, AcceptMutex mutex=None, bint nonblock=False):
        cdef int fds[64]
        cdef int n = 0, r
        cdef fc_mutex_t *mp = NULL
        fd_list = [int(fd) for fd in listen_fds]
        if not 1 <= len(fd_list) <= FC_MAX_LISTENERS:
            raise ValueError(
                f"Acceptor: between 1 and {FC_MAX_LISTENERS} listeners, got {len(fd_list)}")
        for fd in fd_list:
            fds[n] = fd
            n += 1
        if mutex is not None:
            mutex._check()
        mech = mutex.mechanism if mutex is not None else "none"
        single_default = mutex is not None and mutex.requested == "default" and n == 1
        self.serialized = mech in LOCK_MECHANISMS and not single_default
        self.mode = ("epollexclusive" if mech == "epollexclusive"
                     else "serialized" if self.serialized else "unserialized")
        self.mutex = mutex
        self.nonblock = nonblock
        if self.serialized:
            mp = &mutex.m
        r = fc_acceptor_init(&self.a, fds, n, mp, mech == "epollexclusive", nonblock)
        if r < 0:
            fc_acceptor_close(&self.a)
            raise _oserror(-r, f"Acceptor ({self.mode}): setup failed")
        self.a.intr = 1
        self.alive = True

    def __dealloc__(self):
        if self.alive:
            fc_acceptor_close(&self.a)

    def accept(self, timeout: float = -1):
        """(fd, peer) of the next connection, or None on timeout or wake-up."""
        if not self.alive:
            raise ValueError("Acceptor: closed")
        if self.serialized:
            self.mutex._check()            # a destroyed mutex must not mean "no lock"
        cdef sockaddr_storage peer
        cdef socklen_t plen = 0
        cdef int status = 0, err = 0, fd
        cdef int64_t left, deadline = -1
        if timeout is not None and timeout >= 0:
            deadline = fc_now_ns() + <int64_t>(timeout * 1e9)
        while True:
            left = -1 if deadline < 0 else max(0, deadline - fc_now_ns())
            with nogil:
                fd = fc_acceptor_accept(&self.a, left, &peer, &plen, &status, &err)
            if fd >= 0:
                return fd, _peer(&peer, plen)
            if status == FC_INTR:
                PyErr_CheckSignals()       # a handler that raises ends accept() here
                continue
            if status == FC_TIMEDOUT or status == FC_WOKEN:
                return None
            raise _oserror(err, f"accept ({self.mode})")

    def wakeup_fd(self) -> int:
        """Write end of the wake-up pipe: one byte makes a waiting accept() return None
        (also usable with signal.set_wakeup_fd)."""
        return self.a.wake_w

    def wakeup(self) -> None:
        """Wake a waiting accept() (from another thread or a signal handler)."""
        try:
            os.write(self.a.wake_w, b"\0")
        except BlockingIOError:
            pass                        # the pipe is full: a wake-up is pending anyway

    @property
    def backoffs(self) -> int:
        """How many times EMFILE/ENFILE (descriptor shortage) made accept() back off."""
        return self.a.backoffs

    @property
    def listen_fds(self) -> list:
        return [self.a.fds[i] for i in range(self.a.nfds)]

    def close(self) -> None:
        """Close the wake-up pipe and epoll instance (not the listeners, the MPM owns them)."""
        if self.alive:
            self.alive = False
            fc_acceptor_close(&self.a)


# mod_ssl: this extension's shims (src/fc_tls.h) see the process's TLS sessions
fc_tls_g = shared_table()
