"""AllowOverride answers under real MPMs with several children (issue 12): each child keeps
its own cache and its own inotify queue, so a .htaccess created, rewritten (same size,
mtime put back) or removed must take effect on the next request in every child that had
cached the answer, with no restart.  Apache, on the same httpd.conf, gives the expected
answer of each step; the access log's %P tells which child served each request.
"""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from support.servers import ApacheServer, FastcoreServer, Server
from support.wire import parse_responses

OLD = 1_600_000_000
SIZING = {
    "prefork": "StartServers 3\nMinSpareServers 3\nMaxSpareServers 6\nMaxRequestWorkers 10\n",
    "worker": "StartServers 3\nThreadsPerChild 4\nMinSpareThreads 4\nMaxSpareThreads 24\n"
              "MaxRequestWorkers 12\n",
    "event": "StartServers 3\nThreadsPerChild 4\nMinSpareThreads 4\nMaxSpareThreads 24\n"
             "MaxRequestWorkers 12\n",
}
CONNS = 12


def extra(tmp: str, mpm: str, doc: str) -> str:
    return (SIZING[mpm] + 'LogFormat "%P %>s %U" pids\n'
            f'CustomLog "{tmp}/pid_log" pids\n'
            "<Directory />\n  AllowOverride None\n  Require all granted\n</Directory>\n"
            f'<Directory "{doc}">\n  AllowOverride FileInfo\n</Directory>\n')


def one(port: int, times: int = 2) -> list[str | None]:
    """The Content-Types of `times` keep-alive GETs of /sub/a.html."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for i in range(times):
            s.sendall(b"GET /sub/a.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            while len(parse_responses(got)) <= i or len(parse_responses(got)[i][2]) < 2:
                chunk = s.recv(65536)
                assert chunk, got
                got += chunk
    return [h.get("content-type") for _s, h, _b in parse_responses(got)]


def burst(port: int) -> list[str | None]:
    """CONNS connections at once, two requests each: every Content-Type answered."""
    out: list[list[str | None]] = []
    gate = threading.Barrier(CONNS)

    def run() -> None:
        gate.wait(10)
        out.append(one(port))

    threads = [threading.Thread(target=run) for _ in range(CONNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(out) == CONNS
    return [c for answers in out for c in answers]


def pids_since(srv: Server, start: int) -> tuple[int, set[str]]:
    """(lines now, the child pids that logged a line after `start` lines)."""
    path = os.path.join(srv.tmp, "pid_log")
    deadline = time.monotonic() + 5
    lines: list[str] = []
    while time.monotonic() < deadline:
        with open(path) as f:
            lines = f.read().splitlines()
        if len(lines) >= start + 2 * CONNS:
            break
        time.sleep(0.05)
    return len(lines), {ln.split()[0] for ln in lines[start:]}


@pytest.mark.parametrize("mpm,pure", [("prefork", False), ("worker", False), ("event", False),
                                      ("event", True)])
def test_every_child_sees_the_htaccess_change(tmp_path, mpm: str, pure: bool) -> None:
    doc = tmp_path / "htdocs"
    (doc / "sub").mkdir(parents=True)
    target = doc / "sub" / "a.html"
    target.write_text("a\n")
    os.utime(target, (OLD, OLD))
    ht = doc / ".htaccess"
    (tmp_path / "fc").mkdir()
    (tmp_path / "ap").mkdir()
    fc = FastcoreServer(str(tmp_path / "fc"), mpm, extra(str(tmp_path / "fc"), mpm, str(doc)),
                        docroot=str(doc), pure=pure)
    ap = ApacheServer(str(tmp_path / "ap"), mpm, extra(str(tmp_path / "ap"), mpm, str(doc)),
                      docroot=str(doc))
    fc.start()
    ap.start()
    try:
        fc.wait_children(3)
        assert one(ap.port) == ["text/html"] * 2
        seen, warm = 0, set()
        for _ in range(5):  # until several children hold the cached answer
            assert burst(fc.port) == ["text/html"] * (2 * CONNS)
            seen, served = pids_since(fc, seen)
            warm |= served
            if len(warm) >= 2:
                break
        assert len(warm) >= 2, warm

        def step(change, want: str) -> None:
            """Change, then bursts until two of the warm children have answered: every
            answer of every burst is the new one."""
            nonlocal seen
            change()
            assert one(ap.port) == [want] * 2
            after: set[str] = set()
            for _ in range(5):
                assert burst(fc.port) == [want] * (2 * CONNS)
                seen, served = pids_since(fc, seen)
                after |= served
                if len(after & warm) >= 2:
                    break
            assert len(after & warm) >= 2, (after, warm)

        step(lambda: ht.write_text("AddType text/x-one .html\n"), "text/x-one")
        st = ht.stat()

        def rewrite() -> None:  # same inode and size, the mtime put back
            with open(ht, "r+") as f:
                f.write("AddType text/x-two .html\n")
            os.utime(ht, ns=(st.st_atime_ns, st.st_mtime_ns))

        step(rewrite, "text/x-two")
        step(ht.unlink, "text/html")
    finally:
        fc.stop()
        ap.stop()
