"""Scoreboard counter increments, measured inside the extension (a nogil C loop).

pytest-benchmark times each call of many increments; the figure that matters, ns per
increment, is measured by the module itself and stored in extra_info["ns_per_op"] (see
--benchmark-json), with the build's ATOMICS_MODE and the speedup over the pure-Python twin.
python/compare_builds.py compares the portable and nonportable builds side by side.
With --benchmark-disable every benchmark runs once, as a plain test of exact counting.
"""
from __future__ import annotations

import importlib
import statistics
from types import ModuleType

import pytest

EXT = "fastcore._scoreboard"
TWIN = "fastcore._pure.scoreboard"
N = {EXT: 2_000_000, TWIN: 5_000}


def _mod(name: str) -> ModuleType:
    return importlib.import_module(name)


def _record(benchmark, mod: ModuleType, figures: list[float]) -> float:  # type: ignore[no-untyped-def]
    ns = statistics.median(figures)
    benchmark.extra_info["ns_per_op"] = round(ns, 2)
    benchmark.extra_info["atomics_mode"] = mod.ATOMICS_MODE
    print(f"\n{mod.__name__} [{mod.ATOMICS_MODE}]: {ns:.1f} ns/op")
    return ns


@pytest.mark.parametrize("name", [EXT, TWIN], ids=["cython", "pure"])
def test_increment_one_process(benchmark, name: str) -> None:  # type: ignore[no-untyped-def]
    mod = _mod(name)
    sb = mod.Scoreboard(1, 1)
    n = N[name]
    figures: list[float] = []
    benchmark.pedantic(lambda: figures.append(mod.bench_increment(sb, mod.BYTES, n)),
                       rounds=5, iterations=1)
    assert sb.get(mod.BYTES) == n * len(figures)
    assert _record(benchmark, mod, figures) > 0


@pytest.mark.parametrize("name", [EXT, TWIN], ids=["cython", "pure"])
def test_increment_two_processes_contending(benchmark, name: str) -> None:  # type: ignore[no-untyped-def]
    """Two forked processes, one per CPU, increment the same counter; aggregate ns/op."""
    mod = _mod(name)
    sb = mod.Scoreboard(2, 1)
    n = N[name] // 2
    figures: list[float] = []
    benchmark.pedantic(lambda: figures.append(mod.bench_contended(sb, mod.BYTES, 2, n)[0]),
                       rounds=5, iterations=1)
    assert sb.get(mod.BYTES) == 2 * n * len(figures)
    assert _record(benchmark, mod, figures) > 0


def test_speedup_over_twin(benchmark) -> None:  # type: ignore[no-untyped-def]
    """The extension's increment against the twin's, measured in the same run."""
    ext, twin = _mod(EXT), _mod(TWIN)
    sb_ext, sb_twin = ext.Scoreboard(1, 1), twin.Scoreboard(1, 1)
    figures: list[float] = []
    benchmark.pedantic(lambda: figures.append(ext.bench_increment(sb_ext, ext.ACCESSES, N[EXT])),
                       rounds=3, iterations=1)
    twin_ns = twin.bench_increment(sb_twin, twin.ACCESSES, N[TWIN])
    ext_ns = _record(benchmark, ext, figures)
    benchmark.extra_info["twin_ns_per_op"] = round(twin_ns, 1)
    benchmark.extra_info["speedup_vs_twin"] = round(twin_ns / ext_ns, 1)
    print(f"speedup over the pure-Python twin: {twin_ns / ext_ns:.0f}x")
    assert sb_ext.get(ext.ACCESSES) == N[EXT] * len(figures)
    assert sb_twin.get(twin.ACCESSES) == N[TWIN]
