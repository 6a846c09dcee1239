"""mod_log_config against real Apache 2.4: the same LogFormat/CustomLog lines (the
common specifiers %h %l %u %t %r %>s %b %B %{Referer}i %{User-Agent}i %U %q %H %m %v %p
%D %X %k %{c}a, a nickname no LogFormat defines ("common": httpd predefines none, so it is
a format of that literal text), CustomLog env=VAR and env=!VAR with mod_setenvif setting
VAR) served by apache2 and by fastcore; every access-log line must match once the time
(%t) and the duration (%D) are masked (%p is the canonical port, 80 for both).  Requests
go on keep-alive connections, several each, so %k and %X move (a closing answer logs the
%k of the one before it), and each path is asked again so that the repeats, cache hits
in fastcore, are logged too."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
from support.apache_oracle import APACHE, MODDIR, ApacheOracle
from support.wire import parse_responses

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias", "setenvif")
FMT = ('%h %l %u %t "%r" %>s %b %B "%{Referer}i" "%{User-Agent}i" U=%U q=%q H=%H m=%m '
       'v=%v p=%p D=%D X=%X k=%k a=%{c}a')
SITE = """
DocumentRoot "{www}"
KeepAliveTimeout 10
<Directory "{www}">
  Require all granted
</Directory>
<Directory "{www}/deny">
  Require all denied
</Directory>
SetEnvIf Request_URI "\\.txt$" is_txt
LogFormat '{fmt}' full
LogFormat "%>s %U" short
CustomLog "{run}/full_log" full
CustomLog "{run}/common_log" common
CustomLog "{run}/txt_log" short env=is_txt
CustomLog "{run}/other_log" short env=!is_txt
CustomLog "{run}/inline_log" "%m %U%q %>s"
"""
LOGS = ("full_log", "common_log", "txt_log", "other_log", "inline_log")
# (request lines of one connection, the last one closes it)
CONNECTIONS = [
    ["GET /a.txt?x=1&y=%20 HTTP/1.1\r\nHost: localhost\r\nReferer: http://ref.example/p\r\n"
     "User-Agent: test \"agent\"\r\n",
     "HEAD /sub/ HTTP/1.1\r\nHost: localhost\r\n",
     "GET /missing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"],
    ["GET /a.txt HTTP/1.0\r\n"],
    ["GET /sub HTTP/1.1\r\nHost: other.example\r\n",
     "GET /deny/d.txt HTTP/1.1\r\nHost: localhost\r\n",
     "GET /sub/b.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: tab\there\r\n",
     "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"],
]
MASKS = (
    (re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]"), "[T]"),
    (re.compile(r"D=\d+"), "D=*"),
)


def _site(root: Path) -> str:
    www = root / "www"
    for rel in ("a.txt", "sub/index.html", "sub/b.html", "deny/d.txt"):
        (www / rel).parent.mkdir(parents=True, exist_ok=True)
        (www / rel).write_text(rel + "\n")
        os.utime(www / rel, (1_600_000_000, 1_600_000_000))
    return str(www)


def _talk(port: int, requests: list[str]) -> list[int]:
    """The requests one after the other on one connection; their statuses."""
    statuses = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for req in requests:
            s.sendall((req + "\r\n").encode())
            data = b""
            head_only = req.startswith("HEAD")
            while True:
                chunk = s.recv(65536)
                data += chunk
                got = parse_responses(data, head_request=head_only) if b"\r\n\r\n" in data \
                    else []
                head, _, body = data.partition(b"\r\n\r\n")
                m = re.search(rb"\r\ncontent-length: (\d+)", head, re.I)
                need = 0 if head_only or m is None else int(m.group(1))
                if (got and len(body) >= need) or not chunk:
                    break
            statuses.append(got[0][0])
    return statuses


def _run(tmp: Path, www: str, fastcore: bool) -> tuple[list[int], dict[str, list[str]]]:
    run = tmp / ("fastcore" if fastcore else "apache")
    run.mkdir()
    site = (SITE.replace("{www}", www).replace("{run}", str(run))
            .replace("{fmt}", FMT.replace("'", "\\'")))
    statuses: list[int] = []
    with ApacheOracle(str(run), site, modules=MODULES, fastcore=fastcore) as ap:
        for _ in range(2):  # again: the repeats are cache hits in fastcore
            for conn in CONNECTIONS:
                statuses += _talk(ap.port, conn)
        time.sleep(0.3)  # the last lines reach the files before the server stops
    logs = {}
    for name in LOGS:
        path = run / name
        lines = path.read_text().splitlines() if path.exists() else []
        for rx, repl in MASKS:
            lines = [rx.sub(repl, ln) for ln in lines]
        logs[name] = lines
    return statuses, logs


def test_access_log_lines_match_apache(tmp_path: Path) -> None:
    www = _site(tmp_path)
    a_status, a_logs = _run(tmp_path, www, fastcore=False)
    f_status, f_logs = _run(tmp_path, www, fastcore=True)
    assert f_status == a_status
    assert f_logs == a_logs
    # the comparison is not vacuous: each specifier shows in Apache's own lines
    full = a_logs["full_log"]
    assert len(full) == 2 * sum(len(c) for c in CONNECTIONS)
    assert full[0] == ('127.0.0.1 - - [T] "GET /a.txt?x=1&y=%20 HTTP/1.1" 200 6 6 '
                       '"http://ref.example/p" "test \\"agent\\"" U=/a.txt q=?x=1&y=%20 '
                       "H=HTTP/1.1 m=GET v=localhost p=80 D=* X=+ k=0 a=127.0.0.1")
    assert ' 200 - 0 "-" "-" U=/sub/index.html q= H=HTTP/1.1 m=HEAD ' in full[1]
    assert "X=- k=1" in full[2] and " 404 " in full[2]  # closing: the previous answer's k
    assert "X=- k=0" in full[3]  # HTTP/1.0 without keep-alive
    assert a_logs["common_log"] == ["common"] * len(full)
    assert '"tab\\there"' in full[6]
    assert all(ln.endswith(".txt") for ln in a_logs["txt_log"])
    assert a_logs["other_log"] and not any(ln.endswith(".txt") for ln in a_logs["other_log"])
    assert a_logs["inline_log"][0] == "GET /a.txt?x=1&y=%20 200"


def _conf(tmp: Path, line: str) -> str:
    path = tmp / "httpd.conf"
    path.write_text(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                    f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nListen 127.0.0.1:1\n'
                    f"ServerName localhost\n{line}\n")
    return str(path)


@pytest.mark.parametrize("line", [
    "CustomLog", "CustomLog a b c d", "LogFormat", "LogFormat a b c",
    "CustomLog logs/x common bogus=1", "<Directory />\nCustomLog logs/x common\n</Directory>",
])
def test_refused_with_apaches_message(tmp_path: Path, line: str) -> None:
    path = _conf(tmp_path, line)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()
