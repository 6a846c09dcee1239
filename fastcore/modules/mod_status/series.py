"""fastcore's own Prometheus series (beside the apache_exporter ones of metrics.py), read
from the shared stats records every process writes (src/fc_stats.h): requests and bytes
by vhost and status class, the duration histogram, fast path vs Python path (and why),
the fs calls made, the fast-path cache."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastcore._ext import load
from fastcore.modules.mod_status.metrics import escape_label, fmt

CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


class StatsBoard(Protocol):
    """What the rendering needs of the scoreboard (both builds)."""

    def stats(self) -> dict: ...

    def vhost_names(self) -> list[str]: ...


@dataclass(frozen=True)
class Snapshot:
    """The summed records, with names resolved."""

    requests: dict[tuple[str, str], int]
    sent_bytes: dict[tuple[str, str], int]
    buckets: tuple[int, ...]       # per bucket, the last +Inf (not cumulative)
    duration: float
    fast: int
    full: dict[str, int]
    fs: dict[str, int]
    cache_hits: int
    cache_evictions: int
    cache_entries: int
    cache_bytes: int


def snapshot(sb: StatsBoard) -> Snapshot:
    """Sum every record now (one pass over shared memory)."""
    mod = load("scoreboard")
    raw = sb.stats()
    names = sb.vhost_names()

    def vname(i: int) -> str:
        return names[i] if i < len(names) else "other"

    def by_name(src: dict[tuple[int, int], int]) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for (v, k), n in src.items():
            key = (vname(v), CLASSES[k])
            out[key] = out.get(key, 0) + n
        return out

    return Snapshot(by_name(raw["requests"]), by_name(raw["bytes"]), tuple(raw["buckets"]),
                    float(raw["duration"]), int(raw["fast"]),
                    dict(zip(mod.FALLBACK_REASONS, raw["full"], strict=True)),
                    dict(zip(mod.FS_KINDS, raw["fs"], strict=True)), int(raw["cache_hits"]),
                    int(raw["cache_evictions"]), int(raw["cache_entries"]),
                    int(raw["cache_bytes"]))


def render(sb: StatsBoard) -> str:
    """The exposition text of fastcore_* families."""
    s = snapshot(sb)
    out: list[str] = []

    def family(name: str, kind: str, help_: str, lines: list[str]) -> None:
        out.append(f"# HELP {name} {help_}\n# TYPE {name} {kind}\n")
        out.extend(lines)

    def vc(name: str, table: dict[tuple[str, str], int]) -> list[str]:
        return [f'{name}{{vhost="{escape_label(v)}",code_class="{k}"}} {n}\n'
                for (v, k), n in sorted(table.items())]

    family("fastcore_requests_total", "counter", "Requests answered, by virtual host "
           "(ServerName) and status class", vc("fastcore_requests_total", s.requests))
    family("fastcore_sent_bytes_total", "counter", "Body bytes sent, by virtual host and "
           "status class", vc("fastcore_sent_bytes_total", s.sent_bytes))
    bounds = load("scoreboard").DURATION_BOUNDS
    lines, total = [], 0
    for le, n in zip((*(fmt(b) for b in bounds), "+Inf"), s.buckets, strict=True):
        total += n
        lines.append(f'fastcore_request_duration_seconds_bucket{{le="{le}"}} {total}\n')
    lines.append(f"fastcore_request_duration_seconds_sum {fmt(s.duration)}\n")
    lines.append(f"fastcore_request_duration_seconds_count {total}\n")
    family("fastcore_request_duration_seconds", "histogram",
           "Time from the request's start to its end (logged included)", lines)
    family("fastcore_fastpath_requests_total", "counter", "Requests the C engine served "
           "without Python", [f"fastcore_fastpath_requests_total {s.fast}\n"])
    family("fastcore_fullpath_requests_total", "counter", "Requests the Python path "
           "answered, by why they left the fast path",
           [f'fastcore_fullpath_requests_total{{reason="{r}"}} {n}\n'
            for r, n in sorted(s.full.items()) if n])
    family("fastcore_fs_calls_total", "counter", "stat, lstat and .htaccess open attempts "
           "the server made for requests",
           [f'fastcore_fs_calls_total{{kind="{k}"}} {n}\n' for k, n in sorted(s.fs.items())])
    family("fastcore_cache_entries", "gauge", "Entries in the fast-path caches (all processes)",
           [f"fastcore_cache_entries {s.cache_entries}\n"])
    family("fastcore_cache_bytes", "gauge", "File content bytes the fast-path caches hold",
           [f"fastcore_cache_bytes {s.cache_bytes}\n"])
    family("fastcore_cache_evictions_total", "counter", "Fast-path cache entries evicted",
           [f"fastcore_cache_evictions_total {s.cache_evictions}\n"])
    family("fastcore_cache_hits_total", "counter", "Fast-path cache hits served",
           [f"fastcore_cache_hits_total {s.cache_hits}\n"])
    return "".join(out)
