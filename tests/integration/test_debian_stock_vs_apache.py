"""Debian's unmodified stock configuration (/etc/apache2 as `apt-get install apache2`
leaves it) served by real Apache, started as Debian starts it (apache2ctl: envvars, then
apache2 -d), and by `python -m fastcore -d COPY -f apache2.conf -DFOREGROUND`; only ports
and paths differ between the copies (support/debian_stock.py).  The same requests go to
both, each twice (the second answer of a plain file comes from fastcore's cache), and the
answers are compared: status, every header but Date and Server (Allow as a set: Apache's
order is its hash table's), and the body with the product name and port normalized.
"""
from __future__ import annotations

import gzip
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import debian_stock as stock
from support.wire import parse_responses, raw_request

SERVER_FIELD = re.compile(r"^(Apache|fastcore)/[0-9.]+ \([A-Za-z]+\)$")  # ServerTokens OS
BANNER = re.compile(rb"(Apache|fastcore)/[0-9.]+ \([A-Za-z]+\)")
VOLATILE = {"date", "server"}


@dataclass
class Pair:
    apache: stock.StockServer
    fastcore: stock.StockServer
    docroot: Path


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    base = Path(tempfile.mkdtemp(prefix="fc-debian-stock-"))
    os.chmod(base, 0o755)
    docroot = stock.make_docroot(base)
    ap = stock.copy_stock(base, "apache", docroot)
    fc = stock.copy_stock(base, "fastcore", docroot)
    stock.start(ap, *stock.apache_command(ap))
    stock.start(fc, *stock.fastcore_command(fc))
    try:
        yield Pair(ap, fc, docroot)
    finally:
        stock.stop(ap)
        stock.stop(fc)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def running(pair: Pair) -> Pair:
    for srv in (pair.apache, pair.fastcore):
        assert srv.proc is not None and srv.proc.poll() is None, \
            f"{srv.name} did not start:\n{srv.stderr}"
    return pair


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def ask(srv: stock.StockServer, target: str, method: str = "GET", extra: str = "",
        version: str = "HTTP/1.1", host: bool = True) -> Answer:
    head = f"{method} {target} {version}\r\n"
    if host:
        head += f"Host: 127.0.0.1:{srv.port}\r\n"
    head += f"Connection: close\r\n{extra}\r\n"
    raw = raw_request(srv.port, head.encode())
    resps = parse_responses(raw, head_request=method == "HEAD")
    assert resps, f"{srv.name}: no answer to {method} {target}: {raw!r}"
    status, headers, body = resps[0]
    return Answer(status, headers, body)


def normalized(ans: Answer, port: int) -> tuple[int, dict[str, str], bytes]:
    headers = {}
    for name, value in ans.headers.items():
        if name in VOLATILE:
            continue
        value = value.replace(str(port), "PORT")
        if name == "allow":
            value = ",".join(sorted(v.strip() for v in value.split(",")))
        headers[name] = value
    body = BANNER.sub(b"SERVER", ans.body.replace(str(port).encode(), b"PORT"))
    return ans.status, headers, body


def same(p: Pair, target: str, method: str = "GET", extra: str = "",
         version: str = "HTTP/1.1", host: bool = True) -> tuple[Answer, Answer]:
    """Ask both servers twice; the four answers must agree once normalized."""
    got = []
    for _ in range(2):
        a = ask(p.apache, target, method, extra, version, host)
        f = ask(p.fastcore, target, method, extra, version, host)
        assert SERVER_FIELD.match(a.headers.get("server", "")), a.headers
        assert SERVER_FIELD.match(f.headers.get("server", "")), f.headers
        assert normalized(f, p.fastcore.port) == normalized(a, p.apache.port), \
            f"{method} {target} {extra!r}"
        got.append((a, f))
    assert normalized(got[1][1], p.fastcore.port) == normalized(got[0][1], p.fastcore.port)
    return got[0]


def test_both_start_on_the_stock_files(running: Pair) -> None:
    for srv in (running.apache, running.fastcore):
        assert srv.pid_file.is_file()


def test_runtime_folders_as_apache2ctl_makes_them(pair: Pair) -> None:
    """fastcore's own envvars handling leaves run/, run/socks and lock/ as apache2ctl does
    (owner APACHE_RUN_USER for socks and lock, mode 755), before the configuration is read."""
    for sub in ("run", "run/socks", "lock"):
        a = os.stat(pair.apache.state / sub)
        f = os.stat(pair.fastcore.state / sub)
        assert (f.st_uid, f.st_mode) == (a.st_uid, a.st_mode), sub


def test_workers_run_as_www_data(running: Pair) -> None:
    """User/Group ${APACHE_RUN_USER}: applied when started as root, as Apache does."""
    me = pwd.getpwuid(os.getuid()).pw_name
    for srv in (running.apache, running.fastcore):
        pid = int(srv.pid_file.read_text().split()[0])
        want = {"www-data" if me == "root" else me}
        deadline = time.monotonic() + 15  # a child that is still starting is root a moment
        while stock.child_users(pid) != want and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stock.child_users(pid) == want, srv.name


def test_debian_index_page(running: Pair) -> None:
    a, f = same(running, "/")
    assert a.status == 200 and a.body == stock.DEBIAN_INDEX.read_bytes()
    assert a.headers["content-type"] == "text/html"
    same(running, "/index.html")


@pytest.mark.parametrize("icon", ["/icons/folder.gif", "/icons/back.gif",
                                  "/icons/openlogo-75.png", "/icons/ubuntu-logo.png",
                                  "/icons/odf6odt-20x22.png", "/icons/small/text.gif",
                                  "/icons/apache_pb.svg"])
def test_shipped_icons(running: Pair, icon: str) -> None:
    a, _f = same(running, icon)
    path = Path("/usr/share/apache2/icons") / icon.removeprefix("/icons/")
    assert a.status == (200 if path.is_file() else 404)


def test_icons_folder_is_not_listed(running: Pair) -> None:
    a, _f = same(running, "/icons/")  # <Directory /usr/share/apache2/icons>: no Indexes
    assert a.status == 403


@pytest.mark.parametrize("query", ["", "?C=M;O=D", "?C=S;O=A", "?C=N;O=D;F=0", "?V=0"])
def test_listing_with_autoindex_conf(running: Pair, query: str) -> None:
    a, _f = same(running, "/files/" + query)
    assert a.status == 200 and a.headers["content-type"] == "text/html;charset=UTF-8"
    assert b".hidden" not in a.body and b"backup~" not in a.body  # IndexIgnore


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_long_listing_has_no_length(running: Pair, version: str) -> None:
    """Over 8000 bytes the listing leaves Apache's write buffer before its end: chunked
    for HTTP/1.1, close-delimited for HTTP/1.0; HEAD says neither."""
    a, _f = same(running, "/many/", version=version)
    assert a.status == 200 and len(a.body) > 8000 and "content-length" not in a.headers
    assert a.headers.get("transfer-encoding") == ("chunked" if version == "HTTP/1.1" else None)
    same(running, "/many/", method="HEAD", version=version)
    small, _f = same(running, "/many/?F=0", version=version)
    assert small.headers["content-length"] == str(len(small.body))


def test_directory_slash_redirect(running: Pair) -> None:
    a, _f = same(running, "/files/subdir")
    assert a.status == 301


def test_error_pages(running: Pair) -> None:
    assert same(running, "/.htaccess")[0].status == 403  # <FilesMatch "^\.ht">
    assert same(running, "/.htpasswd")[0].status == 403
    assert same(running, "/no-such-file.html")[0].status == 404
    assert same(running, "/cgi-bin/")[0].status == 404  # no mod_cgi: no ScriptAlias


def test_error_page_without_host_names_the_default_server(running: Pair) -> None:
    """No ServerName in the stock files: the signature names httpd's fallback."""
    a, _f = same(running, "/no-such-file.html", version="HTTP/1.0", host=False)
    assert a.status == 404
    assert b"Server at 127.0.0.1 Port PORT" in normalized(a, running.apache.port)[2]
    a, _f = same(running, "/files", version="HTTP/1.0", host=False)
    assert a.status == 301


def test_head_and_conditional_get(running: Pair) -> None:
    a, _f = same(running, "/", method="HEAD")
    assert a.status == 200 and a.body == b""
    etag, modified = a.headers["etag"], a.headers["last-modified"]
    assert same(running, "/", extra=f"If-None-Match: {etag}\r\n")[0].status == 304
    assert same(running, "/", extra=f"If-Modified-Since: {modified}\r\n")[0].status == 304
    assert same(running, "/", extra="Range: bytes=0-99\r\n")[0].status == 206


def test_trace_disabled_and_options(running: Pair) -> None:
    assert same(running, "/", method="TRACE")[0].status == 405  # security.conf
    same(running, "/", method="OPTIONS")


def test_gzip_of_the_index_page(running: Pair) -> None:
    """deflate.conf: AddOutputFilterByType DEFLATE text/html ... (mod_filter)."""
    a, f = same(running, "/", extra="Accept-Encoding: gzip\r\n")
    assert a.headers.get("content-encoding") == "gzip"
    assert gzip.decompress(f.body) == stock.DEBIAN_INDEX.read_bytes()


def _auto_keys(body: bytes) -> list[str]:
    """The ?auto keys in order; CPULoad is there only once the CPU times are not zero
    (mod_status prints it only then), so it is left out."""
    lines = body.decode("latin-1").splitlines()
    keys = [line.split(":", 1)[0] for line in lines[1:]]
    return [lines[0] and "HOST"] + [k for k in keys if k != "CPULoad"]


def test_server_status_auto_shape(running: Pair) -> None:
    """status.conf: <Location /server-status> Require local, ExtendedStatus On."""
    deadline = time.monotonic() + 10  # ReqPerSec & co. appear once the uptime is >= 1 s
    while True:
        a = ask(running.apache, "/server-status?auto")
        f = ask(running.fastcore, "/server-status?auto")
        if (b"\nServerUptimeSeconds: 0\n" not in a.body + f.body
                or time.monotonic() > deadline):
            break
        time.sleep(0.3)
    assert (f.status, f.headers["content-type"]) == (a.status, a.headers["content-type"])
    assert a.status == 200
    assert _auto_keys(f.body) == _auto_keys(a.body)
    fields = [{k: v.strip() for k, _, v in (line.partition(":") for line in
                                            b.decode("latin-1").splitlines()[1:])}
              for b in (a.body, f.body)]
    for key in ("ServerMPM", "Processes"):
        assert fields[1][key] == fields[0][key], key
    # the scoreboard: one letter per ThreadsPerChild slot of each ServerLimit process
    assert len(fields[1]["Scoreboard"]) == len(fields[0]["Scoreboard"])
    assert set(fields[1]["Scoreboard"]) <= set("_SRWKDCLGI.")


def test_server_status_page(running: Pair) -> None:
    a = ask(running.apache, "/server-status")
    f = ask(running.fastcore, "/server-status")
    assert (f.status, f.headers["content-type"]) == (a.status, a.headers["content-type"])
    assert a.status == 200
    for body in (a.body, f.body):
        text = body.decode("latin-1")
        assert "<h1>Apache Server Status for 127.0.0.1 (via 127.0.0.1)</h1>" in text
        assert "Scoreboard Key:" in text and "<th>Srv</th>" in text  # ExtendedStatus On
    tags = [re.findall(r"<(dt|th|h1|h2|table|pre)\b", b.decode("latin-1")) for b in
            (a.body, f.body)]
    assert sorted(set(tags[1])) == sorted(set(tags[0]))
    for srv, body in ((running.apache, a.body), (running.fastcore, f.body)):
        # ExtendedStatus: the request's own row names the vhost as "name:local port"
        assert (f"<td nowrap>127.0.0.1:{srv.port}</td><td nowrap>GET /server-status "
                "HTTP/1.1</td>") in body.decode("latin-1"), srv.name
    assert b"<hr />\n<address>" in a.body


def test_syntax_check_output(pair: Pair) -> None:
    """`-t` on the stock files: Apache's AH00558 warning (no ServerName), then Syntax OK
    (on stderr from Apache, on stdout from fastcore: docs/compat.md)."""
    ap_cmd, ap_env = stock.apache_command(pair.apache)
    a = subprocess.run([stock.APACHE2CTL, "-t"], env=ap_env, capture_output=True,
                       text=True, timeout=60)
    fc_cmd, fc_env = stock.fastcore_command(pair.fastcore)
    f = subprocess.run(fc_cmd[:-1] + ["-t"], env=fc_env, capture_output=True, text=True,
                       timeout=60)
    assert (f.returncode, a.returncode) == (0, 0), f.stderr + a.stderr
    assert f.stdout == "Syntax OK\n" and a.stderr.endswith("Syntax OK\n")
    assert f.stderr.replace("fastcore:", "apache2:") == a.stderr.removesuffix("Syntax OK\n")
    assert "AH00558" in f.stderr


def _stderr_lines(text: str) -> list[str]:
    """stderr with the log stamps ([date] [module:level] [pid N:tid N]) and the program
    name normalized."""
    text = re.sub(r"^\[[^]]+\] (\[[a-z_]+:[a-z]+\]) \[pid \d+:tid \d+\] ", r"\1 ", text,
                  flags=re.M)
    return text.replace("fastcore:", "apache2:").splitlines()


def test_without_envvars_both_warn_and_stop(pair: Pair) -> None:
    """apache2 run directly (not through apache2ctl) on the stock files: ${APACHE_RUN_DIR}
    is undefined (AH00111, the text kept) and DefaultRuntimeDir stops the start; fastcore
    with no envvars to source says the same."""
    env = stock.clean_env()
    a = subprocess.run(["/usr/sbin/apache2", "-d", str(pair.apache.confdir), "-t"], env=env,
                       capture_output=True, text=True, timeout=60)
    fc_cmd, _ = stock.fastcore_command(pair.fastcore)
    f = subprocess.run(fc_cmd[:-1] + ["-t"], env=dict(env, APACHE_ENVVARS="/nonexistent"),
                       capture_output=True, text=True, timeout=60)
    assert (f.returncode, a.returncode) == (1, 1)
    want = _stderr_lines(a.stderr.replace(str(pair.apache.confdir), "CONF"))
    assert _stderr_lines(f.stderr.replace(str(pair.fastcore.confdir), "CONF")) == want
    assert want[0] == "[core:warn] AH00111: Config variable ${APACHE_RUN_DIR} is not defined"


def test_keep_alive_sequence(running: Pair) -> None:
    """KeepAlive On, MaxKeepAliveRequests 100, KeepAliveTimeout 5 of apache2.conf: three
    requests on one connection (the file ones from the caches by now) get the same
    answers, Keep-Alive fields included."""
    targets = ["/", "/icons/folder.gif", "/no-such-file.html", "/files/"]
    for _ in range(2):
        got = []
        for srv in (running.apache, running.fastcore):
            data = b"".join(f"GET {t} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                            f"Connection: keep-alive\r\n\r\n".encode() for t in targets)
            data += f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nConnection: close\r\n\r\n"\
                .encode()
            resps = parse_responses(raw_request(srv.port, data, half_close=False))
            got.append([normalized(Answer(*r), srv.port) for r in resps])
        assert len(got[0]) == len(targets) + 1
        assert got[1] == got[0]
        assert got[0][0][1]["keep-alive"] == "timeout=5, max=100"


def _log_lines(srv: stock.StockServer, marker: str) -> list[str]:
    """The access.log lines of requests whose User-Agent carries `marker`, the time
    stamp and the port normalized."""
    text = (srv.state / "log" / "access.log").read_text()
    out = [re.sub(r"\[[^]]+\]", "[TIME]", line).replace(str(srv.port), "PORT")
           for line in text.splitlines() if marker in line]
    return out


def test_access_log_lines(running: Pair) -> None:
    """CustomLog ${APACHE_LOG_DIR}/access.log combined (000-default.conf), %O included;
    other_vhosts_access.log (vhost_combined, main server) gets nothing from the vhost."""
    marker = f"stock-log-{os.getpid()}"
    extra = f"User-Agent: {marker}\r\nReferer: http://example.test/from\r\n"
    for target in ("/", "/icons/openlogo-75.png", "/files/", "/.htaccess", "/no-such-file",
                   "/files/subdir"):
        same(running, target, extra=extra)
    same(running, "/", method="HEAD", extra=extra)
    deadline = time.monotonic() + 10
    while True:
        lines = [_log_lines(s, marker) for s in (running.apache, running.fastcore)]
        if len(lines[0]) == len(lines[1]) == 14 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert lines[1] == lines[0]
    assert len(lines[0]) == 14
    for srv in (running.apache, running.fastcore):
        other = srv.state / "log" / "other_vhosts_access.log"
        assert not other.exists() or marker not in other.read_text()
