"""`Require host` as a host leaf of the engine's Require program (issue 12): src/fc_ipmatch.h
(through fastcore._fastpath) and its twin _pure/ipmatch.py give mod_authz_core's own answer
(evaluate.py, Apache's double-reverse semantics and in_domain suffix match) for every
connection state: no lookup made yet, no confirmed name, a confirmed name.  With no lookup
made, a tree whose answer needs the name is never granted by the engine (the Python path
makes the one lookup), while a tree decided before its host line is answered without it."""
from __future__ import annotations

import pytest
from support.twins import IMPLEMENTATIONS, Implementation

from fastcore.modules.mod_authz_core.evaluate import (
    GRANTED,
    ReqCtx,
    Require,
    RequireGroup,
    evaluate,
)
from fastcore.modules.mod_authz_core.peer import host_leaf, peer_program


class FakeResolver:
    """A resolver with one PTR answer and whether its forward lookup confirms it; counts
    the lookups made (the engine must stand for none of them)."""

    def __init__(self, name: str | None, confirmed: bool) -> None:
        self.name, self.confirmed, self.calls = name, confirmed, 0

    def reverse(self, ip: str, double: bool) -> str | None:
        self.calls += 1
        if double and not self.confirmed:
            return None
        return self.name

    def forward(self, name: str) -> frozenset[str]:
        self.calls += 1
        return frozenset()


def host(*args: str, negated: bool = False) -> Require:
    return Require("host", args, negated)


def ip(*args: str, negated: bool = False) -> Require:
    return Require("ip", args, negated)


def ALL(kind: str, *items: Require | RequireGroup) -> RequireGroup:
    return RequireGroup(kind, items)


TREES = [
    ALL("any", host("example.com")),
    ALL("any", host(".example.com")),
    ALL("any", host("EXAMPLE.com", "other.org")),
    ALL("any", host("www.example.com")),
    ALL("all", Require("all", ("granted",)), host("bad.example.com", negated=True)),
    ALL("all", host("example.com"), ip("10.0.0.0/8", negated=True)),
    ALL("any", ip("127.0.0.1"), host("example.com")),      # decided before the host line
    ALL("all", ip("10.0.0.0/8"), host("example.com")),     # denied before it for 127.0.0.1
    ALL("none", host("example.com")),
    ALL("any", ALL("none", host("example.com")), ip("127.0.0.0/8")),
    ALL("all", host("example.com", negated=True)),         # neutral at best: a denial
]
NAMES = ["example.com", "www.example.com", "WWW.Example.COM", "badexample.com",
         "bad.example.com", "example.com.evil.net", "other.org", "com"]
ADDRS = ["127.0.0.1", "10.1.2.3"]


def _states() -> list[tuple[str | None, bool]]:
    return [(None, False), *((n, False) for n in NAMES), *((n, True) for n in NAMES)]


@pytest.mark.parametrize("tree", TREES, ids=lambda t: repr(t)[:70])
def test_host_leaf_agrees_with_evaluate(tree: RequireGroup) -> None:
    prog = peer_program(tree, hosts=True)
    assert prog is not None
    assert peer_program(tree) is None  # the engine's default stays the Python path
    for addr in ADDRS:
        for name, confirmed in _states():
            res = FakeResolver(name, confirmed)
            want = evaluate(ReqCtx(addr, None, "GET", res), tree) == GRANTED
            # after the connection's lookup: its confirmed name, or none
            hstate = 1 if name is not None and confirmed else 0
            hname = (name or "").encode()
            got = [impl.load("fastpath").peer_granted_host(prog, addr.encode(), hstate, hname)
                   for impl in IMPLEMENTATIONS]
            assert got == [want, want], (addr, name, confirmed, got, want)
            # before it: the engine grants only what needs no lookup at all
            before = [impl.load("fastpath").peer_granted_host(prog, addr.encode(), -1, b"")
                      for impl in IMPLEMENTATIONS]
            expect = want and res.calls == 0
            assert before == [expect, expect], (addr, name, confirmed, before, res.calls)
            plain = [impl.load("fastpath").peer_granted(prog, addr.encode())
                     for impl in IMPLEMENTATIONS]
            assert plain == before


def test_a_decided_group_needs_no_lookup() -> None:
    """127.0.0.1 under `Require ip 127.0.0.1` before `Require host`: Apache looks nothing
    up, and the engine grants it on a connection that made no lookup."""
    prog = peer_program(ALL("any", ip("127.0.0.1"), host("example.com")), hosts=True)
    assert prog is not None
    for impl in IMPLEMENTATIONS:
        assert impl.load("fastpath").peer_granted_host(prog, b"127.0.0.1", -1, b"") is True
        assert impl.load("fastpath").peer_granted_host(prog, b"10.1.2.3", -1, b"") is False


def test_host_leaf_format_limits() -> None:
    assert host_leaf([]) is None
    assert host_leaf(["x" * 256]) is None
    assert host_leaf(["a.b"] * 256) is None
    assert host_leaf(["example.com"]) == b"L\x00h\x01\x0bexample.com"


@pytest.mark.parametrize("prog", [b"Y\x01L\x00h", b"Y\x01L\x00h\x01", b"Y\x01L\x00h\x01\x05abc",
                                  b"Y\x01L\x00h\x01\x00", b"Y\x01L\x00h\x01\x03abcextra"])
def test_malformed_host_leaves_grant_nobody(impl: Implementation, prog: bytes) -> None:
    for hstate in (-1, 0, 1):
        assert impl.load("fastpath").peer_granted_host(prog, b"127.0.0.1", hstate, b"abc") is False
