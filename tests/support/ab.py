"""Apache's load generator `ab`: run it (to completion or in the background) and parse
what it counts, for the MPM load, restart and recovery tests."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field


@dataclass
class AbResult:
    complete: int
    failed: int
    non2xx: int
    rps: float
    output: str
    breakdown: dict[str, int] = field(default_factory=dict)

    @property
    def failed_connections(self) -> int:
        """ab counts one broken connection under several headings (Receive, Length,
        Exceptions); the largest heading bounds the connections that broke."""
        return max(self.breakdown.values(), default=0) if self.failed else 0


def ab_command(port: int, n: int, c: int, keepalive: bool, path: str = "/") -> list[str]:
    cmd = ["ab", "-q", "-r", "-s", "20", "-n", str(n), "-c", str(c)]
    if keepalive:
        cmd.append("-k")
    return cmd + [f"http://127.0.0.1:{port}{path}"]


def parse_ab(out: str) -> AbResult:
    def num(label: str, cast=int, default=0):
        m = re.search(rf"^{label}:\s+([\d.]+)", out, re.M)
        return cast(m.group(1)) if m else default

    m = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)", out)
    kinds = ("connect", "receive", "length", "exceptions")
    breakdown = dict(zip(kinds, map(int, m.groups()), strict=True)) if m else {}
    return AbResult(num("Complete requests"), num("Failed requests"),
                    num("Non-2xx responses"), num("Requests per second", float, 0.0), out,
                    breakdown)


def ab(port: int, n: int, c: int, keepalive: bool = False, path: str = "/") -> AbResult:
    """Run ab to completion (bounded by a timeout) and parse its counts."""
    proc = subprocess.run(ab_command(port, n, c, keepalive, path), capture_output=True,
                          text=True, timeout=120)
    return parse_ab(proc.stdout + proc.stderr)


def start_ab(port: int, n: int, c: int, keepalive: bool = False) -> subprocess.Popen:
    return subprocess.Popen(ab_command(port, n, c, keepalive), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish_ab(proc: subprocess.Popen) -> AbResult:
    out, _ = proc.communicate(timeout=120)
    return parse_ab(out)
