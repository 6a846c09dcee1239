"""Pure-Python twin of fastcore._accept (FASTCORE_NO_EXTENSIONS=1): same API, slower.

fcntl/flock use the fcntl module, posixsem a multiprocessing SemLock (a sem_open semaphore),
sysvsem and pthread call libc through ctypes (stdlib; foreign calls drop the GIL). The
accept loop polls with select.poll / select.epoll and accepts with socket._accept().
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import mmap
import os
import select
import socket
import struct
import tempfile  # at import, as root: a child under User may not read the stdlib
import time
from typing import Any

MECHANISMS = ("default", "none", "fcntl", "flock", "sysvsem", "posixsem", "pthread",
              "reuseport", "epollexclusive")
LOCK_MECHANISMS = ("fcntl", "flock", "sysvsem", "posixsem", "pthread")
# Apache's other spellings (ap_parse_mutex): on Linux "file" is fcntl and "sem" posixsem.
ALIASES = {"yes": "default", "no": "none", "file": "fcntl", "sem": "posixsem"}

# Same choice as the extension (see docs/bench/accept.md), so a configuration behaves the
# same with either implementation.
DEFAULT_MECHANISM = "pthread"
DEFAULT_REASON = (
    "robust process-shared pthread mutex: lock+unlock stays in user space (65-68 ns "
    "uncontended, 109 ns with 2 processes contending, docs/bench/accept.md), as cheap as "
    "posixsem and 10-30x cheaper than flock, fcntl and sysvsem (0.45-1.7 us; sysvsem "
    "7-18 us contended); unlike posixsem it recovers by itself when a holder dies "
    "(EOWNERDEAD); APR's first choice on Linux. With a single Listen, 'default' accepts "
    "unserialized (SINGLE_LISTEN_UNSERIALIZED_ACCEPT)"
)

_SLICE = 0.1          # longest uninterruptible wait before the wake-up pipe is looked at
_SHORTAGE = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_LOST_RACE = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED, errno.EPROTO)
# shared page: holder pid (int32) at 64, recoveries (uint64) at 128, pthread mutex at 0
_HOLDER, _RECOVERED = 64, 128
_serial = 0


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Sembuf(ctypes.Structure):
    _fields_ = [("sem_num", ctypes.c_ushort), ("sem_op", ctypes.c_short),
                ("sem_flg", ctypes.c_short)]


def _ts(seconds: float) -> _Timespec:
    seconds = max(0.0, seconds)
    return _Timespec(int(seconds), int((seconds - int(seconds)) * 1e9))


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


def _oserror(err: int, what: str) -> OSError:
    return OSError(err, f"{what}: {os.strerror(err)}")


def open_listener(host: str, port: int, family: int = socket.AF_INET, backlog: int = 511,
                  reuseport: bool = False) -> int:
    """A non-blocking, close-on-exec listening socket; returns its descriptor."""
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
    s = socket.socket(fileno=os.dup(fd))
    try:
        return s.getsockname()[1]
    finally:
        s.close()


class AcceptMutex:
    """The accept mutex, created in the parent before fork (Apache's Mutex mpm-accept)."""

    def __init__(self, mechanism: str = "default", lock_dir: str | None = None) -> None:
        global _serial
        self.mechanism = _resolve(mechanism)
        self.requested = _canonical(mechanism)
        if not lock_dir and self.mechanism in ("fcntl", "flock"):
            lock_dir = tempfile.gettempdir()  # only these use a lock file (see _accept.pyx)
        self.lock_dir = lock_dir or ""
        self._creator = self._pid = os.getpid()
        self._fd = -1
        self._path: str | None = None
        self._sem: Any = None
        self._semid = -1
        self._alive = False
        self._nap = 0.0
        self._shm = mmap.mmap(-1, 4096)              # MAP_SHARED | MAP_ANONYMOUS
        self._mtx = ctypes.addressof(ctypes.c_char.from_buffer(self._shm))
        _serial += 1
        try:
            self._create(_serial)
        except OSError as exc:
            self._release()
            where = f" in {self.lock_dir}" if self.mechanism in ("fcntl", "flock") else ""
            raise _oserror(exc.errno or errno.EINVAL,
                           f"Mutex {self.mechanism}: cannot create the accept mutex{where}") from None
        self._alive = True

    def _create(self, serial: int) -> None:
        m = self.mechanism
        if m in ("fcntl", "flock"):
            path = os.path.join(self.lock_dir, f"fastcore-accept.{self._creator}.{serial}.{m}.py")
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            self._path = path
        elif m == "posixsem":
            # CPython's private module (the SemLock multiprocessing builds on) has no stub
            import _multiprocessing  # type: ignore[import-not-found]
            name = f"/fastcore-accept.{self._creator}.{serial}.py"
            # kind 1 = SEMAPHORE; unlink=True removes the name at once (nothing can leak)
            self._sem = _multiprocessing.SemLock(1, 1, 1, name, True)
        elif m == "sysvsem":
            self._libc = _libc()
            self._semid = self._libc.semget(0, 1, 0o1000 | 0o600)   # IPC_PRIVATE, IPC_CREAT
            if self._semid < 0:
                raise OSError(ctypes.get_errno(), "semget")
            if self._libc.semctl(self._semid, 0, 16, ctypes.c_int(1)) < 0:  # SETVAL
                raise OSError(ctypes.get_errno(), "semctl")
        elif m == "pthread":
            self._libc = lc = _libc()
            attr = ctypes.create_string_buffer(64)
            for rc in (lc.pthread_mutexattr_init(attr),
                       lc.pthread_mutexattr_setpshared(attr, 1),     # PROCESS_SHARED
                       lc.pthread_mutexattr_setrobust(attr, 1),      # ROBUST
                       lc.pthread_mutex_init(ctypes.c_void_p(self._mtx), attr)):
                if rc:
                    raise OSError(rc, "pthread_mutex_init")

    # -- shared words (single writer at a time: the holder, or the parent for a dead one)
    @property
    def holder(self) -> int:
        return struct.unpack_from("i", self._shm, _HOLDER)[0] if self._alive else 0

    def _set_holder(self, pid: int) -> None:
        struct.pack_into("i", self._shm, _HOLDER, pid)

    @property
    def owner_dead_recoveries(self) -> int:
        return struct.unpack_from("Q", self._shm, _RECOVERED)[0] if self._alive else 0

    def _count_recovery(self) -> None:
        struct.pack_into("Q", self._shm, _RECOVERED, self.owner_dead_recoveries + 1)

    @property
    def lock_path(self) -> str | None:
        return self._path

    def _check(self) -> None:
        if not self._alive:
            raise ValueError(f"Mutex {self.mechanism}: used after destroy()")
        if self._pid != os.getpid():
            self.child_init()

    def child_init(self) -> None:
        """In each child after fork: its own lock-file descriptor (flock locks belong to it)."""
        if not self._alive:
            raise ValueError(f"Mutex {self.mechanism}: used after destroy()")
        self._pid = os.getpid()
        if self._path is not None:
            fd = os.open(self._path, os.O_RDWR | os.O_CLOEXEC)
            os.close(self._fd)
            self._fd = fd

    # -- acquire ------------------------------------------------------------------------
    def _try(self, timeout: float | None) -> bool:
        """One attempt; timeout None blocks, 0 tries, >0 waits at most that long."""
        m = self.mechanism
        if m in ("fcntl", "flock"):
            op = fcntl.LOCK_EX | (fcntl.LOCK_NB if timeout is not None else 0)
            try:
                (fcntl.lockf if m == "fcntl" else fcntl.flock)(self._fd, op)
                return True
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    if timeout:
                        # no timed fcntl/flock in Python: sleep on the wake-up pipe with a
                        # growing interval (1 .. 16 ms), never spin
                        self._nap = min(0.016, self._nap * 2 or 0.001)
                        time.sleep(min(timeout, self._nap))
                    return False
                raise
        if m == "posixsem":
            return self._sem.acquire(True, timeout)
        if m == "sysvsem":
            sop = _Sembuf(0, -1, 0x1000)                              # SEM_UNDO
            while True:
                if timeout is None:
                    r = self._libc.semop(self._semid, ctypes.byref(sop), 1)
                else:
                    ts = _ts(timeout)
                    r = self._libc.semtimedop(self._semid, ctypes.byref(sop), 1, ctypes.byref(ts))
                if r == 0:
                    return True
                e = ctypes.get_errno()
                if e == errno.EAGAIN:
                    return False
                if e != errno.EINTR:
                    raise OSError(e, "semop")
                if timeout is not None:
                    return False
        if m == "pthread":
            mtx = ctypes.c_void_p(self._mtx)
            if timeout is None:
                r = self._libc.pthread_mutex_lock(mtx)
            else:
                ts = _ts(time.clock_gettime(time.CLOCK_MONOTONIC) + timeout)
                r = self._libc.pthread_mutex_clocklock(mtx, time.CLOCK_MONOTONIC, ctypes.byref(ts))
            if r == errno.ETIMEDOUT:
                return False
            if r == errno.EOWNERDEAD:
                self._count_recovery()
                r = self._libc.pthread_mutex_consistent(mtx)
            if r:
                raise OSError(r, "pthread_mutex_lock")
            return True
        return True

    def _acquire(self, deadline: float | None, wake_r: int = -1) -> bool:
        """Take the mutex before deadline (monotonic; None: for ever). False: timed out or
        woken (the caller checks which)."""
        if self.mechanism not in LOCK_MECHANISMS:
            return True
        self._check()
        if deadline is None and wake_r < 0 and self.mechanism != "pthread":
            got = self._try(None)
        else:
            # Waiting with a deadline or a wake-up pipe: in slices of at most 100 ms (the
            # MPMs block signals, so no EINTR would announce a wake-up).
            self._nap = 0.0
            got = self._try(0)
            while not got:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return False
                if wake_r >= 0 and select.select([wake_r], [], [], 0)[0]:
                    return False
                left = _SLICE if deadline is None else min(_SLICE, deadline - now)
                got = self._try(left)
        self._set_holder(self._pid)
        return True

    def lock(self) -> None:
        """Take the mutex (ctypes and the sem/fcntl calls release the GIL while waiting)."""
        try:
            self._acquire(None)
        except OSError as exc:
            raise _oserror(exc.errno or errno.EINVAL, f"Mutex {self.mechanism}: lock failed") from None

    def unlock(self) -> None:
        m = self.mechanism
        if m not in LOCK_MECHANISMS:
            return
        self._check()
        self._set_holder(0)
        if m in ("fcntl", "flock"):
            (fcntl.lockf if m == "fcntl" else fcntl.flock)(self._fd, fcntl.LOCK_UN)
        elif m == "posixsem":
            self._sem.release()
        elif m == "sysvsem":
            op = _Sembuf(0, 1, 0x1000)
            while self._libc.semop(self._semid, ctypes.byref(op), 1) < 0:
                if ctypes.get_errno() != errno.EINTR:
                    raise _oserror(ctypes.get_errno(), f"Mutex {m}: unlock failed")
        elif m == "pthread":
            r = self._libc.pthread_mutex_unlock(ctypes.c_void_p(self._mtx))
            if r:
                raise _oserror(r, f"Mutex {m}: unlock failed")

    def recover(self, dead_pid: int) -> bool:
        """Parent, after reaping a child: True if it died holding the mutex (now released).
        Only posixsem needs work: a POSIX semaphore has no owner, so it is re-posted."""
        if not self._alive or self.mechanism not in LOCK_MECHANISMS or dead_pid <= 0:
            return False
        if self.holder != dead_pid:
            return False
        # No other writer can race: the word only changes under the mutex, which is stuck.
        self._set_holder(0)
        if self.mechanism == "posixsem":
            self._sem.release()
            self._count_recovery()
        return True

    def _release(self) -> None:
        owner = os.getpid() == self._creator
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._path and owner:
            try:
                os.unlink(self._path)
            except FileNotFoundError:
                pass
        self._path = None
        if self._semid >= 0 and owner:
            self._libc.semctl(self._semid, 0, 0)                      # IPC_RMID
        self._semid = -1
        self._sem = None
        if self.mechanism == "pthread" and owner and hasattr(self, "_libc"):
            self._libc.pthread_mutex_destroy(ctypes.c_void_p(self._mtx))
        self._mtx = 0

    def destroy(self) -> None:
        """Release everything; the creating process also removes the lock file / semaphore."""
        if self._alive:
            self._alive = False
            self._release()

    def __del__(self) -> None:
        try:
            self.destroy()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<AcceptMutex {self.mechanism} (requested {self.requested}) pure>"


def bench_lock(mutex: AcceptMutex, n: int) -> float:
    """lock+unlock n times from Python; returns ns per pair (the twin's figure)."""
    lock, unlock = mutex.lock, mutex.unlock
    t0 = time.perf_counter_ns()
    for _ in range(n):
        lock()
        unlock()
    return (time.perf_counter_ns() - t0) / max(n, 1)


class Acceptor:
    """Accepts from one or several listeners, serialized by the mutex where it applies."""

    def __init__(self, listen_fds: list[int], mutex: AcceptMutex | None = None,
                 nonblock: bool = False) -> None:
        fds = [int(fd) for fd in listen_fds]
        if not 1 <= len(fds) <= 64:
            raise ValueError(f"Acceptor: between 1 and 64 listeners, got {len(fds)}")
        mech = mutex.mechanism if mutex is not None else "none"
        single_default = mutex is not None and mutex.requested == "default" and len(fds) == 1
        self.serialized = mech in LOCK_MECHANISMS and not single_default
        self.mode = ("epollexclusive" if mech == "epollexclusive"
                     else "serialized" if self.serialized else "unserialized")
        self.mutex = mutex
        self.nonblock = nonblock
        self.backoffs = 0
        self._backoff = 0.0
        self._fds = fds
        self._socks = []
        for fd in fds:
            os.set_blocking(fd, False)
            self._socks.append(socket.socket(fileno=os.dup(fd)))
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._next = 0
        self._pid = os.getpid()
        self._setup_wait()
        self._alive = True

    def _setup_wait(self) -> None:
        if self.mode == "epollexclusive":
            self._ep = select.epoll()
            for s in self._socks:
                self._ep.register(s.fileno(), select.EPOLLIN | select.EPOLLEXCLUSIVE)
            self._ep.register(self._wake_r, select.EPOLLIN)
            self._index = {s.fileno(): i for i, s in enumerate(self._socks)}
        else:
            self._poll = select.poll()
            for s in self._socks:
                self._poll.register(s.fileno(), select.POLLIN)
            self._poll.register(self._wake_r, select.POLLIN)
            self._index = {s.fileno(): i for i, s in enumerate(self._socks)}

    @property
    def listen_fds(self) -> list[int]:
        return list(self._fds)

    def wakeup_fd(self) -> int:
        return self._wake_w

    def wakeup(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass

    def _drain(self) -> None:
        try:
            while os.read(self._wake_r, 256):
                pass
        except BlockingIOError:
            pass

    def _woken(self) -> bool:
        return bool(select.select([self._wake_r], [], [], 0)[0])

    def _wait(self, deadline: float | None) -> list[int] | None:
        """Ready listener indexes, [] on timeout, None when woken."""
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if self.mode == "epollexclusive":
            events = self._ep.poll(-1 if left is None else left, len(self._socks) + 1)
        else:
            events = self._poll.poll(None if left is None else left * 1000)
        ready = []
        for fd, ev in events:
            if fd == self._wake_r:
                self._drain()
                return None
            if ev & select.POLLNVAL:
                raise _oserror(errno.EBADF, f"accept ({self.mode})")
            ready.append(self._index[fd])
        if self.mode != "epollexclusive":
            n = len(self._socks)
            ready.sort(key=lambda i: (i - self._next) % n)            # round robin
        return ready

    def accept(self, timeout: float = -1) -> tuple[int, tuple] | None:
        if not self._alive:
            raise ValueError("Acceptor: closed")
        mutex = self.mutex if self.serialized else None
        if mutex is not None and not mutex._alive:
            raise ValueError(f"Mutex {mutex.mechanism}: used after destroy()")
        if self._pid != os.getpid() and self.mode == "epollexclusive":
            self._pid = os.getpid()
            self._ep.close()
            self._setup_wait()
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        while True:
            if mutex is not None:
                if not mutex._acquire(deadline, self._wake_r):
                    if self._woken():
                        self._drain()
                    return None
            try:
                ready = self._wait(deadline)
                result, shortage = None, 0
                for i in ready or ():
                    try:
                        # socket._accept (CPython, not in typeshed): the bare fd, no object
                        fd, addr = self._socks[i]._accept()  # type: ignore[attr-defined]
                    except OSError as exc:
                        if exc.errno in _LOST_RACE:
                            continue
                        if exc.errno in _SHORTAGE:
                            shortage = exc.errno
                            continue
                        raise _oserror(exc.errno or errno.EINVAL, f"accept ({self.mode})") from None
                    self._next = (i + 1) % len(self._socks)
                    self._backoff = 0.0
                    if self.nonblock:
                        os.set_blocking(fd, False)
                    result = (fd, addr if isinstance(addr, tuple) else (addr,))
                    break
            finally:
                if mutex is not None:
                    mutex.unlock()
            if result is not None:
                return result
            if ready is None or (ready == [] and not shortage and deadline is not None
                                 and time.monotonic() >= deadline):
                return None
            if shortage:
                self.backoffs += 1
                self._backoff = min(0.128, self._backoff * 2 or 0.001)
                until = time.monotonic() + self._backoff
                if deadline is not None:
                    until = min(until, deadline)
                if select.select([self._wake_r], [], [], max(0.0, until - time.monotonic()))[0]:
                    self._drain()
                    return None
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def close(self) -> None:
        if self._alive:
            self._alive = False
            for s in self._socks:
                s.close()
            if self.mode == "epollexclusive":
                self._ep.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
