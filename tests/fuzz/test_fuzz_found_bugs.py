"""The bugs the fuzzing campaign found (docs/fuzzing.md), each as a client sees it; the
inputs that found them are also replayed by test_fuzz_regressions.py."""
from __future__ import annotations

import pytest
from support.configs import cfg
from support.inprocess import exchange, make_server
from support.wire import parse_responses

from fastcore import _request as ext
from fastcore._pure import request as pure
from fastcore.config.merge import DirResolver
from fastcore.core.server import HttpServer


def test_range_with_a_non_ascii_digit_is_ignored_as_apache_does(tmp_path) -> None:
    """fuzz/py/ranges.py: "²" (a latin-1 header byte) passed str.isdigit() and int()
    raised; apr_strtoff reads no digit there, so the Range is ignored: 200, whole body."""
    srv = make_server(str(tmp_path))
    for value in ("bytes=\u00b2-3", "bytes=0-\u00b3", "bytes=1-2,\u00b9-"):
        raw = f"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nRange: {value}\r\n\r\n"
        (status, headers, body), = parse_responses(exchange(srv, raw.encode("latin-1")))
        assert (status, body) == (200, b"hello a\n"), value
    good = b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\nRange: bytes=1-2\r\n\r\n"
    assert parse_responses(exchange(srv, good))[0][0] == 206


def test_regex_template_dollar_before_a_non_ascii_digit_is_literal(tmp_path) -> None:
    """The same str.isdigit() trap in RedirectMatch's "$N" (core/mapping.py _subst):
    "$\u00b2" is no back-reference for Apache's ap_pregsub, so it stays as written."""
    c = cfg(tmp_path, "RedirectMatch ^/r(.*) http://h/x$\u00b2$1\n")
    srv = HttpServer(c, None, DirResolver(c))
    (status, headers, _body), = parse_responses(
        exchange(srv, b"GET /rest HTTP/1.1\r\nHost: main.example\r\n\r\n"))
    assert status == 302
    assert headers["location"].startswith("http://h/x$") and headers["location"].endswith("est")


def test_http09_request_refused_is_answered_without_a_status_line(tmp_path) -> None:
    """The Apache sample of test_differential_parsers.py: "GET hp:" is an HTTP/0.9
    request whose target Apache refuses; its 400 page comes as 0.9, body only."""
    srv = make_server(str(tmp_path))
    for raw in (b"GET hp:\r\n", b"GET hp:/t\r\n", b"GET F+F8+:\r\n\r\n\r\n"):
        out = exchange(srv, raw)
        assert not out.startswith(b"HTTP/"), raw
        assert b"<title>400 Bad Request</title>" in out, raw
    assert exchange(srv, b"GET /a.txt\r\n") == b"hello a\n"


def test_unsafe_fold_keeps_a_content_cr_in_both_parsers() -> None:
    """Differential fuzzing (C against twin): under HttpProtocolOptions Unsafe a CR that
    is content at the start of an LF fold was cut by the C side's fold joining only."""
    raw = b"T / HTTP/1.2\n\x86:\n \r\xb2\n\n"
    for mod in (ext, pure):
        assert mod.parse_head(raw, strict=False).headers == [("\x86", "\r\xb2")]
    crlf = b"GET / HTTP/1.1\r\nX: a\r\n  b\r\n\tc\r\n\r\n"
    for mod in (ext, pure):
        assert mod.parse_head(crlf).headers == [("X", "a b c")]


def test_remote_host_is_escaped_in_the_access_log() -> None:
    """fuzz/py/logformat.py: %h printed a resolved name raw, so a hostile PTR record
    could write a line break into the log; Apache's log_remote_host escapes it."""
    from fastcore.modules.mod_log_config import compile_format

    class Rec:
        remote_host = 'evil\n"host'
        client_ip = "10.0.0.1"

    assert compile_format("%h")(Rec()) == 'evil\\n\\"host'
    Rec.remote_host = None  # type: ignore[assignment]
    assert compile_format("%h")(Rec()) == "10.0.0.1"


def test_an_item_with_two_arguments_compiles_as_apache_reads_it(tmp_path) -> None:
    """fuzz/py/logformat.py: "%{a}{%Y}t" passed the LogFormat check (Apache reads the
    modifiers in a loop; the last {arg} wins) but the formatter's pattern took one {arg}
    only, so the server failed at startup with a ValueError.  Modifiers in any order too."""
    import time

    from fastcore._pure.fastlog import compile_log_format
    from fastcore.modules.mod_log_config import compile_format

    class Rec:
        start_time = time.time()
        status = 404
        headers_in = {"referer": "r"}

    c = cfg(tmp_path, 'LogFormat "%{a}{%Y}t %{x}{Referer}i %{Referer}!200i" two\n'
                      f'CustomLog "{tmp_path}/two.log" two\n')
    assert c is not None
    line = compile_format("%{a}{%Y}t %{x}{Referer}i %{Referer}!200i")(Rec())
    assert line == time.strftime("%Y", time.localtime(Rec.start_time)) + " r r"
    assert compile_format("%!200{Referer}i %{Referer}200i")(Rec()) == "r -"
    assert compile_log_format("%{a}{Referer}i") is not None


def test_directory_wildcard_with_a_reversed_bracket_range_loads_and_matches_nothing(
        tmp_path) -> None:
    """fuzz/py/config.py: `<Directory /x/[$-!]>` made the bracket body a Python regex
    class as written, and re.compile raised (a reversed range): the server did not start,
    with a traceback.  apr_fnmatch has no invalid pattern: a reversed range matches
    nothing, `[]`, `[!]` and `[a/b]` are not bracket expressions (literal text)."""
    doc = tmp_path / "htdocs"
    for d in ("q", "[]", "b"):
        (doc / d).mkdir(parents=True)
        (doc / d / "f.txt").write_text("x\n")

    def status(sections: str, path: str) -> int:
        c = cfg(tmp_path, f"DocumentRoot {doc}\n{sections}")
        srv = HttpServer(c, None, DirResolver(c))
        raw = f"GET {path} HTTP/1.1\r\nHost: main.example\r\n\r\n".encode()
        return parse_responses(exchange(srv, raw))[0][0]

    deny = "<Directory {}>\nRequire all denied\n</Directory>\n"
    assert status(deny.format(f"{doc}/[z-a]"), "/q/f.txt") == 200
    assert status(deny.format(f"{doc}/[$-!]"), "/q/f.txt") == 200
    assert status(deny.format(f"{doc}/[a-z]"), "/q/f.txt") == 403
    assert status(deny.format(f"{doc}/[]"), "/%5B%5D/f.txt") == 403  # literal "[]"
    assert status(deny.format(f"{doc}/[]"), "/q/f.txt") == 200
    assert status(deny.format(f"{doc}/[!q]"), "/b/f.txt") == 403
    assert status(deny.format(f"{doc}/[!q]"), "/q/f.txt") == 200


@pytest.mark.timeout(120)
def test_a_long_run_of_unbalanced_brackets_in_a_section_path_loads(tmp_path) -> None:
    """fuzz/py/config.py (regressions/config/unbalanced-brackets-quadratic): each '[' of
    a <Directory> wildcard scanned to the end of the path for its ']', so a path of many
    unbalanced '[' took quadratic time (12 s for 600 bytes under the fuzzer's
    instrumentation; a 40,000-byte one would take hours).  They are literal text."""
    doc = tmp_path / "htdocs"
    (doc / "q").mkdir(parents=True)
    (doc / "q" / "f.txt").write_text("x\n")
    name = "[" * 40000
    c = cfg(tmp_path, f"DocumentRoot {doc}\n<Directory {doc}/{name}>\nRequire all denied\n"
            "</Directory>\n")
    srv = HttpServer(c, None, DirResolver(c))
    raw = b"GET /q/f.txt HTTP/1.1\r\nHost: main.example\r\n\r\n"
    assert parse_responses(exchange(srv, raw))[0][0] == 200


def test_a_non_ascii_digit_is_no_logformat_modifier() -> None:
    """Bug 8 (logformat target): str.isdigit() took "³" for a field-width digit, so the
    check accepted "%³{c}C" and the formatter then refused it at startup with a traceback.
    Apache's apr_isdigit is ASCII: the format is refused, naming the first byte."""
    from fastcore.config.engine import DirectiveError
    from fastcore.config.errors import escape_message
    from fastcore.config.logformat import check_log_format
    from fastcore.modules.mod_log_config import compile_format

    for fmt in ("%\u00b3{c}C", "%\u0663s", "%2\u00b3s"):
        try:
            check_log_format(fmt)
        except DirectiveError as exc:
            assert escape_message(str(exc)).startswith("Unrecognized LogFormat directive %\\x")
        else:
            raise AssertionError(f"{fmt!r} accepted")
    compile_format("%2s %{c}C")  # the ASCII forms still compile
