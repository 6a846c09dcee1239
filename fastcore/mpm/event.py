"""event: a listener thread with epoll holds what waits on the client; workers only run.

Idle keep-alive connections, connections waiting for more request bytes, sockets whose
send buffer is full (non-blocking sendfile resumes on EPOLLOUT) and lingering closes all sit
in the listener's epoll with a deadline, occupying no worker thread. A connection that
becomes ready goes to a worker through a blocking queue. The process stops accepting while
it has no idle worker or holds more than ThreadsPerChild + idle * AsyncRequestWorkerFactor
connections (httpd's bound), and tells the parent so through its process flag.  A
connection parked for the rest of its request head is not counted in that bound (it needs
no worker yet): clients trickling their heads cannot make a process stop accepting.

Deliberate difference from httpd: the listener thread also serves.  Its wait is the C
engine's EventLoop (fastcore._fastpath): idle keep-alive connections whose state is all in
C are "attached" to it, stay registered level-triggered, and a request for a cached static
file is answered inline, without the GIL and without a hand-off to a worker thread
(epoll_wait + read + stat + one send per request).  New connections are attached right
after accept.  Only what needs Python -- a cache miss or any other request, a partial
head, a blocked send, a close, an expiry -- comes back to this module and goes to a worker
thread or the listener's existing Python handling.  Workers still run every slow-path
request; a thread hand-off per cached request would cost more than serving it.
"""
from __future__ import annotations

import heapq
import itertools
import os
import queue
import select
import threading
import time
from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.mpm.child import ChildContext
from fastcore.mpm.fdutil import close_fd, shutdown_write
from fastcore.mpm.proctable import NOT_ACCEPTING, QUIESCING

if TYPE_CHECKING:
    from fastcore.core.connection import Connection

ACCEPT_BATCH = 16
MAX_WAIT = 1.0
STANDBY_WAIT = 0.05  # a standby process's look at whether it must take connections
EMFILE_PAUSE = 0.1
PUBLISH_EVERY = 0.5  # seconds between two snapshots of the connection counts (mod_status)


LINGER = 2.0  # seconds a closing connection is drained (httpd's SECONDS_TO_LINGER)


class _Parked:
    __slots__ = ("conn", "fd", "peer", "seq", "linger", "deadline", "head_start", "head_req",
                 "state", "head")

    def __init__(self, conn: Connection | None, fd: int, peer: tuple, seq: int = 0) -> None:
        self.conn, self.fd, self.peer, self.seq = conn, fd, peer, seq
        self.linger = False
        self.deadline = 0.0
        self.head_start = 0.0  # when the partial request now buffered began arriving
        self.head_req = -1
        self.state = 0  # what it is parked for: WANT_READ or WANT_WRITE
        self.head = False  # parked waiting for the rest of its request head


class EventChild:
    """One event-MPM process: a listener thread, ThreadsPerChild workers."""

    def __init__(self, ctx: ChildContext) -> None:
        from fastcore.core import server as http

        self.http = http
        self.ctx = ctx
        self.sb = ctx.scoreboard
        self.tpc = ctx.sizing.threads_per_child
        self.factor = ctx.sizing.async_factor
        self.limit = ctx.sizing.max_connections_per_child
        self.default_timeout = float(getattr(ctx.cfg.main, "timeout", 60.0) or 60.0)
        self.acceptor = load("accept").Acceptor(ctx.listen_fds, ctx.mutex, True)
        self.ep = select.epoll()
        self.fp = load("fastpath")  # the engine's codes (OWNED, CLOSED, EXPIRED, ...)
        self.loop = self.fp.EventLoop(ctx.server.engine.cache, self.ep.fileno())
        if self.loop is not None:
            main = ctx.cfg.main
            board = self.sb  # the same build as the loop (fastcore._ext picks both)
            lim = ctx.server.read_limits_default  # RequestReadTimeout: a new connection's head
            self.loop.configure_conns(board, float(main.timeout), float(main.keep_alive_timeout),
                                      float(lim.header.timeout) if lim is not None else 0.0,
                                      ctx.index)
            if not ctx.server.needs_local_addr:  # vhosts by name only: C may accept
                for fd in ctx.listen_fds:
                    os.set_blocking(fd, False)
                    self.loop.add_listener(fd)
        self.fast: dict[int, _Parked] = {}  # connections attached to the C loop
        self.dropped = False
        self.efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.ep.register(self.efd, select.EPOLLIN)
        self.work: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.idle = 0  # workers blocked on the queue
        self.conns = 0  # connections this process holds
        self.heads = 0  # of which parked for the rest of a request head (no worker needed)
        self.served = 0
        self.parked: dict[int, _Parked] = {}
        self.timers: list[tuple[float, int, int]] = []
        self.seq = itertools.count(1)
        self.accepting = False
        # standby (a deliberate difference from httpd): with a shared listening socket,
        # only as many processes as this process may use CPUs take new connections; the
        # others stay ready for when one of those stops accepting (full, stopping, gone).
        # On a CPU shared by several event loops each one batches fewer events and the
        # CPU switches between them for nothing (about 12% of a handshake-bound load).
        self.cpus = 0 if ctx.reuseport else len(os.sched_getaffinity(0))
        self.standby = False
        self.backoff_until = 0.0
        self.next_wake = 0.0
        self.published = 0.0
        ctx.wakers.append(self.wake)

    # -- shared helpers ---------------------------------------------------------------

    def wake(self) -> None:
        os.eventfd_write(self.efd, 1)

    def conn_done(self) -> None:
        with self.lock:
            self.conns -= 1
        if not self.accepting or self.ctx.stopping.is_set():
            self.wake()

    def park(self, entry: _Parked, state: int, timeout: float | None) -> None:
        """Hand a connection back to the listener until its socket is ready or it expires."""
        if timeout is None:
            timeout = self.default_timeout
        if state == self.http.WANT_READ and entry.conn is not None and not entry.linger \
                and not entry.conn.has_read_deadline:  # else RequestReadTimeout's
            timeout = self._cap_trickle(entry, timeout)
        if timeout <= 0:
            self._time_out(entry)
            return
        mask = (select.EPOLLIN if state == self.http.WANT_READ else select.EPOLLOUT)
        mask |= select.EPOLLONESHOT
        deadline = time.monotonic() + timeout
        entry.deadline = deadline
        entry.state = state
        head = (state == self.http.WANT_READ and not entry.linger and entry.conn is not None
                and entry.conn.head_pending())
        with self.lock:
            entry.seq = next(self.seq)
            self._unpark(entry.fd)
            entry.head = head
            self.heads += head
            self.parked[entry.fd] = entry
            heapq.heappush(self.timers, (deadline, entry.seq, entry.fd))
            earlier = deadline < self.next_wake
        try:
            self.ep.modify(entry.fd, mask)
        except FileNotFoundError:
            self.ep.register(entry.fd, mask)
        if earlier:
            self.wake()

    def _unpark(self, fd: int) -> _Parked | None:
        """Take fd out of the parked set (the caller holds self.lock)."""
        entry = self.parked.pop(fd, None)
        if entry is not None and entry.head:
            entry.head = False
            self.heads -= 1
        return entry

    def attach(self, entry: _Parked, timeout: float | None) -> bool:
        """Give an idle connection to the C loop (served inline by the listener); False
        when it needs the Python park (no engine, state on the Python side, stopping)."""
        conn = entry.conn
        if (self.loop is None or conn is None or entry.linger or self.ctx.stopping.is_set()
                or not conn.engine_idle()):
            return False
        if timeout is None or timeout <= 0:
            return False
        with self.lock:
            self._unpark(entry.fd)
            self.fast[entry.fd] = entry
        try:
            self.loop.attach(conn.engine_handle, timeout)
        except (OSError, ValueError):
            with self.lock:
                self.fast.pop(entry.fd, None)
            return False
        return True

    def _from_loop(self, fd: int, code: int) -> None:
        """An attached connection the C loop gives back: continue it in Python."""
        fp = self.fp
        if code & fp.OWNED:  # accepted and served by the loop so far: now a Connection
            code &= ~fp.OWNED
            assert self.loop is not None  # only the C loop owns connections
            got = self.loop.adopt(fd)
            if got is None:
                return
            fc, peer = got
            try:
                conn = self.ctx.server.connection(fd, peer, -1, fc=fc)
            except Exception:  # noqa: BLE001
                self.ctx.log_exception("connection")
                fc.close()
                close_fd(fd)
                return
            with self.lock:
                self.conns += 1
            entry = _Parked(conn, fd, peer)
        else:
            with self.lock:
                attached = self.fast.pop(fd, None)
            if attached is None or attached.conn is None:
                return
            entry, conn = attached, attached.conn
        conn.sync_from_engine()
        if code == fp.CLOSED:
            self._close(entry)
        elif code == fp.EXPIRED:
            conn.take_engine_bytes()  # a partial head: Python answers 408
            self._time_out(entry)
        elif code == fp.WANT_WRITE:
            self.park(entry, self.http.WANT_WRITE, conn.timeout)
        else:  # FALLBACK or a partial head: a worker runs the Python path
            self.work.put(entry)

    def _cap_trickle(self, entry: _Parked, timeout: float) -> float:
        """Timeout bounds a whole request head, not each read: a client trickling a byte
        a second is cut Timeout after its request began, so slowloris cannot keep a
        connection (and its share of the AsyncRequestWorkerFactor bound) forever."""
        conn = entry.conn
        if conn is None or not conn.buffered:
            entry.head_start = 0.0
            return timeout
        now = time.monotonic()
        requests = conn.requests
        if not entry.head_start or entry.head_req != requests:
            entry.head_start, entry.head_req = now, requests
        return min(timeout, entry.head_start + self.default_timeout - now)

    def _time_out(self, entry: _Parked) -> None:
        if entry.conn is not None and not entry.linger:
            try:
                entry.conn.on_timeout()  # 408 mid-request, else nothing to say
            except Exception:  # noqa: BLE001
                self.ctx.log_exception("connection timeout")
        self._close(entry)

    def _close(self, entry: _Parked) -> None:
        """End a connection. When the protocol wants a lingering close, the socket's write
        side is shut and the listener drains it (no worker waits on a slow peer)."""
        conn = entry.conn
        if entry.linger or conn is None:
            close_fd(entry.fd)
            self.conn_done()
            return
        if conn.closed or not (conn.requests or conn.buffered):
            self._conn_close(conn)
            self.conn_done()
            return
        conn.hand_over()  # the MPM owns the descriptor from here on
        try:
            shutdown_write(entry.fd)
        except OSError:
            close_fd(entry.fd)
            self.conn_done()
            return
        entry.conn, entry.linger = None, True
        self.park(entry, self.http.WANT_READ, LINGER)

    def _conn_close(self, conn: Connection) -> None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            self.ctx.log_exception("connection close")

    # -- workers ----------------------------------------------------------------------

    def worker(self, t: int) -> None:
        sb, ctx = self.sb, self.ctx
        slot = sb.slot(ctx.index, t)
        sb.slot_init(slot, os.getpid(), threading.get_native_id(), ctx.generation)
        while True:
            sb.set_status(slot, "_")
            with self.lock:
                self.idle += 1
                wake = not self.accepting
            if wake:
                self.wake()
            entry = self.work.get()
            with self.lock:
                self.idle -= 1
            if entry is None:
                break
            sb.set_status(slot, "R")
            if entry.conn is None:
                try:
                    entry.conn = ctx.server.connection(entry.fd, entry.peer, slot)
                except Exception:  # noqa: BLE001
                    ctx.log_exception("connection")
                    close_fd(entry.fd)
                    self.conn_done()
                    continue
            else:
                entry.conn.assign_slot(slot)  # the connection reports through this thread now
            try:
                state, timeout = entry.conn.run()
            except Exception:  # noqa: BLE001
                ctx.log_exception("connection run")
                self._close(entry)
                continue
            if state == self.http.CLOSED:
                self._close(entry)
            elif state == self.http.WANT_READ and not self.attach(entry, timeout):
                self.park(entry, state, timeout)
            elif state != self.http.WANT_READ:
                self.park(entry, state, timeout)
        sb.set_status(slot, "G")

    # -- listener ---------------------------------------------------------------------

    def _set_accepting(self, want: bool) -> None:
        if want == self.accepting:
            return
        for fd in self.ctx.listen_fds:
            if want:
                self.ep.register(fd, select.EPOLLIN | select.EPOLLEXCLUSIVE)
            else:
                try:
                    self.ep.unregister(fd)
                except OSError:
                    pass
        self.accepting = want
        table, i = self.ctx.proctable, self.ctx.index
        table.set_flags(i, table.flags(i) & ~NOT_ACCEPTING if want else table.flags(i) | NOT_ACCEPTING)

    def _may_accept(self) -> bool:
        if self.ctx.stopping.is_set() or self.ctx.outdated() or \
                time.monotonic() < self.backoff_until:
            return False
        with self.lock:
            idle = self.idle - self.work.qsize()
            conns = self.conns - self.heads  # a head still arriving needs no worker yet
        if self.loop is not None:
            conns += self.loop.owned
        if not (idle > 0 and conns < self.tpc + idle * self.factor):
            return False
        self.standby = bool(self.cpus) and self.ctx.proctable.accepting_before(
            self.ctx.index, self.cpus) >= self.cpus
        return not self.standby

    def _accept_some(self) -> None:
        for _ in range(ACCEPT_BATCH):
            if not self._may_accept():
                return
            shortages = getattr(self.acceptor, "backoffs", 0)
            try:
                got = self.acceptor.accept(0)
            except OSError as exc:
                self.ctx.errlog.log("error", "mpm_event", f"AH00050: accept failed: {exc}")
                self.backoff_until = time.monotonic() + 0.5
                return
            if got is None:
                if getattr(self.acceptor, "backoffs", 0) != shortages:
                    # EMFILE/ENFILE: the listen socket stays readable; stop polling it for
                    # a moment instead of spinning, and let connections in hand finish
                    self.backoff_until = time.monotonic() + EMFILE_PAUSE
                return
            fd, peer = got
            with self.lock:
                self.conns += 1
            self.served += 1
            entry = _Parked(None, fd, peer)
            if self.loop is not None:
                try:
                    entry.conn = self.ctx.server.connection(fd, peer, -1)
                except Exception:  # noqa: BLE001
                    self.ctx.log_exception("connection")
                    close_fd(fd)
                    self.conn_done()
                    continue
                if self.attach(entry, entry.conn.read_wait()):
                    if self.limit and self._served() >= self.limit:
                        self.ctx.stopping.set()
                        return
                    continue
            self.work.put(entry)
            if self.limit and self._served() >= self.limit:
                self.ctx.stopping.set()
                return

    def _expire(self, now: float) -> list[_Parked]:
        out = []
        with self.lock:
            while self.timers and self.timers[0][0] <= now:
                _, seq, fd = heapq.heappop(self.timers)
                entry = self.parked.get(fd)
                if entry is not None and entry.seq == seq:
                    self._unpark(fd)
                    out.append(entry)
            self.next_wake = min(self.timers[0][0] if self.timers else now + MAX_WAIT,
                                 now + MAX_WAIT)
        return out

    def listener(self) -> None:
        listen = set(self.ctx.listen_fds)
        while True:
            self._set_accepting(self._may_accept())
            now = time.monotonic()
            for entry in self._expire(now):
                try:
                    self.ep.unregister(entry.fd)
                except OSError:
                    pass
                self._time_out(entry)
            if self.ctx.stopping.is_set() and not self.dropped and self.loop is not None:
                # Graceful: no unannounced close of a kept connection (a client may be
                # sending on it): the next answer says Connection: close, and a connection
                # that stays idle ends at KeepAliveTimeout as any idle one does.
                self.dropped = True
                self.ctx.proctable.add_flags(self.ctx.index, QUIESCING)
                self.ctx.server.drain()
            if now - self.published >= PUBLISH_EVERY:
                self._publish(now)
            owned = self.loop.owned if self.loop is not None else 0
            with self.lock:
                if self.ctx.stopping.is_set() and self.conns <= 0 and owned <= 0:
                    break
                wait = max(0.0, self.next_wake - now)
            if self.backoff_until > now:
                wait = min(wait, self.backoff_until - now)
            if self.standby:  # take over soon after one of those before stops accepting
                wait = min(wait, STANDBY_WAIT)
            for fd, code, _ev in self._wait(wait):
                if code != 0:
                    self._from_loop(fd, code)
                elif fd == self.efd:
                    try:
                        os.eventfd_read(self.efd)
                    except BlockingIOError:
                        pass
                elif fd in listen:
                    self._accept_some()
                else:
                    with self.lock:
                        ready = self._unpark(fd)
                    if ready is None:
                        continue
                    if ready.linger:
                        self._drain(ready)
                    else:
                        self.work.put(ready)
        self._set_accepting(False)

    def _publish(self, now: float) -> None:
        """Snapshot of this process's connections for mod_status (httpd's listener
        updates its process_score the same way, once per pass): all held, and those
        waiting for a next request, blocked sending, or in lingering close."""
        self.published = now
        owned = ka = writing = closing = 0
        if self.loop is not None:  # attached connections are counted in self.conns too
            _held, ka, writing, closing = self.loop.census()
            owned = self.loop.owned
        with self.lock:
            conns = self.conns
            parked = list(self.parked.values())
        for e in parked:
            if e.linger:
                closing += 1
            elif e.state == self.http.WANT_WRITE:
                writing += 1
            elif e.conn is not None and e.conn.requests:
                ka += 1
        self.ctx.proctable.publish(self.ctx.index, conns + owned, 0, writing, ka, closing)

    def _served(self) -> int:
        return self.served + (self.loop.accepted if self.loop is not None else 0)

    def _wait(self, wait: float) -> list[tuple[int, int, int]]:
        if self.loop is None:
            return [(fd, 0, ev) for fd, ev in self.ep.poll(wait)]
        if self.limit:  # MaxConnectionsPerChild: the loop accepts no more than what is left
            self.loop.accept_budget = max(self.limit - self._served(), 0)
        out = self.loop.wait(wait)
        if self.limit and self._served() >= self.limit:
            self.ctx.stopping.set()
        return out

    def _drain(self, entry: _Parked) -> None:
        """Lingering close: read and discard until EOF, error or the deadline."""
        try:
            while os.read(entry.fd, 65536):
                pass
        except BlockingIOError:
            left = entry.deadline - time.monotonic()
            if left > 0:
                self.park(entry, self.http.WANT_READ, left)
                return
        except OSError:
            pass
        close_fd(entry.fd)
        self.conn_done()

    def run(self) -> int:
        threads = [threading.Thread(target=self.worker, args=(t,), name=f"worker-{t}",
                                    daemon=True) for t in range(self.tpc)]
        for th in threads:
            th.start()
        lt = threading.Thread(target=self.listener, name="listener", daemon=True)
        lt.start()
        lt.join()
        for _ in threads:
            self.work.put(None)
        for th in threads:
            th.join()
        return self.ctx.finish()


def run_child(ctx: ChildContext) -> int:
    """The event child's life; returns its exit status."""
    return EventChild(ctx).run()
