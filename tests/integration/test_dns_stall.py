"""A slow resolver holds only the requests that need its answer (issue 12).

fastcore (event MPM, HostnameLookups On, %h logged) runs in its own mount namespace whose
/etc/resolv.conf is bind-mounted to name a DNS server this test runs on loopback: it
delays the PTR answer for 127.0.0.2 and answers 127.0.0.3 at once.  Neither address is in
/etc/hosts, so glibc asks that server.  Requests from 127.0.0.2 wait for its name (one
lookup for the three of them); one from 127.0.0.3 made meanwhile is answered at once, and
the access log names both clients.
"""
from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from support.ports import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
MODS = "/usr/lib/apache2/modules"
STALL = 2.5  # seconds the PTR answer for the slow client is held
NAMES = {"2.0.0.127.in-addr.arpa": "slow.client.test", "3.0.0.127.in-addr.arpa":
         "fast.client.test"}

CONF = """
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule mime_module {mods}/mod_mime.so
ServerRoot "{run}"
PidFile "{run}/pid"
ErrorLog "{run}/error_log"
Listen 127.0.0.1:{port}
ServerName localhost
DocumentRoot "{root}"
HostnameLookups On
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
LogFormat "%h %r %>s" short
CustomLog "{run}/access_log" short
<Directory "{root}">
  Require all granted
</Directory>
"""


def _qname(msg: bytes) -> tuple[str, int]:
    """The question's name and the offset after its type and class."""
    labels, i = [], 12
    while msg[i]:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return ".".join(labels), i + 5


def _ptr_answer(query: bytes, name: str | None) -> bytes:
    """The response to `query`: one PTR record, or NXDOMAIN when name is None."""
    qend = _qname(query)[1]
    flags = 0x8180 if name is not None else 0x8183
    head = query[:2] + struct.pack(">HHHHH", flags, 1, 1 if name else 0, 0, 0)
    out = head + query[12:qend]
    if name is not None:
        rdata = b"".join(bytes((len(p),)) + p.encode() for p in name.split(".")) + b"\0"
        out += b"\xc0\x0c" + struct.pack(">HHIH", 12, 1, 60, len(rdata)) + rdata
    return out


class SlowDns:
    """A UDP DNS server answering PTR questions, the slow client's after STALL."""

    def __init__(self, addr: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 53))
        self.sock.settimeout(0.2)
        self.asked: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                msg, peer = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            name, _ = _qname(msg)
            self.asked.append(name)
            delay = STALL if name.startswith("2.0.0.127.") else 0.0
            threading.Timer(delay, self._reply, (msg, peer, NAMES.get(name.lower()))).start()

    def _reply(self, msg: bytes, peer: tuple[str, int], name: str | None) -> None:
        try:
            self.sock.sendto(_ptr_answer(msg, name), peer)
        except OSError:
            pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def _get_from(source: str, port: int, out: dict[str, float]) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=15,
                                  source_address=(source, 0)) as s:
        s.sendall(b"GET /plain.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 "), data[:80]
    out[source] = time.monotonic() - started


def test_slow_ptr_answer_holds_only_its_client(tmp_path: Path) -> None:
    run, root = tmp_path / "run", tmp_path / "root"
    run.mkdir()
    root.mkdir()
    (root / "plain.txt").write_text("text\n")
    dns = SlowDns("127.27.0.53")
    resolv = run / "resolv.conf"
    resolv.write_text("nameserver 127.27.0.53\noptions timeout:5 attempts:1\n")
    port = free_port()
    conf = run / "httpd.conf"
    conf.write_text(CONF.format(mods=MODS, run=run, port=port, root=root))
    inner = (f"mount --bind {resolv} /etc/resolv.conf && exec {sys.executable} -m fastcore"
             f" -DFOREGROUND -f {conf}")
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", inner],
                            cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, 20)
        times: dict[str, float] = {}
        # three connections of the slow client: more than the two lookups in flight that
        # once held every other client's lookup behind them
        slow = [threading.Thread(target=_get_from, args=("127.0.0.2", port, times))
                for _ in range(3)]
        for t in slow:
            t.start()
        deadline = time.monotonic() + 5
        while not any(n.startswith("2.0.0.127.") for n in dns.asked):
            assert time.monotonic() < deadline, "the server never asked the test's DNS"
            time.sleep(0.02)
        _get_from("127.0.0.3", port, times)  # while the slow PTR answer is held
        for t in slow:
            t.join(15)
        assert times["127.0.0.3"] < 1.0, times
        assert times["127.0.0.2"] >= STALL - 0.5, times
        time.sleep(0.2)
        log = (run / "access_log").read_text().splitlines()
        assert [ln.split(" ")[0] for ln in log] == ["fast.client.test"] + ["slow.client.test"] * 3
        ptrs = [n for n in dns.asked if n.endswith(".in-addr.arpa")]
        assert sorted(ptrs) == ["2.0.0.127.in-addr.arpa", "3.0.0.127.in-addr.arpa"]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()
        dns.close()
