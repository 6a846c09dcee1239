"""/server-status: fastcore.modules.mod_status.handler against real Apache 2.4's mod_status.

A fresh prefork Apache with four slots answers /server-status (HTML and ?auto, with
ExtendedStatus On and Off); fastcore renders the same state from its scoreboard (one child
serving this very request, three empty slots).  After masking what legitimately differs
(product name, build date, clock, load, pids, port), the two documents must be identical,
which pins the key names, their order, the HTML layout, the scoreboard line and the worker
table.  The Refresh header for ?refresh variants is compared directly.
"""
from __future__ import annotations

import os
import re
import socket
import time

import pytest
from support.apache_oracle import ApacheOracle
from support.status_site import EVENT_BODY
from support.wire import parse_responses, raw_request

from fastcore._pure import scoreboard as pure_scoreboard  # noqa: E402
from fastcore.config.model import MpmConfig, ServerConfig, VirtualHost  # noqa: E402
from fastcore.modules.mod_status import handler as status  # noqa: E402
from fastcore.mpm.proctable import ProcTable  # noqa: E402

BODY = """
ServerLimit 4
MaxRequestWorkers 4
ExtendedStatus {ext}
DocumentRoot "{root}"
<Location /server-status>
  SetHandler server-status
</Location>
"""


DATE_RE = re.compile(r"\w+day, \d\d-\w\w\w-\d{4} \d\d:\d\d:\d\d \w+")


def normalize(text: str, version: str) -> str:
    text = text.replace(version, "VERSION")
    # CPU times are live (/proc for fastcore, times() for Apache): only their layout
    # compares, and CPULoad appears only once some process used a clock tick.
    text = re.sub(r"CPULoad: [^\n]*\n", "", text)
    text = re.sub(r"(CPUUser|CPUSystem|CPUChildrenUser|CPUChildrenSystem): [^\n]*",
                  r"\1: C", text)
    text = re.sub(r"<dt>CPU Usage: [^<]*</dt>", "<dt>CPU Usage: C</dt>", text)
    text = re.sub(r"\] u[-\d.e+]+ s[-\d.e+]+ cu[-\d.e+]+ cs[-\d.e+]+\n", "] C\n", text)
    text = re.sub(r"Server Built: [^\n<]*", "Server Built: BUILT", text)
    text = DATE_RE.sub("DATE", text)
    text = re.sub(r"(Load1|Load5|Load15): [-\d.]+", r"\1: L", text)
    text = re.sub(r"Server load: [-\d. ]+<", "Server load: L<", text)
    return re.sub(r"\d+", "N", text)


def fetch(port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    raw = raw_request(port, f"GET {target} HTTP/1.1\r\nHost: localhost\r\n"
                            f"Connection: close\r\n\r\n".encode())
    return parse_responses(raw)[0]


def hold_reading(port: int) -> socket.socket:
    """A connection whose request line is still incomplete, so one worker stays in `R`:
    polls Apache's page until that worker shows (bounded), never a fixed sleep."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /slow HTTP/1.1\r\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "R" in apache_board(fetch(port, "/server-status?auto")[2].decode("latin-1")):
            return sock
        time.sleep(0.05)
    sock.close()
    raise AssertionError("Apache never showed the reading worker")


def apache_clock(body: str) -> tuple[float, float]:
    """(current time, restart time) as Apache printed them, so both renderings describe
    the same instant (uptime and rates depend on it)."""
    now_s = DATE_RE.findall(body)[0]
    now = time.mktime(time.strptime(now_s, "%A, %d-%b-%Y %H:%M:%S %Z"))
    # Apache's uptime is computed from sub-second times: take it as printed.
    m = re.search(r"(?:ServerUptime:|Server uptime:)([^\n<]*)", body)
    uptime = 0
    units = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}
    for n, unit in re.findall(r"(\d+) (day|hour|minute|second)", m.group(1) if m else ""):
        uptime += int(n) * units[unit]
    return now, now - uptime


def mirror(sb, board: str, target: str, port: int, apache_text: str = "") -> None:
    """Give fastcore's scoreboard the state Apache's showed: Apache's workers are live, so
    a connection it was still reading (an `R`, say from the test's own probe) must be
    rendered too instead of failing the comparison. One `W` serves this request; the
    totals ?auto printed are carried over."""
    acc = re.search(r"Total Accesses: (\d+)", apache_text)
    kb = re.search(r"Total kBytes: (\d+)", apache_text)
    if acc:
        sb.add(pure_scoreboard.ACCESSES, int(acc.group(1)))
    if kb:
        sb.add(pure_scoreboard.BYTES, int(kb.group(1)) * 1024)
    for slot, letter in enumerate(board):
        if letter == ".":
            continue
        sb.slot_init(slot, os.getpid(), slot % sb.thread_limit, sb.generation)
        if letter == "W":
            sb.request_start(slot, f"GET {target} HTTP/1.1".encode(), b"127.0.0.1",
                             f"localhost:{port}".encode())
        elif letter in ("R", "K", "C", "L", "D"):  # a connection, no request line yet
            sb.request_start(slot, b"", b"127.0.0.1", b"")
            sb.set_status(slot, letter)
        else:
            sb.set_status(slot, letter)


def apache_board(text: str) -> str:
    board = re.search(r"(?:Scoreboard: |<pre>)([_A-Z.]{4})", text)
    assert board and board.group(1).count("W") == 1, text
    return board.group(1)


def ours(target: str, port: int, extended: bool, clock: tuple[float, float],
         board: str, apache_text: str = "") -> tuple[str, bytes]:
    sb = pure_scoreboard.Scoreboard(4, 1)
    try:
        sb.start_time = clock[1]
        mirror(sb, board, target, port, apache_text)
        cfg = ServerConfig("httpd.conf", "/", "/", "/", (), VirtualHost((), "localhost"),
                           mpm=MpmConfig(name="prefork", max_request_workers=4))
        query = target.partition("?")[2]
        return status.render(sb, cfg, query, extended, host="localhost", local_ip="127.0.0.1",
                             now=clock[0])
    finally:
        sb.close()


def same_page(tmp_path, body: str, mods: tuple[str, ...], target: str, render,
              reading: bool = False) -> str:
    """Fetch target from a fresh Apache configured with body; render(port, apache_text)
    gives fastcore's (Content-Type, bytes) for the same state; both must be equal once
    normalized. Returns Apache's normalized page."""
    root = tmp_path / "root"
    root.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    with ApacheOracle(str(run), body.format(root=root), modules=mods) as ap:
        if reading:
            held = hold_reading(ap.port)
        try:
            code, hdrs, raw = fetch(ap.port, target)
        finally:
            if reading:
                held.close()
    assert code == 200
    text = raw.decode("latin-1")
    ctype, mine = render(ap.port, text)
    assert ctype == hdrs["content-type"]
    version = "fastcore/" + __import__("fastcore").__version__
    a = normalize(text, hdrs["server"])
    o = normalize(mine.decode("latin-1"), mine.decode("latin-1").split("Version: ")[1]
                  .split("<")[0].split("\n")[0])
    assert version in mine.decode("latin-1")
    assert o == a
    return a


@pytest.mark.parametrize("ext", ["On", "Off"])
@pytest.mark.parametrize("target", ["/server-status", "/server-status?auto",
                                    "/server-status?notable", "/server-status?auto&refresh=2"])
def test_same_document_as_apache(tmp_path, ext: str, target: str) -> None:
    mods = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias", "status")
    page = same_page(tmp_path, BODY.replace("{ext}", ext), mods, target,
                     lambda port, text: ours(target, port, ext == "On", apache_clock(text),
                                             apache_board(text)))
    # prefork: no per-process table (that is the event MPM's, tested below)
    assert "Processes: " not in page and "<th>keep-alive</th>" not in page


def test_refresh_header_as_apache(tmp_path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    mods = ("mpm_prefork", "authz_core", "mime", "dir", "status")
    queries = ["refresh", "refresh=3", "refresh=0", "refresh=-4", "refresh=abc", "xrefreshy=7",
               "auto&refresh=12", "refresh=5x", "", "auto", "refresh=%203"]
    with ApacheOracle(str(run), BODY.format(ext="On", root=root), modules=mods) as ap:
        for q in queries:
            target = "/server-status" + (f"?{q}" if q else "")
            _code, hdrs, _body = fetch(ap.port, target)
            assert status.refresh_header(q or None) == hdrs.get("refresh"), q


def ours_event(target: str, port: int, extended: bool, clock: tuple[float, float],
               board: str, apache_text: str) -> tuple[str, bytes]:
    """The event MPM's page: one child of four threads in the states Apache's showed, the
    process record as the arbiter writes it."""
    sb = pure_scoreboard.Scoreboard(1, 4)
    table = ProcTable(1)
    try:
        sb.start_time = clock[1]
        mirror(sb, board, target, port, apache_text)
        table.prepare(0, sb.generation)
        table.set_pid(0, os.getpid())
        cfg = ServerConfig("httpd.conf", "/", "/", "/", (), VirtualHost((), "localhost"),
                           mpm=MpmConfig(name="event", server_limit=1, threads_per_child=4,
                                         thread_limit=4, max_request_workers=4))
        return status.render(sb, cfg, target.partition("?")[2], extended, host="localhost",
                             local_ip="127.0.0.1", now=clock[0], proctable=table)
    finally:
        table.close()
        sb.close()


@pytest.mark.parametrize("ext", ["On", "Off"])
@pytest.mark.parametrize(("target", "reading"), [("/server-status", False),
                                                 ("/server-status?auto", False),
                                                 ("/server-status?auto", True)])
def test_event_process_table_as_apache(tmp_path, ext: str, target: str, reading: bool) -> None:
    """The event MPM adds httpd's per-process table (Slot, PID, Stopping, Connections,
    Threads, Async connections) to the page and Processes/Stopping/ConnsTotal/ConnsAsync*
    to ?auto: same layout, same keys in the same order (live counts masked). `reading`
    holds a half-sent request open: Apache's live `R` worker is rendered the same way
    (?auto only: the HTML table would also list the idle worker that served the probes)."""
    def render(port: int, text: str) -> tuple[str, bytes]:
        board = apache_board(text)
        assert ("R" in board) or not reading, board
        return ours_event(target, port, ext == "On", apache_clock(text), board, text)

    mods = ("mpm_event", "authz_core", "authz_host", "mime", "dir", "alias", "status")
    page = same_page(tmp_path, EVENT_BODY.replace("{ext}", ext), mods, target, render, reading)
    assert ("ConnsAsyncKeepAlive: N" if "auto" in target else "<th>keep-alive</th>") in page


@pytest.mark.parametrize("ext", ["On", "Off"])
def test_prefork_reading_worker_as_apache(tmp_path, ext: str) -> None:
    """A prefork child still reading a request line shows as `R` in Apache's ?auto and in
    fastcore's, with the same keys and layout."""
    target = "/server-status?auto"
    mods = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias", "status")

    def render(port: int, text: str) -> tuple[str, bytes]:
        return ours(target, port, ext == "On", apache_clock(text), apache_board(text), text)

    page = same_page(tmp_path, BODY.replace("{ext}", ext), mods, target, render, reading=True)
    assert "R" in re.search(r"Scoreboard: ([_A-Z.]{4})", page).group(1)
