"""systemd integration: `Type=notify` (READY, RELOADING, STOPPING, mod_systemd's status
line) over a real $NOTIFY_SOCKET, and socket activation with several sockets through
the real systemd-socket-activate."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from support.apache_oracle import MODDIR
from support.ports import free_port, wait_port
from support.proc_helpers import stop_group

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACTIVATE = "/usr/bin/systemd-socket-activate"


def write_conf(tmp_path, ports: list[int], mpm: str = "event") -> str:
    (tmp_path / "www").mkdir(exist_ok=True)
    (tmp_path / "www" / "index.html").write_text("hello\n")
    conf = tmp_path / "httpd.conf"
    conf.write_text("\n".join([
        f"LoadModule mpm_{mpm}_module {MODDIR}/mod_mpm_{mpm}.so",
        f"LoadModule authz_core_module {MODDIR}/mod_authz_core.so",
        f"LoadModule dir_module {MODDIR}/mod_dir.so",
        f'ServerRoot "{tmp_path}"', f'PidFile "{tmp_path}/httpd.pid"',
        f'ErrorLog "{tmp_path}/error_log"', *(f"Listen 127.0.0.1:{p}" for p in ports),
        f'DocumentRoot "{tmp_path}/www"', "<Directory />", "  Require all granted",
        "</Directory>", ""]))
    return str(conf)


def get(port: int) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        return r.read()


def messages(sock: socket.socket, until: str, timeout: float = 20.0) -> list[dict[str, str]]:
    """Datagrams as dicts, until one has the key `until` (bounded)."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            break
        msg = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        out.append(msg)
        if until in msg:
            return out
    raise AssertionError(f"no {until} in {out}")


def test_type_notify_lifecycle(tmp_path) -> None:
    port = free_port()
    conf = write_conf(tmp_path, [port])
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    env = dict(os.environ, PYTHONPATH=ROOT, NOTIFY_SOCKET=path)
    proc = subprocess.Popen([sys.executable, "-m", "fastcore", "-f", conf, "-DFOREGROUND"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        ready = messages(sock, "READY")[-1]
        assert ready["READY"] == "1" and ready["MAINPID"] == str(proc.pid)
        assert ready["STATUS"].startswith("Total requests: 0; Idle/Busy workers ")
        wait_port(port)
        for _ in range(3):
            assert get(port) == b"hello\n"
        status = messages(sock, "STATUS")  # the next once-a-second update
        while "Total requests: 0;" in status[-1]["STATUS"]:
            status = messages(sock, "STATUS")
        assert status[-1]["STATUS"].startswith("Total requests: 3;")
        proc.send_signal(signal.SIGUSR1)
        reload = messages(sock, "RELOADING")[-1]
        assert int(reload["MONOTONIC_USEC"]) <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert messages(sock, "READY")[-1]["READY"] == "1"  # the new generation is up
        assert get(port) == b"hello\n"
        proc.send_signal(signal.SIGTERM)
        assert messages(sock, "STOPPING")[-1]["STOPPING"] == "1"
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        sock.close()


def test_socket_activation_with_two_sockets(tmp_path) -> None:
    """systemd-socket-activate binds both addresses and starts fastcore on the first
    connection; fastcore adopts them (binding them itself would fail: they are taken)."""
    p1, p2 = free_port(), free_port()
    conf = write_conf(tmp_path, [p1, p2], mpm="prefork")
    cmd = [ACTIVATE, "-l", f"127.0.0.1:{p1}", "-l", f"127.0.0.1:{p2}", "-E", f"PYTHONPATH={ROOT}",
           sys.executable, "-m", "fastcore", "-f", conf, "-DFOREGROUND"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        wait_port(p1)
        assert get(p1) == b"hello\n"  # this connection started the server
        assert get(p2) == b"hello\n"
        assert proc.poll() is None
        log = (tmp_path / "error_log").read_text()
        assert "could not bind" not in log and "AH00489" not in log  # prefork: AH00163
        assert "AH00163" in log
    finally:
        stop_group(proc, 15)
