"""Fuzzing campaign: run each target of fuzz/ for a number of inputs or a time, one at a
time under nice (the machine is shared), keeping a working corpus and the crashes.

C targets (fuzz/*.c) are libFuzzer binaries built by fuzz/build.sh with ASan + UBSan;
Python targets (fuzz/py/*.py) run under atheris (libFuzzer driving Python, coverage from
atheris' bytecode instrumentation).  Layout:
  fuzz/corpus/<target>/   minimised seed corpus (committed)
  fuzz/work/<target>/     the growing corpus of a campaign (not committed)
  fuzz/crashes/           crash-/leak-/timeout- artifacts (not committed; regression
                          inputs are copied to tests/fuzz/regressions/<target>/)
  fuzz/results.json       per target: inputs run, cov/ft, seconds, artifacts

    python3 python/fuzz_campaign.py run --runs 1000000 [target ...]
    python3 python/fuzz_campaign.py run --seconds 60 request_head
    python3 python/fuzz_campaign.py minimize [target ...]   # work corpus -> fuzz/corpus
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join(ROOT, "fuzz")
BIN = os.path.join(FUZZ, "bin")
C_TARGETS = sorted(f[:-2] for f in os.listdir(FUZZ) if f.endswith(".c"))
PY_TARGETS = sorted(f[:-3] for f in os.listdir(os.path.join(FUZZ, "py"))
                    if f.endswith(".py") and not f.startswith("_"))
# max_len per target: the serve loop takes pipelines longer than the 16 KiB buffer
MAX_LEN = {"serve_loop": 40000, "config": 4096, "htaccess": 4096}
_STATS = re.compile(r"#(\d+)\s+(?:DONE|INITED|NEW|REDUCE|pulse)\s+cov: (\d+) ft: (\d+)")


@dataclasses.dataclass
class Result:
    """One target's campaign: what ran and what it found."""

    target: str
    kind: str
    inputs: int
    cov: int
    ft: int
    seconds: float
    exit_code: int
    artifacts: list[str]


def build(targets: list[str]) -> None:
    """(Re)build the C targets asked for."""
    c = [t for t in targets if t in C_TARGETS]
    if c:
        subprocess.run([os.path.join(FUZZ, "build.sh"), *c], check=True)


def command(target: str, runs: int | None, seconds: int | None, corpus: list[str],
            extra: list[str]) -> list[str]:
    """The libFuzzer command line of a target (binary or atheris script)."""
    if target in C_TARGETS:
        cmd = [os.path.join(BIN, target)]
    else:
        cmd = [sys.executable, os.path.join(FUZZ, "py", target + ".py")]
    crashes = os.path.join(FUZZ, "crashes")
    os.makedirs(crashes, exist_ok=True)
    cmd += ["-timeout=1", "-rss_limit_mb=2048", "-print_final_stats=1",
            f"-artifact_prefix={crashes}/{target}-", f"-max_len={MAX_LEN.get(target, 8192)}"]
    if target in C_TARGETS:
        cmd.append("-detect_leaks=1")
    if runs is not None:
        cmd.append(f"-runs={runs}")
    if seconds is not None:
        cmd.append(f"-max_total_time={seconds}")
    return ["nice", "-n", "10", *cmd, *extra, *corpus]


def run(target: str, runs: int | None, seconds: int | None) -> Result:
    """One target, its work corpus seeded from the committed one."""
    work = os.path.join(FUZZ, "work", target)
    seeds = os.path.join(FUZZ, "corpus", target)
    os.makedirs(work, exist_ok=True)
    before = set(os.listdir(os.path.join(FUZZ, "crashes"))) if os.path.isdir(
        os.path.join(FUZZ, "crashes")) else set()
    t0 = time.monotonic()
    log_path = os.path.join(FUZZ, "work", target + ".log")
    with open(log_path, "w") as log:
        proc = subprocess.run(command(target, runs, seconds, [work, seeds], []),
                              stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    elapsed = time.monotonic() - t0
    inputs = cov = ft = 0
    with open(log_path, errors="replace") as log:
        for line in log:
            m = _STATS.search(line)
            if m:
                inputs, cov, ft = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if line.startswith("stat::number_of_executed_units:"):
                inputs = int(line.split(":")[-1])
    after = set(os.listdir(os.path.join(FUZZ, "crashes")))
    return Result(target, "C/libFuzzer" if target in C_TARGETS else "Python/atheris",
                  inputs, cov, ft, round(elapsed, 1), proc.returncode,
                  sorted(after - before))


def minimize(target: str) -> None:
    """Merge the work corpus into the committed one, keeping only inputs that add
    coverage (libFuzzer -merge=1), so fuzz/corpus stays small."""
    work = os.path.join(FUZZ, "work", target)
    seeds = os.path.join(FUZZ, "corpus", target)
    fresh = seeds + ".new"
    shutil.rmtree(fresh, ignore_errors=True)
    os.makedirs(fresh)
    cmd = command(target, None, None, [fresh, seeds, work], ["-merge=1"])
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    if len(os.listdir(fresh)) < len(os.listdir(seeds)) // 2:  # a merge that failed
        shutil.rmtree(fresh)
        raise SystemExit(f"{target}: the merge kept almost nothing; {seeds} left as it was")
    shutil.rmtree(seeds)
    os.rename(fresh, seeds)


def main(argv: list[str] | None = None) -> int:
    """Command line: run | minimize."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--runs", type=int)
    r.add_argument("--seconds", type=int)
    r.add_argument("targets", nargs="*")
    m = sub.add_parser("minimize")
    m.add_argument("targets", nargs="*")
    args = ap.parse_args(argv)
    targets = args.targets or C_TARGETS + PY_TARGETS
    unknown = [t for t in targets if t not in C_TARGETS + PY_TARGETS]
    if unknown:
        ap.error(f"unknown targets {unknown}; known: {C_TARGETS + PY_TARGETS}")
    build(targets)
    if args.cmd == "minimize":
        for t in targets:
            minimize(t)
        return 0
    if args.runs is None and args.seconds is None:
        ap.error("give --runs or --seconds")
    path = os.path.join(FUZZ, "results.json")
    status = 0
    for t in targets:
        res = run(t, args.runs, args.seconds)
        # read after the run: a campaign of another target may have ended meanwhile
        with open(path) if os.path.exists(path) else open(os.devnull) as fh:
            text = fh.read()
        results = json.loads(text) if text else {}
        results[t] = dataclasses.asdict(res)
        print(json.dumps(results[t]), flush=True)
        with open(path, "w") as fh:
            json.dump(results, fh, indent=1, sort_keys=True)
        status = status or res.exit_code
    return status


if __name__ == "__main__":
    sys.exit(main())
