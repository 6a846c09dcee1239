"""fastcore's HttpServer inside the test process: on a listening socket with a thread per
connection (FastcoreThread), or one connection over a socket pair (exchange,
engine_exchange), and the small model-built server the HttpServer tests use (make_server)."""
from __future__ import annotations

import os
import re
import socket
import threading
import time
from typing import Literal

from fastcore._ext import load
from fastcore._pure.scoreboard import Scoreboard
from fastcore.config import load as load_config
from fastcore.config.merge import DirResolver
from fastcore.config.model import ServerConfig, VirtualHost
from fastcore.config.modules import STATIC
from fastcore.core.server import HttpServer
from fastcore.modules.mod_log_config import NAME as LOG
from fastcore.modules.mod_log_config import LogServer, LogSpec
from support.http_fakes import FakeResolver, effective_defaults

# What the model-built server loads: the compiled-in modules and those a stock httpd.conf
# loads for a static site (their hooks run only when loaded, as in httpd)
MODEL_MODULES = (*STATIC, "mime_module", "dir_module", "authz_core_module",
                 "negotiation_module", "status_module")
DATE = re.compile(rb"Date: [^\r]*\r\n")


class FastcoreThread:
    """fastcore's HttpServer on a listening socket, one thread per connection.  `board` is
    the scoreboard: "pure" (the twin's, which the C engine cannot write, so every
    connection stays on the Python path), "compiled" (the extension's: connections run the
    C engine first and it counts them), "none" (the C engine first, nothing counted)."""

    def __init__(self, conf_path: str,
                 board: Literal["pure", "compiled", "none"] = "pure") -> None:
        self.cfg = load_config(conf_path)
        self.scoreboard = (Scoreboard(1, 1) if board == "pure"
                           else load("scoreboard").Scoreboard(1, 1) if board == "compiled"
                           else None)
        self.srv = HttpServer(self.cfg, self.scoreboard, DirResolver(self.cfg))
        lst = self.cfg.listeners[0]
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((lst.host or "127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.threads: list[threading.Thread] = []
        self.stopping = False
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                fd, peer = self.sock._accept()
            except OSError:
                return
            if self.stopping:
                os.close(fd)
                return
            t = threading.Thread(target=self.srv.serve_blocking, args=(fd, peer, -1), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping = True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self.acceptor.join(5)
        self.sock.close()
        for t in self.threads:
            t.join(10)
        self.srv.close()
        if self.scoreboard is not None:
            self.scoreboard.close()


def make_server(tmp: str, buffered: bool = False, fmt: str = "%>s %r %k %X", tokens: str = "full",
                **vh: object) -> HttpServer:
    doc = os.path.join(tmp, "htdocs")
    os.makedirs(os.path.join(doc, "sub"), exist_ok=True)
    for name, data in (("a.txt", b"hello a\n"), ("big.bin", os.urandom(300_000)),
                       ("sub/index.html", b"<p>sub</p>\n")):
        with open(os.path.join(doc, name), "wb") as f:
            f.write(data)
        os.utime(os.path.join(doc, name), (1_600_000_000, 1_600_000_000))
    dd = vh.pop("dir_defaults", None) or effective_defaults()
    main = VirtualHost(addrs=(), server_name="localhost", document_root=doc, dir_defaults=dd,
                       module_config={LOG: LogServer((LogSpec(os.path.join(tmp, "access_log"),
                                                              fmt),))}, **vh)
    cfg = ServerConfig(config_file="", server_root=tmp, runtime_dir=tmp, pid_file="", listeners=(),
                       main=main, error_log=os.path.join(tmp, "error_log"), buffered_logs=buffered,
                       server_tokens=tokens, modules=MODEL_MODULES)
    return HttpServer(cfg, None, FakeResolver(cfg))


def exchange(srv: HttpServer, data: bytes, half_close: bool = True, pause: float = 0) -> bytes:
    a, b = socket.socketpair()
    t = threading.Thread(target=srv.serve_blocking, args=(a.detach(), ("127.0.0.1", 4000), -1))
    t.start()
    b.sendall(data)
    if pause:
        time.sleep(pause)
    if half_close:
        b.shutdown(socket.SHUT_WR)
    out = b""
    b.settimeout(10)
    while chunk := b.recv(65536):
        out += chunk
    b.close()
    t.join(10)
    assert not t.is_alive()
    return out


def engine_exchange(srv: HttpServer, engine: bool, reqs: list[bytes],
                    peer: tuple[str, int] = ("127.0.0.1", 40000)) -> list[bytes]:
    """Send each request on keep-alive connections (a new one after a close) from `peer`,
    one at a time; return the responses with the Date line masked."""
    out = []
    a = b = conn = None
    for req in reqs:
        if conn is None:
            a, b = socket.socketpair()
            a.setblocking(False)
            conn = srv.connection(a.detach(), peer, -1)
            if not engine:
                conn.link = None
        b.sendall(req)
        got = b""
        b.settimeout(5)
        state, _ = conn.run()
        while True:
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"Content-Length: (\d+)", head)
                need = 0 if req.startswith(b"HEAD") or m is None else int(m.group(1))
                if len(body) >= need:
                    break
            if state == 2:
                b.setblocking(False)
                try:
                    got += b.recv(1 << 20)
                except BlockingIOError:
                    pass
                b.settimeout(5)
                state, _ = conn.run()
                continue
            got += b.recv(1 << 20)
        out.append(DATE.sub(b"Date: D\r\n", got))
        if state == 3:
            b.close()  # the client first: the server's lingering close then ends at once
            conn.close()
            conn = None
    if conn is not None:
        b.close()
        conn.close()
    return out
