"""A connection's output queue: serialized answers waiting for the socket.

Each item is a header plus either bytes or a file range (sent with the strategy
EnableSendfile/EnableMMAP chose); a partial write is resumed where it stopped.  Connection
owns one; on a blocking socket a send that times out (Timeout) stalls the queue and the
connection gives up.
"""
from __future__ import annotations

import enum
import os
import socket
from dataclasses import dataclass

from fastcore._ext import load

_sf = load("sendfile")


@dataclass(slots=True)
class OutItem:
    """One queued answer: header, then body bytes or cnt bytes of ffd from off."""

    header: bytes
    ffd: int          # -1: no file
    off: int
    cnt: int
    strategy: str     # sendfile | writev | readwrite | auto
    body: bytes | None
    closefd: bool     # the queue owns ffd and closes it once sent
    total: int        # bytes left to send


class Flush(enum.Enum):
    DONE = 0      # everything sent
    BLOCKED = 1   # non-blocking socket full: wait for POLLOUT
    STALLED = 2   # blocking socket, nothing sent within Timeout: give up


class OutputQueue:
    """Queued answers of one connection, in order."""

    def __init__(self, fd: int, blocking: bool) -> None:
        self.fd = fd
        self.blocking = blocking
        self.items: list[OutItem] = []

    def set_send_timeout(self, seconds: float) -> None:
        """SO_SNDTIMEO: a blocked send gives up after Timeout (one setsockopt per
        connection; the engine sets it itself when it owns the connection)."""
        sec = int(seconds)
        tv = sec.to_bytes(8, "little") + int((seconds - sec) * 1e6).to_bytes(8, "little")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fileno=self.fd)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        finally:
            s.detach()

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def queue(self, header: bytes, ffd: int, off: int, cnt: int, strategy: str,
              body: bytes | None, closefd: bool) -> None:
        total = len(header) + (len(body) if body is not None else cnt)
        self.items.append(OutItem(header, ffd, off, cnt, strategy, body, closefd, total))

    def drop(self) -> None:
        """Forget unsent answers, closing the file descriptors they owned."""
        for item in self.items:
            if item.closefd:
                try:
                    os.close(item.ffd)
                except OSError:
                    pass
        self.items.clear()

    def flush(self) -> Flush:
        """Send queued pieces until done or the socket would block."""
        while self.items:
            it = self.items[0]
            try:
                n = _sf.send_response(self.fd, it.header, it.ffd, it.off, it.cnt, it.strategy,
                                      it.body)
            except BlockingIOError:
                return Flush.BLOCKED
            except TimeoutError:
                n = 0
            if n >= it.total:
                self.items.pop(0)
                if it.closefd:
                    os.close(it.ffd)
                continue
            if n == 0 and self.blocking:
                return Flush.STALLED
            it.header, it.off, it.cnt, it.body = _sf.resume(it.header, it.off, it.cnt, n, it.body)
            it.total -= n
            if self.blocking:
                continue
            return Flush.BLOCKED
        return Flush.DONE
