"""mod_remoteip: the header walk and the PROXY header parser on their own, the
directives' records, and whole servers (in-process, the C engine first) showing the
address in the access log and in `Require ip`, on cached repeats too (mod_status's
Client column: test_mod_remoteip_vs_apache)."""
from __future__ import annotations

import os
import socket
import struct
import time

import pytest
from support.configs import cfg
from support.inprocess import FastcoreThread
from support.ports import free_port

from fastcore.config import ConfigError
from fastcore.modules.mod_remoteip.config import (
    proxy_protocol_configured,
    proxy_protocol_wanted,
    server_config,
)
from fastcore.modules.mod_remoteip.proxy import DONE, ERROR, NEED_MORE, V2_SIG, parse
from fastcore.modules.mod_remoteip.walk import walk

LOAD = "LoadModule remoteip_module modules/mod_remoteip.so\n"
PEER = ("127.0.0.1", 5555)


def _proxies(tmp_path, lines: str) -> list:
    return server_config(cfg(tmp_path, LOAD + lines).main).proxies


@pytest.mark.parametrize("value,client,left,by", [
    ("8.8.8.8", "8.8.8.8", None, "127.0.0.1"),
    ("1.2.3.4, 8.8.8.8", "1.2.3.4", None, "127.0.0.1, 8.8.8.8"),
    ("10.0.0.1, 8.8.8.8", "8.8.8.8", "10.0.0.1", "127.0.0.1"),  # private: stop there
    ("1.2.3.4,, 5.6.7.8", "5.6.7.8", "1.2.3.4,", "127.0.0.1"),  # the comma goes back
    ("1.2.3.4,  ,5.6.7.8", "5.6.7.8", "1.2.3.4,  ", "127.0.0.1"),  # blanks stay
    (", 9.9.9.9", "9.9.9.9", "", "127.0.0.1"),
    ("bogus , 1.2.3.4", "1.2.3.4", "bogus", "127.0.0.1"),  # trailing blanks cut
    ("2001:db8::1", "2001:db8::1", None, "127.0.0.1"),
    ("fe80::1", None, "fe80::1", None),  # outside 2000::/3: nothing taken
    ("1.2.3.4:80", None, "1.2.3.4:80", None),  # a port is not an address
    ("", None, "", None),
])
def test_walk_without_a_proxy_list(value: str, client: str | None, left: str | None,
                                   by: str | None) -> None:
    """No RemoteIP*Proxy: every peer is a trusted external proxy."""
    res = walk(value, "127.0.0.1", None)
    assert res.changed == (client is not None)
    if client is not None:
        assert (res.client_ip, res.remaining, res.proxy_ips) == (client, left, by)


def test_walk_through_internal_and_trusted_proxies(tmp_path) -> None:
    proxies = _proxies(tmp_path, "RemoteIPInternalProxy 127.0.0.1 10.0.0.0/8\n"
                                 "RemoteIPTrustedProxy 198.51.100.0/24\n")
    # internal presents internal presents a client: all taken, nobody recorded
    r = walk("8.8.8.8, 10.2.2.2", "127.0.0.1", proxies)
    assert (r.client_ip, r.remaining, r.proxy_ips) == ("8.8.8.8", None, None)
    # internal may present a private client
    assert walk("192.168.0.9", "127.0.0.1", proxies).client_ip == "192.168.0.9"
    # a trusted (external) proxy may not, and it is recorded
    r = walk("10.3.3.3, 198.51.100.7", "127.0.0.1", proxies)
    assert (r.client_ip, r.remaining, r.proxy_ips) == ("198.51.100.7", "10.3.3.3", None)
    r = walk("8.8.8.8, 198.51.100.7", "127.0.0.1", proxies)
    assert (r.client_ip, r.remaining, r.proxy_ips) == ("8.8.8.8", None, "198.51.100.7")
    # the walk stops at the first address that is no proxy of the list
    r = walk("6.6.6.6, 7.7.7.7, 198.51.100.7", "127.0.0.1", proxies)
    assert (r.client_ip, r.remaining) == ("7.7.7.7", "6.6.6.6")
    # an untrusted peer cannot spoof anything
    assert not walk("8.8.8.8", "203.0.113.9", proxies).changed


def test_proxy_lists_read_from_files_and_names(tmp_path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("# comment\n192.0.2.1 10.0.0.0/8 # 1.2.3.999 ignored\n")
    proxies = _proxies(tmp_path, f"RemoteIPTrustedProxyList {listing}\n"
                                 "RemoteIPInternalProxy localhost\n")
    assert [(p.subnet.contains("192.0.2.1"), p.internal) for p in proxies][:1] == [(True, False)]
    assert any(p.internal and p.subnet.contains("127.0.0.1") for p in proxies)
    with pytest.raises(ConfigError, match=r"RemoteIP: Error parsing IP 5\.6\.7\.8/40 \(The "
                                          r"specified network mask is invalid\. error\) for "
                                          r"RemoteIPInternalProxyList at line 2 of"):
        (tmp_path / "bad.txt").write_text("1.2.3.4\n5.6.7.8/40\n")
        cfg(tmp_path, LOAD + f"RemoteIPInternalProxyList {tmp_path / 'bad.txt'}\n")


def test_vhost_inherits_the_fields_it_does_not_set(tmp_path) -> None:
    c = cfg(tmp_path, LOAD + "RemoteIPHeader X-Real-IP\nRemoteIPProxiesHeader X-By\n"
            "RemoteIPTrustedProxy 192.0.2.1\n<VirtualHost *:80>\n RemoteIPHeader X-Forwarded-For"
            "\n</VirtualHost>\n")
    main, vh = server_config(c.main), server_config(c.vhosts[0])
    assert (main.header, vh.header) == ("X-Real-IP", "X-Forwarded-For")
    assert vh.proxies_header == "X-By" and vh.proxies == main.proxies


def test_proxy_protocol_by_address_and_exceptions(tmp_path) -> None:
    c = cfg(tmp_path, LOAD + "<VirtualHost 127.0.0.1:8443>\n RemoteIPProxyProtocol On\n"
            " RemoteIPProxyProtocolExceptions 127.0.0.9 10.0.0.0/8\n</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:8444>\n RemoteIPProxyProtocol Off\n</VirtualHost>\n")
    assert proxy_protocol_configured(c)
    assert proxy_protocol_wanted(c, "127.0.0.1", 8443, "127.0.0.1")
    assert not proxy_protocol_wanted(c, "127.0.0.1", 8443, "10.1.1.1")  # an exception
    assert not proxy_protocol_wanted(c, "127.0.0.1", 8443, "127.0.0.9")
    assert not proxy_protocol_wanted(c, "127.0.0.1", 8444, "127.0.0.1")
    assert not proxy_protocol_wanted(c, "127.0.0.2", 8443, "127.0.0.1")
    everywhere = cfg(tmp_path, LOAD + "RemoteIPProxyProtocol On\n")
    assert proxy_protocol_wanted(everywhere, "192.0.2.5", 1234, "127.0.0.1")
    assert not proxy_protocol_configured(cfg(tmp_path, LOAD))


@pytest.mark.parametrize("line", ["RemoteIPHeader X-Forwarded-For", "RemoteIPProxyProtocol On",
                                  "RemoteIPTrustedProxy 10.0.0.1"])
def test_unloaded_module_directive_is_an_invalid_command(tmp_path, line: str) -> None:
    with pytest.raises(ConfigError, match=f"Invalid command '{line.split()[0]}'"):
        cfg(tmp_path, line + "\n")


def v2(cmd: int, fam: int, body: bytes) -> bytes:
    return V2_SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(body)) + body


INET = socket.inet_aton("8.8.8.8") + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 99, 80)
INET6 = (socket.inet_pton(socket.AF_INET6, "2001:db8::2") + bytes(16)
         + struct.pack("!HH", 7, 80))


@pytest.mark.parametrize("data,state,ip,port,consumed", [
    (b"PROXY TCP4 8.8.8.8 1.1.1.1 99 80\r\nGET", DONE, "8.8.8.8", 99, 34),
    (b"PROXY TCP6 2001:DB8::1 ::1 65536 80\r\n", DONE, "2001:DB8::1", 0, 37),
    (b"PROXY UNKNOWN 1 2 3 4\r\n", DONE, "127.0.0.1", 5555, 23),
    (b"PROXY UNKNOWN\r\nGET / HTTP/1.0\r\n", ERROR, "", 0, 0),  # Apache's 15-byte quirk
    (b"PROXY TCP4 8.8.8.8", NEED_MORE, "", 0, 0),
    (b"PROXY TCP4 8.8.8.8 1.1.1.1 99 80" + b" " * 80, ERROR, "", 0, 0),  # no CRLF in 108
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ERROR, "", 0, 0),
    (b"PROX", NEED_MORE, "", 0, 0),
    (v2(1, 0x11, INET) + b"GET", DONE, "8.8.8.8", 99, 28),
    (v2(1, 0x11, INET + b"\x04\x00\x02ab"), DONE, "8.8.8.8", 99, 33),  # a TLV skipped
    (v2(1, 0x21, INET6), DONE, "2001:db8::2", 7, 52),
    (v2(0, 0x00, b""), DONE, "127.0.0.1", 5555, 16),  # LOCAL
    (v2(1, 0x00, b""), ERROR, "", 0, 0),  # UNSPEC
    (v2(1, 0x31, bytes(216)), ERROR, "", 0, 0),  # AF_UNIX
    (v2(3, 0x11, INET), ERROR, "", 0, 0),
    (v2(1, 0x11, INET)[:20], NEED_MORE, "", 0, 0),
    (V2_SIG + b"\x21\x11\x00\xe9", ERROR, "", 0, 0),  # 233 address bytes: too long
])
def test_proxy_header(data: bytes, state: int, ip: str, port: int, consumed: int) -> None:
    got = parse(data, PEER)
    assert got.state == state
    if state == DONE:
        assert (got.client_ip, got.client_port, got.consumed) == (ip, port, consumed)


def test_proxy_errors_say_what_apache_says() -> None:
    assert parse(b"PROXY TCP4 8.8.8.8 1.1.1.1 x 80\r\n", PEER).log.message == (
        "AH03501: RemoteIPProxyProtocol: error parsing port 'x' in header "
        "'PROXY TCP4 8.8.8.8 1.1.1.1 x 80'")
    assert parse(v2(1, 0x31, bytes(216)), PEER).log.message == (
        "AH10183: RemoteIPProxyProtocol: unsupported protocol 31")
    assert parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", PEER).log is None  # silently closed


# -- whole servers --------------------------------------------------------------------

def _conf(tmp_path, body: str) -> str:
    www = tmp_path / "www"
    (www / "only").mkdir(parents=True)
    (www / "a.txt").write_text("a\n")
    (www / "only" / "b.txt").write_text("b\n")
    for f in (www / "a.txt", www / "only" / "b.txt"):  # older than a second: cacheable
        os.utime(f, (1_600_000_000, 1_600_000_000))
    path = tmp_path / "httpd.conf"
    path.write_text(
        f'LoadModule mpm_worker_module modules/mod_mpm_worker.so\n'
        f'LoadModule authz_core_module modules/mod_authz_core.so\n'
        f'LoadModule authz_host_module modules/mod_authz_host.so\n{LOAD}'
        f'LoadModule status_module modules/mod_status.so\n'
        f'ServerRoot "{tmp_path}"\nErrorLog "{tmp_path}/error_log"\nListen 127.0.0.1:{free_port()}\n'
        f'ServerName localhost\nDocumentRoot "{www}"\n<Directory "{www}">\n'
        f' Require all granted\n</Directory>\n<Directory />\n AllowOverride None\n</Directory>\n<Directory "{www}/only">\n'
        f' Require ip 8.8.8.8\n</Directory>\nLogFormat "%a %h %>s %U" ip\n'
        f'CustomLog "{tmp_path}/access_log" ip\n{body}\n')
    return str(path)


def _answers(sock: socket.socket, n: int) -> list[bytes]:
    """n answers (each with a Content-Length) read off a kept connection."""
    out, buf = [], b""
    while len(out) < n:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            if len(rest) >= length:
                out.append(head + sep + rest[:length])
                buf = rest[length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, "closed early"
        buf += chunk
    return out


def _log(tmp_path) -> list[str]:
    for _ in range(50):
        if os.path.exists(tmp_path / "access_log"):
            break
        time.sleep(0.02)
    time.sleep(0.2)
    return (tmp_path / "access_log").read_text().splitlines()


def test_proxy_connection_is_served_by_the_engine_with_its_source(tmp_path) -> None:
    """The first answer comes from Python, the repeats from the C engine: all of them
    logged with the PROXY source, and Require ip sees it."""
    srv = FastcoreThread(_conf(tmp_path, "RemoteIPProxyProtocol On"), board="none")
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(v2(1, 0x11, INET))
            for _ in range(4):
                s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                assert _answers(s, 1)[0].startswith(b"HTTP/1.1 200 OK")
            s.sendall(b"GET /only/b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert _answers(s, 1)[0].startswith(b"HTTP/1.1 200 OK")
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"PROXY TCP4 7.7.7.7 127.0.0.1 1 80\r\n"
                      b"GET /only/b.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert _answers(s, 1)[0].startswith(b"HTTP/1.1 403 Forbidden")
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")  # no PROXY header
            assert s.recv(100) == b""
        hits = srv.srv.engine.cache.stats()["hits"]
    finally:
        srv.stop()
    assert hits >= 2
    assert _log(tmp_path) == ["8.8.8.8 8.8.8.8 200 /a.txt"] * 4 + [
        "8.8.8.8 8.8.8.8 200 /only/b.txt", "7.7.7.7 7.7.7.7 403 /only/b.txt"]


def test_header_answers_are_walked_on_every_request(tmp_path) -> None:
    """RemoteIPHeader: a repeat with the header walks its own (the C engine serves
    none of them; the Python cache only answers those without the header)."""
    srv = FastcoreThread(_conf(tmp_path, "RemoteIPHeader X-Forwarded-For"), board="none")
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            for xff in (None, None, "8.8.8.8", None, "9.9.9.9", "8.8.8.8", None):
                extra = f"X-Forwarded-For: {xff}\r\n" if xff else ""
                s.sendall(f"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode())
                _answers(s, 1)
            for xff in ("8.8.8.8", "9.9.9.9"):
                s.sendall(f"GET /only/b.txt HTTP/1.1\r\nHost: localhost\r\n"
                          f"X-Forwarded-For: {xff}\r\n\r\n".encode())
                _answers(s, 1)
        hits = srv.srv.engine.cache.stats()["hits"]
    finally:
        srv.stop()
    assert hits == 0
    assert _log(tmp_path) == ["127.0.0.1 127.0.0.1 200 /a.txt"] * 2 + [
                              "8.8.8.8 8.8.8.8 200 /a.txt", "127.0.0.1 127.0.0.1 200 /a.txt",
                              "9.9.9.9 9.9.9.9 200 /a.txt", "8.8.8.8 8.8.8.8 200 /a.txt",
                              "127.0.0.1 127.0.0.1 200 /a.txt",
                              "8.8.8.8 8.8.8.8 200 /only/b.txt",
                              "9.9.9.9 9.9.9.9 403 /only/b.txt"]
