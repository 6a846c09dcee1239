"""sd_notify(3) for `Type=notify` units: READY, RELOADING, STOPPING and a status line.

The protocol is one datagram of `KEY=value` lines to the unix socket named by
$NOTIFY_SOCKET (a leading `@` is the abstract namespace). Only the parent talks to
systemd (NotifyAccess=main): the variable is taken out of the environment so that no
child inherits it. Outside systemd every call is a no-op.
"""
from __future__ import annotations

import os
import socket
import time


class Notifier:
    """The parent's link to the service manager, or nothing when there is none."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.last_status = ""

    @classmethod
    def from_env(cls) -> Notifier:
        path = os.environ.pop("NOTIFY_SOCKET", None)
        if path and path.startswith("@"):
            path = "\0" + path[1:]
        return cls(path if path and (path.startswith(("/", "\0"))) else None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """One notification; a failure to reach systemd never stops the server."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.sendto("\n".join(lines).encode("utf-8", "replace"), self.address)
        except OSError:
            return False
        return True

    def ready(self, status: str) -> bool:
        self.last_status = status
        return self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def reloading(self) -> bool:
        """RELOADING=1 with the CLOCK_MONOTONIC stamp Type=notify-reload asks for."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=Reloading")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=Stopping")

    def status(self, text: str) -> bool:
        """A status line, sent only when it changed."""
        if text == self.last_status:
            return False
        self.last_status = text
        return self.send(f"STATUS={text}")


def status_line(accesses: int, idle: int, busy: int, uptime: float, nbytes: int) -> str:
    """The status mod_systemd shows in `systemctl status apache2`."""
    up = max(uptime, 1.0)
    return (f"Total requests: {accesses}; Idle/Busy workers {idle}/{busy};"
            f"Requests/sec: {accesses / up:.3g}; Bytes served/sec: {_bytes(nbytes / up)}/sec")


def _bytes(n: float) -> str:
    """apr_strfsize's layout followed by "B": `  0 B`, `1.5KB`, `100KB`, `2.0MB`."""
    if n < 973:
        return f"{n:3.0f} B"
    for unit in ("K", "M", "G", "T"):
        n /= 1024
        if n < 973 or unit == "T":
            return f"{n:3.1f}{unit}B" if n < 9.95 else f"{n:3.0f}{unit}B"
    return f"{n:3.0f}TB"
