"""prefork: one single-threaded process per connection.

The idle child takes the accept mutex, waits for a connection on every listener, accepts,
releases the mutex and serves the whole connection (keep-alive included) itself. After
MaxConnectionsPerChild connections, or on a graceful stop, it finishes the connection in
hand, flushes its logs and exits; the parent replaces it.

Cached static files are served by the C engine's blocking keep-alive loop
(HttpServer.serve_blocking -> FastConn.serve_blocking): read, stat, one send per request,
the idle wait bounded by SO_RCVTIMEO instead of a poll, no Python per request.

A child starts at its parent's raised priority and drops it once it has answered its first
request (fastcore.mpm.priority.StartBoost), so a burst of new children is ready before
the busy ones take the CPU back.

Deliberate difference from httpd: a connection whose request head has not fully arrived
is handed to the child's holder thread (fastcore.mpm.holder) and the child goes back to
accepting; the holder gives it back once the head is complete.  So clients trickling
their heads (slowloris) hold no child, and normal clients are served meanwhile.
"""
from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.mpm.child import ChildContext
from fastcore.mpm.holder import HeadHolder, resume
from fastcore.mpm.priority import StartBoost

if TYPE_CHECKING:
    pass


def run_child(ctx: ChildContext) -> int:
    """The prefork child's life; returns its exit status."""
    accept = load("accept")
    sb = ctx.scoreboard
    slot = sb.slot(ctx.index, 0)
    sb.slot_init(slot, os.getpid(), threading.get_native_id(), ctx.generation)
    # One listener: no accept lock, whatever the Mutex directive says (httpd's
    # SINGLE_LISTEN_UNSERIALIZED_ACCEPT on Linux); idle children wait in epoll with
    # EPOLLEXCLUSIVE so a connection wakes one of them (epoll_wait + accept4), not the herd.
    mutex = ctx.mutex
    if len(ctx.listen_fds) == 1:
        mutex = accept.AcceptMutex("epollexclusive")
    acceptor = accept.Acceptor(ctx.listen_fds, mutex, False)
    wake = acceptor.wakeup_fd()
    ctx.wakers.append(lambda: ctx.wake_fd(wake))
    limit = ctx.sizing.max_connections_per_child
    served = 0
    holder = HeadHolder(ctx, lambda: ctx.wake_fd(wake))  # a head complete: stop waiting
    boost = StartBoost(ctx.nice) if ctx.start_boost and ctx.nice is not None else None
    while not ctx.stopping.is_set() and not ctx.outdated():
        sb.set_status(slot, "_")
        conn = holder.pop() if holder.ready else None
        if conn is not None:
            resume(ctx, conn, slot, holder.hold)
            continue
        try:
            got = acceptor.accept(-1)
        except OSError as exc:  # EMFILE and friends: back off, keep the child alive
            ctx.errlog.log("error", "mpm_prefork", f"AH00050: accept failed: {exc}")
            time.sleep(0.5)
            continue
        if got is None:
            continue
        fd, peer = got
        served += 1
        if limit and served >= limit:
            ctx.stopping.set()  # this is the last one; exit after it
        sb.set_status(slot, "R")  # busy from accept on, as httpd's connection start
        try:
            ctx.server.serve_blocking(fd, peer, slot, holder.hold,
                                      boost.release if boost is not None else None)
        except Exception:  # noqa: BLE001 - one bad connection never kills the child
            ctx.log_exception("serve_blocking")
        if boost is not None:
            boost.release()  # the first connection ended (or went to the holder) unanswered
            boost = None
    sb.set_status(slot, "G")
    holder.finish(lambda conn: resume(ctx, conn, slot, holder.hold))  # what it still holds
    return ctx.finish()
