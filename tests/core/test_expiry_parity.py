"""mod_expires' fields on a cache hit: the C engine (fc_expiry_fields in src/fc_expires.h),
its pure twin and core/cacheable.py give the same bytes for the same rule and time, and
those bytes are mod_expires' arithmetic (an instant already past is the request time)."""
from __future__ import annotations

import calendar
import email.utils
import random
import re

import pytest
from support.twins import IMPLEMENTATIONS

from fastcore.core.cacheable import (
    EXPIRES_ACCESS,
    EXPIRES_AT,
    EXPIRES_NONE,
    expiry_fields,
)

FIELDS = re.compile(rb"Cache-Control: max-age=(\d+)\r\nExpires: ([^\r]+)\r\n")
NOW_US = 1_796_000_000_123_456  # late 2026, with a sub-second part


def _cases() -> list[tuple[int, int, int]]:
    rnd = random.Random(1234)
    out = [(EXPIRES_ACCESS, 0, NOW_US), (EXPIRES_ACCESS, 2**31 - 1, NOW_US),
           (EXPIRES_ACCESS, -5, NOW_US), (EXPIRES_AT, NOW_US - 1, NOW_US),
           (EXPIRES_AT, NOW_US, NOW_US), (EXPIRES_AT, NOW_US + 999_999, NOW_US),
           (EXPIRES_AT, NOW_US + 1_000_000, NOW_US), (EXPIRES_AT, 0, NOW_US),
           (EXPIRES_NONE, 5, NOW_US)]
    for _ in range(400):
        now = rnd.randrange(0, 4_000_000_000) * 1_000_000 + rnd.randrange(1_000_000)
        if rnd.random() < 0.5:
            out.append((EXPIRES_ACCESS, rnd.randrange(-10**6, 2**31), now))
        else:
            out.append((EXPIRES_AT, now + rnd.randrange(-10**12, 10**15), now))
    return out


@pytest.mark.parametrize("kind,value,now", _cases()[:9])
def test_edges_follow_mod_expires(kind: int, value: int, now: int) -> None:
    got = expiry_fields(kind, value, now)
    if kind == EXPIRES_NONE:
        assert got == b""
        return
    m = FIELDS.fullmatch(got)
    assert m is not None, got
    age, at = int(m.group(1)), calendar.timegm(email.utils.parsedate(m.group(2).decode()))
    expires_us = now + value * 1_000_000 if kind == EXPIRES_ACCESS else value
    if expires_us < now:  # past: the request time itself
        assert (age, at) == (0, now // 1_000_000)
    else:
        assert age == (expires_us - now) // 1_000_000
        assert at == expires_us // 1_000_000


def test_engine_twin_and_python_give_the_same_bytes() -> None:
    cases = _cases()
    engines = [impl.load("fastpath") for impl in IMPLEMENTATIONS]
    assert {e.IMPLEMENTATION for e in engines} == {"cython", "pure"}
    for kind, value, now in cases:
        want = expiry_fields(kind, value, now)
        for eng in engines:
            assert eng.expiry_fields(kind, value, now) == want, (eng.IMPLEMENTATION, kind, value)
    # the C side's per-second date memo must not leak from one value into another
    c = engines[0] if engines[0].IMPLEMENTATION == "cython" else engines[1]
    a = c.expiry_fields(EXPIRES_ACCESS, 10, NOW_US)
    b = c.expiry_fields(EXPIRES_ACCESS, 11, NOW_US)
    assert a != b and c.expiry_fields(EXPIRES_ACCESS, 10, NOW_US) == a
