"""`Require ip` (mod_authz_host) against real Apache 2.4, each path asked several times on
one keep-alive connection from 127.0.0.1, so that fastcore's repeats are cache hits that
evaluate the rule per request (issue 12: in C, src/fc_ipmatch.h): granted full
addresses, partial ("127.0"), CIDR and netmask forms, IPv6 that cannot match an IPv4
client, `Require not ip` in <RequireAll>, <RequireNone>; the statuses, the 200 bodies and
the AH01630 error-log lines must match."""
from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from support.apache_oracle import ApacheOracle

MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias")
DIRS = {
    "full": "Require ip 127.0.0.1",
    "partial": "Require ip 127.0",
    "cidr": "Require ip 10.0.0.0/8 127.0.0.0/8",
    "netmask": "Require ip 127.0.0.0/255.0.0.0",
    "denied": "Require ip 10.0.0.0/8 192.168.1",
    "v6only": "Require ip ::1 2001:db8::/32",
    "notip": "<RequireAll>\n Require all granted\n Require not ip 127.0.0.1\n</RequireAll>",
    "notother": "<RequireAll>\n Require all granted\n Require not ip 10.1\n</RequireAll>",
    "none": "<RequireAll>\n Require all granted\n <RequireNone>\n  Require ip 10.0.0.0/8\n"
            " </RequireNone>\n</RequireAll>",
    "nonelocal": "<RequireAll>\n Require all granted\n <RequireNone>\n  Require ip 127.0\n"
                 " </RequireNone>\n</RequireAll>",
}


COMPAT = {  # mod_access_compat's Order/Allow/Deny of addresses (Satisfy All)
    "allow-local": "Order deny,allow\nDeny from all\nAllow from 127.0.0.1",
    "deny-local": "Order allow,deny\nAllow from all\nDeny from 127.0",
    "deny-other": "Order allow,deny\nAllow from all\nDeny from 10.0.0.0/8",
    "allow-other": "Order deny,allow\nDeny from all\nAllow from 192.168.0.0/255.255.0.0",
    "mutual": "Order mutual-failure\nAllow from 127.0.0.0/8\nDeny from 127.0.0.2",
    "plus-require": "Order deny,allow\nDeny from all\nAllow from 127.0.0.1\n"
                    "Require ip 127.0.0.1",
}


def _site(www: Path, dirs: dict[str, str]) -> str:
    parts = [f'DocumentRoot "{www}"', "KeepAliveTimeout 10",
             "<Directory />\n Require all granted\n</Directory>"]
    for name, rule in dirs.items():
        (www / name).mkdir(parents=True)
        (www / name / "f.html").write_text(f"{name}\n")
        parts.append(f'<Directory "{www}/{name}">\n{rule}\n</Directory>')
    return "\n".join(parts) + "\n"


def _ask(s: socket.socket, path: str) -> tuple[int, bytes]:
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"\r\nContent-Length: (\d+)", head, re.I)
            if m and len(body) >= int(m.group(1)):
                return int(head.split(b" ", 2)[1]), body[:int(m.group(1))]
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk


def _run(tmp: Path, fastcore: bool, dirs: dict[str, str] = DIRS,
         modules: tuple[str, ...] = MODULES) -> tuple[list[tuple[int, bytes]], list[str]]:
    root = tmp / ("fc" if fastcore else "ap")
    www = root / "www"
    www.mkdir(parents=True)
    out = []
    with ApacheOracle(str(root), _site(www, dirs), modules=modules, fastcore=fastcore) as ap:
        with socket.create_connection(("127.0.0.1", ap.port), timeout=10) as s:
            for _ in range(3):
                for name in dirs:
                    st, body = _ask(s, f"/{name}/f.html")
                    out.append((st, body if st == 200 else b""))
        time.sleep(0.3)
    log = (root / "error_log").read_text()
    lines = [m.group(0).replace(str(www), "WWW")
             for m in re.finditer(r"AH0(1630|1797): [^\n]*", log)]
    return out, lines


def test_require_ip_answers_and_denials_as_apache(tmp_path: Path) -> None:
    apache = _run(tmp_path, False)
    fastcore = _run(tmp_path, True)
    assert fastcore == apache
    statuses = dict(zip(DIRS, [st for st, _ in apache[0][:len(DIRS)]], strict=True))
    assert statuses == {"full": 200, "partial": 200, "cidr": 200, "netmask": 200,
                        "denied": 403, "v6only": 403, "notip": 403, "notother": 200,
                        "none": 200, "nonelocal": 403}


def test_allow_deny_from_addresses_as_apache(tmp_path: Path) -> None:
    """mod_access_compat's address rules, repeated on one connection (fastcore's repeats
    are hits that evaluate them per request)."""
    apache = _run(tmp_path, False, COMPAT, (*MODULES, "access_compat"))
    fastcore = _run(tmp_path, True, COMPAT, (*MODULES, "access_compat"))
    assert fastcore == apache
    statuses = dict(zip(COMPAT, [st for st, _ in apache[0][:len(COMPAT)]], strict=True))
    assert statuses == {"allow-local": 200, "deny-local": 403, "deny-other": 200,
                        "allow-other": 403, "mutual": 200, "plus-require": 200}
