"""LogLevel per module (`LogLevel info authz_core:debug`) and per directory: the request
lines of the error log are Apache's, with the same module tags, levels and messages.

The same requests go to Apache 2.4 and to fastcore (C engine and pure twins) with the same
httpd.conf; the lines that carry a [client ...] field are compared after masking the
clock, the pid/tid and the client port.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile

import pytest
from support.apache_oracle import MODDIR
from support.servers import ApacheServer, FastcoreServer, Server

DIRS = {
    # folder: lines of its <Directory>
    "deny": "Require all denied",
    "dbg": "LogLevel authz_core:debug\nRequire ip 10.1.1.1",
    "dbgok": "LogLevel authz_core:debug\n<RequireAll>\nRequire all granted\n"
             "Require not ip 10.1.1.1\n</RequireAll>",
    "dbgnone": "LogLevel authz_core:debug",
    "info": "LogLevel info",
    "quiet": "LogLevel crit\nRequire all denied",
    "reset": "LogLevel authz_core:debug error\nRequire all denied",
    "broken": "AllowOverride All",  # its .htaccess has an unknown directive: 500
}
PATHS = ["/deny/a.html", "/dbg/a.html", "/dbgok/a.html", "/dbgnone/a.html",
         "/info/missing.html", "/quiet/a.html", "/reset/a.html", "/missing.html",
         "/dbg/missing.html", "/info/", "/dbgnone/", "/broken/a.html"]
# (server LogLevel, extra modules): a directory without an index is mod_autoindex's 403
# (AH01276, error) when it is loaded, else core's 404 (AH00129, info)
SERVER_LEVELS = [("warn", ()), ("info authz_core:debug", ()),
                 ("debug authz_core:warn", ("autoindex",)), ("info", ("autoindex",))]


def site(docroot: str, server_level: str, modules: tuple[str, ...] = ()) -> str:
    lines = [f"LoadModule {m}_module {MODDIR}/mod_{m}.so" for m in ("authz_host", *modules)]
    lines.append(f"LogLevel {server_level}")
    for name, conf in DIRS.items():
        folder = os.path.join(docroot, name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "a.html"), "w") as fh:
            fh.write("a\n")
        if name == "broken":
            with open(os.path.join(folder, ".htaccess"), "w") as fh:
                fh.write("Bogus on\n")
        lines += [f'<Directory "{folder}">', conf, "</Directory>"]
    return "\n".join(lines) + "\n"


# requests core complains about at error level (method, path)
ODD = [("BREW", "/dbgnone/a.html"), ("GET", "/%zz"), ("GET", "/../../etc/passwd"),
       ("GET", "/a%2")]


def request_lines(srv: Server) -> list[str]:
    srv.start()
    try:
        for method, path in [("GET", p) for p in PATHS] + ODD:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
                s.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
                          "Connection: close\r\n\r\n".encode())
                while s.recv(65536):
                    pass
    finally:
        srv.stop()
    out = []
    for line in srv.error_log().splitlines():
        if "[client " not in line:
            continue
        line = re.sub(r"^\[[^\]]+\] ", "", line)
        line = re.sub(r"\[pid \d+(:tid \d+)?\]", "[pid]", line)
        out.append(re.sub(r"\[client 127\.0\.0\.1:\d+\]", "[client]", line))
    return out


@pytest.mark.parametrize("server_level,modules", SERVER_LEVELS)
def test_request_error_lines_match_apache(server_level: str, modules: tuple[str, ...],
                                          process_mode: str) -> None:
    tmp = tempfile.mkdtemp(prefix="fc-loglevel-")
    try:
        docroot = os.path.join(tmp, "htdocs")
        extra = site(docroot, server_level, modules)
        os.makedirs(os.path.join(tmp, "a"))
        os.makedirs(os.path.join(tmp, "f"))
        apache = request_lines(ApacheServer(os.path.join(tmp, "a"), "prefork", extra,
                                            docroot=docroot))
        fc = FastcoreServer(os.path.join(tmp, "f"), "prefork", extra, docroot=docroot,
                            pure=process_mode == "pure")
        assert request_lines(fc) == apache
        assert any("AH01630" in line for line in apache)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _client_lines(path: str) -> list[str]:
    try:
        with open(path, errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    return [re.sub(r"\[client 127\.0\.0\.1:\d+\]", "[client]",
                   re.sub(r"^\[[^\]]+\] \[([^\]]+)\] \[pid [^\]]+\]", r"[\1] [pid]", ln))
            for ln in text.splitlines() if "[client " in ln]


def test_virtualhost_error_log_and_level_match_apache() -> None:
    """A <VirtualHost>'s ErrorLog receives its requests' lines, with its own LogLevel."""
    tmp = tempfile.mkdtemp(prefix="fc-vhlog-")
    try:
        docroot = os.path.join(tmp, "htdocs")
        results = []
        for kind, cls in (("a", ApacheServer), ("f", FastcoreServer)):
            run = os.path.join(tmp, kind)
            os.makedirs(run)
            srv = cls(run, "prefork", docroot=docroot)
            srv.extra = site(docroot, "warn") + (
                f"<VirtualHost 127.0.0.1:{srv.port}>\nServerName main.test\n</VirtualHost>\n"
                f"<VirtualHost 127.0.0.1:{srv.port}>\nServerName other.test\n"
                f'ErrorLog "{run}/other_error_log"\nLogLevel info\n</VirtualHost>\n')
            srv.start()
            try:
                for host in ("main.test", "other.test"):
                    for path in ("/deny/a.html", "/missing.html"):
                        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
                            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                                      "Connection: close\r\n\r\n".encode())
                            while s.recv(65536):
                                pass
            finally:
                srv.stop()
            results.append((_client_lines(os.path.join(run, "error_log")),
                            _client_lines(os.path.join(run, "other_error_log"))))
        apache, fastcore = results
        assert fastcore == apache
        assert len(apache[0]) == 1 and "deny/a.html" in apache[0][0]
        assert any("AH00128" in line for line in apache[1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
