#!/usr/bin/env python3
"""Fuzz target: the configuration lexer and parser (fastcore/config: lexer.py, engine.py,
build.py and every directive handler of the loaded modules; Python only).  Arbitrary bytes
after a minimal valid header: load() either returns a configuration or raises
ConfigError (Apache's message with file and line); any other exception is a bug."""
from __future__ import annotations

import os
import tempfile

try:
    import _common
except ImportError:
    from . import _common

with _common.instrument(__name__, ("fastcore.config", "fastcore.modules", "fastcore.core")):
    from fastcore.config import ConfigError, load

_DIR = tempfile.mkdtemp(prefix="fcfuzz-conf-")
HEADER = f"""ServerRoot {_DIR}
PidFile {_DIR}/httpd.pid
ErrorLog {_DIR}/error.log
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule mime_module modules/mod_mime.so
LoadModule dir_module modules/mod_dir.so
LoadModule alias_module modules/mod_alias.so
LoadModule rewrite_module modules/mod_rewrite.so
LoadModule headers_module modules/mod_headers.so
LoadModule setenvif_module modules/mod_setenvif.so
Listen 127.0.0.1:18080
ServerName main.example
DocumentRoot {_DIR}
""".encode()


def test_one_input(data: bytes) -> None:
    path = os.path.join(_DIR, "httpd.conf")
    with open(path, "wb") as fh:
        fh.write(HEADER + data)
    try:
        load(path, check_document_root=False)
    except ConfigError as exc:
        text = str(exc)
        if not text:
            raise AssertionError("a ConfigError without a message") from exc


if __name__ == "__main__":
    _common.main(test_one_input)
