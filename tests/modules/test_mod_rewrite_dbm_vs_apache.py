"""RewriteMap dbm: against real Apache: the startup messages of every malformed or
missing map, line for line, and the request-time story of a map that changes under a
running server (rebuilt by httxt2dbm, its sdbm files removed one by one, replaced by a
file of another type; a DirectoryIndex name rewritten through it, whose cached answer
must follow the map): statuses, bodies and mod_rewrite's error-log lines (AH00663,
AH00662, AH00656) compared step by step, each request asked twice."""
from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.apache_oracle import APACHE, MODDIR, ApacheOracle
from support.wire import answer_fields, raw_request
from test_mod_rewrite_dbm import build

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "mime", "dir", "rewrite")


def _conf(tmp: Path, lines: str) -> str:
    path = tmp / "httpd.conf"
    path.write_text(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                    f"LoadModule rewrite_module {MODDIR}/mod_rewrite.so\n"
                    f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\n'
                    f"Listen 127.0.0.1:1\nServerName localhost\n{lines}\n")
    return str(path)


@pytest.mark.parametrize("spec", [
    "dbm=nosuch:m.db", "dbm=ndbm:m.db", "dbmx:m.db", "dbm=sdbm", "dbm", "DBM=:m.db",
    "dbm:absent.db", "dbm=SDBM:m.db", "dbm=gdbm:absent", "dbm=sdbm:absent",
])
def test_startup_messages_as_apache(tmp_path: Path, spec: str) -> None:
    build(tmp_path / "m.db", "k v\n")
    path = _conf(tmp_path, f"RewriteEngine On\nRewriteMap m {spec}\n")
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()


@pytest.mark.parametrize("spec", ["dbm:m.db", "dbm=db:m.db", "dbm=Default:m.db"])
def test_accepted_forms_as_apache(tmp_path: Path, spec: str) -> None:
    build(tmp_path / "m.db", "k v\n")
    path = _conf(tmp_path, f"RewriteEngine On\nRewriteMap m {spec}\n")
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode == 0, apache.stderr
    load(path)


SITE = r"""DocumentRoot "{doc}"
<Directory "{doc}">
    Require all granted
</Directory>
RewriteEngine On
RewriteMap s "dbm=sdbm:{doc}/maps/s"
RewriteMap d "dbm:{doc}/maps/d.db"
RewriteRule ^/s/(.*)$ /${{s:$1|none.txt}} [L]
RewriteRule ^/d/(.*)$ /${{d:$1|none.txt}} [L]
RewriteRule ^/ix/index\.html$ /${{d:k|none.txt}} [L]
"""


def _run(tmp: Path, fastcore: bool) -> tuple[list[tuple[int, bytes]], list[str]]:
    """One server's answers over the steps, and its rewrite:error lines."""
    run = tmp / ("fc" if fastcore else "ap")
    doc = run / "doc"
    (doc / "maps").mkdir(parents=True)
    (doc / "ix").mkdir()
    for name in ("one.txt", "two.txt", "three.txt", "none.txt"):
        (doc / name).write_text(name + "\n")
    build(doc / "maps" / "s", "k one.txt\n", "sdbm")
    build(doc / "maps" / "d.db", "k one.txt\n")

    def garbage() -> None:
        (doc / "maps" / "d.db").write_bytes(b"no database\n" * 64)

    steps: list[tuple[Callable[[], None] | None, str]] = [
        (None, "/s/k"), (None, "/d/k"), (None, "/ix/"), (None, "/s/other"),
        (lambda: build(doc / "maps" / "s", "k two.txt\nother three.txt\n", "sdbm"), "/s/k"),
        (None, "/s/other"),
        (lambda: build(doc / "maps" / "d.db", "k two.txt\n"), "/ix/"),
        (None, "/d/k"),
        (lambda: os.unlink(doc / "maps" / "s.pag"), "/s/k"),
        (lambda: os.unlink(doc / "maps" / "s.dir"), "/s/k"),
        (garbage, "/d/k"),
        (lambda: os.unlink(doc / "maps" / "d.db"), "/d/k"),
    ]
    got = []
    with ApacheOracle(str(run), SITE.format(doc=doc), modules=MODULES,
                      fastcore=fastcore) as srv:
        for change, target in steps:
            if change is not None:
                time.sleep(0.02)  # a new mtime
                change()
            for _ in range(2):
                data = raw_request(srv.port, f"GET {target} HTTP/1.1\r\nHost: x\r\n"
                                   "Connection: close\r\n\r\n".encode())
                line, _fields, body = answer_fields(data)
                got.append((int(line.split()[1]), body))
        time.sleep(0.05)
    errors = []
    for text in (run / "error_log").read_text(errors="replace").splitlines():
        m = re.search(r"\[rewrite:error\] \[pid [^\]]*\] (.*?)\[client [^\]]+\] (.*)$", text)
        if m:
            errors.append((m.group(1) + m.group(2)).replace(str(run), "RUN"))
    return got, errors


def test_a_changing_map_answers_and_logs_as_apache(tmp_path: Path) -> None:
    ap = _run(tmp_path, False)
    fc = _run(tmp_path, True)
    assert ap[0][0] == (200, b"one.txt\n")  # not vacuous: the map was read
    assert ap[0][4] == (200, b"one.txt\n") and ap[0][12] == (200, b"two.txt\n")  # /ix/
    assert any("AH00656" in e for e in ap[1]) and any("AH00663" in e for e in ap[1])
    assert fc == ap
