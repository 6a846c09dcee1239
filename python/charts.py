#!/usr/bin/env python3
"""PNG charts of the harness's figures, for people who would rather look than read.

Reads the JSON that `python/loadtest.py --json FILE` (plain or `--scenarios`) writes, and
memscale's soak samples, and draws into docs/bench/:
  throughput-<mode>.png   requests/s (MB/s for byte workloads) per server per workload
  latency-<mode>.png      p50 and p99 per server per workload
  scenarios-<mode>.png    each tuning-guide scenario against Apache event (ratio, log scale)
Every bar is the median of the run's rounds; the whisker spans min-max.

    python3 python/loadtest.py --json docs/bench/loadtest.json ...
    python3 python/loadtest.py --scenarios --json docs/bench/scenarios.json ...
    python3 python/charts.py docs/bench/loadtest.json docs/bench/scenarios.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "bench")


@dataclass(frozen=True)
class Cell:
    """Medians and spread of one (server, workload) over its rounds."""

    server: str
    key: str
    title: str
    value: float
    low: float
    high: float
    p50: float
    p99: float
    syscalls: float | None
    recommended: bool


def cells(doc: dict, mode: str) -> list[Cell]:
    """The run's rows of one pinning mode, reduced to medians."""
    out = []
    for row in doc["rows"]:
        if row["mode"] != mode or not row["rounds"]:
            continue
        field = "bytes_per_s" if row.get("bytes_metric") else "rps"
        scale = 1e6 if field == "bytes_per_s" else 1.0
        vals = [r[field] / scale for r in row["rounds"]]
        out.append(Cell(row["server"], row["key"], row["title"], statistics.median(vals),
                        min(vals), max(vals),
                        statistics.median(r["p50_ms"] for r in row["rounds"]),
                        statistics.median(r["p99_ms"] for r in row["rounds"]),
                        row.get("syscalls"), bool(row.get("recommended"))))
    return out


def _grouped(ax: plt.Axes, keys: list[str], servers: list[str],
             value: dict[tuple[str, str], tuple[float, float, float]],
             legend: bool = True) -> None:
    """Bars grouped by workload, one colour per server, min-max whiskers."""
    width = 0.8 / max(1, len(servers))
    for i, srv in enumerate(servers):
        xs, ys, lo, hi = [], [], [], []
        for j, k in enumerate(keys):
            if (srv, k) in value:
                v, low, high = value[(srv, k)]
                xs.append(j + i * width)
                ys.append(v)
                lo.append(v - low)
                hi.append(high - v)
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=srv)
    ax.set_xticks([j + width * (len(servers) - 1) / 2 for j in range(len(keys))])
    ax.set_xticklabels(keys, rotation=20, ha="right")
    ax.grid(axis="y", alpha=0.3)
    if legend:
        ax.legend(fontsize=8)


def throughput(doc: dict, mode: str, path: str) -> bool:
    cs = cells(doc, mode)
    if not cs:
        return False
    keys = list(dict.fromkeys(c.key for c in cs))
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys) + 1, 4.2), squeeze=False)
    for ax, k in zip(axes[0], keys, strict=True):
        sub = [c for c in cs if c.key == k]
        _grouped(ax, [k], [c.server for c in sub],
                 {(c.server, k): (c.value, c.low, c.high) for c in sub}, legend=False)
        byte = any(r["key"] == k and r.get("bytes_metric") for r in doc["rows"])
        ax.set_ylabel("MB/s" if byte else "requests/s")
        ax.set_xticklabels([])
        ax.set_title(k, fontsize=9)
    fig.suptitle(f"Throughput per server ({mode}; median of rounds, min-max) - {doc['date']}",
                 fontsize=10)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def latency(doc: dict, mode: str, path: str) -> bool:
    cs = cells(doc, mode)
    if not cs:
        return False
    keys = list(dict.fromkeys(c.key for c in cs))
    servers = list(dict.fromkeys(c.server for c in cs))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, label in zip(axes, ("p50", "p99"), strict=True):
        vals = {(c.server, c.key): (getattr(c, label),) * 3 for c in cs}
        _grouped(ax, keys, servers, vals)
        ax.set_yscale("log")
        ax.set_ylabel(f"{label} latency, ms (log)")
        ax.set_title(label)
    fig.suptitle(f"Latency per server and workload ({mode}) - {doc['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def scenarios(doc: dict, mode: str, path: str) -> bool:
    cs = cells(doc, mode)
    ref = {c.key: c.value for c in cs if c.server == "apache-event"}
    others = [c for c in cs if c.server != "apache-event" and ref.get(c.key)]
    if not others:
        return False
    keys = list(dict.fromkeys(c.key for c in others))
    servers = list(dict.fromkeys(c.server for c in others))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(keys) * len(servers) + 2), 4.8))
    _grouped(ax, keys, servers, {(c.server, c.key): (c.value / ref[c.key], c.low / ref[c.key],
                                                     c.high / ref[c.key]) for c in others})
    ax.axhline(1.0, color="black", lw=1)
    ax.axhline(2.5, color="grey", lw=1, ls="--")
    ax.set_yscale("log")
    ax.set_ylabel("requests/s vs Apache event, same httpd.conf (log)")
    ax.set_title(f"Tuning-guide scenarios ({mode}); line 1.0x: Apache event, dashed 2.5x - "
                 f"{doc['date']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help="JSON written by loadtest.py --json")
    p.add_argument("--out", default=OUT, help="folder of the PNGs (docs/bench)")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    made = []
    for f in args.files:
        with open(f) as fh:
            doc = json.load(fh)
        modes = list(dict.fromkeys(r["mode"] for r in doc["rows"]))
        for mode in modes:
            if doc["kind"] == "scenarios":
                drawn = [(scenarios, f"scenarios-{mode}.png")]
            else:
                drawn = [(throughput, f"throughput-{mode}.png"), (latency, f"latency-{mode}.png")]
            for fn, name in drawn:
                path = os.path.join(args.out, name)
                if fn(doc, mode, path):
                    made.append(path)
    for m in made:
        print(m)
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
