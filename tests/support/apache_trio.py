"""Real Apache and fastcore twice (compiled extensions, and the pure-Python twins with
FASTCORE_NO_EXTENSIONS=1) on the same httpd.conf, for tests that send the same bytes to
all three.  fastcore runs as tests/support/http_server_proc.py (one connection at a
time, the engine's blocking keep-alive loop first, as under prefork)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field

from support.apache_oracle import ApacheOracle
from support.ports import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


@dataclass
class Trio:
    """Apache first, then fastcore (extensions), then fastcore (twins)."""

    apache: ApacheOracle
    procs: list[subprocess.Popen] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return ["apache", "fastcore", "fastcore-twin"]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.stdin.close()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self.apache.stop()


def start_fastcore(conf_path: str, pure: bool) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=ROOT, FASTCORE_NO_EXTENSIONS="1" if pure else "0")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "http_server_proc.py"), conf_path],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"fastcore did not start: {line!r}")
    return proc, int(line.split()[2])


def _server_field(port: int) -> str:
    """The Server field of the answer on `port` (to be sure which server is there)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head and (chunk := s.recv(4096)):
            head += chunk
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("server:"):
            return line[7:].strip()
    return ""


def start_trio(run_dir: str, body: str) -> Trio:
    """Apache and both fastcore builds serving `body` (DocumentRoot, sections...)."""
    apache = ApacheOracle(run_dir, body, port=free_port())
    os.makedirs(run_dir, exist_ok=True)
    with open(apache.conf_path, "w") as f:
        f.write(apache.config_text())
    trio = Trio(apache)
    try:
        # Apache first: it must own the Listen port; http_server_proc.py then finds it
        # taken and listens on a free one
        apache.start()
        trio.ports.append(apache.port)
        for pure in (False, True):
            proc, port = start_fastcore(apache.conf_path, pure)
            trio.procs.append(proc)
            trio.ports.append(port)
        if len(set(trio.ports)) != 3 or "Apache" not in _server_field(apache.port):
            raise RuntimeError(f"the three servers do not listen apart: {trio.ports}")
    except Exception:
        trio.stop()
        raise
    return trio


def _final_done(data: bytes) -> bool:
    """Does `data` hold a complete final (non-1xx) response with a Content-Length body
    (or none: 204/304)?"""
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = data[:end].decode("latin-1").split("\r\n")
        try:
            status = int(head[0].split(" ")[1])
        except (IndexError, ValueError):
            return False
        data = data[end + 4:]
        if status < 200:
            continue
        if status in (204, 304):
            return True
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                return len(data) >= int(value.strip())
        return False


def exchange(port: int, first: bytes, second: bytes, timeout: float = 10.0) -> bytes:
    """Send `first`, read its whole answer, then send `second` on the same connection
    and read until the server closes: all bytes received.  The second request is sent
    only after the first answer was read, so a server that closes after the first one
    cannot lose that answer to a reset (unread pipelined bytes), and whether the second
    is answered shows whether the connection was kept."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(first)
        got = b""
        try:
            while not _final_done(got):
                chunk = s.recv(65536)
                if not chunk:
                    return got
                got += chunk
            s.sendall(second)
            s.shutdown(socket.SHUT_WR)
            while chunk := s.recv(65536):
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        return got
