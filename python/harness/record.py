"""The harness's raw figures as JSON, beside its markdown: what python/charts.py draws.

One document per run: {"kind": "loadtest" | "scenarios", "date", "machine", "command",
"rows": [...]}, each row one (mode, server, workload or scenario) with every round's wrk
figures, so a chart can show medians and spread without re-running anything.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable

from harness import report
from harness.workloads import WrkResult


@dataclasses.dataclass
class Row:
    """One cell of a run: every round of one server on one workload or scenario."""

    mode: str
    server: str
    key: str
    title: str
    rounds: list[dict[str, float]]
    bytes_metric: bool = False
    syscalls: float | None = None
    recommended: bool = False


def rounds(results: Iterable[WrkResult]) -> list[dict[str, float]]:
    """The figures of each wrk round a chart needs."""
    return [{"rps": r.rps, "bytes_per_s": r.bytes_per_s, "p50_ms": r.p50_ms,
             "p99_ms": r.p99_ms, "errors": float(r.errors)} for r in results]


def write(path: str, kind: str, command: str, rows: list[Row]) -> None:
    """Write the run's document to path (its folder created)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    doc = {"kind": kind, "date": report.now_utc(), "machine": report.machine(),
           "command": command, "rows": [dataclasses.asdict(r) for r in rows]}
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=1)
    print(f"figures written to {path}")
