"""The MPM's lines in the error log, in Apache 2.4's default ErrorLogFormat.

Operators grep the error log for `AH00052: child pid N exit signal ...` and friends, so
the parent writes those lines exactly as httpd does. Each line is one O_APPEND write, so
lines from the parent and children never interleave.
"""
from __future__ import annotations

import os
import sys
import threading
import time

LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
          "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7", "trace8")


class ErrorLog:
    """Append-only error log; `module` is the tag Apache prints ("mpm_event", "core")."""

    def __init__(self, path: str | None, level: str = "warn", threaded: bool = True,
                 modules: dict[str, str] | None = None) -> None:
        self.path = path
        self.set_levels(level, modules)
        self.threaded = threaded
        self.fd = 2
        if path and not path.startswith(("|", "syslog")):
            folder = os.path.dirname(path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def set_levels(self, level: str, modules: dict[str, str] | None = None) -> None:
        """LogLevel of the main server: its level and its `module:level` entries."""
        self.level = LEVELS.index(level) if level in LEVELS else LEVELS.index("warn")
        self.modules = {m: LEVELS.index(v) for m, v in (modules or {}).items() if v in LEVELS}

    def log(self, level: str, module: str, msg: str) -> None:
        """Write one line; notice is always written, as in httpd."""
        lv = LEVELS.index(level)
        if lv > self.modules.get(module, self.level) and level != "notice":
            return
        now = time.time()
        stamp = time.strftime("%a %b %d %H:%M:%S", time.localtime(now))
        usec = int((now % 1) * 1e6)
        year = time.strftime("%Y", time.localtime(now))
        who = f"pid {os.getpid()}"
        if self.threaded:
            who += f":tid {threading.get_native_id()}"
        line = f"[{stamp}.{usec:06d} {year}] [{module}:{level}] [{who}] {msg}\n"
        try:
            os.write(self.fd, line.encode("utf-8", "replace"))
        except OSError:
            pass

    def stderr_too(self, msg: str) -> None:
        """Startup warnings go to the terminal as well (APLOG_STARTUP)."""
        try:
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self.fd > 2:
            os.close(self.fd)
            self.fd = 2
