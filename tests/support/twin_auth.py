"""Helpers for the access-control and authentication twins (real Apache against fastcore
on one httpd.conf): requests from a chosen loopback source address, so host-based rules
see two different clients, and the error log reduced to what must match (the module,
level and message; not the time, pid or client port)."""
from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from support.apache_oracle import APACHE, MODDIR, ApacheOracle
from support.inprocess import FastcoreThread

AUTH_MODULES = ("mpm_prefork", "authz_core", "authz_host", "access_compat", "authn_core",
                "authn_file", "auth_basic", "authz_user", "mime", "dir", "alias", "env")
# %u between brackets: `-` for no user, `""` for an empty one
LOG_FORMAT = 'LogFormat "%a %h %u %>s %U" authfmt\n'


@dataclass(frozen=True)
class Answer:
    """What a client sees of one answer (the fields that may differ are left out)."""

    status: int
    challenge: str | None  # WWW-Authenticate
    ctype: str | None
    body: bytes


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode("latin-1")).decode()


def ask(port: int, path: str, source: str = "127.0.0.1",
        headers: tuple[str, ...] = ()) -> Answer:
    """One HTTP/1.0 GET from `source` (any 127/8 address binds on Linux)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        lines = [f"GET {path} HTTP/1.0", "Host: localhost", *headers, "", ""]
        s.sendall("\r\n".join(lines).encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    fields: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), value.strip())
    return Answer(int(head.split()[1]), fields.get("www-authenticate"),
                  fields.get("content-type"), body)


_PREFIX = re.compile(r"^\[[^\]]*\] \[([^\]]*)\] \[pid [^\]]*\] ")
_CLIENT = re.compile(r"\[client (\d+\.\d+\.\d+\.\d+):\d+\] ")


def error_messages(text: str, modules: tuple[str, ...]) -> list[str]:
    """The error log's lines of `modules` as `[module:level] message`, client port
    dropped (time stamps, pids and the servers' own start-up lines differ)."""
    out = []
    for line in text.splitlines():
        m = _PREFIX.match(line)
        module, _, level = m.group(1).partition(":") if m else ("", "", "")
        if not m or module not in modules or level in ("notice", "info", "debug"):
            continue
        out.append(f"[{m.group(1)}] " + _CLIENT.sub(r"[client \1] ", line[m.end():]))
    return out


def load_lines(modules: tuple[str, ...]) -> str:
    return "".join(f"LoadModule {m}_module {MODDIR}/mod_{m}.so\n" for m in modules)


HTPASSWD = "/usr/bin/htpasswd"


def write_htpasswd(path: str, users: tuple[tuple[str, str, str], ...]) -> None:
    """A password file as `htpasswd` writes it: (user, password, flag) each, -B bcrypt,
    -m APR MD5, -s SHA1, -d crypt, -p plain text."""
    for i, (user, password, flag) in enumerate(users):
        args = [HTPASSWD, "-b", flag] + (["-c"] if i == 0 else []) + [path, user, password]
        subprocess.run(args, check=True, capture_output=True)


@dataclass(frozen=True)
class Probe:
    """One request of a comparison: path, Authorization field (None: none), client."""

    path: str
    auth: str | None = None
    client: str = "127.0.0.1"


@dataclass
class Observed:
    """What one server did with the probes: the answers (each probe twice: the second
    must not come from a cache that skipped authentication), access log, error log."""

    answers: list[Answer]
    access: list[str]
    errors: list[str]


LOGGED = ("auth_basic", "authn_file", "authn_core", "authz_core", "authz_user",
          "access_compat", "core")


def observe(run: str, body: str, probes: tuple[Probe, ...], fastcore: bool,
            modules: tuple[str, ...] = AUTH_MODULES) -> Observed:
    """Serve `body` (with {run} replaced, an `authfmt` access log) by Apache or fastcore
    and send every probe twice."""
    os.makedirs(run)
    site = LOG_FORMAT + f'CustomLog "{run}/access_log" authfmt\n' + body.replace("{run}", run)
    answers = []
    with ApacheOracle(run, site, modules=modules, fastcore=fastcore) as ap:
        for p in probes:
            fields = (f"Authorization: {p.auth}",) if p.auth is not None else ()
            answers += [ask(ap.port, p.path, p.client, fields) for _ in range(2)]
        time.sleep(0.3)
    with open(os.path.join(run, "access_log")) as fh:
        access = fh.read().splitlines()
    with open(os.path.join(run, "error_log")) as fh:
        errors = error_messages(fh.read(), LOGGED)
    return Observed(answers, access, errors)


def compare_with_apache(tmp: str, body: str, probes: tuple[Probe, ...],
                        modules: tuple[str, ...] = AUTH_MODULES) -> Observed:
    """The same site through Apache and fastcore: answers, access log and error-log
    messages must be equal; returns Apache's, for the test's own checks."""
    apache = observe(os.path.join(tmp, "apache"), body, probes, False, modules)
    mine = observe(os.path.join(tmp, "fastcore"), body, probes, True, modules)
    assert [a.status for a in mine.answers] == [a.status for a in apache.answers]
    assert mine.answers == apache.answers
    assert mine.access == apache.access
    assert mine.errors == apache.errors
    return apache


def status_of(observed: Observed, probes: tuple[Probe, ...], probe: Probe) -> int:
    """The status of `probe`'s first answer."""
    return observed.answers[2 * probes.index(probe)].status


def startup_conf(tmp: str, inner: str, modules: tuple[str, ...], outer: str = "") -> str:
    """An httpd.conf loading `modules` (and mpm_event) with `inner` in a <Directory> and
    `outer` after it: for the start-up error comparisons."""
    path = os.path.join(tmp, "httpd.conf")
    with open(path, "w") as fh:
        fh.write(load_lines(("mpm_event", *modules)) + f'ServerRoot "{tmp}"\n'
                 f'ErrorLog "{tmp}/error_log"\nDocumentRoot "{tmp}"\n'
                 f"Listen 127.0.0.1:1\nServerName localhost\n"
                 f"<Directory {tmp}>\n{inner}\n</Directory>\n{outer}")
    return path


def apache_refusal(path: str) -> str:
    """Apache's start-up error for the configuration at `path` (it must refuse it)."""
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0, apache.stderr
    return apache.stderr.strip()


AUTH_LOAD = "".join(f"LoadModule {m}_module modules/mod_{m}.so\n" for m in (
    "authn_core", "authn_file", "auth_basic", "authz_user"))


def auth_server(tmp_path: Path, body: str, board: str = "pure") -> FastcoreThread:
    """fastcore in-process with the four authentication modules, autoindex, a `%u %>s %U`
    access log and `body` ({www}: the document root, {pw}: the password file)."""
    www = tmp_path / "www"
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"ServerRoot {tmp_path}\nPidFile {tmp_path}/pid\nErrorLog {tmp_path}/error_log\n"
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule authz_core_module modules/mod_authz_core.so\n"
        "LoadModule autoindex_module modules/mod_autoindex.so\n" + AUTH_LOAD +
        f"Listen 127.0.0.1:18089\nServerName localhost\nDocumentRoot {www}\n"
        f'LogFormat "%u %>s %U" u\nCustomLog {tmp_path}/access_log u\n'
        f"<Directory {www}>\n Require all granted\n Options Indexes\n</Directory>\n"
        + body.replace("{www}", str(www)).replace("{pw}", str(tmp_path / "pw")))
    return FastcoreThread(str(conf), board=board)  # type: ignore[arg-type]


def auth_site(tmp_path: Path, *files: str) -> None:
    """Files under www/ (each holding its own name) and a password file `pw` with
    alice:one (bcrypt)."""
    for f in files:
        path = tmp_path / "www" / f
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f + "\n")
    subprocess.run([HTPASSWD, "-cbB", str(tmp_path / "pw"), "alice", "one"], check=True,
                   capture_output=True)


def refused_as_apache(tmp: str, inner: str, modules: tuple[str, ...], outer: str = "") -> None:
    """Apache refuses the configuration (startup_conf's) and fastcore's ConfigError says
    what Apache prints, file and line included."""
    from fastcore.config import ConfigError, load

    path = startup_conf(tmp, inner, modules, outer)
    want = apache_refusal(path)
    try:
        load(path)
    except ConfigError as err:
        assert str(err).strip() == want
    else:
        raise AssertionError(f"fastcore accepted what Apache refuses: {want}")
