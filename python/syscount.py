#!/usr/bin/env python3
"""Syscalls per request for fastcore (each MPM), Apache httpd and nginx, by strace.

For each server: start it (same generated configs as loadtest.py), prime it with 100
requests, trace an idle period to get its background syscall rate, then trace
`ab -n N -c 1 -k` (keep-alive) and `ab -n N -c 1` (a new connection per request) on the
10240-byte file with `strace -f -c` attached to every thread. Per request = (calls
during the load - idle rate x load duration) / N; the raw figure (no subtraction) is
shown beside it.

    python3 python/syscount.py --write docs/bench/harness.md
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import shlex
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import report, servers, strace, workloads  # noqa: E402
from harness.servers import ServerSpec, StartError  # noqa: E402

# The figures (strace -f -c, ab -n 2000 -c 1, 10240-byte file): keep-alive / new.
REFERENCE = {"nginx": (10.0, 13.2), "apache-event": (9.2, 21.9), "apache-prefork": (9.1, 17.0)}
BUDGET = (7, 13)  # fastcore: at most 7 per keep-alive request, 13 per new connection


def measure(spec: ServerSpec, docroot: str, requests: int, idle_s: float,
            path: str = "10k.html") -> dict[str, strace.PerRequest]:
    """Start spec, trace idle / keep-alive / new-connection phases, stop; per-request counts."""
    run = spec.start(docroot, None)
    try:
        done, bad = workloads.run_ab(run.port, path, 100, 1, True)
        if bad or done != 100:
            raise RuntimeError(f"priming: {done} complete, {bad} failed")
        idle = strace.traced(run.pids(), lambda: time.sleep(idle_s)) if idle_s > 0 else None
        out = {}
        for mode, ka in (("keep-alive", True), ("new connection", False)):
            box: list[tuple[int, int]] = []

            def load(ka: bool = ka, box: list = box) -> None:
                box.append(workloads.run_ab(run.port, path, requests, 1, ka, timeout=600))

            count = strace.traced(run.pids(), load)
            done, bad = box[0]
            if bad or done != requests:
                raise RuntimeError(f"{mode}: {done} complete, {bad} failed")
            out[mode] = strace.per_request(count, requests, idle)
        return out
    finally:
        run.stop()
        servers.cleanup(run)


def render(results: dict[str, dict[str, strace.PerRequest]], failures: dict[str, str],
           args: argparse.Namespace, cmdline: str, started: str) -> str:
    out = [
        "## Syscalls per request (strace)",
        "",
        f"- Date: {started}; machine: {report.machine()}",
        f"- Command: `{cmdline}`",
        f"- Method: `strace -f -c` attached to every thread of the server's process tree; "
        f"`ab -n {args.requests} -c 1 -k` (keep-alive) and `ab -n {args.requests} -c 1` (new "
        "connection per request) on the 10240-byte file, after 100 priming requests. "
        f"Per request = (calls during the load - idle rate x load time) / {args.requests}; the "
        f"idle rate comes from a {args.idle:g} s traced idle period. Raw = no subtraction. "
        "Same generated configs as the load harness (access log on; fastcore with BufferedLogs On).",
        f"- fastcore budget (issue 6): at most {BUDGET[0]} per keep-alive request, "
        f"{BUDGET[1]} per new connection.",
        "- The seed's appendix trace (Solaris, worker MPM, one request on a new connection): "
        "accept, getsockname, read, stat, open, sendfilev (header and file in one call), write "
        "(access log), shutdown, poll, read, close, close = 12 calls, plus two brk and the "
        "lwp_park/lwp_unpark hand-off between the listener and the worker thread.",
        "",
    ]
    rows = []
    for name in list(results) + [n for n in failures if n not in results]:
        r = results.get(name)
        ref = REFERENCE.get(name)
        refs = f"{ref[0]} / {ref[1]}" if ref else ("budget 7 / 13" if name.startswith("fastcore") else "-")
        if not r:
            rows.append([name, "not yet serving" if name.startswith("fastcore") else "failed",
                         failures.get(name, "")[:200], refs, "", ""])
            continue
        ka, nc = r["keep-alive"], r["new connection"]
        rows.append([name, f"{ka.total:.1f}", f"{nc.total:.1f}", refs,
                     f"{ka.raw_total / ka.requests:.1f} / {nc.raw_total / nc.requests:.1f}",
                     f"{ka.idle_rate:.1f}"])
    out.append(report.table(["server", "keep-alive syscalls/request", "new connection syscalls/request",
                             "issue reference (ka / new)", "raw, no idle subtraction (ka / new)",
                             "idle syscalls/s"], rows))
    out += ["", "Per-syscall breakdown (calls per request, >= 0.005):", ""]
    brows = []
    for name, r in results.items():
        for mode in ("keep-alive", "new connection"):
            brows.append([name, mode, strace.breakdown(r[mode])])
    out.append(report.table(["server", "mode", "calls per request"], brows))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--idle", type=float, default=2.0, help="seconds of traced idle baseline (0: none)")
    p.add_argument("--servers", default="fastcore-*,apache-event,apache-prefork,apache-worker,nginx",
                   help="comma-separated globs")
    p.add_argument("--write", metavar="FILE")
    p.add_argument("--section", default="syscount")
    args = p.parse_args(argv)
    cmdline = "python3 python/syscount.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    started = report.now_utc()
    servers.ensure_installed()
    globs = args.servers.split(",")
    specs = [servers.fastcore_spec(m) for m in ("event", "worker", "prefork")]
    specs += servers.peer_specs()
    specs = [s for s in specs if any(fnmatch.fnmatch(s.name, g) for g in globs)]
    base = tempfile.mkdtemp(prefix="fc-syscount-")
    os.chmod(base, 0o755)
    docroot = servers.make_docroot(base)
    results: dict[str, dict[str, strace.PerRequest]] = {}
    failures: dict[str, str] = {}
    for spec in specs:
        try:
            results[spec.name] = measure(spec, docroot, args.requests, args.idle)
        except (StartError, RuntimeError, OSError) as e:
            failures[spec.name] = str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)
            print(f"{spec.name}: {failures[spec.name]}", flush=True)
            continue
        r = results[spec.name]
        print(f"{spec.name:18} keep-alive {r['keep-alive'].total:5.1f}  new connection "
              f"{r['new connection'].total:5.1f}", flush=True)
    md = render(results, failures, args, cmdline, started)
    print(md)
    if args.write:
        report.replace_section(args.write, args.section, md)
        print(f"written to {args.write} (section {args.section})")
    servers.shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
