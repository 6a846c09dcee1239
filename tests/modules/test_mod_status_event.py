"""/server-status under the event MPM: the per-process table and the ?auto keys come from
what each child's listener publishes (its connections, and those idle in keep-alive),
so an administrator sees kept-alive clients as httpd's mod_status shows them. The
layout itself is compared with real Apache in test_status_vs_apache.py.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

from harness import servers, workloads
from support.apache_oracle import MODDIR
from support.ports import free_port, wait_port
from support.servers import ROOT, FastcoreServer
from support.wire import get

EXTRA = f"""LoadModule status_module {MODDIR}/mod_status.so
StartServers 2
ServerLimit 2
ThreadsPerChild 4
MaxRequestWorkers 8
MinSpareThreads 1
MaxSpareThreads 8
KeepAlive On
KeepAliveTimeout 30
ExtendedStatus On
<Directory />
    Options FollowSymLinks
    AllowOverride None
</Directory>
<Location /server-status>
    SetHandler server-status
</Location>
"""


STATUS = f"""LoadModule status_module {MODDIR}/mod_status.so
ExtendedStatus On
<Location /server-status>
    SetHandler server-status
    Require all granted
</Location>
"""


def auto(port: int) -> dict[str, str]:
    code, body = get(port, "/server-status?auto")
    assert code == 200
    return dict(line.split(": ", 1) for line in body.decode().splitlines() if ": " in line)


def keep_alive_request(port: int) -> socket.socket:
    """A connection that made one request and stays open, idle, waiting for the next."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < length:
        body += s.recv(4096)
    return s


def wait_for(port: int, check, timeout: float = 6.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        values = auto(port)
        if check(values) or time.monotonic() > deadline:
            return values
        time.sleep(0.2)


def test_event_status_shows_processes_and_kept_alive_connections(tmp_path) -> None:
    srv = FastcoreServer(str(tmp_path), "event", EXTRA)
    # an old file: cached, so its connections idle in the C loop (a file under a second
    # old takes the Python path, whose parked connections are counted too)
    os.utime(os.path.join(srv.docroot, "index.html"), (1e9, 1e9))
    srv.start()
    socks: list[socket.socket] = []
    try:
        children = srv.wait_children(2)
        socks = [keep_alive_request(srv.port) for _ in range(5)]
        v = wait_for(srv.port, lambda v: int(v["ConnsAsyncKeepAlive"]) >= 5)
        assert v["Processes"] == "2" and v["Stopping"] == "0", v
        assert int(v["ConnsAsyncKeepAlive"]) == 5, v
        assert int(v["ConnsTotal"]) >= 5, v
        assert v["ConnsAsyncWriting"] == "0" and v["ConnsAsyncWaitIO"] == "0", v

        code, page = get(srv.port, "/server-status")
        html = page.decode()
        assert code == 200
        rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>(no|yes)</td>"
                          r"<td>(\d+)</td><td>(yes|no)</td>", html)
        assert sorted(int(pid) for _, pid, *_ in rows) == sorted(children), html
        assert all(stop == "no" and acc == "yes" for _, _, stop, _, acc in rows), rows
        assert re.search(r"<tr><td>Sum</td><td>2</td><td>0</td>", html), html

        for s in socks:
            s.close()
        socks = []
        v = wait_for(srv.port, lambda v: v["ConnsAsyncKeepAlive"] == "0")
        assert v["ConnsAsyncKeepAlive"] == "0", v
    finally:
        for s in socks:
            s.close()
        srv.stop()


def test_event_status_totals_count_requests_served_by_the_listener(tmp_path) -> None:
    """Total Accesses/kBytes include the cache hits the event listener answers itself
    (it has no worker slot): on the load harness's httpd.conf, 300 keep-alive requests
    from ab add 300 (they used to add next to nothing)."""
    docroot = tmp_path / "htdocs"
    docroot.mkdir()
    (docroot / "index.html").write_text("hello from the docroot\n")
    os.utime(docroot / "index.html", (1e9, 1e9))  # a file under a second old is not cached
    port = free_port()
    conf = tmp_path / "httpd.conf"
    conf.write_text(servers.apache_syntax_config(str(tmp_path), str(docroot), port, "event",
                                                 True) + STATUS)
    proc = subprocess.Popen([sys.executable, "-m", "fastcore", "-f", str(conf), "-DFOREGROUND"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        before = int(auto(port)["Total Accesses"])
        done, failed = workloads.run_ab(port, "index.html", 300, 4, True)
        assert (done, failed) == (300, 0)
        after = auto(port)
        assert int(after["Total Accesses"]) >= before + 300, after
        # the parent's and children's CPU times, as httpd reports them (APR's %g)
        assert float(after["CPUUser"]) + float(after["CPUSystem"]) > 0, after
    finally:
        proc.terminate()
        proc.wait(timeout=15)
