"""The rewrite differential suite's data: groups of cases, each group one httpd.conf
(server, vhost, <Directory> and .htaccess rules) with its own document tree, run once by
real Apache and once by fastcore, every case asked of both.

A group file (tests/modules/data/rwsuite/*.txt) is a sequence of sections:

    @modules setenvif          extra modules to load beyond BASE_MODULES
    @conf                      the site config; {www} {root} {run} {port} are filled in
    @htaccess DIR              the lines of DIR/.htaccess (DIR relative to the docroot)
    @file PATH [TEXT]          a file; its text is TEXT or, without it, "PATH\\n"
    @empty PATH                an empty file
    @exec PATH                 a file with mode 0755
    @symlink PATH TARGET       a symbolic link
    @dbm PATH TYPE TEXT        a DBM map built from TEXT ("KEY VALUE" lines) by Apache's
                               httxt2dbm -f TYPE (default, SDBM, GDBM, DB)
    @cases                     one request a line: METHOD TARGET [| Field: value]...

A case line may end in "!doc STATUS [LOCATION]": a documented difference
(docs/compat.md), for which fastcore's answer must keep that status (and Location).
Lines starting with '#' outside @conf and @htaccess are comments.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from support.apache_oracle import ApacheOracle
from support.wire import answer_fields, raw_request

BASE_MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias",
                "rewrite", "headers", "env")
# The fields rewrite affects (plus the X-* fields a group's Header lines expose env with)
COMPARED = ("location", "content-type", "set-cookie", "vary", "content-encoding")
HTTXT2DBM = "/usr/sbin/httxt2dbm"
BASE_FILES = ("a.txt", "b.txt", "index.html", "index.php", "sub/b.txt", "sub/index.html",
              "empty/.keep", "style.css", "app.js", "img/logo.png", "new/page.txt")


@dataclass(frozen=True)
class Documented:
    """A difference listed in docs/compat.md: fastcore's answer, asserted."""

    status: int
    location: str | None


@dataclass(frozen=True)
class Case:
    """One request of a group (its line in the group file names it)."""

    name: str
    method: str
    target: str
    fields: tuple[str, ...]
    documented: Documented | None = None


@dataclass
class Group:
    """One config and its tree, with the cases asked of it."""

    name: str
    conf: str = ""
    modules: tuple[str, ...] = BASE_MODULES
    htaccess: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    execs: list[str] = field(default_factory=list)
    symlinks: dict[str, str] = field(default_factory=dict)
    dbms: dict[str, tuple[str, str]] = field(default_factory=dict)  # path: (type, text)
    cases: list[Case] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What a client sees of one answer, the port written as PORT."""

    status: int
    fields: tuple[tuple[str, str], ...]
    body: bytes

    def location(self) -> str | None:
        return next((v for k, v in self.fields if k == "location"), None)


def _case(group: str, lineno: int, line: str) -> Case:
    doc = None
    if " !doc " in line:
        line, _, rest = line.partition(" !doc ")
        words = rest.split()
        doc = Documented(int(words[0]), words[1] if len(words) > 1 else None)
    parts = [p.strip() for p in line.split(" | ")]
    method, target = parts[0].split(None, 1)
    return Case(f"{group}:{lineno}", method, target.strip(), tuple(parts[1:]), doc)


def parse_group(path: str) -> Group:
    """A group file, as the module docstring describes it."""
    name = os.path.splitext(os.path.basename(path))[0]
    g = Group(name)
    section, arg, buf = "", "", []

    def close() -> None:
        if section == "conf":
            g.conf = "\n".join(buf)
        elif section == "htaccess":
            g.htaccess[arg] = "\n".join(buf) + "\n"

    with open(path) as fh:
        lines = fh.read().splitlines()
    for lineno, line in enumerate(lines, 1):
        if line.startswith("@"):
            close()
            word, _, arg = line[1:].partition(" ")
            section, buf = word, []
            if word == "modules":
                g.modules = BASE_MODULES + tuple(arg.split())
            elif word == "file":
                rel, _, text = arg.partition(" ")
                g.files[rel] = (text.replace("\\n", "\n") if text else rel + "\n")
            elif word == "empty":
                g.files[arg] = ""
            elif word == "exec":
                g.execs.append(arg)
            elif word == "dbm":
                rel, dbmtype, text = arg.split(" ", 2)
                g.dbms[rel] = (dbmtype, text.replace("\\n", "\n"))
            elif word == "symlink":
                link, target = arg.split()
                g.symlinks[link] = target
            continue
        if section in ("conf", "htaccess"):
            buf.append(line)
        elif section == "cases" and line.strip() and not line.startswith("#"):
            g.cases.append(_case(name, lineno, line))
    close()
    return g


def build_tree(g: Group, root: str) -> str:
    """The group's document root under root: the base files, its own, its .htaccess."""
    www = os.path.join(root, "www")
    files = {rel: rel + "\n" for rel in BASE_FILES} | g.files
    for rel, text in files.items():
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
    for rel in g.execs:
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write("#!/bin/sh\n")
        os.chmod(path, 0o755)
    for rel, target in g.symlinks.items():
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)
    for rel, (dbmtype, text) in g.dbms.items():
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".src", "w") as fh:
            fh.write(text)
        subprocess.run([HTTXT2DBM, "-f", dbmtype, "-i", path + ".src", "-o", path],
                       check=True, capture_output=True)
    for rel, text in g.htaccess.items():
        os.makedirs(os.path.join(www, rel), exist_ok=True)
        with open(os.path.join(www, rel, ".htaccess"), "w") as fh:
            fh.write(text)
    return www


def _ask(port: int, case: Case) -> Outcome:
    extra = [f for f in case.fields if not f.lower().startswith("host:")]
    host = next((f for f in case.fields if f.lower().startswith("host:")), "Host: localhost")
    head = "\r\n".join([f"{case.method} {case.target} HTTP/1.1", host, *extra,
                        "Connection: close", "", ""])
    data = raw_request(port, head.encode("latin-1"))
    if not data:
        return Outcome(0, (), b"")
    line, fields, body = answer_fields(data)
    date = _date(data)
    p = str(port)
    kept = [(k.lower(), _expires(v, date).replace(p, "PORT")) for k, v in fields
            if k.lower() in COMPARED or k.lower().startswith("x-")]
    # the order of fields of different names is no part of the answer; of one name it is
    kept.sort(key=lambda kv: kv[0])
    return Outcome(int(line.split()[1]), tuple(kept), body.replace(p.encode(), b"PORT"))


def _date(data: bytes) -> float | None:
    m = re.search(rb"\r\nDate: ([^\r]+)\r\n", data.partition(b"\r\n\r\n")[0] + b"\r\n")
    return parsedate_to_datetime(m.group(1).decode()).timestamp() if m else None


def _expires(value: str, date: float | None) -> str:
    """A cookie's expires= as its distance from the answer's Date (the servers do not
    answer in the same second)."""
    m = re.search(r"expires=([^;]+)", value)
    if m is None or date is None:
        return value
    when = datetime.strptime(m.group(1), "%a, %d-%b-%Y %H:%M:%S GMT").replace(tzinfo=UTC)
    return value.replace(m.group(0), f"expires=Date{when.timestamp() - date:+.0f}s")


def fill(text: str, **values: str) -> str:
    """The {name} placeholders replaced (only these: %{VAR} stays as written)."""
    for k, v in values.items():
        text = text.replace("{" + k + "}", v)
    return text


@dataclass(frozen=True)
class ServerRun:
    """One server's outcomes (each case's two answers one after the other) and the
    request-time lines of its error log."""

    outcomes: list[Outcome]
    errors: list[str]


def _request_errors(path: str, run: str, port: int) -> list[str]:
    """The error-log lines mod_rewrite (and the internal-redirect limit it runs into)
    wrote for requests: "[module:level] message", the message without httpd's client
    address (its port differs) and with the paths made fixed."""
    out = []
    with open(path, errors="replace") as fh:
        for line in fh:
            m = re.search(r"\[(\w+):(\w+)\].*?\[client [^\]]+\] (.*)$", line)
            if m and (m.group(1) == "rewrite" or m.group(3).startswith("AH00124")):
                msg = m.group(3).replace(run, "RUN").replace(str(port), "PORT")
                out.append(f"[{m.group(1)}:{m.group(2)}] {msg}")
    return out


def _serve(g: Group, root: str, www: str, fastcore: bool) -> ServerRun:
    """Every case of the group asked twice (the second may come from a cache) of one
    server."""
    run = os.path.join(root, "fc" if fastcore else "ap")
    os.makedirs(run)
    oracle = ApacheOracle(run, "", modules=g.modules, fastcore=fastcore)
    oracle.body = fill(g.conf, www=www, root=root, run=run, port=str(oracle.port))
    with oracle as ap:
        first = [_ask(ap.port, c) for c in g.cases]
        second = [_ask(ap.port, c) for c in g.cases]
        time.sleep(0.05)
    outcomes = [x for pair in zip(first, second, strict=True) for x in pair]
    return ServerRun(outcomes, _request_errors(os.path.join(run, "error_log"), root,
                                               oracle.port))


def run_group(g: Group, root: str) -> tuple[ServerRun, ServerRun]:
    """(Apache's run, fastcore's), both servers side by side."""
    www = build_tree(g, root)
    with ThreadPoolExecutor(2) as pool:
        ap = pool.submit(_serve, g, root, www, False)
        fc = pool.submit(_serve, g, root, www, True)
        return ap.result(), fc.result()
