"""Request-head parsing: ns per parse, looped inside the extension, versus the twin."""
from __future__ import annotations

import importlib

import pytest

ext = importlib.import_module("fastcore._request")
pure = importlib.import_module("fastcore._pure.request")

# 97 bytes, the size of the request in the seed's trace
SMALL = (b"GET /10kb.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ApacheBench/2.3\r\n"
         b"Accept: text/html\r\n\r\n")
BROWSER = (b"GET /assets/css/site.min.css?v=20261126 HTTP/1.1\r\nHost: www.example.org\r\n"
           b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
           b"Accept: text/css,*/*;q=0.1\r\nAccept-Language: en-US,en;q=0.5\r\n"
           b"Accept-Encoding: gzip, deflate, br\r\nReferer: https://www.example.org/index.html\r\n"
           b"Connection: keep-alive\r\nCookie: session=0123456789abcdef0123456789abcdef; theme=dark; lang=en-US; tz=UTC\r\n"
           b"Sec-Fetch-Dest: style\r\nSec-Fetch-Mode: no-cors\r\nIf-None-Match: \"2800-5f1a2b3c4d5e6\"\r\n"
           b"\r\n")
HEADS = {"97B": SMALL, "500B": BROWSER}


def test_sizes():
    assert len(SMALL) == 97 and 480 <= len(BROWSER) <= 520


def _measure(benchmark, fn, buf, n, rounds=5):
    ns = []
    benchmark.pedantic(lambda: ns.append(fn(buf, n)), rounds=rounds, iterations=1)
    ns.sort()
    benchmark.extra_info.update(ns_per_op=ns[len(ns) // 2], runs=ns, bytes=len(buf), loop=n)
    assert ns[0] > 0


@pytest.mark.parametrize("head", list(HEADS))
def test_bench_parse_scan_c_loop(benchmark, head):
    """The nogil scanner alone: what the future Cython fast path pays per request."""
    _measure(benchmark, ext.bench_parse, HEADS[head], 1_000_000)


@pytest.mark.parametrize("head", list(HEADS))
def test_bench_parse_full_extension(benchmark, head):
    """parse_head() including the Python RequestHead object."""
    _measure(benchmark, ext.bench_parse_full, HEADS[head], 200_000)


@pytest.mark.parametrize("head", list(HEADS))
def test_bench_parse_twin(benchmark, head):
    _measure(benchmark, pure.bench_parse, HEADS[head], 20_000, rounds=3)


def _python_path(buf: bytes, n: int) -> float:
    """ns per fastcore.core.request.parse_head(): the server's Python request path
    (scanner + Request object + Host/Content-Length/Connection semantics)."""
    import time

    from fastcore.core.request import parse_head

    t0 = time.perf_counter_ns()
    for _ in range(n):
        parse_head(buf)
    return (time.perf_counter_ns() - t0) / n


@pytest.mark.parametrize("scanner", ["fastcore._request", "fastcore._pure.request"])
@pytest.mark.parametrize("head", list(HEADS))
def test_bench_http_request_parse_head(benchmark, head, scanner, monkeypatch):
    """What the server pays per request head in http.request (extension, or the twin)."""
    import fastcore.core.request as http_request

    monkeypatch.setattr(http_request, "_rq", importlib.import_module(scanner))
    assert http_request.parse_head(HEADS[head]).host in ("127.0.0.1", "www.example.org")
    _measure(benchmark, _python_path, HEADS[head], 20_000, rounds=5)
