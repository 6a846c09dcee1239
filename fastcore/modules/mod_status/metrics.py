"""`SetHandler metrics`: the Prometheus text format, read from the shared scoreboard.

The series are the ones prometheus-apache-exporter publishes from `/server-status?auto`
(apache_accesses_total, apache_scoreboard{state}, ...), so dashboards built on it work
unchanged with no exporter running beside the server. They are derived from the very
?auto document mod_status renders (ExtendedStatus forced on, for the totals), so the
native endpoint and an exporter scraping ?auto report the same values.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Scoreboard letters -> apache_scoreboard{state}, in the exporter's vocabulary.
SCOREBOARD_STATES = (("_", "idle"), ("S", "startup"), ("R", "read"), ("W", "reply"),
                     ("K", "keepalive"), ("D", "dns"), ("C", "closing"), ("L", "logging"),
                     ("G", "graceful_stop"), ("I", "idle_cleanup"), (".", "open_slot"))


@dataclass(frozen=True)
class Series:
    """One metric family: its name, type, help text, and (labels, ?auto key, scale)."""

    name: str
    kind: str
    help: str
    samples: tuple[tuple[str, str, float], ...]  # (label text, ?auto key, multiplier)


FAMILIES = (
    Series("apache_accesses_total", "counter", "Current total apache accesses (*)",
           (("", "Total Accesses", 1),)),
    Series("apache_connections", "gauge", "Apache connection statuses",
           (('state="closing"', "ConnsAsyncClosing", 1),
            ('state="keepalive"', "ConnsAsyncKeepAlive", 1),
            ('state="total"', "ConnsTotal", 1), ('state="writing"', "ConnsAsyncWriting", 1))),
    Series("apache_cpu_time_ms_total", "counter", "Apache CPU time",
           (('type="system"', "CPUSystem", 1000), ('type="user"', "CPUUser", 1000))),
    Series("apache_cpuload", "gauge", "The current percentage CPU used by each worker and in "
           "total by all workers combined (*)", (("", "CPULoad", 1),)),
    Series("apache_duration_ms_total", "counter",
           "Total duration of all registered requests in ms", (("", "Total Duration", 1),)),
    Series("apache_generation", "gauge", "Apache restart generation",
           (('type="config"', "ParentServerConfigGeneration", 1),
            ('type="mpm"', "ParentServerMPMGeneration", 1))),
    Series("apache_load", "gauge", "Apache server load",
           (('interval="15min"', "Load15", 1), ('interval="1min"', "Load1", 1),
            ('interval="5min"', "Load5", 1))),
    Series("apache_processes", "gauge", "Apache process count",
           (('state="all"', "Processes", 1), ('state="stopping"', "Stopping", 1))),
    Series("apache_sent_kilobytes_total", "counter", "Current total kbytes sent (*)",
           (("", "Total kBytes", 1),)),
    Series("apache_uptime_seconds_total", "counter", "Current uptime in seconds (*)",
           (("", "Uptime", 1),)),
    Series("apache_workers", "gauge", "Apache worker statuses",
           (('state="busy"', "BusyWorkers", 1), ('state="idle"', "IdleWorkers", 1))),
)


def parse_auto(text: str) -> dict[str, str]:
    """`Key: value` lines of a ?auto document (the first line is the host name)."""
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def number(text: str) -> float:
    """An ?auto number as apr's %g wrote it (".5" included)."""
    return float(text)


def version_number(banner: str) -> float | None:
    """apache_version: X.YYZZZ from `Name/X.Y.Z`, the exporter's encoding (2.4.71 ->
    2.04071)."""
    m = re.search(r"/(\d+)\.(\d+)\.(\d+)", banner)
    if not m:
        return None
    major, minor, patch = (int(g) for g in m.groups())
    return float(f"{major}.{minor:02d}{patch:03d}")  # decimal digits, not float arithmetic


def fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def escape_label(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_from_auto(text: str) -> bytes:
    """The Prometheus exposition of one ?auto document."""
    keys = parse_auto(text)
    out: list[str] = []
    w = out.append

    def family(name: str, kind: str, help_: str, lines: list[str]) -> None:
        if lines:
            w(f"# HELP {name} {help_}\n# TYPE {name} {kind}\n")
            out.extend(lines)

    if "CPULoad" not in keys and "Scoreboard" in keys:
        keys["CPULoad"] = "0"  # mod_status prints it only once some CPU time was used
    for fam in FAMILIES:
        lines = []
        for labels, key, scale in fam.samples:
            if key in keys:
                value = number(keys[key]) * scale
                lines.append(f"{fam.name}{{{labels}}} {fmt(value)}\n" if labels
                             else f"{fam.name} {fmt(value)}\n")
        family(fam.name, fam.kind, fam.help, lines)
    version = keys.get("ServerVersion", "")
    family("apache_info", "gauge", "Apache version information",
           [f'apache_info{{mpm="{escape_label(keys.get("ServerMPM", ""))}",'
            f'version="{escape_label(version)}"}} 1\n'])
    board = keys.get("Scoreboard", "")
    family("apache_scoreboard", "gauge", "Apache scoreboard statuses",
           [f'apache_scoreboard{{state="{state}"}} {board.count(letter)}\n'
            for letter, state in sorted(SCOREBOARD_STATES, key=lambda s: s[1])])
    family("apache_up", "gauge", "Could the apache server be reached", ["apache_up 1\n"])
    vnum = version_number(version)
    if vnum is not None:
        family("apache_version", "gauge", "Apache server version", [f"apache_version {vnum}\n"])
    return "".join(out).encode("utf-8")
