"""/server-status: fastcore.http.status against real Apache 2.4's mod_status.

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
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from apache_oracle import ApacheOracle, parse_responses, raw_request  # noqa: E402

from fastcore._pure import scoreboard as pure_scoreboard  # noqa: E402
from fastcore.config.model import MpmConfig, ServerConfig, VirtualHost  # noqa: E402
from fastcore.http import status  # noqa: E402
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


def ours(target: str, port: int, extended: bool, clock: tuple[float, float]
         ) -> tuple[str, bytes]:
    sb = pure_scoreboard.Scoreboard(4, 1)
    try:
        sb.start_time = clock[1]
        slot = sb.slot(0, 0)
        sb.slot_init(slot, os.getpid(), 0, sb.generation)
        sb.request_start(slot, f"GET {target} HTTP/1.1".encode(), b"127.0.0.1",
                         f"localhost:{port}".encode())
        cfg = ServerConfig("httpd.conf", "/", "/", "/", (), VirtualHost((), "localhost"),
                           mpm=MpmConfig(name="prefork", max_request_workers=4))
        query = target.partition("?")[2]
        return status.render(sb, cfg, query, extended, host="localhost", local_ip="127.0.0.1",
                             now=clock[0])
    finally:
        sb.close()


def same_page(tmp_path, body: str, mods: tuple[str, ...], target: str, render) -> str:
    """Fetch target from a fresh Apache configured with body; render(port, apache_text)
    gives fastcore's (Content-Type, bytes) for the same state; both must be equal once
    normalized. Returns Apache's normalized page."""
    root = tmp_path / "root"
    root.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    with ApacheOracle(str(run), body.format(root=root), modules=mods) as ap:
        code, hdrs, raw = fetch(ap.port, target)
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
                     lambda port, text: ours(target, port, ext == "On", apache_clock(text)))
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


EVENT_BODY = """
ServerLimit 1
StartServers 1
ThreadLimit 4
ThreadsPerChild 4
MaxRequestWorkers 4
MinSpareThreads 1
MaxSpareThreads 4
ExtendedStatus {ext}
DocumentRoot "{root}"
<Location /server-status>
  SetHandler server-status
</Location>
"""


def ours_event(target: str, port: int, extended: bool, clock: tuple[float, float],
               busy_thread: int) -> tuple[str, bytes]:
    """The event MPM's page: one child of four threads, the request on busy_thread (the
    thread Apache happened to give it), the process record as the arbiter writes it."""
    sb = pure_scoreboard.Scoreboard(1, 4)
    table = ProcTable(1)
    try:
        sb.start_time = clock[1]
        for t in range(4):
            sb.slot_init(sb.slot(0, t), os.getpid(), t, sb.generation)
            sb.set_status(sb.slot(0, t), "_")
        slot = sb.slot(0, busy_thread)
        sb.request_start(slot, f"GET {target} HTTP/1.1".encode(), b"127.0.0.1",
                         f"localhost:{port}".encode())
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
@pytest.mark.parametrize("target", ["/server-status", "/server-status?auto"])
def test_event_process_table_as_apache(tmp_path, ext: str, target: str) -> None:
    """The event MPM adds httpd's per-process table (Slot, PID, Stopping, Connections,
    Threads, Async connections) to the page and Processes/Stopping/ConnsTotal/ConnsAsync*
    to ?auto: same layout, same keys in the same order (live counts masked)."""
    def render(port: int, text: str) -> tuple[str, bytes]:
        board = re.search(r"(?:Scoreboard: |<pre>)([_A-Z.]{4})", text)
        assert board and board.group(1).count("W") == 1, text
        return ours_event(target, port, ext == "On", apache_clock(text),
                          board.group(1).index("W"))

    mods = ("mpm_event", "authz_core", "authz_host", "mime", "dir", "alias", "status")
    page = same_page(tmp_path, EVENT_BODY.replace("{ext}", ext), mods, target, render)
    assert ("ConnsAsyncKeepAlive: N" if "auto" in target else "<th>keep-alive</th>") in page
