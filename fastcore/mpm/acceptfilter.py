"""AcceptFilter on Linux: TCP_DEFER_ACCEPT on each TCP listener whose protocol's filter is
not `none` (httpd's default for http and https is `data`).

httpd sets TCP_DEFER_ACCEPT (30 s) on its http listeners, so the kernel completes accept()
only once the request's first bytes have arrived. fastcore's engine reads right after
accept (fc_fastloop.h); with the option set, that read finds the request instead of
EAGAIN plus one more epoll wake-up, and a connection that never sends is never seen by
any child, as with Apache. A refusal is only a warning in httpd: it is ignored here.
"""
from __future__ import annotations

import errno
import socket
from collections.abc import Iterable

from fastcore.config.model import ListenAddr

DEFER_SECONDS = 30  # httpd's value for the `data` filter


def filter_for(filters: dict[str, str], proto: str) -> str:
    """The filter of a Listen protocol: the AcceptFilter given for it, else `data`."""
    return filters.get(proto.lower(), "data")


def proto_of(listeners: Iterable[ListenAddr], host: str, port: int) -> str:
    """The Listen protocol of a socket address (http, or https on 443 when not given)."""
    for la in listeners:
        if la.port == port and la.host == host:
            return la.proto
    return "https" if port == 443 else "http"


def apply_filter(fd: int, filters: dict[str, str], proto: str) -> bool:
    """Set (or, for `none`, clear: a socket kept across a restart) the listener's
    TCP_DEFER_ACCEPT; False where the socket or kernel refuses it."""
    return defer_accept(fd, 0 if filter_for(filters, proto) == "none" else DEFER_SECONDS)


def defer_accept(fd: int, seconds: int = DEFER_SECONDS) -> bool:
    """Set TCP_DEFER_ACCEPT on listener fd; False where the socket or kernel refuses it."""
    opt = getattr(socket, "TCP_DEFER_ACCEPT", None)
    if opt is None:
        return False
    s = socket.socket(fileno=fd)
    try:
        if s.family not in (socket.AF_INET, socket.AF_INET6) or s.type != socket.SOCK_STREAM:
            return False
        s.setsockopt(socket.IPPROTO_TCP, opt, seconds)
        return True
    except OSError as exc:
        if exc.errno in (errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EINVAL):
            return False
        raise
    finally:
        s.detach()
