"""Descriptor helpers the MPM loops share (the event listener and the head holder)."""
from __future__ import annotations

import os
import socket

from fastcore._ext import load

_tls = load("tls")


def shutdown_write(fd: int) -> None:
    """shutdown(SHUT_WR) on a raw descriptor (the start of a lingering close), after
    a TLS connection's close_notify (as mod_ssl, and in answer to the client's own)."""
    _tls.shutdown(fd)
    sock = socket.socket(fileno=fd)
    try:
        sock.shutdown(socket.SHUT_WR)
    finally:
        sock.detach()


def close_fd(fd: int) -> None:
    """close(2) that tolerates a descriptor already gone (a TLS session is freed first:
    the number may be reused by another thread's accept as soon as it is closed)."""
    _tls.forget(fd)
    try:
        os.close(fd)
    except OSError:
        pass
