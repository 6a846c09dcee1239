#!/usr/bin/env python3
"""Memory at scale, side by side: PSS per idle keep-alive connection, the whole tree with
N connections open, prefork's marginal PSS per child, copy-on-write growth per request,
and an optional soak (memory sampled under load, written as a PNG plot).

    python3 python/memscale.py --connections 10000 --python-connections 1000
    python3 python/memscale.py --connections-only --sizings fixed,2x4 --rounds 3
    python3 python/memscale.py --soak 600 --plot docs/bench/soak.png

Each server runs the harness's shared configuration (harness/servers.py) with a long
KeepAliveTimeout and room for the connections; the client opens the connections from
this process, each with one request answered, then holds them idle while the server's
whole process tree is measured (PSS, /proc/PID/smaps_rollup). Per connection =
(PSS with N open - PSS with none open, after the same warm-up) / N.

Apache and fastcore run once per MPM sizing (--sizings): with httpd's spare rule the
parent may add children while the connections arrive, which the figure per connection
then carries; with a fixed number of children (nginx's two workers, gunicorn's 2 x 4) it
measures the connections alone.
"""
from __future__ import annotations

import argparse
import os
import selectors
import shlex
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import pss, report, servers, workloads  # noqa: E402
from harness.servers import ServerSpec, Tuning  # noqa: E402

HOLD = 300  # seconds of KeepAliveTimeout while connections are held


@dataclass(frozen=True)
class Sizing:
    """An MPM sizing for Apache and fastcore (peers with their own syntax run once)."""

    key: str
    what: str
    tuning: Tuning
    apache: bool = True  # Apache event is measured with it too


# threaded MPMs: room for the held connections (event: 2 x 64 threads x factor 64)
SCALE = Tuning(server_lines=("ServerLimit 4", "ThreadsPerChild 64", "ThreadLimit 64",
                             "MaxRequestWorkers 256", "AsyncRequestWorkerFactor 64",
                             "StartServers 2"))
SIZINGS = {s.key: s for s in (
    Sizing("spares", "ServerLimit 4: the parent may start spare children while the "
           "connections arrive (httpd's rule)", SCALE),
    Sizing("fixed", "two children of 64 threads and no more, as nginx's two workers",
           Tuning(server_lines=("ServerLimit 2", "ThreadsPerChild 64", "ThreadLimit 64",
                                "MaxRequestWorkers 128", "AsyncRequestWorkerFactor 128",
                                "StartServers 2"))),
    # Apache event is not run with it: in a trial it kept 9 of the 10,000 connections.
    Sizing("2x4", "two children of 4 threads, the shape of gunicorn's gthread 2 x 4",
           Tuning(server_lines=("ServerLimit 2", "ThreadsPerChild 4", "ThreadLimit 4",
                                "MaxRequestWorkers 8", "AsyncRequestWorkerFactor 1500",
                                "StartServers 2", "MinSpareThreads 1", "MaxSpareThreads 8")),
           apache=False),
)}
REQUEST = b"GET /100.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def hold_connections(port: int, n: int, timeout: float = 120.0) -> list[socket.socket]:
    """n connections, each with one answered keep-alive request, left open."""
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    pending: dict[int, bytes] = {}
    deadline = time.monotonic() + timeout
    opened = 0
    while (opened < n or pending) and time.monotonic() < deadline:
        while opened < n and len(pending) < 256:  # a bounded number of handshakes at once
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            sel.register(s, selectors.EVENT_WRITE)
            socks.append(s)
            pending[s.fileno()] = b""
            opened += 1
        for key, ev in sel.select(1.0):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                try:
                    s.send(REQUEST)
                except OSError:
                    sel.unregister(s)
                    pending.pop(s.fileno(), None)
                    continue
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            got = pending.get(s.fileno(), b"") + data
            if not data or _complete(got):
                sel.unregister(s)
                pending.pop(s.fileno(), None)
            else:
                pending[s.fileno()] = got
    sel.close()
    alive = [s for s in socks if _alive(s)]
    for s in socks:
        if s not in alive:
            s.close()
    return alive


def _complete(got: bytes) -> bool:
    """A whole response: its head and Content-Length bytes of body."""
    head, sep, body = got.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def _alive(s: socket.socket) -> bool:
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def tree_kib(run: servers.Running) -> tuple[int, int]:
    rows = pss.tree_pss(run.pids())
    return sum(r.pss_kib for r in rows), len(rows)


def per_connection(spec: ServerSpec, docroot: str, n: int) -> dict[str, float]:
    run = spec.start(docroot, None)
    try:
        workloads.run_ab(run.port, "100.html", 2000, 8, True)
        time.sleep(1.0)
        base, procs0 = tree_kib(run)
        held = hold_connections(run.port, n)
        time.sleep(1.0)
        with_n, procs = tree_kib(run)
        for s in held:
            s.close()
        return {"connections": len(held), "pss0_kib": base, "pssn_kib": with_n,
                "processes": procs, "processes0": procs0,
                "per_conn_kib": (with_n - base) / max(1, len(held))}
    finally:
        run.stop()
        servers.cleanup(run)


def private_dirty_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return sum(int(line.split()[1]) for line in f
                   if line.startswith(("Private_Dirty:",)))


def prefork_marginal(spec: ServerSpec, docroot: str) -> dict[str, float]:
    """PSS of a prefork tree with 4 and with 8 children: the guide's divisor."""
    out = {}
    for k in (4, 8):
        t = Tuning(server_lines=(f"StartServers {k}", f"MinSpareServers {k}",
                                 f"MaxSpareServers {k}"))
        run = replace(spec, tuning=t).start(docroot, None)
        try:
            deadline = time.monotonic() + 20
            while len(run.pids()) < k + 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            workloads.run_ab(run.port, "100.html", 500, 4, True)
            time.sleep(1.0)
            out[k] = tree_kib(run)[0]
        finally:
            run.stop()
            servers.cleanup(run)
    return {"pss4_kib": out[4], "pss8_kib": out[8], "per_child_kib": (out[8] - out[4]) / 4}


def cow_growth(spec: ServerSpec, docroot: str, requests: int) -> dict[str, float]:
    """Children's private dirty pages before and after `requests` keep-alive requests."""
    run = spec.start(docroot, None)
    try:
        workloads.run_ab(run.port, "10k.html", 200, 4, True)
        kids = run.pids()[1:] or run.pids()
        before = sum(private_dirty_kib(p) for p in kids)
        workloads.run_ab(run.port, "10k.html", requests, 8, True, timeout=600)
        kids2 = [p for p in run.pids()[1:] if p in kids] or run.pids()
        after = sum(private_dirty_kib(p) for p in kids2)
        return {"before_kib": before, "after_kib": after,
                "per_1k_requests_kib": (after - before) / requests * 1000}
    finally:
        run.stop()
        servers.cleanup(run)


def soak(spec: ServerSpec, docroot: str, seconds: float, every: float) -> list[tuple[float, int]]:
    """(elapsed s, tree PSS KiB) sampled while wrk keeps 32 connections busy."""
    run = spec.start(docroot, None)
    samples = []
    try:
        t0 = time.monotonic()
        w = workloads.Workload("soak", "soak", "10k.html", 32)
        while time.monotonic() - t0 < seconds:
            workloads.run_wrk(w, run.port, every, None)
            samples.append((time.monotonic() - t0, tree_kib(run)[0]))
    finally:
        run.stop()
        servers.cleanup(run)
    return samples


def plot(series: dict[str, list[tuple[float, int]]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, pts in series.items():
        ax.plot([t for t, _ in pts], [k / 1024 for _, k in pts], label=name)
    ax.set_xlabel("seconds under load (wrk -c32, 10 KB keep-alive)")
    ax.set_ylabel("process tree PSS (MiB)")
    ax.set_title("Soak: memory of the whole server tree")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--connections", type=int, default=10000)
    p.add_argument("--python-connections", type=int, default=1000,
                   help="connections held for gunicorn and uvicorn")
    p.add_argument("--servers", default="fastcore-event,apache-event,nginx,gunicorn,uvicorn")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sizings", default=",".join(SIZINGS),
                   help=f"Apache/fastcore MPM sizings, comma-separated: {', '.join(SIZINGS)}")
    p.add_argument("--connections-only", action="store_true",
                   help="only the per-connection table (no prefork, copy-on-write or soak)")
    p.add_argument("--cow-requests", type=int, default=20000)
    p.add_argument("--soak", type=float, default=0.0, help="seconds of soak per server (0: none)")
    p.add_argument("--soak-every", type=float, default=10.0)
    p.add_argument("--plot", default="docs/bench/soak.png")
    p.add_argument("--write", metavar="FILE", help="write the markdown into FILE's memscale section")
    args = p.parse_args(argv)
    cmdline = "python3 python/memscale.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    started = report.now_utc()
    servers.ensure_installed()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    servers.KEEPALIVE_TIMEOUT = HOLD
    base = tempfile.mkdtemp(prefix="fc-mem-")
    os.chmod(base, 0o755)
    docroot = servers.make_docroot(base)
    names = args.servers.split(",")
    specs = {s.name: s for s in
             [servers.fastcore_spec(m) for m in ("event", "worker", "prefork")]
             + servers.peer_specs() if s.name in names}
    sizings = [SIZINGS[k] for k in args.sizings.split(",")]
    plan: list[tuple[str, ServerSpec, int]] = []  # (row label, spec, connections)
    for name, spec in specs.items():
        if spec.kind in ("gunicorn", "uvicorn"):
            plan.append((name, spec, args.python_connections))
        elif spec.kind in ("fastcore", "apache"):
            plan += [(f"{name} ({z.key})", replace(spec, tuning=z.tuning), args.connections)
                     for z in sizings if z.apache or spec.kind == "fastcore"]
        else:
            plan.append((name, spec, args.connections))
    runs: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in plan}
    for _ in range(args.rounds):  # rounds interleaved: the machine drifts alike for all
        for label, spec, n in plan:
            try:
                runs[label].append(per_connection(spec, docroot, n))
            except Exception as e:  # noqa: BLE001 - a server that fails is a row, not a crash
                print(f"{label}: {type(e).__name__}: {e}", flush=True)
            if runs[label]:
                print(label, runs[label][-1], flush=True)
    rows = []
    for label, _, _ in plan:
        got = runs[label]
        if not got:
            rows.append([label, "failed"] + [""] * 5)
            continue
        last = got[-1]
        rows.append([label, f"{last['connections']:,}",
                     f"{statistics.median(r['per_conn_kib'] for r in got):.2f}",
                     f"{statistics.median(r['pss0_kib'] for r in got) / 1024:.1f}",
                     f"{statistics.median(r['pssn_kib'] for r in got) / 1024:.1f}",
                     f"{last['processes0']} -> {last['processes']}", str(len(got))])
    out = ["## Memory at scale", "", f"- Date: {started} - {report.now_utc()}",
           f"- Machine: {report.machine()}", f"- Command: `{cmdline}`",
           f"- KeepAliveTimeout {HOLD}; nginx 2 workers x 8192 connections; gunicorn gthread "
           "2x4; uvicorn 2 workers. Apache and fastcore sizings:"]
    out += [f"  - {z.key}: {z.what} ({', '.join(z.tuning.server_lines)})" for z in sizings]
    out += ["", report.table(["server", "idle keep-alive connections held", "KiB per connection "
                              "(median)", "tree PSS MiB, none open", "tree PSS MiB, all open",
                              "processes", "rounds"], rows)]
    if args.connections_only:
        return _finish(out, args.write, base)
    pf = [s for s in (servers.fastcore_spec("prefork"),
                      next(x for x in servers.peer_specs() if x.name == "apache-prefork"))]
    mrows = []
    for spec in pf:
        m = prefork_marginal(spec, docroot)
        mrows.append([spec.name, f"{m['pss4_kib'] / 1024:.1f}", f"{m['pss8_kib'] / 1024:.1f}",
                      f"{m['per_child_kib'] / 1024:.2f}"])
    out += ["", "### Prefork: marginal PSS per added child", "",
            report.table(["server", "tree MiB, 4 children", "tree MiB, 8 children",
                          "MiB per added child"], mrows)]
    crows = []
    for name, spec in specs.items():
        if spec.kind in ("gunicorn", "uvicorn"):
            continue
        c = cow_growth(replace(spec, tuning=servers.IDEAL), docroot, args.cow_requests)
        crows.append([name, f"{c['before_kib'] / 1024:.1f}", f"{c['after_kib'] / 1024:.1f}",
                      f"{c['per_1k_requests_kib']:.2f}"])
    out += ["", f"### Copy-on-write growth over {args.cow_requests:,} keep-alive requests", "",
            report.table(["server", "children private dirty MiB before", "after",
                          "KiB per 1,000 requests"], crows)]
    if args.soak > 0:
        series = {name: soak(replace(spec, tuning=servers.IDEAL), docroot, args.soak,
                             args.soak_every) for name, spec in specs.items()}
        plot(series, args.plot)
        srows = [[n, f"{pts[0][1] / 1024:.1f}", f"{pts[-1][1] / 1024:.1f}",
                  f"{max(k for _, k in pts) / 1024:.1f}"] for n, pts in series.items() if pts]
        out += ["", f"### Soak: {args.soak:g} s at load, sampled every {args.soak_every:g} s", "",
                report.table(["server", "first MiB", "last MiB", "max MiB"], srows), "",
                f"![soak]({os.path.relpath(args.plot, 'docs/bench') if args.plot.startswith('docs/bench') else args.plot})"]
    return _finish(out, args.write, base)


def _finish(out: list[str], write: str | None, base: str) -> int:
    """Print the report, write it into `write`'s memscale section, remove the docroot."""
    md = "\n".join(out) + "\n"
    print(md)
    if write:
        report.replace_section(write, "memscale", md)
    servers.shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
