"""mod_setenvif: the rules as mod_setenvif.c builds them (literal or regex patterns,
header-name regexes, special attributes, the variables list), where they go (the server's
list or the per-dir one, merged by appending), what they set on a request (txn.env, the
access log), what the core makes of nokeepalive / downgrade-1.0 / force-response-1.0, and
that under rules both caches answer only when the rules would set nothing (the C engine
runs them itself: src/fc_setenvif.h; tests/modules/test_mod_setenvif_cached.py compares
Debian's stock rules with Apache)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.configs import cfg
from support.inprocess import engine_exchange
from support.wire import parse_responses

from fastcore.config import ConfigError, load
from fastcore.config.merge import DirResolver
from fastcore.core import exchange
from fastcore.core.connection import Connection
from fastcore.core.fastpath import CacheHit
from fastcore.core.keepalive import env_protocol
from fastcore.core.request import Request
from fastcore.core.server import HttpServer
from fastcore.core.transaction import Transaction
from fastcore.modules.mod_setenvif import Feature, _feature, dir_rules, server_rules, simple_pattern

LOAD = "LoadModule setenvif_module modules/mod_setenvif.so\n"
MODS = "/usr/lib/apache2/modules"


@pytest.mark.parametrize("regex,literal", [
    ("Mozilla/2", "Mozilla/2"), ("MSIE 4\\.0b2;", "MSIE 4.0b2;"), ("a\\\\b", "a\\b"),
    ("^x", None), ("a.b", None), ("x|y", None), ("\\d", None), ("", ""),
])
def test_literal_patterns_are_told_from_regexes(regex: str, literal: str | None) -> None:
    assert simple_pattern(regex) == literal


@pytest.mark.parametrize("word,feature", [
    ("nokeepalive", Feature("nokeepalive", "1")), ("Var=Value", Feature("var", "Value")),
    ("!gone", Feature("gone", "!")), ("empty=", Feature("empty", "1")),
    ("a=b=c", Feature("a", "b=c")), ("neg=!x", Feature("neg", "!x")),
])
def test_variables_list(word: str, feature: Feature) -> None:
    assert _feature(word) == feature


def test_server_and_per_dir_rules_are_kept_apart_and_appended(tmp_path: Path) -> None:
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    c = cfg(tmp_path, LOAD + "BrowserMatch ^a one\nSetEnvIfNoCase ^X-.* ^v two\n"
            f"<Directory {www}>\n SetEnvIf Remote_Addr . three\n</Directory>\n"
            f"<Directory {www}/sub>\n SetEnvIf Request_URI x four\n</Directory>\n")
    srv = server_rules(c.main).rules
    assert [(r.attribute, r.special, r.literal, r.icase) for r in srv] == [
        ("User-Agent", None, None, False), ("^X-.*", None, None, True)]
    assert srv[1].name_regex is not None and srv[1].name_regex.search("x-foo")  # NoCase
    r = DirResolver(c)
    assert [f.name for rule in dir_rules(r.dir_config(c.main, f"{www}/sub")).rules
            for f in rule.features] == ["three", "four"]
    assert dir_rules(r.dir_config(c.main, str(www))).rules[0].special == "remote_addr"


@pytest.mark.parametrize("proto,env,http11,line,close", [
    (1001, {}, True, b"HTTP/1.1", False),
    (1001, {"downgrade-1.0": "1"}, False, b"HTTP/1.1", False),
    (1001, {"downgrade-1.0": "1", "force-response-1.0": "1"}, False, b"HTTP/1.0", True),
    (1000, {"force-response-1.0": "1"}, False, b"HTTP/1.0", True),
    (1001, {"force-response-1.0": "1"}, True, b"HTTP/1.1", False),  # only 1.0 requests
    (1001, {"nokeepalive": "1"}, True, b"HTTP/1.1", True),
])
def test_protocol_variables(proto: int, env: dict[str, str], http11: bool, line: bytes,
                            close: bool) -> None:
    ep = env_protocol(proto, env)
    assert (ep.http11, ep.protocol, ep.forced_close) == (http11, line, close)


def _conf(tmp: Path, rules: str) -> Path:
    doc = tmp / "htdocs"
    (doc / "plain").mkdir(parents=True, exist_ok=True)
    (doc / "ruled").mkdir(exist_ok=True)
    for rel in ("plain/p.txt", "ruled/r.txt"):
        (doc / rel).write_text("x\n")
        os.utime(doc / rel, (1_600_000_000, 1_600_000_000))  # strong ETag: cacheable
    conf = tmp / "httpd.conf"
    conf.write_text("".join(f"LoadModule {m}_module {MODS}/mod_{m}.so\n" for m in (
        "mpm_prefork", "authz_core", "mime", "env", "setenvif")) + f"""
ServerRoot "{tmp}"
Listen 127.0.0.1:80
ServerName localhost
TypesConfig /etc/mime.types
ErrorLog "{tmp}/error_log"
KeepAlive On
LogFormat "%U [%{{v}}e] [%{{w}}e] [%{{nokeepalive}}e]" f
CustomLog "{tmp}/access_log" f
DocumentRoot "{doc}"
<Directory />
    AllowOverride None
    Require all granted
</Directory>
{rules}
""")
    return conf


def _serve(conf: Path, reqs: list[bytes]) -> tuple[list[bytes], dict[str, int], list[str]]:
    srv = HttpServer(load(str(conf)), None)
    srv.child_init()
    try:
        out = engine_exchange(srv, True, reqs)
        stats = srv.engine.cache.stats()
        cached = len(srv.cache)
    finally:
        srv.close()
    time.sleep(0.1)
    lines = (conf.parent / "access_log").read_text().splitlines()
    return out, {**stats, "python_entries": cached}, lines


GET = b"GET /%s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: %s\r\n\r\n"


def test_a_scope_with_rules_sets_variables_each_time(tmp_path: Path) -> None:
    conf = _conf(tmp_path, f'<Directory "{tmp_path}/htdocs/ruled">\n'
                 '  BrowserMatch "^t(\\d)" v=$1\n  SetEnv w from-setenv\n  SetEnvIf v . w=ifs\n'
                 '</Directory>')
    reqs = [GET % (b"ruled/r.txt", b"t1"), GET % (b"ruled/r.txt", b"t2"),
            GET % (b"ruled/r.txt", b"other"), GET % (b"plain/p.txt", b"t3"),
            GET % (b"plain/p.txt", b"t4"), GET % (b"plain/p.txt", b"t5")]
    out, stats, lines = _serve(conf, reqs)
    assert all(parse_responses(o)[0][0] == 200 for o in out)
    # every ruled answer came from the full path (SetEnv there: never cached); the plain
    # file is cached as before
    assert stats["hits"] >= 1 and stats["python_entries"] == 1, stats
    assert lines[:3] == ["/ruled/r.txt [1] [ifs] [-]", "/ruled/r.txt [2] [ifs] [-]",
                         "/ruled/r.txt [-] [from-setenv] [-]"]  # SetEnvIf's w wins


def test_under_rules_the_caches_answer_only_when_nothing_is_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caches (the C engine, which evaluates the rules itself, or the Python cache
    after it) serve a hit whose request the rules give no variable, and hand the rest to
    the full path (nokeepalive closes, the log shows the variable)."""
    served = []
    real = exchange.serve_cached

    def counting(conn: Connection, txn: Transaction, req: Request, hit: CacheHit) -> None:
        served.append(req.headers.get("user-agent"))
        real(conn, txn, req, hit)

    monkeypatch.setattr(exchange, "serve_cached", counting)
    conf = _conf(tmp_path, 'BrowserMatch "^nk" nokeepalive\nBrowserMatch "^v(.)" v=$1')
    reqs = [GET % (b"plain/p.txt", b"ok"), GET % (b"plain/p.txt", b"ok2"),
            GET % (b"plain/p.txt", b"v9"), GET % (b"plain/p.txt", b"ok3"),
            GET % (b"plain/p.txt", b"nk")]
    out, stats, lines = _serve(conf, reqs)
    assert stats["entries"] == 1 and stats["python_entries"] == 1 and stats["hits"] >= 1
    # ok2 and ok3 from a cache (the engine's hits, the rest the Python cache's); v9 and
    # nk from the full path
    assert stats["hits"] + len(served) == 2 and set(served) <= {"ok2", "ok3"}
    assert b"Connection: close" in out[4] and b"Connection: close" not in out[3]
    assert lines == ["/plain/p.txt [-] [-] [-]", "/plain/p.txt [-] [-] [-]",
                     "/plain/p.txt [9] [-] [-]", "/plain/p.txt [-] [-] [-]",
                     "/plain/p.txt [-] [-] [1]"]
    assert all(parse_responses(o)[0][2] == b"x\n" for o in out)


def test_expression_rules_keep_every_answer_off_the_caches(tmp_path: Path) -> None:
    conf = _conf(tmp_path, 'SetEnvIfExpr "%{HTTP:X-A} == \'1\'" v=1')
    _out, stats, _lines = _serve(conf, [GET % (b"plain/p.txt", b"a")] * 3)
    assert stats["hits"] == 0 and stats["python_entries"] == 0


def test_setenvif_expr_sets_from_a_condition_and_the_passes_captures(tmp_path: Path) -> None:
    conf = _conf(tmp_path, 'SetEnvIfExpr "%{HTTP_USER_AGENT} =~ /^t(\\d)/" v=got-$1\n'
                 'SetEnvIfExpr "true" w=$1$0\n'  # no regex of its own: the pass's last match
                 "SetEnvIfExpr \"file('/nonexistent/x') == 'a'\" nokeepalive")
    out, _stats, lines = _serve(conf, [GET % (b"plain/p.txt", b"t7"),
                                       GET % (b"plain/p.txt", b"other")])
    assert lines == ["/plain/p.txt [got-7] [7t7] [-]", "/plain/p.txt [-] [] [-]"]
    assert b"Connection: close" not in out[0]  # the failed evaluation matched nothing
    errors = (tmp_path / "error_log").read_text()
    assert f"Evaluation of expression from {conf}:22 failed: Cannot open file" in errors


@pytest.mark.parametrize("line,message", [
    ("SetEnvIfExpr", "Missing expression for SetEnvIfExpr"),
    ('SetEnvIfExpr "true"', "Missing envariable expression for SetEnvIfExpr"),
    ('SetEnvIfExpr "foo bar" x', 'Could not parse expression "foo bar": syntax error, '
     "unexpected T_ID, expecting '('"),
])
def test_setenvif_expr_refusals(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        cfg(tmp_path, LOAD + line + "\n")
    assert message in str(err.value)
