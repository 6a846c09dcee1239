"""Shared helpers for the config unit tests: write a config with a minimal header."""
from __future__ import annotations

from pathlib import Path

from fastcore.config import load
from fastcore.config.model import ServerConfig

HEADER = """ServerRoot {root}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule authz_host_module modules/mod_authz_host.so
LoadModule mime_module modules/mod_mime.so
LoadModule dir_module modules/mod_dir.so
LoadModule alias_module modules/mod_alias.so
Listen 127.0.0.1:18080
ServerName main.example
"""
HEADER_LINES = HEADER.count("\n")


def write(tmp: Path, body: str, header: bool = True, name: str = "httpd.conf") -> Path:
    path = tmp / name
    path.write_text((HEADER.format(root=tmp) if header else "") + body)
    return path


def cfg(tmp: Path, body: str, **kw) -> ServerConfig:
    return load(str(write(tmp, body, kw.pop("header", True))), **kw)
