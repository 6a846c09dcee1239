"""An unexpected failure anywhere on the request path gives the client a 500 and the error
log a line saying what failed, never a connection closed without an answer; through
serve_blocking (prefork, worker) and through the event MPM's run() loop alike.

Each case breaks one piece of the running server on purpose (a monkeypatched function
raising, as a bug or an unreadable file would) and checks both what the client reads and
the error-log line.
"""
from __future__ import annotations

import os
import select
import socket
from collections.abc import Callable

import pytest
from support.inprocess import exchange, make_server
from support.wire import parse_responses

from fastcore.core import static
from fastcore.core.server import CLOSED, WANT_READ, HttpServer
from fastcore.modules import mod_log_config as log_mod

HERE = os.path.dirname(os.path.abspath(__file__))


def exchange_event(srv: HttpServer, data: bytes) -> bytes:
    """The event MPM's way: a non-blocking connection driven by run() and poll."""
    a, b = socket.socketpair()
    a.setblocking(False)
    conn = srv.connection(a.detach(), ("127.0.0.1", 4000), -1)
    b.sendall(data)
    b.shutdown(socket.SHUT_WR)
    state = WANT_READ
    for _ in range(1000):
        state, timeout = conn.run()
        if state == CLOSED:
            break
        ev = select.POLLIN if state == WANT_READ else select.POLLOUT
        p = select.poll()
        p.register(conn.fd, ev)
        assert p.poll(5000), "no progress"
    conn.close()
    assert state == CLOSED
    b.settimeout(10)
    out = b""
    while chunk := b.recv(65536):
        out += chunk
    b.close()
    return out


def _break_vhost(srv: HttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object) -> None:
        raise RuntimeError("vhost lookup exploded")
    monkeypatch.setattr(srv, "vhost_for", boom)


def _break_handler(srv: HttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object) -> None:
        raise KeyError("handler bug")
    monkeypatch.setattr(srv.handler, "dispatch", boom)


def _break_range_read(srv: HttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreadable(*_a: object) -> bytes:
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(static, "read_range", unreadable)


def _break_access_log(srv: HttpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object) -> None:
        raise LookupError("unknown encoding: idna")
    monkeypatch.setattr(log_mod.AccessLog, "log", boom)


REQ = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
MULTI = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,3-4\r\n\r\n"
# (breakage, request, status the client gets, what the error log names)
CASES: list[tuple[Callable[[HttpServer, pytest.MonkeyPatch], None], bytes, int, str]] = [
    (_break_vhost, REQ, 500, "internal error: RuntimeError('vhost lookup exploded')"),
    (_break_handler, REQ, 500, "internal error: KeyError('handler bug')"),
    (_break_range_read, MULTI, 500, "internal error: PermissionError(13, 'Permission denied')"),
    # the answer was queued before logging failed: it is still sent, the failure logged
    (_break_access_log, REQ, 200, "internal error: LookupError('unknown encoding: idna')"),
]


@pytest.mark.parametrize("mode", ["blocking", "event"])
@pytest.mark.parametrize("case", CASES, ids=["vhost", "handler", "range-read", "access-log"])
def test_internal_error_is_a_500_and_an_error_log_line(tmp_path, monkeypatch, mode, case) -> None:
    breakage, request, status, logged = case
    srv = make_server(str(tmp_path))
    breakage(srv, monkeypatch)
    run = exchange if mode == "blocking" else exchange_event
    out = run(srv, request + REQ)  # a second request on the connection is not answered
    srv.close()
    resps = parse_responses(out)
    assert [r[0] for r in resps] == [status], out
    if status == 500:
        assert resps[0][1]["connection"] == "close"
        assert b"<title>500 Internal Server Error</title>" in resps[0][2]
    else:
        assert resps[0][2] == b"hello a\n"
    with open(os.path.join(str(tmp_path), "error_log")) as fh:
        errors = fh.read()
    assert logged in errors
    assert "[core:error]" in errors and "[client 127.0.0.1:4000]" in errors


def test_the_500_is_logged_in_the_access_log(tmp_path, monkeypatch) -> None:
    """As any answer: the access log has the 500 line of the failed request."""
    srv = make_server(str(tmp_path))
    _break_range_read(srv, monkeypatch)
    exchange(srv, MULTI)
    srv.close()
    with open(os.path.join(str(tmp_path), "access_log")) as fh:
        assert fh.read().splitlines() == ["500 GET /a.txt HTTP/1.1 0 -"]
