"""The keep-alive rule exists once in Python (fastcore/core/keepalive.py) and once in C
(fc_keepalive in fastcore/src/fc_keepalive.h): on generated inputs both keep or close
alike and send the same Connection/Keep-Alive bytes.  The examples pin Apache's rule
(measured against real Apache in tests/integration/test_keepalive_vs_apache.py)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastcore import _fastpath as c_fastpath
from fastcore._pure import fastpath as pure_fastpath
from fastcore.core.keepalive import KeepAliveDecision, KeepAliveInput, decide

STATUSES = st.sampled_from([200, 204, 206, 301, 304, 400, 403, 404, 405, 408, 411, 412, 413,
                            414, 416, 417, 500, 501, 503]) | st.integers(100, 599)
INPUTS = st.builds(
    KeepAliveInput, http11=st.booleans(), close_token=st.booleans(), ka_token=st.booleans(),
    status=STATUSES, delimited=st.booleans(), forced_close=st.booleans(),
    framing_reusable=st.booleans(), unanswered_continue=st.booleans(),
    keep_alive=st.booleans(),
    max_requests=st.integers(-1, 5) | st.integers(0, 1 << 31),
    requests=st.integers(0, 6) | st.integers(0, 1 << 31),
    timeout=st.integers(0, 5) | st.integers(0, (1 << 31) - 1), draining=st.booleans())


@settings(max_examples=3000, derandomize=True, database=None)
@given(i=INPUTS)
def test_c_rule_and_python_rule_agree(i: KeepAliveInput) -> None:
    assert c_fastpath.keepalive_decision(i) == decide(i)


@settings(max_examples=300, derandomize=True, database=None)
@given(i=INPUTS)
def test_pure_twin_uses_the_python_rule(i: KeepAliveInput) -> None:
    assert pure_fastpath.keepalive_decision(i) == decide(i)


KA_100 = b"Keep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\n"
CLOSE = b"Connection: close\r\n"


@pytest.mark.parametrize("impl", [decide, c_fastpath.keepalive_decision])
@pytest.mark.parametrize("i,expected", [
    (KeepAliveInput(True, False, False), KeepAliveDecision(True, b"")),  # plain HTTP/1.1
    (KeepAliveInput(True, False, True), KeepAliveDecision(True, KA_100)),
    (KeepAliveInput(False, False, False), KeepAliveDecision(False, CLOSE)),  # HTTP/1.0
    (KeepAliveInput(False, False, True), KeepAliveDecision(True, KA_100)),
    (KeepAliveInput(True, True, True), KeepAliveDecision(False, CLOSE)),  # close wins
    (KeepAliveInput(True, False, True, status=400), KeepAliveDecision(False, CLOSE)),
    (KeepAliveInput(True, False, True, status=404), KeepAliveDecision(True, KA_100)),
    (KeepAliveInput(True, False, True, delimited=False), KeepAliveDecision(False, CLOSE)),
    (KeepAliveInput(True, False, True, draining=True), KeepAliveDecision(False, CLOSE)),
    (KeepAliveInput(True, False, True, unanswered_continue=True), KeepAliveDecision(False, CLOSE)),
    (KeepAliveInput(True, False, True, requests=99), KeepAliveDecision(
        True, b"Keep-Alive: timeout=5, max=1\r\nConnection: Keep-Alive\r\n")),  # max=1 kept
    (KeepAliveInput(True, False, True, requests=100), KeepAliveDecision(False, CLOSE)),
    (KeepAliveInput(True, False, True, max_requests=0, requests=10**6, timeout=15),
     KeepAliveDecision(True, b"Keep-Alive: timeout=15\r\nConnection: Keep-Alive\r\n")),
    (KeepAliveInput(True, False, True, keep_alive=False), KeepAliveDecision(False, CLOSE)),
])
def test_apache_rule_examples(impl, i: KeepAliveInput, expected: KeepAliveDecision) -> None:  # noqa: ANN001
    assert impl(i) == expected
