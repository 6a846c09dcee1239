"""<If>, <ElseIf> and <Else> (core.c's ifsection, request.c's ap_if_walk): what the
config keeps, the startup errors, and what a client sees from the in-process server -
the chosen branch's directives merged last, Vary from the headers a condition read, a
failed evaluation taken as false, and the cache used only when no condition depends on
the request."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.configs import HEADER_LINES, cfg, write
from support.inprocess import exchange
from support.wire import parse_responses

from fastcore.config import ConfigError, load
from fastcore.config.merge import DirResolver
from fastcore.config.model import ELSE, ELSEIF, IF
from fastcore.core.phases import OUTPUT_FILTER
from fastcore.core.server import HttpServer

ENV = "LoadModule env_module modules/mod_env.so\n"


def _site(tmp: Path) -> Path:
    www = tmp / "www"
    for rel in ("a.txt", "b.html", "sub/c.txt", "ht/d.txt", "dir/x.txt"):
        (www / rel).parent.mkdir(parents=True, exist_ok=True)
        (www / rel).write_text(rel + "\n")
        os.utime(www / rel, (1_700_000_000, 1_700_000_000))  # a strong ETag: cacheable
    return www


def _server(tmp: Path, body: str) -> HttpServer:
    www = _site(tmp)
    text = (f'DocumentRoot "{www}"\n<Directory />\n AllowOverride None\n</Directory>\n'
            f'<Directory "{www}">\n Require all granted\n</Directory>\n'
            f'LogFormat "%>s %U [%{{GATE}}e]" envfmt\nCustomLog "{tmp}/access.log" envfmt\n'
            + body.replace("{www}", str(www)))
    srv = HttpServer(load(str(write(tmp, text))), None)
    srv.child_init()
    return srv


def _get(srv: HttpServer, path: str, headers: str = "", n: int = 1
         ) -> list[tuple[int, dict[str, str], bytes]]:
    req = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n".encode()
    return parse_responses(exchange(srv, req * n))


# ---------------------------------------------------------------- the configuration
def test_chain_is_kept_in_file_order_in_its_scope(tmp_path: Path) -> None:
    c = cfg(tmp_path, '<If "true">\n</If>\n<ElseIf "false">\n</ElseIf>\n<Else>\n</Else>\n'
            '<Directory /srv>\n <If "-f %{REQUEST_FILENAME}">\n  <If "true">\n  </If>\n'
            ' </If>\n</Directory>\n')
    kinds = [s.kind for s in c.main.dir_defaults.if_sections]
    assert kinds == [IF, ELSEIF, ELSE]
    assert c.main.dir_defaults.if_sections[1].line == HEADER_LINES + 3
    (d,) = [s for s in c.main.sections if s.pattern == "/srv/"]
    (outer,) = d.config.if_sections
    assert outer.condition is not None and outer.condition.request_independent
    assert [s.kind for s in outer.config.if_sections] == [IF]  # nested (2.4.26+)


def test_vhost_inherits_the_main_servers_sections_first(tmp_path: Path) -> None:
    c = cfg(tmp_path, '<If "true">\n</If>\n<VirtualHost *:18080>\n ServerName v\n'
            ' <If "false">\n </If>\n</VirtualHost>\n')
    main_if = c.main.dir_defaults.if_sections[0]
    assert c.vhosts[0].dir_defaults.if_sections[0] is main_if
    assert len(c.vhosts[0].dir_defaults.if_sections) == 2


@pytest.mark.parametrize("body,line,message", [
    ("<Else>\n</Else>", 1, "<Else> or <ElseIf> section without previous <If> or <ElseIf> "
     "section in same scope"),
    ('<If "true">\n</If>\n<Else>\n</Else>\n<Else>\n</Else>', 5, "<Else> or <ElseIf> section"),
    ('<If "true">\n</If>\n<Else>\n</Else>\n<ElseIf "true">\n</ElseIf>', 5,
     "<Else> or <ElseIf> section"),
    ('<If "true">\n</If>\n<Directory /srv>\n<Else>\n</Else>\n</Directory>', 4,
     "<Else> or <ElseIf> section"),
    ('<If "true">\n<Else>\n</Else>\n</If>', 2, "<Else> or <ElseIf> section"),
    ('<If "true">\n</If>\n<Else x>\n</Else>', 3, "<Else> does not take an argument"),
    ("<If >\n</If>", 1, "<If> directive requires additional arguments"),
    ("<ElseIf >\n</ElseIf>", 1, "<ElseIf> directive requires additional arguments"),
    ('<If "true" "false">\n</If>', 1, "Multiple <If> arguments not supported."),
    ('<If "true"\n</If>', 1, "<If> directive missing closing '>'"),
    ('<If "%{NOPE} == 1">\n</If>', 1,
     "Cannot parse condition clause: Variable 'NOPE' does not exist"),
    ('<If "true">\n<Directory /srv>\n</Directory>\n</If>', 2,
     "<Directory not allowed in <If> context"),
    ('<If "true">\n<Location />\n</Location>\n</If>', 2, "<Location not allowed in <If> context"),
    ('<If "true">\nServerName x\n</If>', 2, "ServerName not allowed in <If> context"),
    ('<If "true">\nAlias /x /srv\n</If>', 2, "Alias cannot occur within directory context"),
])
def test_refused_with_apaches_message_and_line(tmp_path: Path, body: str, line: int,
                                               message: str) -> None:
    with pytest.raises(ConfigError) as err:
        cfg(tmp_path, body + "\n")
    assert err.value.line == HEADER_LINES + line
    assert message in str(err.value)


def test_a_directive_between_if_and_else_keeps_the_chain(tmp_path: Path) -> None:
    c = cfg(tmp_path, '<If "true">\n</If>\nServerAdmin a@b\n<Else>\n</Else>\n')
    assert [s.kind for s in c.main.dir_defaults.if_sections] == [IF, ELSE]


# ---------------------------------------------------------------- per request
def test_request_header_condition_denies_and_adds_vary(tmp_path: Path) -> None:
    srv = _server(tmp_path, "<If \"req('X-Foo') == 'deny'\">\n Require all denied\n</If>\n")
    (denied,) = _get(srv, "/a.txt", "X-Foo: deny\r\n")
    assert denied[0] == 403 and "vary" not in denied[1]  # a generated error: no Vary
    ok = _get(srv, "/a.txt", "X-Foo: other\r\n", n=2)
    assert [r[0] for r in ok] == [200, 200]
    assert all(r[1]["vary"] == "X-Foo" for r in ok)
    assert len(srv.cache) == 0  # the answer depends on a request header
    srv.close()


def test_chain_takes_the_first_true_branch(tmp_path: Path) -> None:
    srv = _server(tmp_path, "<If \"%{QUERY_STRING} == 'a'\">\n ErrorDocument 404 \"A\"\n</If>\n"
                  "<ElseIf \"%{QUERY_STRING} =~ /^a|b/\">\n ErrorDocument 404 \"B\"\n"
                  "</ElseIf>\n<ElseIf \"true\">\n ErrorDocument 404 \"C\"\n</ElseIf>\n"
                  "<Else>\n ErrorDocument 404 \"D\"\n</Else>\n")
    bodies = [_get(srv, f"/none?{q}")[0][2] for q in ("a", "b", "ab", "z")]
    assert bodies == [b"A", b"B", b"B", b"C"]
    srv.close()


def test_if_is_merged_after_location_and_nested_if_after_it(tmp_path: Path) -> None:
    srv = _server(tmp_path, '<Location /sub>\n ErrorDocument 404 "loc"\n</Location>\n'
                  "<If \"%{REQUEST_URI} =~ m#^/sub/#\">\n ErrorDocument 404 \"if\"\n"
                  "  <If \"%{REQUEST_URI} =~ /deep/\">\n   ErrorDocument 404 \"nested\"\n"
                  "  </If>\n</If>\n")
    assert _get(srv, "/sub/none")[0][2] == b"if"
    assert _get(srv, "/sub/deep")[0][2] == b"nested"
    assert _get(srv, "/none")[0][2] != b"if"
    srv.close()


def test_if_inside_directory_and_files(tmp_path: Path) -> None:
    srv = _server(tmp_path, '<Directory "{www}/sub">\n <If "%{QUERY_STRING} == \'t\'">\n'
                  "  AddType text/x-sub .txt\n </If>\n</Directory>\n"
                  '<Files "b.html">\n <If "%{QUERY_STRING} == \'t\'">\n'
                  "  ForceType text/x-files\n </If>\n</Files>\n")
    assert _get(srv, "/sub/c.txt?t")[0][1]["content-type"] == "text/x-sub"
    assert _get(srv, "/sub/c.txt")[0][1]["content-type"] == "text/plain"
    assert _get(srv, "/a.txt?t")[0][1]["content-type"] == "text/plain"
    assert _get(srv, "/b.html?t")[0][1]["content-type"] == "text/x-files"
    assert _get(srv, "/b.html")[0][1]["content-type"] == "text/html"
    srv.close()


def test_request_independent_condition_is_cached_with_the_same_headers(tmp_path: Path) -> None:
    srv = _server(tmp_path, '<If "-f %{REQUEST_FILENAME}">\n AddType text/x-exists .txt\n'
                  "</If>\n")
    first, second = _get(srv, "/a.txt", n=2)
    assert first[1]["content-type"] == second[1]["content-type"] == "text/x-exists"
    assert {k: v for k, v in first[1].items() if k != "date"} == \
        {k: v for k, v in second[1].items() if k != "date"}
    assert len(srv.cache) == 1  # no condition reads the request: the answer is cached
    srv.close()


def test_a_failed_evaluation_is_false_and_logged(tmp_path: Path) -> None:
    srv = _server(tmp_path, "<If \"file('/nonexistent/x') == 'y'\">\n Require all denied\n"
                  '</If>\n<Else>\n ErrorDocument 404 "else"\n</Else>\n')
    assert _get(srv, "/a.txt")[0][0] == 200
    assert _get(srv, "/none")[0][2] == b"else"
    srv.flush_logs()
    log = (tmp_path / "error.log").read_text()
    conf = tmp_path / "httpd.conf"
    line = conf.read_text().splitlines().index("<If \"file('/nonexistent/x') == 'y'\">") + 1
    assert (f"[core:error] [pid {os.getpid()}:tid" in log)
    assert f"Evaluation of expression from {conf}:{line} failed: Cannot open file " \
        "/nonexistent/x" in log
    assert "AH00039: Failed to evaluate <If > condition: Cannot open file /nonexistent/x" in log
    assert len(srv.cache) == 0  # each request logs its own failure
    srv.close()


def test_vary_on_304_not_on_redirect(tmp_path: Path) -> None:
    srv = _server(tmp_path, "<If \"req('X-Bar') == 'a'\">\n</If>\n")
    (ok,) = _get(srv, "/a.txt")
    assert ok[1]["vary"] == "X-Bar"
    (nm,) = _get(srv, "/a.txt", f"If-None-Match: {ok[1]['etag']}\r\n")
    assert nm[0] == 304 and nm[1]["vary"] == "X-Bar"
    (moved,) = _get(srv, "/sub")
    assert moved[0] == 301 and "vary" not in moved[1]
    srv.close()


def test_setenv_inside_if_reaches_the_log(tmp_path: Path) -> None:
    """mod_env's record in the taken branch is merged before the fixups; `Require env`
    is checked before them, so SetEnv cannot open it (as in Apache)."""
    srv = _server(tmp_path, ENV + "<If \"%{QUERY_STRING} == 'open'\">\n SetEnv GATE yes\n"
                  "</If>\n<Location /sub>\n Require env GATE\n</Location>\n")
    assert [r[0] for r in _get(srv, "/a.txt?open", n=2)] == [200, 200]
    assert _get(srv, "/a.txt")[0][0] == 200
    assert _get(srv, "/sub/c.txt?open")[0][0] == 403
    srv.flush_logs()
    assert (tmp_path / "access.log").read_text().splitlines() == [
        "200 /a.txt [yes]", "200 /a.txt [yes]", "200 /a.txt [-]", "403 /sub/c.txt [-]"]
    srv.close()


def test_htaccess_if_with_its_override_classes(tmp_path: Path) -> None:
    www = _site(tmp_path)
    (www / "ht" / ".htaccess").write_text(
        "<If \"%{QUERY_STRING} == 'no'\">\n Require all denied\n</If>\n")
    srv = _server(tmp_path, '<Directory "{www}/ht">\n AllowOverride AuthConfig\n</Directory>\n')
    assert _get(srv, "/ht/d.txt?no")[0][0] == 403
    assert _get(srv, "/ht/d.txt")[0][0] == 200
    (www / "ht" / ".htaccess").write_text(
        "<If \"true\">\n ErrorDocument 404 \"x\"\n</If>\n")  # FileInfo is not allowed
    assert _get(srv, "/ht/d.txt")[0][0] == 500
    srv.close()


def test_no_if_no_cost(tmp_path: Path) -> None:
    """Without any <If> and without access files, the walk skips the If machinery and
    no output filter is registered for it."""
    srv = _server(tmp_path, "")
    assert not srv.resolver.if_possible
    assert OUTPUT_FILTER not in {p for p, fns in srv.handler.phases.hooks.items() if fns} \
        or all(fn.__name__ != "if_vary" for fn in srv.handler.phases.hooks[OUTPUT_FILTER])
    (tmp_path / "x").mkdir()
    with_if = _server(tmp_path / "x", '<If "true">\n</If>\n')
    assert with_if.resolver.if_possible
    assert any(fn.__name__ == "if_vary" for fn in with_if.handler.phases.hooks[OUTPUT_FILTER])
    srv.close()
    with_if.close()


def test_htaccess_makes_if_possible(tmp_path: Path) -> None:
    c = cfg(tmp_path, "<Directory /srv>\n AllowOverride FileInfo\n</Directory>\n")
    assert DirResolver(c).if_possible


def test_directory_index_sub_request_walks_its_own_if(tmp_path: Path) -> None:
    # Apache's DirectoryIndex sub-request for /b.html runs ap_if_walk with that URI, and
    # the fast redirect keeps the type it chose (checked against apache2 2.4)
    srv = _server(tmp_path, 'DirectoryIndex b.html\n<Directory "{www}">\n'
                  ' <If "%{REQUEST_URI} == \'/b.html\'">\n  AddType text/x-special .html\n'
                  ' </If>\n</Directory>\n')
    ((status, h, body),) = _get(srv, "/")
    assert status == 200 and body == b"b.html\n"
    assert h["content-type"] == "text/x-special"
    srv.close()
