"""Accept serialization: every Mutex mechanism excludes, the accept loop serves every listener,
times out, wakes up, backs off on EMFILE, and hands out close-on-exec (non-blocking) sockets.

Every test runs against the Cython extension and its pure-Python twin.
"""
from __future__ import annotations

import fcntl
import mmap
import os
import resource
import select
import signal
import socket
import struct
import threading
from collections.abc import Iterator
from types import ModuleType

import pytest
from support.proc_helpers import fork_child, reap
from support.twins import Implementation

LOCKS = ["fcntl", "flock", "sysvsem", "posixsem", "pthread"]


@pytest.fixture
def acc(impl: Implementation) -> ModuleType:
    return impl.load("accept")


def kill_reap(pid: int) -> None:
    """Cleanup after a failed assertion: no child may outlive its test."""
    if pid <= 0:                                 # never kill(0, ...): that is our group
        return
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def read_line(fd: int, timeout: float = 10.0) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        if not select.select([fd], [], [], timeout)[0]:
            raise AssertionError(f"no report from child within {timeout} s (got {buf!r})")
        chunk = os.read(fd, 1)
        if not chunk:
            raise AssertionError(f"child closed the report pipe (got {buf!r})")
        buf += chunk
    return buf[:-1]


@pytest.fixture
def listener(acc: ModuleType) -> Iterator[tuple[int, int]]:
    fd = acc.open_listener("127.0.0.1", 0, socket.AF_INET, 64)
    yield fd, acc.listener_port(fd)
    os.close(fd)


@pytest.fixture
def two_listeners(acc: ModuleType) -> Iterator[list[tuple[int, int]]]:
    fds = [acc.open_listener("127.0.0.1", 0, socket.AF_INET, 64) for _ in range(2)]
    yield [(fd, acc.listener_port(fd)) for fd in fds]
    for fd in fds:
        os.close(fd)


# ---- names and the default ---------------------------------------------------------------

def test_mechanisms_and_default(acc: ModuleType, tmp_path) -> None:
    assert acc.MECHANISMS == ("default", "none", "fcntl", "flock", "sysvsem", "posixsem",
                              "pthread", "reuseport", "epollexclusive")
    assert acc.DEFAULT_MECHANISM in LOCKS
    assert acc.DEFAULT_MECHANISM in acc.DEFAULT_REASON
    m = acc.AcceptMutex("Default", str(tmp_path))
    try:
        assert m.mechanism == acc.DEFAULT_MECHANISM
        assert m.requested == "default"
    finally:
        m.destroy()


@pytest.mark.parametrize("alias, mech", [("yes", "default"), ("no", "none"),
                                         ("file", "fcntl"), ("sem", "posixsem")])
def test_apache_aliases(acc: ModuleType, tmp_path, alias: str, mech: str) -> None:
    m = acc.AcceptMutex(alias.upper(), str(tmp_path))
    try:
        assert m.requested == mech
        assert m.mechanism == (acc.DEFAULT_MECHANISM if mech == "default" else mech)
    finally:
        m.destroy()


def test_destroyed_mutex_is_refused_by_acceptor(acc: ModuleType, tmp_path, two_listeners) -> None:
    m = acc.AcceptMutex("fcntl", str(tmp_path))
    a = acc.Acceptor([fd for fd, _ in two_listeners], m)
    m.destroy()
    try:
        with pytest.raises(ValueError, match="destroy"):
            a.accept(0)
    finally:
        a.close()


def test_unknown_mechanism_is_named(acc: ModuleType, tmp_path) -> None:
    with pytest.raises(ValueError, match="'semaphore'"):
        acc.AcceptMutex("semaphore", str(tmp_path))


@pytest.mark.parametrize("mech", ["fcntl", "flock"])
def test_missing_lock_dir_is_named(acc: ModuleType, tmp_path, mech: str) -> None:
    missing = str(tmp_path / "no-such-dir")
    with pytest.raises(OSError, match="no-such-dir"):
        acc.AcceptMutex(mech, missing)


@pytest.mark.parametrize("mech", ["fcntl", "flock"])
def test_lock_file_lives_until_destroy(acc: ModuleType, tmp_path, mech: str) -> None:
    m = acc.AcceptMutex(mech, str(tmp_path))
    path = m.lock_path
    assert path is not None and os.path.dirname(path) == str(tmp_path)
    assert os.path.exists(path)
    m.destroy()
    assert not os.path.exists(path)
    with pytest.raises(ValueError):
        m.lock()


@pytest.mark.parametrize("mech", LOCKS)
def test_holder_word_tracks_the_owner(acc: ModuleType, tmp_path, mech: str) -> None:
    m = acc.AcceptMutex(mech, str(tmp_path))
    try:
        assert m.holder == 0
        m.lock()
        assert m.holder == os.getpid()
        assert not m.recover(os.getpid() + 1)   # not the holder: nothing to recover
        m.unlock()
        assert m.holder == 0
    finally:
        m.destroy()


# ---- mutual exclusion --------------------------------------------------------------------

@pytest.mark.parametrize("mech", LOCKS)
def test_mutual_exclusion_across_processes(acc: ModuleType, tmp_path, mech: str) -> None:
    """N processes do a read-yield-write increment under the lock: no update is lost."""
    nproc, iters = 3, 300
    m = acc.AcceptMutex(mech, str(tmp_path))
    shm = mmap.mmap(-1, 64)

    def body() -> None:
        m.child_init()
        for _ in range(iters):
            m.lock()
            v = struct.unpack_from("q", shm, 0)[0]
            os.sched_yield()                       # invite a racing process in
            struct.pack_into("q", shm, 0, v + 1)
            m.unlock()

    try:
        pids = [fork_child(body) for _ in range(nproc)]
        assert [reap(p, 60) for p in pids] == [0] * nproc
        assert struct.unpack_from("q", shm, 0)[0] == nproc * iters
    finally:
        m.destroy()
        shm.close()


@pytest.mark.parametrize("mech", ["fcntl", "flock"])
def test_child_without_child_init_still_excludes(acc: ModuleType, tmp_path, mech: str) -> None:
    """A child that forgets child_init() must not share the parent's open file description
    (with flock that would make the parent's lock cover the child too)."""
    m = acc.AcceptMutex(mech, str(tmp_path))
    r, w = os.pipe()
    pid = 0
    try:
        m.lock()

        def body() -> None:
            os.close(r)
            os.write(w, b"trying\n")
            m.lock()                               # must wait for the parent
            os.write(w, b"got\n")
            m.unlock()

        pid = fork_child(body)
        os.close(w)
        assert read_line(r) == b"trying"
        assert not select.select([r], [], [], 0.3)[0], "child got the lock the parent holds"
        m.unlock()
        assert read_line(r) == b"got"
        assert reap(pid) == 0
    finally:
        kill_reap(pid)
        os.close(r)
        m.destroy()


@pytest.mark.parametrize("mech", LOCKS)
def test_lock_waits_without_the_gil(acc: ModuleType, tmp_path, mech: str) -> None:
    """A thread blocked in lock() lets the other threads run; it gets the mutex when the
    holder (a child) gives it up."""
    m = acc.AcceptMutex(mech, str(tmp_path))
    r, w = os.pipe()
    go_r, go_w = os.pipe()

    def body() -> None:
        m.child_init()
        m.lock()
        os.write(w, b"held\n")
        select.select([go_r], [], [], 10)       # until the parent writes "go"
        m.unlock()

    pid = fork_child(body)
    got: list[int] = []
    t = threading.Thread(target=lambda: (m.lock(), got.append(m.holder), m.unlock()))
    try:
        assert read_line(r) == b"held"
        t.start()
        select.select([], [], [], 0.1)
        assert t.is_alive() and got == []       # waiting, and we are running
        os.write(go_w, b"go")
        t.join(10)
        assert got == [os.getpid()]
        assert reap(pid) == 0
    finally:
        os.write(go_w, b"go")
        if t.ident is not None:
            t.join(10)
        kill_reap(pid)
        for fd in (r, w, go_r, go_w):
            os.close(fd)
        m.destroy()


# ---- the accept loop ---------------------------------------------------------------------

def test_single_listener_default_is_unserialized(acc: ModuleType, tmp_path, listener) -> None:
    fd, _ = listener
    m = acc.AcceptMutex("default", str(tmp_path))
    a = acc.Acceptor([fd], m)
    try:
        assert not a.serialized and a.mode == "unserialized"
        assert a.accept(0) is None
        assert m.holder == 0
    finally:
        a.close()
        m.destroy()


def test_several_listeners_default_is_serialized(acc: ModuleType, tmp_path, two_listeners) -> None:
    m = acc.AcceptMutex("default", str(tmp_path))
    a = acc.Acceptor([fd for fd, _ in two_listeners], m)
    try:
        assert a.serialized and a.mode == "serialized"
        assert m.mechanism == acc.DEFAULT_MECHANISM
    finally:
        a.close()
        m.destroy()


@pytest.mark.parametrize("mech", ["none", "reuseport"])
def test_lockless_mechanisms_do_not_serialize(acc: ModuleType, tmp_path, two_listeners,
                                              mech: str) -> None:
    m = acc.AcceptMutex(mech, str(tmp_path))
    a = acc.Acceptor([fd for fd, _ in two_listeners], m)
    try:
        assert not a.serialized and a.mode == "unserialized"
    finally:
        a.close()
        m.destroy()


@pytest.mark.parametrize("mech", LOCKS + ["none", "epollexclusive"])
def test_two_listeners_both_served(acc: ModuleType, tmp_path, two_listeners, mech: str) -> None:
    m = acc.AcceptMutex(mech, str(tmp_path))
    a = acc.Acceptor([fd for fd, _ in two_listeners], m)
    clients = []
    try:
        served = set()
        # Three rounds on each port, queued before accepting: the round robin serves both.
        for _ in range(3):
            for _, port in two_listeners:
                clients.append(socket.create_connection(("127.0.0.1", port)))
        for _ in range(6):
            got = a.accept(5)
            assert got is not None
            fd, peer = got
            s = socket.socket(fileno=fd)
            served.add(s.getsockname()[1])
            assert peer == s.getpeername()
            s.close()
        assert served == {port for _, port in two_listeners}
        assert a.accept(0) is None
    finally:
        for c in clients:
            c.close()
        a.close()
        m.destroy()


@pytest.mark.parametrize("nonblock", [False, True])
def test_accepted_socket_flags(acc: ModuleType, tmp_path, listener, nonblock: bool) -> None:
    fd, port = listener
    m = acc.AcceptMutex("fcntl", str(tmp_path))
    a = acc.Acceptor([fd], m, nonblock=nonblock)
    c = socket.create_connection(("127.0.0.1", port))
    try:
        got = a.accept(5)
        assert got is not None
        cfd, peer = got
        assert peer == c.getsockname()
        assert fcntl.fcntl(cfd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert os.get_blocking(cfd) is (not nonblock)
        assert not os.get_blocking(fd)          # listeners are made non-blocking
        os.close(cfd)
    finally:
        c.close()
        a.close()
        m.destroy()


def test_ipv6_listener_and_peer(acc: ModuleType, tmp_path) -> None:
    fd = acc.open_listener("::1", 0, socket.AF_INET6, 16)
    s = socket.socket(fileno=os.dup(fd))
    assert s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
    s.close()
    a = acc.Acceptor([fd], None)
    c = socket.create_connection(("::1", acc.listener_port(fd)))
    try:
        got = a.accept(5)
        assert got is not None
        cfd, peer = got
        assert peer[:2] == c.getsockname()[:2] and len(peer) == 4
        os.close(cfd)
    finally:
        c.close()
        a.close()
        os.close(fd)


def test_open_listener_error_names_the_address(acc: ModuleType, listener) -> None:
    _, port = listener
    with pytest.raises(OSError, match=f"127.0.0.1:{port}"):
        acc.open_listener("127.0.0.1", port, socket.AF_INET, 16)


@pytest.mark.parametrize("mech", LOCKS + ["none", "epollexclusive"])
def test_timeout_returns_none(acc: ModuleType, tmp_path, listener, mech: str) -> None:
    fd, _ = listener
    m = acc.AcceptMutex(mech, str(tmp_path))
    a = acc.Acceptor([fd], m)
    try:
        assert a.accept(0.05) is None
        assert m.holder == 0                     # the mutex is given back
    finally:
        a.close()
        m.destroy()


@pytest.mark.parametrize("mech", ["fcntl", "pthread", "epollexclusive", "none"])
def test_wakeup_from_another_thread(acc: ModuleType, tmp_path, listener, mech: str) -> None:
    fd, _ = listener
    m = acc.AcceptMutex(mech, str(tmp_path))
    a = acc.Acceptor([fd], m)
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(a.accept(30)))
    try:
        t.start()
        select.select([], [], [], 0.1)
        assert t.is_alive()                     # this thread ran meanwhile: GIL released
        os.write(a.wakeup_fd(), b"\0")
        t.join(10)
        assert not t.is_alive() and result == [None]
        # the wake-up was consumed: the next accept waits again (here: times out)
        assert a.accept(0.01) is None
    finally:
        a.close()
        m.destroy()


@pytest.mark.parametrize("mech", LOCKS)
def test_wakeup_while_waiting_for_a_held_mutex(acc: ModuleType, tmp_path, two_listeners,
                                               mech: str) -> None:
    """A wake-up reaches an accept() that waits for the mutex, even with every signal
    blocked (as the MPMs' accepting threads have them)."""
    m = acc.AcceptMutex(mech, str(tmp_path))
    a = acc.Acceptor([fd for fd, _ in two_listeners], m)
    r, w = os.pipe()

    def body() -> None:
        m.child_init()
        m.lock()
        os.write(w, b"held\n")
        select.select([], [], [], 10)           # until the parent kills it

    pid = fork_child(body)
    result: list[object] = []

    def accept_blocked() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1})
        result.append(a.accept(30))

    t = threading.Thread(target=accept_blocked)
    try:
        assert read_line(r) == b"held"
        t.start()
        select.select([], [], [], 0.15)
        assert t.is_alive() and result == []
        a.wakeup()
        t.join(10)
        assert not t.is_alive() and result == [None]
        assert m.holder == pid                   # never took the child's mutex
    finally:
        kill_reap(pid)
        if t.ident is not None:
            t.join(10)
        os.close(r)
        os.close(w)
        a.close()
        m.destroy()


@pytest.mark.parametrize("mech", LOCKS)
def test_timeout_waiting_for_a_held_mutex(acc: ModuleType, tmp_path, two_listeners,
                                          mech: str) -> None:
    """The timeout also bounds the wait for the mutex another process holds."""
    m = acc.AcceptMutex(mech, str(tmp_path))
    a = acc.Acceptor([fd for fd, _ in two_listeners], m)
    r, w = os.pipe()

    def body() -> None:
        m.child_init()
        m.lock()
        os.write(w, b"held\n")
        select.select([], [], [], 10)           # until the parent kills it

    pid = fork_child(body)
    try:
        assert read_line(r) == b"held"
        assert a.accept(0.2) is None
        assert m.holder == pid                   # still the child's
    finally:
        os.close(w)
        os.kill(pid, signal.SIGKILL)
        reap(pid)
        os.close(r)
        a.close()
        m.destroy()


def test_emfile_backs_off_without_spinning(acc: ModuleType, tmp_path, listener) -> None:
    """Out of descriptors: accept() sleeps with a growing interval and counts it; once a
    descriptor is free the queued connection is served."""
    fd, port = listener
    r, w = os.pipe()

    def body() -> None:
        a = acc.Acceptor([fd], None)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        limit = max(int(n) for n in os.listdir("/proc/self/fd")) + 8
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
        hogs = []
        try:
            while True:
                hogs.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
        os.write(w, b"full\n")
        got = a.accept(0.5)
        n = a.backoffs
        os.close(hogs.pop())
        got2 = a.accept(5)
        os.write(w, f"{got is None} {n} {got2 is not None}\n".encode())

    pid = fork_child(body)
    c = None
    try:
        assert read_line(r) == b"full"
        c = socket.create_connection(("127.0.0.1", port))
        timed_out, n, served = read_line(r).split()
        assert timed_out == b"True" and served == b"True"
        # 1+2+4+...+128 ms in 0.5 s: a handful of back-offs, not thousands of retries
        assert 1 <= int(n) <= 20
        assert reap(pid) == 0
    finally:
        kill_reap(pid)
        if c is not None:
            c.close()
        os.close(r)
        os.close(w)


# ---- several processes ---------------------------------------------------------------------

def _serve_in_children(acc: ModuleType, mech: str, tmp_path, own_socket: bool,
                       nchildren: int = 2) -> tuple[list[int], int, int, object]:
    """Fork children that accept in a loop and report "<pid>\\n" per connection; each holds a
    connection until the client closes it. SIGTERM (through signal.set_wakeup_fd on the
    acceptor's wake-up pipe) ends them."""
    m = acc.AcceptMutex(mech, str(tmp_path))
    shared = acc.open_listener("127.0.0.1", 0, socket.AF_INET, 64, reuseport=own_socket)
    port = acc.listener_port(shared)
    r, w = os.pipe()

    def body() -> None:
        os.close(r)
        m.child_init()
        if own_socket:
            fds = [acc.open_listener("127.0.0.1", port, socket.AF_INET, 64, reuseport=True)]
            os.close(shared)                     # only this child's own socket stays open
        else:
            fds = [shared]
        a = acc.Acceptor(fds, m)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.set_wakeup_fd(a.wakeup_fd())
        os.write(w, b"ready\n")
        while not stop:
            got = a.accept()
            if got is None:
                continue
            cfd, _ = got
            os.write(w, f"{os.getpid()}\n".encode())
            conn = socket.socket(fileno=cfd)
            conn.settimeout(10)
            try:
                conn.recv(1)                     # hold it until the client closes
            except OSError:
                pass
            conn.close()

    pids = [fork_child(body) for _ in range(nchildren)]
    os.close(w)
    for _ in pids:
        assert read_line(r) == b"ready"
    if own_socket:
        os.close(shared)                          # only the children's sockets remain
        shared = -1
    return pids, port, r, (m, shared)


def _stop_children(pids: list[int], r: int, extra) -> None:
    m, shared = extra
    for p in pids:
        os.kill(p, signal.SIGTERM)
    codes = [reap(p) for p in pids]
    os.close(r)
    if shared >= 0:
        os.close(shared)
    m.destroy()
    assert codes == [0] * len(pids)


@pytest.mark.parametrize("mech", LOCKS + ["epollexclusive", "none"])
def test_busy_child_leaves_the_next_connection_to_another(acc: ModuleType, tmp_path,
                                                          mech: str) -> None:
    pids, port, r, extra = _serve_in_children(acc, mech, tmp_path, own_socket=False)
    clients = []
    try:
        clients.append(socket.create_connection(("127.0.0.1", port)))
        first = int(read_line(r))
        clients.append(socket.create_connection(("127.0.0.1", port)))
        second = int(read_line(r))                # the first child is busy with its client
        assert {first, second} == set(pids)
    finally:
        for c in clients:
            c.close()
        _stop_children(pids, r, extra)


def test_reuseport_spreads_connections_over_children(acc: ModuleType, tmp_path) -> None:
    pids, port, r, extra = _serve_in_children(acc, "reuseport", tmp_path, own_socket=True)
    seen = []
    try:
        # The kernel hashes each connection to one child's socket: 32 connections all
        # landing on one of two sockets has probability 2**-31.
        for _ in range(32):
            c = socket.create_connection(("127.0.0.1", port))
            seen.append(int(read_line(r)))
            c.close()
        assert set(seen) == set(pids)
    finally:
        _stop_children(pids, r, extra)
