"""Run real Apache httpd 2.4 as a behavioural oracle for tests.

Writes an httpd.conf into a temporary folder (PidFile, logs, DefaultRuntimeDir all
inside it, never the system service), starts `/usr/sbin/apache2 -f CONF -DFOREGROUND` on
a free 127.0.0.1 port, waits until it answers and stops it by PID.  What to send it
and how to read its answers: support.wire.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from support.ports import free_port, wait_port
from support.wire import Answer, answer_fields, raw_request

APACHE = "/usr/sbin/apache2"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODDIR = "/usr/lib/apache2/modules"
BASE_MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias",
                "negotiation", "status", "autoindex")


@dataclass
class ApacheOracle:
    """A private Apache instance; `body` is the site config (DocumentRoot, sections...)."""

    tmpdir: str
    body: str
    modules: tuple[str, ...] = BASE_MODULES
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    fastcore: bool = False  # run fastcore from this tree on the same httpd.conf instead

    def argv(self, *extra: str) -> list[str]:
        head = [sys.executable, "-m", "fastcore"] if self.fastcore else [APACHE]
        return [*head, *extra, "-f", self.conf_path]

    @property
    def conf_path(self) -> str:
        return os.path.join(self.tmpdir, "httpd.conf")

    def config_text(self) -> str:
        lines = [f"LoadModule {m}_module {MODDIR}/mod_{m}.so" for m in self.modules]
        run = self.tmpdir
        lines += [
            f'ServerRoot "{run}"',
            f'DefaultRuntimeDir "{run}"',
            f'PidFile "{run}/httpd.pid"',
            f'ErrorLog "{run}/error_log"',
            "LogLevel warn",
            *(["TypesConfig /etc/mime.types"] if "mime" in self.modules else []),
            f"Listen 127.0.0.1:{self.port}",
            "ServerName localhost",
            *(["StartServers 1", "MinSpareServers 1", "MaxSpareServers 2"]
              if "mpm_prefork" in self.modules else []),  # threaded MPMs: sized by body
            "Mutex file:" + run,
            self.body,
        ]
        return "\n".join(lines) + "\n"

    def start(self, attempts: int = 3) -> ApacheOracle:
        """Start Apache; on a port lost to another process, retry on a new free port."""
        for attempt in range(attempts):
            try:
                return self._start()
            except TimeoutError:
                if attempt == attempts - 1:
                    raise
                self.port = free_port()
        return self

    def _start(self) -> ApacheOracle:
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())
        env = dict(os.environ, PYTHONPATH=REPO)
        check = subprocess.run(self.argv("-t"), capture_output=True, text=True, env=env)
        if check.returncode != 0:
            raise RuntimeError(f"config rejected: {check.stderr}")
        self.proc = subprocess.Popen(self.argv("-DFOREGROUND"), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True, env=env)
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> ApacheOracle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def both_answers(tmp: str, site: str, modules: tuple[str, ...],
                 cases: list[tuple[str, str, str]], host: str = "x"
                 ) -> dict[bool, list[Answer]]:
    """The same httpd.conf run by real Apache (key False) and by fastcore (True), each
    (method, target, extra header lines) case asked twice, so an answer a cache could
    serve is compared too; every answer as support.wire.answer_fields gives it."""
    got = {}
    for fastcore in (False, True):
        run = os.path.join(tmp, "fc" if fastcore else "ap")
        os.makedirs(run)
        with ApacheOracle(run, site, modules=modules, fastcore=fastcore) as ap:
            got[fastcore] = [
                answer_fields(raw_request(ap.port, f"{m} {p} HTTP/1.1\r\nHost: {host}\r\n{h}"
                                          "Connection: close\r\n\r\n".encode()))
                for m, p, h in cases + cases]
    return got


@dataclass
class OraclePair:
    """Real Apache and fastcore, each on its own port, running the same site."""

    apache: ApacheOracle
    fastcore: ApacheOracle


def start_pair(root: str, site: str, modules: tuple[str, ...]) -> OraclePair:
    """Both servers started over `site`, in root/apache and root/fastcore; "{run}" in the
    site becomes each one's own run directory (its logs).  The caller stops them."""
    runs = []
    for name in ("apache", "fastcore"):
        run = os.path.join(root, name)
        os.makedirs(run)
        runs.append(ApacheOracle(run, site.replace("{run}", run), modules=modules,
                                 fastcore=name == "fastcore"))
    for o in runs:
        o.start()
    return OraclePair(*runs)
