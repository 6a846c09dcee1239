"""Issue 12: answers under Options without FollowSymLinks and under `Require ip` are
cache hits (the C engine's hit counter moves; the twin's too), and every hit redoes the
checks: a file swapped for a symlink, or a client the rule does not grant, falls back to
the full path, which answers the 403 (and logs it) as Apache does."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.inprocess import engine_exchange
from support.wire import parse_responses

from fastcore.config import load
from fastcore.core.server import HttpServer

MODS = "/usr/lib/apache2/modules/"
REQ = b"GET /a/f.html HTTP/1.1\r\nHost: localhost\r\n\r\n"


def _server(tmp: Path, opts: str, require: str,
            extra: tuple[str, ...] = ()) -> tuple[HttpServer, Path]:
    www = tmp / "www"
    (www / "a").mkdir(parents=True)
    (www / "a" / "f.html").write_text("the file\n")
    (www / "a" / "g.html").write_text("another\n")
    old = 1_600_000_000
    for name in ("f.html", "g.html"):
        os.utime(www / "a" / name, (old, old))  # a strong ETag: cacheable
    conf = tmp / "httpd.conf"
    conf.write_text("".join(f"LoadModule {m}_module {MODS}mod_{m}.so\n"
                            for m in ("mpm_prefork", "authz_core", "authz_host", "mime", *extra))
                    + f"ServerRoot {tmp}\nErrorLog {tmp}/error_log\nTypesConfig /etc/mime.types\n"
                    "Listen 127.0.0.1:18080\nServerName localhost\n"
                    f"CustomLog {tmp}/access_log common\nDocumentRoot {www}\n"
                    f"<Directory />\n Options {opts}\n AllowOverride None\n {require}\n"
                    "</Directory>\n")
    srv = HttpServer(load(str(conf)), None)
    srv.child_init()
    return srv, www


def _statuses(got: list[bytes]) -> list[int]:
    return [parse_responses(raw)[0][0] for raw in got]


@pytest.mark.parametrize("opts", ["SymLinksIfOwnerMatch", "None"])
def test_symlink_options_are_engine_hits_until_a_swap(tmp_path: Path, opts: str) -> None:
    srv, www = _server(tmp_path, opts, "Require all granted")
    try:
        got = engine_exchange(srv, True, [REQ] * 4)
        hits = srv.engine.cache.stats()["hits"]
        entry = srv.engine.cache.lookup(0, b"localhost", b"/a/f.html")
        os.unlink(www / "a" / "f.html")
        os.symlink("g.html", www / "a" / "f.html")   # same owner (root): a matter of Options
        after = engine_exchange(srv, True, [REQ] * 2)
        hits_after = srv.engine.cache.stats()["hits"]
    finally:
        srv.close()
    assert _statuses(got) == [200] * 4 and len(set(got)) == 1
    assert hits >= 3                      # the repeats were the engine's
    comps = [c for c in str(www / "a" / "f.html").split("/") if c]
    assert entry is not None and entry["links"].count(b"\0") == len(comps)
    if opts == "None":
        assert _statuses(after) == [403, 403]
        assert hits_after == hits           # refused on the very next request, by Python
        assert open(tmp_path / "error_log").read().count("AH00037: Symbolic link not "
                                                         "allowed") == 2
    else:
        assert _statuses(after) == [200, 200]
        assert all(b"another\n" in raw for raw in after)


def test_require_ip_is_an_engine_hit_for_granted_clients_only(tmp_path: Path) -> None:
    srv, _ = _server(tmp_path, "FollowSymLinks", "Require ip 127.0.0.1 10.1")
    try:
        got = engine_exchange(srv, True, [REQ] * 3)
        hits = srv.engine.cache.stats()["hits"]
        other = engine_exchange(srv, True, [REQ] * 2, peer=("10.1.200.7", 40001))
        hits_other = srv.engine.cache.stats()["hits"]
        denied = engine_exchange(srv, True, [REQ] * 2, peer=("192.0.2.1", 40002))
        stats = srv.engine.cache.stats()
    finally:
        srv.close()
    assert _statuses(got) == [200] * 3 and hits >= 2
    assert _statuses(other) == [200, 200] and hits_other >= hits + 2  # 10.1/16: granted in C
    assert _statuses(denied) == [403, 403] and stats["hits"] == hits_other
    log = open(tmp_path / "error_log").read()
    assert log.count("AH01630: client denied by server configuration") == 2
    assert "[client 192.0.2.1:40002]" in log


def test_require_not_ip_in_require_all(tmp_path: Path) -> None:
    srv, _ = _server(tmp_path, "FollowSymLinks", "<RequireAll>\n  Require all granted\n"
                     "  Require not ip 10.0.0.0/8\n </RequireAll>")
    try:
        ok = engine_exchange(srv, True, [REQ] * 3)
        hits = srv.engine.cache.stats()["hits"]
        denied = engine_exchange(srv, True, [REQ], peer=("10.3.3.3", 40003))
        hits_denied = srv.engine.cache.stats()["hits"]
    finally:
        srv.close()
    assert _statuses(ok) == [200] * 3 and hits >= 2
    assert _statuses(denied) == [403] and hits_denied == hits


def test_allow_from_addresses_is_an_engine_hit(tmp_path: Path) -> None:
    srv, _ = _server(tmp_path, "FollowSymLinks", "Order deny,allow\n Deny from all\n"
                     " Allow from 127.0.0.1 10.1", extra=("access_compat",))
    try:
        ok = engine_exchange(srv, True, [REQ] * 3)
        hits = srv.engine.cache.stats()["hits"]
        denied = engine_exchange(srv, True, [REQ] * 2, peer=("10.2.0.1", 40004))
        hits_denied = srv.engine.cache.stats()["hits"]
    finally:
        srv.close()
    assert _statuses(ok) == [200] * 3 and hits >= 2
    assert _statuses(denied) == [403, 403] and hits_denied == hits
    assert open(tmp_path / "error_log").read().count("AH01797: client denied") == 2
