"""Replay the saved fuzz corpora and regression inputs through the compiled extensions
themselves (fastcore._request's parser, fastcore._fastpath's FastCache + FastConn over a
socketpair with a log set), as opposed to the libFuzzer harnesses' own builds of the same
headers.  Run by tests/integration/test_build_modes.py on a FASTCORE_SANITIZE build, so a
memory error in the extension as Python drives it aborts the process.

    python3 tests/fuzz/replay_extensions.py   (PYTHONPATH names the build to test)
Prints one line "replayed N heads, M streams" on success."""
from __future__ import annotations

import os
import socket
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _inputs(target: str, skip: int) -> list[bytes]:
    out = []
    for base in (os.path.join(ROOT, "fuzz", "corpus", target),
                 os.path.join(HERE, "regressions", target)):
        if os.path.isdir(base):
            for name in sorted(os.listdir(base)):
                with open(os.path.join(base, name), "rb") as fh:
                    out.append(fh.read()[skip:])
    return out


def replay_heads(heads: list[bytes]) -> None:
    from fastcore import _request

    for raw in heads:
        for strict in (True, False):
            for limits in ((8190, 100, 8190), (20, 3, 20)):
                try:
                    _request.parse_head(raw, *limits, strict=strict)
                except _request.HeadError:
                    pass


def replay_streams(streams: list[bytes]) -> None:
    from fastcore import _fastpath
    from fastcore._pure.fastlog import compile_log_format

    tmp = tempfile.mkdtemp(prefix="fc-replay-")
    cache = _fastpath.FastCache(16, 1 << 20)
    cache.configure(b"Server: Apache\r\n", 8190, 100, 8190)
    log = os.open(os.devnull, os.O_WRONLY)
    prog = compile_log_format('%h %l %u %t "%r" %>s %b "%{Referer}i" %{User-Agent}i %D %k')
    assert prog is not None
    cache.set_log_set(0, [(log, prog, False), (log, prog, True)])
    for name, size, content in (("a", 100, True), ("b", 70000, False), ("e", 0, True)):
        path = os.path.join(tmp, name)
        with open(path, "wb") as fh:
            fh.write(b"x" * size)
        st = os.stat(path)
        mid = b"Content-Length: %d\r\n" % size
        assert cache.put(0, b"x", b"/" + name.encode(), path.encode(), st.st_ino, size,
                         st.st_mtime_ns, mid, b"Content-Type: text/plain\r\n", log_set=0,
                         want_content=content)
    for data in streams:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        conn = _fastpath.FastConn(cache, a.fileno(), False, b"127.0.0.1", 40000)
        sent = 0
        for _ in range(len(data) + 64):
            if sent < len(data):
                try:
                    sent += b.send(data[sent:sent + 4096])
                except BlockingIOError:
                    pass
                if sent == len(data):
                    b.shutdown(socket.SHUT_WR)
            rc = conn.serve()
            try:
                while b.recv(65536):
                    pass
            except BlockingIOError:
                pass
            if rc in (_fastpath.FALLBACK, _fastpath.CLOSED):
                conn.take()
                break
        conn.close()
        a.close()
        b.close()
    cache.flush_logs()
    os.close(log)


def main() -> int:
    heads = _inputs("request_head", 2) + _inputs("fastparse", 1)
    streams = _inputs("serve_loop", 2)
    replay_heads(heads + streams)
    replay_streams(streams)
    print(f"replayed {len(heads) + len(streams)} heads, {len(streams)} streams")
    return 0


if __name__ == "__main__":
    sys.exit(main())
