"""Bytes on the wire: send a request exactly as given, split what comes back into
responses, read one response of a known body length."""
from __future__ import annotations

import socket

# The Server field the fast path's cache is configured with in the hot-path tests
SERVER = b"Server: Apache/2.4\r\n"


def get(port: int, path: str = "/", timeout: float = 5.0, headers: bytes = b""
        ) -> tuple[int, bytes]:
    """One HTTP/1.0 GET (headers: extra CRLF-terminated fields); (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n".encode() + headers + b"\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def recv_response(sock: socket.socket, body_len: int) -> tuple[bytes, bytes]:
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the head"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    while len(body) < body_len:
        chunk = sock.recv(1 << 20)
        assert chunk
        body += chunk
    return head + b"\r\n\r\n", body


def raw_request(port: int, data: bytes, timeout: float = 5.0, half_close: bool = True) -> bytes:
    """Send `data` verbatim, read until the server closes (or timeout); return all bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if half_close:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def parse_responses(data: bytes, head_request: bool = False) -> list[tuple[int, dict[str, str], bytes]]:
    """Split raw bytes into (status, lower-cased headers, body) triples (Content-Length
    bodies; no body for 1xx/204/304 or HEAD)."""
    out = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end].decode("latin-1").split("\r\n")
        data = data[end + 4:]
        parts = head[0].split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            break
        headers: dict[str, str] = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if head_request or status in (204, 304) or status < 200:
            body = b""
        elif "content-length" in headers:
            n = int(headers["content-length"])
            body, data = data[:n], data[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                line, _, data = data.partition(b"\r\n")
                size = int(line.split(b";")[0] or b"0", 16)
                if size == 0:
                    _, _, data = data.partition(b"\r\n")
                    break
                body += data[:size]
                data = data[size + 2:]
        else:
            body, data = data, b""
        out.append((status, headers, body))
    return out


# An answer as the differential tests compare it: status line, fields but Date/Server
# in order, body
Answer = tuple[str, list[tuple[str, str]], bytes]


def dechunked(body: bytes) -> bytes:
    """A chunked body's data (where the chunks are cut differs between the servers)."""
    out = b""
    while True:
        size, _, body = body.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            return out
        out, body = out + body[:n], body[n + 2:]


def answer_fields(data: bytes) -> Answer:
    """The status line, the fields but Date/Server in order, and the body (dechunked)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = [tuple(x.split(": ", 1)) for x in lines[1:]]
    kept = [(k, v) for k, v in fields if k not in ("Date", "Server")]
    if ("Transfer-Encoding", "chunked") in kept:
        body = dechunked(body)
    return lines[0], kept, body  # type: ignore[return-value]
