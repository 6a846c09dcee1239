"""worker: ThreadsPerChild worker threads and one listener thread per process.

Flow control as httpd's worker MPM: the listener takes an "idle worker" token before it
competes for the accept mutex, so a process with no idle thread never accepts a connection
it cannot serve. Hand-off is a blocking queue (a condition variable inside), never polling.
Worker threads spend their time in GIL-free Cython calls (read, sendfile), so they overlap.

Deliberate difference from httpd with a single listener: there is no listener thread.
Each worker thread waits for a connection itself (its own epoll with EPOLLEXCLUSIVE on the
listener, so one idle thread wakes per connection) and serves it with the engine's
blocking keep-alive loop.  Only idle threads wait, which is the same flow control as the
idle-worker token, and a new connection costs no queue hand-off between threads (the
hand-off was ~12 futex calls per connection).  Several listeners keep the listener thread
(the accept mutex serializes processes, not threads).

Deliberate difference from httpd: a connection whose request head has not fully arrived
goes to the process's holder thread (fastcore.mpm.holder) and the worker thread takes the
next one; the holder gives it back, head complete, to an idle worker thread.  Clients
trickling their heads (slowloris) then occupy no worker thread.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.mpm.child import ChildContext
from fastcore.mpm.holder import HeadHolder, resume
from fastcore.mpm.proctable import NOT_ACCEPTING

if TYPE_CHECKING:
    pass


def run_child(ctx: ChildContext) -> int:
    """The worker child's life; returns its exit status."""
    if len(ctx.listen_fds) == 1:
        return _run_self_accepting(ctx)
    accept = load("accept")
    sb = ctx.scoreboard
    nthreads = ctx.sizing.threads_per_child
    work: queue.SimpleQueue = queue.SimpleQueue()
    idle = threading.Semaphore(0)  # one token per idle worker thread
    acceptor = accept.Acceptor(ctx.listen_fds, ctx.mutex, False)
    wake = acceptor.wakeup_fd()

    def wake_all() -> None:
        ctx.wake_fd(wake)
        idle.release()  # a listener waiting for a token sees `stopping`

    ctx.wakers.append(wake_all)
    gen = ctx.generation
    holder: HeadHolder

    def forward() -> None:  # a complete head queues as a connection
        conn = holder.pop()
        if conn is not None:
            work.put(conn)

    holder = HeadHolder(ctx, forward)

    def worker(t: int) -> None:
        slot = sb.slot(ctx.index, t)
        sb.slot_init(slot, os.getpid(), threading.get_native_id(), gen)
        while True:
            sb.set_status(slot, "_")
            idle.release()
            item = work.get()
            if item is None:
                break
            sb.set_status(slot, "R")
            try:
                if isinstance(item, tuple):
                    fd, peer = item
                    ctx.server.serve_blocking(fd, peer, slot, holder.hold)
                else:
                    ctx.server.resume_blocking(item, slot, holder.hold)
            except Exception:  # noqa: BLE001
                ctx.log_exception("serve_blocking")
        sb.set_status(slot, "G")

    def listener() -> None:
        limit = ctx.sizing.max_connections_per_child
        served = 0
        while not ctx.stopping.is_set():
            idle.acquire()
            if ctx.stopping.is_set() or ctx.outdated():
                break
            try:
                got = acceptor.accept(-1)
            except OSError as exc:
                ctx.errlog.log("error", "mpm_worker", f"AH00050: accept failed: {exc}")
                idle.release()
                time.sleep(0.5)
                continue
            if got is None:
                idle.release()
                continue
            work.put(got)
            served += 1
            if limit and served >= limit:
                ctx.proctable.add_flags(ctx.index, NOT_ACCEPTING)
                ctx.stopping.set()

    threads = [threading.Thread(target=worker, args=(t,), name=f"worker-{t}", daemon=True)
               for t in range(nthreads)]
    for th in threads:
        th.start()
    lt = threading.Thread(target=listener, name="listener", daemon=True)
    lt.start()
    lt.join()
    holder.finish(work.put)  # what it still holds goes to the workers before they stop
    for _ in threads:
        work.put(None)
    for th in threads:
        th.join()
    return ctx.finish()


def _run_self_accepting(ctx: ChildContext) -> int:
    """One listener: every worker thread accepts for itself (see the module docstring)."""
    accept = load("accept")
    sb = ctx.scoreboard
    nthreads = ctx.sizing.threads_per_child
    limit = ctx.sizing.max_connections_per_child
    lock = threading.Lock()
    served = [0]
    acceptors: list = []
    def wake_all() -> None:
        with lock:
            fds = [a.wakeup_fd() for a in acceptors]
        for fd in fds:
            ctx.wake_fd(fd)

    ctx.wakers.append(wake_all)
    gen = ctx.generation

    def wake_waiting() -> None:
        """A head is complete: wake every thread (held heads are the slow path, so the
        per-connection path keeps no record of which threads are idle)."""
        with lock:
            fds = [a.wakeup_fd() for a in acceptors]
        for fd in fds:
            try:
                ctx.wake_fd(fd)
            except OSError:  # its pipe is full: a wake-up is pending anyway
                pass

    holder = HeadHolder(ctx, wake_waiting)

    def worker(t: int) -> None:
        slot = sb.slot(ctx.index, t)
        sb.slot_init(slot, os.getpid(), threading.get_native_id(), gen)
        try:
            acc = accept.Acceptor(ctx.listen_fds, accept.AcceptMutex("epollexclusive"), False)
        except Exception:  # noqa: BLE001 - into the error log, not a traceback on stderr
            ctx.log_exception("worker thread start")
            sb.set_status(slot, ".")
            return
        with lock:
            acceptors.append(acc)
        while not ctx.stopping.is_set():
            sb.set_status(slot, "_")
            conn = holder.pop() if holder.ready else None
            if conn is not None:
                resume(ctx, conn, slot, holder.hold)
                continue
            try:  # a bounded wait: a stop that raced the check above is seen within 1 s
                got = acc.accept(1.0)  # a head given back after the check wakes it too
            except OSError as exc:  # EMFILE and friends: back off, keep the thread alive
                ctx.errlog.log("error", "mpm_worker", f"AH00050: accept failed: {exc}")
                time.sleep(0.5)
                continue
            if got is None:
                continue
            with lock:
                served[0] += 1
                last = bool(limit) and served[0] >= limit
            if last:
                ctx.proctable.add_flags(ctx.index, NOT_ACCEPTING)
                ctx.stopping.set()
                wake_all()
            fd, peer = got
            sb.set_status(slot, "R")
            try:
                ctx.server.serve_blocking(fd, peer, slot, holder.hold)
            except Exception:  # noqa: BLE001
                ctx.log_exception("serve_blocking")
        sb.set_status(slot, "G")

    threads = [threading.Thread(target=worker, args=(t,), name=f"worker-{t}", daemon=True)
               for t in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    slot = sb.slot(ctx.index, 0)
    holder.finish(lambda conn: resume(ctx, conn, slot, holder.hold))  # what it still holds
    return ctx.finish()
