"""Bad input never leaks a descriptor, never kills the worker, never shows a traceback:
a hostile corpus against a server process, /proc/<pid>/fd counted before and after."""
from __future__ import annotations

import os
import random
import subprocess
import sys

from support.apache_oracle import ApacheOracle
from support.diff_site import build_site, requests
from support.wire import parse_responses, raw_request

HERE = os.path.dirname(os.path.abspath(__file__))

ROOT = os.path.dirname(os.path.dirname(HERE))


def corpus() -> list[bytes]:
    rng = random.Random(4)
    out = [raw for rid, raw in requests() if rid.split("-")[0] in ("mal", "body", "hostile", "host", "abs", "v09", "range", "cond")]
    out += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))) for _ in range(40)]
    out += [b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"\xff" * 100 + b"\r\n\r\n",
            b"GET /" + b"%" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1\r\na\r\n" * 500,
            b"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=" + b"0-1," * 300 + b"\r\n\r\n",
            b"\r\n" * 5000, b"GET /r.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 20]
    return out


def test_hostile_corpus_leaks_nothing(tmp_path: object) -> None:
    tmp = str(tmp_path)
    body = build_site(tmp).replace("LOGDIR", "logs")
    os.makedirs(os.path.join(tmp, "logs"))
    conf = ApacheOracle(tmp, body)
    with open(conf.conf_path, "w") as f:
        f.write(conf.config_text())
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(HERE), "support", "http_server_proc.py"), conf.conf_path],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    try:
        ready = proc.stdout.readline().split()
        assert ready[0] == "READY"
        port = int(ready[2])
        ok = b"GET /page.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        assert parse_responses(raw_request(port, ok))[0][0] == 200   # warm the caches

        def fds() -> int:
            proc.stdin.write("FDS\n")
            proc.stdin.flush()
            return int(proc.stdout.readline().split()[1])

        before = fds()
        statuses = set()
        for raw in corpus():
            data = raw_request(port, raw, timeout=10)
            if data.startswith(b"HTTP/1.1 "):
                statuses.add(int(data[9:12]))
        assert fds() == before
        assert statuses <= {200, 206, 301, 302, 304, 400, 403, 404, 405, 408, 412, 413, 414,
                            416, 417, 500, 501}
        assert parse_responses(raw_request(port, ok))[0][0] == 200   # still serving
        proc.stdin.close()
        assert proc.wait(30) == 0
        err = proc.stderr.read()
        assert "Traceback" not in err
        with open(os.path.join(tmp, "error_log")) as f:
            assert "internal error" not in f.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
