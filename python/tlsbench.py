#!/usr/bin/env python3
"""HTTPS side by side (issue 15): fastcore's mod_ssl against nginx, h2o and Apache event
with the same certificate, TLS 1.3, the same document root.

Workloads: a 10240-byte file over keep-alive HTTPS (wrk -c16), a 1 MiB file (wrk -c16,
MB/s), full handshakes per second and resumed ones (`openssl s_time -new` / `-reuse`,
one connection at a time, each fetching /10k.html), and the server's capacity for resumed
handshakes: h2load -c16 (`Connection: close`, a new connection per request; h2load
resumes its sessions) and 4 s_time -reuse clients at once.  Full handshakes under load
have no figure: s_time's client (certificate verification) runs out of CPU first.  Every figure comes with the server's
CPU time per request (its process tree's utime + stime over the run).  Pinned: each server
tree on CPU 0, the load generator on CPU 1 (--unpinned: neither, and nginx and h2o get
2 workers instead of 1, one per core; fastcore and Apache keep their MPM's sizing).  Rounds are interleaved;
medians reported.

    python3 python/tlsbench.py --rounds 3 --seconds 6 [--cert ecdsa|rsa] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))

from harness.servers import ASGI_APP, WSGI_APP  # noqa: E402
from harness.workloads import parse_wrk  # noqa: E402
from support.ports import free_port, wait_port  # noqa: E402
from support.tlscerts import Pair, make  # noqa: E402

MODDIR = "/usr/lib/apache2/modules"
PEERS = ("fastcore", "nginx", "h2o", "apache", "gunicorn", "uvicorn")
PIN_SERVER = ["taskset", "-c", "0"]
PIN_CLIENT = ["taskset", "-c", "1"]
PINNED = True  # --unpinned: the scheduler places servers and load generators


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    proc: subprocess.Popen | None = None

    def start(self, pinned: bool = True) -> None:
        self.proc = subprocess.Popen([*PIN_SERVER * pinned, *self.argv],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True,
                                     env=dict(os.environ, PYTHONPATH=REPO))
        wait_port(self.port, 30)
        time.sleep(1.0)

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def cpu_ticks(self) -> int:
        """utime + stime of every thread of the server's process group."""
        total = 0
        if self.proc is None:
            return 0
        pgid = self.proc.pid
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    parts = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(parts[2]) == pgid:  # field 5: pgrp
                total += int(parts[11]) + int(parts[12])
        return total


def _apache_conf(wd: str, www: str, port: int, crt: str, key: str, fastcore: bool) -> str:
    mods = ["mpm_event", "authz_core", "mime", "socache_shmcb", "ssl"]
    lines = [f"LoadModule {m}_module {MODDIR}/mod_{m}.so" for m in mods]
    lines += [f'ServerRoot "{wd}"', f'PidFile "{wd}/pid"', f'ErrorLog "{wd}/error_log"',
              f'DefaultRuntimeDir "{wd}"', "ServerName a.test", "TypesConfig /etc/mime.types",
              f"Listen 127.0.0.1:{port} https", "KeepAlive On", "MaxKeepAliveRequests 0",
              "EnableSendfile On", 'LogFormat "%h %l %u %t \\"%r\\" %>s %b" common',
              f'CustomLog "{wd}/access_log" common', f'DocumentRoot "{www}"',
              f'SSLSessionCache "shmcb:{wd}/scache(512000)"', "SSLEngine on",
              f'SSLCertificateFile "{crt}"', f'SSLCertificateKeyFile "{key}"',
              "SSLProtocol -all +TLSv1.3"]
    if fastcore:
        lines.append("BufferedLogs On")
    lines.append("User nobody\nGroup nogroup" if os.getuid() == 0 else "")
    return "\n".join(lines) + "\n"


def _nginx_conf(wd: str, www: str, port: int, crt: str, key: str) -> str:
    return f"""daemon off;
worker_processes {1 if PINNED else 2};
pid {wd}/nginx.pid;
error_log {wd}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    default_type application/octet-stream;
    access_log {wd}/access.log;
    sendfile on; tcp_nopush on;
    keepalive_requests 100000000;
    ssl_session_cache shared:SSL:10m;
    ssl_protocols TLSv1.3;
    client_body_temp_path {wd}/cb; proxy_temp_path {wd}/p; fastcgi_temp_path {wd}/f;
    uwsgi_temp_path {wd}/u; scgi_temp_path {wd}/s;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {crt}; ssl_certificate_key {key};
        root {www};
    }}
}}
"""


def _h2o_conf(wd: str, www: str, port: int, crt: str, key: str) -> str:
    import pwd
    return f"""listen:
  host: 127.0.0.1
  port: {port}
  ssl:
    certificate-file: {crt}
    key-file: {key}
    minimum-version: TLSv1.3
num-threads: {1 if PINNED else 2}
pid-file: {wd}/h2o.pid
error-log: {wd}/error.log
user: {pwd.getpwuid(os.getuid()).pw_name}
access-log: {wd}/access.log
hosts:
  "a.test":
    paths:
      /:
        file.dir: {www}
"""


def make_site(base: str, cert: str) -> tuple[Pair, str]:
    """Under base: the test certificates (readable by every server's user) and the document
    root with /10k.html and /1m.html.  Returns the chosen pair and the document root."""
    certs = make(os.path.join(base, "certs"))
    for f in os.listdir(certs.folder):
        os.chmod(os.path.join(certs.folder, f), 0o644)
    www = os.path.join(base, "www")
    os.makedirs(www)
    with open(os.path.join(www, "10k.html"), "wb") as fh:
        fh.write(os.urandom(5120).hex().encode())
    with open(os.path.join(www, "1m.html"), "wb") as fh:
        fh.write(os.urandom(512 * 1024).hex().encode())
    return (certs.ec if cert == "ecdsa" else certs.rsa), www


def make_server(name: str, base: str, www: str, crt: str, key: str,
                httpd: list[str] | None = None) -> Server:
    wd = os.path.join(base, name)
    os.makedirs(wd, exist_ok=True)
    os.chmod(wd, 0o777)
    port = free_port()
    if name in ("fastcore", "apache"):
        conf = os.path.join(wd, "httpd.conf")
        with open(conf, "w") as fh:
            fh.write(_apache_conf(wd, www, port, crt, key, name == "fastcore"))
            fh.write("".join(line + "\n" for line in httpd or ()))
        argv = ([sys.executable, "-m", "fastcore"] if name == "fastcore"
                else ["/usr/sbin/apache2"]) + ["-f", conf, "-DFOREGROUND"]
    elif name == "nginx":
        conf = os.path.join(wd, "nginx.conf")
        with open(conf, "w") as fh:
            fh.write(_nginx_conf(wd, www, port, crt, key))
        argv = ["nginx", "-c", conf]
    elif name == "gunicorn":  # gthread, one worker per CPU it gets, the stdlib ssl module
        with open(os.path.join(wd, "tls_app.py"), "w") as fh:
            fh.write(WSGI_APP.format(root=os.path.realpath(www)))
        argv = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "1" if PINNED else "2",
                "--threads", "4", "--keep-alive", "5", "-b", f"127.0.0.1:{port}",
                "--certfile", crt, "--keyfile", key, "--chdir", wd,
                "--access-logfile", os.path.join(wd, "access.log"), "tls_app:app"]
    elif name == "uvicorn":
        with open(os.path.join(wd, "tls_asgi.py"), "w") as fh:
            fh.write(ASGI_APP.format(root=os.path.realpath(www)))
        argv = [sys.executable, "-m", "uvicorn", "--workers", "1" if PINNED else "2",
                "--host", "127.0.0.1", "--port", str(port), "--ssl-certfile", crt,
                "--ssl-keyfile", key, "--app-dir", wd, "tls_asgi:app"]
    else:
        conf = os.path.join(wd, "h2o.conf")
        with open(conf, "w") as fh:
            fh.write(_h2o_conf(wd, www, port, crt, key))
        argv = ["h2o", "-c", conf]
    return Server(name, argv, port)


@dataclass
class Figure:
    value: float
    cpu_us: float  # server CPU per request (or per handshake)


def _measured(srv: Server, run: Callable[[], tuple[float, int]]) -> Figure:
    before = srv.cpu_ticks()
    value, count = run()
    ticks = srv.cpu_ticks() - before
    hz = os.sysconf("SC_CLK_TCK")
    return Figure(value, ticks / hz * 1e6 / max(count, 1))


def wrk(port: int, path: str, seconds: float, mb: bool) -> tuple[float, int]:
    cmd = [*PIN_CLIENT * PINNED, "wrk", "-t1", "-c16", f"-d{int(seconds)}s", "--latency",
           f"https://127.0.0.1:{port}/{path}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    r = parse_wrk(p.stdout, " ".join(cmd))
    return (r.bytes_per_s / 1e6 if mb else r.rps), r.requests


def s_time(port: int, seconds: float, reuse: bool) -> tuple[float, int]:
    cmd = [*PIN_CLIENT * PINNED, "openssl", "s_time", "-connect", f"127.0.0.1:{port}",
           "-www", "/10k.html", "-time", str(int(seconds)), "-tls1_3",
           "-reuse" if reuse else "-new"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    secs = time.monotonic() - t0  # wall clock (s_time's own figure is its CPU seconds,
    m = re.search(r"(\d+) connections in", p.stdout)  # or whole real seconds)
    if not m:
        raise RuntimeError(f"s_time: {p.stdout[-300:]} {p.stderr[-300:]}")
    n = int(m.group(1))
    return n / secs, n


def s_time_parallel(port: int, seconds: float, reuse: bool, clients: int = 4) -> tuple[float, int]:
    """`clients` s_time processes at once (on the load generator's CPU when pinned): the
    server's handshake capacity rather than one client's round trips."""
    cmd = [*PIN_CLIENT * PINNED, "openssl", "s_time", "-connect", f"127.0.0.1:{port}",
           "-www", "/10k.html", "-time", str(int(seconds)), "-tls1_3",
           "-reuse" if reuse else "-new"]
    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(clients)]
    n = 0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 60)
        m = re.search(r"(\d+) connections in", out)
        if not m:
            raise RuntimeError(f"s_time: {out[-300:]}")
        n += int(m.group(1))
    return n / (time.monotonic() - t0), n


def _h2load(port: int, n: int, clients: int, timeout: float) -> tuple[float, int]:
    cmd = [*PIN_CLIENT * PINNED, "h2load", "--h1", "-c", str(clients), "-n", str(n),
           "-H", "Connection: close", f"https://127.0.0.1:{port}/10k.html"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    m = re.search(r"finished in ([\d.]+)m?s, ([\d.]+) req/s", p.stdout)
    ok = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored", p.stdout)
    if not m or not ok or int(ok.group(1)) != n:
        raise RuntimeError(f"h2load: {p.stdout[-400:]} {p.stderr[-300:]}")
    return float(m.group(2)), n


def h2load_new(port: int, seconds: float, clients: int = 16) -> tuple[float, int]:
    """Handshakes under load: h2load --h1 with `Connection: close`, so every request is a
    new connection.  h2load offers each client's last session when it reconnects, so
    these are resumed TLS 1.3 handshakes (all but the first of each client: 196 of 200
    logged %{SSL_SESSION_RESUMED}x "Resumed").  Its client is cheap, so the server's CPU
    is what runs out.  Its -D never ends with `Connection: close`: a short probe sizes
    -n to about `seconds`."""
    rate, _ = _h2load(port, 256, clients, 60)
    return _h2load(port, max(256, int(rate * seconds)), clients, seconds * 3 + 30)


WORKLOADS: dict[str, Callable[[int, float], tuple[float, int]]] = {
    "10k-ka (req/s)": lambda port, s: wrk(port, "10k.html", s, False),
    "1m-ka (MB/s)": lambda port, s: wrk(port, "1m.html", s, True),
    "full handshakes/s": lambda port, s: s_time(port, s, False),
    "resumed handshakes/s": lambda port, s: s_time(port, s, True),
    "resumed handshakes/s, h2load -c16": lambda port, s: h2load_new(port, s),
    "resumed handshakes/s, 4 clients": lambda port, s: s_time_parallel(port, s, True),
}


@dataclass
class Table:
    figures: dict[str, dict[str, list[Figure]]] = field(default_factory=dict)

    def add(self, workload: str, peer: str, f: Figure) -> None:
        self.figures.setdefault(workload, {}).setdefault(peer, []).append(f)

    def median(self, workload: str, peer: str) -> Figure | None:
        got = self.figures.get(workload, {}).get(peer)
        if not got:
            return None
        return Figure(statistics.median(f.value for f in got),
                      statistics.median(f.cpu_us for f in got))


def render(t: Table, peers: list[str], args: argparse.Namespace) -> str:
    head = "| workload | " + " | ".join(peers) + " | fastcore / nginx | fastcore / apache |"
    out = [head, "|" + "---|" * (len(peers) + 3)]
    for w in WORKLOADS:
        cells, fc, ng, ap = [], t.median(w, "fastcore"), t.median(w, "nginx"), \
            t.median(w, "apache")
        for p in peers:
            m = t.median(w, p)
            cells.append(f"{m.value:,.0f} ({m.cpu_us:.0f} µs CPU)" if m else "-")
        r1 = f"{fc.value / ng.value:.2f}x" if fc and ng and ng.value else "-"
        r2 = f"{fc.value / ap.value:.2f}x" if fc and ap and ap.value else "-"
        out.append(f"| {w} | " + " | ".join(cells) + f" | {r1} | {r2} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--cert", choices=("ecdsa", "rsa"), default="ecdsa")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--json")
    ap.add_argument("--httpd", action="append", default=[], metavar="LINE",
                    help="one more httpd.conf line for fastcore and Apache (repeatable), "
                         "e.g. 'AcceptFilter https none'")
    ap.add_argument("--only", default="",
                    help="run the workloads whose name contains this text (e.g. handshake)")
    ap.add_argument("--unpinned", action="store_true",
                    help="no taskset: servers and load generators where the scheduler puts them")
    args = ap.parse_args(argv)
    global PINNED
    PINNED = not args.unpinned
    peers = [p for p in args.peers.split(",") if p]
    base = tempfile.mkdtemp(prefix="fc-tlsbench-")
    os.chmod(base, 0o755)
    try:
        pair, www = make_site(base, args.cert)
        table = Table()
        for rnd in range(args.rounds):
            for name in peers:
                if name == "h2o" and not shutil.which("h2o"):
                    continue
                srv = make_server(name, os.path.join(base, f"r{rnd}"), www, pair.cert, pair.key,
                                  args.httpd)
                srv.start(PINNED)
                try:
                    for w, fn in WORKLOADS.items():
                        if args.only not in w:
                            continue
                        port = srv.port
                        try:
                            table.add(w, name, _measured(
                                srv, lambda fn=fn, port=port: fn(port, args.seconds)))
                        except (RuntimeError, subprocess.TimeoutExpired) as exc:
                            print(f"round {rnd + 1}: {name} {w}: no figure ({exc})"[:300],
                                  file=sys.stderr)
                finally:
                    srv.stop()
                print(f"round {rnd + 1}/{args.rounds}: {name} done", file=sys.stderr)
        md = render(table, peers, args)
        print(md)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({w: {p: [vars(f) for f in fs] for p, fs in d.items()}
                           for w, d in table.figures.items()}, fh, indent=1)
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
