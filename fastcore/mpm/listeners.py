"""The parent's listening sockets: Listen lines, systemd's LISTEN_FDS, an upgraded
binary's inherited sockets (FASTCORE_INHERIT_FDS), SO_REUSEPORT.

Listeners outlive generations: a graceful restart keeps the sockets whose address is
still configured (no connection is refused while the new generation starts), opens the
new ones before anything else changes, and closes the ones no longer listed.
With `Mutex mpm-accept reuseport` the parent only reserves each address (bound, not
listening, so the kernel never queues a connection on it) and each child opens its own
SO_REUSEPORT listener, which the kernel balances across children.
"""
from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterable
from typing import Any

from fastcore._ext import load
from fastcore.core.tokens import is_digits
from fastcore.mpm.acceptfilter import apply_filter, proto_of

Key = tuple[str, int, int]
WILDCARDS = ("", "*", "0.0.0.0", "::")
SD_LISTEN_FDS_START = 3
INHERIT_VAR = "FASTCORE_INHERIT_FDS"  # "fd,fd,..." handed over by a SIGUSR2 upgrade


def _shown(key: Key) -> str:
    host, port, _family = key
    return f"[{host}]:{port}" if ":" in host else f"{host or '0.0.0.0'}:{port}"


def _key(host: str, port: int, family: int) -> Key:
    return ("" if host in WILDCARDS else host, int(port), int(family))


def systemd_fds() -> dict[Key, int]:
    """Listening sockets handed over by systemd socket activation (sd_listen_fds)."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return {}
    try:
        n = int(os.environ.get("LISTEN_FDS", "0"))
    except ValueError:
        return {}
    for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(var, None)
    return _adopt(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + n), listening_only=False)


def _adopt(fds: Iterable[int], listening_only: bool) -> dict[Key, int]:
    """Inherited TCP sockets by address (made close-on-exec); other descriptors ignored."""
    out: dict[Key, int] = {}
    for fd in fds:
        try:
            s = socket.socket(fileno=fd)
        except OSError:
            continue
        try:
            if s.family in (socket.AF_INET, socket.AF_INET6) and (
                    not listening_only or s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
                addr = s.getsockname()
                out[_key(addr[0], addr[1], s.family)] = fd
                os.set_inheritable(fd, False)
        finally:
            s.detach()
    return out


def upgrade_fds() -> dict[Key, int]:
    """Listening sockets left open across exec by the master this one replaces (SIGUSR2);
    anything that is not a listening TCP socket is ignored."""
    text = os.environ.pop(INHERIT_VAR, "")
    return _adopt((int(w) for w in text.split(",") if is_digits(w.strip())), listening_only=True)


def handover(fds: list[int]) -> str:
    """The value of INHERIT_VAR for a new master that gets these descriptors."""
    return ",".join(str(fd) for fd in fds)

def apply_buffer_sizes(fd: int, mpm: Any) -> None:
    """SendBufferSize/ReceiveBufferSize on a listener (accepted sockets inherit them), as
    httpd's make_sock sets them; a refusal is only a warning there, so it is ignored."""
    opts = ((socket.SO_SNDBUF, mpm.send_buffer_size), (socket.SO_RCVBUF, mpm.receive_buffer_size))
    if not any(v for _, v in opts):
        return
    s = socket.socket(fileno=fd)
    try:
        for opt, value in opts:
            if value:
                try:
                    s.setsockopt(socket.SOL_SOCKET, opt, value)
                except OSError:
                    pass
    finally:
        s.detach()


class Listeners:
    """Key (host, port, family) -> listening (or, for reuseport, reserving) descriptor."""

    def __init__(self, cfg: Any) -> None:
        self.reuseport = (cfg.accept_mutex or "default") == "reuseport"
        self.socks: dict[Key, int] = {}
        self.staged: dict[Key, int] = {}
        self.inherited = systemd_fds() | upgrade_fds()

    def _open(self, cfg: Any, key: Key) -> int:
        host, port, family = key
        if self.reuseport:
            s = socket.socket(family, socket.SOCK_STREAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
            except OSError as exc:
                s.close()
                raise OSError(exc.errno, f"AH00072: make_sock: could not bind to address "
                              f"{host or '0.0.0.0'}:{port}") from exc
            return s.detach()
        try:
            fd = load("accept").open_listener(host, port, family, cfg.mpm.listen_backlog,
                                              False)
        except OSError as exc:
            raise OSError(exc.errno, f"AH00072: make_sock: could not bind to address "
                          f"{host or '0.0.0.0'}:{port}") from exc
        apply_buffer_sizes(fd, cfg.mpm)
        apply_filter(fd, cfg.accept_filters, proto_of(cfg.listeners, host, port))
        return fd

    def _wanted(self, cfg: Any) -> list[Key]:
        """The configured addresses; one socket address named twice (`Listen 127.0.0.1:80`
        and `Listen localhost:80`) fails as Apache's second bind does."""
        keys: list[Key] = []
        for la in cfg.listeners:
            key = _key(la.host, la.port, la.family)
            if key in keys:
                if key[0]:
                    raise OSError(errno.EADDRINUSE, "AH00072: make_sock: could not bind to "
                                  f"address {_shown(key)}")
                continue
            keys.append(key)
        return keys

    def open(self, cfg: Any) -> None:
        """At start-up: every Listen, systemd's sockets first; none at all is fatal."""
        for key, fd in self.inherited.items():
            self.socks[key] = fd
        for key in self._wanted(cfg):
            if key not in self.socks:
                self.socks[key] = self._open(cfg, key)
        if not self.socks:
            raise OSError("AH00015: Unable to open logs / no listening sockets available, "
                          "shutting down")

    def check(self, cfg: Any) -> None:
        """Before a restart changes anything: open the new addresses (raises if one fails)."""
        if ((cfg.accept_mutex or "default") == "reuseport") != self.reuseport:
            raise ValueError("switching Mutex mpm-accept to or from reuseport needs a stop "
                             "and start")
        for fd in self.staged.values():
            os.close(fd)
        self.staged = {}
        try:
            for key in self._wanted(cfg):
                if key not in self.socks and key not in self.staged:
                    self.staged[key] = self._open(cfg, key)
        except OSError:
            for fd in self.staged.values():
                os.close(fd)
            self.staged = {}
            raise

    def update(self, cfg: Any) -> None:
        """After a successful check: adopt staged sockets, close the ones dropped."""
        wanted = set(self._wanted(cfg)) | set(self.inherited)
        self.socks.update(self.staged)
        self.staged = {}
        for key in list(self.socks):
            if key not in wanted:
                os.close(self.socks.pop(key))

    def fds(self) -> list[int]:
        return list(self.socks.values())

    def addrs(self) -> list[Key]:
        """Actual addresses (port 0 resolved), for children opening reuseport listeners."""
        out = []
        for (host, _port, family), fd in self.socks.items():
            s = socket.socket(fileno=fd)
            try:
                out.append((host, s.getsockname()[1], family))
            finally:
                s.detach()
        return out

    def close_all(self) -> None:
        for fd in list(self.socks.values()) + list(self.staged.values()):
            try:
                os.close(fd)
            except OSError:
                pass
        self.socks.clear()
        self.staged.clear()
