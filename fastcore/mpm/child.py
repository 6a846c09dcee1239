"""What every child process shares, whatever its MPM: start-up after fork, signals, exit.

Signals are blocked in every thread of a child and taken by one sigwait() thread: a thread
blocked in the GIL-free accept or epoll would otherwise retry EINTR forever and never run
a Python signal handler. That thread turns SIGUSR1/SIGWINCH into a graceful stop (stop
accepting, finish the connections in hand, flush the logs, exit) and SIGTERM/SIGHUP/SIGINT
into an immediate one.
"""
from __future__ import annotations

import gc
import grp
import os
import pwd
import signal
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastcore.mpm.acceptfilter import apply_filter, proto_of
from fastcore.mpm.errlog import ErrorLog
from fastcore.mpm.listeners import apply_buffer_sizes
from fastcore.mpm.priority import restore_child
from fastcore.mpm.proctable import NOT_ACCEPTING, QUIESCING
from fastcore.mpm.sizing import Sizing

if TYPE_CHECKING:
    from fastcore.config.model import ServerConfig
    from fastcore.core.server import HttpServer
    from fastcore.mpm.proctable import ProcTable

CHILD_SIGNALS = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGUSR1,
                 signal.SIGWINCH, signal.SIGCHLD}
GRACEFUL_SIGNALS = {signal.SIGUSR1, signal.SIGWINCH}
APEXIT_CHILDFATAL = 15  # as httpd: a child cannot start at all, the parent gives up
# Debugging aid and test hook: with this variable set, each child writes to the error log,
# when it exits, the modules it imported after fork (there must be none:
# fastcore.core.preload; tests/integration/test_fork_imports.py).
AUDIT_IMPORTS_ENV = "FASTCORE_AUDIT_FORK_IMPORTS"
_WAKE = struct.pack("=Q", 1)  # valid for an eventfd and for a pipe

# Stack reserved per thread in a child (glibc's default is 8 MiB). Only touched pages
# count in PSS, so this bounds address space, not memory; 1 MiB holds Python's default
# recursion limit of C-level recursion (tests/integration/test_mpm_memory.py checks it).
THREAD_STACK = 1024 * 1024


@dataclass
class ChildContext:
    """Everything one child needs; built by the parent, used after fork."""

    cfg: ServerConfig
    sizing: Sizing
    scoreboard: Any
    server: HttpServer
    mutex: Any  # AcceptMutex
    listen_fds: list[int]
    listen_addrs: list[tuple[str, int, int]]  # (host, port, family), for reuseport
    reuseport: bool
    index: int
    generation: int
    errlog: ErrorLog
    proctable: ProcTable  # this process's record
    single_process: bool = False
    stopping: threading.Event = field(default_factory=threading.Event)
    wakers: list[Callable[[], None]] = field(default_factory=list)
    on_exit: Callable[[], None] | None = None
    modules_at_fork: frozenset[str] | None = None  # set under AUDIT_IMPORTS_ENV only
    nice: int | None = None  # the server's nice value, under its boosted parent (priority.py)
    start_boost: bool = False  # prefork: keep the parent's priority until the first answer

    # -- start-up --------------------------------------------------------------------

    def child_init(self) -> None:
        """After fork: signals, identity, the accept mutex and the HTTP server's child hook."""
        signal.pthread_sigmask(signal.SIG_BLOCK, CHILD_SIGNALS)  # already, after fork
        if self.nice is not None and not self.start_boost:
            restore_child(self.nice)  # before any thread starts: threads inherit it
        for sig in CHILD_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        if self.reuseport:
            from fastcore._ext import load

            accept = load("accept")
            own = [accept.open_listener(h, p, fam, self.cfg.mpm.listen_backlog, True)
                   for h, p, fam in self.listen_addrs]
            for fd, (h, p, _fam) in zip(own, self.listen_addrs, strict=True):
                apply_buffer_sizes(fd, self.cfg.mpm)
                apply_filter(fd, self.cfg.accept_filters, proto_of(self.cfg.listeners, h, p))
            for fd in self.listen_fds:
                os.close(fd)
            self.listen_fds = own
        self.switch_user()
        self.mutex.child_init()
        self.server.child_init(self.listen_fds)
        threading.stack_size(self.cfg.mpm.thread_stack_size or THREAD_STACK)
        threading.Thread(target=self._signal_loop, name="signals", daemon=True).start()
        gc.freeze()  # what child start-up allocated: never walked again by the collector

    def switch_user(self) -> None:
        """Drop root to User/Group in the children, as httpd does (the parent stays root)."""
        if self.single_process or os.geteuid() != 0 or not self.cfg.user:
            return
        user = self.cfg.user
        pw = pwd.getpwuid(int(user[1:])) if user.startswith("#") else pwd.getpwnam(user)
        gid = pw.pw_gid
        if self.cfg.group:
            g = self.cfg.group
            gid = int(g[1:]) if g.startswith("#") else grp.getgrnam(g).gr_gid
        os.initgroups(pw.pw_name, gid)
        os.setgid(gid)
        os.setuid(pw.pw_uid)

    # -- signals -------------------------------------------------------------------------

    def _signal_loop(self) -> None:
        while True:
            sig = signal.sigwait(CHILD_SIGNALS)
            if sig == signal.SIGCHLD:
                continue
            if sig in GRACEFUL_SIGNALS:
                self.begin_graceful()
            else:
                self.terminate()

    def begin_graceful(self) -> None:
        """Stop accepting; each MPM's waker interrupts its blocked listener."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.proctable.add_flags(self.index, NOT_ACCEPTING | QUIESCING)
        for wake in list(self.wakers):
            try:
                wake()
            except OSError:
                pass

    def terminate(self) -> None:
        """Immediate stop: write what the logs hold, then leave without waiting."""
        try:
            self.server.flush_logs()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
        self.audit_imports()
        try:
            if self.on_exit is not None:
                self.on_exit()
        finally:
            os._exit(0)

    # -- helpers ---------------------------------------------------------------------

    def outdated(self) -> bool:
        """A restart happened (the parent moved the scoreboard generation on): even if
        its signal were lost, this child stops taking connections, as httpd's do."""
        if self.single_process or self.scoreboard.generation == self.generation:
            return False
        self.begin_graceful()
        return True

    @staticmethod
    def wake_fd(fd: int) -> None:
        os.write(fd, _WAKE)

    def log_exception(self, where: str) -> None:
        exc = sys.exc_info()[1]
        try:  # rare: not worth the module's pages in every process
            import traceback

            text = traceback.format_exc().strip()
        except Exception:  # noqa: BLE001 - e.g. EMFILE: no descriptor to import with
            text = f"{type(exc).__name__}: {exc}"
        self.errlog.log("error", "mpm", f"{where}: {text}")

    def finish(self) -> int:
        """Normal end of a child: flush buffered access-log lines, close listeners."""
        try:
            self.server.flush_logs()
        except Exception:  # noqa: BLE001
            self.log_exception("flush_logs")
        self.audit_imports()
        return 0

    def audit_imports(self) -> None:
        """Under AUDIT_IMPORTS_ENV: one notice line naming what this child imported."""
        if self.modules_at_fork is None:
            return
        new = sorted(set(sys.modules) - self.modules_at_fork)
        self.modules_at_fork = None  # once, whichever way the child ends
        self.errlog.log("notice", "core", f"imported after fork: {' '.join(new) or '(none)'}")


def child_main(ctx: ChildContext, body: Callable[[ChildContext], int]) -> int:
    """Run one child's body, mapping start-up failure to APEXIT_CHILDFATAL."""
    if os.environ.get(AUDIT_IMPORTS_ENV) and not ctx.single_process:
        ctx.modules_at_fork = frozenset(sys.modules)
    try:
        ctx.child_init()
    except Exception:  # noqa: BLE001 - reported to the error log, the parent stops
        ctx.log_exception(f"child {os.getpid()} could not start")
        return APEXIT_CHILDFATAL
    try:
        return body(ctx)
    except Exception:  # noqa: BLE001
        ctx.log_exception(f"child {os.getpid()}")
        ctx.finish()
        return 1
