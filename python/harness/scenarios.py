"""The tuning guide's knobs, one scenario each: `python3 python/loadtest.py --scenarios`.

Each scenario is one httpd.conf variant (a `Tuning`) that fastcore (each MPM) and Apache
event run alike, plus nginx where nginx can express the same thing. Per scenario and
server: start, check the scenario's URL answers 200 with the expected size, wrk
keep-alive on it (requests/s, p99), and on the first round `strace -f -c` attached while
`ab -k -c1` sends a fixed number of requests (syscalls per request, raw: no idle
subtraction, the same for every server). Servers are interleaved within each round.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import statistics
import time
from dataclasses import dataclass, replace

from harness import record, report, servers, strace, workloads
from harness.servers import ServerSpec, StartError, Tuning
from harness.workloads import Workload, WrkResult

DEEP = "a/b/c"
SIZE = 10240


@dataclass(frozen=True)
class Scenario:
    """One row of the table: the configuration, the URL, and whether nginx has it."""

    key: str
    title: str
    tuning: Tuning
    path: str = f"{DEEP}/10k.html"
    size: int = SIZE
    nginx: bool = False  # nginx can express it (its lines are in tuning.nginx_lines)
    recommended: bool = False  # the guide's recommended settings (target: 2.5x Apache)
    headers: tuple[str, ...] = ()  # request header lines wrk sends
    status: int = 200  # the answer checked before the run (a redirect: its body size varies
    #                    with the port, so `size` -1 skips that check)


NEG = ("negotiation",)
# the forms h5bp's security/*.conf and web_performance/cache_expiration.conf use
H5BP_LINES = (
    'Header always set X-Content-Type-Options "nosniff"',
    'Header always set Referrer-Policy "strict-origin-when-cross-origin" '
    '"expr=%{CONTENT_TYPE} =~ m#text\\/(css|html|javascript)|application\\/pdf|xml#i"',
    'Header always set X-Frame-Options "DENY" "expr=%{CONTENT_TYPE} =~ m#text/html#i"',
    'Header always set Content-Security-Policy "default-src \'self\'; frame-ancestors '
    '\'none\'" "expr=%{CONTENT_TYPE} =~ m#text\\/(html|javascript)|application\\/pdf|xml#i"',
    "Header always unset X-Powered-By",
    "Header unset X-Powered-By",
    "ExpiresActive on",
    'ExpiresDefault "access plus 1 month"',
    'ExpiresByType text/html "access plus 0 seconds"',
)
# h5bp's rewrite recipes (server-configs-apache: rewrites/rewrite_engine.conf's %{ENV:PROTO},
# rewrites/rewrite_nowww.conf, web_performance/filename-based_cache_busting.conf) in server
# context, where %{REQUEST_FILENAME} is still the URL: the file test names the file
H5BP_REWRITE = (
    "RewriteEngine On",
    "RewriteCond %{HTTPS} =on",
    "RewriteRule ^ - [env=proto:https]",
    "RewriteCond %{HTTPS} !=on",
    "RewriteRule ^ - [env=proto:http]",
    "RewriteCond %{HTTPS} !=on",
    "RewriteCond %{HTTP_HOST} ^www\\.(.+)$ [NC]",
    "RewriteRule ^ %{ENV:PROTO}://%1%{REQUEST_URI} [R=301,L]",
    "RewriteCond %{DOCUMENT_ROOT}%{REQUEST_URI} !-f",
    "RewriteRule ^(.+)\\.(\\w+)\\.(bmp|css|cur|gif|ico|jpe?g|m?js|png|svgz?|webp|webmanifest)$"
    " $1.$3 [L]",
)
# a legacy redirect list: 500 rules, one per old URL
REDIRECTS_500 = ("RewriteEngine On", *(f"RewriteRule ^/old/path{n}$ /new/path{n} [R=301,L]"
                                       for n in range(500)))
LANGS = ("AddLanguage en .en", "AddLanguage fr .fr")
OWNER = "FollowSymLinks SymLinksIfOwnerMatch"

SCENARIOS = (
    Scenario("ideal", "Options FollowSymLinks, AllowOverride None (the guide's ideal)",
             Tuning(), nginx=True, recommended=True),
    Scenario("symlinks-owner", "Options SymLinksIfOwnerMatch",
             Tuning(root_options="SymLinksIfOwnerMatch", docroot_options="SymLinksIfOwnerMatch",
                    nginx_lines=("disable_symlinks if_not_owner;",)), nginx=True),
    Scenario("symlinks-none", "Options None (no symlink option)",
             Tuning(root_options="None", docroot_options="None",
                    nginx_lines=("disable_symlinks on;",)), nginx=True),
    Scenario("override-root", "AllowOverride All from /",
             Tuning(root_override="All", docroot_override="All")),
    Scenario("override-docroot", "AllowOverride All at DocumentRoot only (a .htaccess there)",
             Tuning(docroot_override="All")),
    Scenario("override-owner", "SymLinksIfOwnerMatch and AllowOverride All from /",
             Tuning(root_options="SymLinksIfOwnerMatch", docroot_options="SymLinksIfOwnerMatch",
                    root_override="All", docroot_override="All")),
    Scenario("hostname-lookups", "HostnameLookups On",
             Tuning(hostname_lookups="On")),
    Scenario("hostname-lookups-double", "HostnameLookups Double",
             Tuning(hostname_lookups="Double")),
    Scenario("require-ip", "Require ip 127.0.0.1",
             Tuning(require="ip 127.0.0.1", modules=("authz_host",),
                    nginx_lines=("allow 127.0.0.1;", "deny all;")), nginx=True,
             recommended=True),
    Scenario("require-host", "Require host localhost (double reverse lookup)",
             Tuning(require="host localhost", modules=("authz_host",))),
    Scenario("multiviews", "Options MultiViews, /a/b/c/page negotiated among 2 languages",
             Tuning(docroot_options="FollowSymLinks MultiViews", modules=NEG, dir_lines=LANGS),
             path=f"{DEEP}/page"),
    Scenario("typemap", "the same choice through a type map (/a/b/c/choice.var)",
             Tuning(modules=NEG, dir_lines=LANGS + ("AddHandler type-map .var",)),
             path=f"{DEEP}/choice.var", recommended=True),
    Scenario("dirindex", "DirectoryIndex index.html, request /a/b/c/",
             Tuning(), path=f"{DEEP}/", nginx=True, recommended=True),
    Scenario("dirindex-list", "DirectoryIndex missing.html other.html index.html, /a/b/c/",
             Tuning(dir_lines=("DirectoryIndex missing.html other.html index.html",),
                    nginx_lines=("index missing.html other.html index.html;",)),
             path=f"{DEEP}/", nginx=True),
    Scenario("extendedstatus", "ExtendedStatus On (mod_status loaded)",
             Tuning(modules=("status",), server_lines=("ExtendedStatus On",))),
    Scenario("h5bp-headers", "HTML5 Boilerplate's security headers and cache expiration "
             "(mod_headers, mod_expires), to compare with `ideal`",
             Tuning(modules=("headers", "expires"), dir_lines=H5BP_LINES)),
    Scenario("gzip-100k", "AddOutputFilterByType DEFLATE text/plain, a 100 KB text file, "
             "Accept-Encoding: gzip", Tuning(modules=("filter", "deflate"), dir_lines=(
                 "AddOutputFilterByType DEFLATE text/plain",)),
             path=f"{DEEP}/100k.txt", size=102400, headers=("Accept-Encoding: gzip",)),
    Scenario("rewrite-h5bp", "h5bp's rewrite rules (no-www, filename-based cache busting): "
             "/a/b/c/style.1234.css served as style.css",
             Tuning(modules=("rewrite",), server_lines=H5BP_REWRITE),
             path=f"{DEEP}/style.1234.css"),
    Scenario("rewrite-redirects-500", "500 RewriteRule ^/old/pathN$ /new/pathN [R=301,L]: "
             "a static file behind them (every rule tried)",
             Tuning(modules=("rewrite",), server_lines=REDIRECTS_500)),
    Scenario("rewrite-redirects-500-301", "the same 500 rules: the redirect of rule 250",
             Tuning(modules=("rewrite",), server_lines=REDIRECTS_500),
             path="old/path250", size=-1, status=301),
)

TYPEMAP = """URI: page.en.html
Content-type: text/html
Content-language: en

URI: page.fr.html
Content-type: text/html
Content-language: fr
"""


def make_tree(docroot: str) -> None:
    """a/b/c/ with the 10 KB file, an index, two language variants and their type map,
    and a .htaccess at the DocumentRoot (read only where AllowOverride lets it)."""
    deep = os.path.join(docroot, DEEP)
    os.makedirs(deep, exist_ok=True)
    with open(os.path.join(docroot, "10k.html"), "rb") as f:
        body = f.read()
    for name in ("10k.html", "index.html", "page.en.html", "page.fr.html", "style.css"):
        with open(os.path.join(deep, name), "wb") as f:
            f.write(body)
    with open(os.path.join(deep, "choice.var"), "w") as f:
        f.write(TYPEMAP)
    with open(os.path.join(deep, "100k.txt"), "wb") as f:
        f.write(text_body(102400))
    with open(os.path.join(docroot, ".htaccess"), "w") as f:
        f.write("DirectoryIndex index.html\n")
    past = time.time() - 3600
    for d, _dirs, files in os.walk(docroot):
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)
            os.utime(os.path.join(d, name), (past, past))


def text_body(size: int) -> bytes:
    """Prose-like text that compresses as real text does (about 3:1), not as a
    repeated block: words drawn from a fixed seed."""
    import random

    rng = random.Random(1)
    words = [bytes(rng.choice(b"etaoinshrdlucmfwypvbgkjqxz") for _ in range(rng.randint(2, 9)))
             for _ in range(2000)]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choice(words) for _ in range(12)) + b".\n"
    return bytes(out[:size])


def specs_for(sc: Scenario, fastcore: list[ServerSpec], globs: list[str]) -> list[ServerSpec]:
    peers = [s for s in servers.peer_specs() if s.name == "apache-event"
             or (s.name == "nginx" and sc.nginx)]
    chosen = [s for s in fastcore + peers if any(fnmatch.fnmatch(s.name, g) for g in globs)]
    return [replace(s, tuning=sc.tuning) for s in chosen]


@dataclass
class Cell:
    """All rounds of one (scenario, server)."""

    wrk: list[WrkResult]
    syscalls: float | None = None
    failure: str = ""


def measure(spec: ServerSpec, sc: Scenario, docroot: str, pin: bool, duration: float,
            warmup: float, connections: int, strace_requests: int) -> tuple[WrkResult, float | None]:
    run = spec.start(docroot, 0 if pin else None)
    try:
        status, n = servers.http_get(run.port, sc.path)
        if status != sc.status or (sc.size >= 0 and n != sc.size):
            raise RuntimeError(f"/{sc.path}: status {status}, {n} bytes (want {sc.status}, "
                               f"{sc.size})")
        w = Workload(sc.key, sc.title, sc.path, connections, headers=sc.headers)
        cli = 1 if pin else None
        if warmup > 0:
            workloads.run_wrk(w, run.port, warmup, cli)
        r = workloads.run_wrk(w, run.port, duration, cli)
        calls = None
        if strace_requests:
            box: list[tuple[int, int]] = []
            count = strace.traced(run.pids(), lambda: box.append(
                workloads.run_ab(run.port, sc.path, strace_requests, 1, True, timeout=600)))
            done, bad = box[0]
            if bad != (done if sc.status != 200 else 0) or done != strace_requests:
                raise RuntimeError(f"strace run: {done} complete, {bad} failed")
            calls = count.total / strace_requests
        return r, calls
    finally:
        run.stop()
        servers.cleanup(run)


def run(args: argparse.Namespace, fastcore: list[ServerSpec], docroot: str, modes: list[str],
        cmdline: str, started: str) -> str:
    make_tree(docroot)
    globs = args.servers.split(",")
    keys = args.scenario_keys.split(",")
    chosen = [s for s in SCENARIOS if any(fnmatch.fnmatch(s.key, g) for g in keys)]
    cells: dict[tuple[str, str, str], Cell] = {}
    for mode in modes:
        for rnd in range(args.rounds):
            for sc in chosen:
                specs = specs_for(sc, fastcore, globs)
                k = rnd % max(1, len(specs))
                for spec in specs[k:] + specs[:k]:
                    cell = cells.setdefault((mode, sc.key, spec.name), Cell([]))
                    try:
                        r, calls = measure(spec, sc, docroot, mode == "pinned", args.duration,
                                           args.warmup, args.scenario_connections,
                                           args.strace_requests if cell.syscalls is None else 0)
                    except (StartError, RuntimeError, ValueError, OSError) as e:
                        cell.failure = str(e).splitlines()[-1][:200] if str(e) else repr(e)
                        print(f"  {mode} {sc.key} {spec.name}: FAILED {cell.failure}", flush=True)
                        continue
                    cell.wrk.append(r)
                    if calls is not None:
                        cell.syscalls = calls
                    print(f"  {mode:8} {sc.key:18} {spec.name:16} {r.rps:10,.0f} req/s "
                          f"p99 {r.p99_ms:7.2f} ms err {r.errors}"
                          + (f" syscalls/req {calls:.1f}" if calls is not None else ""), flush=True)
    if args.json:
        by_key = {sc.key: sc for sc in chosen}
        record.write(args.json, "scenarios", cmdline, [
            record.Row(mode, name, key, by_key[key].title, record.rounds(cell.wrk),
                       syscalls=cell.syscalls, recommended=by_key[key].recommended)
            for (mode, key, name), cell in cells.items() if cell.wrk])
    return render(cells, chosen, modes, args, cmdline, started)


def render(cells: dict[tuple[str, str, str], Cell], chosen: list[Scenario], modes: list[str],
           args: argparse.Namespace, cmdline: str, started: str) -> str:
    out = [
        "## Tuning-guide scenarios",
        "",
        f"- Date: {started} (start) - {report.now_utc()} (end)",
        f"- Machine: {report.machine()}",
        f"- Software: {report.versions()}",
        f"- Command: `{cmdline}`",
        f"- Each scenario: one httpd.conf for fastcore and Apache event (the harness's ideal "
        f"config with the scenario's knob turned), nginx where it can express the knob. wrk -t1 "
        f"-c{args.scenario_connections} keep-alive, {args.duration:g} s after {args.warmup:g} s "
        f"warm-up, {args.rounds} interleaved round(s), medians. Syscalls: `strace -f -c` "
        f"attached to every thread during `ab -k -c1 -n {args.strace_requests}`, total calls / "
        "requests, no idle subtraction (first round).",
    ]
    for mode in modes:
        out += ["", f"### {'Pinned: server CPU 0, wrk CPU 1' if mode == 'pinned' else 'Unpinned'}",
                ""]
        rows = []
        for sc in chosen:
            names = sorted({n for (m, k, n) in cells if m == mode and k == sc.key})
            med = {n: statistics.median(r.rps for r in cells[(mode, sc.key, n)].wrk)
                   for n in names if cells[(mode, sc.key, n)].wrk}
            ref = med.get("apache-event")
            for n in names:
                cell = cells[(mode, sc.key, n)]
                if not cell.wrk:
                    rows.append([sc.key, n, "failed", cell.failure, "", "", "", ""])
                    continue
                calls = cell.syscalls
                apc = cells.get((mode, sc.key, "apache-event"))
                rows.append([
                    sc.key, n, report.fmt_num(med[n]),
                    f"{statistics.median(r.p99_ms for r in cell.wrk):.2f}",
                    str(sum(r.errors for r in cell.wrk)),
                    f"{med[n] / ref:.2f}x" if ref else "-",
                    f"{calls:.1f}" if calls is not None else "-",
                    (f"{calls / apc.syscalls:.2f}x" if calls is not None and apc and apc.syscalls
                     else "-"),
                ])
        out.append(report.table(["scenario", "server", "req/s median", "p99 ms", "errors",
                                 "vs Apache event", "syscalls/req", "syscalls vs Apache"], rows))
    out += ["", "Scenarios:", ""]
    out += [f"- `{sc.key}`: {sc.title}; `/{sc.path}`" + (" (recommended settings)"
                                                          if sc.recommended else "")
            for sc in chosen]
    return "\n".join(out) + "\n"
