"""The listen queue: connections the kernel has completed that no child has accepted yet.

Linux reports it for a listening TCP socket through getsockopt(TCP_INFO): on a LISTEN
socket tcp_get_info() fills tcpi_unacked with the accept queue's length (sk_ack_backlog)
and tcpi_sacked with its limit (the listen backlog). The parent reads it a few times a
second to spawn prefork children as fast as waiting clients need them (docs/compat.md,
"Spawning children"). A socket that is not listening (the parent's reserved addresses
under `Mutex mpm-accept reuseport`, where each child listens on its own socket) reports
nothing, and the parent falls back to httpd's idle-count rule alone.
"""
from __future__ import annotations

import socket
import struct

# struct tcp_info (linux/tcp.h): eight u8 fields, then u32 rto, ato, snd_mss, rcv_mss,
# unacked, sacked, ...
_HEAD = struct.Struct("=8B6I")
_LISTEN = 10  # TCP_LISTEN in the kernel's tcp_states.h
_STATE, _UNACKED, _SACKED = 0, 12, 13


def queued(fd: int) -> int:
    """Connections waiting in this listener's accept queue (0 if it is not listening or
    the kernel does not say)."""
    s = socket.socket(fileno=fd)
    try:
        raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _HEAD.size)
    except OSError:
        return 0
    finally:
        s.detach()
    if len(raw) < _HEAD.size:
        return 0
    info = _HEAD.unpack(raw)
    if info[_STATE] != _LISTEN:
        return 0
    return int(info[_UNACKED])


def total_queued(fds: list[int]) -> int:
    """The accept queues of every listener, added up."""
    return sum(queued(fd) for fd in fds)
