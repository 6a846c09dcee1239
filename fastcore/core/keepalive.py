"""The one keep-alive rule: does a connection stay open after this answer, and which
Connection / Keep-Alive header says so.

Every Python path that answers (Connection for the full handler, the Python response
cache, the pure-Python twin of the engine) asks `decide`; the C engine has the same rule
once, fc_keepalive() in fastcore/src/fc_keepalive.h, and tests/core/test_keepalive_parity.py
drives both on generated inputs.  The rule is Apache's ap_set_keepalive: the client must
allow it (HTTP/1.1 without a close token, or a keep-alive token), the answer must be
delimited and not one of the statuses that drop the connection, KeepAlive On, no pending
100-continue, not draining, and fewer than MaxKeepAliveRequests answered (0: unlimited).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Apache's ap_status_drops_connection list: after these the connection is closed
DROPS_CONNECTION = frozenset((400, 408, 411, 413, 414, 500, 501, 503))
CLOSE_HEADER = b"Connection: close\r\n"


@dataclass(slots=True)
class KeepAliveInput:
    """What the decision depends on, for one answer on one connection."""

    http11: bool            # the request is HTTP/1.1 or later
    close_token: bool       # its Connection header lists "close"
    ka_token: bool          # its Connection header lists "keep-alive" (Apache's ka_sent)
    status: int = 200
    delimited: bool = True  # the client can tell where the body ends (length, chunks, none)
    forced_close: bool = False       # the answer itself ends the connection
    framing_reusable: bool = True    # False: a head whose framing forbids reuse (TE + CL)
    unanswered_continue: bool = False  # Expect: 100-continue that was never answered
    keep_alive: bool = True          # KeepAlive directive
    max_requests: int = 100          # MaxKeepAliveRequests (<= 0: unlimited)
    requests: int = 0                # answers already sent on this connection
    timeout: int = 5                 # KeepAliveTimeout, whole seconds (as Apache prints it)
    draining: bool = False           # graceful stop: every answer is the last


@dataclass(frozen=True, slots=True)
class KeepAliveDecision:
    """keep: the connection stays open; header: the bytes to send for it (may be empty)."""

    keep: bool
    header: bytes


def client_allows(http11: bool, close_token: bool, ka_token: bool) -> bool:
    """The request's own say (Apache checks close first): HTTP/1.1 unless it lists close,
    HTTP/1.0 only when it lists keep-alive."""
    return not close_token and (http11 or ka_token)


def decide(i: KeepAliveInput) -> KeepAliveDecision:
    """Keep or close, and the header: Connection: close when closing; Keep-Alive and
    Connection: Keep-Alive on a kept connection only when the client sent a keep-alive
    token (Apache's ka_sent rule), with max= the answers left when MaxKeepAliveRequests
    bounds them (Apache: max=1 is still kept)."""
    keep = (client_allows(i.http11, i.close_token, i.ka_token) and i.framing_reusable
            and i.delimited and not i.forced_close and i.keep_alive and not i.draining
            and not i.unanswered_continue and i.status not in DROPS_CONNECTION
            and not (i.max_requests > 0 and i.requests >= i.max_requests))
    if not keep:
        return KeepAliveDecision(False, CLOSE_HEADER)
    if not i.ka_token:
        return KeepAliveDecision(True, b"")
    if i.max_requests <= 0:
        return KeepAliveDecision(True, b"Keep-Alive: timeout=%d\r\nConnection: Keep-Alive\r\n"
                                 % i.timeout)
    return KeepAliveDecision(True, b"Keep-Alive: timeout=%d, max=%d\r\nConnection: Keep-Alive\r\n"
                             % (i.timeout, i.max_requests - i.requests))


@dataclass(frozen=True, slots=True)
class EnvProtocol:
    """What the request's variables make of the answer's protocol (Apache's
    basic_http_header_check and ap_set_keepalive): the version the keep-alive rule sees,
    the status line's protocol, and a close."""

    http11: bool
    protocol: bytes
    forced_close: bool


HTTP11 = b"HTTP/1.1"


def env_protocol(proto_num: int, env: Mapping[str, str]) -> EnvProtocol:
    """downgrade-1.0 treats a 1.1 request as 1.0; force-response-1.0 answers a 1.0
    request (downgraded or not) with an HTTP/1.0 status line and closes; nokeepalive
    closes."""
    if "downgrade-1.0" in env and proto_num > 1000:
        proto_num = 1000
    force = proto_num == 1000 and "force-response-1.0" in env
    return EnvProtocol(proto_num >= 1001, b"HTTP/1.0" if force else HTTP11,
                       force or "nokeepalive" in env)
