"""The MPMs: prefork, worker and event, and the parent process that runs them.

    from fastcore.mpm import run
    run(cfg, foreground=True, single_process=False) -> exit status

`single_process` (-X) serves in this one process with one worker, in the foreground.
`foreground=False` (-k start) detaches once the listeners are open, as httpd does, so a
bind error still reaches the terminal.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["run"]


def _detach() -> None:
    """Become a daemon: the starting process leaves with status 0."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def run(cfg: Any, foreground: bool = True, single_process: bool = False,
        reload: Callable[[], Any] | None = None) -> int:
    """Run the server described by `cfg` until it is stopped; returns the exit status.

    `reload` returns the configuration for a restart (default: fastcore.config.load of
    the same file, server root and defines)."""
    from fastcore.mpm.arbiter import Arbiter
    from fastcore.mpm.single import run_single

    try:
        arbiter = Arbiter(cfg, reload)
    except OSError as exc:
        code = f"({exc.errno}){os.strerror(exc.errno)}: " if exc.errno else ""
        sys.stderr.write(f"{code}{exc.strerror or exc}\n")
        if "make_sock" in str(exc) or "listening" in str(exc):
            sys.stderr.write("no listening sockets available, shutting down\n")
        sys.stderr.write("AH00016: Configuration Failed\n")
        return 1
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    if single_process:
        return run_single(arbiter)
    if not foreground:
        _detach()
    return arbiter.run()
