"""The issue's workloads, driven by wrk (throughput/latency) and ab (fixed request counts).

wrk output is parsed into requests/s, bytes/s, p50/p99 and errors (socket errors of all
kinds plus non-2xx/3xx responses). Every subprocess has a timeout: a stuck server costs
at most duration + grace seconds, never a hang.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

WRK = "/usr/bin/wrk"
AB = "/usr/bin/ab"
WRK_TIMEOUT = "2s"  # wrk's per-request timeout; a timed-out request counts as an error


@dataclass(frozen=True)
class Workload:
    """One wrk run shape."""

    key: str
    title: str
    path: str
    connections: int
    close: bool = False  # Connection: close -> a new TCP connection per request
    bytes_metric: bool = False  # MB/s is the headline figure
    headers: tuple[str, ...] = ()  # request header lines wrk sends ("Name: value")


WORKLOADS = (
    Workload("10k-ka", "10240-byte file, keep-alive, 64 connections", "10k.html", 64),
    Workload("10k-close", "10240-byte file, new connection per request (Connection: close), 64 connections",
             "10k.html", 64, close=True),
    Workload("100-ka", "100-byte file, keep-alive, 64 connections", "100.html", 64),
    Workload("1m-ka", "1 MiB file, keep-alive, 64 connections (MB/s)", "1m.html", 64, bytes_metric=True),
    Workload("1m-c16", "1 MiB file, keep-alive, 16 connections (MB/s; issue 12's large-file run)",
             "1m.html", 16, bytes_metric=True),
    Workload("10k-c1000", "10240-byte file, keep-alive, 1000 concurrent connections", "10k.html", 1000),
)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    bytes_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_detail: str
    command: str


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def _size(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)([KMGT]?B)", text)
    if not m:
        raise ValueError(f"bad wrk size {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"bad wrk time {text!r}")
    return float(m.group(1)) * _TIME[m.group(2)]


def parse_wrk(out: str, command: str = "") -> WrkResult:
    """Parse `wrk --latency` text output."""
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),\s+(\S+) read", out)
    if not m:
        raise ValueError("wrk output has no summary line:\n" + out[-500:])
    requests = int(m.group(1))
    seconds = _ms(m.group(2) + m.group(3)) / 1000.0
    total_bytes = _size(m.group(4))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errs = 0
    detail = []
    se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if se:
        names = ("connect", "read", "write", "timeout")
        for name, v in zip(names, se.groups(), strict=True):
            if int(v):
                detail.append(f"{name} {v}")
                errs += int(v)
    nx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if nx:
        errs += int(nx.group(1))
        detail.append(f"non-2xx {nx.group(1)}")
    rps = requests / seconds if seconds else 0.0
    return WrkResult(requests, seconds, rps, total_bytes / seconds if seconds else 0.0,
                     _ms(p50.group(1)) if p50 else float("nan"),
                     _ms(p99.group(1)) if p99 else float("nan"),
                     errs, ", ".join(detail), command)


def wrk_command(w: Workload, port: int, duration: float, pin_cpu: int | None) -> list[str]:
    cmd = [WRK, "-t1", f"-c{w.connections}", f"-d{max(1, round(duration))}s", "--latency",
           "--timeout", WRK_TIMEOUT]
    if w.close:
        cmd += ["-H", "Connection: close"]
    for h in w.headers:
        cmd += ["-H", h]
    cmd.append(f"http://127.0.0.1:{port}/{w.path}")
    if pin_cpu is not None:
        cmd = ["taskset", "-c", str(pin_cpu)] + cmd
    return cmd


def run_wrk(w: Workload, port: int, duration: float, pin_cpu: int | None) -> WrkResult:
    cmd = wrk_command(w, port, duration, pin_cpu)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stderr.strip()[-300:]}")
    return parse_wrk(p.stdout, " ".join(cmd))


def run_ab(port: int, path: str, n: int, concurrency: int, keepalive: bool,
           timeout: float = 120.0, pin_cpu: int | None = None,
           headers: tuple[str, ...] = ()) -> tuple[int, int]:
    """ab -n N -c C [-k] [-H field]...; returns (complete requests, failed + non-2xx)."""
    cmd = [AB, "-q", "-n", str(n), "-c", str(concurrency), "-s", "10"]
    if keepalive:
        cmd.append("-k")
    for field in headers:
        cmd += ["-H", field]
    cmd.append(f"http://127.0.0.1:{port}/{path}")
    if pin_cpu is not None:
        cmd = ["taskset", "-c", str(pin_cpu)] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"ab failed ({p.returncode}): {(p.stderr or p.stdout).strip()[-300:]}")
    done = re.search(r"Complete requests:\s+(\d+)", p.stdout)
    failed = re.search(r"Failed requests:\s+(\d+)", p.stdout)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", p.stdout)
    return (int(done.group(1)) if done else 0,
            (int(failed.group(1)) if failed else 0) + (int(non2xx.group(1)) if non2xx else 0))
