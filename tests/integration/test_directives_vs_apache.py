"""Every per-directory directive has the effect Apache gives it (directive_cases.CASES).

One Apache 2.4 and fastcore (C engine, then the pure-Python twins) serve the same document
root from the same httpd.conf; for each case, `/NAME/...` (with the directive) and
`/ctl-NAME/...` (same files, no directive) are each asked twice (the second answer of a
cacheable file comes from the caches). Apache's two answers must differ - the directive
does something a client sees - and fastcore's must be Apache's: status, the case's
headers, the body (server banner and port masked).
"""
from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass

import pytest
from support.apache_oracle import MODDIR
from support.directive_cases import CASES, Case
from support.servers import ApacheServer, FastcoreServer, Server
from support.wire import parse_responses

OLD = 1_600_000_000  # file times well in the past: strong ETags on both servers
MODULES = ("autoindex", "negotiation", "alias", "authz_host")


@dataclass(frozen=True)
class Answer:
    """What the comparison looks at in one response."""

    status: int
    headers: tuple[tuple[str, str | None], ...]
    body: bytes


def _write(folder: str, files: dict[str, str]) -> None:
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        path = os.path.join(folder, name)
        if text.startswith("-> "):
            if not os.path.islink(path):
                os.symlink(text[3:], path)
            continue
        with open(path, "w") as fh:
            fh.write(text)
        os.utime(path, (OLD, OLD))


def build_site(docroot: str) -> str:
    """Write every case's files; return the <Directory> sections."""
    lines = [f"LoadModule {m}_module {MODDIR}/mod_{m}.so" for m in MODULES]
    for case in CASES:
        for prefix in (case.name, f"ctl-{case.name}"):
            _write(os.path.join(docroot, prefix), case.files)
            if case.sub or case.htaccess:
                _write(os.path.join(docroot, prefix, "sub"), case.files)
        folder = os.path.join(docroot, case.name)
        lines += [f'<Directory "{folder}">', case.config]
        if case.htaccess:
            lines.append("AllowOverride All")
            _write(os.path.join(folder, "sub"), {".htaccess": case.htaccess})
        lines.append("</Directory>")
        if case.sub:
            lines += [f'<Directory "{folder}/sub">', case.sub, "</Directory>"]
    return "\n".join(lines) + "\n"


def _mask(body: bytes) -> bytes:
    body = re.sub(rb"(Apache|fastcore)/[\w.]+ \([^)]*\)", b"SERVER", body)
    return re.sub(rb"Port \d+", b"Port N", body)


def ask(port: int, case: Case, prefix: str) -> Answer:
    path = f"/{prefix}{case.request}"
    length = f"Content-Length: {len(case.body)}\r\n" if case.body else ""
    raw = (f"{case.method} {path} HTTP/1.1\r\nHost: localhost\r\n{case.send}{length}"
           f"Connection: close\r\n\r\n{case.body}").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status, headers, body = parse_responses(data, head_request=case.method == "HEAD")[0]
    picked = tuple((h, headers.get(h)) for h in case.headers)
    body = _mask(body).replace(prefix.encode(), b"NAME")
    return Answer(status, picked, body)


def observe(srv: Server) -> dict[str, list[Answer]]:
    srv.start()
    try:
        return {f"{p}{c.name}": [ask(srv.port, c, f"{p}{c.name}") for _ in range(2)]
                for c in CASES for p in ("", "ctl-")}
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def apache(www_dir: str) -> dict[str, list[Answer]]:
    site = www_dir
    docroot = os.path.join(site, "htdocs")
    extra = build_site(docroot)
    run = os.path.join(site, "apache")
    os.makedirs(run)
    return observe(ApacheServer(run, "prefork", extra, docroot=docroot))


@pytest.fixture(scope="module")
def fastcore(process_mode: str, www_dir: str, apache: dict) -> dict[str, list[Answer]]:
    docroot = os.path.join(www_dir, "htdocs")
    run = os.path.join(www_dir, f"fastcore-{process_mode}")
    os.makedirs(run)
    return observe(FastcoreServer(run, "prefork", build_site(docroot), docroot=docroot,
                                  pure=process_mode == "pure"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_directive_has_apaches_effect(case: Case, apache: dict, fastcore: dict) -> None:
    with_it, without = apache[case.name], apache[f"ctl-{case.name}"]
    if case.no_effect:
        assert with_it == without
    else:
        assert with_it[0] != without[0], "the case shows no effect of the directive in Apache"
    assert fastcore[case.name] == with_it
    assert fastcore[f"ctl-{case.name}"] == without
