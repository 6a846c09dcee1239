#!/usr/bin/env python3
"""Side-by-side load harness: fastcore (event/worker/prefork) against Apache httpd 2.4
(event/worker/prefork), nginx, gunicorn (gthread) and `python -m http.server`.

Same document root, fresh 127.0.0.1 port per start, servers interleaved over several
rounds (order rotated each round), server tree pinned to CPU 0 and wrk to CPU 1 (and/or
unpinned). Per server and round: start, 10,000 keep-alive requests with ab, PSS of the
process tree, the wrk workloads (warm-up then measured run), PSS again, stop. Reports
medians and min-max; `--write FILE` puts the markdown into FILE's loadtest section.

    python3 python/loadtest.py --quick                    # smoke test, ~1 s per run
    python3 python/loadtest.py --write docs/bench/harness.md
    python3 python/loadtest.py --scenarios --pinning pinned   # the tuning guide's knobs
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import resource
import shlex
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import pss, record, report, scenarios, servers, workloads  # noqa: E402
from harness.servers import ServerSpec, StartError  # noqa: E402
from harness.workloads import WORKLOADS, Workload, WrkResult  # noqa: E402

SERVER_CPU, CLIENT_CPU = 0, 1
MPMS = ("event", "worker", "prefork")


def raise_nofile() -> int:
    """Raise the soft descriptor limit to the hard one (1000 connections need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def preflight_fastcore(mpm: str, docroot: str, buffered: bool) -> tuple[ServerSpec | None, str]:
    """Start fastcore once with the extensions, else with the pure twins; say why not."""
    reasons = []
    for pure in (False, True):
        spec = servers.fastcore_spec(mpm, pure=pure, buffered_logs=buffered)
        try:
            run = spec.start(docroot, None)
        except StartError as e:
            reasons.append(f"{'pure' if pure else 'ext'}: {str(e).splitlines()[-1][:160]}")
            continue
        run.stop()
        servers.cleanup(run)
        return spec, ""
    return None, "; ".join(reasons)


class Results:
    """All measurements of one harness run, keyed by (mode, server[, workload])."""

    def __init__(self) -> None:
        self.wrk: dict[tuple[str, str, str], list[WrkResult]] = {}
        self.pss10k: dict[tuple[str, str], list[list[pss.ProcPss]]] = {}
        self.pss_end: dict[tuple[str, str], list[list[pss.ProcPss]]] = {}
        self.failures: dict[tuple[str, str], list[str]] = {}

    def fail(self, mode: str, name: str, msg: str) -> None:
        self.failures.setdefault((mode, name), []).append(msg)


def run_server_round(spec: ServerSpec, mode: str, docroot: str, args: argparse.Namespace,
                     wls: list[Workload], res: Results) -> None:
    pin_srv = SERVER_CPU if mode == "pinned" else None
    pin_cli = CLIENT_CPU if mode == "pinned" else None
    try:
        run = spec.start(docroot, pin_srv)
    except StartError as e:
        res.fail(mode, spec.name, f"start: {str(e)[:200]}")
        return
    try:
        if args.pss_requests > 0:  # 0: no PSS-after-N-requests measurement
            done, bad = workloads.run_ab(run.port, "10k.html", args.pss_requests, 16, True,
                                         pin_cpu=pin_cli)
            if bad or done != args.pss_requests:
                res.fail(mode, spec.name, f"ab warm-up: {done} complete, {bad} failed")
            res.pss10k.setdefault((mode, spec.name), []).append(pss.tree_pss(run.pids()))
        for w in wls:
            if run.proc.poll() is not None:
                res.fail(mode, spec.name, f"died before {w.key}")
                break
            try:
                if args.warmup > 0:
                    workloads.run_wrk(w, run.port, args.warmup, pin_cli)
                r = workloads.run_wrk(w, run.port, args.duration, pin_cli)
            except (RuntimeError, ValueError, OSError) as e:
                res.fail(mode, spec.name, f"{w.key}: {e}")
                continue
            except Exception as e:  # subprocess.TimeoutExpired and friends
                res.fail(mode, spec.name, f"{w.key}: {type(e).__name__}: {e}")
                continue
            res.wrk.setdefault((mode, spec.name, w.key), []).append(r)
            print(f"  {mode:8} {spec.name:22} {w.key:10} {r.rps:10,.0f} req/s "
                  f"{r.bytes_per_s / 1e6:8.1f} MB/s p99 {r.p99_ms:7.2f} ms err {r.errors}",
                  flush=True)
        res.pss_end.setdefault((mode, spec.name), []).append(pss.tree_pss(run.pids()))
    finally:
        run.stop()
        servers.cleanup(run)


def fmt_ratio(v: float, ref: float | None) -> str:
    return f"{v / ref:.2f}x" if ref else "-"


def workload_table(res: Results, mode: str, w: Workload, names: list[str],
                   not_serving: dict[str, str]) -> str:
    def metric(r: WrkResult) -> float:
        return r.bytes_per_s / 1e6 if w.bytes_metric else r.rps

    med: dict[str, float] = {}
    for n in names:
        rs = res.wrk.get((mode, n, w.key))
        if rs:
            med[n] = statistics.median(metric(r) for r in rs)
    rows = []
    for n in names:
        rs = res.wrk.get((mode, n, w.key))
        if not rs:
            why = not_serving.get(n) or "; ".join(res.failures.get((mode, n), ["no result"]))
            rows.append([n, "not yet serving" if n in not_serving else "failed", why[:200]]
                        + [""] * 7)
            continue
        rps = report.median_minmax([r.rps for r in rs])
        mbs = report.median_minmax([r.bytes_per_s / 1e6 for r in rs])
        errs = sum(r.errors for r in rs)
        detail = "; ".join(sorted({r.error_detail for r in rs if r.error_detail}))
        rows.append([
            n, report.fmt_num(rps[0]), f"{report.fmt_num(rps[1])}-{report.fmt_num(rps[2])}",
            f"{mbs[0]:,.1f}" + (f" ({mbs[1]:,.0f}-{mbs[2]:,.0f})" if w.bytes_metric else ""),
            f"{statistics.median(r.p50_ms for r in rs):.2f}",
            f"{statistics.median(r.p99_ms for r in rs):.2f}",
            str(errs) + (f" ({detail})" if detail else ""),
            fmt_ratio(med[n], med.get("apache-event")), fmt_ratio(med[n], med.get("nginx")),
            str(len(rs)),
        ])
    head = ["server", "req/s median", "req/s min-max", "MB/s median" + (" (min-max)" if w.bytes_metric else ""),
            "p50 ms", "p99 ms", "errors (all rounds)",
            "vs Apache event" + (" (MB/s)" if w.bytes_metric else ""),
            "vs nginx" + (" (MB/s)" if w.bytes_metric else ""), "runs"]
    return report.table(head, rows)


def describe_tree(rows: list[pss.ProcPss]) -> str:
    """'parent 1.2; 3 children 0.4-0.6 (median 0.5)' in MiB; rows[0] is the root."""
    if not rows:
        return "-"
    text = f"parent {rows[0].pss_kib / 1024:.1f}"
    kids = [r.pss_kib / 1024 for r in rows[1:]]
    if len(kids) == 1:
        text += f"; 1 child {kids[0]:.1f}"
    elif kids:
        text += (f"; {len(kids)} children {min(kids):.1f}-{max(kids):.1f} "
                 f"(median {statistics.median(kids):.1f})")
    return text


def pss_table(res: Results, mode: str, names: list[str], not_serving: dict[str, str],
              pss_requests: int) -> str:
    tot = {n: statistics.median(pss.total_mib(s) for s in res.pss10k[(mode, n)])
           for n in names if res.pss10k.get((mode, n))}
    rows = []
    for n in names:
        samples = res.pss10k.get((mode, n))
        if not samples:
            why = ("not yet serving" if n in not_serving
                   else "not measured (--pss-requests 0)" if not pss_requests else "failed")
            rows.append([n, why, "", "", "", ""])
            continue
        last = samples[-1]
        per = describe_tree(last)
        ends = res.pss_end.get((mode, n), [])
        end_med = statistics.median(pss.total_mib(s) for s in ends) if ends else float("nan")
        end_n = len(ends[-1]) if ends else 0
        rows.append([n, f"{tot[n]:.1f}", str(len(last)), per,
                     f"{end_med:.1f} ({end_n} processes)", fmt_ratio(tot[n], tot.get("apache-event"))])
    head = ["server", f"total PSS MiB after {pss_requests:,} requests (median)", "processes",
            "per process MiB (last round)", "total PSS MiB after all workloads (median)",
            "vs Apache event"]
    return report.table(head, rows)


def render(res: Results, args: argparse.Namespace, names: list[str], wls: list[Workload],
           modes: list[str], not_serving: dict[str, str], started: str, cmdline: str) -> str:
    out = [
        f"## Load harness ({'quick smoke run' if args.quick else 'full run'})",
        "",
        f"- Date: {started} (start) - {report.now_utc()} (end)",
        f"- Machine: {report.machine()}; the cores are shared with other work, so compare "
        "within one table only.",
        f"- Software: {report.versions()}",
        f"- Command: `{cmdline}`",
        f"- {args.rounds} round(s), servers interleaved (order rotated each round), "
        f"{args.duration:g} s measured per run after a {args.warmup:g} s warm-up; medians "
        "and min-max over rounds. wrk -t1 `--latency --timeout 2s`; errors = wrk socket "
        "errors (connect/read/write/timeout) + non-2xx/3xx responses.",
        "- Pinned: every server process tree under `taskset -c 0`, wrk under `taskset -c 1`. "
        "Unpinned: neither.",
        "- Apache and fastcore run the same generated httpd.conf: EnableSendfile On, Options "
        "FollowSymLinks, AllowOverride None, HostnameLookups Off, common-format CustomLog, "
        f"KeepAlive On, MaxKeepAliveRequests 0 (unlimited), KeepAliveTimeout {servers.KEEPALIVE_TIMEOUT}, "
        "MPM directives at their compiled-in defaults. fastcore adds `BufferedLogs On`"
        + ("" if args.fastcore_buffered_logs else " (disabled in this run)") + ". "
        "nginx: 2 workers, sendfile on, tcp_nopush on (as Debian's stock nginx.conf), access_log on, keepalive_timeout "
        f"{servers.KEEPALIVE_TIMEOUT}s, keepalive_requests 100000000. gunicorn: gthread, 2 "
        "workers x 4 threads, a WSGI app using wsgi.file_wrapper, access log on. "
        "http.server: `python3 -m http.server` (HTTP/1.0, so no keep-alive; logs to stderr). "
        "nginx-tuned: as nginx plus `open_file_cache max=10000`, "
        "`access_log ... buffer=64k`, keepalive_requests 100000. h2o: 2 threads, access log "
        "on, file.dir on the same docroot.",
        f"- PSS: sum of /proc/PID/smaps_rollup Pss over the server's whole process tree "
        f"(parent and children alike), after {args.pss_requests:,} keep-alive requests "
        f"(`ab -k -c16`) on a fresh start, and again after all workloads.",
    ]
    if not_serving:
        out.append("- fastcore rows marked *not yet serving*: `python3 -m fastcore -f CONF "
                   "-DFOREGROUND` did not serve the three files correctly at the time of the run.")
    for mode in modes:
        out += ["", f"### {'Pinned: server CPU 0, wrk CPU 1' if mode == 'pinned' else 'Unpinned'}"]
        for w in wls:
            out += ["", f"#### {w.title}", "", workload_table(res, mode, w, names, not_serving)]
        out += ["", "#### Memory (PSS)", "", pss_table(res, mode, names, not_serving, args.pss_requests)]
    fails = [(k, v) for k, v in res.failures.items() if k[1] not in not_serving]
    if fails:
        out += ["", "Failures during the run:", ""]
        out += [f"- {mode} {name}: {'; '.join(msgs)[:400]}" for (mode, name), msgs in fails]
    return "\n".join(out) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds measured per run")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of wrk warm-up per run (0: none)")
    p.add_argument("--quick", action="store_true", help="smoke test: 1 round, 1 s runs, no warm-up")
    p.add_argument("--pinning", choices=("pinned", "unpinned", "both"), default="both")
    p.add_argument("--unpinned", action="store_true", help="same as --pinning unpinned")
    p.add_argument("--servers", default="*", help="comma-separated globs over server names")
    p.add_argument("--workloads", default="*", help="comma-separated globs over workload keys")
    p.add_argument("--no-fastcore", action="store_true", help="peers only")
    p.add_argument("--wait-fastcore", type=float, default=0.0,
                   help="poll up to this many seconds for fastcore to serve before starting")
    p.add_argument("--no-fastcore-buffered-logs", dest="fastcore_buffered_logs",
                   action="store_false")
    p.add_argument("--pss-requests", type=int, default=10000)
    p.add_argument("--write", metavar="FILE", help="write the markdown into FILE's loadtest section")
    p.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON "
                   "(python/charts.py draws them)")
    p.add_argument("--section", default=None,
                   help="marker name of the section to replace (loadtest, or scenarios)")
    p.add_argument("--scenarios", action="store_true",
                   help="the tuning guide's knobs, one configuration each (harness/scenarios.py)")
    p.add_argument("--scenario-keys", default="*", help="comma-separated globs over scenarios")
    p.add_argument("--scenario-connections", type=int, default=32)
    p.add_argument("--strace-requests", type=int, default=2000,
                   help="ab -k -c1 requests under strace per scenario and server (0: none)")
    a = p.parse_args(argv)
    if a.section is None:
        a.section = "scenarios" if a.scenarios else "loadtest"
    if a.unpinned:
        a.pinning = "unpinned"
    if a.quick:
        a.rounds, a.duration, a.warmup = 1, 1.0, 0.0
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cmdline = "python3 python/loadtest.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    started = report.now_utc()
    servers.ensure_installed()
    nofile = raise_nofile()
    if nofile < 4096:
        print(f"warning: descriptor limit {nofile} < 4096; the 1000-connection run may fail")
    globs = args.servers.split(",")
    wls = [w for w in WORKLOADS if any(fnmatch.fnmatch(w.key, g) for g in args.workloads.split(","))]
    modes = ["pinned", "unpinned"] if args.pinning == "both" else [args.pinning]
    base = tempfile.mkdtemp(prefix="fc-harness-")
    os.chmod(base, 0o755)
    docroot = servers.make_docroot(base)
    specs: list[ServerSpec] = []
    not_serving: dict[str, str] = {}
    if not args.no_fastcore:
        deadline = time.monotonic() + args.wait_fastcore
        for mpm in MPMS:
            name = f"fastcore-{mpm}"
            if not any(fnmatch.fnmatch(name, g) for g in globs):
                continue
            while True:
                spec, why = preflight_fastcore(mpm, docroot, args.fastcore_buffered_logs)
                if spec or time.monotonic() >= deadline:
                    break
                time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))
            if spec:
                specs.append(spec)
            else:
                not_serving[name] = why
                print(f"{name}: not yet serving ({why})", flush=True)
    specs += [s for s in servers.peer_specs() if any(fnmatch.fnmatch(s.name, g) for g in globs)]
    names = [f"fastcore-{m}" for m in MPMS if f"fastcore-{m}" in not_serving
             or any(s.name.startswith(f"fastcore-{m}") for s in specs)]
    names = [next((s.name for s in specs if s.name.startswith(n)), n) for n in names]
    names += [s.name for s in specs if s.kind != "fastcore"]
    if args.scenarios:
        fastcore = [s for s in specs if s.kind == "fastcore"]
        return finish(scenarios.run(args, fastcore, docroot, modes, cmdline, started), args, base)
    res = Results()
    for mode in modes:
        for rnd in range(args.rounds):
            k = rnd % max(1, len(specs))
            order = specs[k:] + specs[:k]
            print(f"{mode} round {rnd + 1}/{args.rounds}: {' '.join(s.name for s in order)}", flush=True)
            for spec in order:
                run_server_round(spec, mode, docroot, args, wls, res)
    if args.json:
        record.write(args.json, "loadtest", cmdline, [
            record.Row(mode, server, key, next(w.title for w in wls if w.key == key),
                       record.rounds(rs), next(w.bytes_metric for w in wls if w.key == key))
            for (mode, server, key), rs in res.wrk.items() if rs])
    return finish(render(res, args, names, wls, modes, not_serving, started, cmdline), args, base)


def finish(md: str, args: argparse.Namespace, base: str) -> int:
    print(md)
    if args.write:
        report.replace_section(args.write, args.section, md)
        print(f"written to {args.write} (section {args.section})")
    servers.shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
