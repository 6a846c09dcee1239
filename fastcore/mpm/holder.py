"""The head holder of prefork and worker: slow request heads wait here, not in a worker.

A prefork child or worker thread serves a connection from accept on (HttpServer.
serve_blocking).  When the request head has not fully arrived -- nothing yet after a
short first wait, or a partial head -- it hands the connection to this process's holder
and goes back to accepting.  The holder's thread waits on all held connections in one
epoll, reads what arrives, and gives a connection back through `on_ready` once its head is
complete (or too long, or the client closed): it joins `ready` and `notify()` wakes a
worker.  So a worker is only ever busy with complete requests: 200 clients trickling a
byte a second cost one thread, as in the event MPM.
A connection whose deadline passes (Timeout per read, or RequestReadTimeout) gets its
answer from Connection.on_timeout here, then a short lingering close in the same epoll.
What a worker does with a request once it has one is unchanged.
"""
from __future__ import annotations

import heapq
import itertools
import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.mpm.fdutil import close_fd, shutdown_write

_tls = load("tls")

if TYPE_CHECKING:
    from fastcore.core.connection import Connection
    from fastcore.mpm.child import ChildContext

LINGER = 2.0  # seconds a timed-out connection is drained (httpd's short lingering close)
MAX_WAIT = 1.0


class _Held:
    __slots__ = ("conn", "fd", "deadline", "seq", "linger")

    def __init__(self, conn: Connection | None, fd: int, deadline: float, seq: int) -> None:
        self.conn, self.fd, self.deadline, self.seq = conn, fd, deadline, seq
        self.linger = False


class HeadHolder:
    """One per prefork child or worker process; `hold` is called from any thread."""

    def __init__(self, ctx: ChildContext, notify: Callable[[], None]) -> None:
        self.ctx = ctx
        self.notify = notify
        self.ready: deque[Connection] = deque()
        self.came_back = threading.Event()
        self.ep = select.epoll()
        self.efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.ep.register(self.efd, select.EPOLLIN)
        self.lock = threading.Lock()
        self.held: dict[int, _Held] = {}
        self.timers: list[tuple[float, int, int]] = []
        self.seq = itertools.count(1)
        self.next_wake = 0.0
        self.stopped = False
        # started by the first hold: most children never hold anything, and a thread
        # is about 70 copy-on-write page faults of a new child's start-up (priority.py)
        self.thread: threading.Thread | None = None

    # -- any thread ------------------------------------------------------------------

    def hold(self, conn: Connection) -> bool:
        """Take conn until its head is complete; False when stopping (serve it in place)."""
        wait = conn.read_wait()
        if self.stopped or wait <= 0:
            return False
        slot = conn.slot
        conn.assign_slot(-1)  # the worker's scoreboard slot is not ours to write
        if self._add(_Held(conn, conn.fd, time.monotonic() + wait, next(self.seq))):
            return True
        conn.assign_slot(slot)
        return False

    def pop(self) -> Connection | None:
        """A connection given back, its head complete (None: none waiting)."""
        try:
            return self.ready.popleft()
        except IndexError:
            return None

    def count(self) -> int:
        with self.lock:
            return len(self.held)

    def finish(self, serve: Callable[[Connection], None]) -> None:
        """Child exit: serve what comes back until nothing is held (each connection ends
        with its head, its deadline or its client), then stop the thread."""
        while True:
            self.came_back.clear()
            conn = self.pop()
            while conn is not None:
                serve(conn)
                conn = self.pop()
            if not self.count():
                break
            self.came_back.wait(MAX_WAIT)
        with self.lock:  # a hold() from now on is refused; one before is in `held`
            self.stopped = True
        os.eventfd_write(self.efd, 1)
        if self.thread is not None:
            self.thread.join()
        self.ep.close()
        os.close(self.efd)
        conn = self.pop()  # given back while the thread stopped
        while conn is not None:
            serve(conn)
            conn = self.pop()

    def _give_back(self, conn: Connection) -> None:
        self.ready.append(conn)
        self.came_back.set()
        try:
            self.notify()
        except OSError:  # a wake-up pipe that is full: a wake-up is pending anyway
            pass

    # -- the holder thread -------------------------------------------------------------

    def _add(self, entry: _Held) -> bool:
        """Wait for entry's socket; False once stopped (the thread's last pass, which
        gives back everything held, takes the same lock)."""
        mask = select.EPOLLIN | select.EPOLLONESHOT
        with self.lock:
            if self.stopped and entry.conn is not None and not entry.linger:
                return False
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="holder", daemon=True)
                self.thread.start()
            self.held[entry.fd] = entry
            heapq.heappush(self.timers, (entry.deadline, entry.seq, entry.fd))
            earlier = entry.deadline < self.next_wake
            try:
                self.ep.modify(entry.fd, mask)
            except FileNotFoundError:
                self.ep.register(entry.fd, mask)
        if earlier:
            os.eventfd_write(self.efd, 1)
        return True

    def _take(self, fd: int) -> _Held | None:
        with self.lock:
            return self.held.pop(fd, None)

    def _run(self) -> None:
        while not self.stopped:
            now = time.monotonic()
            for entry in self._expired(now):
                self._expire(entry)
            with self.lock:
                wait = max(0.0, self.next_wake - now)
            for fd, _ev in self.ep.poll(wait):
                if fd == self.efd:
                    try:
                        os.eventfd_read(self.efd)
                    except BlockingIOError:
                        pass
                    continue
                held = self._take(fd)
                if held is None:
                    continue
                try:
                    self._readable(held)
                except Exception:  # noqa: BLE001 - one connection never stops the holder
                    self.ctx.log_exception("holder")
                    self._unregister(held.fd)
                    close_fd(held.fd)
        with self.lock:
            left = list(self.held.values())
            self.held.clear()
        for entry in left:
            self._unregister(entry.fd)
            if entry.linger or entry.conn is None:
                close_fd(entry.fd)
            else:
                self._give_back(entry.conn)

    def _expired(self, now: float) -> list[_Held]:
        out = []
        with self.lock:
            while self.timers and self.timers[0][0] <= now:
                _, seq, fd = heapq.heappop(self.timers)
                entry = self.held.get(fd)
                if entry is not None and entry.seq == seq:
                    del self.held[fd]
                    out.append(entry)
            self.next_wake = min(self.timers[0][0] if self.timers else now + MAX_WAIT,
                                 now + MAX_WAIT)
        return out

    def _readable(self, entry: _Held) -> None:
        if entry.linger:
            self._drain(entry)
            return
        conn = entry.conn
        assert conn is not None  # a held head (a linger has none and was drained above)
        try:
            data = _recv(entry.fd)
        except (BlockingIOError, InterruptedError):
            data = None
        except OSError:
            data = b""
        if data:
            conn.note_read(data)
        if data == b"" or (data and conn.head_ready()):
            # complete, too long, or EOF (left unread: the worker's read sees it too)
            self._unregister(entry.fd)
            self._give_back(conn)
            return
        wait = conn.read_wait()  # Timeout again for the next read, or what RequestReadTimeout leaves
        if wait <= 0:
            self._expire(entry)
            return
        entry.deadline, entry.seq = time.monotonic() + wait, next(self.seq)
        if not self._add(entry):  # stopping: a worker waits for the rest
            self._unregister(entry.fd)
            self._give_back(conn)

    def _expire(self, entry: _Held) -> None:
        """No complete head in time: Apache's answer (or none), then a short linger."""
        conn = entry.conn
        if entry.linger or conn is None:
            self._unregister(entry.fd)
            close_fd(entry.fd)
            return
        try:
            os.set_blocking(entry.fd, False)  # a client that does not read stalls no one
            conn.on_timeout()
        except Exception:  # noqa: BLE001
            self.ctx.log_exception("holder timeout")
        fd = conn.release()
        if not conn.needs_linger:
            self._unregister(fd)
            close_fd(fd)
            return
        try:
            shutdown_write(fd)
        except OSError:
            self._unregister(fd)
            close_fd(fd)
            return
        entry.conn, entry.linger = None, True
        entry.deadline, entry.seq = time.monotonic() + LINGER, next(self.seq)
        self._add(entry)

    def _drain(self, entry: _Held) -> None:
        try:
            while _recv(entry.fd):
                pass
        except (BlockingIOError, InterruptedError):
            if entry.deadline > time.monotonic():
                entry.seq = next(self.seq)
                self._add(entry)
                return
        except OSError:
            pass
        self._unregister(entry.fd)
        close_fd(entry.fd)

    def _unregister(self, fd: int) -> None:
        try:
            self.ep.unregister(fd)
        except (OSError, ValueError):
            pass


def _recv(fd: int) -> bytes:
    """A read that never blocks, whatever the descriptor's mode (prefork's are blocking);
    a TLS connection reads through its session, non-blocking for the call."""
    if _tls.state(fd)[0]:
        was = os.get_blocking(fd)
        if was:
            os.set_blocking(fd, False)
        try:
            data = _tls.read(fd, 65536)
            while data and _tls.pending(fd):  # records read ahead: no readiness for them
                data += _tls.read(fd, 65536)
            return data
        finally:
            if was:
                os.set_blocking(fd, True)
    sock = socket.socket(fileno=fd)
    try:
        return sock.recv(65536, socket.MSG_DONTWAIT)
    finally:
        sock.detach()


def resume(ctx: ChildContext, conn: Connection, slot: int,
           hold: Callable[[Connection], bool] | None) -> None:
    """A worker takes back a connection whose head the holder completed."""
    ctx.scoreboard.set_status(slot, "R")
    try:
        ctx.server.resume_blocking(conn, slot, hold)
    except Exception:  # noqa: BLE001 - one connection's failure never ends the worker
        ctx.log_exception("serve_blocking")
