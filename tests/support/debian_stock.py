"""Debian's installed /etc/apache2, copied twice and started twice: once the way Debian
starts it (apache2ctl, which sources envvars, then /usr/sbin/apache2) and once as
`python -m fastcore -d COPY -f apache2.conf -DFOREGROUND` (which sources envvars itself).

Only ports and paths change, the same way in both copies: the port in ports.conf's
Listen and in the <VirtualHost *:80> of sites-enabled/000-default.conf, the run/lock/log
folders in envvars, and /var/www (DocumentRoot and its <Directory>) moved to a temporary
document root that holds Debian's own index.html plus a folder to list.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from support.ports import free_port

ETC = Path("/etc/apache2")
APACHE2CTL = "/usr/sbin/apache2ctl"
DEBIAN_INDEX = Path("/var/www/html/index.html")
REPO = Path(__file__).resolve().parents[2]
# what the test adds under the document root: a folder the stock Options Indexes lists
LISTED = {"README": "read me\n", "notes.txt": "some notes\n", "photo.png": "not a png\n",
          "archive.tar.gz": "not gzip\n", "tool.exe": "MZ\n", "page.html": "<p>page</p>\n",
          "v1.10.txt": "ten\n", "v1.9.txt": "nine\n", ".hidden": "ignored\n",
          "backup~": "ignored\n"}
WHEN = 1_700_000_000
MANY = 60


@dataclass
class StockServer:
    """One server on its own copy of /etc/apache2."""

    name: str
    confdir: Path
    state: Path          # run/, lock/, log/ of this copy (through its envvars)
    port: int
    proc: subprocess.Popen | None = None
    stderr: str = ""

    @property
    def pid_file(self) -> Path:
        return self.state / "run" / "apache2.pid"


def make_docroot(base: Path) -> Path:
    """base/www/html: Debian's index.html (its mtime kept) and files/ to list."""
    html = base / "www" / "html"
    (html / "files" / "subdir").mkdir(parents=True)
    shutil.copy2(DEBIAN_INDEX, html / "index.html")
    for k, (name, text) in enumerate(LISTED.items()):
        path = html / "files" / name
        path.write_text(text)
        os.utime(path, (WHEN + k * 3600, WHEN + k * 3600))
    os.utime(html / "files" / "subdir", (WHEN, WHEN))
    (html / "many").mkdir()  # a listing past httpd's 8000-byte write buffer: no length
    for k in range(MANY):
        path = html / "many" / f"entry-{k:03d}.txt"
        path.write_text("x" * k)
        os.utime(path, (WHEN + k, WHEN + k))
    for d, _dirs, files in os.walk(base / "www"):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return html


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} no longer holds {old!r}: Debian's layout changed"
    path.write_text(text.replace(old, new))


def copy_stock(base: Path, name: str, docroot: Path) -> StockServer:
    """base/name/etc: /etc/apache2 with only its port and paths changed."""
    confdir = base / name / "etc"
    state = base / name / "state"
    shutil.copytree(ETC, confdir, symlinks=True)
    (state / "log").mkdir(parents=True)  # apache2ctl does not create the log folder
    os.chmod(base / name, 0o755)
    os.chmod(state, 0o755)
    port = free_port()
    _edit(confdir / "ports.conf", "\nListen 80\n", f"\nListen {port}\n")
    _edit(confdir / "sites-enabled" / "000-default.conf", "<VirtualHost *:80>",
          f"<VirtualHost *:{port}>")
    _edit(confdir / "sites-enabled" / "000-default.conf", "DocumentRoot /var/www/html",
          f"DocumentRoot {docroot}")
    _edit(confdir / "apache2.conf", "<Directory /var/www/>", f"<Directory {docroot.parent}/>")
    envvars = confdir / "envvars"
    for old, sub in (("/var/run/apache2", "run"), ("/var/lock/apache2", "lock"),
                     ("/var/log/apache2", "log")):
        envvars.write_text(re.sub(re.escape(old) + r"(?=\$SUFFIX)", str(state / sub),
                                  envvars.read_text()))
    return StockServer(name, confdir, state, port)


def clean_env() -> dict[str, str]:
    """The caller's environment without what envvars would provide."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APACHE_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def apache_command(srv: StockServer) -> tuple[list[str], dict[str, str]]:
    """Debian's way: apache2ctl sources envvars and runs apache2 with -d COPY."""
    return [APACHE2CTL, "-DFOREGROUND"], dict(clean_env(), APACHE_CONFDIR=str(srv.confdir))


def fastcore_command(srv: StockServer) -> tuple[list[str], dict[str, str]]:
    return ([sys.executable, "-m", "fastcore", "-d", str(srv.confdir), "-f", "apache2.conf",
             "-DFOREGROUND"], clean_env())


def start(srv: StockServer, cmd: list[str], env: dict[str, str]) -> None:
    """Start and wait until the port answers (or the process dies)."""
    srv.proc = subprocess.Popen(cmd, env=env, cwd="/", stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    import socket

    while time.monotonic() < deadline and srv.proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", srv.port), timeout=0.5).close()
            if srv.pid_file.is_file():
                return
        except OSError:
            pass
        time.sleep(0.1)
    if srv.proc.poll() is not None and srv.proc.stderr:
        srv.stderr = srv.proc.stderr.read().decode(errors="replace")


def stop(srv: StockServer) -> None:
    """SIGTERM the server's parent (its PidFile: apache2ctl does not exec apache2) and
    the process we started; wait for both."""
    if srv.proc is None:
        return
    try:
        pid = int(srv.pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pid = 0
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    if srv.proc.poll() is None:
        srv.proc.send_signal(signal.SIGTERM)
    try:
        srv.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait()
    if pid:  # the server itself (not our child under apache2ctl): wait until it is gone
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.1)
    if srv.proc.stderr:
        srv.stderr += srv.proc.stderr.read().decode(errors="replace")
        srv.proc.stderr.close()


def child_users(pid: int) -> set[str]:
    """User names of the children of `pid` (the workers)."""
    import pwd

    users = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid != pid:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
        users.add(pwd.getpwuid(uid).pw_name)
    return users
