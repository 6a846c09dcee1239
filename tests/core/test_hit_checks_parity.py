"""Issue 12's per-hit checks, C (src/fc_symlink.h, src/fc_ipmatch.h through
fastcore._fastpath) against their twins (_pure/symlink.py, _pure/ipmatch.py): the same
answers for the same file system and the same addresses, and the Require ip program
agrees with mod_authz_core's own evaluation of the tree it was compiled from."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.twins import IMPLEMENTATIONS, Implementation

from fastcore.core.linkcheck import LinkCheck, encode_links
from fastcore.modules.mod_authz_core.evaluate import (
    GRANTED,
    ReqCtx,
    Require,
    RequireGroup,
    evaluate,
)
from fastcore.modules.mod_authz_core.peer import peer_program

NOBODY = 65534


def _tree(tmp: Path) -> Path:
    """d/ (a directory), d/f (a file), own -> f (same owner), foreign -> f (the link is
    nobody's), dangling -> missing, dirlink -> d."""
    (tmp / "d").mkdir()
    (tmp / "d" / "f").write_text("x")
    os.symlink("d/f", tmp / "own")
    os.symlink("d/f", tmp / "foreign")
    os.lchown(tmp / "foreign", NOBODY, NOBODY)
    os.symlink("missing", tmp / "dangling")
    os.symlink("d", tmp / "dirlink")
    return tmp


def _spec(tmp: Path, *checks: tuple[str, bool]) -> bytes:
    return encode_links(LinkCheck(str(tmp / name), owner) for name, owner in checks)


CASES = [  # (checks, expected)
    ((("d", False), ("d/f", False)), True),          # no symlink anywhere
    ((("own", True),), True),                         # SymLinksIfOwnerMatch, same owner
    ((("own", False),), False),                       # no symlink option: refused
    ((("foreign", True),), False),                    # owners differ
    ((("dangling", True),), False),                   # target not accessible
    ((("dirlink", True), ("dirlink/f", True)), True),  # a directory symlink, same owner
    ((("dirlink", False), ("dirlink/f", False)), False),
    ((("missing", False),), False),                   # a vanished component
    ((("d", False), ("foreign", True)), False),       # the last check decides
    ((), True),
]


@pytest.mark.parametrize("checks,expected", CASES)
def test_links_ok_parity(tmp_path: Path, checks: tuple, expected: bool) -> None:
    root = _tree(tmp_path)
    spec = _spec(root, *checks)
    got = [impl.load("fastpath").links_ok(spec) for impl in IMPLEMENTATIONS]
    assert got == [expected, expected]


@pytest.mark.parametrize("spec", [b"N", b"X/etc\0", b"N\0", b"N/etc", b"O/etc\0N"])
def test_malformed_link_specs_fail_closed(impl: Implementation, spec: bytes) -> None:
    assert impl.load("fastpath").links_ok(spec) is False


def test_links_encoding_checks_a_repeated_component_once(tmp_path: Path) -> None:
    checks = [LinkCheck("/a", True), LinkCheck("/a/b", True), LinkCheck("/a", True)]
    assert encode_links(checks) == b"O/a\0O/a/b\0"


def ip(*args: str, negated: bool = False) -> Require:
    return Require("ip", args, negated)


def ALL(kind: str, *items: Require | RequireGroup) -> RequireGroup:
    return RequireGroup(kind, items)


TREES = [
    ALL("any", ip("127.0.0.1")),
    ALL("any", ip("10.1")),                                   # partial: 10.1.0.0/16
    ALL("any", ip("10.1.")),
    ALL("any", ip("192.168.0.0/255.255.0.0")),                # netmask form
    ALL("any", ip("192.168.4.0/22", "172.16")),
    ALL("any", ip("::1")),
    ALL("any", ip("2001:db8::/32")),
    ALL("any", ip("127.0.0.1"), Require("all", ("denied",))),
    ALL("all", Require("all", ("granted",)), ip("10.0.0.0/8", negated=True)),
    ALL("all", ip("10.0.0.0/8"), ip("10.9.9.9", negated=True)),
    ALL("any", ALL("all", ip("10.0.0.0/8"), ip("10.1.0.0/16", negated=True)), ip("::1")),
    ALL("none", ip("10.0.0.0/8")),                            # never grants
    ALL("any", ALL("none", ip("10.0.0.0/8")), ip("127.0.0.0/8")),
    ALL("all", ip("127.0.0.1", negated=True)),                # neutral: a denial
]
ADDRS = ["127.0.0.1", "127.0.0.2", "10.1.2.3", "10.9.9.9", "10.2.0.1", "192.168.7.7",
         "192.168.5.1", "172.16.0.9", "::1", "2001:db8::5", "2001:db9::1", "::ffff:10.1.2.3",
         "::ffff:127.0.0.1", "fe80::1%eth0", "not-an-address", ""]


@pytest.mark.parametrize("tree", TREES, ids=lambda t: repr(t)[:60])
def test_peer_program_agrees_with_evaluate(tree: RequireGroup) -> None:
    prog = peer_program(tree)
    assert prog is not None
    for addr in ADDRS:
        want = evaluate(ReqCtx(addr, None, "GET", None), tree) == GRANTED
        got = [impl.load("fastpath").peer_granted(prog, addr.encode()) for impl in IMPLEMENTATIONS]
        assert got == [want, want], (addr, got, want)


def test_trees_the_engine_cannot_evaluate_compile_to_none() -> None:
    for tree in (ALL("any", Require("host", ("example.com",))),
                 ALL("any", ip("127.0.0.1"), Require("local")),
                 ALL("any", Require("valid-user")),
                 ALL("any", *[ip(f"10.0.0.{i}") for i in range(256)])):
        assert peer_program(tree) is None


@pytest.mark.parametrize("prog", [b"", b"Y", b"Y\x01", b"Y\x01L\x00i\x01\x04", b"Q\x00",
                                  b"Y\x01L\x00g" + b"extra", b"L\x00x"])
def test_malformed_programs_grant_nobody(impl: Implementation, prog: bytes) -> None:
    assert impl.load("fastpath").peer_granted(prog, b"127.0.0.1") is False


ACCESS_RULES = [  # (allows, denys)
    (["127.0.0.1"], []),
    ([], ["127.0.0.1"]),
    (["10.1"], ["10.1.2"]),
    (["192.168.0.0/255.255.0.0"], ["192.168.5.0/24"]),
    (["all"], ["10.0.0.0/8"]),
    (["10.0.0.0/8"], ["all"]),
    (["::1", "2001:db8::/32"], ["2001:db8:1::/48"]),
    (["127.0.0.1", "all"], []),
]


@pytest.mark.parametrize("order", ["deny,allow", "allow,deny", "mutual-failure"])
@pytest.mark.parametrize("allows,denys", ACCESS_RULES)
def test_access_compat_rule_agrees_with_passes(order: str, allows: list[str],
                                               denys: list[str]) -> None:
    """mod_access_compat's Order/Allow/Deny of addresses, compiled for the hits, grants
    exactly the clients check_dir_access lets through."""
    from types import SimpleNamespace

    from fastcore.modules.mod_access_compat import AccessCompatDir, parse_rule, passes, peer_rule

    rec = AccessCompatDir(order, [parse_rule(a) for a in allows], [parse_rule(d) for d in denys])
    prog = peer_rule(rec)
    assert prog is not None
    for addr in ADDRS:
        want = passes(SimpleNamespace(client_ip=addr, env={}), rec)  # type: ignore[arg-type]
        got = [impl.load("fastpath").peer_granted(prog, addr.encode()) for impl in IMPLEMENTATIONS]
        assert got == [want, want], (addr, got, want)


def test_access_compat_names_and_env_stay_out() -> None:
    from fastcore.modules.mod_access_compat import AccessCompatDir, parse_rule, peer_rule

    for where in ("example.com", "env=FOO", "env=!FOO"):
        assert peer_rule(AccessCompatDir("deny,allow", [parse_rule("10.1")],
                                         [parse_rule(where)])) is None
