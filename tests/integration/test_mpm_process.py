"""Process-level behaviour: detaching (-k start) with PidFile, systemd socket activation,
User/Group switch of the children, sizing warnings as Apache prints them."""
from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time

import pytest
from support.apache_oracle import APACHE, MODDIR
from support.ports import free_port
from support.servers import FastcoreServer, alive, config_text
from support.wire import get


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_detached_start_then_stop_and_graceful_through_the_pid_file(tmp_path, mpm) -> None:
    srv = FastcoreServer(str(tmp_path), mpm, foreground=False)
    srv.write_conf()
    starter = subprocess.run(srv.command(), cwd=srv.tmp, env=srv.env(), timeout=30,
                             capture_output=True)
    assert starter.returncode == 0, starter
    deadline = time.monotonic() + 10
    while not os.path.exists(srv.pid_file) and time.monotonic() < deadline:
        time.sleep(0.02)
    with open(srv.pid_file) as fh:
        daemon = int(fh.read())
    try:
        assert alive(daemon)
        assert os.getsid(daemon) == daemon  # its own session, no terminal
        assert get(srv.port)[0] == 200
        os.kill(daemon, signal.SIGUSR1)  # -k graceful
        time.sleep(0.5)
        assert get(srv.port)[0] == 200 and alive(daemon)
        os.kill(daemon, signal.SIGTERM)  # -k stop
        deadline = time.monotonic() + 10
        while alive(daemon) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(daemon)
        assert not os.path.exists(srv.pid_file)
    finally:
        if alive(daemon):
            os.kill(daemon, signal.SIGKILL)


def test_systemd_socket_activation_listener_is_served(tmp_path) -> None:
    port = free_port()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    srv = FastcoreServer(str(tmp_path), "event", "StartServers 1\nThreadsPerChild 4\n",
                         ports=[port])
    srv.write_conf()
    env = srv.env()
    env["FC_TEST_LISTEN_FD"] = str(sock.fileno())
    with sock:
        srv.proc = subprocess.Popen(srv.command(), cwd=srv.tmp, env=env,
                                    pass_fds=(sock.fileno(),), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
    # only the server holds the socket now; binding its own would have failed (in use)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not srv.children():
            time.sleep(0.05)
        assert get(srv.port) == (200, b"hello from the docroot\n")
    finally:
        srv.stop()
    assert "make_sock" not in srv.error_log()


def _uid(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("Uid:"):
                return int(line.split()[2])  # effective uid
    raise OSError("no Uid line")


def test_children_run_as_user_and_group_parent_stays_root() -> None:
    tmp = tempfile.mkdtemp(prefix="fc-user-")
    os.chmod(tmp, 0o755)
    try:
        srv = FastcoreServer(tmp, "worker", "User nobody\nGroup nogroup\nStartServers 2\n"
                             "ThreadsPerChild 4\nMinSpareThreads 4\nMaxSpareThreads 16\n"
                             f"LoadModule status_module {MODDIR}/mod_status.so\n"
                             "<Location /server-status>\n  SetHandler server-status\n"
                             "</Location>\n")
        os.chmod(srv.docroot, 0o755)
        os.chmod(os.path.join(srv.docroot, "index.html"), 0o644)
        srv.start()
        try:
            kids = srv.wait_children(2)
            nobody = pwd.getpwnam("nobody").pw_uid
            deadline = time.monotonic() + 5  # the switch happens right after fork
            while time.monotonic() < deadline and not all(_uid(k) == nobody for k in kids):
                time.sleep(0.05)
            assert all(_uid(k) == nobody for k in kids)
            assert _uid(srv.pid) == 0  # CI runs as root; the parent keeps root
            assert get(srv.port) == (200, b"hello from the docroot\n")
            # Code a request needs only now and then (ranges, mod_status) was loaded by
            # the parent: a child that dropped root may not read the installation.
            assert get(srv.port, "/", headers=b"Range: bytes=0-4\r\n") == (206, b"hello")
            assert get(srv.port, "/server-status?auto")[0] == 200
        finally:
            srv.stop()
    finally:
        subprocess.run(["rm", "-rf", tmp], check=False)


CASES = [
    ("event", "ThreadsPerChild 25\nMaxRequestWorkers 30\n"),
    ("worker", "ThreadsPerChild 100\nMaxRequestWorkers 30\n"),
    ("event", "ThreadsPerChild 5\nServerLimit 2\n"),
    ("worker", "MinSpareThreads 0\nStartServers 0\nServerLimit 0\nThreadLimit 0\n"),
    ("prefork", "MaxRequestWorkers 300\n"),
    ("prefork", "MaxClients 300\n"),  # the old name: same correction, plus AH00544
    ("prefork", "ServerLimit 0\nMinSpareServers 0\nStartServers 0\n"),
]


@pytest.mark.parametrize("mpm,extra", CASES)
def test_sizing_warnings_match_apache(tmp_path, mpm: str, extra: str) -> None:
    """Same httpd.conf: fastcore's startup warnings are Apache's, word for word."""
    port = free_port()
    conf = tmp_path / "httpd.conf"
    os.makedirs(tmp_path / "htdocs")
    conf.write_text(config_text(str(tmp_path), mpm, [port], str(tmp_path / "htdocs"), extra))
    apache = subprocess.run([APACHE, "-t", "-f", str(conf)], capture_output=True, text=True)
    expected = [ln for ln in apache.stderr.splitlines() if ": WARNING: " in ln]
    assert expected, apache.stderr
    from fastcore.config import load
    from fastcore.mpm.sizing import compute

    assert compute(load(str(conf)).mpm).warnings == expected


def test_port_in_use_is_a_clear_startup_error(tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        srv = FastcoreServer(str(tmp_path), "event", ports=[port])
        srv.write_conf()
        out = subprocess.run(srv.command(), cwd=srv.tmp, env=srv.env(), timeout=30,
                             capture_output=True, text=True)
    assert out.returncode == 1
    assert (f"(98)Address already in use: AH00072: make_sock: could not bind to address "
            f"127.0.0.1:{port}") in out.stderr
    assert not os.path.exists(srv.pid_file)
