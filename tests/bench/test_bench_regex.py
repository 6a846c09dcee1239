"""Configuration regexes (PCRE2): ns per match through the Cython binding and through its
ctypes twin, on a LocationMatch-like pattern against a typical URI path."""
from __future__ import annotations

import importlib
import time

import pytest

BINDINGS = {"extension": importlib.import_module("fastcore._pcre"),
            "twin": importlib.import_module("fastcore._pure.pcre")}
PATTERN = rb"^/(?<area>assets|static)/.+\.(?:css|js)$"
SUBJECT = b"/assets/css/site.min.css"
OPTS = 0x40 | 0x20 | 0x10  # DUPNAMES | DOTALL | DOLLAR_ENDONLY, Apache's


def _loop(code, n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        code.exec(SUBJECT)
    return (time.perf_counter_ns() - t0) / n


@pytest.mark.parametrize("binding", list(BINDINGS))
def test_bench_regex_match(benchmark, binding: str) -> None:
    code = BINDINGS[binding].Code(PATTERN, OPTS)
    assert code.exec(SUBJECT) is not None
    ns: list[float] = []
    benchmark.pedantic(lambda: ns.append(_loop(code, 20_000)), rounds=5, iterations=1)
    ns.sort()
    benchmark.extra_info.update(ns_per_op=ns[len(ns) // 2], runs=ns)
    assert ns[0] > 0
