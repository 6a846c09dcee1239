"""mod_authz_host's providers in behaviour: `Require ip` in its full, partial, CIDR,
netmask and IPv6 forms, `Require not ip` inside <RequireAll>, `Require local`, and
`Require host` with the resolver stubbed (socket.gethostbyaddr/getaddrinfo, as
tests/core/test_dns.py does): the double-reverse lookup must confirm the name.  Served
in-process from chosen client addresses, by the Python path and the C engine (whose
cache hits evaluate `Require ip` per request: src/fc_ipmatch.h), each path asked twice
on one connection.  Against real Apache from 127.0.0.1: test_mod_authz_host_vs_apache.py."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from support.configs import cfg
from support.inprocess import engine_exchange
from support.wire import parse_responses

from fastcore.config import ConfigError, load
from fastcore.core.server import HttpServer

MODS = "/usr/lib/apache2/modules"
DIRS = {
    "full": "Require ip 10.1.2.3",
    "partial": "Require ip 10.1",
    "cidr": "Require ip 192.168.0.0/16 172.16.0.0/12",
    "netmask": "Require ip 10.1.0.0/255.255.0.0",
    "v6": "Require ip 2001:db8::/32",
    "notip": "<RequireAll>\n Require all granted\n Require not ip 10.1.2.0/24\n</RequireAll>",
    "local": "Require local",
    "host": "Require host .trusted.example",
    "hostexact": "Require host good.trusted.example",
}
# client address -> the directories that grant it
GRANTED = {
    "10.1.2.3": {"full", "partial", "netmask"},
    "10.1.200.9": {"partial", "netmask", "notip"},
    "10.2.0.1": {"notip"},
    "192.168.44.1": {"cidr", "notip", "host", "hostexact"},
    "172.31.255.255": {"cidr", "notip", "host"},
    "172.32.0.1": {"notip"},
    "127.0.0.1": {"notip", "local"},
    "2001:db8::5": {"v6", "notip"},
    "2001:db9::5": {"notip"},
    "::1": {"notip", "local"},
}
PTR = {"192.168.44.1": "Good.Trusted.Example", "172.31.255.255": "other.trusted.example",
       "10.2.0.1": "liar.trusted.example", "172.32.0.1": "eviltrusted.example"}
FWD = {"good.trusted.example": ["192.168.44.1"], "other.trusted.example": ["172.31.255.255"],
       "liar.trusted.example": ["198.51.100.9"], "eviltrusted.example": ["172.32.0.1"]}


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The resolver's answers from PTR/FWD; the addresses it was asked about."""
    asked: list[str] = []

    def gethostbyaddr(ip: str) -> tuple[str, list[str], list[str]]:
        asked.append(ip)
        if ip not in PTR:
            raise socket.herror(1, "Unknown host")
        return PTR[ip], [], [ip]

    def getaddrinfo(name: str, port: object, *a: object, **k: object) -> list[tuple]:
        if name.lower() not in FWD:
            raise socket.gaierror(-2, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0)) for ip in FWD[name.lower()]]

    monkeypatch.setattr(socket, "gethostbyaddr", gethostbyaddr)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def _server(tmp: Path) -> HttpServer:
    www = tmp / "www"
    parts = []
    for name, rule in DIRS.items():
        (www / name).mkdir(parents=True)
        (www / name / "f.txt").write_text(f"{name}\n")
        os.utime(www / name / "f.txt", (1_600_000_000, 1_600_000_000))
        parts.append(f'<Directory "{www}/{name}">\n{rule}\n</Directory>')
    conf = tmp / "httpd.conf"
    conf.write_text(f"LoadModule mpm_prefork_module {MODS}/mod_mpm_prefork.so\n"
                    f"LoadModule authz_core_module {MODS}/mod_authz_core.so\n"
                    f"LoadModule authz_host_module {MODS}/mod_authz_host.so\n"
                    f"LoadModule mime_module {MODS}/mod_mime.so\n"
                    f"ServerRoot {tmp}\nErrorLog {tmp}/error_log\nTypesConfig /etc/mime.types\n"
                    f'Listen 127.0.0.1:18080\nServerName localhost\nDocumentRoot "{www}"\n'
                    '<Directory />\n Require all granted\n</Directory>\n' + "\n".join(parts))
    srv = HttpServer(load(str(conf)), None)
    srv.child_init()
    return srv


@pytest.mark.parametrize("engine", [True, False], ids=["engine", "python"])
def test_each_client_gets_the_directories_its_address_grants(
        tmp_path: Path, engine: bool, fake_dns: list[str]) -> None:
    srv = _server(tmp_path)
    reqs = [f"GET /{d}/f.txt HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
            for d in DIRS for _ in range(2)]
    try:
        for ip, granted in GRANTED.items():
            peer = (ip, 40000, 0, 0) if ":" in ip else (ip, 40000)
            got = [parse_responses(r)[0] for r in engine_exchange(srv, engine, reqs, peer)]
            want = [200 if d in granted else 403 for d in DIRS for _ in range(2)]
            assert [g[0] for g in got] == want, ip
            assert all(g[2] == f"{d}\n".encode() for g, d in
                       zip(got, [d for d in DIRS for _ in range(2)], strict=True) if g[0] == 200)
    finally:
        srv.close()
    # only the `Require host` directories asked the resolver, and only for their clients
    assert set(fake_dns) <= set(GRANTED) and "192.168.44.1" in fake_dns


def test_denials_are_logged_as_apache(tmp_path: Path, fake_dns: list[str]) -> None:
    srv = _server(tmp_path)
    try:
        engine_exchange(srv, False, [b"GET /full/f.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"],
                        ("10.9.9.9", 40000))
    finally:
        srv.close()
    log = (tmp_path / "error_log").read_text()
    assert ("[authz_core:error] [pid " in log and "[client 10.9.9.9:40000] AH01630: client "
            f"denied by server configuration: {tmp_path}/www/full/f.txt" in log)


@pytest.mark.parametrize("line,message", [
    ("Require ip", "'require ip' requires an argument"),
    ("Require ip 300.1.1.1", "ip address '300.1.1.1' appears to be invalid: The specified "
                             "IP address is invalid."),
    ("Require ip 10.0.0.0/33", "ip address '10.0.0.0/33' appears to be invalid: The "
                               "specified network mask is invalid."),
    ("Require ip 10.0.0.0/0", "ip address '10.0.0.0/0' appears to be invalid: The "
                              "specified network mask is invalid."),
    ("Require ip ::1/255.0.0.0", "ip address '::1/255.0.0.0' appears to be invalid: The "
                                 "specified network mask is invalid."),
    ("Require ip 10.1/16", "ip address '10.1/16' appears to be invalid: The specified IP "
                           "address is invalid."),
    ("Require ip example.com", "ip address 'example.com' appears to be invalid"),
])
def test_bad_ip_arguments_are_refused(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        cfg(tmp_path, f"<Directory />\n{line}\n</Directory>\n")
    assert str(err.value).splitlines()[-1] == message


def test_without_the_module_ip_is_an_unknown_provider(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"ServerRoot {tmp_path}\nErrorLog {tmp_path}/e\n"
                    f"LoadModule mpm_event_module {MODS}/mod_mpm_event.so\n"
                    f"LoadModule authz_core_module {MODS}/mod_authz_core.so\n"
                    "Listen 127.0.0.1:18080\nServerName x\n"
                    "<Directory />\nRequire ip 10.0.0.1\n</Directory>\n")
    with pytest.raises(ConfigError, match="Unknown Authz provider: ip"):
        load(str(conf))
