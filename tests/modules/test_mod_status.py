"""mod_status rendering from a scoreboard: counts, formats, number printing."""
from __future__ import annotations

import os
import re
from types import ModuleType

import pytest
from support.twins import Implementation

from fastcore.config.model import MpmConfig, ServerConfig, VirtualHost
from fastcore.modules.mod_status import handler as status
from fastcore.modules.mod_status.handler import (
    apr_g,
    format_byte_out,
    format_kbyte_out,
    refresh_header,
    show_time,
)


@pytest.fixture
def sbmod(impl: Implementation) -> ModuleType:
    return impl.load("scoreboard")


def cfg(mpm: str = "prefork", mrw: int | None = None, tpc: int = 25) -> ServerConfig:
    return ServerConfig("c", "/", "/", "/", (), VirtualHost((), "main.example"),
                        mpm=MpmConfig(name=mpm, max_request_workers=mrw, threads_per_child=tpc))


@pytest.mark.parametrize("x,out", [
    (0, "0"), (0.4, ".4"), (409.6, "409.6"), (1.0, "1"), (2.5, "2.5"), (1024, "1024"),
    (0.000268456, ".000268456"), (1234567, "1234570"), (100000, "1.e+5"),
    (0.0001, ".0001"), (0.00001234, "1.234e-5"), (99999, "99999"), (-0.5, "-.5"),
])
def test_apr_g(x: float, out: str) -> None:
    assert apr_g(x) == out


def test_apr_g_precision3() -> None:
    assert apr_g(0.000268456, 3) == ".000268"
    assert apr_g(12.345, 3) == "12.3"


def test_sizes_and_times() -> None:
    assert format_byte_out(1536) == "1536 B"
    assert format_byte_out(6000) == "5.9 kB"
    assert format_byte_out(3 * 1048576) == "3.0 MB"
    assert format_kbyte_out(3) == "3 kB"
    assert format_kbyte_out(2048) == "2.0 MB"
    assert show_time(0) == ""
    assert show_time(90061) == " 1 day 1 hour 1 minute 1 second"
    assert show_time(2 * 86400 + 7200 + 120 + 2) == " 2 days 2 hours 2 minutes 2 seconds"


@pytest.mark.parametrize("q,out", [
    (None, None), ("", None), ("auto", None), ("refresh", "10"), ("refresh=3", "3"),
    ("refresh=0", "10"), ("refresh=-2", "10"), ("refresh=x", "10"), ("a&refresh=7&auto", "7"),
    ("norefreshx=5", "10"), ("xrefresh=4", "4"),
])
def test_refresh_header(q, out) -> None:
    assert refresh_header(q) == out


def board(sbmod, server_limit: int, thread_limit: int):
    return sbmod.Scoreboard(server_limit, thread_limit)


def test_auto_counts_and_keys(sbmod) -> None:
    sb = board(sbmod, 4, 1)
    try:
        sb.start_time = 1_000_000.0
        me = os.getpid()
        for child, st in ((0, "_"), (1, "W"), (2, "G")):
            s = sb.slot(child, 0)
            sb.slot_init(s, me, 0, sb.generation)
            sb.set_status(s, st)
        s1 = sb.slot(1, 0)
        sb.request_start(s1, b"GET / HTTP/1.1", b"10.0.0.1", b"main.example:80")
        sb.request_end(s1, 3000)
        sb.request_end(s1, 3000)
        before = os.times()
        ctype, body = status.render(sb, cfg(mrw=4), "auto", True, host="h.example",
                                    now=1_000_100.0, loadavg=(0.5, 0.25, 0.125))
        after = os.times()
        text = body.decode()
        assert ctype == "text/plain; charset=ISO-8859-1"
        # the "children" are this process: its CPU times, read from /proc as APR's %g
        # prints them, and CPULoad since they are not zero
        user = float(re.search(r"CPUUser: ([\d.e+-]+)", text).group(1))
        assert before.user - 0.02 <= user <= after.user + 0.02, (before, text)
        keys = [line.split(":")[0] for line in text.splitlines()[1:]]
        assert keys == ["ServerVersion", "ServerMPM", "Server Built", "CurrentTime",
                        "RestartTime", "ParentServerConfigGeneration",
                        "ParentServerMPMGeneration", "ServerUptimeSeconds", "ServerUptime",
                        "Load1", "Load5", "Load15", "Total Accesses", "Total kBytes",
                        "Total Duration", "CPUUser", "CPUSystem", "CPUChildrenUser",
                        "CPUChildrenSystem", "CPULoad", "Uptime", "ReqPerSec", "BytesPerSec",
                        "BytesPerReq", "DurationPerReq", "BusyWorkers", "GracefulWorkers",
                        "IdleWorkers", "Scoreboard"]
        assert text.splitlines()[0] == "h.example"
        assert "Total Accesses: 2\nTotal kBytes: 5\n" in text
        assert "Uptime: 100\nReqPerSec: .02\nBytesPerSec: 51.2\nBytesPerReq: 2560\n" in text
        assert "ServerUptime: 1 minute 40 seconds\n" in text
        assert "Load1: 0.50\nLoad5: 0.25\nLoad15: 0.12\n" in text
        assert "BusyWorkers: 1\nGracefulWorkers: 1\nIdleWorkers: 1\n" in text
        assert text.endswith("Scoreboard: _WG.\n")
    finally:
        sb.close()


def test_extended_off_has_no_totals_and_pid_key(sbmod) -> None:
    sb = board(sbmod, 4, 1)
    try:
        for child in range(4):
            s = sb.slot(child, 0)
            sb.slot_init(s, 100 + child, 0, sb.generation)
            sb.set_status(s, "_")
        _ct, body = status.render(sb, cfg(mrw=4), "", False, now=sb.start_time)
        text = body.decode()
        assert "Total accesses" not in text
        assert ("PID Key: <br />\n<pre>\n   100 in state: _ ,   101 in state: _ ,   "
                "102 in state: _ \n   103 in state: _ ,\n</pre>\n") in text
        assert "<code>ExtendedStatus On</code>" in text
        _ct, body = status.render(sb, cfg(mrw=4), "auto", False, now=sb.start_time)
        assert b"Total Accesses" not in body and b"IdleWorkers: 4\n" in body
    finally:
        sb.close()


def test_worker_mpm_hides_disabled_slots(sbmod) -> None:
    # ServerLimit 3 x ThreadLimit 4, but ThreadsPerChild 2 and MaxRequestWorkers 4:
    # Apache shows 2 children x 2 threads (dead slots beyond the limits are left out).
    sb = board(sbmod, 3, 4)
    try:
        s = sb.slot(0, 1)
        sb.slot_init(s, 77, 1, sb.generation)
        sb.set_status(s, "K")
        _ct, body = status.render(sb, cfg("worker", mrw=4, tpc=2), "auto", True,
                                  now=sb.start_time)
        assert body.decode().endswith("Scoreboard: .K..\n")
        assert b"BusyWorkers: 1\n" in body
    finally:
        sb.close()


def test_table_escapes_request_and_client(sbmod) -> None:
    sb = board(sbmod, 2, 1)
    try:
        s = sb.slot(0, 0)
        sb.slot_init(s, 4242, 0, sb.generation)
        sb.request_start(s, b'GET /<script>"x" HTTP/1.1', b"10.1.2.3", b"v<h>:80")
        _ct, body = status.render(sb, cfg(mrw=2), "", True, now=sb.start_time + 5)
        text = body.decode()
        assert "<td nowrap>GET /&lt;script&gt;\\&quot;x\\&quot; HTTP/1.1</td>" in text
        assert "<td nowrap>v&lt;h&gt;:80</td>" in text
        assert "<tr><td><b>0-0</b></td><td>4242</td><td>0/0/0</td><td><b>W</b>" in text
        _ct, body = status.render(sb, cfg(mrw=2), "notable", True, now=sb.start_time + 5)
        assert b"<b>Server 0-0</b> (4242): 0|0|0 [<b>Write</b>]" in body
        assert b"<table border" not in body
    finally:
        sb.close()


def test_html_summary_line_and_host_escaping(sbmod) -> None:
    sb = board(sbmod, 2, 1)
    try:
        _ct, body = status.render(sb, cfg(mrw=2), None, True, host="<evil>", local_ip="::1",
                                  now=sb.start_time, signature="<hr />\n<address>x</address>\n")
        text = body.decode()
        assert "<h1>Apache Server Status for &lt;evil&gt; (via ::1)</h1>" in text
        assert ("<dt>0 requests currently being processed, 0 workers gracefully restarting, "
                "0 idle workers</dt>") in text
        assert text.endswith("<hr />\n<address>x</address>\n</body></html>\n")
    finally:
        sb.close()
