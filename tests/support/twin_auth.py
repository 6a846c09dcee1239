"""Helpers for the access-control and authentication twins (real Apache against fastcore
on one httpd.conf): requests from a chosen loopback source address, so host-based rules
see two different clients, and the error log reduced to what must match (the module,
level and message; not the time, pid or client port)."""
from __future__ import annotations

import base64
import re
import socket
from dataclasses import dataclass

from support.apache_oracle import MODDIR

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
