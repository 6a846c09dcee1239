"""Require evaluation: providers and containers as mod_authz_core/mod_authz_host do it."""
from __future__ import annotations

import pytest

from fastcore.modules import mod_authz_core as authz
from fastcore.modules.mod_authz_core import (
    ReqCtx,
    Require,
    RequireGroup,
    authorize,
    parse_ip_spec,
    validate,
)


class FakeResolver:
    """Answers from a table and counts calls, so tests see exactly when DNS is touched."""

    def __init__(self, names: dict[str, str], confirmed: set[str]) -> None:
        self.names = names
        self.confirmed = confirmed
        self.calls: list[tuple[str, bool]] = []

    def reverse(self, ip: str, double: bool) -> str | None:
        self.calls.append((ip, double))
        name = self.names.get(ip)
        if name is None or (double and ip not in self.confirmed):
            return None
        return name


def ctx(ip: str = "10.1.2.3", local: str | None = "10.0.0.1", method: str = "GET",
        resolver: FakeResolver | None = None) -> ReqCtx:
    return ReqCtx(ip, local, method, resolver or FakeResolver({}, set()))


def R(kind: str, *args: str, neg: bool = False) -> Require:
    return Require(kind, tuple(args), neg)


def any_(*items) -> RequireGroup:
    return RequireGroup("any", tuple(items))


def all_(*items) -> RequireGroup:
    return RequireGroup("all", tuple(items))


def none_(*items) -> RequireGroup:
    return RequireGroup("none", tuple(items))


def test_no_require_is_neutral_for_caller_to_grant() -> None:
    assert authorize(ctx(), None) is None
    assert authorize(ctx(), any_()) is None


def test_all_granted_and_denied() -> None:
    assert authorize(ctx(), any_(R("all", "granted"))) is True
    assert authorize(ctx(), any_(R("all", "denied"))) is False


@pytest.mark.parametrize("spec,ip,ok", [
    ("10.1", "10.1.2.3", True),
    ("10.1", "10.10.2.3", False),
    ("10.1.", "10.1.200.3", True),
    ("10.1.2.3", "10.1.2.3", True),
    ("10.1.2.3", "10.1.2.4", False),
    ("10.1.0.0/16", "10.1.255.1", True),
    ("10.1.0.0/16", "10.2.0.1", False),
    ("10.1.0.0/255.255.0.0", "10.1.9.9", True),
    ("10.1.0.0/255.255.0.0", "11.1.9.9", False),
    ("2001:db8::/32", "2001:db8:1::5", True),
    ("2001:db8::/32", "2001:db9::5", False),
    ("::1", "::1", True),
    ("10.1", "::ffff:10.1.0.7", True),  # v4-mapped client matches an IPv4 subnet
    ("10", "2001:db8::1", False),
])
def test_require_ip_forms(spec: str, ip: str, ok: bool) -> None:
    assert authorize(ctx(ip), any_(R("ip", spec))) is ok


@pytest.mark.parametrize("bad", ["10.256", "foo.example.com", "1.2.3.4/33", "1.2.3.4/",
                                 "10.1/16", "::zz", "1.2.3.4.5"])
def test_invalid_ip_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="appears to be invalid"):
        parse_ip_spec(bad)
    with pytest.raises(ValueError):
        validate(R("ip", bad))


def test_validate_rejects_unimplemented_providers() -> None:
    for kind in ("group",):  # valid-user, user: mod_authz_user; expr: core/expr
        with pytest.raises(ValueError, match="Unknown Authz provider"):
            validate(R(kind, "x"))
    with pytest.raises(ValueError):
        validate(R("all", "maybe"))
    with pytest.raises(ValueError):
        validate(R("method", "FETCH"))
    validate(R("method", "get", "POST"))
    validate(R("local"))


def test_local() -> None:
    g = any_(R("local"))
    assert authorize(ctx("127.0.0.1"), g) is True
    assert authorize(ctx("127.9.8.7"), g) is True
    assert authorize(ctx("::1"), g) is True
    assert authorize(ctx("::ffff:127.0.0.1"), g) is True
    assert authorize(ctx("10.0.0.1", local="10.0.0.1"), g) is True  # the server's own address
    assert authorize(ctx("10.0.0.2", local="10.0.0.1"), g) is False


def test_method() -> None:
    g = any_(R("method", "GET", "HEAD"))
    assert authorize(ctx(method="HEAD"), g) is True
    assert authorize(ctx(method="POST"), g) is False


def test_host_double_reverse_and_suffix() -> None:
    res = FakeResolver({"10.1.2.3": "www.example.com", "10.9.9.9": "evil.example.com"},
                       confirmed={"10.1.2.3"})
    g = any_(R("host", "example.com"))
    assert authorize(ctx("10.1.2.3", resolver=res), g) is True
    # reverse says example.com but the forward lookup does not confirm: denied
    assert authorize(ctx("10.9.9.9", resolver=res), g) is False
    # suffix must match whole labels
    res2 = FakeResolver({"10.1.2.3": "badexample.com"}, {"10.1.2.3"})
    assert authorize(ctx("10.1.2.3", resolver=res2), g) is False
    assert authorize(ctx("10.1.2.3", resolver=res2), any_(R("host", "badexample.com"))) is True
    assert authorize(ctx("10.1.2.3", resolver=res2), any_(R("host", "BADexample.COM"))) is True
    # unresolvable client: denied
    assert authorize(ctx("10.7.7.7", resolver=res), g) is False


def test_dns_only_when_require_host_is_reached() -> None:
    res = FakeResolver({"10.1.2.3": "a.example.com"}, {"10.1.2.3"})
    c = ctx("10.1.2.3", resolver=res)
    # ip grants first: the host line is never evaluated -> no lookup
    assert authorize(c, any_(R("ip", "10.1"), R("host", "example.com"))) is True
    assert res.calls == []
    assert authorize(c, any_(R("ip", "10.2"), R("host", "example.com"))) is True
    assert res.calls  # now it was needed
    n = len(res.calls)
    # cached per connection: a second evaluation on the same ctx does no new lookup
    assert authorize(c, any_(R("host", "example.com"))) is True
    assert len(res.calls) == n
    assert c.cached_host() == "a.example.com"


def test_not_and_containers() -> None:
    # RequireAll: granted unless any child denies
    g = all_(R("all", "granted"), R("ip", "10.9", neg=True))
    assert authorize(ctx("10.1.2.3"), g) is True
    assert authorize(ctx("10.9.0.1"), g) is False
    # negation alone never grants: neutral -> denied
    assert authorize(ctx("10.1.2.3"), all_(R("ip", "10.9", neg=True))) is False
    # RequireAny: one granting child suffices
    assert authorize(ctx("10.1.2.3"), any_(R("ip", "10.9"), R("ip", "10.1"))) is True
    assert authorize(ctx("10.1.2.3"), any_(R("ip", "10.9"), R("ip", "10.8"))) is False
    # RequireNone inside RequireAll: denies when any inner line grants
    g = all_(R("all", "granted"), none_(R("ip", "10.9"), R("ip", "10.8")))
    assert authorize(ctx("10.1.2.3"), g) is True
    assert authorize(ctx("10.8.1.1"), g) is False
    assert authorize(ctx("10.9.1.1"), g) is False
    # nested: Any(All(ip 10, not ip 10.5), local)
    g = any_(all_(R("ip", "10"), R("ip", "10.5", neg=True)), R("local"))
    assert authorize(ctx("10.1.1.1"), g) is True
    assert authorize(ctx("10.5.1.1"), g) is False
    assert authorize(ctx("127.0.0.1"), g) is True


def test_in_domain() -> None:
    assert authz.in_domain("example.com", "example.com")
    assert authz.in_domain(".example.com", "www.example.com")
    assert authz.in_domain("example.com", "a.b.example.com")
    assert not authz.in_domain("example.com", "xexample.com")
    assert not authz.in_domain("www.example.com", "example.com")


class ForwardResolver(FakeResolver):
    def __init__(self, fwd: dict[str, frozenset[str]]) -> None:
        super().__init__({}, set())
        self.fwd = fwd

    def forward(self, name: str) -> frozenset[str]:
        self.calls.append((name, False))
        return self.fwd.get(name, frozenset())


def test_forward_dns() -> None:
    res = ForwardResolver({"dyn.example.org": frozenset({"10.1.2.3", "2001:db8::1"})})
    g = any_(R("forward-dns", "nothing.example", "dyn.example.org"))
    assert authorize(ctx("10.1.2.3", resolver=res), g) is True
    assert authorize(ctx("::ffff:10.1.2.3", resolver=res), g) is True
    assert authorize(ctx("10.1.2.4", resolver=res), g) is False
    assert all(not d for _n, d in res.calls)  # forward lookups only, never reverse


def test_env() -> None:
    c = ctx()
    assert authorize(c, any_(R("env", "LET_IN"))) is False
    c.env["LET_IN"] = "1"
    assert authorize(c, any_(R("env", "OTHER", "LET_IN"))) is True
    validate(R("env", "X"))
    with pytest.raises(ValueError):
        validate(R("env"))


def test_local_address_evaluated_lazily_once() -> None:
    """`Require local` grants a client that connects to the server's own (non-loopback)
    address; the connection's getsockname() runs only when that check needs it."""
    calls: list[int] = []

    def sockname() -> tuple[str, int]:
        calls.append(1)
        return ("192.0.2.7", 80)

    rule = RequireGroup("any", (Require("local"),))
    assert authorize(ReqCtx("127.0.0.1", sockname, "GET", None), rule) is True
    assert calls == []  # loopback client: no getsockname
    ctx = ReqCtx("192.0.2.7", sockname, "GET", None)
    assert authorize(ctx, rule) is True and authorize(ctx, rule) is True
    assert calls == [1]
    assert authorize(ReqCtx("192.0.2.8", sockname, "GET", None), rule) is False

    def broken() -> tuple[str, int]:
        raise OSError("socket closed")
    assert authorize(ReqCtx("192.0.2.8", broken, "GET", None), rule) is False
