"""Non-ASCII file names against real Apache 2.4: a path stays bytes from the request
line to the filesystem and back.

One document root holds UTF-8 names, names that are not valid UTF-8 (b"\\xff\\xfe.txt"),
a directory of each kind and a name with a space.  Every target goes, percent-encoded
(lower and upper case hex) and raw, to Apache and to fastcore twice on one keep-alive
connection: the first answer comes from the Python path (which fills both caches), the
repeat from the C engine (in-process server: its hit counter proves it) or from the pure
twin's engine (FASTCORE_NO_EXTENSIONS=1 subprocess).  Compared: status, Content-Type,
Location, body (listing hrefs and names included) and the access log's %r %U %q %f.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from support.apache_oracle import ApacheOracle
from support.inprocess import FastcoreThread
from support.wire import parse_responses

HERE = os.path.dirname(os.path.abspath(__file__))

ROOT = os.path.dirname(os.path.dirname(HERE))
OLD = 1_600_000_000  # not "just modified": strong ETags, so the engine may cache
LOGFMT = "%r|%U|%q|%f|%>s"
MODULES = ("mpm_prefork", "authz_core", "mime", "dir", "autoindex", "alias", "negotiation")

UTF8 = "ünïcødé.txt".encode()
TARGETS = [
    b"/%c3%bcn%c3%afc%c3%b8d%c3%a9.txt",            # what the listing links to
    b"/%C3%BC%6E%C3%AF%63%C3%B8%64%C3%A9.txt",     # upper-case hex, escaped ASCII too
    b"/" + UTF8,                                    # raw UTF-8 request target
    b"/%ff%fe.txt", b"/%FF%FE.txt", b"/\xff\xfe.txt",  # not valid UTF-8
    b"/d%c3%afr", b"/d\xc3\xafr", b"/d%ff", b"/d\xff",  # DirectorySlash's 301 Location
    b"/d%c3%afr?q=\xc3\xbc&r=%ff",                  # the query goes back as it came
    b"/d%c3%afr/", b"/d%ff/", b"/d%ff/%c3%a9.html",  # listings, a file below a bad name
    b"/", b"/a%20b.txt", b"/%c3", b"/%c3%28.txt",   # a cut sequence, a missing name
    b"/r/%c3%bc%ff", b"/r/\xc3\xbc?x=\xff",         # Redirect: ap_os_escape_path of the rest
    b"/u/%c3%bc",                                   # the target's own bytes, unescaped
    b"/rm/%c3%bc%20x", b"/rm/\xff?q=\xc3\xbc",       # RedirectMatch: ap_escape_uri, query
    b"/rq/%c3%bc", b"/rl/%ff",                      # its own query kept; a local target
    b"/mv/%c3%bc", b"/mv/\xff", b"/mv/%ff?x",         # MultiViews: Content-Location, Vary
    b"/e1/x", b"/e2/x",                             # ErrorDocument paths: a URL, %-decoded
]


def build_site(doc: str) -> None:
    bdoc = os.fsencode(doc)
    files = {UTF8: b"unicode\n", b"\xff\xfe.txt": b"not utf-8\n", b"a b.txt": b"space\n",
             "dïr/x.txt".encode(): b"x\n", b"d\xff/\xc3\xa9.html": b"<p>e</p>\n",
             b"d\xff/\xfe.txt": b"fe\n", b"mv/\xc3\xbc.html": b"<p>u</p>\n",
             b"mv/\xff.html": b"<p>ff</p>\n"}
    for name, data in files.items():
        path = bdoc + b"/" + name
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (OLD, OLD))


def site_conf(doc: str, log: str) -> str:
    return f"""DocumentRoot "{doc}"
<Directory />
  Options FollowSymLinks
  AllowOverride None
</Directory>
<Directory "{doc}">
  Options Indexes FollowSymLinks
  AllowOverride None
  Require all granted
</Directory>
<Directory "{doc}/mv">
  Options +MultiViews
</Directory>
<Location /e1>
  ErrorDocument 404 /a%20b.txt
</Location>
<Location /e2>
  ErrorDocument 404 /ünïcødé.txt
</Location>
Redirect /r/ http://elsewhere.example/t/
Redirect /u/ http://elsewhere.example/ü/
RedirectMatch ^/rm/(.*)$ http://elsewhere.example/$1
RedirectMatch ^/rq/(.*)$ http://elsewhere.example/a%20b/$1?k=ü#frag
RedirectMatch ^/rl/(.*)$ /local/$1
KeepAlive On
LogFormat "{LOGFMT}" paths
CustomLog "{log}" paths
"""


def exchange(port: int, target: bytes, times: int) -> list[tuple[int, dict[str, str], bytes]]:
    """GET `target` `times` times on one keep-alive connection, one at a time."""
    out: list[tuple[int, dict[str, str], bytes]] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        got = b""
        for i in range(times):
            last = i == times - 1
            s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n"
                      + (b"Connection: close\r\n" if last else b"") + b"\r\n")
            while True:
                rs = parse_responses(got)
                if len(rs) > i and _complete(got, i):
                    break
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        out = parse_responses(got)
    return out


def _complete(data: bytes, i: int) -> bool:
    """The (i+1)-th response is all there (its Content-Length of body received)."""
    for _ in range(i + 1):
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = data[:end].lower()
        n = 0
        if b"content-length:" in head:
            n = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
        if len(data) < end + 4 + n:
            return False
        data = data[end + 4 + n:]
    return True


def view(resp: tuple[int, dict[str, str], bytes]) -> tuple:
    status, headers, body = resp
    return (status, headers.get("content-type"), headers.get("location"),
            headers.get("content-location"), headers.get("vary"), body)


def read_log(path: str) -> list[str]:
    with open(path, "rb") as f:
        return f.read().decode("latin-1").splitlines()


@pytest.fixture(scope="module")
def apache(tmp_path_factory: pytest.TempPathFactory):
    """Apache's answers (each target asked twice, as fastcore is) and its log lines."""
    tmp = tmp_path_factory.mktemp("paths")
    doc = str(tmp / "htdocs")
    os.mkdir(doc)
    build_site(doc)
    run = tmp / "apache"
    run.mkdir()
    log = str(run / "access_log")
    with ApacheOracle(str(run), site_conf(doc, log), modules=MODULES) as ap:
        answers = {t: exchange(ap.port, t, 2) for t in TARGETS}
        settled(log)  # a child writes its line after the answer: not lost to the stop
    return doc, answers, read_log(log)


def settled(log: str, quiet: float = 0.5, bound: float = 10.0) -> None:
    """Wait until the access log stops growing (bounded)."""
    deadline = time.monotonic() + bound
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        size = os.path.getsize(log) if os.path.exists(log) else 0
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def fastcore_conf(tmp: str, doc: str, log: str) -> str:
    conf = ApacheOracle(tmp, site_conf(doc, log), modules=MODULES)
    with open(conf.conf_path, "w") as f:
        f.write(conf.config_text())
    return conf.conf_path


def check(apache_answers: dict, apache_log: list[str], answers: dict, log: list[str]) -> None:
    for t in TARGETS:
        want = [view(r) for r in apache_answers[t]]
        got = [view(r) for r in answers[t]]
        assert got == want, t
    # the same lines; the engine writes its line just after its answer, so a line of the
    # next connection (Python's) may come first: order is not compared
    assert sorted(log) == sorted(apache_log)


def test_utf8_and_non_utf8_names_in_process_engine(apache, tmp_path) -> None:
    """The compiled build: Python path first, the C engine for the repeats."""
    doc, ap_answers, ap_log = apache
    log = str(tmp_path / "access_log")
    # the 200 answers for a file (six spellings of the two names, a file in d\xff/,
    # "a b.txt") are repeated by the engine, each under the exact bytes it was sent as;
    # listings and negotiated answers (Content-Location) are not cached
    files = [t for t in TARGETS if ap_answers[t][0][0] == 200 and not t.endswith(b"/")
             and "content-location" not in ap_answers[t][0][1]]
    assert len(files) == 8
    # and the oracle did serve the names (not two servers agreeing on 404s)
    assert [view(ap_answers[t][0])[:4] for t in (b"/mv/%c3%bc", b"/mv/\xff")] == [
        (200, "text/html", None, "%c3%bc.html"), (200, "text/html", None, "%ff.html")]
    assert ap_answers[b"/d%ff"][0][1]["location"] == "http://localhost/d%ff/"
    assert [view(ap_answers[t][0])[::5] for t in (b"/e1/x", b"/e2/x")] == [
        (404, b"space\n"), (404, b"unicode\n")]
    fc = FastcoreThread(fastcore_conf(str(tmp_path), doc, log), board="compiled")
    try:
        before = fc.srv.engine.cache.stats()["hits"]
        answers = {t: exchange(fc.port, t, 2) for t in TARGETS}
        # the engine counts a hit just after its answer went out: wait for it (bounded)
        deadline = time.monotonic() + 10
        while fc.srv.engine.cache.stats()["hits"] - before < len(files) and time.monotonic() < deadline:
            time.sleep(0.01)
        hits = fc.srv.engine.cache.stats()["hits"] - before
    finally:
        fc.stop()
    check(ap_answers, ap_log, answers, read_log(log))
    assert hits == len(files)


def test_utf8_and_non_utf8_names_pure_twin(apache, tmp_path) -> None:
    """FASTCORE_NO_EXTENSIONS=1: the twins of the scanner and of the engine."""
    doc, ap_answers, ap_log = apache
    log = str(tmp_path / "access_log")
    conf = fastcore_conf(str(tmp_path), doc, log)
    env = dict(os.environ, PYTHONPATH=ROOT, FASTCORE_NO_EXTENSIONS="1")
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(HERE), "support", "http_server_proc.py"), conf],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        port = int(line.split()[2])
        answers = {t: exchange(port, t, 2) for t in TARGETS}
        proc.stdin.close()  # EOF on stdin: the helper flushes its logs and exits
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    check(ap_answers, ap_log, answers, read_log(log))
