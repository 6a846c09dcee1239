"""One connection's read deadline (RequestReadTimeout's clock): the stage limits a
connection enforces and the clock that moves them on as bytes arrive.  mod_reqtimeout
decides the limits (its directive, per server, REGISTRY.read_limits); the connection and
the MPMs' waits run the clock, as they run the core's Timeout."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """One stage's limit: `timeout` s (0: none), extended by MinRate up to `max_timeout`."""

    timeout: int
    max_timeout: int = 0  # 0: no maximum
    min_rate: int = 0  # bytes/s; 0: no extension


@dataclass(frozen=True)
class ReadLimits:
    """What a connection enforces (defaults filled in)."""

    header: Stage
    body: Stage
    handshake: Stage = Stage(0)  # TLS connections: mod_ssl's listeners enforce it in C


class ReadClock:
    """The deadline of the stage a connection is reading (Apache's reqtimeout_con_cfg).

    kind: "header" or "body" while a deadline may run, "idle" between requests: the first
    bytes of a keep-alive request start the header clock (they wait KeepAliveTimeout, as
    the in_keep_alive read) and do not count towards MinRate.
    """

    __slots__ = ("limits", "kind", "timeout_at", "max_at", "per_byte", "req")

    def __init__(self, lim: ReadLimits, now: float) -> None:
        self.limits = lim
        self.kind = "idle"
        self.timeout_at = self.max_at = self.per_byte = 0.0
        self.req = 0  # the request count the running clock belongs to
        self.start("header", now)

    def start(self, kind: str, now: float) -> None:
        stage = self.limits.header if kind == "header" else self.limits.body
        self.kind = kind
        self.timeout_at = now + stage.timeout if stage.timeout > 0 else 0.0
        self.max_at = now + stage.max_timeout if stage.max_timeout > 0 else 0.0
        self.per_byte = 1.0 / stage.min_rate if stage.min_rate > 0 else 0.0

    def idle(self, requests: int) -> None:
        """A request is complete: no deadline until the next one's first bytes."""
        self.kind, self.timeout_at, self.req = "idle", 0.0, requests

    def got(self, nbytes: int, requests: int, now: float) -> None:
        """Bytes arrived for the head (requests: the connection's count so far) or body."""
        if nbytes <= 0:
            return
        if self.kind == "idle" or (self.kind == "header" and requests != self.req):
            self.req = requests
            self.start("header", now)  # a keep-alive request: its clock starts now
            return
        if self.timeout_at and self.per_byte:
            t = self.timeout_at + nbytes * self.per_byte
            self.timeout_at = min(t, self.max_at) if self.max_at else t

    def left(self, now: float) -> float | None:
        """Seconds to the deadline (<= 0: expired); None when none runs."""
        return None if not self.timeout_at else self.timeout_at - now
