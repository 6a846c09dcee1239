"""MPM sizing: Apache's defaults, corrections and startup warnings.

The prefork, worker and event MPMs read the same directives as Apache's and correct
combinations that do not fit together the way httpd 2.4 does, with the same AH numbers
and wording, so an administrator sees the same warnings from both servers (checked
against /usr/sbin/apache2 -t in tests/core/test_mpm_sizing.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fastcore.config.model import MpmConfig

# Compile-time limits and defaults of httpd 2.4 (server/mpm/*/).
PREFORK_DEFAULT_SERVER_LIMIT = 256
PREFORK_MAX_SERVER_LIMIT = 200000
PREFORK_DEFAULT_START = 5
THREADED_DEFAULT_SERVER_LIMIT = 16
THREADED_MAX_SERVER_LIMIT = 20000
THREADED_DEFAULT_THREAD_LIMIT = 64
MAX_THREAD_LIMIT = {"event": 100000, "worker": 20000}
THREADED_DEFAULT_THREADS = 25
THREADED_DEFAULT_START = 3
DEFAULT_MIN_FREE_DAEMON = 3
DEFAULT_MAX_FREE_DAEMON = 10
MAX_SPAWN_RATE = 32

# AH numbers: (prefork, worker, event) for each message kind.
_AH = {
    "server_limit_max": ("00175", "00300", "00497"),
    "server_limit_min": ("00177", "00302", "00499"),
    "thread_limit_max": (None, "00305", "00502"),
    "thread_limit_min": (None, "00307", "00504"),
    "threads_max": (None, "00310", "00507"),
    "threads_min": (None, "00312", "00509"),
    "workers_lt_threads": (None, "00314", "00511"),
    "workers_not_multiple": (None, "00316", "00513"),
    "workers_exceed": ("00180", "00318", "00515"),
    "workers_min": ("00182", None, None),
    "start_min": ("00184", "00320", "00517"),
    "min_spare": ("00186", "00322", "00519"),
}
_INDEX = {"prefork": 0, "worker": 1, "event": 2}


@dataclass
class Sizing:
    """The effective process/thread limits the arbiter runs with."""

    mpm: str
    server_limit: int  # scoreboard process slots
    thread_limit: int  # scoreboard thread slots per process (1 for prefork)
    threads_per_child: int  # worker threads per process (1 for prefork)
    max_request_workers: int
    daemons_limit: int  # processes of one generation at most
    start_servers: int
    min_spare: int  # prefork: idle processes; worker/event: idle threads
    max_spare: int
    max_connections_per_child: int = 0
    async_factor: float = 2.0
    warnings: list[str] = field(default_factory=list)


def _ah(mpm: str, kind: str) -> str:
    return "AH" + (_AH[kind][_INDEX[mpm]] or "00000")


def compute(mc: MpmConfig, previous: Sizing | None = None) -> Sizing:
    """Apply Apache's rules to the MPM directives; `previous` (on a graceful restart)
    pins ServerLimit and ThreadLimit, which size the shared scoreboard."""
    mpm = (mc.name or "event").lower()
    if mpm not in _INDEX:
        raise ValueError(f"unknown MPM {mc.name!r}: expected prefork, worker or event")
    if mpm == "prefork":
        s = _prefork(mc)
    else:
        s = _threaded(mpm, mc)
    s.max_connections_per_child = max(0, int(mc.max_connections_per_child or 0))
    s.async_factor = float(mc.async_request_worker_factor or 2.0)
    if previous is not None:
        _pin_restart(s, previous)
    return s


def _prefork(mc: MpmConfig) -> Sizing:
    w: list[str] = []
    a = lambda k: _ah("prefork", k)  # noqa: E731
    server_limit = mc.server_limit if mc.server_limit is not None else PREFORK_DEFAULT_SERVER_LIMIT
    if server_limit > PREFORK_MAX_SERVER_LIMIT:
        w.append(f"{a('server_limit_max')}: WARNING: ServerLimit of {server_limit} exceeds "
                 f"compile-time limit of {PREFORK_MAX_SERVER_LIMIT} servers, decreasing to "
                 f"{PREFORK_MAX_SERVER_LIMIT}.")
        server_limit = PREFORK_MAX_SERVER_LIMIT
    elif server_limit < 1:
        w.append(f"{a('server_limit_min')}: WARNING: ServerLimit of {server_limit} not allowed, "
                 "increasing to 1.")
        server_limit = 1
    workers = (mc.max_request_workers if mc.max_request_workers is not None
               else PREFORK_DEFAULT_SERVER_LIMIT)
    if workers > server_limit:
        w.append(f"{a('workers_exceed')}: WARNING: MaxRequestWorkers of {workers} exceeds "
                 f"ServerLimit value of {server_limit} servers, decreasing MaxRequestWorkers to "
                 f"{server_limit}. To increase, please see the ServerLimit directive.")
        workers = server_limit
    elif workers < 1:
        w.append(f"{a('workers_min')}: WARNING: MaxRequestWorkers of {workers} not allowed, "
                 "increasing to 1.")
        workers = 1
    start = mc.start_servers if mc.start_servers is not None else PREFORK_DEFAULT_START
    if start < 1:
        w.append(f"{a('start_min')}: WARNING: StartServers of {start} not allowed, "
                 "increasing to 1.")
        start = 1
    min_free = mc.min_spare_servers
    if min_free < 1:
        w.append(f"{a('min_spare')}: WARNING: MinSpareServers of {min_free} not allowed, "
                 "increasing to 1 to avoid almost certain server failure. "
                 "Please read the documentation.")
        min_free = 1
    max_free = max(mc.max_spare_servers, min_free + 1)  # silent, "don't thrash"
    return Sizing("prefork", server_limit, 1, 1, workers, workers, min(start, workers),
                  min_free, max_free, warnings=w)


def _threaded(mpm: str, mc: MpmConfig) -> Sizing:
    w: list[str] = []
    a = lambda k: _ah(mpm, k)  # noqa: E731
    server_limit = (mc.server_limit if mc.server_limit is not None
                    else THREADED_DEFAULT_SERVER_LIMIT)
    if server_limit > THREADED_MAX_SERVER_LIMIT:
        w.append(f"{a('server_limit_max')}: WARNING: ServerLimit of {server_limit} exceeds "
                 f"compile-time limit of {THREADED_MAX_SERVER_LIMIT} servers, decreasing to "
                 f"{THREADED_MAX_SERVER_LIMIT}.")
        server_limit = THREADED_MAX_SERVER_LIMIT
    elif server_limit < 1:
        w.append(f"{a('server_limit_min')}: WARNING: ServerLimit of {server_limit} not allowed, "
                 "increasing to 1.")
        server_limit = 1
    thread_limit = mc.thread_limit
    max_tl = MAX_THREAD_LIMIT[mpm]
    if thread_limit > max_tl:
        w.append(f"{a('thread_limit_max')}: WARNING: ThreadLimit of {thread_limit} exceeds "
                 f"compile-time limit of {max_tl} threads, decreasing to {max_tl}.")
        thread_limit = max_tl
    elif thread_limit < 1:
        w.append(f"{a('thread_limit_min')}: WARNING: ThreadLimit of {thread_limit} not allowed, "
                 "increasing to 1.")
        thread_limit = 1
    tpc = mc.threads_per_child
    if tpc > thread_limit:
        w.append(f"{a('threads_max')}: WARNING: ThreadsPerChild of {tpc} exceeds ThreadLimit "
                 f"of {thread_limit} threads, decreasing to {thread_limit}. To increase, please "
                 "see the ThreadLimit directive.")
        tpc = thread_limit
    elif tpc < 1:
        w.append(f"{a('threads_min')}: WARNING: ThreadsPerChild of {tpc} not allowed, "
                 "increasing to 1.")
        tpc = 1
    workers = (mc.max_request_workers if mc.max_request_workers is not None
               else THREADED_DEFAULT_SERVER_LIMIT * THREADED_DEFAULT_THREADS)
    if workers < tpc:
        w.append(f"{a('workers_lt_threads')}: WARNING: MaxRequestWorkers of {workers} is less "
                 f"than ThreadsPerChild of {tpc}, increasing to {tpc}. MaxRequestWorkers must "
                 "be at least as large as the number of threads in a single server.")
        workers = tpc
    daemons = workers // tpc
    if workers % tpc:
        fixed = daemons * tpc
        w.append(f"{a('workers_not_multiple')}: WARNING: MaxRequestWorkers of {workers} is not "
                 f"an integer multiple of ThreadsPerChild of {tpc}, decreasing to nearest "
                 f"multiple {fixed}, for a maximum of {daemons} servers.")
        workers = fixed
    if daemons > server_limit:
        w.append(f"{a('workers_exceed')}: WARNING: MaxRequestWorkers of {workers} would require "
                 f"{daemons} servers and would exceed ServerLimit of {server_limit}, decreasing "
                 f"to {server_limit * tpc}. To increase, please see the ServerLimit directive.")
        daemons = server_limit
        workers = server_limit * tpc
    start = mc.start_servers if mc.start_servers is not None else THREADED_DEFAULT_START
    if start < 1:
        w.append(f"{a('start_min')}: WARNING: StartServers of {start} not allowed, "
                 "increasing to 1.")
        start = 1
    min_spare = (mc.min_spare_threads if mc.min_spare_threads is not None
                 else DEFAULT_MIN_FREE_DAEMON * THREADED_DEFAULT_THREADS)
    if min_spare < 1:
        w.append(f"{a('min_spare')}: WARNING: MinSpareThreads of {min_spare} not allowed, "
                 "increasing to 1 to avoid almost certain server failure. "
                 "Please read the documentation.")
        min_spare = 1
    max_spare = (mc.max_spare_threads if mc.max_spare_threads is not None
                 else DEFAULT_MAX_FREE_DAEMON * THREADED_DEFAULT_THREADS)
    max_spare = max(max_spare, min_spare + tpc)  # silent, as httpd
    return Sizing(mpm, server_limit, thread_limit, tpc, workers, daemons, min(start, daemons),
                  min_spare, max_spare, warnings=w)


def _pin_restart(s: Sizing, prev: Sizing) -> None:
    """ServerLimit/ThreadLimit size the scoreboard: a restart keeps the first values
    (Apache's "changing ... not allowed during restart") and re-fits the rest."""
    if s.server_limit != prev.server_limit:
        s.warnings.append(f"changing ServerLimit to {s.server_limit} from original value of "
                          f"{prev.server_limit} not allowed during restart")
        s.server_limit = prev.server_limit
    if s.thread_limit != prev.thread_limit:
        s.warnings.append(f"changing ThreadLimit to {s.thread_limit} from original value of "
                          f"{prev.thread_limit} not allowed during restart")
        s.thread_limit = prev.thread_limit
    s.threads_per_child = min(s.threads_per_child, s.thread_limit)
    s.daemons_limit = max(1, min(s.daemons_limit, s.server_limit))
    s.max_request_workers = min(s.max_request_workers, s.daemons_limit * s.threads_per_child)
    s.start_servers = min(s.start_servers, s.daemons_limit)
