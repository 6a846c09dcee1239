"""Resolver: cached, bounded reverse and double-reverse lookups."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from fastcore.core import dns
from fastcore.core.dns import Resolver


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch):
    calls: list[tuple[str, str]] = []
    ptr = {"192.0.2.1": "good.example.com", "192.0.2.2": "liar.example.com",
           "192.0.2.3": "Mixed.Example.COM"}
    fwd = {"good.example.com": ["192.0.2.1"], "liar.example.com": ["198.51.100.9"],
           "mixed.example.com": ["192.0.2.3"]}

    def gethostbyaddr(ip: str):
        calls.append(("ptr", ip))
        if ip not in ptr:
            raise socket.herror(1, "Unknown host")
        return ptr[ip], [], [ip]

    def getaddrinfo(name: str, port, *a, **k):
        calls.append(("a", name))
        if name not in fwd:
            raise socket.gaierror(-2, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0)) for ip in fwd[name]]

    monkeypatch.setattr(socket, "gethostbyaddr", gethostbyaddr)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def test_reverse_and_double(fake_dns) -> None:
    r = Resolver(timeout=2)
    try:
        assert r.reverse("192.0.2.1", False) == "good.example.com"
        assert r.reverse("192.0.2.1", True) == "good.example.com"
        assert r.reverse("192.0.2.2", False) == "liar.example.com"
        assert r.reverse("192.0.2.2", True) is None  # forward lookup does not confirm
        assert r.reverse("192.0.2.3", True) == "mixed.example.com"
        assert r.reverse("203.0.113.5", False) is None
        assert r.reverse("::ffff:192.0.2.1", True) == "good.example.com"
    finally:
        r.close()


def test_cache_and_ttl(fake_dns, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(dns.time, "monotonic", lambda: now[0])
    r = Resolver(timeout=2, ttl=60, negative_ttl=5)
    try:
        r.reverse("192.0.2.1", True)
        r.reverse("192.0.2.1", True)
        r.reverse("203.0.113.5", False)
        r.reverse("203.0.113.5", False)
        assert fake_dns == [("ptr", "192.0.2.1"), ("a", "good.example.com"),
                            ("ptr", "203.0.113.5")]
        now[0] += 6  # negative entry expired, positive not
        r.reverse("203.0.113.5", False)
        r.reverse("192.0.2.1", False)
        assert fake_dns[-1] == ("ptr", "203.0.113.5") and len(fake_dns) == 4
        now[0] += 60
        r.reverse("192.0.2.1", False)
        assert len(fake_dns) == 5
    finally:
        r.close()


def test_timeout_bounds_a_hanging_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hang(ip: str):
        release.wait(10)
        raise socket.herror(1, "x")

    monkeypatch.setattr(socket, "gethostbyaddr", hang)
    r = Resolver(timeout=0.2)
    try:
        assert r.reverse("192.0.2.9", False) is None
    finally:
        release.set()
        r.close()


def test_real_localhost_from_hosts_file() -> None:
    """127.0.0.1 resolves through /etc/hosts (no network needed) and is forward-confirmed."""
    r = Resolver(timeout=5)
    try:
        name = r.reverse("127.0.0.1", True)
        assert name is not None and name == socket.gethostbyaddr("127.0.0.1")[0].lower()
    finally:
        r.close()


def test_no_threads_until_first_lookup() -> None:
    before = {t.name for t in threading.enumerate()}
    r = Resolver()
    assert r._pool is None
    assert {t.name for t in threading.enumerate()} == before
    r.close()


def test_cache_bounded(fake_dns) -> None:
    r = Resolver(timeout=2, max_entries=10)
    try:
        for i in range(30):
            r.reverse(f"203.0.113.{i}", False)
        assert len(r._names) <= 11
    finally:
        r.close()


def test_forward_lookup_cached(fake_dns) -> None:
    r = Resolver(timeout=2)
    try:
        assert r.forward("good.example.com") == frozenset({"192.0.2.1"})
        assert r.forward("GOOD.example.com") == frozenset({"192.0.2.1"})
        assert r.forward("nowhere.example") == frozenset()
        assert [c for c in fake_dns if c[0] == "a"] == [("a", "good.example.com"),
                                                        ("a", "nowhere.example")]
    finally:
        r.close()


def test_a_stalled_lookup_holds_only_its_own_askers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: more clients stalled than the old two-thread pool had threads, and a
    fast client's lookup still answers at once; askers of one stalled lookup share it."""
    release = threading.Event()
    calls: list[str] = []

    def gethostbyaddr(ip: str):
        calls.append(ip)
        if ip.startswith("192.0.2."):
            release.wait(10)
        return "h-" + ip.replace(".", "-") + ".example", [], [ip]

    monkeypatch.setattr(socket, "gethostbyaddr", gethostbyaddr)
    r = Resolver(timeout=5.0)
    slow = [threading.Thread(target=r.reverse, args=(f"192.0.2.{i % 3}", False))
            for i in range(6)]
    try:
        for t in slow:
            t.start()
        deadline = time.monotonic() + 2
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        assert r.reverse("198.51.100.7", False) == "h-198-51-100-7.example"
        assert time.monotonic() - started < 1.0
        assert sorted(calls) == ["192.0.2.0", "192.0.2.1", "192.0.2.2", "198.51.100.7"]
    finally:
        release.set()
        for t in slow:
            t.join(5)
        r.close()
    assert r.lookups == 4  # six askers of three stalled names: one call per name
