"""Slow clients (issue point 10): 200 connections trickling one header byte a second must
not stop normal clients in any MPM, with or without mod_reqtimeout.

prefork and worker hand a connection whose head is incomplete to their holder thread, so
a child or worker thread is only busy with complete requests; the event MPM parks it in
its listener.  With mod_reqtimeout loaded the trickling connections are also cut when
their header deadline passes.  The same attack against real Apache prefork (python/
slowloris.py) serves no probe at all: Apache's children are all held.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import time

import pytest
from slowloris import attack
from support.servers import FastcoreServer, open_fds

SLOW = 200
SECONDS = 6.0
HEADER = 4  # RequestReadTimeout header=4-8,MinRate=500: cut about 4 s after connecting
SIZING = {  # far fewer workers than slow clients
    "prefork": "StartServers 2\nMinSpareServers 1\nMaxSpareServers 2\nServerLimit 6\n"
               "MaxRequestWorkers 6\n",
    "worker": "StartServers 1\nServerLimit 2\nThreadsPerChild 6\nMaxRequestWorkers 12\n"
              "MinSpareThreads 6\nMaxSpareThreads 12\n",
    "event": "StartServers 1\nServerLimit 2\nThreadsPerChild 6\nMaxRequestWorkers 12\n"
             "MinSpareThreads 6\nMaxSpareThreads 12\n",
}
REQTIMEOUT = ("LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so\n"
              f"RequestReadTimeout header={HEADER}-{2 * HEADER},MinRate=500\n")


@pytest.mark.parametrize("reqtimeout", [False, True], ids=["plain", "reqtimeout"])
@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_normal_clients_are_served_during_a_slowloris_attack(tmp_path, mpm, reqtimeout):
    fds = open_fds()
    extra = SIZING[mpm] + (REQTIMEOUT if reqtimeout else "")
    srv = FastcoreServer(str(tmp_path), mpm, extra).start()
    try:
        r = attack(srv.port, SECONDS, SLOW, probe_timeout=3.0, probe_every=0.3,
                   linger=4.0 if reqtimeout else 0.0)
    finally:
        srv.stop()
    assert r.probes >= 5, r
    assert r.served == r.probes, f"{r.probes - r.served} of {r.probes} probes not served: {r}"
    if reqtimeout:  # each cut at its header deadline (1 byte/s adds 2 ms at MinRate=500)
        assert r.cut == SLOW, r
        assert HEADER - 0.5 <= r.first_cut and r.last_cut <= HEADER + 3.5, r
    else:  # Timeout (60 s) bounds each read: a byte a second is never cut, as in Apache
        assert r.cut == 0, r
    assert open_fds() == fds


@pytest.mark.parametrize("mpm", ["prefork", "worker"])
def test_with_two_listeners_too(tmp_path, mpm):
    """Two Listen sockets: prefork takes the accept mutex, worker a listener thread; the
    holder works the same way behind either."""
    srv = FastcoreServer(str(tmp_path), mpm, SIZING[mpm], nports=2).start()
    try:
        r = attack(srv.port, SECONDS - 2, SLOW, probe_timeout=3.0, probe_every=0.3)
    finally:
        srv.stop()
    assert r.probes >= 3 and r.served == r.probes, r


def _read_response(s: socket.socket) -> bytes:
    """One response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < length:
        body += s.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_a_trickled_head_is_answered_and_its_connection_kept(tmp_path, mpm):
    """A head that arrives in pieces is held, then answered once complete; the
    connection then serves its next keep-alive request as any other."""
    srv = FastcoreServer(str(tmp_path), mpm, SIZING[mpm] + REQTIMEOUT).start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            for piece in (b"GET / HT", b"TP/1.1\r\nHost: local", b"host\r\n", b"\r\n"):
                s.sendall(piece)
                time.sleep(0.4)  # longer than the holder's first wait
            first = _read_response(s)
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            second = _read_response(s)
        # a line is written just after its answer is sent: the stop below is a hard one
        # (SIGTERM), so wait (bounded) for the second line before it
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            with open(tmp_path / "access_log") as fh:
                if len(fh.readlines()) >= 2:
                    break
            time.sleep(0.05)
    finally:
        srv.stop()
    for resp in (first, second):
        assert resp.startswith(b"HTTP/1.1 200 OK\r\n") and resp.endswith(b"hello from the docroot\n")
    with open(tmp_path / "access_log") as fh:
        assert [line.split('"', 1)[1].split() for line in fh] == [
            ["GET", "/", 'HTTP/1.1"', "200", "23"]] * 2


@pytest.mark.parametrize("mpm", ["prefork", "worker"])
def test_a_graceful_stop_finishes_the_heads_it_holds(tmp_path, mpm):
    """Held connections are given back to a worker when the child stops gracefully: the
    client that completes its head afterwards still gets its answer."""
    srv = FastcoreServer(str(tmp_path), mpm, SIZING[mpm]).start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
            time.sleep(0.5)  # now in a holder
            os.kill(srv.proc.pid, signal.SIGWINCH)  # graceful-stop
            time.sleep(0.3)
            s.sendall(b"Connection: close\r\n\r\n")
            resp = s.recv(65536)
            while not resp.endswith(b"docroot\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                resp += chunk
        assert resp.startswith(b"HTTP/1.1 200 OK\r\n") and resp.endswith(b"docroot\n"), resp
    finally:
        srv.stop()


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_a_connection_that_stops_after_one_byte_ends_at_the_header_deadline(tmp_path, mpm):
    """RequestReadTimeout's header clock starts with the connection: a client that sends
    its first byte and then nothing is closed at header=, not after Timeout.  (A client
    that sends nothing at all is never accepted: the listeners defer accept until data
    arrives, as Apache's AcceptFilter http data does, so the kernel holds it instead.)"""
    srv = FastcoreServer(str(tmp_path), mpm, SIZING[mpm] + "Timeout 30\n" + REQTIMEOUT).start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=HEADER + 6) as s:
            s.sendall(b"G")
            t0 = time.monotonic()
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            waited = time.monotonic() - t0
    finally:
        srv.stop()
    assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data[:80]
    assert HEADER - 0.5 <= waited <= HEADER + 3
