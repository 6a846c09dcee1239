"""Pure-Python twin of fastcore._scoreboard (used only with FASTCORE_NO_EXTENSIONS=1).

Same API and the same shared-across-fork behaviour: the board is an anonymous shared mmap
created before fork, with the same layout as the C one (counters on their own 64-byte lines,
256-byte slots). Counters are serialised by an fcntl record lock per counter on an unlinked
temporary file opened before fork (the kernel drops it when a holder dies, so a killed
process never deadlocks the others) plus a per-process thread lock (fcntl locks belong to the
process, not the thread).
"""
from __future__ import annotations

import fcntl
import mmap
import os
import struct
import tempfile
import threading
import time
from types import TracebackType

ATOMICS_MODE = "pure"
ATOMICS_REQUESTED = "pure"
ATOMICS_IMPL = "fcntl record lock (pure Python)"
ACCESSES, BYTES, BUSY, IDLE = 0, 1, 2, 3
COUNTERS = ("ACCESSES", "BYTES", "BUSY", "IDLE")
STATUS_CHARS = "_SRWKDCLGI."
REQUEST_MAX, CLIENT_MAX, VHOST_MAX = 63, 47, 31

_LINE = 64
_NCOUNTERS = 4
_GLOBAL_OFF = _NCOUNTERS * _LINE
_GLOBAL = struct.Struct("<Qdqii")  # magic, start_time, generation, server_limit, thread_limit
_SLOTS_OFF = _GLOBAL_OFF + _LINE
_SLOT = struct.Struct("<iiqQQddc64s48s32s")  # same fields and order as fc_slot_t
_SLOT_SIZE = 256
_MAGIC = 0x66635F73636F7265
_Q = struct.Struct("<q")
_STATUS_OFF = struct.calcsize("<iiqQQdd")
_DURATION_OFF = 200  # fc_slot_t.duration: after vhost, aligned to 8
_D = struct.Struct("<d")
_IDLE_CLASS = {"_": IDLE} | {c: BUSY for c in "RWKDCLG"}
_INT64_MAX = (1 << 63) - 1

# fastcore's own series: the layout of fc_stats.h, after the slots
FALLBACK_REASONS = ("not_offered", "tls_host", "not_cached", "method", "dir_changed",
                    "stale", "symlink", "hostname_lookup", "require_ip", "accept_encoding",
                    "setenvif", "upgrade", "request_body", "range", "conditional",
                    "request_shape", "incomplete")
FS_KINDS = ("stat", "lstat", "htaccess_open")
DURATION_BOUNDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ST_VHOSTS, _ST_OTHER, _ST_NAME, _ST_CLASSES = 64, 63, 64, 5
STATS_VHOSTS = _ST_OTHER
_ST_HEAD = 64 + _ST_VHOSTS * _ST_NAME  # nvhosts line + the names
_R_REQ, _R_BYTES = 0, _ST_VHOSTS * _ST_CLASSES  # offsets in 8-byte words of one record
_R_BUCKETS = 2 * _ST_VHOSTS * _ST_CLASSES
_R_DUR = _R_BUCKETS + len(DURATION_BOUNDS) + 1
_R_FAST = _R_DUR + 1
_R_FULL = _R_FAST + 1
_R_FS = _R_FULL + len(FALLBACK_REASONS)
_R_CACHE = _R_FS + len(FS_KINDS)  # hits, evictions, entries, bytes
_R_WORDS = (_R_CACHE + 4 + 7) // 8 * 8  # whole cache lines


def _arg64(value: int) -> int:
    """Reject what does not fit the C API's int64_t arguments, as the extension does."""
    if not -(1 << 63) <= value <= _INT64_MAX:
        raise OverflowError(f"{value} does not fit in a signed 64-bit counter")
    return value


def _int64(value: int) -> int:
    """Wrap to a signed 64-bit value, as the C counter does."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value > _INT64_MAX else value


class _ProcessLocks:
    """fcntl byte-range locks (one byte per lock) + a thread lock per process."""

    def __init__(self) -> None:
        self._fd, path = tempfile.mkstemp(prefix="fastcore-sb-")
        os.unlink(path)  # only the descriptor, inherited across fork, is needed
        self._pid = os.getpid()
        self._tlock = threading.Lock()

    def _thread_lock(self) -> threading.Lock:
        if self._pid != os.getpid():  # forked: the parent's thread lock state is meaningless
            self._pid = os.getpid()
            self._tlock = threading.Lock()
        return self._tlock

    def acquire(self, index: int, timeout: float | None = None) -> None:
        tlock = self._thread_lock()
        if not tlock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise TimeoutError(f"lock not acquired within {timeout} s")
        try:
            if timeout is None:
                fcntl.lockf(self._fd, fcntl.LOCK_EX, 1, index)  # retried on EINTR by Python
                return
            deadline = time.monotonic() + max(0.0, timeout)
            while True:
                try:
                    fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, index)
                    return
                except (BlockingIOError, PermissionError):
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"lock not acquired within {timeout} s") from None
                    time.sleep(0.001)
        except BaseException:
            tlock.release()
            raise

    def release(self, index: int) -> None:
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, index)
        self._thread_lock().release()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


class Scoreboard:
    """The scoreboard of server_limit processes x thread_limit threads (one slot each)."""

    def __init__(self, server_limit: int, thread_limit: int) -> None:
        if not (1 <= server_limit <= 1 << 20 and 1 <= thread_limit <= 1 << 16):
            raise ValueError(f"bad scoreboard size {server_limit} x {thread_limit}")
        if server_limit * thread_limit > 1 << 22:
            raise ValueError(f"scoreboard of {server_limit} x {thread_limit} slots is too large")
        self.server_limit = server_limit
        self.thread_limit = thread_limit
        self.nslots = server_limit * thread_limit
        self._st_off = _SLOTS_OFF + self.nslots * _SLOT_SIZE
        self._rec_off = self._st_off + _ST_HEAD
        self.nrecords = self.nslots + server_limit
        self._mm: mmap.mmap | None = mmap.mmap(
            -1, self._rec_off + self.nrecords * _R_WORDS * 8)
        self._st_lock = threading.Lock()
        self._ev_seen: dict[int, int] = {}  # per process: evictions already counted
        self._locks = _ProcessLocks()
        _GLOBAL.pack_into(self._mm, _GLOBAL_OFF, _MAGIC, time.time(), 0, server_limit,
                          thread_limit)
        for i in range(self.nslots):
            self._mm[_SLOTS_OFF + i * _SLOT_SIZE + _STATUS_OFF] = ord(".")

    def _map(self) -> mmap.mmap:
        if self._mm is None:
            raise ValueError("scoreboard is closed")
        return self._mm

    def close(self) -> None:
        """Unmap this process's view (other processes keep theirs)."""
        if self._mm is not None:
            self._mm.close()
            self._mm = None
            self._locks.close()

    def _global(self) -> tuple:
        return _GLOBAL.unpack_from(self._map(), _GLOBAL_OFF)

    @property
    def start_time(self) -> float:
        return self._global()[1]

    @start_time.setter
    def start_time(self, value: float) -> None:
        struct.pack_into("<d", self._map(), _GLOBAL_OFF + 8, value)

    @property
    def generation(self) -> int:
        return self._global()[2]

    @generation.setter
    def generation(self, value: int) -> None:
        _Q.pack_into(self._map(), _GLOBAL_OFF + 16, value)

    # ---- global counters ------------------------------------------------------------------

    @staticmethod
    def _counter(counter: int) -> int:
        if not 0 <= counter < _NCOUNTERS:
            raise IndexError(f"counter {counter} is not one of ACCESSES, BYTES, BUSY, IDLE")
        return counter

    def add(self, counter: int, delta: int) -> int:
        """Atomically add delta to a global counter; returns the new value."""
        mm, c = self._map(), self._counter(counter)
        delta = _arg64(delta)
        self._locks.acquire(c)
        try:
            value = _int64(_Q.unpack_from(mm, c * _LINE)[0] + delta)
            _Q.pack_into(mm, c * _LINE, value)
        finally:
            self._locks.release(c)
        return value

    def get(self, counter: int) -> int:
        mm, c = self._map(), self._counter(counter)
        self._locks.acquire(c)
        try:
            return _Q.unpack_from(mm, c * _LINE)[0]
        finally:
            self._locks.release(c)

    def cas(self, counter: int, expected: int, new: int) -> bool:
        """Set the counter to new if it is expected; True if it was set."""
        mm, c = self._map(), self._counter(counter)
        expected, new = _arg64(expected), _arg64(new)
        self._locks.acquire(c)
        try:
            if _Q.unpack_from(mm, c * _LINE)[0] != expected:
                return False
            _Q.pack_into(mm, c * _LINE, new)
            return True
        finally:
            self._locks.release(c)

    def _debug_lock_and_hold(self, counter: int) -> None:
        """Test hook: take the counter's lock and never release it."""
        self._map()
        self._locks.acquire(self._counter(counter))

    # ---- slots ----------------------------------------------------------------------------

    def _slot_off(self, slot: int) -> int:
        self._map()
        if not 0 <= slot < self.nslots:
            raise IndexError(f"slot {slot} out of range 0..{self.nslots - 1}")
        return _SLOTS_OFF + slot * _SLOT_SIZE

    def slot(self, child: int, thread: int) -> int:
        if not (0 <= child < self.server_limit and 0 <= thread < self.thread_limit):
            raise IndexError(f"no slot for child {child} thread {thread}")
        return child * self.thread_limit + thread

    def slot_init(self, slot: int, pid: int, tid: int, generation: int) -> None:
        """A worker takes its slot: counts reset, status 'S' (starting)."""
        off = self._slot_off(slot)
        mm = self._map()
        status = mm[off + _STATUS_OFF : off + _STATUS_OFF + 1]
        _SLOT.pack_into(mm, off, pid, tid, generation, 0, 0, 0.0, 0.0, status, b"", b"", b"")
        _D.pack_into(mm, off + _DURATION_OFF, 0.0)
        self._set_status(off, "S")

    def _set_status(self, off: int, status: str) -> None:
        mm = self._map()
        before = _IDLE_CLASS.get(chr(mm[off + _STATUS_OFF]))
        after = _IDLE_CLASS.get(status)
        mm[off + _STATUS_OFF] = ord(status)
        if before != after:
            if before is not None:
                self.add(before, -1)
            if after is not None:
                self.add(after, 1)

    def set_status(self, slot: int, status: str) -> None:
        """Set a slot's Apache status letter; moving between '_' and a busy letter updates
        the global IDLE/BUSY counts."""
        off = self._slot_off(slot)
        if not isinstance(status, str) or len(status) != 1 or status not in STATUS_CHARS:
            raise ValueError(f"status must be one of {STATUS_CHARS!r}, not {status!r}")
        self._set_status(off, status)

    def get_status(self, slot: int) -> str:
        return chr(self._map()[self._slot_off(slot) + _STATUS_OFF])

    def slot_pid(self, slot: int) -> int:
        return struct.unpack_from("<i", self._map(), self._slot_off(slot))[0]

    def request_start(self, slot: int, request_line: bytes, client: bytes, vhost: bytes) -> None:
        """Record the request being served (strings truncated as Apache's) and set 'W'."""
        off = self._slot_off(slot)
        for value in (request_line, client, vhost):
            if not isinstance(value, bytes):
                raise TypeError(f"expected bytes, got {type(value).__name__}")
        mm = self._map()
        base = off + _STATUS_OFF + 1
        mm[base : base + 64] = request_line[:REQUEST_MAX].split(b"\0")[0].ljust(64, b"\0")
        mm[base + 64 : base + 112] = client[:CLIENT_MAX].split(b"\0")[0].ljust(48, b"\0")
        mm[base + 112 : base + 144] = vhost[:VHOST_MAX].split(b"\0")[0].ljust(32, b"\0")
        struct.pack_into("<d", mm, off + 32, time.time())
        self._set_status(off, "W")

    def request_end(self, slot: int, nbytes: int) -> None:
        """Count one access of nbytes in the slot and in the global ACCESSES/BYTES."""
        off = self._slot_off(slot)
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        mm = self._map()
        accesses, nb = struct.unpack_from("<QQ", mm, off + 16)
        struct.pack_into("<QQ", mm, off + 16, (accesses + 1) % (1 << 64), (nb + nbytes) % (1 << 64))
        now = time.time()
        start, end = struct.unpack_from("<dd", mm, off + 32)
        if start > end:  # timed from this request's request_start, as fc_sb_request_end
            _D.pack_into(mm, off + _DURATION_OFF,
                         _D.unpack_from(mm, off + _DURATION_OFF)[0] + now - start)
        struct.pack_into("<d", mm, off + 40, now)
        self.add(ACCESSES, 1)
        self.add(BYTES, nbytes)

    def slot_info(self, slot: int) -> dict:
        off = self._slot_off(slot)
        pid, tid, gen, acc, nb, start, end, st, req, cl, vh = _SLOT.unpack_from(self._map(), off)

        def text(raw: bytes) -> str:
            return raw.split(b"\0")[0].decode("latin-1")

        return {
            "pid": pid, "tid": tid, "status": st.decode("latin-1"), "generation": gen,
            "accesses": acc, "bytes": nb, "request": text(req), "client": text(cl),
            "vhost": text(vh), "start": start, "end": end,
            "duration": _D.unpack_from(self._map(), off + _DURATION_OFF)[0],
        }

    # ---- fastcore's own series (fc_stats.h) ------------------------------------------------

    def register_vhosts(self, names: list[str]) -> None:
        """The parent, at config time: vhost names get table indexes."""
        mm = self._map()
        for name in names:
            raw = name.encode("latin-1", "replace")[:_ST_NAME - 1]
            n = struct.unpack_from("<i", mm, self._st_off)[0]
            if self.vhost_index(raw.decode("latin-1")) != _ST_OTHER or n >= _ST_OTHER:
                continue
            off = self._st_off + 64 + n * _ST_NAME
            mm[off : off + _ST_NAME] = raw.ljust(_ST_NAME, b"\0")
            struct.pack_into("<i", mm, self._st_off, n + 1)

    def vhost_names(self) -> list[str]:
        mm = self._map()
        n = struct.unpack_from("<i", mm, self._st_off)[0]
        base = self._st_off + 64
        return [mm[base + i * _ST_NAME : base + (i + 1) * _ST_NAME].split(b"\0")[0]
                .decode("latin-1") for i in range(n)]

    def vhost_index(self, name: str) -> int:
        raw = name.encode("latin-1", "replace")[:_ST_NAME - 1].decode("latin-1")
        names = self.vhost_names()
        return names.index(raw) if raw in names else _ST_OTHER

    def _add_words(self, rec: int, adds: dict[int, int]) -> None:
        mm, base = self._map(), self._rec_off + rec * _R_WORDS * 8
        with self._st_lock:
            for word, n in adds.items():
                off = base + word * 8
                struct.pack_into("<Q", mm, off,
                                 (struct.unpack_from("<Q", mm, off)[0] + n) % (1 << 64))

    def record_request(self, slot: int, vhost: int, status: int, nbytes: int, seconds: float,
                       reason: int) -> None:
        """The Python path answered a request on slot: its series and its reason."""
        self._slot_off(slot)
        v = vhost if 0 <= vhost < _ST_VHOSTS else _ST_OTHER
        k = min(max(status // 100 - 1, 0), 4)
        seconds = max(seconds, 0.0)
        bucket = next((i for i, b in enumerate(DURATION_BOUNDS) if seconds <= b),
                      len(DURATION_BOUNDS))
        reason = reason if 0 <= reason < len(FALLBACK_REASONS) else 0
        self._add_words(slot, {_R_REQ + v * _ST_CLASSES + k: 1,
                               _R_BYTES + v * _ST_CLASSES + k: max(nbytes, 0),
                               _R_BUCKETS + bucket: 1, _R_DUR: int(seconds * 1e9),
                               _R_FULL + reason: 1})

    def record_hit(self, record: int, vhost: bytes, status: int, nbytes: int, seconds: float,
                   cache: tuple[int, int, int]) -> None:
        """The twin's fast path served a hit (fc_st_hit) counted in record (a slot's, or
        nslots + a process's): its series, the cache's (entries, content bytes,
        evictions) into the process record."""
        name = vhost.decode("latin-1")
        index = self.vhost_index(name)
        if index == _ST_OTHER and ":" in name:  # the scoreboard's "name:port"
            index = self.vhost_index(name.rpartition(":")[0])
        self._map()
        if not 0 <= record < self.nrecords:
            raise IndexError(f"record {record} out of range")
        v, k = index, min(max(status // 100 - 1, 0), 4)
        seconds = max(seconds, 0.0)
        bucket = next((i for i, b in enumerate(DURATION_BOUNDS) if seconds <= b),
                      len(DURATION_BOUNDS))
        self._add_words(record, {_R_REQ + v * _ST_CLASSES + k: 1,
                                 _R_BYTES + v * _ST_CLASSES + k: max(nbytes, 0),
                                 _R_BUCKETS + bucket: 1, _R_DUR: int(seconds * 1e9),
                                 _R_FAST: 1, _R_CACHE: 1})
        proc = record if record >= self.nslots else self.nslots + record // self.thread_limit
        entries, nbytes_held, evictions = cache
        mm, base = self._map(), self._rec_off + proc * _R_WORDS * 8
        with self._st_lock:
            seen = self._ev_seen.get(proc, 0)
            if evictions > seen:
                self._ev_seen[proc] = evictions
                off = base + (_R_CACHE + 1) * 8
                struct.pack_into("<Q", mm, off, struct.unpack_from("<Q", mm, off)[0]
                                 + evictions - seen)
            struct.pack_into("<qq", mm, base + (_R_CACHE + 2) * 8, entries, nbytes_held)

    def add_fs(self, slot: int, kind: int, n: int) -> None:
        """Count n fs calls of a FS_KINDS kind made for slot's request (the twin's fast
        path also passes a process record, nslots + its index)."""
        self._map()
        if not 0 <= slot < self.nrecords:
            raise IndexError(f"record {slot} out of range")
        if 0 <= kind < len(FS_KINDS) and n > 0:
            self._add_words(slot, {_R_FS + kind: n})

    def stats(self) -> dict:
        """Every record summed, as the extension's stats()."""
        mm = self._map()
        tot = [0] * _R_WORDS
        for i in range(self.nrecords):
            words = struct.unpack_from(f"<{_R_WORDS}Q", mm, self._rec_off + i * _R_WORDS * 8)
            if any(words):
                tot = [a + b for a, b in zip(tot, words, strict=True)]
        nv = _ST_VHOSTS * _ST_CLASSES
        return {
            "requests": {divmod(j, _ST_CLASSES): tot[_R_REQ + j] for j in range(nv)
                         if tot[_R_REQ + j]},
            "bytes": {divmod(j, _ST_CLASSES): tot[_R_BYTES + j] for j in range(nv)
                      if tot[_R_REQ + j]},
            "buckets": tot[_R_BUCKETS:_R_DUR], "duration": tot[_R_DUR] / 1e9,
            "fast": tot[_R_FAST], "full": tot[_R_FULL:_R_FS], "fs": tot[_R_FS:_R_CACHE],
            "cache_hits": tot[_R_CACHE], "cache_evictions": tot[_R_CACHE + 1],
            "cache_entries": tot[_R_CACHE + 2], "cache_bytes": tot[_R_CACHE + 3],
        }

    def status_string(self) -> str:
        """One letter per slot, as mod_status's "Scoreboard:" line."""
        mm = self._map()
        start = _SLOTS_OFF + _STATUS_OFF
        return mm[start : start + self.nslots * _SLOT_SIZE : _SLOT_SIZE].decode("ascii")


class ProcessMutex:
    """A process-shared mutex that survives a holder's death (fcntl lock, released by the
    kernel), created before fork. lock() returns True when the previous owner died holding
    it, as the robust pthread mutex of the extension does."""

    def __init__(self) -> None:
        self._locks = _ProcessLocks()
        self._mm: mmap.mmap | None = mmap.mmap(-1, mmap.PAGESIZE)  # owner pid while held

    def lock(self, timeout: float | None = None) -> bool:
        """Wait for the mutex; True if its previous owner died holding it.
        Raises TimeoutError after timeout seconds."""
        if self._mm is None:
            raise ValueError("mutex is closed")
        self._locks.acquire(0, timeout)
        recovered = struct.unpack_from("<i", self._mm, 0)[0] != 0
        struct.pack_into("<i", self._mm, 0, os.getpid())
        return recovered

    def unlock(self) -> None:
        if self._mm is None:
            raise ValueError("mutex is closed")
        if struct.unpack_from("<i", self._mm, 0)[0] != os.getpid():
            raise PermissionError(1, "ProcessMutex is not held by this process")
        struct.pack_into("<i", self._mm, 0, 0)
        self._locks.release(0)

    def __enter__(self) -> ProcessMutex:
        self.lock()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.unlock()

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
            self._locks.close()


def _layout() -> dict:
    """Byte offsets of the shared layout (tests check the cache-line separation)."""
    return {
        "line": _LINE, "counters": [i * _LINE for i in range(_NCOUNTERS)], "counter_size": _LINE,
        "global": _GLOBAL_OFF, "slots": _SLOTS_OFF, "slot_size": _SLOT_SIZE,
    }


def bench_increment(sb: Scoreboard, counter: int, n: int) -> float:
    """ns per increment of a global counter, over n increments (Python loop)."""
    if n < 1:
        raise ValueError("n must be >= 1")
    add = sb.add
    t0 = time.monotonic_ns()
    for _ in range(n):
        add(counter, 1)
    return (time.monotonic_ns() - t0) / n


def bench_contended(sb: Scoreboard, counter: int, nproc: int, n: int, pin: bool = True) -> tuple:
    """nproc forked processes x n increments each, started together, each pinned to one CPU
    of this process's affinity set. Returns (aggregate ns/op, per-process ns/op)."""
    if n < 1 or not 1 <= nproc <= 256:
        raise ValueError("need n >= 1 and 1 <= nproc <= 256")
    sb._counter(counter)
    cpus = sorted(os.sched_getaffinity(0))
    times = mmap.mmap(-1, 16 * nproc)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pids = []
    try:
        for i in range(nproc):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                status = 1
                try:
                    os.close(ready_r)
                    os.close(go_w)
                    if pin:
                        os.sched_setaffinity(0, {cpus[i % len(cpus)]})
                    os.write(ready_w, b"r")
                    os.read(go_r, 1)  # EOF when the parent closes go_w: start
                    add = sb.add
                    t0 = time.monotonic_ns()
                    for _ in range(n):
                        add(counter, 1)
                    struct.pack_into("<qq", times, 16 * i, t0, time.monotonic_ns())
                    status = 0
                finally:
                    os._exit(status)
            pids.append(pid)
        os.close(ready_w)
        ready_w = -1
        got = b""
        while len(got) < nproc:
            chunk = os.read(ready_r, nproc - len(got))
            if not chunk:
                break
            got += chunk
    finally:
        for fd in (ready_w, go_r, go_w):
            if fd >= 0:
                os.close(fd)
        failed = False
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            failed |= status != 0
        os.close(ready_r)
    if failed:
        raise ChildProcessError("a benchmark child failed")
    spans = [struct.unpack_from("<qq", times, 16 * i) for i in range(nproc)]
    times.close()
    wall = max(t1 for _, t1 in spans) - min(t0 for t0, _ in spans)
    return wall / (nproc * n), sum(t1 - t0 for t0, t1 in spans) / nproc / n
