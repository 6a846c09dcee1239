"""Markdown rendering of harness results, and in-place update of a marked file section.

Each tool owns a section between `<!-- NAME:begin -->` and `<!-- NAME:end -->` so that
loadtest.py and syscount.py can both write into docs/bench/harness.md without clobbering
each other or hand-written notes.
"""
from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import subprocess


def machine() -> str:
    """nproc, CPU model, kernel: the line every figure needs beside it."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}"


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def versions() -> str:
    """Peer versions, so a table can be reproduced."""
    def first_line(cmd: list[str]) -> str:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        text = (p.stdout or p.stderr).strip().splitlines()
        return text[0] if text else "?"

    try:
        import gunicorn
        gv = gunicorn.__version__
    except ImportError:
        gv = "absent"
    apache = first_line(["/usr/sbin/apache2", "-v"]).replace("Server version: ", "")
    return (f"{apache}; {first_line(['/usr/sbin/nginx', '-v'])}; "
            f"{first_line(['/usr/bin/wrk', '-v']).split(' Copyright')[0]}; gunicorn {gv}; "
            f"Python {platform.python_version()}")


def median_minmax(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def fmt_num(v: float, digits: int = 0) -> str:
    if v != v:  # NaN
        return "-"
    return f"{v:,.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def replace_section(path: str, name: str, body: str) -> None:
    """Write body between the NAME markers of path (appending the section if absent)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    pat = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pat.search(text):
        text = pat.sub(lambda _m: block, text, count=1)
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + block
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
