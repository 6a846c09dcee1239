"""The PROXY protocol header (v1 text, v2 binary) at the start of a connection, read as
mod_remoteip's input filter reads it (remoteip_input_filter).

Apache reads 15 bytes first (the shortest v1 header), decides the version from them,
then for v1 the rest of the line (at most 108 bytes in all), for v2 the 16-byte fixed
part and then the length it announces (at most 216 address bytes: TLVs after the
addresses are read and skipped).  The header it consumed must end exactly where its
last read ended; a v1 header of exactly 15 bytes (`PROXY UNKNOWN\\r\\n`) therefore
fails, since the second read takes the next line too (docs/compat.md).  Anything else
that goes wrong closes the connection without an answer or an access-log line.

`parse(buf, peer)` is a pure function of the bytes received so far; `ProxyPreface` is
one connection's reader around it (the Connection calls `advance` until it is done).
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastcore.core.connection import Connection

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
MIN_HDR_LEN = 15
MIN_V2_HDR_LEN = 16
V1_MAX = 108
V2_MAX = MIN_V2_HDR_LEN + 216

NEED_MORE, DONE, ERROR = 0, 1, 2


@dataclass(frozen=True)
class LogLine:
    level: str
    message: str


@dataclass(frozen=True)
class Parsed:
    """The outcome on the bytes so far: NEED_MORE, DONE (the client's address and
    port, and how many bytes the header took) or ERROR (close; `log` says why)."""

    state: int
    client_ip: str = ""
    client_port: int = 0
    consumed: int = 0
    log: LogLine | None = None


def _err(message: str) -> Parsed:
    return Parsed(ERROR, log=LogLine("error", message))


def _short(word: str) -> int | None:
    """sscanf("%hu"): leading blanks, an optional sign, digits, taken modulo 2^16."""
    text = word.lstrip(" \t")
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    digits = ""
    for ch in text:
        if not ("0" <= ch <= "9"):
            break
        digits += ch
    if not digits:
        return None
    return (sign * int(digits)) % 65536


def _v1(line: str, peer: tuple[str, int]) -> Parsed:
    """remoteip_process_v1_header on the line without its CRLF."""
    words = [w for w in line.split(" ") if w][1:]  # apr_strtok: runs of blanks are one

    def missing(what: str) -> Parsed:
        return _err(f"AH03497: RemoteIPProxyProtocol: no {what} found in header '{line}'")
    if not words:
        return missing("family")
    family = words[0]
    if family == "UNKNOWN":
        return Parsed(DONE, peer[0], peer[1])
    if family == "TCP4":
        allowed, fam, apr_fam = "0123456789.", socket.AF_INET, 2
    elif family == "TCP6":
        allowed, fam, apr_fam = "0123456789abcdefABCDEF:", socket.AF_INET6, 10
    else:
        return _err(f"AH03499: RemoteIPProxyProtocol: unknown family '{family}' in header "
                    f"'{line}'")
    if len(words) < 2:
        return missing("client-address")
    host = words[1]
    if any(c not in allowed for c in host):
        return _err(f"AH03500: RemoteIPProxyProtocol: invalid client-address '{host}' "
                    f"found in header '{line}'")
    if len(words) < 3:
        return missing("destination-address")
    if len(words) < 4:
        return missing("client-port")
    port = _short(words[3])
    if port is None:
        return _err(f"AH03501: RemoteIPProxyProtocol: error parsing port '{words[3]}' in "
                    f"header '{line}'")
    try:
        socket.getaddrinfo(host, None, fam, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return _err(f"AH03502: RemoteIPProxyProtocol: error converting family '{apr_fam}', "
                    f"host '{host}', and port '{port}' to sockaddr; header was '{line}'")
    return Parsed(DONE, host, port)


def _v2(hdr: bytes, peer: tuple[str, int]) -> Parsed:
    """remoteip_process_v2_header: PROXY over TCP/IPv4 or IPv6; LOCAL keeps the peer."""
    cmd, fam = hdr[12], hdr[13]
    if cmd & 0x0F == 0x00:  # LOCAL: the proxy's own connection (health checks)
        return Parsed(DONE, peer[0], peer[1], len(hdr))
    if cmd & 0x0F != 0x01:
        return _err(f"AH03507: RemoteIPProxyProtocol: unsupported command {cmd:02x}")
    body = hdr[MIN_V2_HDR_LEN:]
    if fam == 0x11 and len(body) >= 12:
        ip = socket.inet_ntop(socket.AF_INET, body[0:4])
        port = int.from_bytes(body[8:10], "big")
    elif fam == 0x21 and len(body) >= 36:
        ip = socket.inet_ntop(socket.AF_INET6, body[0:16])
        if ip.lower().startswith("::ffff:") and "." in ip:
            ip = ip[7:]  # apr_sockaddr_ip_get prints a mapped address as IPv4
        port = int.from_bytes(body[32:34], "big")
    else:
        return _err(f"AH10183: RemoteIPProxyProtocol: unsupported protocol {fam:02x}")
    return Parsed(DONE, ip, port, len(hdr))


def parse(buf: bytes, peer: tuple[str, int]) -> Parsed:
    """The header at the start of buf, as far as it has arrived."""
    if len(buf) < MIN_HDR_LEN:
        return Parsed(NEED_MORE)
    if buf[:12] == V2_SIG and buf[12] & 0xF0 == 0x20:
        if len(buf) < MIN_V2_HDR_LEN:
            return Parsed(NEED_MORE)
        need = MIN_V2_HDR_LEN + int.from_bytes(buf[14:16], "big")
        if need > V2_MAX:
            return _err("AH10186: RemoteIPProxyProtocol protocol header length too long")
        if len(buf) < need:
            return Parsed(NEED_MORE)
        return _v2(bytes(buf[:need]), peer)
    if buf[:6] != b"PROXY ":
        return Parsed(ERROR)  # not a PROXY header: closed without a word, as Apache
    # the second read: the rest of the line after the first 15 bytes (a line of exactly
    # 15 bytes makes it take the next line), at most 108 bytes in all
    nl = buf.find(b"\n", MIN_HDR_LEN, V1_MAX)
    if nl < 0 and len(buf) < V1_MAX:
        return Parsed(NEED_MORE)
    rcvd = nl + 1 if nl >= 0 else V1_MAX
    cr = buf.find(b"\r", 0, rcvd - 1)
    if cr < 0 or buf[cr + 1:cr + 2] != b"\n":
        return _err(f"AH10185: RemoteIPProxyProtocol header too long, got {len(buf) - rcvd} "
                    "expected 0")
    line = bytes(buf[:cr]).decode("latin-1")
    got = _v1(line, peer)
    if got.state != DONE:
        return got
    if cr + 2 != rcvd:
        return _err("AH03513: RemoteIPProxyProtocol: internal error: have data left over; "
                    f" need={cr + 2}, rcvd={rcvd}, brigade-empty=1")
    return Parsed(DONE, got.client_ip, got.client_port, rcvd)


class ProxyPreface:
    """One connection's PROXY header, read before its first request."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def advance(self, conn: Connection, may_read: bool) -> bool:
        """Read what has arrived; True once the header is consumed (the connection then
        has the header's address and the bytes after it buffered), False when it waits
        for more (conn.closing: it was refused and the connection is to be closed)."""
        while True:
            got = parse(bytes(self.buf), (conn.client_ip, conn.remote_port))
            if got.state == DONE:
                rest = bytes(self.buf[got.consumed:])
                self.buf.clear()
                conn.adopt_address(got.client_ip, got.client_port, rest)
                return True
            if got.state == ERROR:
                if got.log is not None:
                    conn.srv.error_log.log(got.log.level, "remoteip", got.log.message,
                                           conn.peer_text)
                conn.closing = True
                return False
            if not may_read:
                return False
            try:
                data = os.read(conn.fd, 4096)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:
                conn.closing = True
                return False
            if not data:
                conn.eof = True
                conn.closing = True
                conn.srv.error_log.log("info", "remoteip", "AH10634: RemoteIPProxyProtocol: connection closed "
                                       "before a complete header was received",
                                       conn.peer_text)
                return False
            self.buf += data
            may_read = False
