"""Accept-mutex microbenchmarks: lock+unlock ns per pair for every mechanism.

The extension's figure comes from a nogil C loop inside fastcore._accept (bench_lock); the
twin's from a Python loop. "1 proc" is uncontended; "2 procs" forks two processes pinned to
CPUs 0 and 1 that hammer the same mutex (aggregate: wall time / all pairs), like
/work/shared/limits/counters.c. As tests (--benchmark-disable) they run small counts.

    pytest tests/bench/test_bench_mutex.py --benchmark-only      # pytest-benchmark table
    python tests/bench/test_bench_mutex.py [rounds]              # markdown table, medians
"""
from __future__ import annotations

import importlib
import os
import select
import statistics
import struct
import sys
import tempfile
import time
from types import ModuleType

import pytest

IMPLS = ["fastcore._accept", "fastcore._pure.accept"]
MECHS = ["pthread", "posixsem", "sysvsem", "flock", "fcntl", "none"]
# pairs per run: enough for ~50-100 ms per run in the extension; the twin is ~100x slower
COUNTS = {"pthread": 1_000_000, "posixsem": 1_000_000, "none": 1_000_000,
          "sysvsem": 200_000, "flock": 200_000, "fcntl": 100_000}


def count(impl: str, mech: str, quick: bool) -> int:
    n = COUNTS[mech] if impl == "fastcore._accept" else COUNTS[mech] // 50
    return max(200, n // 100) if quick else n


def contended(mod: ModuleType, m, n: int, nproc: int = 2) -> float:
    """nproc processes (pinned to CPUs 0..1) lock+unlock n times each; wall ns / all pairs."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pids = []
    for i in range(nproc):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 1
            try:
                try:
                    os.sched_setaffinity(0, {i % os.cpu_count()})
                except OSError:
                    pass
                m.child_init()
                os.write(ready_w, b"r")
                select.select([go_r], [], [], 30)
                ns = mod.bench_lock(m, n)
                os.write(res_w, struct.pack("d", ns))
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    try:
        for _ in range(nproc):
            assert select.select([ready_r], [], [], 30)[0]
            os.read(ready_r, 1)
        t0 = time.perf_counter_ns()
        os.write(go_w, b"g")
        for _ in range(nproc):
            assert select.select([res_r], [], [], 120)[0], "benchmark child hung"
            per_proc = struct.unpack("d", os.read(res_r, 8))[0]
            assert per_proc > 0
        wall = time.perf_counter_ns() - t0
    finally:
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
        for fd in (ready_r, ready_w, go_r, go_w, res_r, res_w):
            os.close(fd)
    return wall / (nproc * n)


@pytest.fixture(params=IMPLS, ids=["cython", "pure"])
def acc(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


@pytest.mark.parametrize("mech", MECHS)
def test_bench_lock_uncontended(benchmark, acc: ModuleType, tmp_path, mech: str) -> None:
    m = acc.AcceptMutex(mech, str(tmp_path))
    n = count(acc.__name__, mech, benchmark.disabled)
    try:
        ns = benchmark.pedantic(acc.bench_lock, args=(m, n), rounds=3, iterations=1)
        benchmark.extra_info.update(mechanism=mech, pairs=n, ns_per_pair=ns)
        assert 0 < ns < 1e9
        assert m.holder == 0
    finally:
        m.destroy()


@pytest.mark.parametrize("mech", MECHS)
def test_bench_lock_two_processes(benchmark, acc: ModuleType, tmp_path, mech: str) -> None:
    m = acc.AcceptMutex(mech, str(tmp_path))
    n = count(acc.__name__, mech, benchmark.disabled) // 2
    try:
        ns = benchmark.pedantic(contended, args=(acc, m, n), rounds=3, iterations=1)
        benchmark.extra_info.update(mechanism=mech, pairs=2 * n, ns_per_pair=ns)
        assert 0 < ns < 1e9
    finally:
        m.destroy()


def main(rounds: int = 5) -> None:
    """Markdown table of medians (ns per lock+unlock pair), extension vs twin."""
    mods = [importlib.import_module(name) for name in IMPLS]
    print(f"rounds={rounds}, cpus={os.cpu_count()}, default={mods[0].DEFAULT_MECHANISM}\n")
    print("| mechanism | procs | extension ns/pair (median) | min..max | twin ns/pair (median) "
          "| twin / extension |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mech in MECHS:
            for procs in (1, 2):
                row = []
                for mod in mods:
                    m = mod.AcceptMutex(mech, tmp)
                    n = count(mod.__name__, mech, False)
                    runs = []
                    for _ in range(rounds):
                        runs.append(mod.bench_lock(m, n) if procs == 1
                                    else contended(mod, m, n // 2))
                    m.destroy()
                    row.append(runs)
                ext, twin = (statistics.median(r) for r in row)
                print(f"| {mech} | {procs} | {ext:.1f} | {min(row[0]):.1f}..{max(row[0]):.1f} "
                      f"| {twin:.0f} | {twin / ext:.0f}x |", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
