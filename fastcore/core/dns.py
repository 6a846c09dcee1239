"""Client host-name lookups for HostnameLookups On/Double and `Require host`.

Nothing here runs unless a caller asks: HostnameLookups Off (the default) must cost no DNS
traffic at all, so the worker thread pool is created on the first lookup, in the process
that does it (after fork).  Each lookup is bounded by `timeout`: a slow resolver delays a
request by at most that much and the answer is treated as "no name", as Apache does when the
lookup fails.  Results, including failures, are cached for `ttl` seconds.

A stall must hold only the requests that need that answer (issue 12): concurrent asks for
the same lookup share one resolver call (`_inflight`), and the pool has a thread for each
distinct lookup in flight (up to `max_workers`, started on demand), so a client whose PTR
answer hangs never queues the lookup of another client behind it.
"""
from __future__ import annotations

import functools
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from fastcore.core.client import client_address

_T = TypeVar("_T")


def _canonical_ip(ip: str) -> str:
    """IPv4-mapped IPv6 addresses are looked up (and compared) as IPv4."""
    a = client_address(ip)
    return ip if a is None else str(a)


def _reverse(ip: str) -> str | None:
    try:
        name = socket.gethostbyaddr(ip)[0]
    except (OSError, UnicodeError):
        return None
    return name.lower() or None


def _forward_contains(name: str, ip: str) -> bool:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return any(_canonical_ip(str(info[4][0])) == ip for info in infos)


def _addresses(name: str) -> frozenset[str]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return frozenset()
    return frozenset(_canonical_ip(str(info[4][0])) for info in infos)


class Resolver:
    """Bounded, cached reverse (and double-reverse) lookups.

    reverse(ip, double=False): the PTR name, or None.
    reverse(ip, double=True): the PTR name only if a forward lookup of it yields `ip`
    (the "double reverse" the seed describes), else None.
    """

    def __init__(self, timeout: float = 5.0, ttl: float = 60.0, negative_ttl: float = 10.0,
                 max_workers: int = 64, max_entries: int = 4096) -> None:
        self.timeout = timeout
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_workers = max_workers
        self.max_entries = max_entries
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._lock = threading.RLock()  # (a done callback may run in submit's caller)
        # ip -> (expires, name); ip -> (expires, confirmed)
        self._names: dict[str, tuple[float, str | None]] = {}
        self._confirmed: dict[str, tuple[float, bool]] = {}
        self._forward: dict[str, tuple[float, frozenset[str]]] = {}
        # (function name, args) -> the resolver call running for it, shared by its askers
        self._inflight: dict[tuple[str, tuple[str, ...]], Future] = {}
        self.lookups = 0  # number of resolver calls actually made (for tests/metrics)

    def _executor(self) -> ThreadPoolExecutor:
        pid = os.getpid()
        with self._lock:
            if self._pool is None or self._pool_pid != pid:
                # A pool inherited across fork has no threads: make a fresh one.
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers,
                                                thread_name_prefix="fastcore-dns")
                self._pool_pid = pid
                self._inflight.clear()  # the parent's calls do not run here
            return self._pool

    def _bounded(self, fn: Callable[..., _T], *args: str) -> _T | None:
        """fn(*args) on a pool thread, waited for at most `timeout`; a call already
        running for the same arguments is joined rather than repeated."""
        key = (fn.__name__, args)
        with self._lock:
            fut: Future[_T] | None = self._inflight.get(key)
        if fut is None:
            executor = self._executor()
            with self._lock:
                fut = self._inflight.get(key)
                if fut is None:
                    self.lookups += 1
                    fut = executor.submit(fn, *args)
                    self._inflight[key] = fut
                    fut.add_done_callback(functools.partial(self._landed, key))
        try:
            return fut.result(timeout=self.timeout)
        except FutureTimeout:
            return None

    def _landed(self, key: tuple[str, tuple[str, ...]], fut: Future) -> None:
        """A resolver call finished: later asks start a new one (the caches keep its
        answer for their TTL)."""
        with self._lock:
            if self._inflight.get(key) is fut:
                del self._inflight[key]

    def _cache_get(self, cache: dict[str, tuple[float, _T]], key: str) -> tuple[float, _T] | None:
        hit = cache.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            cache.pop(key, None)
            return None
        return hit

    def _trim(self) -> None:
        """Keep the caches bounded: drop expired entries, then everything if needed."""
        now = time.monotonic()
        for cache in (self._names, self._confirmed, self._forward):
            if len(cache) > self.max_entries:
                for k in [k for k, v in cache.items() if v[0] < now]:
                    del cache[k]
                if len(cache) > self.max_entries:
                    cache.clear()

    def reverse(self, ip: str, double: bool) -> str | None:
        ip = _canonical_ip(ip)
        self._trim()
        hit = self._cache_get(self._names, ip)
        if hit is None:
            name = self._bounded(_reverse, ip)
            ttl = self.ttl if name else self.negative_ttl
            hit = (time.monotonic() + ttl, name)
            self._names[ip] = hit
        name = hit[1]
        if name is None or not double:
            return name
        conf = self._cache_get(self._confirmed, ip)
        if conf is None:
            ok = bool(self._bounded(_forward_contains, name, ip))
            conf = (time.monotonic() + (self.ttl if ok else self.negative_ttl), ok)
            self._confirmed[ip] = conf
        return name if conf[1] else None

    def forward(self, name: str) -> frozenset[str]:
        """The addresses `name` resolves to (cached, bounded); empty if it does not."""
        key = name.lower()
        self._trim()
        hit = self._cache_get(self._forward, key)
        if hit is None:
            addrs = self._bounded(_addresses, key) or frozenset()
            ttl = self.ttl if addrs else self.negative_ttl
            hit = (time.monotonic() + ttl, addrs)
            self._forward[key] = hit
        return hit[1]

    def close(self) -> None:
        """Stop the worker threads (lookups still running are abandoned)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
