"""The test client of mod_ssl's tests: how it connects (SNI, protocol bounds, ciphers,
certificate, ALPN) and what it sees of one exchange."""
from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from support.tlscerts import Certs


@dataclass(frozen=True)
class Client:
    """How the test client connects: SNI name, protocol bounds, TLS 1.2 ciphers, its
    certificate."""

    sni: str | None = "a.test"
    tls: str = "any"       # any | 1.2 | 1.3
    ciphers: str | None = None
    cert: str | None = None  # "client" | "stranger"
    alpn: tuple[str, ...] = ()


@dataclass(frozen=True)
class Seen:
    """What a client observes of one exchange."""

    outcome: str            # "answer" or "refused" (the handshake or the read failed)
    status: int = 0
    vhost: str = ""
    tls_header: str = ""
    peer_cn: str = ""
    version: str = ""
    cipher: str = ""
    body: bytes = b""
    alpn: str = ""


def context(c: Certs, client: Client) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(c.ca.cert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if client.tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif client.tls == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if client.ciphers:
        ctx.set_ciphers(client.ciphers)
    if client.cert == "client":
        ctx.load_cert_chain(c.client.cert, c.client.key)
    elif client.cert == "stranger":
        ctx.load_cert_chain(c.stranger.cert, c.stranger.key)
    if client.alpn:
        ctx.set_alpn_protocols(list(client.alpn))
    return ctx


def read_all(s: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ssl.SSLZeroReturnError, ConnectionResetError):
            break
        if not chunk:
            break
        out += chunk
    return out


def exchange(port: int, c: Certs, client: Client, raw: bytes,
             ctx: ssl.SSLContext | None = None, session: ssl.SSLSession | None = None
             ) -> tuple[Seen, ssl.SSLSession | None]:
    ctx = ctx or context(c, client)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw_sock:
            with ctx.wrap_socket(raw_sock, server_hostname=client.sni,
                                 session=session) as s:
                cn = dict(x[0] for x in s.getpeercert()["subject"]).get("commonName", "")
                version, cipher = s.version() or "", (s.cipher() or ("",))[0]
                alpn = s.selected_alpn_protocol() or ""
                s.sendall(raw)
                data = read_all(s)
                sess = s.session
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, TimeoutError, ValueError) as exc:
        return Seen("refused", body=type(exc).__name__.encode()), None
    if not data:
        return Seen("refused"), None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return Seen("answer", int(lines[0].split()[1]), fields.get("x-vhost", ""),
                fields.get("x-tls", ""), cn, version, cipher, body, alpn), sess


def req(host: str | None, path: str = "/index.html", version: str = "1.1") -> bytes:
    hdr = f"Host: {host}\r\n" if host is not None else ""
    return f"GET {path} HTTP/{version}\r\n{hdr}Connection: close\r\n\r\n".encode()
