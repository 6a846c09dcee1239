"""fastcore._sendfile and its twin: exact bytes per strategy, partial writes, errors, syscalls."""
from __future__ import annotations

import importlib
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from types import ModuleType

import pytest
from support.twins import Implementation

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STRATS = ["writev", "sendfile", "cork", "readwrite", "auto"]
HDR = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"


@pytest.fixture
def sf(impl: Implementation) -> ModuleType:
    return impl.load("sendfile")


@pytest.fixture(scope="module")
def bigfile(tmp_path_factory):
    path = tmp_path_factory.mktemp("sf") / "big.bin"
    data = os.urandom(4 * 1024 * 1024)
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    yield fd, data
    os.close(fd)


def tcp_pair(sndbuf: int | None = None) -> tuple[socket.socket, socket.socket]:
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    c = socket.create_connection(ls.getsockname())
    s, _ = ls.accept()
    ls.close()
    if sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sndbuf)
    return s, c


def read_all(c: socket.socket, n: int, timeout: float = 10.0) -> bytes:
    c.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        chunk = c.recv(1 << 16)
        if not chunk:
            break
        out += chunk
    return bytes(out)


def send_all(sf, s: socket.socket, header: bytes, ffd: int, off: int, count: int, strategy: str,
             body: bytes | None = None) -> tuple[int, int]:
    """Drive a non-blocking socket to completion with resume(); return (bytes, calls)."""
    total = len(header) + (len(body) if body is not None else count)
    sent = calls = 0
    h, o, n, b = header, off, count, body
    while sent < total:
        try:
            w = sf.send_response(s.fileno(), h, ffd, o, n, strategy, b)
        except BlockingIOError:
            select.select([], [s], [], 5)
            continue
        calls += 1
        assert w > 0
        sent += w
        h, o, n, b = sf.resume(header, off, count, sent, body)
    return sent, calls


@pytest.mark.parametrize("strategy", STRATS)
@pytest.mark.parametrize("off,count", [(0, 10240), (12345, 7000), (4095, 1), (100, 0)])
def test_exact_bytes_small(sf, bigfile, strategy, off, count):
    ffd, data = bigfile
    s, c = tcp_pair()
    with s, c:
        w = sf.send_response(s.fileno(), HDR, ffd, off, count, strategy)
        assert w == len(HDR) + count
        assert read_all(c, w) == HDR + data[off:off + count]


@pytest.mark.parametrize("strategy", STRATS)
def test_large_file_nonblocking_partial_writes(sf, bigfile, strategy):
    ffd, data = bigfile
    s, c = tcp_pair(sndbuf=16384)
    s.setblocking(False)
    got: list[bytes] = []
    off, count = 777, len(data) - 777 - 5
    first = sf.send_response(s.fileno(), HDR, ffd, off, count, strategy)
    assert 0 < first < len(HDR) + count  # nobody reads yet: a partial write
    t = threading.Thread(target=lambda: got.append(read_all(c, len(HDR) + count, 10)))
    t.start()
    try:
        h, o, n, _ = sf.resume(HDR, off, count, first)
        sent, calls = send_all(sf, s, h, ffd, o, n, strategy)
    finally:
        t.join()
        s.close()
        c.close()
    assert first + sent == len(HDR) + count
    assert got[0] == HDR + data[off:off + count]


def test_body_in_memory_nonblocking(sf):
    body = os.urandom(3 * 1024 * 1024)
    s, c = tcp_pair(sndbuf=16384)
    s.setblocking(False)
    got: list[bytes] = []
    first = sf.send_response(s.fileno(), HDR, -1, 0, 0, "auto", body)
    assert 0 < first < len(HDR) + len(body)
    t = threading.Thread(target=lambda: got.append(read_all(c, len(HDR) + len(body), 10)))
    t.start()
    try:
        h, _, _, b = sf.resume(HDR, 0, 0, first, body)
        sent, calls = send_all(sf, s, h, -1, 0, 0, "auto", b)
    finally:
        t.join()
        s.close()
        c.close()
    assert first + sent == len(HDR) + len(body)
    assert got[0] == HDR + body


def test_resume_crosses_header_boundary(sf):
    assert sf.resume(b"abcdef", 10, 100, 4) == (b"ef", 10, 100, None)
    assert sf.resume(b"abcdef", 10, 100, 6) == (b"", 10, 100, None)
    assert sf.resume(b"abcdef", 10, 100, 9) == (b"", 13, 97, None)
    assert sf.resume(b"ab", 0, 0, 3, b"xyz") == (b"", 0, 0, b"yz")


def test_eagain_with_nothing_written_is_blockingioerror(sf, bigfile):
    ffd, _ = bigfile
    s, c = tcp_pair(sndbuf=4096)
    with s, c:
        s.setblocking(False)
        with pytest.raises(BlockingIOError):
            for _ in range(10000):  # fill every buffer; the next call must say EAGAIN
                sf.send_response(s.fileno(), b"", ffd, 0, 1 << 20, "sendfile")


@pytest.mark.parametrize("strategy", STRATS)
def test_epipe_is_brokenpipeerror(sf, bigfile, strategy):
    ffd, _ = bigfile
    s, c = tcp_pair()
    c.close()
    time.sleep(0.02)
    with s:
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(50):  # first write may be accepted, then RST arrives
                sf.send_response(s.fileno(), HDR, ffd, 0, 4096, strategy)
                time.sleep(0.01)


def test_epipe_on_shutdown_socket(sf):
    s, c = socket.socketpair()
    with s, c:
        s.shutdown(socket.SHUT_WR)
        with pytest.raises(BrokenPipeError):
            sf.send_response(s.fileno(), HDR, -1, 0, 0, "writev", b"x")


@pytest.mark.parametrize("strategy", ["writev", "sendfile", "cork", "readwrite"])
def test_truncated_file_ends_response(sf, tmp_path, strategy):
    p = tmp_path / "t.bin"
    p.write_bytes(b"z" * 20000)
    fd = os.open(p, os.O_RDONLY)
    s, c = tcp_pair()
    try:
        os.truncate(p, 5000)  # the response promised 20000 body bytes
        w = 0
        with pytest.raises(sf.TruncatedFileError):  # never SIGBUS, never a loop
            for _ in range(3):
                h, o, n, _ = sf.resume(HDR, 0, 20000, w)
                w += sf.send_response(s.fileno(), h, fd, o, n, strategy)
        assert w <= len(HDR) + 5000
        s.close()
        assert read_all(c, 1 << 20) == (HDR + b"z" * 5000)[:w]
    finally:
        os.close(fd)
        c.close()


def test_unix_socket_and_pipe_targets(sf, bigfile):
    ffd, data = bigfile
    for strategy in STRATS:
        s, c = socket.socketpair()
        with s, c:
            w = sf.send_response(s.fileno(), HDR, ffd, 10, 5000, strategy)
            assert read_all(c, w) == HDR + data[10:5010]
    r, wfd = os.pipe()
    try:
        w = sf.send_response(wfd, HDR, -1, 0, 0, "writev", b"pipe-body")
        assert os.read(r, 100) == HDR + b"pipe-body" and w == len(HDR) + 9
    finally:
        os.close(r)
        os.close(wfd)


def test_bad_arguments(sf):
    with pytest.raises(ValueError):
        sf.send_response(0, b"", -1, 0, 0, "splice")
    with pytest.raises(ValueError):
        sf.send_response(0, b"", -1, -1, 0, "sendfile")


def test_http_date_and_date_header(sf):
    assert sf.http_date(784111777) == b"Sun, 06 Nov 1994 08:49:37 GMT"
    assert sf.http_date(0.9) == b"Thu, 01 Jan 1970 00:00:00 GMT"
    assert sf.http_date(1772323199) == b"Sat, 28 Feb 2026 23:59:59 GMT"
    before = sf.http_date(int(time.time()))
    d = sf.date_header()
    after = sf.http_date(int(time.time()))
    assert d.startswith(b"Date: ") and d.endswith(b" GMT\r\n") and len(d) == 37
    assert d[6:-2] in (before, after)


def test_lingering_close_drains_and_closes(sf):
    s, c = tcp_pair()
    fd = s.detach()
    c.sendall(b"x" * 100000)  # unread request bytes: a plain close() would send RST
    t = threading.Thread(target=sf.lingering_close, args=(fd, 2.0))
    t.start()
    c.settimeout(5)
    assert c.recv(10) == b""  # our FIN arrived (shutdown SHUT_WR)
    c.sendall(b"more")  # still accepted: the server is draining, not reset
    c.close()  # client EOF ends the drain at once
    t.join(5)
    assert not t.is_alive()
    with pytest.raises(OSError):
        os.fstat(fd)  # the descriptor was closed


def test_lingering_close_gives_up_after_quiet_timeout(sf):
    s, c = tcp_pair()
    fd = s.detach()
    t0 = time.monotonic()
    sf.lingering_close(fd, 0.2)  # client keeps the connection open and silent
    assert time.monotonic() - t0 < 2.0
    c.settimeout(2)
    assert c.recv(10) == b""
    c.close()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_lingering_close_bounded_by_max_time(sf):
    s, c = tcp_pair()
    fd = s.detach()
    stop = threading.Event()

    def chatter() -> None:
        while not stop.is_set():
            try:
                c.send(b"y" * 100)
            except OSError:
                return
            time.sleep(0.02)

    t = threading.Thread(target=chatter)
    t.start()
    try:
        t0 = time.monotonic()
        sf.lingering_close(fd, 0.5, 0.3)  # a client that never stops sending is cut off
        assert time.monotonic() - t0 < 5
    finally:
        stop.set()
        t.join()
        c.close()


STRACE_SCRIPT = textwrap.dedent("""
    import importlib, os, socket, sys
    sf = importlib.import_module(sys.argv[1])
    strategy, n = sys.argv[2], int(sys.argv[3])
    ffd = os.open(sys.argv[4], os.O_RDONLY)
    body = os.pread(ffd, 10240, 0) if strategy == "writev-mem" else None
    ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
    c = socket.create_connection(ls.getsockname()); s, _ = ls.accept()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    hdr = b"HTTP/1.1 200 OK\\r\\nContent-Length: 10240\\r\\n\\r\\n"
    st = "writev" if strategy == "writev-mem" else strategy
    fd = s.fileno()
    sf.send_response(fd, hdr, ffd, 0, 10240, st, body)  # warm-up (imports, first-use paths)
    os.write(2, b"@@START\\n")
    for _ in range(n):
        sf.send_response(fd, hdr, ffd, 0, 10240, st, body)
    os.write(2, b"@@END\\n")
""")

# send-path syscalls per 10 KiB response, as the module docstring promises
EXPECTED = {
    "writev-mem": {"sendmsg": 1},
    "sendfile": {"sendmsg": 1, "sendfile": 1},
    "cork": {"setsockopt": 2, "sendmsg": 1, "sendfile": 1},
    "readwrite": {"pread64": 1, "sendmsg": 1},
    "auto": {"pread64": 1, "sendmsg": 1},
}


@pytest.mark.parametrize("strategy", list(EXPECTED))
def test_strace_syscalls_per_response(impl, strategy, tmp_path):
    f = tmp_path / "10k.html"
    f.write_bytes(b"a" * 10240)
    script = tmp_path / "run.py"
    script.write_text(STRACE_SCRIPT)
    n = 20
    out = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=!futex", "-o", str(tmp_path / "trace"),
         sys.executable, str(script), impl.module_name("sendfile"), strategy, str(n), str(f)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert out.returncode == 0, out.stderr
    lines = (tmp_path / "trace").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if 'write(2, "@@START' in line)
    end = next(i for i, line in enumerate(lines) if 'write(2, "@@END' in line)
    counts: dict[str, int] = {}
    for line in lines[start + 1:end]:
        name = line.split("(", 1)[0].split()[-1]
        counts[name] = counts.get(name, 0) + 1
    expected = {k: v * n for k, v in EXPECTED[strategy].items()}
    if impl.twin:
        expected["getsockname"] = n  # wrapping the fd in a Python socket object, once per call
    assert counts == expected, counts


def test_no_sigpipe_death(sf):
    """MSG_NOSIGNAL: even with SIGPIPE at its default action the process survives EPIPE."""
    old = signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        s, c = socket.socketpair()
        c.close()
        with s, pytest.raises(BrokenPipeError):
            sf.send_response(s.fileno(), HDR, -1, 0, 0, "writev", b"body")
    finally:
        signal.signal(signal.SIGPIPE, old)


def _serve_once(sf, ffd: int, size: int, linger: bool) -> tuple[int, bool]:
    """Client asks for a `size`-byte body, sends 16 KiB more 5 ms later, then reads it all.

    Returns (body bytes received, connection reset seen)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def server() -> None:
        s, _ = ls.accept()
        s.recv(100)  # the request line only; the extra 16 KiB stays unread
        hdr = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
        sent, total = 0, len(hdr) + size
        while sent < total:
            h, o, n, _ = sf.resume(hdr, 0, size, sent)
            sent += sf.send_response(s.fileno(), h, ffd, o, n, "sendfile")
        fd = s.detach()
        if linger:
            sf.lingering_close(fd, 2.0)
        else:
            os.close(fd)

    t = threading.Thread(target=server)
    t.start()
    c = socket.create_connection(ls.getsockname())
    got, reset = 0, False
    try:
        c.sendall(b"GET /4m HTTP/1.1\r\n\r\n")
        time.sleep(0.005)
        c.sendall(b"x" * 16384)
        time.sleep(0.05)  # let the server finish writing and close while data is in flight
        c.settimeout(10)
        while True:
            chunk = c.recv(1 << 16)
            if not chunk:
                break
            got += len(chunk)
    except ConnectionResetError:
        reset = True
    finally:
        c.close()
        t.join()
        ls.close()
    return got, reset


def test_lingering_close_is_why_the_client_gets_everything(sf, bigfile):
    ffd, data = bigfile
    size = len(data)
    head = len(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
    got, reset = _serve_once(sf, ffd, size, linger=True)
    assert (got, reset) == (head + size, False)
    got, reset = _serve_once(sf, ffd, size, linger=False)  # plain close(): RST, truncated
    assert reset and got < head + size


def test_multipart_byteranges_as_one_call_sequence(sf, bigfile):
    """Several ranges of one file: one send_response per part header + range, exact bytes."""
    ffd, data = bigfile
    ranges = [(0, 100), (5000, 1), (4 * 1024 * 1024 - 50, 50), (123456, 20000)]
    s, c = tcp_pair()
    expect = b""
    with s, c:
        for i, (off, n) in enumerate(ranges):
            part = b"\r\n--SEP\r\nContent-Range: bytes %d-%d/%d\r\n\r\n" % (off, off + n - 1, len(data))
            if i == 0:
                part = HDR + part
            w = sf.send_response(s.fileno(), part, ffd, off, n, "auto")
            assert w == len(part) + n
            expect += part + data[off:off + n]
        tail = b"\r\n--SEP--\r\n"
        sf.send_response(s.fileno(), tail, -1, 0, 0, "auto")
        assert read_all(c, len(expect) + len(tail)) == expect + tail


def test_same_public_api_as_twin():
    ext = importlib.import_module("fastcore._sendfile")
    pure = importlib.import_module("fastcore._pure.sendfile")
    names = {"STRATEGIES", "AUTO_SENDFILE_MIN", "SECONDS_TO_LINGER", "MAX_SECS_TO_LINGER",
             "TruncatedFileError", "send_response", "resume", "lingering_close", "http_date",
             "date_header", "bench_send"}
    for mod in (ext, pure):
        assert names <= set(dir(mod)), mod
    assert (ext.STRATEGIES, ext.AUTO_SENDFILE_MIN) == (pure.STRATEGIES, pure.AUTO_SENDFILE_MIN)


def test_no_descriptor_leak(sf, bigfile, tmp_path):
    ffd, _ = bigfile
    before = len(os.listdir("/proc/self/fd"))
    for strategy in STRATS:
        s, c = tcp_pair()
        sf.send_response(s.fileno(), HDR, ffd, 0, 20000, strategy)
        sf.lingering_close(s.detach(), 0.05)
        c.close()
    p = tmp_path / "gone.bin"
    p.write_bytes(b"q" * 100)
    fd = os.open(p, os.O_RDONLY)
    os.truncate(p, 0)
    s, c = tcp_pair()
    with s, c, pytest.raises(sf.TruncatedFileError):
        sf.send_response(s.fileno(), b"", fd, 0, 100, "writev")
    os.close(fd)
    assert len(os.listdir("/proc/self/fd")) == before
