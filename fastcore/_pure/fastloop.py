"""Twin of fastcore._fastpath.EventLoop (the event MPM listener's loop): select.epoll on a
dup of the caller's epoll instance, the same accept/serve/linger/expire rules as
fastcore/src/fc_fastloop.h.  Re-exported by fastcore._pure.fastpath."""
from __future__ import annotations

import os
import select
import socket
import threading
import time
from typing import TYPE_CHECKING

from fastcore._pure.fastpath import (
    CLOSED,
    EXPIRED,
    FALLBACK,
    LINGER,
    OWNED,
    RAW,
    WANT_READ,
    WANT_WRITE,
    FastCache,
    FastConn,
)

if TYPE_CHECKING:
    from fastcore._pure.scoreboard import Scoreboard


class EventLoop:
    """Twin of the C listener loop (select.epoll on a dup of the same epoll instance)."""

    def __init__(self, cache: FastCache, epfd: int, capacity: int = 65536) -> None:
        self.cache = cache
        self.ep = select.epoll.fromfd(os.dup(epfd))
        self.refs: dict[int, FastConn] = {}
        self.deadline: dict[int, float] = {}
        self.listeners: set[int] = set()
        self.linger: set[int] = set()
        self.writing: set[int] = set()
        self.owned_conns: dict[int, FastConn] = {}
        self.adoptable: dict[int, FastConn] = {}
        self.sb: Scoreboard | None = None
        self.proc = -1  # the process stats record (configure_conns)
        self.conn_timeout, self.conn_ka = 60.0, 5.0
        self.conn_first = 0.0
        self.accept_budget = -1
        self.accepted = 0
        self.served = 0
        self.lock = threading.Lock()

    @property
    def attached(self) -> int:
        return len(self.refs)

    @property
    def owned(self) -> int:
        return len(self.owned_conns) + len(self.linger)

    def census(self) -> tuple[int, int, int, int]:
        """(held, keep-alive, writing, lingering): the connections the loop holds, by state."""
        with self.lock:
            held = {**self.refs, **self.owned_conns}
        linger = set(self.linger)
        keep_alive = sum(1 for fd, c in held.items()
                         if fd not in linger and fd not in self.writing and c.requests
                         and not c.buffered)
        writing = sum(1 for fd in held if fd in self.writing and fd not in linger)
        return len(held.keys() | linger), keep_alive, writing, len(linger)

    def add_listener(self, fd: int) -> None:
        self.listeners.add(fd)

    def configure_conns(self, scoreboard: Scoreboard | None, timeout: float, keep_alive_timeout: float,
                        first_timeout: float = 0.0, proc: int = -1) -> None:
        self.sb, self.conn_timeout, self.conn_ka = scoreboard, timeout, keep_alive_timeout
        self.conn_first = first_timeout
        self.proc = proc  # the process stats record of the connections served here

    def attach(self, conn: FastConn, wait: float) -> None:
        if conn.cache is not self.cache:
            raise ValueError("connection of another cache")
        conn.slot = -1
        conn.proc = self.proc
        with self.lock:
            self.refs[conn.fd] = conn
            self.deadline[conn.fd] = time.monotonic() + wait
        try:
            self.ep.modify(conn.fd, select.EPOLLIN)
        except FileNotFoundError:
            self.ep.register(conn.fd, select.EPOLLIN)

    def detach(self, fd: int, unregister: bool = True) -> FastConn | None:
        with self.lock:
            conn = self.refs.pop(fd, None)
            self.deadline.pop(fd, None)
            if fd in self.owned_conns:
                self.adoptable[fd] = self.owned_conns.pop(fd)
        if unregister:
            try:
                self.ep.unregister(fd)
            except OSError:
                pass
        return conn

    def adopt(self, fd: int) -> tuple[FastConn, tuple] | None:
        conn = self.adoptable.pop(fd, None)
        if conn is None:
            return None
        return conn, (conn.client.decode("latin-1"), conn.remote_port)

    def _drop(self, fd: int) -> None:
        with self.lock:
            conn = self.refs.pop(fd, None)
            self.deadline.pop(fd, None)
            self.owned_conns.pop(fd, None)
        self.linger.discard(fd)
        self.writing.discard(fd)
        if conn is not None:
            conn.close()
        os.close(fd)

    def _accept(self, lfd: int) -> FastConn | bool:
        """The new connection, True when there was none, False on an error for Python."""
        s = socket.socket(fileno=lfd)
        try:
            cs, peer = s.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return True
        except OSError:
            return False
        finally:
            s.detach()
        cs.setblocking(False)
        fd = cs.detach()
        conn = FastConn(self.cache, fd, False, peer[0].encode("latin-1"), peer[1], self.sb, -1)
        conn.proc = self.proc
        conn.set_timeouts(self.conn_timeout, self.conn_ka)
        self.accepted += 1
        if self.accept_budget > 0:
            self.accept_budget -= 1
        with self.lock:
            self.refs[fd] = conn
            self.owned_conns[fd] = conn
            first = self.conn_first if 0 < self.conn_first < self.conn_timeout else self.conn_timeout
            self.deadline[fd] = time.monotonic() + first
        self.ep.register(fd, select.EPOLLIN)
        return conn

    def _serve_ready(self, fd: int, conn: FastConn, ev: int, out: list) -> None:
        rc = conn.serve()
        self.served += 1
        now = time.monotonic()
        if rc == WANT_READ and not conn.buffered:
            if fd in self.writing:
                self.writing.discard(fd)
                self.ep.modify(fd, select.EPOLLIN)
            if conn.requests or self.conn_first <= 0:  # else the header deadline stands
                wait = conn.keep_alive_timeout if conn.requests else conn.timeout
                with self.lock:
                    self.deadline[fd] = now + wait
            return
        if rc == WANT_WRITE:
            if fd not in self.writing:
                self.writing.add(fd)
                self.ep.modify(fd, select.EPOLLOUT)
            with self.lock:
                self.deadline[fd] = now + conn.timeout
            return
        owned = fd in self.owned_conns
        if rc == CLOSED and owned:
            self._finish(fd, conn, now)
            return
        if fd in self.writing:
            self.writing.discard(fd)
            self.ep.modify(fd, select.EPOLLIN)
        self.detach(fd, rc in (FALLBACK, WANT_READ))
        out.append((fd, rc | (OWNED if owned else 0), ev))

    def wait(self, timeout: float) -> list:
        end = None if timeout < 0 else time.monotonic() + timeout
        out: list = []
        while True:
            now = time.monotonic()
            with self.lock:
                soonest = min(self.deadline.values(), default=now + 1.0)
            limit = min(soonest, now + 1.0) if end is None else min(soonest, end)
            for fd, ev in self.ep.poll(max(limit - now, 0.0)):
                if fd in self.listeners and self.accept_budget != 0:
                    got = self._accept(fd)
                    if got is False:
                        out.append((fd, RAW, ev))
                    elif got is not True:  # serve at once: the request came with the connection
                        self._serve_ready(got.fd, got, select.EPOLLIN, out)
                    continue
                with self.lock:
                    conn = self.refs.get(fd)
                if conn is None:
                    out.append((fd, RAW, ev))
                    continue
                if fd in self.linger:
                    try:
                        while os.read(fd, 4096):
                            pass
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    self._drop(fd)
                    continue
                self._serve_ready(fd, conn, ev, out)
            now = time.monotonic()
            with self.lock:
                expired = [fd for fd, d in self.deadline.items() if d <= now]
            for fd in expired:
                conn = self.refs.get(fd)
                owned = fd in self.owned_conns
                if fd in self.linger or (owned and conn is not None and not conn.buffered
                                         and not conn.pending_output):
                    self._drop(fd)
                    continue
                if fd in self.writing:
                    self.writing.discard(fd)
                    self.ep.modify(fd, select.EPOLLIN)
                self.detach(fd, False)
                out.append((fd, EXPIRED | (OWNED if owned else 0), 0))
            if out or (end is not None and now >= end):
                return out

    def _finish(self, fd: int, conn: FastConn, now: float) -> None:
        if conn.eof or not conn.requests:
            self._drop(fd)
            return
        s = socket.socket(fileno=fd)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            s.detach()
            self._drop(fd)
            return
        s.detach()
        self.linger.add(fd)
        if fd in self.writing:
            self.writing.discard(fd)
            self.ep.modify(fd, select.EPOLLIN)
        with self.lock:
            self.owned_conns.pop(fd, None)
            self.deadline[fd] = now + LINGER

    def close(self) -> None:
        for fd in list(self.owned_conns) + list(self.linger):
            self._drop(fd)
        self.ep.close()
