#!/usr/bin/env python3
"""Build fastcore's scoreboard twice (atomics=portable and =nonportable) and compare counters.

Each build goes into its own temporary copy of the source tree (FASTCORE_ATOMICS=<mode>
python setup.py build_ext --inplace), so the working tree and the installed package are not
touched. In every round the script then runs, pinned to CPUs 0 and 1:
  - each build's counter increment measured inside the extension (a nogil C loop):
    1 process, and 2 processes contending (one per CPU), aggregate ns/op = wall / all ops;
  - the pure-Python twin, for the speedup ratio;
  - ../shared/limits/counters.c (compiled here) for the plain-C figures of the same ops
    (__atomic_fetch_add and the robust process-shared pthread mutex).
It prints one markdown table of the medians over the rounds, with the ratios and the issue's
targets (CAS >= 2.5x faster uncontended, >= 3x with 2 processes, each within 1.5x of C).

    python python/compare_builds.py [--runs 5] [--json out.json]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = ("nonportable", "portable")
CPUS = {0, 1}
C_SCALE = 0.25
# the operation counts of counters.c at C_SCALE, so that both sides run equally long (a run
# shorter than a scheduler time slice is rarely preempted, which matters under contention):
# atomics 5M for 1 process and 2 x 2.5M for 2; mutexes 1.25M and 2 x 625K
N_OPS = {"nonportable": (5_000_000, 2_500_000), "portable": (1_250_000, 625_000)}
TWIN_N = 20_000

WORKER = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
import importlib
mod = importlib.import_module(sys.argv[2])
n1, n2, reps = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cpus = sorted(os.sched_getaffinity(0))
sb = mod.Scoreboard(1, 1)
os.sched_setaffinity(0, {cpus[0]})
one = [mod.bench_increment(sb, mod.BYTES, n1) for _ in range(reps)]
os.sched_setaffinity(0, set(cpus))
two = [mod.bench_contended(sb, mod.BYTES, 2, n2)[0] for _ in range(reps)]
exact = sb.get(mod.BYTES) == reps * (n1 + 2 * n2)
print(json.dumps({"mode": mod.ATOMICS_MODE, "file": mod.__file__, "one": one, "two": two,
                  "exact": exact}))
"""


def pin_cpus() -> None:
    os.sched_setaffinity(0, CPUS)


def copy_source(dest: str) -> None:
    skip = shutil.ignore_patterns("*.so", "*.c", "__pycache__", "*.html", "build", "*.egg-info")
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(os.path.join(ROOT, name), dest)
    for name in ("fastcore", "_build_backend"):
        shutil.copytree(os.path.join(ROOT, name), os.path.join(dest, name), ignore=skip)


def build(mode: str, workdir: str) -> str:
    """Copy the source and build the scoreboard extension with FASTCORE_ATOMICS=mode."""
    src = os.path.join(workdir, mode)
    os.makedirs(src)
    copy_source(src)
    env = dict(os.environ, FASTCORE_ATOMICS=mode, FASTCORE_BUILD_ONLY="_scoreboard")
    proc = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace", "-q"],
        cwd=src, env=env, capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        sys.exit(f"build atomics={mode} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return src


def lock_instructions(src: str) -> int | None:
    """Count lock-prefixed instructions (CAS / atomic add) in the built extension."""
    so = [f for f in os.listdir(os.path.join(src, "fastcore")) if f.startswith("_scoreboard.")
          and f.endswith(".so")]
    if not so or not shutil.which("objdump"):
        return None
    out = subprocess.run(["objdump", "-d", os.path.join(src, "fastcore", so[0])],
                         capture_output=True, text=True, timeout=120).stdout
    return len(re.findall(r"\block\b", out))


def run_worker(path: str, module: str, n1: int, n2: int, reps: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, path, module, str(n1), str(n2), str(reps)],
        capture_output=True, text=True, timeout=600, preexec_fn=pin_cpus,
        env=dict(os.environ, FASTCORE_NO_EXTENSIONS=""),
    )
    if proc.returncode != 0:
        sys.exit(f"benchmark of {module} in {path} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def find_counters_c(given: str | None) -> str:
    candidates = [given] if given else [
        os.path.join(os.path.dirname(ROOT), "shared", "limits", "counters.c"),
        "/work/shared/limits/counters.c",
    ]
    for c in candidates:
        if c and os.path.exists(c):
            return c
    sys.exit(f"counters.c not found (tried {candidates}); pass --counters-c")


def build_counters(path: str, workdir: str) -> str:
    exe = os.path.join(workdir, "counters")
    subprocess.run(["gcc", "-O2", "-o", exe, path, "-lpthread"], check=True, timeout=120)
    os.makedirs("/tmp/fc-limits", exist_ok=True)  # counters.c's lock file lives there
    return exe


def run_counters(exe: str) -> dict:
    """Plain C medians: {(method, procs): aggregate ns/op}."""
    out = subprocess.run([exe, str(C_SCALE)], capture_output=True, text=True, timeout=600,
                         preexec_fn=pin_cpus, check=True).stdout
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[1] in ("1", "2 (cpu0,1)"):
            try:
                rows[(cells[0], 1 if cells[1] == "1" else 2)] = float(cells[2])
            except ValueError:
                continue
    return rows


def med(values: list[float]) -> float:
    return statistics.median(values)


def fmt(x: float) -> str:
    return f"{x:,.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="rounds; medians are reported")
    ap.add_argument("--counters-c", help="path of shared/limits/counters.c")
    ap.add_argument("--json", help="also write the raw figures here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary builds")
    args = ap.parse_args()
    if not CPUS <= os.sched_getaffinity(0):
        sys.exit("needs CPUs 0 and 1")

    workdir = tempfile.mkdtemp(prefix="fc-compare-builds-")
    try:
        srcs = {}
        for mode in MODES:
            print(f"building atomics={mode} in {workdir}/{mode} ...", file=sys.stderr)
            srcs[mode] = build(mode, workdir)
        locks = {mode: lock_instructions(srcs[mode]) for mode in MODES}
        cexe = build_counters(find_counters_c(args.counters_c), workdir)

        figs: dict[str, dict[str, list[float]]] = {k: {"one": [], "two": []}
                                                   for k in (*MODES, "pure")}
        cfig: dict[tuple[str, int], list[float]] = {}
        exact = True
        for r in range(args.runs):
            print(f"round {r + 1}/{args.runs}", file=sys.stderr)
            for mode in MODES:
                res = run_worker(srcs[mode], "fastcore._scoreboard", *N_OPS[mode], 1)
                if res["mode"] != mode:
                    sys.exit(f"build {mode} reports ATOMICS_MODE={res['mode']}")
                exact &= res["exact"]
                figs[mode]["one"] += res["one"]
                figs[mode]["two"] += res["two"]
            res = run_worker(ROOT, "fastcore._pure.scoreboard", TWIN_N, TWIN_N // 2, 1)
            exact &= res["exact"]
            figs["pure"]["one"] += res["one"]
            figs["pure"]["two"] += res["two"]
            for key, val in run_counters(cexe).items():
                cfig.setdefault(key, []).append(val)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    m = {k: {w: med(v) for w, v in d.items()} for k, d in figs.items()}
    c_of = {"nonportable": "atomic_fetch_add", "portable": "pthread_mutex_pshared_robust"}
    c = {(mode, p): med(cfig[(c_of[mode], p)]) for mode in MODES for p in (1, 2)}
    nb, pb, tw = m["nonportable"], m["portable"], m["pure"]
    sp1, sp2 = pb["one"] / nb["one"], pb["two"] / nb["two"]
    rc = {(mode, p): m[mode]["one" if p == 1 else "two"] / c[(mode, p)]
          for mode in MODES for p in (1, 2)}

    def ok(cond: bool) -> str:
        return "met" if cond else "MISSED"

    lines = [
        "| counter increment | nonportable (CAS) | portable (robust mutex) "
        "| portable / nonportable | pure-Python twin | target |",
        "|---|---:|---:|---:|---:|---|",
        f"| 1 process, ns/op | {fmt(nb['one'])} | {fmt(pb['one'])} | **{sp1:.2f}x** "
        f"| {fmt(tw['one'])} | CAS >= 2.5x faster: {ok(sp1 >= 2.5)} |",
        f"| 2 processes contending (CPU 0+1), ns/op aggregate | {fmt(nb['two'])} "
        f"| {fmt(pb['two'])} | **{sp2:.2f}x** | {fmt(tw['two'])} "
        f"| CAS >= 3x faster: {ok(sp2 >= 3)} |",
        f"| plain C, 1 process (atomic_fetch_add / robust pshared mutex) "
        f"| {fmt(c[('nonportable', 1)])} | {fmt(c[('portable', 1)])} | | | |",
        f"| plain C, 2 processes, aggregate | {fmt(c[('nonportable', 2)])} "
        f"| {fmt(c[('portable', 2)])} | | | |",
        f"| ratio to plain C, 1 process | {rc[('nonportable', 1)]:.2f} "
        f"| {rc[('portable', 1)]:.2f} | | | <= 1.5: "
        f"{ok(max(rc[('nonportable', 1)], rc[('portable', 1)]) <= 1.5)} |",
        f"| ratio to plain C, 2 processes | {rc[('nonportable', 2)]:.2f} "
        f"| {rc[('portable', 2)]:.2f} | | | <= 1.5: "
        f"{ok(max(rc[('nonportable', 2)], rc[('portable', 2)]) <= 1.5)} |",
        f"| speedup over the pure-Python twin, 1 process | {tw['one'] / nb['one']:,.0f}x "
        f"| {tw['one'] / pb['one']:,.0f}x | | | |",
        f"| speedup over the pure-Python twin, 2 processes | {tw['two'] / nb['two']:,.0f}x "
        f"| {tw['two'] / pb['two']:,.0f}x | | | |",
        f"| lock-prefixed instructions in the built .so (objdump) | {locks['nonportable']} "
        f"| {locks['portable']} | | | portable: no CAS code |",
    ]
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"Medians of {args.runs} rounds; {when}; {platform.machine()}, {os.cpu_count()} CPUs; "
          f"increments per run as counters.c {C_SCALE}: CAS {N_OPS['nonportable'][0]:,} "
          f"(1 process) and 2 x {N_OPS['nonportable'][1]:,}, mutex {N_OPS['portable'][0]:,} "
          f"and 2 x {N_OPS['portable'][1]:,}; "
          f"twin {TWIN_N:,}; counts exact: {exact}; load average at the end "
          f"{os.getloadavg()[0]:.1f}")
    print()
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"builds": figs, "c": {f"{k[0]}/{k[1]}": v for k, v in cfig.items()},
                       "lock_instructions": locks, "exact": exact}, fh, indent=1)
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
