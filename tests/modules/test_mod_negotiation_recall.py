"""MultiViews answers that the caches recall (src/fc_negkey.h, mod_negotiation/hooks.py's
Recall): against real Apache on the same httpd.conf, every answer is the same whether the
choice was made or recalled, for each set of Accept-Language/Accept values, and a variant
added, removed or rewritten between two requests changes the next answer as in Apache.
The engine's own series show the repeated requests served without Python."""
from __future__ import annotations

import os
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.apache_oracle import start_pair
from support.wire import answer_fields, raw_request

from fastcore._ext import load

PURE = load("fastpath").IMPLEMENTATION == "pure"

MODULES = ("mpm_event", "authz_core", "mime", "negotiation", "status")
SITE = """
ServerLimit 1
StartServers 1
ThreadLimit 4
ThreadsPerChild 4
MaxRequestWorkers 4
MinSpareThreads 1
MaxSpareThreads 4
KeepAlive On
DocumentRoot "{root}"
AddLanguage en .en
AddLanguage fr .fr
AddLanguage de .de
AddHandler type-map .var
<Directory "{root}">
  Options FollowSymLinks MultiViews
  AllowOverride None
  Require all granted
</Directory>
<Location /metrics>
  SetHandler metrics
</Location>
"""
LANGS = ("fr", "en", "de;q=0.9, fr;q=0.8", "en-gb, en;q=0.5", None, "fr")
ACCEPTS = ("text/html", "*/*", None)


def ask(port: int, target: str, lang: str | None, accept: str | None = None,
        extra: str = "") -> tuple[str, list[tuple[str, str]], bytes]:
    head = f"GET {target} HTTP/1.1\r\nHost: localhost\r\n"
    if lang is not None:
        head += f"Accept-Language: {lang}\r\n"
    if accept is not None:
        head += f"Accept: {accept}\r\n"
    data = raw_request(port, (head + extra + "Connection: close\r\n\r\n").encode())
    return answer_fields(data)


def fastpath_hits(port: int) -> float:
    data = raw_request(port, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                             b"Connection: close\r\n\r\n")
    text = answer_fields(data)[2].decode()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "fastcore_fastpath_requests_total":
                return s.value
    raise AssertionError("no fastcore_fastpath_requests_total")


def both(pair, target: str, lang: str | None, accept: str | None = None, extra: str = ""):
    """Apache's answer and fastcore's, their fields sorted: fastcore sends
    Content-Language before Last-Modified, Apache after Content-Type (docs/compat.md)."""
    ap = ask(pair.apache.port, target, lang, accept, extra)
    fc = ask(pair.fastcore.port, target, lang, accept, extra)
    return (ap[0], sorted(ap[1]), ap[2]), (fc[0], sorted(fc[1]), fc[2])


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "page.en.html").write_text("<p>english</p>\n")
    (root / "page.fr.html").write_text("<p>fran\u00e7ais, plus long</p>\n")
    (root / "other.html").write_text("plain\n")
    old = time.time() - 3600  # past the racy window and the weak-ETag second
    for name in os.listdir(root):
        os.utime(root / name, (old, old))
    os.utime(root, (old, old))
    pair = start_pair(str(tmp_path), SITE.format(root=root), MODULES)
    try:
        yield pair, root
    finally:
        pair.apache.stop()
        pair.fastcore.stop()


def test_recalled_choices_match_apache(site) -> None:
    pair, _ = site
    first: dict[tuple[str | None, str | None], tuple] = {}
    for _ in range(3):  # made once, then recalled
        for lang in LANGS:
            for accept in ACCEPTS:
                ap, fc = both(pair, "/page", lang, accept)
                assert fc == ap, (lang, accept)
                exact = ask(pair.fastcore.port, "/page", lang, accept)
                assert first.setdefault((lang, accept), exact) == exact  # same bytes, in order
    # another method's choice is its own (POST: not transparent, no TCN): never recalled
    # for a GET
    for method in ("POST", "GET"):
        raw = {}
        for name, o in (("apache", pair.apache), ("fastcore", pair.fastcore)):
            data = raw_request(o.port, f"{method} /page HTTP/1.1\r\nHost: localhost\r\n"
                                       "Accept-Language: de\r\nContent-Length: 0\r\n"
                                       "Connection: close\r\n\r\n".encode())
            a = answer_fields(data)
            raw[name] = (a[0], sorted(a[1]), a[2])
        assert raw["fastcore"] == raw["apache"], method
    # a Negotiate field (transparent negotiation): Apache's list answer, never recalled
    for _ in range(2):
        ap, fc = both(pair, "/page", "fr", None, "Negotiate: trans\r\n")
        assert fc[0] == "HTTP/1.1 300 Multiple Choices"
        assert fc == ap


def test_repeated_choices_are_engine_hits(site) -> None:
    pair, _ = site
    port = pair.fastcore.port
    for lang in ("fr", "en"):
        assert ask(port, "/page", lang)[0].endswith("200 OK")
    before = fastpath_hits(port)
    answers = [ask(port, "/page", lang) for lang in ("fr", "en") * 5]
    assert [a[2] for a in answers] == [b"<p>fran\xc3\xa7ais, plus long</p>\n",
                                       b"<p>english</p>\n"] * 5
    # the pure-Python twin of the engine holds no negotiated answer (the Python cache
    # recalls them there: docs/compat.md)
    hits = 0 if PURE else 10
    assert fastpath_hits(port) - before == hits
    # the same values spelled twice (Python reads them merged) are not an engine hit
    assert ask(port, "/page", "fr", None, "Accept-Language: en\r\n")[0].endswith("200 OK")
    assert fastpath_hits(port) - before == hits


def test_variants_added_removed_rewritten(site) -> None:
    pair, root = site
    for lang in ("de", "fr", "en"):
        ap, fc = both(pair, "/page", lang)
        assert fc == ap
    # a variant added: the next request for its language gets it
    (root / "page.de.html").write_text("<p>deutsch</p>\n")
    ap, fc = both(pair, "/page", "de")
    assert fc == ap and fc[2] == b"<p>deutsch</p>\n"
    # the chosen variant removed: the next request is chosen again
    os.unlink(root / "page.fr.html")
    ap, fc = both(pair, "/page", "fr")
    assert fc == ap and fc[2] != b"<p>fran\xc3\xa7ais, plus long</p>\n"
    # the chosen variant rewritten in place (same size, same second)
    st = os.stat(root / "page.en.html")
    (root / "page.en.html").write_text("<p>ENGLISH</p>\n")
    os.utime(root / "page.en.html", ns=(st.st_atime_ns, st.st_mtime_ns))
    ap, fc = both(pair, "/page", "en")
    assert fc[2] == b"<p>ENGLISH</p>\n"
    assert fc[0] == ap[0] and fc[2] == ap[2]
    # a tie broken by size: two variants of one language, the smaller wins; the other
    # shrinks, and the next request is chosen again
    (root / "tie.en.html").write_text("a" * 50)
    (root / "tie.en.txt").write_text("b" * 10)
    time.sleep(1.1)  # the directory's validator is strong again
    for _ in range(2):
        ap, fc = both(pair, "/tie", "en", "text/html, text/plain")
        assert fc == ap
    (root / "tie.en.html").write_text("c" * 5)
    ap, fc = both(pair, "/tie", "en", "text/html, text/plain")
    assert fc[2] == ap[2] == b"c" * 5


MAP = """URI: choice

URI: choice.en.html
Content-Type: text/html
Content-Language: en

URI: choice.fr.html
Content-Type: text/html
Content-Language: fr
"""


def test_type_map_recalled(site) -> None:
    pair, root = site
    (root / "choice.var").write_text(MAP)
    (root / "choice.en.html").write_text("<p>map english</p>\n")
    (root / "choice.fr.html").write_text("<p>map french</p>\n")
    old = time.time() - 3600
    for name in ("choice.var", "choice.en.html", "choice.fr.html"):
        os.utime(root / name, (old, old))
    time.sleep(1.1)  # a map changed within the last second is read again (its ctime)
    port = pair.fastcore.port
    for _ in range(2):
        for lang in ("fr", "en", "fr;q=0.1, en;q=0.2", None):
            ap, fc = both(pair, "/choice.var", lang)
            assert fc == ap, lang
    before = fastpath_hits(port)
    assert [ask(port, "/choice.var", "fr")[2] for _ in range(4)] == [b"<p>map french</p>\n"] * 4
    assert fastpath_hits(port) - before == (0 if PURE else 4)
    # HTTP/1.0 gets Expires equal to Date from Apache's type-map handler (r->no_cache),
    # HTTP/1.1 not: one recalled answer each
    before = fastpath_hits(port)
    orders = set()
    for _ in range(3):
        got = {}
        for name, o in (("apache", pair.apache), ("fastcore", pair.fastcore)):
            raw = raw_request(o.port, b"GET /choice.var HTTP/1.0\r\nAccept-Language: fr\r\n\r\n")
            head = dict(line.split(": ", 1) for line in
                        raw.partition(b"\r\n\r\n")[0].decode().split("\r\n")[1:])
            assert head["Expires"] == head["Date"], name
            got[name] = answer_fields(raw)
            if name == "fastcore":  # made, then recalled: the same fields in the same order
                orders.add(tuple(k for k, _ in got[name][1]))
            got[name] = (got[name][0], sorted(k for k, _ in got[name][1]), got[name][2])
        assert got["fastcore"] == got["apache"]
        assert "Expires" not in dict(ask(port, "/choice.var", "fr")[1])
    assert fastpath_hits(port) - before == (0 if PURE else 5)  # the first HTTP/1.0 one makes it
    assert len(orders) == 1
    # the map rewritten: the next request is chosen by the new map
    st = os.stat(root / "choice.var")
    (root / "choice.var").write_text(MAP.replace("URI: choice.fr.html", "URI: choice.en.html"))
    os.utime(root / "choice.var", ns=(st.st_atime_ns, st.st_mtime_ns))  # even the same mtime
    ap, fc = both(pair, "/choice.var", "fr")
    assert fc == ap and fc[2] == b"<p>map english</p>\n"
