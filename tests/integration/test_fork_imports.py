"""No child imports anything: every feature of the request path runs in real children
(prefork, worker, event) that dropped root to `User nobody`, with the import audit hook
(FASTCORE_AUDIT_FORK_IMPORTS: each child logs, when it exits, the modules it imported after
fork) - and the same requests get the statuses real Apache gives for the same httpd.conf.

A child running as nobody here cannot read the interpreter's standard library (it lives
under /root when the tests run as root), so a lazy import there is a failed request, not
only a few private pages: HostnameLookups and `Require host` used to answer nothing at all
(`LookupError: unknown encoding: idna`, the codec is imported on first use).
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass

import pytest
from support.apache_oracle import MODDIR
from support.servers import ApacheServer, FastcoreServer, Server
from support.wire import parse_responses

from fastcore.mpm.child import AUDIT_IMPORTS_ENV

AS_ROOT = os.geteuid() == 0
# Every access-log field fastcore knows, so each formatter runs in a child.
EVERY_FIELD = ('%h %a %A %l %u %t %{%Y-%m}t %{msec}t %{usec_frac}t \\"%r\\" %s %>s %b %B %D '
               '%T %{ms}T \\"%{User-Agent}i\\" %{Content-Type}o %v %V %p %{canonical}p '
               '%{local}p %{remote}p %P %{pid}P %{tid}P %k %X %U %q %m %H %f %I %O %S %R '
               '%{c}C %{HOME}e %{note}n %L %%')
MODULES = ("authz_host", "autoindex", "negotiation", "status", "alias")


def site_config(tmp: str, docroot: str, mpm: str) -> str:
    lines = [f"LoadModule {m}_module {MODDIR}/mod_{m}.so" for m in MODULES]
    if AS_ROOT:
        lines += ["User nobody", "Group nogroup"]
    if mpm == "prefork":
        lines += ["StartServers 1", "MinSpareServers 1", "MaxSpareServers 2"]
    else:
        lines += ["StartServers 1", "ServerLimit 2", "MaxRequestWorkers 8", "ThreadsPerChild 4",
                  "MinSpareThreads 1", "MaxSpareThreads 8", "ThreadLimit 4"]
    lines += [
        "HostnameLookups Double",
        "AddType text/html .html",
        "AddLanguage en .en", "AddLanguage fr .fr",
        "AddHandler type-map .var",
        "ErrorDocument 404 /err.html",
        'ErrorDocument 403 "go away"',
        f'LogFormat "{EVERY_FIELD}" every',
        f'CustomLog "{tmp}/every_log" every',
        "ExtendedStatus On",
        "<Location /server-status>", "  SetHandler server-status", "</Location>",
        f'<Directory "{docroot}">', "  Options Indexes MultiViews", "  AllowOverride All",
        "</Directory>",
        f'<Directory "{docroot}/friends">', "  Require host localhost", "</Directory>",
        f'<Directory "{docroot}/strangers">', "  Require host example.invalid", "</Directory>",
        f'<Directory "{docroot}/digest">', "  FileETag Digest", "  AddDefaultCharset utf-8",
        "  LogLevel authz_core:debug core:info", "  UseCanonicalName DNS", "</Directory>",
        "IndexOptions FancyIndexing",
    ]
    return "\n".join(lines) + "\n"


def make_site(docroot: str) -> None:
    files = {
        "index.html": "hello from the docroot\n",
        "err.html": "custom not found\n",
        "page.en.html": "english\n",
        "page.fr.html": "francais\n",
        "doc.var": "URI: doc.en.html\nContent-Type: text/html\nContent-Language: en\n\n"
                   "URI: doc.fr.html\nContent-Type: text/html\nContent-Language: fr\n",
        "doc.en.html": "doc english\n",
        "doc.fr.html": "doc francais\n",
        "list/a.txt": "a\n",
        "list/b.txt": "bb\n",
        "friends/index.html": "friends only\n",
        "strangers/index.html": "nobody sees this\n",
        "ht/.htaccess": "DirectoryIndex other.html\n",
        "ht/other.html": "picked by .htaccess\n",
        "broken/.htaccess": "NoSuchDirective on\n",
        "broken/index.html": "never\n",
        "digest/page.html": "digested\n",
        "digest/sub/index.html": "sub\n",
    }
    for name, text in files.items():
        path = os.path.join(docroot, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    for folder, dirs, names in os.walk(docroot):
        os.chmod(folder, 0o755)
        for n in names:
            os.chmod(os.path.join(folder, n), 0o644)
        del dirs[:0]


# (request bytes, what the response must contain besides the status Apache gives)
REQUESTS: list[tuple[bytes, bytes]] = [
    (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", b"hello from the docroot"),
    (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", b"hello from the docroot"),  # cached
    (b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-4\r\n\r\n", b"hello"),
    (b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-1,3-4\r\n\r\n",
     b"multipart/byteranges"),
    (b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n"
     b"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n", b""),
    (b"HEAD /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n", b""),
    (b"GET /list/ HTTP/1.1\r\nHost: localhost\r\n\r\n", b"a.txt"),
    (b"GET /list/?C=S;O=D HTTP/1.1\r\nHost: localhost\r\n\r\n", b"b.txt"),
    (b"GET /page HTTP/1.1\r\nHost: localhost\r\nAccept-Language: fr\r\n\r\n", b"francais"),
    (b"GET /doc.var HTTP/1.1\r\nHost: localhost\r\nAccept-Language: en\r\n\r\n",
     b"doc english"),
    (b"GET /server-status HTTP/1.1\r\nHost: localhost\r\n\r\n", b"Server Status"),
    (b"GET /server-status?auto HTTP/1.1\r\nHost: localhost\r\n\r\n", b"Scoreboard"),
    (b"GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n", b"custom not found"),
    (b"GET /friends/ HTTP/1.1\r\nHost: localhost\r\n\r\n", b"friends only"),
    (b"GET /strangers/ HTTP/1.1\r\nHost: localhost\r\n\r\n", b"go away"),
    (b"GET /ht/ HTTP/1.1\r\nHost: localhost\r\n\r\n", b"picked by .htaccess"),
    (b"GET /digest/page.html HTTP/1.1\r\nHost: localhost\r\n\r\n", b"charset=utf-8"),
    (b"GET /digest/sub HTTP/1.1\r\nHost: elsewhere\r\n\r\n", b"http://localhost/"),
    (b"GET /broken/ HTTP/1.1\r\nHost: localhost\r\n\r\n", b"Internal Server Error"),
    (b"OPTIONS / HTTP/1.1\r\nHost: localhost\r\n\r\n", b""),
    (b"TRACE / HTTP/1.1\r\nHost: localhost\r\n\r\n", b"message/http"),
    (b"BREW / HTTP/1.1\r\nHost: localhost\r\n\r\n", b"Not Implemented"),
    (b"POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc",
     b"hello from the docroot"),
    (b"GET /%zz HTTP/1.1\r\nHost: localhost\r\n\r\n", b"Bad Request"),
    (b"GET / HTTP/1.1\r\n\r\n", b"Bad Request"),
]


def exchange(port: int, raw: bytes) -> bytes:
    """One request on its own connection (Connection: close added), all bytes back."""
    raw = raw.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def run_all(port: int) -> list[tuple[int, bytes]]:
    out = []
    for raw, _ in REQUESTS:
        data = exchange(port, raw)
        assert data, f"no answer at all to {raw!r}"
        head = raw.split(b" ", 1)[0]
        got = parse_responses(data, head_request=head == b"HEAD")[0]
        out.append((got[0], data))
    return out


@dataclass
class Observed:
    """What a client and the access log see of the REQUESTS run."""

    statuses: list[int]
    remote_hosts: list[str]  # %h of each line, in order


def observe(srv: Server) -> Observed:
    srv.start()
    try:
        statuses = [status for status, _ in run_all(srv.port)]
    finally:
        srv.stop()
    with open(os.path.join(srv.tmp, "every_log")) as fh:
        hosts = [line.split(" ", 1)[0] for line in fh.read().splitlines()]
    return Observed(statuses, hosts)


@pytest.fixture(scope="module")
def apache() -> Observed:
    tmp = tempfile.mkdtemp(prefix="fc-forkimp-ap-")
    os.chmod(tmp, 0o755)
    try:
        srv = ApacheServer(tmp, "prefork")
        make_site(srv.docroot)
        srv.extra = site_config(tmp, srv.docroot, "prefork")
        return observe(srv)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_every_feature_in_a_child_imports_nothing(mpm: str, process_mode: str,
                                                  apache: Observed) -> None:
    tmp = tempfile.mkdtemp(prefix="fc-forkimp-")
    os.chmod(tmp, 0o755)
    try:
        srv = FastcoreServer(tmp, mpm, pure=process_mode == "pure",
                             extra_env={AUDIT_IMPORTS_ENV: "1"})
        make_site(srv.docroot)
        srv.extra = site_config(tmp, srv.docroot, mpm)
        srv.start()
        try:
            results = run_all(srv.port)
        finally:
            srv.stop()
        statuses = [s for s, _ in results]
        assert statuses == apache.statuses
        for (raw, must), (_, data) in zip(REQUESTS, results, strict=True):
            assert must in data, (raw, data[:300])
        log = srv.error_log()
        audits = re.findall(r"imported after fork: (.*)", log)
        assert audits, log
        assert all(a == "(none)" for a in audits), audits
        assert "internal error" not in log, log
        with open(os.path.join(tmp, "every_log")) as fh:
            lines = fh.read().splitlines()
        # HostnameLookups Double: %h is the verified name wherever Apache logs it
        assert [ln.split(" ", 1)[0] for ln in lines] == apache.remote_hosts
        assert "localhost" in apache.remote_hosts
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Module code the core itself imports whatever is loaded (docs/internals.md, "Layout"):
# mod_log_config, compiled into httpd.
CORE_IMPORTED = ("fastcore.modules.mod_log_config",)
# Modules whose code uses another module's (httpd's optional functions: ap_auth_type
# and ap_note_auth_failure for mod_authz_core; mod_autoindex's DirectoryIndex and
# MultiViews lookups, mod_dir's index negotiation), imported with them.
USES = {"authz_core": ("auth_basic", "authn_core"), "autoindex": ("dir", "negotiation", "mime"),
        "negotiation": ("mime",), "dir": ("mime", "negotiation"),
        # mod_rewrite reads mod_alias's context prefix and mod_dir's DirectorySlash
        "rewrite": ("alias", "dir")}
AUDIT = """
import sys
from fastcore.config import load
from fastcore.config.merge import DirResolver
from fastcore.core.server import HttpServer
cfg = load(sys.argv[1])
srv = HttpServer(cfg, None, DirResolver(cfg))
srv.preload()
print("\\n".join(sorted(m for m in sys.modules if m.startswith("fastcore.modules."))))
"""


@pytest.mark.parametrize("loaded", [("mime",), ("mime", "dir", "status"),
                                    ("alias", "autoindex", "negotiation"), ("rewrite",)])
def test_the_parent_imports_exactly_the_loaded_modules(tmp_path, loaded: tuple[str, ...]
                                                       ) -> None:
    """What the parent imports before fork: the core, the LoadModule'd modules (with
    their packages' submodules) and nothing of a module the configuration did not load
    (the phases, the cache decision and the services ask only the loaded ones)."""
    import subprocess
    import sys

    from fastcore.modules import MODULES

    conf = tmp_path / "httpd.conf"
    conf.write_text("".join(f"LoadModule {m}_module {MODDIR}/mod_{m}.so\n"
                            for m in ("mpm_event", "authz_core", *loaded))
                    + f"ServerRoot {tmp_path}\nErrorLog {tmp_path}/error_log\n"
                    f"DocumentRoot {tmp_path}\nListen 127.0.0.1:1\nServerName localhost\n")
    out = subprocess.run([sys.executable, "-c", AUDIT, str(conf)], capture_output=True,
                         text=True, check=True, cwd=os.getcwd()).stdout.split()
    names = {"authz_core", *loaded}
    while (more := {u for m in names for u in USES.get(m, ())} - names):
        names |= more
    wanted = {MODULES[f"{m}_module"] for m in names} | set(CORE_IMPORTED)
    top = {".".join(m.split(".")[:3]) for m in out}
    assert top == wanted, (sorted(top - wanted), sorted(wanted - top))
    # and every loaded package's submodules came with it
    for pkg in wanted:
        if pkg.endswith(("mod_autoindex", "mod_negotiation")):
            assert any(m.startswith(pkg + ".") for m in out), pkg
