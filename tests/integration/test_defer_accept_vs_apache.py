"""Listeners defer accept until the request's first bytes arrive, as Apache's Linux
default `AcceptFilter http data` (TCP_DEFER_ACCEPT) does: a client that connects and
sends nothing stays a half-open entry in the kernel's SYN queue (ss shows it SYN-RECV on
the server side), seen by no server process; once it sends its request, it is answered.
Checked on real Apache and on fastcore's event and prefork MPMs (both builds)."""
from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest
from support.servers import ApacheServer, FastcoreServer, Server


def server_side_state(port: int, client_port: int) -> str:
    """The kernel's state of the server end of 127.0.0.1:client_port -> :port."""
    out = subprocess.run(["ss", "-Htan", f"( sport = :{port} and dport = :{client_port} )"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[0] if out.split() else "none"


def idle_then_request(port: int) -> tuple[list[str], bytes]:
    """Connect, send nothing, read the server side's state (polled for up to 1 s so a
    slow accept is not mistaken for a deferred one); then send a GET and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        cport = s.getsockname()[1]
        states = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            states.append(server_side_state(port, cport))
            time.sleep(0.1)
        s.sendall(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return states, data


def run(server: Server) -> tuple[list[str], bytes]:
    server.start()
    try:
        return idle_then_request(server.port)
    finally:
        server.stop()


@pytest.mark.parametrize("mpm", ["event", "prefork"])
@pytest.mark.parametrize("pure", [False, True])
def test_idle_connection_is_not_accepted_like_apache(tmp_path: object, mpm: str,
                                                      pure: bool) -> None:
    base = str(tmp_path)
    for d in ("apache", "fastcore"):
        os.makedirs(os.path.join(base, d))
    apache_states, apache_answer = run(ApacheServer(os.path.join(base, "apache"), mpm))
    fc_states, fc_answer = run(FastcoreServer(os.path.join(base, "fastcore"), mpm, pure=pure))
    # Apache: half-open throughout, then answered
    assert set(apache_states) == {"SYN-RECV"}, apache_states
    assert apache_answer.startswith(b"HTTP/1.1 200 ")
    assert set(fc_states) == set(apache_states), fc_states
    assert fc_answer.startswith(b"HTTP/1.1 200 ")
    assert fc_answer.split(b"\r\n\r\n", 1)[1] == apache_answer.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_accept_filter_none_accepts_at_once_like_apache(tmp_path: object, mpm: str) -> None:
    """`AcceptFilter http none`: no TCP_DEFER_ACCEPT, so the kernel completes the
    connection at once (ESTAB on the server side) and a server process holds it; a
    filter named for another protocol leaves http's default (`data`) in place."""
    base = str(tmp_path)
    for d in ("apache", "fastcore", "apache2", "fastcore2"):
        os.makedirs(os.path.join(base, d))
    none = "AcceptFilter http none\n"
    apache_states, apache_answer = run(ApacheServer(os.path.join(base, "apache"), mpm,
                                                    extra=none))
    fc_states, fc_answer = run(FastcoreServer(os.path.join(base, "fastcore"), mpm,
                                              extra=none))
    assert set(apache_states) == {"ESTAB"}, apache_states
    assert set(fc_states) == set(apache_states), fc_states
    assert fc_answer.split(b"\r\n\r\n", 1)[1] == apache_answer.split(b"\r\n\r\n", 1)[1]
    other = "AcceptFilter https none\n"
    apache_states, _ = run(ApacheServer(os.path.join(base, "apache2"), mpm, extra=other))
    fc_states, _ = run(FastcoreServer(os.path.join(base, "fastcore2"), mpm, extra=other))
    assert set(apache_states) == {"SYN-RECV"}, apache_states
    assert set(fc_states) == set(apache_states), fc_states
