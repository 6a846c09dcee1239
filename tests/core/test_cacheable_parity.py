"""One request-side cache rule, twice: core/cacheable.py's may_use_cache (which the Python
cache and the engine's twin call) and the C engine's parser (src/fc_fastparse.h) give the
same verdict on generated request heads."""
from __future__ import annotations

import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastcore.core.cacheable import may_use_cache

IMPLS = ["fastcore._fastpath", "fastcore._pure.fastpath"]
METHODS = ["GET", "HEAD", "POST", "PUT", "OPTIONS", "get", "Head", "GETX", "DELETE"]
TARGETS = ["/", "/a.txt", "/dir/index.html?x=1", "/%41b", "*", "http://h/x", "a.txt", "//x"]
VERSIONS = ["HTTP/1.1", "HTTP/1.0", None]  # None: an HTTP/0.9 line
NAMES = ["Accept", "User-Agent", "Connection", "Range", "If-None-Match", "If-Modified-Since",
         "If-Match", "If-Unmodified-Since", "If-Range", "If-Foo", "If-", "Ifx-Match", "Ia-x",
         "X-If-None-Match", "Content-Length", "Content-Type", "Transfer-Encoding", "Expect",
         "Ranges", "Cookie", "Accept-Encoding", "Exp"]


def _case(name: str, flips: list[bool]) -> str:
    return "".join(c.swapcase() if f else c for c, f in zip(name, flips + [False] * len(name),
                                                            strict=False))


@st.composite
def heads(draw: st.DrawFn) -> tuple[str, str, str | None, list[str]]:
    method = draw(st.sampled_from(METHODS))
    target = draw(st.sampled_from(TARGETS))
    version = draw(st.sampled_from(VERSIONS))
    picks = draw(st.lists(st.sampled_from(NAMES), max_size=4))
    names = [_case(n, draw(st.lists(st.booleans(), max_size=len(n)))) for n in picks]
    return method, target, version, names


@pytest.fixture(params=IMPLS, scope="module")
def cache(request: pytest.FixtureRequest):  # noqa: ANN201 - either implementation's FastCache
    c = importlib.import_module(request.param).FastCache()
    c.configure(b"Server: Apache/2.4\r\n")
    return c


def _head(method: str, target: str, version: str | None, names: list[str]) -> bytes:
    if version is None:
        return f"{method} {target}\r\n\r\n".encode()
    fields = "".join(f"{n}: 1\r\n" for n in ["Host", *names])
    return f"{method} {target} {version}\r\n{fields}\r\n".encode()


@settings(max_examples=400, deadline=None)
@given(req=heads())
def test_engine_and_python_agree(cache, req: tuple[str, str, str | None, list[str]]) -> None:
    method, target, version, names = req
    python = may_use_cache(method, target, [n.lower() for n in names], http09=version is None)
    assert cache.may_use_cache(_head(method, target, version, names)) is python


@pytest.mark.parametrize(("names", "verdict"), [
    ([], True), (["accept", "connection"], True), (["range"], False),
    (["if-none-match"], False), (["if-anything"], False), (["ifx-a"], True), (["if-"], True),
    (["content-length"], False), (["transfer-encoding"], False), (["expect"], False)])
def test_fields_that_force_the_full_path(cache, names: list[str], verdict: bool) -> None:
    assert may_use_cache("GET", "/a", names) is verdict
    assert cache.may_use_cache(_head("GET", "/a", "HTTP/1.1", names)) is verdict


def test_method_target_form_and_http09(cache) -> None:
    assert may_use_cache("HEAD", "/a", []) and not may_use_cache("POST", "/a", [])
    assert not may_use_cache("GET", "http://h/a", []) and not may_use_cache("GET", "*", [])
    assert not may_use_cache("GET", "/a", [], http09=True)
    assert not cache.may_use_cache(b"GET /a\r\n\r\n")
    assert not cache.may_use_cache(b"GET http://h/a HTTP/1.1\r\nHost: h\r\n\r\n")
