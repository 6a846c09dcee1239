"""`python -m fastcore -k start|graceful|restart|graceful-stop|stop` end to end, as apachectl
drives httpd: the server detaches, writes its PidFile, serves, takes a new configuration
on a graceful restart, and leaves no process and no PidFile when stopped. `-V` shows the
running server's average child PSS (the tuning guide's "average process size").
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from support.ports import free_port
from support.servers import ROOT, alive, config_text
from support.wire import get

from fastcore.mpm import pss

SIZING = ("StartServers 1\nServerLimit 2\nThreadsPerChild 4\nMaxRequestWorkers 8\n"
          "MinSpareThreads 2\nMaxSpareThreads 8\nKeepAlive On\nGracefulShutdownTimeout 5\n")


def fastcore(conf: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-m", "fastcore", *args, "-f", conf], env=env,
                          capture_output=True, text=True, timeout=30)


def _wait(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


def _read_pid(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _body(port: int) -> bytes | None:
    try:
        status, body = get(port)
    except OSError:
        return None
    return body if status == 200 else None


class Site:
    """A config in a temporary folder with two document roots to switch between."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.conf = os.path.join(tmp, "httpd.conf")
        self.pid_file = os.path.join(tmp, "httpd.pid")
        self.roots = {}
        for name in ("one", "two"):
            root = os.path.join(tmp, name)
            os.makedirs(root)
            with open(os.path.join(root, "index.html"), "w") as fh:
                fh.write(f"site {name}\n")
            self.roots[name] = root
        self.write("one")
        self.family: set[int] = set()

    def write(self, name: str) -> None:
        with open(self.conf, "w") as fh:
            fh.write(config_text(self.tmp, "event", [self.port], self.roots[name], SIZING))

    def k(self, action: str) -> subprocess.CompletedProcess:
        res = fastcore(self.conf, "-k", action)
        pid = _read_pid(self.pid_file)
        if pid:
            self.family |= {pid, *pss.child_pids(pid)}
        return res

    def serving(self, text: bytes) -> bool:
        return _wait(lambda: _body(self.port) == text)

    def cleanup(self) -> None:
        """Whatever a failed assertion left running: kill it by PID."""
        pid = _read_pid(self.pid_file)
        if pid and alive(pid):
            self.family |= {pid, *pss.child_pids(pid)}
        for p in self.family:
            if alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def site(tmp_path):
    s = Site(str(tmp_path))
    yield s
    s.cleanup()
    assert not [p for p in s.family if alive(p)], "processes left behind"


def test_k_start_graceful_restart_graceful_stop_stop(site: Site) -> None:
    res = site.k("start")
    assert res.returncode == 0, res.stderr
    assert _wait(lambda: _read_pid(site.pid_file) is not None), "no PidFile written"
    parent = _read_pid(site.pid_file)
    assert parent != os.getpid() and alive(parent)
    assert site.serving(b"site one\n")

    # -V shows the running server's average child PSS, from its PidFile
    kids = pss.child_pids(parent)
    res = fastcore(site.conf, "-V")
    assert res.returncode == 0, res.stderr
    m = re.search(r"^average child PSS: (\d+) kB \((\d+) children\); parent PSS: (\d+) kB",
                  res.stdout, re.M)
    assert m, res.stdout
    assert int(m.group(1)) > 0 and int(m.group(3)) > 0
    assert int(m.group(2)) == len(kids) >= 1

    # a second start does not start a second server
    res = site.k("start")
    assert res.returncode == 0 and f"(pid {parent}) already running" in res.stderr

    # graceful: the new configuration is visible, the parent stays
    site.write("two")
    old_kids = set(pss.child_pids(parent))
    assert site.k("graceful").returncode == 0
    assert site.serving(b"site two\n")
    assert _read_pid(site.pid_file) == parent and alive(parent)
    assert _wait(lambda: not old_kids & set(pss.child_pids(parent))), "old children stay"

    # restart (HUP): new children, same parent, configuration re-read
    site.write("one")
    before = set(pss.child_pids(parent))
    assert site.k("restart").returncode == 0
    assert site.serving(b"site one\n")
    assert _wait(lambda: bool(pss.child_pids(parent))
                 and not before & set(pss.child_pids(parent)))
    assert _read_pid(site.pid_file) == parent

    # graceful-stop: everything gone, PidFile removed
    family = {parent, *pss.child_pids(parent)}
    assert site.k("graceful-stop").returncode == 0
    assert _wait(lambda: not any(alive(p) for p in family)), "graceful-stop left processes"
    assert not os.path.exists(site.pid_file)
    assert _body(site.port) is None

    # start again, then stop
    assert site.k("start").returncode == 0
    assert _wait(lambda: _read_pid(site.pid_file) not in (None, parent))
    parent = _read_pid(site.pid_file)
    assert site.serving(b"site one\n")
    family = {parent, *pss.child_pids(parent)}
    assert site.k("stop").returncode == 0
    assert _wait(lambda: not any(alive(p) for p in family)), "stop left processes"
    assert not os.path.exists(site.pid_file)
    assert _body(site.port) is None


def test_k_stop_without_a_server_and_V_without_one(site: Site) -> None:
    res = site.k("stop")
    assert res.returncode == 0 and "not running" in res.stderr
    res = fastcore(site.conf, "-V")
    assert res.returncode == 0
    assert f'average child PSS: unknown (no server running with PidFile "{site.pid_file}")' \
        in res.stdout
