"""HAProxy in front of fastcore: the real client address reaches the access log and the
`Require ip` decisions, through the PROXY protocol v2 (`send-proxy-v2`, with HAProxy's
health checks sending the LOCAL command) on one backend and X-Forwarded-For (`option
forwardfor`, RemoteIPHeader + RemoteIPInternalProxy) on the other.

The clients connect from 127.0.0.2 and 127.0.0.3 (a source bind); HAProxy reaches
fastcore from 127.0.0.1.  Each MPM runs the same scenario; every path is asked twice on
one kept connection, so a second answer the caches could serve is checked too.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from support.apache_oracle import MODDIR
from support.ports import free_port, wait_port
from support.wire import parse_responses

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAPROXY = "/usr/sbin/haproxy"
LOG_FORMAT = "%a %h %{c}a %>s %U"


def fastcore_conf(base, docroot, proxy_port: int, xff_port: int, mpm: str) -> str:
    site = f"""
<Directory "{docroot}">
  Require all granted
</Directory>
<Directory "{docroot}/only2">
  Require ip 127.0.0.2
</Directory>
<Directory "{docroot}/not2">
  <RequireAll>
    Require all granted
    Require not ip 127.0.0.2
  </RequireAll>
</Directory>
"""
    return "\n".join([
        f"LoadModule {mpm}_module {MODDIR}/mod_{mpm}.so",
        f"LoadModule authz_core_module {MODDIR}/mod_authz_core.so",
        f"LoadModule authz_host_module {MODDIR}/mod_authz_host.so",
        f"LoadModule remoteip_module {MODDIR}/mod_remoteip.so",
        f'ServerRoot "{base}"', f'PidFile "{base}/httpd.pid"', f'ErrorLog "{base}/error_log"',
        f"Listen 127.0.0.1:{proxy_port}", f"Listen 127.0.0.1:{xff_port}",
        "ServerName localhost", "StartServers 1", f'DocumentRoot "{docroot}"',
        f'LogFormat "{LOG_FORMAT}" ip',
        f"<VirtualHost 127.0.0.1:{proxy_port}>",
        "  ServerName proxied", "  RemoteIPProxyProtocol On",
        f'  CustomLog "{base}/proxy_log" ip', "</VirtualHost>",
        f"<VirtualHost 127.0.0.1:{xff_port}>",
        "  ServerName forwarded", "  RemoteIPHeader X-Forwarded-For",
        "  RemoteIPInternalProxy 127.0.0.1",
        f'  CustomLog "{base}/xff_log" ip', "</VirtualHost>", site])


def haproxy_conf(fe_proxy: int, fe_xff: int, proxy_port: int, xff_port: int) -> str:
    return f"""global
    maxconn 200
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout check 5s
frontend fe_proxy
    bind 127.0.0.1:{fe_proxy}
    default_backend be_proxy
frontend fe_xff
    bind 127.0.0.1:{fe_xff}
    default_backend be_xff
backend be_proxy
    option httpchk GET /healthz.txt
    server s 127.0.0.1:{proxy_port} send-proxy-v2 check inter 200ms fall 10 rise 1
backend be_xff
    option forwardfor
    server s 127.0.0.1:{xff_port}
"""


def ask(port: int, source: str, paths: list[str]) -> list[int]:
    """The statuses of `paths` asked on one keep-alive connection from `source`."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0)) as s:
        for p in paths:
            s.sendall(f"GET {p} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        s.sendall(b"GET /last.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    got = parse_responses(data)
    assert len(got) == len(paths) + 1
    return [a[0] for a in got[:-1]]


def lines(path: str) -> list[str]:
    """The access log's lines, without HAProxy's health checks."""
    if not os.path.exists(path):
        return []
    return [x for x in open(path).read().splitlines()
            if "/healthz.txt" not in x and not x.startswith("127.0.0.1 ")]


@pytest.mark.parametrize("mpm", ["mpm_event", "mpm_prefork", "mpm_worker"])
def test_client_address_through_haproxy(tmp_path, mpm: str) -> None:
    docroot = tmp_path / "www"
    for rel in ("a.txt", "only2/b.txt", "not2/c.txt", "healthz.txt", "last.txt"):
        (docroot / rel).parent.mkdir(parents=True, exist_ok=True)
        (docroot / rel).write_text(rel + "\n")
    proxy_port, xff_port, fe_proxy, fe_xff = (free_port() for _ in range(4))
    conf = tmp_path / "httpd.conf"
    conf.write_text(fastcore_conf(tmp_path, docroot, proxy_port, xff_port, mpm))
    lbconf = tmp_path / "haproxy.cfg"
    lbconf.write_text(haproxy_conf(fe_proxy, fe_xff, proxy_port, xff_port))
    server = subprocess.Popen([sys.executable, "-m", "fastcore", "-f", str(conf),
                               "-DFOREGROUND"], env=dict(os.environ, PYTHONPATH=ROOT),
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    lb = None
    try:
        wait_port(proxy_port, 20)
        wait_port(xff_port, 20)
        lb = subprocess.Popen([HAPROXY, "-db", "-f", str(lbconf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        wait_port(fe_proxy, 10)
        wait_port(fe_xff, 10)
        # the PROXY backend is in service once its health checks (PROXY LOCAL) pass
        deadline = time.monotonic() + 15
        while ask(fe_proxy, "127.0.0.1", ["/healthz.txt"]) != [200]:
            assert time.monotonic() < deadline, "HAProxy never found the backend up"
            time.sleep(0.1)
        paths = ["/a.txt", "/a.txt", "/only2/b.txt", "/only2/b.txt", "/not2/c.txt",
                 "/not2/c.txt"]
        results = {}
        for fe in (fe_proxy, fe_xff):
            for source in ("127.0.0.2", "127.0.0.3"):
                results[fe, source] = ask(fe, source, paths)
        time.sleep(0.5)  # the last lines reach the logs
        proxy_log = lines(str(tmp_path / "proxy_log"))
        xff_log = lines(str(tmp_path / "xff_log"))
    finally:
        if lb is not None:
            lb.send_signal(signal.SIGTERM)
            lb.wait(10)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    for fe in (fe_proxy, fe_xff):
        assert results[fe, "127.0.0.2"] == [200, 200, 200, 200, 403, 403]
        assert results[fe, "127.0.0.3"] == [200, 200, 403, 403, 200, 200]
    want = []
    for source in ("127.0.0.2", "127.0.0.3"):
        ok2 = source == "127.0.0.2"
        for path, status in (("/a.txt", 200), ("/a.txt", 200),
                             ("/only2/b.txt", 200 if ok2 else 403),
                             ("/only2/b.txt", 200 if ok2 else 403),
                             ("/not2/c.txt", 403 if ok2 else 200),
                             ("/not2/c.txt", 403 if ok2 else 200), ("/last.txt", 200)):
            want.append(f"{source} {source} 127.0.0.1 {status} {path}")
    assert proxy_log == want
    assert xff_log == want
    health = [x for x in open(tmp_path / "proxy_log").read().splitlines()
              if "/healthz.txt" in x]
    assert health and all(x == "127.0.0.1 127.0.0.1 127.0.0.1 200 /healthz.txt"
                          for x in health)  # LOCAL: the proxy's own address
