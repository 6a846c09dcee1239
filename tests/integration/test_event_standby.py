"""The event MPM's standby rule (a deliberate difference from httpd, docs/compat.md):
with a shared listening socket only as many children as the server may use CPUs take
new connections; the others take over as soon as one of those stops accepting.

Observed through the access log's %P (the child that answered): a server confined to one
CPU with the stock three children answers every connection from one child, while a
child that reaches MaxConnectionsPerChild hands over to another without a failed request.
"""
from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass

from support.apache_oracle import ApacheOracle

SITE = """
StartServers 3
ServerLimit 16
ThreadsPerChild 25
MinSpareThreads 75
MaxSpareThreads 250
{extra}
LogFormat "%P %>s" pid
CustomLog "{run}/access_log" pid
DocumentRoot "{www}"
"""
MODULES = ("mpm_event", "authz_core", "mime")


@dataclass
class OneCPU(ApacheOracle):
    """fastcore confined to CPU 0 (taskset), as a container limited to one CPU."""

    def argv(self, *extra: str) -> list[str]:
        return ["taskset", "-c", "0", *super().argv(*extra)]


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /i.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.split(b"\r\n", 1)[0]


def _log(run: str, want: int) -> list[tuple[str, str]]:
    path = os.path.join(run, "access_log")
    end = time.monotonic() + 10
    lines: list[str] = []
    while time.monotonic() < end:
        with open(path) as fh:
            lines = fh.read().splitlines()
        if len(lines) >= want:
            break
        time.sleep(0.1)
    return [tuple(x.split()) for x in lines if re.fullmatch(r"\d+ \d{3}", x)]


def _site(tmp_path, extra: str) -> tuple[str, str]:
    run = str(tmp_path / "run")
    www = os.path.join(run, "www")
    os.makedirs(www)
    with open(os.path.join(www, "i.html"), "w") as fh:
        fh.write("hi\n")
    return run, SITE.format(run=run, www=www, extra=extra)


def test_on_one_cpu_one_child_takes_the_connections(tmp_path) -> None:
    run, site = _site(tmp_path, "")
    with OneCPU(run, site, modules=MODULES, fastcore=True) as srv:
        time.sleep(1.0)  # every child up (the other two in standby)
        assert [_get(srv.port) for _ in range(40)] == [b"HTTP/1.1 200 OK"] * 40
        seen = _log(run, 40)
    assert len(seen) == 40 and {s for _, s in seen} == {"200"}
    assert len({p for p, _ in seen}) == 1, seen


def test_a_child_that_stops_accepting_hands_over_without_a_failure(tmp_path) -> None:
    run, site = _site(tmp_path, "MaxConnectionsPerChild 10")
    with OneCPU(run, site, modules=MODULES, fastcore=True) as srv:
        time.sleep(1.0)
        got = [_get(srv.port) for _ in range(45)]
        seen = _log(run, 45)
    assert got == [b"HTTP/1.1 200 OK"] * 45
    pids = [p for p, _ in seen]
    assert len(pids) == 45
    assert len(set(pids)) >= 4  # each child answers at most 10
    assert max(pids.count(p) for p in set(pids)) <= 10
