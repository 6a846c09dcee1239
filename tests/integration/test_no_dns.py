"""HostnameLookups Off means no DNS at all; On/Double and `Require host` pay only where
they apply.  Observed on the real server process with strace (attached after start-up, so
only request handling is traced): a lookup shows up as reading /etc/hosts, /etc/resolv.conf
or nsswitch.conf, talking to nscd, or a packet to port 53.  The controls prove the probe
sees lookups when they do happen, and the access log shows the name only then (%h).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.ports import free_port, wait_port
from support.wire import parse_responses, raw_request

ROOT = Path(__file__).resolve().parents[2]
MODS = "/usr/lib/apache2/modules"
DNS_SIGNS = re.compile(r'/etc/hosts|/etc/resolv\.conf|nsswitch\.conf|nscd|'
                       r'sin6?_port=htons\(53\)')

CONF = """
LoadModule mpm_prefork_module {mods}/mod_mpm_prefork.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule authz_host_module {mods}/mod_authz_host.so
LoadModule mime_module {mods}/mod_mime.so
LoadModule dir_module {mods}/mod_dir.so
ServerRoot "{run}"
PidFile "{run}/pid"
ErrorLog "{run}/error_log"
Listen 127.0.0.1:{port}
ServerName localhost
DocumentRoot "{root}"
LogFormat "%h %r %>s" short
CustomLog "{run}/access_log" short
{extra}
<Directory "{root}">
  Require all granted
</Directory>
"""


class Server:
    """fastcore in one process (-X), so one strace attach sees every request."""

    def __init__(self, tmp: Path, extra: str, warmup: str | None = "/plain.txt") -> None:
        self.run = tmp / "run"
        self.root = tmp / "root"
        self.run.mkdir(parents=True)
        self.root.mkdir(parents=True)
        (self.root / "index.html").write_text("<p>hi</p>\n")
        (self.root / "plain.txt").write_text("text\n")
        (self.root / "private").mkdir()
        (self.root / "private" / "secret.txt").write_text("secret\n")
        self.port = free_port()
        conf = self.run / "httpd.conf"
        conf.write_text(CONF.format(mods=MODS, run=self.run, port=self.port, root=self.root,
                                    extra=extra))
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "fastcore", "-X", "-f", str(conf)],
                                     cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        try:
            wait_port(self.port, 20)
            if warmup:
                self.get(warmup)  # warm-up: imports, caches, start-up work
        except Exception:
            self.stop()
            raise

    def get(self, path: str) -> int:
        raw = raw_request(self.port, f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
                                     "Connection: close\r\n\r\n".encode())
        return parse_responses(raw)[0][0]

    def traced(self, paths: list[str]) -> tuple[str, list[int]]:
        """Attach strace to the server, make the requests, detach; (trace, statuses)."""
        out = self.run / f"trace.{time.monotonic_ns()}"
        st = subprocess.Popen(["strace", "-f", "-qq", "-e",
                               "trace=open,openat,connect,sendto,sendmsg",
                               "-o", str(out), "-p", str(self.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while not out.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # let strace finish attaching to every thread
            statuses = [self.get(p) for p in paths]
            time.sleep(0.2)
        finally:
            st.send_signal(signal.SIGINT)
            try:
                st.wait(10)
            except subprocess.TimeoutExpired:
                st.kill()
                st.wait(5)
            if st.stderr:
                st.stderr.close()
        return out.read_text(errors="replace"), statuses

    def log_hosts(self) -> list[tuple[str, str]]:
        """(host field, request path) per access-log line."""
        time.sleep(0.1)
        lines = (self.run / "access_log").read_text().splitlines()
        return [(ln.split(" ")[0], ln.split(" ")[2]) for ln in lines if ln.strip()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def server(tmp_path):
    made: list[Server] = []

    def make(extra: str = "", warmup: str | None = "/plain.txt") -> Server:
        s = Server(tmp_path / f"s{len(made)}", extra, warmup)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def dns_lines(trace: str) -> list[str]:
    return [ln for ln in trace.splitlines() if DNS_SIGNS.search(ln)]


def test_hostname_lookups_off_does_no_dns(server) -> None:
    s = server("HostnameLookups Off")
    trace, statuses = s.traced(["/index.html", "/plain.txt", "/missing", "/", "/private/"])
    # "/" serves index.html; /private/ has no index and mod_autoindex is not loaded:
    # core's default handler refuses the directory with 404, as Apache does
    assert statuses == [200, 200, 404, 200, 404]
    assert "index.html" in trace  # the probe saw the requests being served
    assert dns_lines(trace) == []
    assert all(h == "127.0.0.1" for h, _ in s.log_hosts())


def test_default_is_off(server) -> None:
    s = server("")
    trace, statuses = s.traced(["/index.html", "/plain.txt"])
    assert statuses == [200, 200]
    assert dns_lines(trace) == []


def test_lookups_on_are_seen_and_logged(server) -> None:
    s = server("HostnameLookups On", warmup=None)  # a warm-up would fill the DNS cache
    trace, statuses = s.traced(["/index.html"])
    assert statuses == [200]
    assert dns_lines(trace), "a reverse lookup must be visible to the probe"
    name = socket.gethostbyaddr("127.0.0.1")[0]
    assert (name, "/index.html") in s.log_hosts()


def test_lookups_scoped_to_files_section(server) -> None:
    s = server('<Files "*.html">\n  HostnameLookups Double\n</Files>')
    trace, statuses = s.traced(["/plain.txt", "/missing.txt"])
    assert statuses == [200, 404]
    assert dns_lines(trace) == []  # outside the <Files> scope: no lookup
    trace, statuses = s.traced(["/index.html"])
    assert statuses == [200]
    assert dns_lines(trace)
    hosts = dict((p, h) for h, p in s.log_hosts())
    assert hosts["/plain.txt"] == "127.0.0.1"
    assert hosts["/index.html"] == socket.gethostbyaddr("127.0.0.1")[0]


def test_require_host_looks_up_only_where_required(server) -> None:
    s = server('<Location "/private">\n  Require host localhost\n</Location>')
    trace, statuses = s.traced(["/index.html", "/plain.txt"])
    assert statuses == [200, 200]
    assert dns_lines(trace) == []
    trace, statuses = s.traced(["/private/secret.txt"])
    # 127.0.0.1 -> localhost -> 127.0.0.1: the double-reverse check passes
    assert statuses == [200]
    assert dns_lines(trace)


def test_require_host_denies_unconfirmed_name(server) -> None:
    s = server('<Location "/private">\n  Require host example.invalid\n</Location>')
    _trace, statuses = s.traced(["/private/secret.txt", "/plain.txt"])
    assert statuses == [403, 200]
