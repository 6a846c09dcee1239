"""mod_log_config formats, escaping, buffering."""
from __future__ import annotations

import os
import time

from fastcore.modules.mod_log_config import COMBINED, COMMON, AccessLog, ErrorLog, compile_format


class Rec:
    client_ip = "10.0.0.1"
    remote_host = None
    local_ip = "127.0.0.1"
    local_port = 8080
    remote_port = 5555
    request_line = 'GET /a"b HTTP/1.1'
    status = 404
    original_status = 404
    bytes_sent = 0
    start_time = time.mktime((2026, 11, 26, 11, 16, 35, 0, 0, -1))
    duration_us = 1234567
    headers_in = {"referer": "http://r/", "user-agent": "UA\x01x"}
    headers_out = {"etag": '"x"'}
    ctype = "text/html; charset=utf-8"
    vhost_name = "www.example.com"
    host_name = "alias.example.com"
    port = 80
    keepalive_count = 2
    conn_status = "+"
    uri_path = "/a b"
    query = "x=1"
    method = "GET"
    protocol = "HTTP/1.1"
    filename = "/srv/a"
    bytes_in = 100
    bytes_out = 300
    user = None
    handler = None


def test_common_and_combined() -> None:
    r = Rec()
    t = time.strftime("%d/%b/%Y:%H:%M:%S", time.localtime(r.start_time))
    line = compile_format(COMMON)(r)
    assert line.startswith(f"10.0.0.1 - - [{t} ")
    assert line.endswith('] "GET /a\\"b HTTP/1.1" 404 -')
    assert compile_format(COMBINED)(r).endswith('"http://r/" "UA\\x01x"')


def test_directives() -> None:
    r = Rec()
    fmt = "%B %D %T %{ms}T %{Content-Type}o %{ETag}o %v %V %p %{remote}p %k %X %U %q %m %H %>s %s %f %I %O %% %a %A"
    out = compile_format(fmt)(r)
    assert out == ("0 1234567 1 1234 text/html \\\"x\\\" www.example.com alias.example.com 80 5555 2 + /a b "
                   "?x=1 GET HTTP/1.1 404 404 /srv/a 100 300 % 10.0.0.1 127.0.0.1")
    assert compile_format("%P")(r) == str(os.getpid())
    assert compile_format("%{X-None}i|%{sec}t")(r) == f"-|{int(r.start_time)}"
    assert compile_format("%!200h %404,500{Referer}i")(r) == "10.0.0.1 http://r/"
    assert compile_format("%200h")(r) == "-"
    r.remote_host = "client.example"
    assert compile_format("%h")(r) == "client.example"


def test_buffered_log_writes_once(tmp_path: object) -> None:
    path = str(tmp_path / "log")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    lg = AccessLog(fd, "%m %U", buffered=True)
    for _ in range(10):
        lg.log(Rec())
    assert os.path.getsize(path) == 0          # still in the buffer
    lg.flush()
    with open(path) as f:
        assert f.read() == "GET /a b\n" * 10
    lg2 = AccessLog(fd, "%m", buffered=False)
    lg2.log(Rec())
    assert os.path.getsize(path) == 90 + 4
    os.close(fd)


def test_error_log_levels(tmp_path: object) -> None:
    path = str(tmp_path / "err")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    el = ErrorLog(fd, "warn")
    el.log("info", "core", "hidden")
    el.log("error", "core", "shown", client="1.2.3.4:5")
    os.close(fd)
    text = open(path).read()
    assert "hidden" not in text
    assert "[core:error] [pid " in text and "[client 1.2.3.4:5] shown" in text
