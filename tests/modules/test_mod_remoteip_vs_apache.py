"""mod_remoteip against real Apache 2.4: one httpd.conf served by apache2 and by fastcore.

The main server takes the client from X-Forwarded-For (internal and trusted proxy
lists, RemoteIPProxiesHeader); a <VirtualHost> on a second port takes it from the PROXY
protocol.  The statuses, the bytes of every answer (Date aside) and every access-log line
(%a %h %{c}a %{remote}p, the header left, the proxies header, SetEnvIf Remote_Addr)
must match, with `Require ip`, `Require not ip`, access_compat's Allow/Deny and
mod_rewrite's %{REMOTE_ADDR} and `Require expr` (REMOTE_ADDR, CONN_REMOTE_ADDR) deciding
on the address found.  Each request is sent twice,
so a second answer a cache could serve is compared too.  PROXY v1 and v2 headers (TLVs,
LOCAL, IPv6, and malformed ones) are written by the test on raw sockets.
`apache2 -t` and fastcore refuse the same bad directives with the same message.
"""
from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import time

import pytest
from support.apache_oracle import APACHE, MODDIR, ApacheOracle
from support.ports import free_port

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "authz_host", "access_compat", "mime", "dir",
           "alias", "setenvif", "rewrite", "status", "remoteip")

SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
<Directory "{www}/only">
  Require ip 8.8.8.8 2001:db8::/32 10.9.0.0/16
</Directory>
<Directory "{www}/not">
  <RequireAll>
    Require all granted
    Require not ip 8.8.8.8
  </RequireAll>
</Directory>
<Directory "{www}/expr">
  Require expr "%{REMOTE_ADDR} -ipmatch '8.8.0.0/16' && %{CONN_REMOTE_ADDR} == '127.0.0.1'"
</Directory>
<Directory "{www}/compat">
  Order deny,allow
  Deny from all
  Allow from 203.0.113.5
</Directory>
RewriteEngine On
RewriteCond %{REMOTE_ADDR} ^9\\.9\\.9\\.9$
RewriteRule ^/rw/ - [F]
SetEnvIf Remote_Addr ^8\\.8\\.8\\.8$ RA=eight
RemoteIPHeader X-Forwarded-For
RemoteIPProxiesHeader X-By
RemoteIPInternalProxy 127.0.0.1 10.0.0.0/8
RemoteIPTrustedProxy 198.51.100.0/24
LogFormat "%a|%h|%{c}a|%{remote}p|%{X-Forwarded-For}i|%{X-By}i|%{RA}e|%>s|%U" ipfmt
CustomLog "{run}/access_log" ipfmt
Listen 127.0.0.1:{pport}
<VirtualHost 127.0.0.1:{pport}>
  ServerName proxied
  RemoteIPProxyProtocol On
  CustomLog "{run}/proxy_log" ipfmt
</VirtualHost>
"""

XFF = (
    None,
    "8.8.8.8",
    "1.2.3.4, 8.8.8.8",
    "8.8.8.8, 10.9.1.1",             # internal presents internal: both taken
    "10.9.1.1, 198.51.100.7",        # a trusted (external) proxy cannot present 10.x
    "8.8.8.8, 198.51.100.7",         # external presents a public address
    "7.7.7.7, 8.8.8.8, 198.51.100.7, 10.1.1.1",
    "192.168.1.1",                   # internal proxies may present private addresses
    "2001:db8::7",
    "2001:db8::7, 198.51.100.7",
    "fe80::1, 198.51.100.7",         # external: IPv6 outside 2000::/3 is refused
    "::ffff:8.8.8.8",
    "bogus, 8.8.8.8",
    "8.8.8.8:8080",
    "1.2.3.4,, 8.8.8.8",
    " 9.9.9.9 ,  ",
    "9.9.9.9",
    "203.0.113.5",
    "not-an-ip",
    "8.8.8.8, 10.1.1.1\r\nx-forwarded-for: 1.2.3.4",  # repeated fields: merged, as Apache
    "9.9.9.9\r\nX-Forwarded-For: 1.2.3.4\r\nUser-Agent: x\r\nX-Forwarded-For: 8.8.8.8",
)  # a header left empty (", 9.9.9.9") is in test_mod_remoteip: fastcore's %i logs "" as "-"
PATHS = ("/a.txt", "/only/b.txt", "/not/c.txt", "/compat/d.txt", "/rw/e.txt",
         "/expr/f.txt")

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(cmd: int, fam: int, addr: bytes, tlv: bytes = b"") -> bytes:
    body = addr + tlv
    return V2_SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(body)) + body


def v2_inet(src: str, sport: int, tlv: bytes = b"") -> bytes:
    addr = socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", sport, 80)
    return v2(1, 0x11, addr, tlv)


def v2_inet6(src: str, sport: int) -> bytes:
    addr = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, "::1")
            + struct.pack("!HH", sport, 80))
    return v2(1, 0x21, addr)


GET = b"GET /only/b.txt HTTP/1.1\r\nHost: proxied\r\n\r\n"
GET_CLOSE = b"GET /a.txt HTTP/1.1\r\nHost: proxied\r\nConnection: close\r\n\r\n"
PROXY_CASES = (
    b"PROXY TCP4 8.8.8.8 127.0.0.1 4321 80\r\n" + GET + GET_CLOSE,
    b"PROXY TCP4 7.7.7.7 127.0.0.1 4321 80\r\n" + GET + GET_CLOSE,
    b"PROXY TCP6 2001:db8::5 ::1 1111 80\r\n" + GET + GET_CLOSE,
    b"PROXY TCP4 8.8.8.8 127.0.0.1 99999 80\r\n" + GET_CLOSE,
    b"PROXY UNKNOWN ffff:f::1 ::1 1 2\r\n" + GET_CLOSE,
    b"PROXY UNKNOWN\r\n" + GET_CLOSE,  # Apache's 15-byte quirk: closed
    v2_inet("8.8.8.8", 12345) + GET + GET_CLOSE,
    v2_inet("10.9.3.3", 2, b"\x04\x00\x05abcde\x03\x00\x04\x00\x00\x00\x00") + GET + GET_CLOSE,
    v2_inet6("2001:db8::1", 7) + GET_CLOSE,
    v2(0, 0x00, b"") + GET_CLOSE,      # LOCAL: the proxy's own address
    v2(0, 0x11, bytes(12)) + GET_CLOSE,  # LOCAL with addresses: still the peer's
    v2(1, 0x00, b"") + GET_CLOSE,      # PROXY over UNSPEC: refused
    v2(1, 0x31, bytes(216)) + GET_CLOSE,  # AF_UNIX: refused
    v2(2, 0x11, bytes(12)) + GET_CLOSE,   # unknown command
    V2_SIG + b"\x21\x11\x01\x00" + bytes(256) + GET_CLOSE,  # too long
    b"PROXY TCP4 8.8.x.8 127.0.0.1 1 80\r\n" + GET_CLOSE,
    b"PROXY TCP4 8.8.8.8 127.0.0.1 abc 80\r\n" + GET_CLOSE,
    b"PROXY TCP4 8.8.8.8\r\n" + GET_CLOSE,
    b"PROXY TCP5 8.8.8.8 127.0.0.1 1 80\r\n" + GET_CLOSE,
    GET_CLOSE,                         # no header at all: closed unanswered
    b"PROXY TCP4 8.8.8.8 127.0.0.1 1 80\r\n",  # header, then the client closes
)


def _site(root: str) -> str:
    www = os.path.join(root, "www")
    for rel in ("a.txt", "only/b.txt", "not/c.txt", "compat/d.txt", "rw/e.txt", "expr/f.txt"):
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(rel + "\n")
    return www


def _exchange(port: int, data: bytes, pause_at: int | None = None) -> bytes:
    """data sent on a new connection (its first pause_at bytes, a pause, the rest);
    everything the server answers before it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        if pause_at is not None:
            s.sendall(data[:pause_at])
            time.sleep(0.6)
            data = data[pause_at:]
        s.sendall(data)
        if not data.endswith(b"\r\n\r\n"):
            s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return out


def _normal(answer: bytes) -> bytes:
    """The answer without what differs between two runs or two servers by design."""
    answer = re.sub(rb"Date: [^\r]*\r\n", b"", answer)
    answer = re.sub(rb"Server: [^\r]*\r\n", b"", answer)
    return re.sub(rb"ETag: [^\r]*\r\n", b"", answer)


def _run(tmp: str, www: str, fastcore: bool, pport: int) -> tuple[list[bytes], list[str],
                                                                   list[bytes], list[str]]:
    run = os.path.join(tmp, "fastcore" if fastcore else "apache")
    os.makedirs(run)
    body = SITE.replace("{www}", www).replace("{run}", run).replace("{pport}", str(pport))
    answers, proxied = [], []
    with ApacheOracle(run, body, modules=MODULES, fastcore=fastcore) as ap:
        for xff in XFF:
            for path in PATHS:
                head = f"GET {path} HTTP/1.0\r\nHost: localhost\r\n"
                if xff is not None:
                    head += f"X-Forwarded-For: {xff}\r\nX-By: client-sent\r\n"
                for _ in range(2):
                    answers.append(_normal(_exchange(ap.port, (head + "\r\n").encode())))
        for case in PROXY_CASES:
            for _ in range(2):
                proxied.append(_normal(_exchange(pport, case)))
        for cut in (0, 5, 30):  # a header in pieces, slower than the MPM's first wait
            proxied.append(_normal(_exchange(pport, PROXY_CASES[0], cut)))
            proxied.append(_normal(_exchange(pport, PROXY_CASES[6], cut)))
        time.sleep(0.3)
    logs = []
    for name in ("access_log", "proxy_log"):
        path = os.path.join(run, name)
        logs.append([_peer_port(x) for x in open(path).read().splitlines()]
                    if os.path.exists(path) else [])
    return answers, logs[0], proxied, logs[1]


def _peer_port(line: str) -> str:
    """The test client's own (ephemeral) port, where %{remote}p shows it, as PEER."""
    f = line.split("|")
    if f[0] == "127.0.0.1" and f[3] != "0":
        f[3] = "PEER"
    return "|".join(f)


def test_addresses_decisions_and_logs_match_apache(tmp_path) -> None:
    www = _site(str(tmp_path))
    pport = free_port()
    a_ans, a_log, a_prox, a_plog = _run(str(tmp_path), www, False, pport)
    f_ans, f_log, f_prox, f_plog = _run(str(tmp_path), www, True, pport)
    assert f_log == a_log
    assert f_ans == a_ans
    assert f_plog == a_plog
    assert f_prox == a_prox
    # not vacuous: the mechanisms show in Apache's own answers and lines
    assert "8.8.8.8|8.8.8.8|127.0.0.1|0|-|client-sent|eight|200|/only/b.txt" in a_log
    assert "8.8.8.8|8.8.8.8|127.0.0.1|0|7.7.7.7|198.51.100.7|eight|200|/only/b.txt" in a_log
    assert "198.51.100.7|198.51.100.7|127.0.0.1|0|10.9.1.1|client-sent|-|403|/only/b.txt" \
        in a_log  # an external proxy presented a private address: the walk stopped
    assert "8.8.8.8|8.8.8.8|127.0.0.1|0|-|client-sent|eight|403|/not/c.txt" in a_log
    assert "8.8.8.8|8.8.8.8|127.0.0.1|0|-|client-sent|eight|200|/expr/f.txt" in a_log
    assert "9.9.9.9|9.9.9.9|127.0.0.1|0|-|client-sent|-|403|/expr/f.txt" in a_log
    assert any(x.startswith("9.9.9.9|") and x.endswith("|403|/rw/e.txt") for x in a_log)
    assert any(x.startswith("203.0.113.5|") and x.endswith("|200|/compat/d.txt")
               for x in a_log)
    assert "8.8.8.8|8.8.8.8|127.0.0.1|4321|-|-|eight|200|/only/b.txt" in a_plog
    assert "7.7.7.7|7.7.7.7|127.0.0.1|4321|-|-|-|403|/only/b.txt" in a_plog
    assert sum(1 for x in a_prox if x == b"") >= 20


BAD = (
    "RemoteIPTrustedProxy 1.2.3.999", "RemoteIPTrustedProxy 10.0.0.0/33",
    "RemoteIPInternalProxy nosuch.invalid", "RemoteIPTrustedProxy localhost/8",
    "RemoteIPInternalProxy", "RemoteIPHeader", "RemoteIPHeader a b",
    "RemoteIPProxiesHeader", "RemoteIPTrustedProxyList /nonexistent/list",
    "RemoteIPProxyProtocol maybe", "RemoteIPProxyProtocolExceptions",
    "RemoteIPProxyProtocolExceptions foo", "RemoteIPProxyProtocolExceptions 1.2.3.4/99",
    "<Directory />\nRemoteIPHeader X\n</Directory>",
    "<Location />\nRemoteIPProxyProtocol On\n</Location>",
    "RemoteIPTrustedProxyList {list}",
)


def _conf(tmp: str, lines: str, loaded: bool = True) -> str:
    path = os.path.join(tmp, "httpd.conf")
    with open(path, "w") as fh:
        fh.write(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                 + (f"LoadModule remoteip_module {MODDIR}/mod_remoteip.so\n" if loaded else "")
                 + f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nDocumentRoot "{tmp}"\n'
                 f"Listen 127.0.0.1:1\nServerName localhost\n{lines}\n")
    return path


@pytest.mark.parametrize("line", BAD)
def test_refused_with_apaches_message(tmp_path, line: str) -> None:
    listing = tmp_path / "proxies.txt"
    listing.write_text("# trusted\n192.0.2.1 10.0.0.0/8 # comment\n\n  198.51.100.0/40\n")
    path = _conf(str(tmp_path), line.replace("{list}", str(listing)))
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()


@pytest.mark.parametrize("line", ["RemoteIPHeader X-Forwarded-For",
                                  "RemoteIPProxyProtocol On"])
def test_unloaded_module_directive_matches_apache(tmp_path, line: str) -> None:
    path = _conf(str(tmp_path), line, loaded=False)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()


def test_accepted_like_apache(tmp_path) -> None:
    listing = tmp_path / "proxies.txt"
    listing.write_text("# trusted\n192.0.2.1 10.0.0.0/8 # 1.2.3.999 is a comment\n")
    path = _conf(str(tmp_path), "RemoteIPTrustedProxy localhost 10.1 ::1 2001:db8::/32 "
                 f"10.0.0.0/255.0.0.0\nRemoteIPInternalProxyList {listing}\n"
                 "<VirtualHost *:80>\nRemoteIPProxyProtocolExceptions 10.0.0.0/8\n"
                 "RemoteIPProxyProtocol Off\n</VirtualHost>")
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode == 0
    load(path)


STATUS_SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
ExtendedStatus On
<Location /server-status>
  SetHandler server-status
</Location>
RemoteIPHeader X-Forwarded-For
"""


def test_status_client_column_matches_apache(tmp_path) -> None:
    """mod_status's Client column shows the useragent's address, as Apache's."""
    www = _site(str(tmp_path))
    clients = []
    for fastcore in (False, True):
        run = os.path.join(str(tmp_path), "fc" if fastcore else "ap")
        os.makedirs(run)
        with ApacheOracle(run, STATUS_SITE.replace("{www}", www), modules=MODULES,
                          fastcore=fastcore) as ap:
            page = _exchange(ap.port, b"GET /server-status HTTP/1.0\r\n"
                                      b"X-Forwarded-For: 8.8.4.4\r\n\r\n").decode()
        row = [x for x in page.splitlines() if "GET /server-status HTTP/1.0" in x]
        assert len(row) == 1
        clients.append(re.findall(r"<td>([0-9a-f.:]+)</td><td>http/1.1", row[0]))
    assert clients[0] == ["8.8.4.4"]
    assert clients[1] == clients[0]


LOG_SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
LogLevel remoteip:trace1
RemoteIPHeader X-Forwarded-For
RemoteIPTrustedProxy 127.0.0.1
"""


def _remoteip_lines(path: str) -> list[str]:
    """The error log's remoteip lines without time, pid and the test client's port."""
    out = []
    for line in open(path).read().splitlines():
        if "[remoteip:" in line:
            line = line.split("] ", 1)[1]
            line = re.sub(r"\[pid [^\]]*\] ", "", line)
            out.append(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line))
    return out


def test_debug_and_trace_lines_match_apache(tmp_path) -> None:
    www = _site(str(tmp_path))
    got = []
    for fastcore in (False, True):
        run = os.path.join(str(tmp_path), "fc" if fastcore else "ap")
        os.makedirs(run)
        with ApacheOracle(run, LOG_SITE.replace("{www}", www), modules=MODULES,
                          fastcore=fastcore) as ap:
            for xff in ("10.0.0.1, 1.2.3.4", "8.8.8.8", "2001:db8::1, 8.8.4.4", "10.0.0.1"):
                _exchange(ap.port, f"GET /a.txt HTTP/1.0\r\nX-Forwarded-For: {xff}\r\n\r\n"
                          .encode())
            time.sleep(0.3)
        got.append(_remoteip_lines(os.path.join(run, "error_log")))
    assert len(got[0]) == 4
    assert got[1] == got[0]


ONOFF_SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
RemoteIPProxyProtocol On
{exceptions}
Listen 127.0.0.1:{oport}
<VirtualHost 127.0.0.1:{oport}>
  ServerName off
  RemoteIPProxyProtocol Off
</VirtualHost>
LogFormat "%a|%>s|%U" short
CustomLog "{run}/access_log" short
"""
PLAIN = b"GET /a.txt HTTP/1.0\r\n\r\n"
WITH_PROXY = b"PROXY TCP4 8.8.8.8 127.0.0.1 1 80\r\n" + PLAIN


@pytest.mark.parametrize("exceptions", ["", "RemoteIPProxyProtocolExceptions 127.0.0.0/8",
                                        "RemoteIPProxyProtocolExceptions 10.0.0.0/8 ::1"])
def test_on_off_and_exceptions_match_apache(tmp_path, exceptions: str) -> None:
    """The main server's On covers every address; a <VirtualHost>'s Off takes its own
    back; a client in the exceptions sends plain HTTP (a PROXY line is then its request
    line)."""
    www = _site(str(tmp_path))
    oport = free_port()
    seen = []
    for fastcore in (False, True):
        run = os.path.join(str(tmp_path), "fc" if fastcore else "ap")
        os.makedirs(run)
        body = (ONOFF_SITE.replace("{www}", www).replace("{run}", run)
                .replace("{oport}", str(oport)).replace("{exceptions}", exceptions))
        with ApacheOracle(run, body, modules=MODULES, fastcore=fastcore) as ap:
            answers = [_normal(_exchange(port, data)) for port in (ap.port, oport)
                       for data in (PLAIN, WITH_PROXY)]
            time.sleep(0.3)
        seen.append((answers, open(os.path.join(run, "access_log")).read().splitlines()))
    assert seen[1] == seen[0]
    statuses = [a.split(b" ", 2)[1] if a else b"" for a in seen[0][0]]
    assert statuses == ([b"200", b"400", b"200", b"400"] if "127.0.0.0/8" in exceptions
                        else [b"", b"200", b"200", b"400"])
