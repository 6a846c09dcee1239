"""Send strategies: ns per header + 10240-byte response, looped inside the extension.

Each benchmark round runs N responses in a C loop over a loopback TCP pair (sender on CPU 0,
a draining reader thread on CPU 1, like /work/shared/limits/sendstrat.c "stream NODELAY");
extra_info["ns_per_response"] is the figure.  The plain-C program is compiled and run in the
same session for the ratio, and the pure-Python twin for the speedup.
"""
from __future__ import annotations

import importlib
import os
import re
import subprocess

import pytest

ext = importlib.import_module("fastcore._sendfile")
pure = importlib.import_module("fastcore._pure.sendfile")
SENDSTRAT = "/work/shared/limits/sendstrat.c"
N = 20000
HDR = (b"HTTP/1.1 200 OK\r\nServer: fc\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
       b"Content-Type: text/html\r\nContent-Length: 10240\r\n"
       b"Last-Modified: Thu, 01 Jan 2026 00:00:00 GMT\r\nConnection: keep-alive\r\n"
       b"Accept-Ranges: bytes\r\n\r\n")  # 208 bytes, as sendstrat.c
CPUS = (0, 1) if len(os.sched_getaffinity(0)) >= 2 else (-1, -1)
# (our strategy, body in memory?, sendstrat.c letter for the same syscalls)
CASES = {
    "writev-mem": ("writev", True, "b"),
    "writev-mmap": ("writev", False, "g"),
    "sendfile": ("sendfile", False, "d"),
    "cork": ("cork", False, "e"),
    "readwrite": ("readwrite", False, None),
    "auto-file": ("auto", False, None),
}


@pytest.fixture(scope="module")
def tenk(tmp_path_factory):
    p = tmp_path_factory.mktemp("bench") / "10k.html"
    p.write_bytes(bytes(97 + i % 26 for i in range(10240)))
    fd = os.open(p, os.O_RDONLY)
    yield fd, p.read_bytes()
    os.close(fd)


@pytest.fixture(scope="module")
def sendstrat(tmp_path_factory):
    d = tmp_path_factory.mktemp("limits")
    exe = d / "sendstrat"
    subprocess.run(["gcc", "-O2", "-o", str(exe), SENDSTRAT], check=True, timeout=120)
    os.makedirs("/tmp/fc-limits", exist_ok=True)
    return str(exe)


def run_c(exe: str, letter: str, size: int = 10240, n: int = N) -> float:
    out = subprocess.run([exe, "one", letter, str(size), "0", "1", str(n)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert " ok" in out, out
    return float(re.search(r": (\d+) ns/resp", out).group(1))


@pytest.mark.parametrize("case", list(CASES))
def test_bench_send_extension(benchmark, tenk, case):
    fd, body = tenk
    strategy, mem, _ = CASES[case]
    ns = []
    benchmark.pedantic(lambda: ns.append(ext.bench_send(
        strategy, HDR, fd, 10240, N, body if mem else None, *CPUS)), rounds=5, iterations=1)
    ns.sort()
    benchmark.extra_info.update(ns_per_response=ns[len(ns) // 2], runs=ns, responses=N)
    assert ns[0] > 0


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][2]])
def test_bench_send_plain_c(benchmark, sendstrat, case):
    letter = CASES[case][2]
    ns = []
    benchmark.pedantic(lambda: ns.append(run_c(sendstrat, letter)), rounds=5, iterations=1)
    ns.sort()
    benchmark.extra_info.update(ns_per_response=ns[len(ns) // 2], runs=ns, sendstrat=letter)
    assert ns[0] > 0


@pytest.mark.parametrize("case", ["writev-mem", "sendfile", "readwrite"])
def test_bench_send_twin(benchmark, tenk, case):
    fd, body = tenk
    strategy, mem, _ = CASES[case]
    ns = []
    benchmark.pedantic(lambda: ns.append(pure.bench_send(
        strategy, HDR, fd, 10240, N // 10, body if mem else None, *CPUS)), rounds=3, iterations=1)
    ns.sort()
    benchmark.extra_info.update(ns_per_response=ns[len(ns) // 2], runs=ns, responses=N // 10)
    assert ns[0] > 0


@pytest.mark.parametrize("size", [16384, 65536, 262144, 1048576])
@pytest.mark.parametrize("strategy", ["readwrite", "sendfile", "writev-mem"])
def test_bench_send_crossover(benchmark, tmp_path, strategy, size):
    """Where sendfile overtakes a copy through user space (sets auto's threshold)."""
    p = tmp_path / "f.bin"
    p.write_bytes(os.urandom(size))
    fd = os.open(p, os.O_RDONLY)
    hdr = HDR.replace(b"10240", str(size).encode())
    body = p.read_bytes() if strategy == "writev-mem" else None
    n = max(200, 20000 * 10240 // size)
    ns = []
    try:
        benchmark.pedantic(lambda: ns.append(ext.bench_send(
            strategy.split("-")[0], hdr, fd, size, n, body, *CPUS)), rounds=3, iterations=1)
    finally:
        os.close(fd)
    ns.sort()
    benchmark.extra_info.update(ns_per_response=ns[len(ns) // 2], runs=ns, size=size)
    assert ns[0] > 0


def _table(rounds: int = 7) -> str:
    """Interleaved side-by-side run (extension, plain C, twin) -> markdown; for docs/bench."""
    import statistics
    import tempfile

    tmp = tempfile.mkdtemp()
    exe = os.path.join(tmp, "sendstrat")
    subprocess.run(["gcc", "-O2", "-o", exe, SENDSTRAT], check=True, timeout=120)
    os.makedirs("/tmp/fc-limits", exist_ok=True)
    path = os.path.join(tmp, "10k.html")
    with open(path, "wb") as fh:
        fh.write(bytes(97 + i % 26 for i in range(10240)))
    fd = os.open(path, os.O_RDONLY)
    body = open(path, "rb").read()
    res: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(rounds):
            for case, (strategy, mem, letter) in CASES.items():
                res.setdefault((case, "ext"), []).append(
                    ext.bench_send(strategy, HDR, fd, 10240, N, body if mem else None, *CPUS))
                if letter:
                    res.setdefault((case, "c"), []).append(run_c(exe, letter))
                if case in ("writev-mem", "sendfile", "readwrite"):
                    res.setdefault((case, "twin"), []).append(pure.bench_send(
                        strategy, HDR, fd, 10240, N // 10, body if mem else None, *CPUS))
    finally:
        os.close(fd)
    lines = ["| strategy | extension us/resp (median, min-max) | plain C us/resp (median) | ext/C |"
             " twin us/resp | ext speedup over twin |", "|---|---|---|---|---|---|"]
    for case in CASES:
        e = res[(case, "ext")]
        me = statistics.median(e)
        c = res.get((case, "c"))
        t = res.get((case, "twin"))
        mc = statistics.median(c) if c else None
        mt = statistics.median(t) if t else None
        lines.append(
            f"| {case} | {me / 1000:.2f} ({min(e) / 1000:.2f}-{max(e) / 1000:.2f}) | "
            f"{f'{mc / 1000:.2f}' if mc else '-'} | {f'{me / mc:.2f}' if mc else '-'} | "
            f"{f'{mt / 1000:.1f}' if mt else '-'} | {f'{mt / me:.1f}x' if mt else '-'} |")
    return "\n".join(lines)


def _crossover(rounds: int = 5) -> str:
    import statistics
    import tempfile

    tmp = tempfile.mkdtemp()
    lines = ["| body bytes | readwrite us | sendfile us | cork us | writev (memory) us |",
             "|---|---|---|---|---|"]
    for size in (4096, 10240, 32768, 65536, 131072, 262144, 1048576):
        path = os.path.join(tmp, f"f{size}")
        with open(path, "wb") as fh:
            fh.write(os.urandom(size))
        fd = os.open(path, os.O_RDONLY)
        body = open(path, "rb").read()
        hdr = HDR.replace(b"10240", str(size).encode())
        n = max(300, 20000 * 10240 // size)
        r: dict[str, list[float]] = {}
        try:
            for _ in range(rounds):
                for name, strategy, b in (("readwrite", "readwrite", None),
                                          ("sendfile", "sendfile", None),
                                          ("cork", "cork", None), ("writev", "writev", body)):
                    r.setdefault(name, []).append(ext.bench_send(strategy, hdr, fd, size, n, b, *CPUS))
        finally:
            os.close(fd)
        med = {k: statistics.median(v) / 1000 for k, v in r.items()}
        lines.append(f"| {size} | {med['readwrite']:.1f} | {med['sendfile']:.1f} | "
                     f"{med['cork']:.1f} | {med['writev']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(_crossover() if "--crossover" in sys.argv else _table())
