"""/server-status as mod_status renders it, fed from the shared scoreboard.

Two formats, chosen by the query string as mod_status does (substring search, not a
parser): the HTML page and `?auto`, the machine-readable "Key: value" lines with Apache
2.4's key names and order.  `?refresh=N` asks for a Refresh header (refresh_header()),
`?notable` for the per-worker list instead of the table.  Numbers are printed the way
APR's printf prints them (its %g drops the leading zero: ".4").

For the event MPM (httpd's async MPM) the page adds the per-process table and ?auto its
keys (Processes, Stopping, ConnsTotal, ConnsAsync*), from the process records the
listener of each child publishes (fastcore.mpm.proctable; a snapshot up to about a
second old, as httpd's listener updates its own once per pass). What the scoreboard does
not record is left out rather than invented: per-connection counts (shown as 0, as
Apache shows an idle worker). CPU times are read from /proc/PID/stat of the parent and of
each child (httpd records them in the scoreboard with times()).  Durations use the slot's
accumulated `duration` when the scoreboard provides it, else its last request's time.
"""
from __future__ import annotations

import math
import os
import struct
import time
from collections.abc import Callable
from typing import Any

from fastcore.core import errors
from fastcore.core.tokens import is_digits

KBYTE = 1024
_ACCESSES, _BYTES = 0, 1  # the scoreboard's global counters (same index in both builds)
TICK = float(os.sysconf("SC_CLK_TCK"))
MBYTE = 1048576
GBYTE = 1073741824
STATUS_MAXLINE = 64
DOCTYPE = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" '
           '"http://www.w3.org/TR/html4/strict.dtd">\n')
TIME_FORMAT = "%A, %d-%b-%Y %H:%M:%S %Z"

_KEY = (
    '<p>Scoreboard Key:<br />\n'
    '"<b><code>_</code></b>" Waiting for Connection, \n'
    '"<b><code>S</code></b>" Starting up, \n'
    '"<b><code>R</code></b>" Reading Request,<br />\n'
    '"<b><code>W</code></b>" Sending Reply, \n'
    '"<b><code>K</code></b>" Keepalive (read), \n'
    '"<b><code>D</code></b>" DNS Lookup,<br />\n'
    '"<b><code>C</code></b>" Closing connection, \n'
    '"<b><code>L</code></b>" Logging, \n'
    '"<b><code>G</code></b>" Gracefully finishing,<br /> \n'
    '"<b><code>I</code></b>" Idle cleanup of worker, \n'
    '"<b><code>.</code></b>" Open slot with no current process<br />\n'
    '</p>\n'
)

_LEGEND = (
    "</table>\n <hr /> <table>\n"
    " <tr><th>Srv</th><td>Child Server number - generation</td></tr>\n"
    " <tr><th>PID</th><td>OS process ID</td></tr>\n"
    " <tr><th>Acc</th><td>Number of accesses this connection / this child / this slot"
    "</td></tr>\n"
    " <tr><th>M</th><td>Mode of operation</td></tr>\n"
    "<tr><th>CPU</th><td>CPU usage, number of seconds</td></tr>\n"
    "<tr><th>SS</th><td>Seconds since beginning of most recent request</td></tr>\n"
    " <tr><th>Req</th><td>Milliseconds required to process most recent request</td></tr>\n"
    " <tr><th>Dur</th><td>Sum of milliseconds required to process all requests</td></tr>\n"
    " <tr><th>Conn</th><td>Kilobytes transferred this connection</td></tr>\n"
    " <tr><th>Child</th><td>Megabytes transferred this child</td></tr>\n"
    " <tr><th>Slot</th><td>Total megabytes transferred this slot</td></tr>\n"
    " </table>\n"
)

_TABLE_HEAD = (
    '\n\n<table border="0"><tr><th>Srv</th><th>PID</th><th>Acc</th><th>M</th><th>CPU\n'
    '</th><th>SS</th><th>Req</th><th>Dur</th><th>Conn</th><th>Child</th><th>Slot</th>'
    '<th>Client</th><th>Protocol</th><th>VHost</th><th>Request</th></tr>\n\n'
)

_MODE_HTML = {"_": "_", "S": "<b>S</b>", "R": "<b>R</b>", "W": "<b>W</b>", "K": "<b>K</b>",
              "L": "<b>L</b>", "D": "<b>D</b>", "C": "<b>C</b>", ".": ".", "G": "G", "I": "I"}
_MODE_TEXT = {"_": "Ready", "S": "Starting", "R": "<b>Read</b>", "W": "<b>Write</b>",
              "K": "<b>Keepalive</b>", "L": "<b>Logging</b>", "D": "<b>DNS lookup</b>",
              "C": "<b>Closing</b>", ".": "Dead", "G": "Graceful", "I": "Dying"}


def apr_g(x: float, precision: int = 6) -> str:
    """APR's %g (apr_gcvt): like C's %g, but "0.4" is written ".4"."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    neg = x < 0
    digits_exp = f"{abs(x):.{precision - 1}e}"
    mant, exp = digits_exp.split("e")
    digits = mant.replace(".", "")
    decpt = int(exp) + 1
    nd = precision
    while nd > 1 and digits[nd - 1] == "0":
        nd -= 1
    out = "-" if neg else ""
    if (decpt >= 0 and decpt - nd > 4) or (decpt < 0 and decpt < -3):
        e = decpt - 1
        out += digits[0] + "."
        out += digits[1:nd]
        out += "e" + ("-" if e < 0 else "+")
        e = abs(e)
        if e // 100:
            out += str(e // 100)
        if e // 10:
            out += str((e % 100) // 10)
        out += str(e % 10)
    else:
        body = ""
        if decpt <= 0:
            body += "."
            body += "0" * (-decpt)
        for i in range(1, nd + 1):
            body += digits[i - 1]
            if i == decpt:
                body += "."
        if nd < decpt:
            body += "0" * (decpt - nd) + "."
        out += body
    if out.endswith("."):
        out = out[:-1]
    return out


def format_byte_out(n: float) -> str:
    if n < 5 * KBYTE:
        return f"{int(n)} B"
    if n < MBYTE / 2:
        return f"{n / KBYTE:.1f} kB"
    if n < GBYTE / 2:
        return f"{n / MBYTE:.1f} MB"
    return f"{n / GBYTE:.1f} GB"


def format_kbyte_out(kb: int) -> str:
    if kb < KBYTE:
        return f"{int(kb)} kB"
    if kb < MBYTE:
        return f"{kb / KBYTE:.1f} MB"
    return f"{kb / MBYTE:.1f} GB"


def show_time(secs: int) -> str:
    days, rem = divmod(int(secs), 86400)
    hrs, rem = divmod(rem, 3600)
    mins, s = divmod(rem, 60)
    out = ""
    for n, unit in ((days, "day"), (hrs, "hour"), (mins, "minute"), (s, "second")):
        if n:
            out += f" {n} {unit}{'' if n == 1 else 's'}"
    return out


def escape_html(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def refresh_header(query: str | None) -> str | None:
    """The Refresh header value for `?refresh[=N]` (mod_status: N < 1 or missing -> 10)."""
    if not query:
        return None
    at = query.find("refresh")
    if at < 0:
        return None
    rest = query[at + len("refresh"):]
    t = 0
    if rest.startswith("="):
        num = ""
        s = rest[1:].lstrip()
        if s[:1] in "+-":
            num, s = s[0], s[1:]
        for c in s:
            if not is_digits(c) or not c.isascii():
                break
            num += c
        try:
            t = int(num) if num not in ("", "+", "-") else 0
        except ValueError:
            t = 0
    return str(t if t >= 1 else 10)


def _server_built() -> str:
    """Build time of this fastcore (the package's mtime), in Apache's format."""
    try:
        mtime = os.stat(os.path.join(os.path.dirname(__file__), "..", "__init__.py")).st_mtime
    except OSError:
        mtime = 0.0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(mtime))


def _layout(sb: Any, server_cfg: Any) -> tuple[int, int, int]:
    """(max_servers, threads_per_child, thread_limit) for the displayed part of the board."""
    mpm = getattr(server_cfg, "mpm", None)
    name = getattr(mpm, "name", "prefork") if mpm else "prefork"
    thread_limit = sb.thread_limit
    if name == "prefork":
        tpc = 1
        mrw = getattr(mpm, "max_request_workers", None) or 256
        max_servers = mrw
    else:
        tpc = getattr(mpm, "threads_per_child", 25) or 25
        mrw = getattr(mpm, "max_request_workers", None) or 16 * tpc
        max_servers = -(-mrw // tpc)
    return min(max_servers, sb.server_limit), min(tpc, thread_limit), thread_limit


def render(scoreboard: Any, server_cfg: Any, query: str | None, extended: bool, *,
           host: str | None = None, local_ip: str = "127.0.0.1", signature: str = "",
           server_version: str | None = None, now: float | None = None,
           loadavg: tuple[float, float, float] | None = None,
           proctable: Any = None, sections: Callable[[bool], str] | None = None
           ) -> tuple[str, bytes]:
    """(Content-Type, body) of /server-status for this query string.

    `host` is ap_get_server_name() of the request (the Host name, or ServerName),
    `local_ip` the address the connection was accepted on, `signature` the
    ServerSignature footer or "", `proctable` the MPM's per-process records (None: pids
    from the scoreboard, no connection counts).
    """
    sb = scoreboard
    q = query or ""
    short = "auto" in q
    notable = "notable" in q
    now = time.time() if now is None else now
    if loadavg is None:
        try:
            loadavg = os.getloadavg()
        except OSError:
            loadavg = (-1.0, -1.0, -1.0)
    version = server_version or errors.server_banner("full")
    mpm_name = getattr(getattr(server_cfg, "mpm", None), "name", "prefork")
    server_name = host or getattr(getattr(server_cfg, "main", None), "server_name", "") or ""
    generation = sb.generation
    max_servers, tpc, tlimit = _layout(sb, server_cfg)

    ready = busy = graceful = 0
    count = kbcount = bcount = 0
    duration_ms = 0
    letters: list[str] = []
    infos: list[tuple[int, int, dict]] = []
    child_pid: dict[int, int] = {}
    for i in range(sb.server_limit):
        for j in range(tlimit):
            slot = i * tlimit + j
            info = sb.slot_info(slot)
            st = info["status"] or "."
            if (i >= max_servers or j >= tpc) and st == ".":
                pass  # disabled slot: not shown
            else:
                letters.append(st)
            pid = info["pid"]
            if pid and i not in child_pid:
                child_pid[i] = pid
            if pid:
                if st == "_":
                    if info["generation"] == generation:
                        ready += 1
                elif st == "G":
                    graceful += 1
                elif st not in (".", "S", "I"):
                    busy += 1
            if extended and (info["accesses"] or st not in ("_", ".")):
                count += info["accesses"]
                bcount += info["bytes"]
                duration_ms += _slot_duration_ms(info)
                if bcount >= KBYTE:
                    kbcount += bcount >> 10
                    bcount &= 0x3FF
                infos.append((i, j, info))
    cpu = {0: (0, 0, 0, 0)}
    if extended:
        # the live processes only: a dead slot's pid may have been reused by another
        if proctable is not None:
            pids = {proctable.record(i)["pid"] for i in range(sb.server_limit)}
            pids.add(proctable.parent_pid)
        else:
            pids = set(child_pid.values())
        cpu = {pid: _cpu_ticks(pid) for pid in pids if pid}
        cpu[0] = (0, 0, 0, 0)
        # The totals come from the scoreboard's global counters, which every response
        # adds to, including those the event listener serves inline with no worker slot
        # of its own; a slot's counts start again when a new child takes it.
        count = max(count, sb.get(_ACCESSES))
        kbcount = max(kbcount, sb.get(_BYTES) >> 10)
    up_time = max(0, int(now - sb.start_time))
    now_s = time.strftime(TIME_FORMAT, time.localtime(now))
    restart_s = time.strftime(TIME_FORMAT, time.localtime(sb.start_time))
    out: list[str] = []
    w = out.append
    if not short:
        w(DOCTYPE + "<html><head>\n<title>Apache Status</title>\n</head><body>\n"
          f"<h1>Apache Server Status for {escape_html(server_name)} (via {local_ip})</h1>\n\n")
        w(f"<dl><dt>Server Version: {version}</dt>\n")
        w(f"<dt>Server MPM: {mpm_name}</dt>\n")
        w(f"<dt>Server Built: {_server_built()}\n</dt></dl><hr /><dl>\n")
        w(f"<dt>Current Time: {now_s}</dt>\n")
        w(f"<dt>Restart Time: {restart_s}</dt>\n")
        w(f"<dt>Parent Server Config. Generation: {generation + 1}</dt>\n")
        w(f"<dt>Parent Server MPM Generation: {generation}</dt>\n")
        w(f"<dt>Server uptime: {show_time(up_time)}</dt>\n")
        w("<dt>Server load: {:.2f} {:.2f} {:.2f}</dt>\n".format(*loadavg))
    else:
        w(f"{server_name}\n")
        w(f"ServerVersion: {version}\n")
        w(f"ServerMPM: {mpm_name}\n")
        w(f"Server Built: {_server_built()}\n")
        w(f"CurrentTime: {now_s}\n")
        w(f"RestartTime: {restart_s}\n")
        w(f"ParentServerConfigGeneration: {generation + 1}\n")
        w(f"ParentServerMPMGeneration: {generation}\n")
        w(f"ServerUptimeSeconds: {up_time}\n")
        w(f"ServerUptime:{show_time(up_time)}\n")
        w("Load1: {:.2f}\nLoad5: {:.2f}\nLoad15: {:.2f}\n".format(*loadavg))
    if extended:
        if short:
            w(f"Total Accesses: {count}\nTotal kBytes: {kbcount}\n"
              f"Total Duration: {duration_ms}\n")
            u, s_, cu, cs = (sum(t[k] for pid, t in cpu.items() if pid) / TICK for k in range(4))
            w(f"CPUUser: {apr_g(u)}\nCPUSystem: {apr_g(s_)}\nCPUChildrenUser: {apr_g(cu)}\n"
              f"CPUChildrenSystem: {apr_g(cs)}\n")
            if u + s_ + cu + cs and up_time > 0:
                w(f"CPULoad: {apr_g((u + s_ + cu + cs) / up_time * 100.0)}\n")
            w(f"Uptime: {up_time}\n")
            if up_time > 0:
                w(f"ReqPerSec: {apr_g(_f32(count / up_time))}\n")
                w(f"BytesPerSec: {apr_g(_f32(KBYTE * kbcount / up_time))}\n")
            if count > 0:
                w(f"BytesPerReq: {apr_g(_f32(KBYTE * kbcount / count))}\n")
                w(f"DurationPerReq: {apr_g(_f32(duration_ms / count))}\n")
        else:
            w(f"<dt>Total accesses: {count} - Total Traffic: {format_kbyte_out(kbcount)}"
              f" - Total Duration: {duration_ms}</dt>\n")
            u, s_, cu, cs = (sum(t[k] for pid, t in cpu.items() if pid) / TICK for k in range(4))
            w(f"<dt>CPU Usage: u{apr_g(u)} s{apr_g(s_)} cu{apr_g(cu)} cs{apr_g(cs)}")
            if u + s_ + cu + cs and up_time > 0:
                w(f" - {apr_g((u + s_ + cu + cs) / up_time * 100.0, 3)}% CPU load</dt>\n")
            else:
                w("</dt>\n")
            w("<dt>")
            if up_time > 0:
                w(f"{apr_g(_f32(count / up_time), 3)} requests/sec - ")
                w(format_byte_out(int(_f32(KBYTE * kbcount / up_time))) + "/second")
            if count > 0:
                if up_time > 0:
                    w(" - ")
                w(format_byte_out(int(_f32(KBYTE * kbcount / count))))
                w(f"/request - {apr_g(_f32(duration_ms / count))} ms/request")
            w("</dt>\n")
    if not short:
        w(f"<dt>{busy} requests currently being processed, {graceful} workers gracefully "
          f"restarting, {ready} idle workers</dt>\n")
        w("</dl>")
    else:
        w(f"BusyWorkers: {busy}\nGracefulWorkers: {graceful}\nIdleWorkers: {ready}\n")
    if mpm_name == "event":
        w(_process_table(sb, proctable, child_pid, tlimit, generation, short))
    if short:
        w("Scoreboard: " + "".join(letters) + "\n")
        if sections is not None:  # the modules' status_hook (mod_ssl's session cache)
            w(sections(True))
        return "text/plain; charset=ISO-8859-1", "".join(out).encode("latin-1", "replace")
    w("<pre>")
    for n, c in enumerate(letters):
        w(c)
        if n % STATUS_MAXLINE == STATUS_MAXLINE - 1:
            w("\n")
    w("</pre>\n")
    w(_KEY)
    if not extended:
        w("PID Key: <br />\n<pre>\n")
        k = 0
        for i in range(sb.server_limit):
            for j in range(tlimit):
                info = sb.slot_info(i * tlimit + j)
                st = info["status"] or "."
                if st == ".":
                    continue
                w(f"   {child_pid.get(i, info['pid'])} in state: {st} ")
                k += 1
                if k >= 3:
                    w("\n")
                    k = 0
                else:
                    w(",")
        w("\n</pre>\n")
        w("<hr />To obtain a full report with current status information you need to use "
          "the <code>ExtendedStatus On</code> directive.\n")
    else:
        w("<hr /><h2>Server Details</h2>\n\n" if notable else _TABLE_HEAD)
        for i, _j, info in infos:
            w(_worker_row(i, info, now, notable, cpu.get(info["pid"], cpu[0])))
        if not notable:
            w(_LEGEND)
    if sections is not None:
        w(sections(False))
    w(signature)
    w("</body></html>\n")
    return "text/html; charset=ISO-8859-1", "".join(out).encode("latin-1", "replace")


_PROC_HEAD = (
    '\n\n<table rules="all" cellpadding="1%">\n'
    '<tr><th rowspan="2">Slot</th><th rowspan="2">PID</th><th rowspan="2">Stopping</th>'
    '<th colspan="2">Connections</th>\n'
    '<th colspan="3">Threads</th><th colspan="4">Async connections</th></tr>\n'
    '<tr><th>total</th><th>accepting</th><th>busy</th><th>graceful</th><th>idle</th>'
    '<th>wait-io</th><th>writing</th><th>keep-alive</th><th>closing</th></tr>\n')
_COUNTS = ("connections", "wait_io", "writing", "keep_alive", "closing")


def _process_table(sb: Any, proctable: Any, child_pid: dict[int, int], tlimit: int,
                   generation: int, short: bool) -> str:
    """The event MPM's per-process table (HTML) or its ?auto keys, as mod_status prints
    them for an async MPM. Threads count only in live processes that are not stopping."""
    rows: list[str] = []
    procs = stopping = 0
    total = dict.fromkeys(("busy", "graceful", "idle") + _COUNTS, 0)
    for i in range(sb.server_limit):
        if proctable is not None:
            rec = proctable.record(i)
        else:
            rec = dict.fromkeys(_COUNTS, 0)
            rec.update(pid=child_pid.get(i, 0), generation=generation, quiescing=0,
                       not_accepting=0)
        if not rec["pid"]:
            continue
        procs += 1
        stopping += bool(rec["quiescing"])
        threads = dict.fromkeys(("busy", "graceful", "idle"), 0)
        if not rec["quiescing"]:
            for j in range(tlimit):
                st = sb.get_status(i * tlimit + j) or "."
                if st == "_":
                    threads["idle"] += 1
                elif st == "G":
                    threads["graceful"] += 1
                elif st not in (".", "S", "I"):
                    threads["busy"] += 1
        for k, v in threads.items():
            total[k] += v
        for k in _COUNTS:
            total[k] += rec[k]
        if not short:
            old = " (old gen)" if rec["generation"] != generation else ""
            cells = [str(i), str(rec["pid"]), ("yes" if rec["quiescing"] else "no") + old,
                     str(rec["connections"]), "no" if rec["not_accepting"] else "yes",
                     str(threads["busy"]), str(threads["graceful"]), str(threads["idle"]),
                     str(rec["wait_io"]), str(rec["writing"]), str(rec["keep_alive"]),
                     str(rec["closing"])]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n")
    if short:
        return (f"Processes: {procs}\nStopping: {stopping}\nConnsTotal: {total['connections']}\n"
                f"ConnsAsyncWaitIO: {total['wait_io']}\nConnsAsyncWriting: {total['writing']}\n"
                f"ConnsAsyncKeepAlive: {total['keep_alive']}\n"
                f"ConnsAsyncClosing: {total['closing']}\n")
    sums = [procs, stopping, total["connections"], "&nbsp;", total["busy"],
            total["graceful"], total["idle"], total["wait_io"], total["writing"],
            total["keep_alive"], total["closing"]]
    return (_PROC_HEAD + "".join(rows) + "<tr><td>Sum</td>"
            + "".join(f"<td>{c}</td>" for c in sums) + "</tr>\n</table>\n")


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def _cpu_ticks(pid: int) -> tuple[int, int, int, int]:
    """(utime, stime, cutime, cstime) of a process in clock ticks; zeros if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]), int(fields[12]), int(fields[13]), int(fields[14])
    except (OSError, IndexError, ValueError):
        return (0, 0, 0, 0)


def _worker_row(i: int, info: dict, now: float, notable: bool,
                times: tuple[int, int, int, int]) -> str:
    """One worker of the ExtendedStatus table; times: its process's CPU ticks."""
    st = info["status"] or "."
    start, end = info["start"], info["end"]
    req_ms = int((end - start) * 1000) if start and end >= start else 0
    last = end or start
    ss = max(0, int(now - last)) if last else int(now)
    acc = info["accesses"]
    nbytes = info["bytes"]
    gen = info["generation"]
    pid = str(info["pid"]) if st != "." else "-"
    client = escape_html(info["client"])
    vhost = escape_html(info["vhost"])
    request = escape_html(_escape_logitem(info["request"]))
    if notable:
        head = (f"<b>Server {i}-{gen}</b> ({pid}): 0|{acc}|{acc} ["
                if st != "." else f"<b>Server {i}-{gen}</b> (-): 0|{acc}|{acc} [")
        tu, ts, tcu, tcs = (apr_g(t / TICK) for t in times)
        return (head + _MODE_TEXT.get(st, "?STATE?") + f"] u{tu} s{ts} cu{tcu} cs{tcs}\n"
                f" {ss} {req_ms} {_slot_duration_ms(info)}(" + format_byte_out(0) + "|"
                + format_byte_out(nbytes) + "|" + format_byte_out(nbytes) + ")\n"
                f" <i>{client} {{{request}}}</i> <i>(http/1.1)</i> <b>[{vhost}]</b><br />\n\n")
    return (f"<tr><td><b>{i}-{gen}</b></td><td>{pid}</td><td>0/{acc}/{acc}"
            f"</td><td>{_MODE_HTML.get(st, '?')}\n</td><td>{sum(times) / TICK:.2f}</td><td>{ss}</td>"
            f"<td>{req_ms}</td><td>{_slot_duration_ms(info)}"
            f"</td><td>{0.0:.1f}</td><td>{nbytes / MBYTE:.2f}</td><td>{nbytes / MBYTE:.2f}\n"
            f"</td><td>{client}</td><td>http/1.1</td><td nowrap>{vhost}</td>"
            f"<td nowrap>{request}</td></tr>\n\n")


def _slot_duration_ms(info: dict) -> int:
    """Milliseconds spent on this slot's requests: the scoreboard's accumulated
    `duration` (seconds) when it records one, else the last request's time."""
    if "duration" in info:
        return int(info["duration"] * 1000)
    start, end = info["start"], info["end"]
    return int((end - start) * 1000) if start and end >= start else 0


def _escape_logitem(s: str) -> str:
    """ap_escape_logitem: backslash-escape quotes, backslashes and control bytes."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o >= 0x7F:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    return "".join(out)
