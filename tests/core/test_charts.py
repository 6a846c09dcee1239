"""python/charts.py draws the harness's JSON (loadtest.py --json) as PNG charts: one
throughput and one latency chart per pinning mode for a plain run, one ratio chart per
mode for a scenario run; a run with no rounds draws nothing and says so by its exit."""
from __future__ import annotations

import json
import os
import struct

import charts
from harness import record
from harness.workloads import WrkResult


def _wrk(rps: float) -> WrkResult:
    return WrkResult(int(rps * 3), 3.0, rps, rps * 10240, 0.5, 2.0 + rps / 1e5, 0, "", "wrk")


def _png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_loadtest_run_draws_throughput_and_latency_per_mode(tmp_path) -> None:
    rows = [record.Row(mode, srv, key, key, record.rounds([_wrk(v), _wrk(v * 1.1)]),
                       bytes_metric=key == "1m-ka")
            for mode in ("pinned", "unpinned")
            for srv, v in (("fastcore-event", 40000.0), ("apache-event", 11000.0))
            for key in ("10k-ka", "1m-ka")]
    src = tmp_path / "run.json"
    record.write(str(src), "loadtest", "python3 python/loadtest.py --json run.json", rows)
    assert json.loads(src.read_text())["rows"][0]["rounds"][0]["rps"] == 40000.0
    assert charts.main([str(src), "--out", str(tmp_path / "png")]) == 0
    names = sorted(os.listdir(tmp_path / "png"))
    assert names == ["latency-pinned.png", "latency-unpinned.png", "throughput-pinned.png",
                     "throughput-unpinned.png"]
    w, h = _png_size(str(tmp_path / "png" / "throughput-pinned.png"))
    assert w > 300 and h > 200


def test_scenario_run_draws_ratios_against_apache(tmp_path) -> None:
    rows = [record.Row("pinned", srv, key, key, record.rounds([_wrk(v)]), syscalls=4.0)
            for key in ("ideal", "multiviews")
            for srv, v in (("fastcore-event", 30000.0), ("apache-event", 10000.0))]
    src = tmp_path / "sc.json"
    record.write(str(src), "scenarios", "cmd", rows)
    assert charts.main([str(src), "--out", str(tmp_path)]) == 0
    assert _png_size(str(tmp_path / "scenarios-pinned.png"))[0] > 300
    cells = charts.cells(json.loads(src.read_text()), "pinned")
    assert {(c.server, c.key, c.value) for c in cells} >= {("fastcore-event", "ideal", 30000.0)}


def test_a_run_without_apache_draws_no_scenario_chart(tmp_path) -> None:
    rows = [record.Row("pinned", "fastcore-event", "ideal", "ideal", record.rounds([_wrk(1.0)]))]
    src = tmp_path / "sc.json"
    record.write(str(src), "scenarios", "cmd", rows)
    assert charts.main([str(src), "--out", str(tmp_path / "none")]) == 1
    assert os.listdir(tmp_path / "none") == []
