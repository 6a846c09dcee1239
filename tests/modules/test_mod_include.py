"""mod_include's behaviour in fastcore: the tokenizer's corner cases, the string work
(substitution, encodings, sizes, dates), a parsed page never answered from a cache (the
C engine included), EnableMMAP deciding how the document is read (strace: mmap vs
read), a document truncated while it is served never taking a child down, and the
directives' records."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from support.apache_oracle import ApacheOracle
from support.configs import cfg
from support.inprocess import FastcoreThread
from support.wire import parse_responses, raw_request

from fastcore.config import ConfigError
from fastcore.modules.mod_include import cache_contribution, text
from fastcore.modules.mod_include.config import IncludeDir, include_dir
from fastcore.modules.mod_include.parser import Arg, Element, Unfinished, tokenize

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LOAD = "LoadModule include_module modules/mod_include.so\n"
S, E = "<!--#", "-->"


# -- the tokenizer ---------------------------------------------------------------------
def test_elements_and_text_in_order() -> None:
    got = tokenize('a<!--#echo var="x" -->b<!--#printenv-->c', S, E)
    assert got == ["a", Element("echo", [Arg("var", "x")]), "b", Element("printenv"), "c"]


def test_argument_forms() -> None:
    (el,) = tokenize("<!--#Set VAR='a b' value=`c` x = \"q\\\"r\\s\" flag -->", S, E)
    assert el == Element("set", [Arg("var", "a b"), Arg("value", "c"), Arg("x", 'q"r\\s'),
                                 Arg("flag", None)])


def test_unquoted_value_runs_to_whitespace_and_swallows_the_end() -> None:
    got = tokenize('<!--#echo var=x-->tail<!--#echo var="y" -->', S, E)
    assert got == [Element("echo", [Arg("var", "x-->tail<!--#echo"), Arg("var", "y")])]


def test_broken_elements_are_marked() -> None:
    assert tokenize("<!--#-->", S, E)[0].error == "AH01368"
    assert tokenize('<!--#echo "x" -->', S, E)[0].error == "AH01369"
    assert tokenize('<!--#echo ="x" -->', S, E)[0].error == "AH01370"
    assert tokenize('a<!--#echo var="x" --', S, E) == ["a", Unfinished()]
    assert tokenize("x<!--", S, E) == ["x<!--"]  # a partial start is only text


def test_custom_sequences() -> None:
    assert tokenize("[%echo var=a %]<!--#x -->", "[%", "%]") == [
        Element("echo", [Arg("var", "a")]), "<!--#x -->"]


# -- the string work -------------------------------------------------------------------
def test_substitution() -> None:
    env = {"x": "X", "long_name1": "L"}
    missing = []
    sub = lambda s: text.substitute(s, env.get, missing.append)  # noqa: E731
    assert sub("$x-${x}-\\$x-$nope-${}-$-\\n-$long_name1.") == "X-X-$x--${}-$-\\n-L."
    assert sub("a${x") == "a" and missing == ["x"]


def test_encodings_and_decodings() -> None:
    assert text.encode("entity", 'a<b&"') == "a&lt;b&amp;&quot;"
    assert text.encode("url", "a<b c") == "a%3cb%20c"
    assert text.encode("urlencoded", "a b&c") == "a+b%26c"
    assert text.encode("base64", "hi") == "aGk="
    assert text.encode("bogus", "x") is None
    assert text.decode("url", "%41%zz") == "A%zz"
    assert text.decode("entity", "&lt;&amp;&#65;&#7;&bogus;&eacute;") == "<&A&bogus;\xe9"
    assert text.tokens("url, entity\tbase64") == ["url", "entity", "base64"]
    assert text.escape_shell("a&b;c") == "a\\&b\\;c"


def test_sizes_and_dates() -> None:
    assert [text.strfsize(n) for n in (37, 2500, 5000, 2 * 1024 * 1024)] == [
        " 37 ", "2.4K", "4.9K", "2.0M"]
    assert text.size_bytes(1234567) == "1,234,567"
    assert text.ht_time(0, "%Y %Z", True) == "1970 GMT"


# -- configuration -----------------------------------------------------------------------
def test_records_merge_deeper_wins(tmp_path) -> None:
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    from fastcore.config.merge import DirResolver
    c = cfg(tmp_path, LOAD + f'<Directory "{www}">\n XBitHack full\n SSIErrorMsg top\n'
            f'</Directory>\n<Directory "{www}/sub">\n SSIErrorMsg deep\n SSIEtag on\n'
            "</Directory>\n")
    got = include_dir(DirResolver(c).dir_config(c.main, f"{www}/sub"))
    assert got == IncludeDir(error_msg="deep", xbithack="full", etag=True)


def test_legacy_parser_on_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SSILegacyExprParser On"):
        cfg(tmp_path, LOAD + "<Directory />\n SSILegacyExprParser On\n</Directory>\n")
    cfg(tmp_path, LOAD + "<Directory />\n SSILegacyExprParser Off\n</Directory>\n")


def test_unloaded_module_directive_is_an_invalid_command(tmp_path) -> None:
    with pytest.raises(ConfigError, match="Invalid command 'XBitHack'"):
        cfg(tmp_path, "XBitHack on\n")


# -- a served site -----------------------------------------------------------------------
def _site(tmp_path, extra: str = "") -> tuple[str, str]:
    from support.ports import free_port
    www = tmp_path / "www"
    www.mkdir()
    page = www / "p.html"
    page.write_text('A<!--#echo var="DOCUMENT_NAME" -->|<!--#echo var="QUERY_STRING" -->\n')
    os.chmod(page, 0o744)
    (www / "plain.html").write_text("plain\n")
    os.utime(page, (1_600_000_000, 1_600_000_000))
    os.utime(www / "plain.html", (1_600_000_000, 1_600_000_000))
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"ServerRoot {tmp_path}\nErrorLog {tmp_path}/error.log\n"
                    "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
                    "LoadModule authz_core_module modules/mod_authz_core.so\n"
                    "LoadModule mime_module modules/mod_mime.so\n" + LOAD +
                    f"TypesConfig /etc/mime.types\nListen 127.0.0.1:{free_port()}\n"
                    "ServerName localhost\n"
                    f'DocumentRoot "{www}"\n<Directory "{www}">\n Require all granted\n'
                    f" Options +Includes\n XBitHack on\n</Directory>\n{extra}")
    return str(conf), str(www)


def _get(port: int, path: str, extra: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    got = parse_responses(raw_request(port, b"GET " + path.encode() + b" HTTP/1.0\r\n"
                                      b"Host: localhost\r\n" + extra + b"\r\n"))
    return got[0]


@pytest.mark.parametrize("board", ["pure", "compiled"])
def test_a_parsed_page_is_never_answered_from_a_cache(tmp_path, board: str) -> None:
    """Each answer runs the elements again (the query shows in the body) and the C
    engine never takes the page, while a plain file next to it is cached as before."""
    conf, _www = _site(tmp_path)
    srv = FastcoreThread(conf, board=board)
    try:
        for q in ("one", "two", "three"):
            status, hdrs, body = _get(srv.port, f"/p.html?{q}")
            assert status == 200 and body == f"Ap.html|{q}\n".encode()
            assert "etag" not in hdrs and "last-modified" not in hdrs
        first = _get(srv.port, "/plain.html")
        assert first == _get(srv.port, "/plain.html") and "etag" in first[1]
        info = cache_contribution(None, srv.srv.cfg.main.dir_defaults, None)
        assert info.cacheable  # the walk itself does not forbid caching
    finally:
        srv.stop()


def test_a_second_request_gets_the_same_fields(tmp_path) -> None:
    conf, _www = _site(tmp_path)
    srv = FastcoreThread(conf, board="compiled")
    try:
        a = _get(srv.port, "/p.html")
        b = _get(srv.port, "/p.html")
        a[1].pop("date", None)
        b[1].pop("date", None)
        assert a == b and "content-length" not in a[1]
    finally:
        srv.stop()


def _traced(tmp_path, mmap_on: bool) -> tuple[list[str], str]:
    conf, www = _site(tmp_path, f"EnableMMAP {'On' if mmap_on else 'Off'}\n")
    page = os.path.join(www, "p.html")
    with open(page, "a") as fh:
        fh.write("y" * 20000)
    out = str(tmp_path / "trace")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=openat,mmap,read,close",
                             "-o", out, sys.executable,
                             os.path.join(ROOT, "tests", "support", "http_server_proc.py"),
                             conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=env, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        port = int(line.split()[2])
        status, _h, body = _get(port, "/p.html")
        assert status == 200 and body.startswith(b"Ap.html|") and len(body) > 20000
    finally:
        if proc.stdin:
            proc.stdin.close()  # end of stdin stops the server (http_server_proc)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return open(out).read().splitlines(), page


def _doc_fd_calls(lines: list[str], page: str) -> list[str]:
    """The calls on the descriptor the document was opened on (to its close)."""
    out: list[str] = []
    fd = None
    for ln in lines:
        if fd is None:
            m = re.search(r'openat\(AT_FDCWD, "' + re.escape(page) + r'", [^)]*\) = (\d+)', ln)
            if m:
                fd = m.group(1)
            continue
        if re.search(rf"\b(mmap\(NULL, \d+, PROT_READ, MAP_SHARED, {fd}, 0\)|"
                     rf"read\({fd}, |close\({fd}\))", ln):
            out.append(ln)
            if f"close({fd})" in ln:
                break
    return out


@pytest.mark.skipif(subprocess.run(["which", "strace"], capture_output=True).returncode,
                    reason="strace is not installed")
def test_enable_mmap_decides_how_the_document_is_read(tmp_path) -> None:
    """EnableMMAP On maps the document (one mmap of its size, no read of it), Off reads
    it, as the tuning guide's EnableMMAP section describes for mod_include."""
    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    on = _doc_fd_calls(*_traced(tmp_path / "on", True))
    off = _doc_fd_calls(*_traced(tmp_path / "off", False))
    assert any("mmap(" in c for c in on) and not any("read(" in c for c in on), on
    assert any("read(" in c for c in off) and not any("mmap(" in c for c in off), off


def test_a_document_truncated_while_served_never_kills_the_child(tmp_path) -> None:
    """The document shrinks to nothing and grows back while requests parse it: every
    answer is whole, short or an error page, the child survives (no SIGBUS from a
    mapping past the new end) and the next request is answered in full."""
    www = tmp_path / "www"
    www.mkdir()
    page = www / "t.html"
    full = ('<!--#echo var="DOCUMENT_NAME" -->' + "z" * 4000 + "\n") * 500
    page.write_text(full)
    os.chmod(page, 0o744)
    body = (f'DocumentRoot "{www}"\n<Directory "{www}">\n Require all granted\n'
            " Options +Includes\n XBitHack on\n</Directory>\nEnableMMAP On\n")
    run = tmp_path / "run"
    run.mkdir()
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            with open(page, "r+") as fh:
                fh.truncate(0)
            time.sleep(0.0005)
            page.write_text(full)
            os.chmod(page, 0o744)

    with ApacheOracle(str(run), body, modules=("mpm_prefork", "authz_core", "mime",
                                                "include"), fastcore=True) as ap:
        t = threading.Thread(target=churn, daemon=True)
        t.start()
        try:
            statuses = []
            for _ in range(40):
                with socket.create_connection(("127.0.0.1", ap.port), timeout=10) as s:
                    s.sendall(b"GET /t.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    data = b""
                    while chunk := s.recv(65536):
                        data += chunk
                statuses.append(int(data.split(b" ", 2)[1]) if data else 0)
        finally:
            stop.set()
            t.join()
        page.write_text(full)
        assert all(s in (200, 403, 404) for s in statuses), sorted(set(statuses))
        assert ap.proc is not None and ap.proc.poll() is None
        status, _h, got = _get(ap.port, "/t.html")
        assert status == 200 and got.count(b"t.html") == 500
    log = open(run / "error_log").read()
    assert "SIGBUS" not in log and "exit signal" not in log


def test_ssi_start_and_end_tags_change_what_is_an_element(tmp_path) -> None:
    conf, www = _site(tmp_path, 'SSIStartTag "[%"\nSSIEndTag "%]"\n')
    with open(os.path.join(www, "p.html"), "w") as fh:
        fh.write('[%echo var="DOCUMENT_NAME" %]|<!--#echo var="DOCUMENT_NAME" -->')
    srv = FastcoreThread(conf)
    try:
        status, _h, body = _get(srv.port, "/p.html")
        assert (status, body) == (200, b'p.html|<!--#echo var="DOCUMENT_NAME" -->')
    finally:
        srv.stop()


def test_bytes_pass_through_untouched(tmp_path) -> None:
    """Binary bytes around elements and a UTF-8 SSIErrorMsg come out as they went in."""
    conf, www = _site(tmp_path, '<Directory />\n SSIErrorMsg "[é]"\n</Directory>\n')
    with open(os.path.join(www, "p.html"), "wb") as fh:
        fh.write(b'\xff\x00<!--#echo var="DOCUMENT_NAME" -->\xfe<!--#bogus -->')
    srv = FastcoreThread(conf)
    try:
        status, _h, body = _get(srv.port, "/p.html")
        assert (status, body) == (200, b"\xff\x00p.html\xfe[\xc3\xa9]")
        assert "AH01371" in open(tmp_path / "error.log").read()
    finally:
        srv.stop()


def test_sub_request_nesting_stops_at_ten(tmp_path) -> None:
    conf, www = _site(tmp_path)
    with open(os.path.join(www, "p.html"), "w") as fh:
        fh.write('R<!--#include virtual="/p.html" -->')
    srv = FastcoreThread(conf)
    try:
        status, _h, body = _get(srv.port, "/p.html")
        assert status == 200 and body.count(b"R") == 11
        assert body.endswith(b"[an error occurred while processing this directive]")
        log = open(tmp_path / "error.log").read()
        assert "AH00125: Request exceeded the limit of 10 subrequest nesting levels" in log
        assert "subrequest setup returned 500" in log
    finally:
        srv.stop()


def test_includes_runs_before_deflate(tmp_path) -> None:
    """AddOutputFilter INCLUDES;DEFLATE: the parsed page is what gets compressed."""
    import gzip
    conf, www = _site(tmp_path, "LoadModule filter_module modules/mod_filter.so\n"
                      "LoadModule deflate_module modules/mod_deflate.so\n"
                      "AddType text/html .shtml\nAddOutputFilter INCLUDES;DEFLATE .shtml\n")
    with open(os.path.join(www, "z.shtml"), "w") as fh:
        fh.write('<!--#echo var="DOCUMENT_NAME" --><!--#include virtual="/y.shtml" -->'
                 + "padding " * 200)
    with open(os.path.join(www, "y.shtml"), "w") as fh:  # nested: parsed, not compressed
        fh.write('[<!--#echo var="DOCUMENT_URI" -->]' + "y" * 300)
    srv = FastcoreThread(conf)
    try:
        status, hdrs, body = _get(srv.port, "/z.shtml", b"Accept-Encoding: gzip\r\n")
        assert status == 200 and hdrs.get("content-encoding") == "gzip"
        assert gzip.decompress(body) == (b"z.shtml[/z.shtml]" + b"y" * 300
                                         + b"padding " * 200)
    finally:
        srv.stop()
