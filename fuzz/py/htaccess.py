#!/usr/bin/env python3
"""Fuzz target: .htaccess parsing (fastcore/config/merge.py DirResolver.htaccess through
the directive engine, AllowOverride All; Python only).  Arbitrary file content: the
parse returns a per-directory configuration or raises HtaccessError naming the file (a
500 with that line in the error log); any other exception is a bug."""
from __future__ import annotations

import os
import tempfile

try:
    import _common
except ImportError:
    from . import _common

with _common.instrument(__name__, ("fastcore.config", "fastcore.modules")):
    from fastcore.config import HtaccessError, load
    from fastcore.config.merge import DirResolver

_DIR = tempfile.mkdtemp(prefix="fcfuzz-ht-")
_WWW = os.path.join(_DIR, "www")
os.makedirs(_WWW, exist_ok=True)
_CONF = os.path.join(_DIR, "httpd.conf")
with open(_CONF, "w") as _fh:
    _fh.write(f"""ServerRoot {_DIR}
PidFile {_DIR}/httpd.pid
ErrorLog {_DIR}/error.log
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule authz_host_module modules/mod_authz_host.so
LoadModule authn_file_module modules/mod_authn_file.so
LoadModule auth_basic_module modules/mod_auth_basic.so
LoadModule mime_module modules/mod_mime.so
LoadModule dir_module modules/mod_dir.so
LoadModule alias_module modules/mod_alias.so
LoadModule rewrite_module modules/mod_rewrite.so
LoadModule headers_module modules/mod_headers.so
LoadModule expires_module modules/mod_expires.so
LoadModule setenvif_module modules/mod_setenvif.so
LoadModule env_module modules/mod_env.so
Listen 127.0.0.1:18080
ServerName main.example
DocumentRoot {_WWW}
<Directory {_WWW}>
  AllowOverride All
</Directory>
""")
_CFG = load(_CONF)


def test_one_input(data: bytes) -> None:
    with open(os.path.join(_WWW, ".htaccess"), "wb") as fh:
        fh.write(data)
    try:
        DirResolver(_CFG).htaccess(_CFG.main, _WWW)
    except HtaccessError as exc:
        if not exc.filename or not str(exc):
            raise AssertionError(f"HtaccessError without a file: {exc!r}") from exc


if __name__ == "__main__":
    _common.main(test_one_input)
