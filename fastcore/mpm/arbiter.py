"""The parent process: listeners, scoreboard, accept mutex, children, signals.

It never serves a request. Once a second it reaps children, replaces those that died
and keeps the number of idle workers between the spare bounds as httpd does (spawning at a
doubling rate up to 32 per second); in between, every QUEUE_TICK, it reads the listeners'
accept queues and starts at once the children that waiting connections need
(fastcore.mpm.spawning: a deliberate difference from httpd). Signals as httpd: TERM stop, HUP restart, USR1 graceful
restart (the new configuration is read and checked first; a broken one keeps the old one
running), WINCH graceful stop bounded by GracefulShutdownTimeout, and (nginx's, not httpd's)
USR2 hot upgrade: a new master is exec'd on the same listening sockets.
"""
from __future__ import annotations

import gc
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastcore
from fastcore._ext import load
from fastcore.mpm import listeners as lst
from fastcore.mpm.backlog import total_queued
from fastcore.mpm.child import (
    APEXIT_CHILDFATAL,
    CHILD_SIGNALS,
    ChildContext,
    child_main,
)
from fastcore.mpm.errlog import ErrorLog
from fastcore.mpm.priority import boost_parent, restore_child
from fastcore.mpm.proctable import ProcTable
from fastcore.mpm.sdnotify import Notifier, status_line
from fastcore.mpm.sizing import MAX_SPAWN_RATE, Sizing, compute
from fastcore.mpm.spawning import QUEUE_TICK, count_idle, queue_demand

SILENT_SIGNALS = {signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGWINCH}
HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGWINCH,
           signal.SIGUSR2, signal.SIGCHLD)
STOP_WAIT = 3.0  # seconds between SIGTERM and SIGKILL for children that do not exit
_CONFIGURED_AH = {"prefork": "AH00163", "worker": "AH00292", "event": "AH00489"}
_MAXWORKERS_AH = {"prefork": "AH00161", "worker": "AH00286", "event": "AH00484"}


@dataclass
class Child:
    pid: int
    index: int
    generation: int
    started: float
    told: bool = False  # the parent asked it to exit (spares, restart): do not replace


@dataclass
class Generation:
    """What one configuration generation forks its children with."""

    number: int
    cfg: Any
    sizing: Sizing
    server: Any
    mutex: Any
    body: Callable[[ChildContext], int]  # imported here, in the parent: a module imported
    # after fork costs each child about 3 MB of private pages (measured, memory.md)


def _freeze_heap() -> None:
    """Before each fork: collect the garbage, then move every surviving object to the
    permanent generation, so no collection in a child (or in the parent) walks them and
    writes their headers; those pages then stay shared copy-on-write."""
    gc.collect()
    gc.freeze()


def _body(mpm: str) -> Callable[[ChildContext], int]:
    if mpm == "prefork":
        from fastcore.mpm.prefork import run_child
    elif mpm == "worker":
        from fastcore.mpm.worker import run_child
    else:
        from fastcore.mpm.event import run_child
    return run_child


def _abs(cfg: Any, path: str | None) -> str | None:
    if not path or path.startswith(("|", "syslog")) or os.path.isabs(path):
        return path
    return os.path.join(cfg.server_root or os.getcwd(), path)


def vhost_names(cfg: Any) -> list[str]:
    """The ServerNames the stats table indexes: the main server's, then each vhost's."""
    return [v.server_name for v in (cfg.main, *cfg.vhosts) if v.server_name]


class Arbiter:
    """The parent. `reload` returns a fresh ServerConfig (graceful restart, HUP)."""

    def __init__(self, cfg: Any, reload: Callable[[], Any] | None = None) -> None:
        self.reload = reload or (lambda: _default_reload(cfg))
        self.sizing = compute(cfg.mpm)
        self.errlog = ErrorLog(_abs(cfg, cfg.error_log), cfg.log_level,
                               threaded=self.sizing.mpm != "prefork",
                               modules=cfg.main.dir_defaults.log_modules)
        for w in self.sizing.warnings:
            self.errlog.stderr_too(w)
            self.errlog.log("warn", f"mpm_{self.sizing.mpm}", w)
        self.nice = boost_parent()
        self.sb = load("scoreboard").Scoreboard(self.sizing.server_limit,
                                                self.sizing.thread_limit)
        self.sb.start_time = time.time()
        self.sb.generation = 0
        self.sb.register_vhosts(vhost_names(cfg))  # fastcore_requests_total{vhost}
        self.proctable = ProcTable(self.sizing.server_limit, os.getpid())
        self.listeners = lst.Listeners(cfg)
        self.listeners.open(cfg)
        self.pid_file = _abs(cfg, cfg.pid_file)
        self.children: dict[int, Child] = {}
        self.old_mutexes: list[tuple[int, Any]] = []
        self.gen = self._generation(cfg, 0, None)
        self.spawn_rate = 1
        self.maxworkers_reported = False
        self.pending: list[int] = []
        self.child_exited = False  # SIGCHLD since the last reap
        self.rfd, self.wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.signals_installed = False
        self.cleaned = False
        self.notifier = Notifier.from_env()
        self.upgrade_pid = 0  # the new master of a SIGUSR2 upgrade, while it runs

    # -- set-up --------------------------------------------------------------------------

    def _generation(self, cfg: Any, number: int, old: Generation | None) -> Generation:
        """Everything a generation forks with; built in the parent, shared copy-on-write."""
        from fastcore.core.server import HttpServer

        sizing = self.sizing if old is None else compute(cfg.mpm, previous=self.sizing)
        mechanism = cfg.accept_mutex or "default"
        lock_dir = _abs(cfg, cfg.mutex_dir or cfg.runtime_dir or cfg.server_root) or "/tmp"
        if mechanism == "reuseport":
            mutex = load("accept").AcceptMutex("reuseport", lock_dir)
        elif old is not None and old.cfg.accept_mutex == cfg.accept_mutex and \
                old.cfg.mutex_dir == cfg.mutex_dir:
            mutex = old.mutex
        else:
            mutex = load("accept").AcceptMutex(mechanism, lock_dir)
        server = HttpServer(cfg, self.sb)
        server.proctable = self.proctable  # mod_status's per-process table
        server.preload()  # no child imports: see fastcore.core.preload
        return Generation(number, cfg, sizing, server, mutex, _body(sizing.mpm))

    def write_pid_file(self) -> None:
        if not self.pid_file:
            return
        if os.path.exists(self.pid_file):
            self.errlog.log("warn", "core", f"AH00098: pid file {self.pid_file} overwritten -- "
                            "Unclean shutdown of previous Apache run?")
        os.makedirs(os.path.dirname(self.pid_file) or ".", exist_ok=True)
        tmp = f"{self.pid_file}.{os.getpid()}"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")
        os.replace(tmp, self.pid_file)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGCHLD:
            self.child_exited = True
        else:
            self.pending.append(signum)

    def install_signals(self) -> None:
        for sig in HANDLED:
            signal.signal(sig, self._on_signal)
        signal.set_wakeup_fd(self.wfd, warn_on_full_buffer=False)
        self.signals_installed = True

    # -- children ------------------------------------------------------------------------

    def spawn(self, index: int) -> None:
        self.spawn_many([index])

    def _prepare(self, index: int) -> ChildContext:
        """The slot's scoreboard and process records, and what the child gets."""
        g = self.gen
        # httpd marks only the ThreadsPerChild slots starting; the rest of ThreadLimit's
        # room stays dead ('.'), so ?auto's Scoreboard shows no phantom 'S' workers
        for t in range(self.sizing.thread_limit):
            if t < g.sizing.threads_per_child:
                self.sb.slot_init(self.sb.slot(index, t), 0, 0, g.number)
            else:
                self.sb.set_status(self.sb.slot(index, t), ".")
        self.proctable.prepare(index, g.number)
        return ChildContext(
            cfg=g.cfg, sizing=g.sizing, scoreboard=self.sb, server=g.server, mutex=g.mutex,
            listen_fds=self.listeners.fds(), listen_addrs=self.listeners.addrs(),
            reuseport=self.listeners.reuseport, index=index, generation=g.number,
            errlog=self.errlog, proctable=self.proctable, nice=self.nice,
            start_boost=g.sizing.mpm == "prefork")

    def spawn_many(self, indices: list[int]) -> None:
        """Fork one child per slot index, back to back: everything is prepared first and
        the heap frozen once, so between two forks the parent writes (and copies on
        write) as few pages as possible; a fork costs it CPU it may have to wait for."""
        ctxs = [self._prepare(i) for i in indices]
        body = self.gen.body
        _freeze_heap()
        # Signals stay blocked across fork: one sent to the new child before it is ready
        # waits for its sigwait() thread instead of hitting the parent's inherited handler.
        signal.pthread_sigmask(signal.SIG_BLOCK, CHILD_SIGNALS)
        try:
            for ctx in ctxs:
                pid = os.fork()
                if pid == 0:
                    status = 1
                    try:
                        os.close(self.rfd)
                        os.close(self.wfd)
                        signal.set_wakeup_fd(-1)
                        status = child_main(ctx, body)
                    finally:
                        os._exit(status)
                self.proctable.set_pid(ctx.index, pid)
                self.children[pid] = Child(pid, ctx.index, ctx.generation, time.monotonic())
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, CHILD_SIGNALS)

    def _current(self) -> list[Child]:
        return [c for c in self.children.values()
                if c.generation == self.gen.number and not c.told]

    def reap(self) -> bool:
        """Collect exited children; False if one could not start at all (give up)."""
        ok = True
        for pid in list(self.children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done == 0:
                continue
            child = self.children.pop(pid)
            for t in range(self.sizing.thread_limit):
                self.sb.set_status(self.sb.slot(child.index, t), ".")
            self.proctable.ended(child.index)
            self._mutex_for(child.generation).recover(pid)
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                if sig not in SILENT_SIGNALS:
                    name = signal.strsignal(sig) or f"signal {sig}"
                    if os.WCOREDUMP(status):
                        where = self.gen.cfg.server_root or os.getcwd()
                        self.errlog.log("notice", "core", f"AH00051: child pid {pid} exit signal "
                                        f"{name} ({sig}), possible coredump in {where}")
                    else:
                        self.errlog.log("notice", "core",
                                        f"AH00052: child pid {pid} exit signal {name} ({sig})")
            elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == APEXIT_CHILDFATAL:
                self.errlog.log("alert", "core", f"AH00050: Child {pid} returned a Fatal error... "
                                "Apache is exiting!")
                ok = False
            clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            if (ok and child.generation == self.gen.number and not child.told
                    and (clean or time.monotonic() - child.started > 1.0)
                    and len(self._current()) < self.gen.sizing.daemons_limit):
                idx = child.index if child.index not in {c.index for c in
                                                         self.children.values()} else None
                if idx is not None:
                    self.spawn(idx)  # one-for-one replacement keeps full strength
        self._drop_old_mutexes()
        return ok

    def _mutex_for(self, generation: int) -> Any:
        for number, mutex in self.old_mutexes:
            if number == generation:
                return mutex
        return self.gen.mutex

    def _drop_old_mutexes(self) -> None:
        live = {c.generation for c in self.children.values()}
        keep = []
        for number, mutex in self.old_mutexes:
            if number in live or mutex is self.gen.mutex:
                keep.append((number, mutex))
            else:
                mutex.destroy()
        self.old_mutexes = keep

    def tell(self, child: Child, sig: int) -> None:
        child.told = True
        try:
            os.kill(child.pid, sig)
        except ProcessLookupError:
            pass

    # -- spares --------------------------------------------------------------------------

    def _free_indices(self, count: int) -> list[int]:
        used = {c.index for c in self.children.values()}
        return [i for i in range(self.sizing.server_limit) if i not in used][:count]

    def maintain(self) -> None:
        """httpd's perform_idle_server_maintenance, once a second."""
        s = self.gen.sizing
        current = self._current()
        counted = count_idle(self.sb, self.proctable, current, s.threads_per_child)
        idle = counted.idle
        if idle > s.max_spare and counted.idle_child is not None:
            self.tell(counted.idle_child, signal.SIGUSR1)
            self.spawn_rate = 1
        elif idle < s.min_spare:
            room = s.daemons_limit - len(current)
            if room <= 0:
                self._reached_max_workers()
                self.spawn_rate = 1
                return
            count = min(self.spawn_rate, room)
            if self.spawn_rate >= 8:
                self.errlog.log("info", f"mpm_{s.mpm}", "AH00162: server seems busy, (you may "
                                "need to increase StartServers, or Min/MaxSpareServers), "
                                f"spawning {count} children, there are {idle} idle, and "
                                f"{len(current)} total children")
            self.spawn_many(self._free_indices(count))
            self.spawn_rate = min(self.spawn_rate * 2, MAX_SPAWN_RATE)
        else:
            self.spawn_rate = 1

    def _reached_max_workers(self) -> None:
        if not self.maxworkers_reported:
            s = self.gen.sizing
            self.errlog.log("error", f"mpm_{s.mpm}",
                            f"{_MAXWORKERS_AH[s.mpm]}: server reached MaxRequestWorkers "
                            "setting, consider raising the MaxRequestWorkers setting")
            self.maxworkers_reported = True

    def follow_queue(self) -> None:
        """fastcore's addition to httpd's rule (fastcore.mpm.spawning): connections waiting
        in the accept queue that the idle workers cannot take get their processes now."""
        waiting = total_queued(self.listeners.fds())
        if waiting <= 0:
            return
        s = self.gen.sizing
        current = self._current()
        idle = count_idle(self.sb, self.proctable, current, s.threads_per_child).idle
        room = s.daemons_limit - len(current)
        if waiting > idle and room <= 0:
            self._reached_max_workers()
            return
        count = queue_demand(waiting, idle, s.threads_per_child, room)
        if count:
            self.spawn_many(self._free_indices(count))

    def start_children(self) -> None:
        self.spawn_many(self._free_indices(self.gen.sizing.start_servers))

    # -- restarts and stops ----------------------------------------------------------------

    def graceful(self, hard: bool) -> None:
        """USR1 (hard=False) or HUP (hard=True): re-read the configuration; keep the old
        one, with the reason in the error log, when the new one does not load."""
        self.notifier.reloading()
        if hard:
            self.errlog.log("notice", f"mpm_{self.sizing.mpm}",
                            "AH00494: SIGHUP received.  Attempting to restart")
        else:
            self.errlog.log("notice", f"mpm_{self.sizing.mpm}",
                            "AH00493: SIGUSR1 received.  Doing graceful restart")
        try:
            cfg = self.reload()
            name = compute(cfg.mpm, previous=self.sizing).mpm
            if name != self.sizing.mpm:
                raise ValueError(f"cannot change the MPM from {self.sizing.mpm} to {name} "
                                 "on a restart; stop and start the server")
            self.listeners.check(cfg)
            self.sb.register_vhosts(vhost_names(cfg))
            gen = self._generation(cfg, self.gen.number + 1, self.gen)
        except Exception as exc:  # noqa: BLE001 - ConfigError and friends: keep running
            self.errlog.log("error", "core", f"AH00526: restart failed, the new configuration "
                            f"was not loaded and the old one keeps running: {exc}")
            self.notifier.ready(f"Restart failed, the old configuration keeps running: {exc}")
            return
        old = self.gen
        if gen.mutex is not old.mutex:
            self.old_mutexes.append((old.number, old.mutex))
        for c in list(self.children.values()):
            self.tell(c, signal.SIGTERM if hard else signal.SIGUSR1)
        if hard:
            self._wait_children(STOP_WAIT)
        self.gen = gen
        old.server.retire()  # the parent's TLS contexts: the frozen heap would keep them
        self.sizing = gen.sizing
        self.sb.generation = gen.number
        for w in gen.sizing.warnings:
            self.errlog.log("warn", f"mpm_{gen.sizing.mpm}", w)
        new_log = _abs(cfg, cfg.error_log)
        if new_log != self.errlog.path:
            self.errlog.close()
            self.errlog = ErrorLog(new_log, cfg.log_level, self.errlog.threaded)
        self.errlog.set_levels(cfg.log_level, cfg.main.dir_defaults.log_modules)
        self.listeners.update(cfg)
        self.pid_file = _abs(cfg, cfg.pid_file) or self.pid_file
        self.maxworkers_reported = False
        self._announce()
        self.start_children()
        self.notifier.ready(self._status())

    # -- hot upgrade (SIGUSR2) -------------------------------------------------------------

    def upgrade(self) -> None:
        """Exec a new master (the code installed now, the same command line) that adopts
        this one's listening sockets; both serve until this one is stopped (WINCH for a
        drain). The pid file moves to PIDFILE.oldbin meanwhile, as nginx's does."""
        if self.upgrade_pid:
            self.errlog.log("warn", "core", f"SIGUSR2 ignored: the new master {self.upgrade_pid} "
                            "is still running")
            return
        fds = self.listeners.fds()
        env = dict(os.environ, **{lst.INHERIT_VAR: lst.handover(fds)})
        if self.pid_file and os.path.exists(self.pid_file):
            os.replace(self.pid_file, self.pid_file + ".oldbin")
        pid = os.fork()
        if pid == 0:  # pragma: no cover - replaced by exec
            try:
                signal.set_wakeup_fd(-1)
                restore_child(self.nice)  # the new master boosts itself from the same base
                for fd in fds:
                    os.set_inheritable(fd, True)
                os.execve(sys.executable, sys.orig_argv, env)
            finally:
                os._exit(127)
        self.upgrade_pid = pid
        self.errlog.log("notice", "core", f"SIGUSR2 received: new master {pid} started on the "
                        f"same {len(fds)} listening socket(s)")

    def reap_upgrade(self) -> None:
        """A new master that exits while this one runs failed: take the pid file back."""
        if not self.upgrade_pid:
            return
        try:
            done, status = os.waitpid(self.upgrade_pid, os.WNOHANG)
        except ChildProcessError:
            done, status = self.upgrade_pid, 0
        if done == 0:
            return
        self.errlog.log("error", "core", f"the new master {self.upgrade_pid} exited (status "
                        f"{os.waitstatus_to_exitcode(status)}): this one keeps serving")
        self.upgrade_pid = 0
        pid_file = self.pid_file
        if pid_file and os.path.exists(f"{pid_file}.oldbin"):
            os.replace(f"{pid_file}.oldbin", pid_file)

    def _status(self) -> str:
        """mod_systemd's status line, from the scoreboard's global counters."""
        sbm = load("scoreboard")
        return status_line(self.sb.get(sbm.ACCESSES), self.sb.get(sbm.IDLE),
                           self.sb.get(sbm.BUSY), time.time() - self.sb.start_time,
                           self.sb.get(sbm.BYTES))

    def _announce(self) -> None:
        from fastcore._ext import PURE, implementation

        twins = f" ({implementation()})" if PURE else ""  # the slow fallback is never silent
        self.errlog.log("notice", f"mpm_{self.sizing.mpm}",
                        f"{_CONFIGURED_AH[self.sizing.mpm]}: {fastcore.SERVER_SOFTWARE}/"
                        f"{fastcore.__version__}{twins} configured -- resuming normal operations")

    def _wait_children(self, limit: float) -> None:
        """Wait up to `limit` seconds (forever if 0) for every child, then SIGKILL."""
        deadline = time.monotonic() + limit if limit > 0 else None
        while self.children:
            self.reap()
            if not self.children:
                break
            if deadline is not None and time.monotonic() >= deadline:
                for c in list(self.children.values()):
                    self.tell(c, signal.SIGKILL)
                deadline = None
            if signal.SIGTERM in self.pending or signal.SIGINT in self.pending:
                self.pending.clear()
                for c in list(self.children.values()):
                    self.tell(c, signal.SIGTERM)
                deadline = time.monotonic() + STOP_WAIT
            self._sleep(0.05)

    def _sleep(self, seconds: float) -> None:
        try:
            select.select([self.rfd], [], [], seconds)
            while os.read(self.rfd, 512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def stop(self, graceful: bool) -> None:
        s = self.sizing
        self.notifier.stopping()
        if graceful:
            self.errlog.log("notice", f"mpm_{s.mpm}",
                            "AH00492: caught SIGWINCH, shutting down gracefully")
            self.listeners.close_all()
            for c in list(self.children.values()):
                self.tell(c, signal.SIGUSR1)
            self._wait_children(self.gen.cfg.mpm.graceful_shutdown_timeout)
        else:
            self.errlog.log("notice", f"mpm_{s.mpm}", "AH00169: caught SIGTERM, shutting down")
            for c in list(self.children.values()):
                self.tell(c, signal.SIGTERM)
            self._wait_children(STOP_WAIT)

    def cleanup(self) -> None:
        if self.cleaned:
            return
        self.cleaned = True
        self.listeners.close_all()
        for _, mutex in self.old_mutexes:
            mutex.destroy()
        self.gen.mutex.destroy()
        for path in (self.pid_file, f"{self.pid_file}.oldbin") if self.pid_file else ():
            try:
                with open(path, encoding="ascii") as fh:
                    mine = fh.read().strip() == str(os.getpid())
                if mine:
                    os.unlink(path)
            except OSError:
                pass
        if self.signals_installed:
            signal.set_wakeup_fd(-1)
        os.close(self.rfd)
        os.close(self.wfd)
        self.proctable.close()
        self.sb.close()
        self.errlog.close()

    # -- main loop -----------------------------------------------------------------------

    def run(self) -> int:
        self.install_signals()
        self.write_pid_file()
        self._announce()
        self.start_children()
        self.notifier.ready(self._status())
        last = time.monotonic()
        status = 0
        try:
            while True:
                # the once-a-second maintenance, and the accept queues read in between
                self._sleep(max(0.0, min(1.0 - (time.monotonic() - last), QUEUE_TICK)))
                while self.pending:
                    sig = self.pending.pop(0)
                    if sig in (signal.SIGTERM, signal.SIGINT):
                        self.stop(graceful=False)
                        return status
                    if sig == signal.SIGWINCH:
                        self.stop(graceful=True)
                        return status
                    if sig == signal.SIGUSR2:
                        self.upgrade()
                        continue
                    self.graceful(hard=sig == signal.SIGHUP)
                second = time.monotonic() - last >= 1.0
                if self.child_exited or second:
                    self.child_exited = False
                    if not self.reap():
                        self.stop(graceful=False)
                        return APEXIT_CHILDFATAL
                self.reap_upgrade()
                if second:
                    last = time.monotonic()
                    self.maintain()
                    if self.notifier.enabled:
                        self.notifier.status(self._status())
                self.follow_queue()
        finally:
            self.cleanup()


def _default_reload(cfg: Any) -> Any:
    """Read the same file with the same root and defines as the running configuration."""
    from fastcore.config import load as load_config

    return load_config(cfg.config_file or None, server_root=cfg.server_root,
                       defines=tuple(sorted(cfg.defines)))

