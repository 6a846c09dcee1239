# cython: language_level=3
"""Shared-memory scoreboard: per-worker slots and global counters shared across fork.

The parent creates it before forking (MAP_SHARED|MAP_ANONYMOUS); children inherit the same
pages. Slots are single-writer plain stores, as Apache's scoreboard; the global counters use
hardware compare-and-swap (atomics=nonportable) or a robust process-shared mutex
(atomics=portable), each on its own cache line. The C layout and the nogil functions are in
fastcore/src/fc_scoreboard.h and are exported to other .pyx files by _scoreboard.pxd.
"""
from cpython.bytes cimport PyBytes_AsStringAndSize
from libc.errno cimport errno, ETIMEDOUT
from libc.stdint cimport int64_t
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memset
from posix.mman cimport MAP_ANONYMOUS, MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE, mmap, munmap
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

import os


cdef extern from "fc_atomic.h":
    const char *FC_ATOMICS_MODE_C "FC_ATOMICS_MODE"
    const char *FC_ATOMICS_REQUESTED_C "FC_ATOMICS_REQUESTED"
    const char *FC_CC_VERSION_C "FC_CC_VERSION"
    const char *FC_CYTHON_VERSION_C "FC_CYTHON_VERSION"
    enum:
        FC_ATOMICS_CAS
        FC_CACHELINE
    int fc_scoreboard_debug_lock "fc_sb_debug_lock"(fc_sb_t *sb, int counter) nogil


cdef extern from "fc_scoreboard_bench.h" nogil:
    int fc_bench_loop(fc_counter_t *c, long n, int64_t *t0, int64_t *t1)
    int fc_bench_contended(fc_counter_t *c, int nproc, long n, int pin, double *agg_ns,
                           double *proc_ns)


cdef extern from *:
    """
    #if FC_ATOMICS_CAS
    static int fc_sb_debug_lock(fc_sb_t *sb, int counter) { (void)sb; (void)counter; return -1; }
    #else
    static int fc_sb_debug_lock(fc_sb_t *sb, int counter) {
        return fc_counter_debug_lock(&sb->counters[counter]);
    }
    #endif
    """


ATOMICS_MODE: str = FC_ATOMICS_MODE_C.decode("ascii")
ATOMICS_REQUESTED: str = FC_ATOMICS_REQUESTED_C.decode("ascii")   # auto|portable|nonportable
CC_VERSION: str = FC_CC_VERSION_C.decode("utf-8", "replace")   # the compiler that built this
CYTHON_VERSION: str = FC_CYTHON_VERSION_C.decode("ascii")
ATOMICS_IMPL: str = ("cas" if FC_ATOMICS_CAS else "robust process-shared pthread mutex")
ACCESSES: int = FC_SB_ACCESSES
BYTES: int = FC_SB_BYTES
BUSY: int = FC_SB_BUSY
IDLE: int = FC_SB_IDLE
COUNTERS: tuple = ("ACCESSES", "BYTES", "BUSY", "IDLE")
STATUS_CHARS: str = "_SRWKDCLGI."
REQUEST_MAX: int = FC_SB_REQ_LEN - 1     # bytes of the request line kept (Apache: 63)
CLIENT_MAX: int = FC_SB_CLIENT_LEN - 1
VHOST_MAX: int = FC_SB_VHOST_LEN - 1
# fastcore's own series (fc_stats.h): names of the FC_FR_* reasons and FC_FS_* kinds
FALLBACK_REASONS: tuple = ("not_offered", "tls_host", "not_cached", "method", "dir_changed",
                           "stale", "symlink", "hostname_lookup", "require_ip",
                           "accept_encoding", "setenvif", "upgrade", "request_body", "range",
                           "conditional", "request_shape", "incomplete")
FS_KINDS: tuple = ("stat", "lstat", "htaccess_open")
STATS_VHOSTS: int = FC_ST_OTHER   # names the table holds; the rest count as "other"
DURATION_BOUNDS: tuple = tuple(fc_st_bounds[i] for i in range(FC_ST_BOUNDS))


cdef void *_map_shared(size_t length) except NULL:
    cdef void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
    if p == MAP_FAILED:
        raise OSError(errno, "mmap(MAP_SHARED|MAP_ANONYMOUS): " + os.strerror(errno))
    return p


cdef inline object _checked(int64_t value):
    # FC_COUNTER_ERR only comes back (with errno set) if the portable mutex is broken
    if value == FC_COUNTER_ERR and errno != 0:
        raise OSError(errno, "scoreboard counter mutex: " + os.strerror(errno))
    return value


cdef class Scoreboard:
    """The scoreboard of server_limit processes x thread_limit threads (one slot each)."""

    def __cinit__(self, int server_limit, int thread_limit):
        if server_limit < 1 or thread_limit < 1 or server_limit > 1 << 20 or thread_limit > 1 << 16:
            raise ValueError(f"bad scoreboard size {server_limit} x {thread_limit}")
        if <long>server_limit * thread_limit > 1 << 22:
            raise ValueError(f"scoreboard of {server_limit} x {thread_limit} slots is too large")
        self.server_limit = server_limit
        self.thread_limit = thread_limit
        self.nslots = server_limit * thread_limit
        self.maplen = fc_sb_map_size(server_limit, thread_limit)
        self.sb = <fc_sb_t *>_map_shared(self.maplen)   # zero-filled by the kernel
        cdef int rc = fc_sb_init(self.sb, server_limit, thread_limit)
        if rc:
            munmap(self.sb, self.maplen)
            self.sb = NULL
            raise OSError(rc, "scoreboard mutex init: " + os.strerror(rc))

    def __dealloc__(self):
        if self.sb != NULL:
            munmap(self.sb, self.maplen)
            self.sb = NULL

    def close(self) -> None:
        """Unmap this process's view (other processes keep theirs)."""
        if self.sb != NULL:
            munmap(self.sb, self.maplen)
            self.sb = NULL

    cdef fc_sb_t *_ptr(self) except NULL:
        if self.sb == NULL:
            raise ValueError("scoreboard is closed")
        return self.sb

    cdef int _slot_index(self, long slot) except -1:
        if slot < 0 or slot >= self.nslots:
            raise IndexError(f"slot {slot} out of range 0..{self.nslots - 1}")
        return <int>slot

    cdef int _counter_index(self, long counter) except -1:
        if counter < 0 or counter >= FC_SB_NCOUNTERS:
            raise IndexError(f"counter {counter} is not one of ACCESSES, BYTES, BUSY, IDLE")
        return <int>counter

    @property
    def start_time(self) -> float:
        return self._ptr().glob.start_time

    @start_time.setter
    def start_time(self, double value):
        self._ptr().glob.start_time = value

    @property
    def generation(self) -> int:
        return self._ptr().glob.generation

    @generation.setter
    def generation(self, int64_t value):
        self._ptr().glob.generation = value

    # ---- global counters --------------------------------------------------------------

    def add(self, long counter, int64_t delta) -> int:
        """Atomically add delta to a global counter; returns the new value."""
        cdef fc_sb_t *p = self._ptr()
        cdef int c = self._counter_index(counter)
        errno = 0
        return _checked(sb_add(p, c, delta))

    def get(self, long counter) -> int:
        cdef fc_sb_t *p = self._ptr()
        cdef int c = self._counter_index(counter)
        errno = 0
        return _checked(sb_get(p, c))

    def cas(self, long counter, int64_t expected, int64_t new) -> bool:
        """Set the counter to new if it is expected; True if it was set."""
        cdef fc_sb_t *p = self._ptr()
        cdef int c = self._counter_index(counter)
        cdef int r = sb_cas(p, c, expected, new)
        if r < 0:
            raise OSError(errno, "scoreboard counter mutex: " + os.strerror(errno))
        return r == 1

    def _debug_lock_and_hold(self, long counter) -> None:
        """Test hook (portable build): take the counter's mutex and never release it."""
        cdef fc_sb_t *p = self._ptr()
        cdef int c = self._counter_index(counter)
        cdef int rc = fc_scoreboard_debug_lock(p, c)
        if rc < 0:
            raise RuntimeError("atomics=nonportable: counters are lock-free, there is no mutex")
        if rc:
            raise OSError(rc, os.strerror(rc))

    # ---- slots --------------------------------------------------------------------------

    def slot(self, long child, long thread) -> int:
        if child < 0 or child >= self.server_limit or thread < 0 or thread >= self.thread_limit:
            raise IndexError(f"no slot for child {child} thread {thread}")
        return child * self.thread_limit + thread

    def slot_init(self, long slot, long pid, long tid, int64_t generation) -> None:
        """A worker takes its slot: counts reset, status 'S' (starting)."""
        cdef fc_sb_t *p = self._ptr()
        sb_slot_init(p, self._slot_index(slot), <int>pid, <int>tid, generation)

    def set_status(self, long slot, str status) -> None:
        """Set a slot's Apache status letter; moving between '_' and a busy letter updates
        the global IDLE/BUSY counts."""
        cdef fc_sb_t *p = self._ptr()
        cdef int i = self._slot_index(slot)
        if len(status) != 1 or status not in STATUS_CHARS:
            raise ValueError(f"status must be one of {STATUS_CHARS!r}, not {status!r}")
        sb_set_status(p, i, <char>ord(status))

    def get_status(self, long slot) -> str:
        cdef fc_sb_t *p = self._ptr()
        return chr(sb_get_status(p, self._slot_index(slot)))

    def slot_pid(self, long slot) -> int:
        cdef fc_sb_t *p = self._ptr()
        return p.slots[self._slot_index(slot)].pid

    def request_start(self, long slot, bytes request_line not None, bytes client not None,
                      bytes vhost not None) -> None:
        """Record the request being served (strings truncated as Apache's) and set 'W'."""
        cdef fc_sb_t *p = self._ptr()
        cdef int i = self._slot_index(slot)
        cdef char *rq
        cdef char *cl
        cdef char *vh
        cdef Py_ssize_t nrq, ncl, nvh
        PyBytes_AsStringAndSize(request_line, &rq, &nrq)
        PyBytes_AsStringAndSize(client, &cl, &ncl)
        PyBytes_AsStringAndSize(vhost, &vh, &nvh)
        sb_request_start(p, i, rq, nrq, cl, ncl, vh, nvh)

    def request_end(self, long slot, int64_t nbytes) -> None:
        """Count one access of nbytes in the slot and in the global ACCESSES/BYTES."""
        cdef fc_sb_t *p = self._ptr()
        cdef int i = self._slot_index(slot)
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        sb_request_end(p, i, nbytes)

    def slot_info(self, long slot) -> dict:
        cdef fc_sb_t *p = self._ptr()
        cdef fc_slot_t *s = &p.slots[self._slot_index(slot)]
        return {
            "pid": s.pid,
            "tid": s.tid,
            "status": chr(s.status),
            "generation": s.generation,
            "accesses": s.accesses,
            "bytes": s.bytes,
            "request": (<bytes>s.request).decode("latin-1"),
            "client": (<bytes>s.client).decode("latin-1"),
            "vhost": (<bytes>s.vhost).decode("latin-1"),
            "start": s.start,
            "end": s.end,
            "duration": s.duration,
        }

    # ---- fastcore's own series (fc_stats.h) ----------------------------------------------

    def register_vhosts(self, names) -> None:
        """The parent, at config time: vhost names get table indexes (new names appended;
        past the table's size they count as "other")."""
        cdef fc_st_head_t *h = fc_sb_st_head(self._ptr())
        cdef bytes b
        for name in names:
            b = name.encode("latin-1", "replace")[:FC_ST_NAME_LEN - 1]
            if fc_st_vhost_index(h, b, len(b)) != FC_ST_OTHER or h.nvhosts >= FC_ST_OTHER:
                continue
            memset(h.names[h.nvhosts], 0, FC_ST_NAME_LEN)
            memcpy(h.names[h.nvhosts], <const char *>b, len(b))
            h.nvhosts += 1

    def vhost_names(self) -> list:
        cdef fc_st_head_t *h = fc_sb_st_head(self._ptr())
        return [(<bytes>h.names[i]).decode("latin-1") for i in range(h.nvhosts)]

    def vhost_index(self, str name) -> int:
        cdef bytes b = name.encode("latin-1", "replace")
        return fc_st_vhost_index(fc_sb_st_head(self._ptr()), b, len(b))

    def record_request(self, long slot, int vhost, int status, int64_t nbytes,
                       double seconds, int reason) -> None:
        """The Python path answered a request on slot: its series, and why it left the
        fast path (a FALLBACK_REASONS index)."""
        cdef fc_sb_t *p = self._ptr()
        cdef fc_strec_t *r = fc_sb_strec(p, self._slot_index(slot))
        if reason < 0 or reason >= FC_FR_N:
            reason = 0
        fc_st_request(r, vhost, status, <uint64_t>max(nbytes, 0), seconds)
        r.full[reason] += 1

    def add_fs(self, long slot, int kind, long n) -> None:
        """Count n fs calls of a FS_KINDS kind made by the Python path for slot's request."""
        cdef fc_strec_t *r = fc_sb_strec(self._ptr(), self._slot_index(slot))
        if 0 <= kind < FC_ST_FS and n > 0:
            r.fs[kind] += n

    def stats(self) -> dict:
        """Every record summed (the scrape's view): requests/bytes as {(vhost index, class
        index): n}, per-bucket counts, duration sum (s), fast, full by reason, fs by kind,
        cache figures."""
        cdef fc_sb_t *p = self._ptr()
        cdef int n = fc_sb_nrecords(p), i, v, k
        cdef fc_strec_t *r
        cdef fc_strec_t tot
        memset(&tot, 0, sizeof(fc_strec_t))
        for i in range(n):
            r = fc_sb_strec(p, i)
            for v in range(FC_ST_VHOSTS):
                for k in range(FC_ST_CLASSES):
                    tot.requests[v][k] += r.requests[v][k]
                    tot.bytes[v][k] += r.bytes[v][k]
            for k in range(FC_ST_BOUNDS + 1):
                tot.buckets[k] += r.buckets[k]
            tot.dur_ns += r.dur_ns
            tot.fast += r.fast
            for k in range(FC_FR_N):
                tot.full[k] += r.full[k]
            for k in range(FC_ST_FS):
                tot.fs[k] += r.fs[k]
            tot.cache_hits += r.cache_hits
            tot.cache_evictions += r.cache_evictions
            tot.cache_entries += r.cache_entries
            tot.cache_bytes += r.cache_bytes
        return {
            "requests": {(v, k): tot.requests[v][k] for v in range(FC_ST_VHOSTS)
                         for k in range(FC_ST_CLASSES) if tot.requests[v][k]},
            "bytes": {(v, k): tot.bytes[v][k] for v in range(FC_ST_VHOSTS)
                      for k in range(FC_ST_CLASSES) if tot.requests[v][k]},
            "buckets": [tot.buckets[k] for k in range(FC_ST_BOUNDS + 1)],
            "duration": tot.dur_ns / 1e9,
            "fast": tot.fast,
            "full": [tot.full[k] for k in range(FC_FR_N)],
            "fs": [tot.fs[k] for k in range(FC_ST_FS)],
            "cache_hits": tot.cache_hits, "cache_evictions": tot.cache_evictions,
            "cache_entries": tot.cache_entries, "cache_bytes": tot.cache_bytes,
        }

    def status_string(self) -> str:
        """One letter per slot, as mod_status's "Scoreboard:" line."""
        cdef fc_sb_t *p = self._ptr()
        cdef bytearray out = bytearray(self.nslots)
        cdef int i
        for i in range(self.nslots):
            out[i] = <unsigned char>p.slots[i].status
        return out.decode("ascii")


cdef class ProcessMutex:
    """A robust process-shared pthread mutex in shared memory (the primitive behind the
    portable counters, available in every build). Create before fork; a holder that dies
    leaves it recoverable: the next lock() returns True (EOWNERDEAD made consistent)."""

    def __cinit__(self):
        self.maplen = 4096
        self.mtx = <pthread_mutex_t *>_map_shared(self.maplen)
        cdef int rc = fc_pmutex_init(self.mtx)
        if rc:
            munmap(self.mtx, self.maplen)
            self.mtx = NULL
            raise OSError(rc, "pthread_mutex_init: " + os.strerror(rc))

    def __dealloc__(self):
        if self.mtx != NULL:
            munmap(self.mtx, self.maplen)
            self.mtx = NULL

    def lock(self, timeout: float | None = None) -> bool:
        """Wait (GIL released) for the mutex; True if its previous owner died holding it.
        Raises TimeoutError after timeout seconds."""
        cdef pthread_mutex_t *m = self.mtx
        cdef timespec deadline
        cdef int rc
        cdef double t
        if m == NULL:
            raise ValueError("mutex is closed")
        if timeout is None:
            with nogil:
                rc = fc_pmutex_lock(m)
        else:
            t = max(0.0, float(timeout))
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += <long>t
            deadline.tv_nsec += <long>((t - <long>t) * 1e9)
            if deadline.tv_nsec >= 1000000000:
                deadline.tv_sec += 1
                deadline.tv_nsec -= 1000000000
            with nogil:
                rc = fc_pmutex_timedlock(m, &deadline)
        if rc == ETIMEDOUT:
            raise TimeoutError(f"ProcessMutex not acquired within {timeout} s")
        if rc > 1:
            raise OSError(rc, "pthread_mutex_lock: " + os.strerror(rc))
        return rc == 1

    def unlock(self) -> None:
        if self.mtx == NULL:
            raise ValueError("mutex is closed")
        cdef int rc = fc_pmutex_unlock(self.mtx)
        if rc:
            raise OSError(rc, "pthread_mutex_unlock: " + os.strerror(rc))

    def __enter__(self):
        self.lock()
        return self

    def __exit__(self, *exc):
        self.unlock()

    def close(self) -> None:
        if self.mtx != NULL:
            munmap(self.mtx, self.maplen)
            self.mtx = NULL


def _layout() -> dict:
    """Byte offsets of the shared layout (tests check the cache-line separation)."""
    return {
        "line": FC_CACHELINE,
        "counters": [<size_t>&(<fc_sb_t *>NULL).counters[i] for i in range(FC_SB_NCOUNTERS)],
        "counter_size": sizeof(fc_counter_t),
        "global": <size_t>&(<fc_sb_t *>NULL).glob,
        "slots": <size_t>&(<fc_sb_t *>NULL).slots[0],
        "slot_size": sizeof(fc_slot_t),
    }


def bench_increment(Scoreboard sb not None, long counter, long n) -> float:
    """ns per increment of a global counter, over n increments in a nogil C loop."""
    cdef fc_sb_t *p = sb._ptr()
    cdef fc_counter_t *c = &p.counters[sb._counter_index(counter)]
    cdef int64_t t0 = 0, t1 = 0
    cdef int rc
    if n < 1:
        raise ValueError("n must be >= 1")
    with nogil:
        rc = fc_bench_loop(c, n, &t0, &t1)
    if rc:
        raise OSError(rc, os.strerror(rc))
    return (t1 - t0) / <double>n


def bench_contended(Scoreboard sb not None, long counter, int nproc, long n,
                    bint pin=True) -> tuple:
    """nproc forked processes x n increments each, started together, each pinned to one CPU
    of this process's affinity set. Returns (aggregate ns/op = wall / all ops,
    per-process ns/op = mean process time / own ops)."""
    cdef fc_sb_t *p = sb._ptr()
    cdef fc_counter_t *c = &p.counters[sb._counter_index(counter)]
    cdef double agg = 0, proc = 0
    cdef int rc
    if n < 1 or nproc < 1 or nproc > 256:
        raise ValueError("need n >= 1 and 1 <= nproc <= 256")
    with nogil:
        rc = fc_bench_contended(c, nproc, n, pin, &agg, &proc)
    if rc:
        raise OSError(rc, "bench_contended: " + os.strerror(rc))
    return (agg, proc)
