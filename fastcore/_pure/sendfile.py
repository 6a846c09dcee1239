"""Pure-Python twin of fastcore._sendfile (FASTCORE_NO_EXTENSIONS=1): same API, same syscalls.

Used only when the extension is explicitly disabled; it follows the same strategies so that
behaviour (bytes on the wire, partial writes, errors) is identical, only slower.
"""
from __future__ import annotations

import errno
import mmap
import os
import select
import socket
import threading
import time

STRATEGIES = ("writev", "sendfile", "cork", "readwrite")
AUTO_SENDFILE_MIN = 16384
SECONDS_TO_LINGER = 2.0
MAX_SECS_TO_LINGER = 30.0
_RW_BUF = 65536
_WDAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MON = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class TruncatedFileError(OSError):
    """The file ended before offset+count: the promised body cannot be completed."""


class _Partial(Exception):
    """Internal: stop with `done` bytes written (EAGAIN or error after progress)."""

    def __init__(self, done: int, err: OSError | None) -> None:
        super().__init__(done)
        self.done = done
        self.err = err


class _Out:
    """The client descriptor, wrapped once per call (a Python socket object costs one
    getsockname; non-sockets such as pipes fall back to os.writev)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        try:
            self.sock: socket.socket | None = socket.socket(
                socket.AF_INET, socket.SOCK_STREAM, 0, fileno=fd)
        except OSError as exc:
            if exc.errno != errno.ENOTSOCK:
                raise
            self.sock = None

    def sendv(self, bufs: list, more: bool = False) -> int:
        """One sendmsg(MSG_NOSIGNAL) (writev on non-sockets); EINTR retried by Python."""
        if self.sock is None:
            return os.writev(self.fd, bufs)
        return self.sock.sendmsg(bufs, (), socket.MSG_NOSIGNAL | (socket.MSG_MORE if more else 0))

    def setcork(self, on: int) -> bool:
        if self.sock is None:
            return False
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, on)
            return True
        except OSError:
            return False  # not TCP (AF_UNIX): send uncorked

    def release(self) -> None:
        if self.sock is not None:
            self.sock.detach()


def _map_error(exc: OSError) -> OSError:
    if exc.errno == errno.EPIPE and not isinstance(exc, BrokenPipeError):
        return BrokenPipeError(exc.errno, os.strerror(exc.errno))
    if exc.errno == errno.ECONNRESET and not isinstance(exc, ConnectionResetError):
        return ConnectionResetError(exc.errno, os.strerror(exc.errno))
    return exc


def _sendv_all(out: _Out, bufs: list, more: bool = False) -> int:
    views = [memoryview(b).cast("B") for b in bufs if len(b)]
    done = 0
    try:
        while views:
            try:
                w = out.sendv(views, more)
            except OSError as exc:
                if done:
                    raise _Partial(done, exc) from None
                raise
            done += w
            while views and w >= len(views[0]):
                w -= len(views[0])
                views.pop(0).release()
            if views:
                views[0] = views[0][w:]
        return done
    finally:
        for v in views:  # a traceback must not keep an mmap exported
            v.release()
        views.clear()


def _sendfile_all(out: _Out, file_fd: int, offset: int, count: int) -> int:
    done = 0
    while done < count:
        try:
            w = os.sendfile(out.fd, file_fd, offset + done, min(count - done, 0x7FFFF000))
        except OSError as exc:
            if done:
                raise _Partial(done, exc) from None
            raise
        if w == 0:
            if done:
                raise _Partial(done, None)
            raise TruncatedFileError(errno.ENODATA, "file shorter than the requested range")
        done += w
    return done


def _send_sendfile(out: _Out, header: bytes, file_fd: int, offset: int, count: int) -> int:
    h = 0
    if header:
        h = _sendv_all(out, [header], more=count > 0)
        if h < len(header) or not count:
            return h
    return _file_after_header(out, h, file_fd, offset, count)


def _file_after_header(out: _Out, h: int, file_fd: int, offset: int, count: int) -> int:
    """sendfile the body once h header bytes went out: a partial or failed body still
    reports the bytes already sent (an error only when nothing was)."""
    try:
        return h + _sendfile_all(out, file_fd, offset, count)
    except _Partial as p:
        return h + p.done
    except OSError:
        if h:
            return h
        raise


def _send_cork(out: _Out, header: bytes, file_fd: int, offset: int, count: int) -> int:
    corked = out.setcork(1)
    try:
        h = _sendv_all(out, [header]) if header else 0
        if h < len(header) or not count:
            return h
        return _file_after_header(out, h, file_fd, offset, count)
    finally:
        if corked:
            out.setcork(0)


def _send_mmap(out: _Out, header: bytes, file_fd: int, offset: int, count: int) -> int:
    if not count:
        return _sendv_all(out, [header])
    base = offset - offset % mmap.ALLOCATIONGRANULARITY
    delta = offset - base
    size = os.fstat(file_fd).st_size
    if size < offset + count:
        # Python reads a mapping from user space, where a page past EOF is SIGBUS: check the
        # size first (the extension lets the kernel's copy fail with EFAULT instead).
        if size <= offset:
            if header:
                return _sendv_all(out, [header])
            raise TruncatedFileError(errno.ENODATA, "file shorter than the requested range")
        count = size - offset
    with mmap.mmap(file_fd, count + delta, mmap.MAP_SHARED, mmap.PROT_READ, offset=base) as m:
        view = memoryview(m)
        part = view[delta:delta + count]
        try:
            return _sendv_all(out, [header, part])
        finally:
            part.release()
            view.release()


def _send_readwrite(out: _Out, header: bytes, file_fd: int, offset: int, count: int) -> int:
    if not count:
        return _sendv_all(out, [header])
    done = body = 0
    first = True
    while body < count:
        try:
            data = os.pread(file_fd, min(count - body, _RW_BUF), offset + body)
        except OSError:
            if done:
                return done
            raise
        if not data:
            if first and header:
                return _sendv_all(out, [header])
            if done:
                return done
            raise TruncatedFileError(errno.ENODATA, "file shorter than the requested range")
        parts = [header, data] if first else [data]
        expect = sum(len(p) for p in parts)
        try:
            w = _sendv_all(out, parts)
        except _Partial as p:
            return done + p.done
        except OSError:
            if done:
                return done
            raise
        done += w
        if w < expect:
            return done
        body += len(data)
        first = False
    return done


def send_response(fd: int, header: bytes, file_fd: int, offset: int, count: int,
                  strategy: str = "auto", body: bytes | None = None) -> int:
    """Send header + file[offset:offset+count] (or header + body); return bytes written."""
    if strategy != "auto" and strategy not in STRATEGIES:
        raise ValueError(f"unknown send strategy {strategy!r}; one of auto, {', '.join(STRATEGIES)}")
    if offset < 0 or count < 0:
        raise ValueError("offset and count must be >= 0")
    header = bytes(header)
    out = _Out(fd)
    try:
        if body is not None:
            return _sendv_all(out, [header, body])
        if strategy == "auto":
            strategy = "sendfile" if count >= AUTO_SENDFILE_MIN else "readwrite"
        if strategy == "writev":
            return _send_mmap(out, header, file_fd, offset, count)
        if strategy == "sendfile":
            return _send_sendfile(out, header, file_fd, offset, count)
        if strategy == "cork":
            return _send_cork(out, header, file_fd, offset, count)
        return _send_readwrite(out, header, file_fd, offset, count)
    except _Partial as p:
        return p.done
    except OSError as exc:
        raise _map_error(exc) from None
    finally:
        out.release()


def resume(header: bytes, offset: int, count: int, sent: int, body: bytes | None = None):
    """Arguments for the next send_response() call after `sent` bytes went out."""
    h = len(header)
    if sent <= h:
        return header[sent:], offset, count, body
    b = sent - h
    if body is not None:
        return b"", offset, count, body[b:]
    return b"", offset + b, count - b, None


def lingering_close(fd: int, timeout: float = SECONDS_TO_LINGER,
                    max_time: float = MAX_SECS_TO_LINGER) -> None:
    """shutdown(SHUT_WR), drain with poll waits of `timeout` s (at most `max_time` s), close."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fileno=fd)
    try:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return  # peer gone: just close
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = None
        while True:
            wait = timeout
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            if not poller.poll(int(wait * 1000)):
                break
            try:
                data = sock.recv(2048, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                break
            if not data:
                break
            if deadline is None:
                deadline = time.monotonic() + max_time
    finally:
        sock.close()


def http_date(t: float) -> bytes:
    """RFC 7231 IMF-fixdate of epoch seconds t."""
    tm = time.gmtime(t // 1)
    if tm.tm_year > 9999:
        raise OverflowError("date out of range for an HTTP date")
    return (f"{_WDAY[tm.tm_wday]}, {tm.tm_mday:02d} {_MON[tm.tm_mon - 1]} {tm.tm_year:04d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} GMT").encode()


_date = threading.local()


def date_header() -> bytes:
    """b'Date: <now>\\r\\n', rebuilt at most once per second (per thread)."""
    now = int(time.time())
    if getattr(_date, "sec", None) != now:
        _date.sec = now
        _date.value = b"Date: " + http_date(now) + b"\r\n"
    return _date.value


def bench_send(strategy: str, header: bytes, file_fd: int, count: int, n: int,
               body: bytes | None = None, cpu_send: int = -1, cpu_read: int = -1) -> float:
    """ns per response for n responses over a loopback TCP pair (Python loop)."""
    if body is not None:
        count = len(body)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    c = socket.create_connection(ls.getsockname())
    s, _ = ls.accept()
    ls.close()
    for x in (s, c):
        x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    total = [0]

    def drain() -> None:
        if cpu_read >= 0:
            os.sched_setaffinity(0, {cpu_read})
        while data := c.recv(65536):
            total[0] += len(data)

    old = os.sched_getaffinity(0)
    t = threading.Thread(target=drain)
    t.start()
    if cpu_send >= 0:
        os.sched_setaffinity(0, {cpu_send})
    try:
        t0 = time.perf_counter_ns()
        per = len(header) + count
        for _ in range(n):
            sent = 0
            h, off, cnt, bd = header, 0, count, body
            while sent < per:
                w = send_response(s.fileno(), h, file_fd, off, cnt, strategy, bd)
                sent += w
                h, off, cnt, bd = resume(header, 0, count, sent, body)
        s.shutdown(socket.SHUT_WR)
        t.join()
        ns = (time.perf_counter_ns() - t0) / n
    finally:
        s.close()
        t.join()
        c.close()
        os.sched_setaffinity(0, old)
    if total[0] != n * per:
        raise RuntimeError("benchmark reader did not receive every byte")
    return ns
