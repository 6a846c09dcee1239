"""Real server processes for the MPM, directive and module tests.

`FastcoreServer` runs fastcore.mpm.run() in a real process tree from an httpd.conf that
real Apache accepts too (`ApacheServer`), with every runtime file in a temporary folder.
Both servers are stopped by PID and checked to leave no process behind; load comes from
support.ab.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from fastcore.mpm import pss
from support.apache_oracle import APACHE, MODDIR
from support.ports import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = ("authz_core", "mime", "dir")
# Room for 80 prefork children or 150 threads: what the restart and recovery tests load
BUSY_SIZING = {
    "prefork": "StartServers 66\nMinSpareServers 8\nMaxSpareServers 80\nMaxRequestWorkers 80\n",
    "worker": "StartServers 3\nThreadsPerChild 25\nMinSpareThreads 25\nMaxSpareThreads 100\n"
              "MaxRequestWorkers 150\n",
    "event": "StartServers 3\nThreadsPerChild 25\nMinSpareThreads 25\nMaxSpareThreads 100\n"
             "MaxRequestWorkers 150\n",
}

LAUNCH = """
import os, sys
from fastcore.config import load
from fastcore.mpm import run
if os.environ.get("FC_TEST_LISTEN_FD"):  # what systemd does before exec: fd 3 + LISTEN_*
    os.dup2(int(os.environ.pop("FC_TEST_LISTEN_FD")), 3, inheritable=False)
    os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
cfg = load(sys.argv[1])
if sys.argv[3]:
    cfg.accept_mutex = sys.argv[3]  # mechanisms the Mutex directive does not name
sys.exit(run(cfg, foreground=sys.argv[4] == "1", single_process=sys.argv[2] == "1"))
"""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def config_text(tmp: str, mpm: str, ports: list[int], docroot: str, extra: str = "",
                modules: tuple[str, ...] = MODULES) -> str:
    lines = [f"LoadModule mpm_{mpm}_module {MODDIR}/mod_mpm_{mpm}.so"]
    lines += [f"LoadModule {m}_module {MODDIR}/mod_{m}.so" for m in modules]
    lines += [
        f'ServerRoot "{tmp}"',
        f'DefaultRuntimeDir "{tmp}"',
        f'PidFile "{tmp}/httpd.pid"',
        f'ErrorLog "{tmp}/error_log"',
        "LogLevel warn",
        "TypesConfig /etc/mime.types",
        "ServerName localhost",
        f'DocumentRoot "{docroot}"',
        'LogFormat "%h %l %u %t \\"%r\\" %>s %b" common',
        f'CustomLog "{tmp}/access_log" common',
    ]
    lines += [f"Listen 127.0.0.1:{p}" for p in ports]
    return "\n".join(lines) + "\n" + extra + "\n"


@dataclass
class Server:
    """Common process handling for fastcore and Apache under test."""

    tmp: str
    mpm: str
    extra: str = ""
    nports: int = 1
    ports: list[int] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    docroot: str = ""

    def __post_init__(self) -> None:
        if not self.ports:
            self.ports = [free_port() for _ in range(self.nports)]
        if not self.docroot:
            self.docroot = os.path.join(self.tmp, "htdocs")
            os.makedirs(self.docroot, exist_ok=True)
            with open(os.path.join(self.docroot, "index.html"), "w") as fh:
                fh.write("hello from the docroot\n")

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def conf(self) -> str:
        return os.path.join(self.tmp, "httpd.conf")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.tmp, "httpd.pid")

    def write_conf(self, extra: str | None = None, docroot: str | None = None) -> None:
        with open(self.conf, "w") as fh:
            fh.write(config_text(self.tmp, self.mpm, self.ports, docroot or self.docroot,
                                 self.extra if extra is None else extra))

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Server:
        self.write_conf()
        # own session: httpd signals its whole process group on shutdown
        self.proc = subprocess.Popen(self.command(), cwd=self.tmp, stdout=subprocess.PIPE,
                                     start_new_session=True,
                                     stderr=subprocess.STDOUT, env=self.env())
        for port in self.ports:
            wait_port(port, 15.0)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.pid_file) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def children(self) -> list[int]:
        return pss.child_pids(self.pid)

    def wait_children(self, count: int, timeout: float = 10.0,
                      exclude: set[int] | None = None) -> list[int]:
        """Poll until at least `count` children (none of `exclude`) run; return them."""
        deadline = time.monotonic() + timeout
        kids = self.children()
        while time.monotonic() < deadline:
            kids = [k for k in self.children() if k not in (exclude or set())]
            if len(kids) >= count:
                return kids
            time.sleep(0.02)
        return kids

    def send(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def error_log(self) -> str:
        try:
            with open(os.path.join(self.tmp, "error_log"), errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def access_lines(self) -> int:
        try:
            with open(os.path.join(self.tmp, "access_log"), "rb") as fh:
                return sum(1 for _ in fh)
        except FileNotFoundError:
            return 0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> str:
        """Stop by PID; assert the whole process tree is gone. Returns its output."""
        assert self.proc is not None
        family = set(self.children())
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in family | {self.proc.pid}:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            out, _ = self.proc.communicate()
            raise AssertionError(f"server did not stop on signal {sig}: {out}") from None
        deadline = time.monotonic() + 5
        left = family
        while time.monotonic() < deadline:
            left = {p for p in family if os.path.exists(f"/proc/{p}")
                    and _state(p) not in ("Z", "X")}
            if not left:
                break
            time.sleep(0.02)
        for p in left:
            os.kill(p, signal.SIGKILL)
        assert not left, f"children left behind: {left}"
        return (out or b"").decode(errors="replace")


def alive(pid: int) -> bool:
    """The process exists and is neither a zombie nor dead."""
    return _state(pid) not in ("Z", "X")


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


@dataclass
class FastcoreServer(Server):
    single_process: bool = False
    mutex: str = ""
    foreground: bool = True
    pure: bool = False  # FASTCORE_NO_EXTENSIONS=1: the pure-Python twins
    extra_env: dict[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        return [sys.executable, "-c", LAUNCH, self.conf, "1" if self.single_process else "0",
                self.mutex, "1" if self.foreground else "0"]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
        if self.pure:
            env["FASTCORE_NO_EXTENSIONS"] = "1"
        env.update(self.extra_env)
        return env


@dataclass
class ApacheServer(Server):
    def command(self) -> list[str]:
        return [APACHE, "-f", self.conf, "-DFOREGROUND"]

    def start(self) -> Server:
        self.write_conf()
        check = subprocess.run([APACHE, "-t", "-f", self.conf], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        return super().start()
