"""The tuning advisor: `python -m fastcore advise -f httpd.conf [--json] [--running]`.

It applies Apache's performance tuning guide to a configuration: each rule the
configuration breaks is reported with the file and line that set it and its per-request
cost on this machine. Costs are counted from the configuration and the filesystem (how
many lstat and .htaccess attempts a request for the DocumentRoot costs) and timed here
(one lstat, one failed open, one reverse DNS lookup). With --running, the server named
by the configuration's PidFile is measured too, and MaxRequestWorkers is computed the
guide's way: the memory available divided by the average child's size.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

from fastcore.config import ConfigError, load
from fastcore.config.merge import DirResolver
from fastcore.config.model import (
    OPT_SYM_LINKS,
    OPT_SYM_OWNER,
    ServerConfig,
    VirtualHost,
    reads_htaccess,
)
from fastcore.config.tree import Node

# mount types of the network filesystems the guide warns about (EnableMMAP/Sendfile)
NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "fuse.sshfs", "ceph", "glusterfs")
KEEPALIVE_TIMEOUT_MAX = 15.0  # the guide's point: long timeouts hold prefork/worker slots


@dataclass
class Finding:
    """One broken rule: where it is set, what a request pays for it, what to do."""

    rule: str
    file: str
    line: int
    directive: str
    message: str
    advice: str
    syscalls_per_request: float | None = None
    ms_per_request: float | None = None
    scope: str = ""


@dataclass
class Report:
    config: str
    findings: list[Finding] = field(default_factory=list)
    measured: dict[str, float] = field(default_factory=dict)  # what each unit costs here
    sizing: dict[str, float | int | str] = field(default_factory=dict)


# ---------------------------------------------------------------------- tree helpers
def walk(nodes: Sequence[Node], stack: tuple[Node, ...] = ()) -> Iterator[tuple[Node, tuple[Node, ...]]]:
    """Every node with the sections around it, in file order."""
    for n in nodes:
        yield n, stack
        if n.is_section and n.children:
            yield from walk(n.children, (*stack, n))


def section_arg(node: Node) -> str:
    return node.args.rstrip().removesuffix(">").strip().strip('"')


def scope_of(stack: tuple[Node, ...]) -> str:
    return " ".join(f"<{s.name} {section_arg(s)}>" for s in stack) or "server config"


def directives(cfg: ServerConfig, name: str) -> list[tuple[Node, tuple[Node, ...]]]:
    low = name.lower()
    return [(n, st) for n, st in walk(getattr(cfg, "tree", ())) if not n.is_section
            and n.name.lower() == low]


# ---------------------------------------------------------------------- measurements
def time_call(fn: Callable[[], object], n: int = 2000) -> float:
    """Milliseconds per call, the median of three batches."""
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) * 1000.0 / n)
    return sorted(runs)[1]


def lstat_ms(path: str) -> float:
    return time_call(lambda: os.lstat(path))


def failed_open_ms(folder: str) -> float:
    probe = os.path.join(folder, ".htaccess-advisor-probe-absent")

    def attempt() -> None:
        try:
            os.close(os.open(probe, os.O_RDONLY))
        except OSError:
            pass
    return time_call(attempt)


def reverse_dns_ms(addr: str, timeout: float = 3.0) -> float:
    """One reverse lookup of addr, bounded: a stalled resolver reports the bound."""
    box: list[float] = []

    def run() -> None:
        t0 = time.perf_counter()
        try:
            socket.gethostbyaddr(addr)
        except OSError:
            pass
        box.append((time.perf_counter() - t0) * 1000.0)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    return box[0] if box else timeout * 1000.0


# ---------------------------------------------------------------------- rules
class Advisor:
    """Runs every rule over one loaded configuration."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.resolver = DirResolver(cfg)
        self.report = Report(cfg.config_file)
        self.vhosts: list[VirtualHost] = [cfg.main, *cfg.vhosts]

    def add(self, f: Finding) -> None:
        self.report.findings.append(f)

    def unit(self, key: str, fn: Callable[[], float]) -> float:
        if key not in self.report.measured:
            self.report.measured[key] = round(fn(), 5)
        return self.report.measured[key]

    def docroots(self) -> list[str]:
        return sorted({os.path.abspath(v.document_root) for v in self.vhosts})

    def levels(self, vhost: VirtualHost) -> list[str]:
        """The directories a request for a file in the DocumentRoot walks: / .. root."""
        root = os.path.abspath(vhost.document_root)
        parts = [p for p in root.split("/") if p]
        return ["/"] + ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]

    def run(self) -> Report:
        self.hostname_lookups()
        self.host_access()
        self.symlinks()
        self.overrides()
        self.negotiation()
        self.extended_status()
        self.mmap_sendfile()
        self.listeners()
        self.keepalive()
        self.connections_per_child()
        return self.report

    def hostname_lookups(self) -> None:
        for n, st in directives(self.cfg, "HostnameLookups"):
            mode = n.args.strip().lower()
            if mode not in ("on", "double"):
                continue
            lookups = 2 if mode == "double" else 1
            ms = self.unit("reverse_dns_ms_127.0.0.1", lambda: reverse_dns_ms("127.0.0.1"))
            scoped = any(s.name.lower() in ("files", "filesmatch", "location", "locationmatch")
                         for s in st)
            self.add(Finding(
                "hostname-lookups", n.filename, n.line, "HostnameLookups",
                f"HostnameLookups {n.args.strip()}: {lookups} DNS "
                f"{'lookups' if lookups > 1 else 'lookup'} before each request in this scope "
                f"completes (a reverse lookup of 127.0.0.1 took {ms:.3f} ms here; a remote "
                "client's takes a resolver round trip or more)",
                "Set HostnameLookups Off and resolve addresses when post-processing the logs"
                + ("" if scoped else ", or scope lookups to the <Files>/<Location> that needs "
                   "them"), ms_per_request=round(ms * lookups, 5), scope=scope_of(st)))

    def host_access(self) -> None:
        found = []
        for n, st in directives(self.cfg, "Require"):
            words = [w.lower().strip('"') for w in n.args.split()]
            if words[:1] == ["not"]:
                words = words[1:]
            if words[:1] == ["host"]:
                found.append((n, st, "Require"))
        for name in ("Allow", "Deny"):
            for n, st in directives(self.cfg, name):
                words = n.args.split()
                hosts = [w for w in words[1:] if any(c.isalpha() for c in w)
                         and w.lower() not in ("all", "env=")]
                if words[:1] and words[0].lower() == "from" and hosts:
                    found.append((n, st, name))
        if not found:
            return
        ms = self.unit("reverse_dns_ms_127.0.0.1", lambda: reverse_dns_ms("127.0.0.1"))
        for n, st, name in found:
            self.add(Finding(
                "host-access", n.filename, n.line, name,
                f"{name} {n.args.strip()}: access by host name costs a reverse and a forward "
                f"DNS lookup per request in this scope (measured {ms:.3f} ms for one local "
                "reverse lookup)", "Use IP addresses (Require ip) instead of host names",
                ms_per_request=round(2 * ms, 5), scope=scope_of(st)))

    def symlinks(self) -> None:
        """One lstat per path component wherever FollowSymLinks is off or
        SymLinksIfOwnerMatch is on, on every request (Apache does not cache it)."""
        for vhost in self.vhosts:
            comps = 0
            for level in self.levels(vhost)[1:] + [os.path.join(vhost.document_root, "x")]:
                dc = self.resolver.dir_config(vhost, os.path.dirname(level) or "/")
                opts = dc.options or 0
                if not opts & OPT_SYM_LINKS or opts & OPT_SYM_OWNER:
                    comps += 1
            if not comps:
                continue
            ms = self.unit("lstat_ms", lambda: lstat_ms(self.docroots()[0]))
            for n, st in directives(self.cfg, "Options"):
                words = [w.lower() for w in n.args.split()]
                plain = [w.lstrip("+-") for w in words]
                off = ("symlinksifownermatch" in plain and "-symlinksifownermatch" not in words
                       ) or ("followsymlinks" not in plain and "all" not in plain
                             and not any(w.startswith("+") or w.startswith("-") for w in words)
                             ) or "-followsymlinks" in words
                if off and self._covers(st, vhost):
                    self.add(Finding(
                        "symlinks", n.filename, n.line, "Options",
                        f"Options {n.args.strip()}: a request for a file in "
                        f"{vhost.document_root} pays {comps} lstat() calls, one per path "
                        f"component, on every request ({ms * comps:.4f} ms here)",
                        "Use Options FollowSymLinks from <Directory /> down; where symlink "
                        "checks are needed, enable SymLinksIfOwnerMatch only below the "
                        "DocumentRoot", syscalls_per_request=comps,
                        ms_per_request=round(ms * comps, 5), scope=scope_of(st)))

    def _covers(self, stack: tuple[Node, ...], vhost: VirtualHost) -> bool:
        """A directive in this section stack applies on the way to the DocumentRoot."""
        root = os.path.abspath(vhost.document_root).rstrip("/") + "/"
        for s in stack:
            kind = s.name.lower()
            if kind == "virtualhost" and vhost is self.cfg.main:
                return False
            if kind == "directory" and not section_arg(s).startswith("~"):
                path = section_arg(s).rstrip("/") + "/"
                if not (root.startswith(path) or path.startswith(root)):
                    return False
        return True

    def overrides(self) -> None:
        """An open() attempt of each AccessFileName in every directory of the walk
        where overrides are allowed."""
        for vhost in self.vhosts:
            attempts = 0
            for level in self.levels(vhost):
                if reads_htaccess(self.resolver.dir_config(vhost, level)):
                    attempts += len(vhost.access_file_name)
            if not attempts:
                continue
            ms = self.unit("failed_open_ms", lambda: failed_open_ms(self.docroots()[0]))
            for n, st in directives(self.cfg, "AllowOverride"):
                if n.args.strip().lower() == "none" or not self._covers(st, vhost):
                    continue
                self.add(Finding(
                    "allowoverride", n.filename, n.line, "AllowOverride",
                    f"AllowOverride {n.args.strip()}: a request for a file in "
                    f"{vhost.document_root} attempts to open {attempts} .htaccess file(s), one "
                    f"per directory from / down ({ms * attempts:.4f} ms here)",
                    "Use AllowOverride None everywhere, and put the settings in the main "
                    "configuration; allow overrides only in the directories that need them",
                    syscalls_per_request=attempts, ms_per_request=round(ms * attempts, 5),
                    scope=scope_of(st)))

    def negotiation(self) -> None:
        for n, st in directives(self.cfg, "DirectoryIndex"):
            wild = [w for w in n.args.split() if "." not in w.strip("/") and
                    w.lower() not in ("disabled",)]
            if wild:
                self.add(Finding(
                    "directoryindex-wildcard", n.filename, n.line, "DirectoryIndex",
                    f"DirectoryIndex {' '.join(wild)}: a name without extension is found by "
                    "MultiViews, which reads the whole directory for every directory request",
                    "List complete names, the most common first (index.html index.htm)",
                    syscalls_per_request=3.0, scope=scope_of(st)))
        for n, st in directives(self.cfg, "Options"):
            words = [w.lower() for w in n.args.split()]
            if "multiviews" in words or "+multiviews" in words:
                self.add(Finding(
                    "multiviews", n.filename, n.line, "Options",
                    "Options MultiViews: a request for a missing name reads the directory "
                    "(openat, getdents64 until the end, close) to find its variants",
                    "Where negotiation is needed, use type-map files (AddHandler type-map "
                    ".var): one file read instead of a directory scan",
                    syscalls_per_request=3.0, scope=scope_of(st)))

    def extended_status(self) -> None:
        for n, st in directives(self.cfg, "ExtendedStatus"):
            if n.args.strip().lower() == "on":
                self.add(Finding(
                    "extendedstatus", n.filename, n.line, "ExtendedStatus",
                    "ExtendedStatus On: two time calls per request (start and end) and the "
                    "request line copied into the scoreboard",
                    "Leave ExtendedStatus Off unless the per-request table of server-status "
                    "is read", syscalls_per_request=2.0, scope=scope_of(st)))

    def mmap_sendfile(self) -> None:
        for root in self.docroots():
            try:
                fs = mount_type(root)
            except OSError:
                continue
            if fs not in NETWORK_FS:
                continue
            for name in ("EnableMMAP", "EnableSendfile"):
                nodes = directives(self.cfg, name)
                on = [n for n, _ in nodes if n.args.strip().lower() == "on"]
                where = on[0] if on else None
                self.add(Finding(
                    name.lower(), where.filename if where else self.cfg.config_file,
                    where.line if where else 0, name,
                    f"{name} is on for {root}, which is on a network filesystem ({fs}): a "
                    "file changed or truncated on the server can make a child crash (mmap) "
                    "or send stale data (sendfile)", f"Set {name} Off for that directory"))

    def listeners(self) -> None:
        listens = directives(self.cfg, "Listen")
        if len(self.cfg.listeners) < 2 or self.cfg.mpm.name == "event":
            return
        mech = self.cfg.accept_mutex
        n = listens[1][0] if len(listens) > 1 else listens[0][0]
        self.add(Finding(
            "accept-mutex", n.filename, n.line, "Listen",
            f"{len(self.cfg.listeners)} Listen sockets with the {self.cfg.mpm.name} MPM: every "
            f"accept is serialized through the accept mutex (Mutex {mech} mpm-accept) and "
            "preceded by a poll() of every listener; idle children wait on the lock "
            "(futex or semaphore calls when it is contended)",
            "Use one Listen address where possible (no serialization then), the event MPM, "
            "or `Mutex reuseport mpm-accept` (a fastcore extension: one SO_REUSEPORT "
            "socket per child, no lock)", syscalls_per_request=1.0))

    def keepalive(self) -> None:
        for n, st in directives(self.cfg, "KeepAlive"):
            if n.args.strip().lower() == "off":
                self.add(Finding(
                    "keepalive-off", n.filename, n.line, "KeepAlive",
                    "KeepAlive Off: every request opens a new connection (accept, the "
                    "handshake, a lingering close: about 6 more syscalls per request)",
                    "KeepAlive On with a short KeepAliveTimeout", syscalls_per_request=6.0,
                    scope=scope_of(st)))
        if self.cfg.mpm.name == "event":
            return
        for n, st in directives(self.cfg, "KeepAliveTimeout"):
            try:
                secs = float(n.args.split()[0].lower().removesuffix("ms")) / (
                    1000.0 if n.args.strip().lower().endswith("ms") else 1.0)
            except (ValueError, IndexError):
                continue
            if secs > KEEPALIVE_TIMEOUT_MAX:
                self.add(Finding(
                    "keepalive-timeout", n.filename, n.line, "KeepAliveTimeout",
                    f"KeepAliveTimeout {n.args.strip()} with the {self.cfg.mpm.name} MPM: an "
                    "idle client holds a whole worker for that long",
                    "A few seconds is enough (or use the event MPM)", scope=scope_of(st)))

    def connections_per_child(self) -> None:
        for name in ("MaxConnectionsPerChild", "MaxRequestsPerChild"):
            for n, _st in directives(self.cfg, name):
                try:
                    value = int(n.args.split()[0])
                except (ValueError, IndexError):
                    continue
                if value > 0:
                    self.add(Finding(
                        "max-connections-per-child", n.filename, n.line, name,
                        f"{name} {value}: a child is killed and a new one forked every "
                        f"{value} connections (a fork, the child's start-up, its memory "
                        "touched again)", "Set it to 0 unless a module leaks memory"))


def mount_type(path: str) -> str:
    """The filesystem type of the mount holding path (the longest mount point that is a
    prefix of it, from /proc/self/mountinfo)."""
    best, fstype = "", ""
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            point = left.split()[4]
            if (path.rstrip("/") + "/").startswith(point.rstrip("/") + "/") \
                    and len(point) >= len(best):
                best, fstype = point, right.split()[0]
    return fstype


# ---------------------------------------------------------------------- sizing
def sizing(cfg: ServerConfig, report: Report) -> None:
    """MaxRequestWorkers from the running server's average child PSS: (memory available
    to the server, less 10% for other processes) / child size, times threads/child."""
    from fastcore.mpm import pss
    from fastcore.mpm.sizing import compute

    eff = compute(cfg.mpm)
    report.sizing.update(mpm=cfg.mpm.name, configured_max_request_workers=eff.max_request_workers)
    try:
        kids = pss.children_pss(cfg.pid_file)
        parent = pss.parent_pss(cfg.pid_file)
    except (OSError, ValueError) as exc:
        report.sizing["running"] = f"no running server at PidFile {cfg.pid_file}: {exc}"
        return
    if not kids:
        report.sizing["running"] = "the server has no children yet"
        return
    avail_kb = _meminfo("MemAvailable") + sum(kids) + parent
    usable = avail_kb * 0.9 - parent
    avg = sum(kids) / len(kids)
    children = max(1, int(usable // avg))
    report.sizing.update(running="yes", children=len(kids), average_child_pss_kib=round(avg),
                         parent_pss_kib=parent, memory_available_kib=avail_kb,
                         recommended_max_request_workers=children * eff.threads_per_child)


def _meminfo(key: str) -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/meminfo has no {key}")


# ---------------------------------------------------------------------- CLI
def render_text(rep: Report) -> str:
    out = [f"Tuning advice for {rep.config} (Apache's performance tuning guide)", ""]
    if not rep.findings:
        out.append("No rule of the guide is broken.")
    for f in rep.findings:
        cost = []
        if f.syscalls_per_request is not None:
            cost.append(f"{f.syscalls_per_request:g} syscalls/request")
        if f.ms_per_request is not None:
            cost.append(f"{f.ms_per_request:.4f} ms/request")
        out.append(f"{f.file}:{f.line}: [{f.rule}] {f.message}"
                   + (f" ({', '.join(cost)})" if cost else ""))
        if f.scope:
            out.append(f"    in {f.scope}")
        out.append(f"    advice: {f.advice}")
    if rep.sizing:
        out += ["", "Sizing:"]
        out += [f"    {k}: {v}" for k, v in rep.sizing.items()]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="fastcore advise", description=__doc__.split("\n\n")[0])
    p.add_argument("-f", dest="config", required=True, metavar="FILE")
    p.add_argument("-d", dest="server_root", metavar="DIR")
    p.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--running", action="store_true",
                   help="measure the server running from this config's PidFile")
    try:
        args = p.parse_args(list(argv))
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 1
    try:
        cfg = load(args.config, server_root=args.server_root, defines=args.defines,
                   check_document_root=False)
    except (ConfigError, OSError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    rep = Advisor(cfg).run()
    if args.running:
        sizing(cfg, rep)
    if args.json:
        sys.stdout.write(json.dumps(asdict(rep), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(rep))
    return 0
