"""Bad arguments to the directives this branch made effective are refused at startup with
Apache's message (`apache2 -t` against fastcore.config.load on the same file)."""
from __future__ import annotations

import os
import subprocess

import pytest
from support.apache_oracle import APACHE, MODDIR

from fastcore.config import ConfigError, load

BAD = [
    "LogLevel info nosuchmodule:debug",
    "LogLevel autoindex:debug",  # known to Apache, but not loaded here
    "LogLevel authz_core:loud",
    "LogLevel nosuch:loud",  # the level is checked before the module
    "LogLevel loud",
    "LogLevel authz_core:",
    "AddDefaultCharset On utf-8",
    "ThreadStackSize -5",
    "FileETag +All",
    "FileETag Sideways",
    "UseCanonicalName Sometimes",
    "SendBufferSize 100",
    "Protocols",  # h5bp's httpd.conf names h2 and http/1.1; none is an error
    "<Directory />\nProtocols h2 http/1.1\n</Directory>",
]


def _conf(tmp: str, line: str) -> str:
    path = os.path.join(tmp, "httpd.conf")
    with open(path, "w") as fh:
        fh.write(f"LoadModule mpm_worker_module {MODDIR}/mod_mpm_worker.so\n"
                 f"LoadModule authz_core_module {MODDIR}/mod_authz_core.so\n"
                 f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nDocumentRoot "{tmp}"\n'
                 f"Listen 127.0.0.1:1\nServerName localhost\n{line}\n")
    return path


@pytest.mark.parametrize("line", BAD)
def test_refused_with_apaches_message(tmp_path, line: str) -> None:
    path = _conf(str(tmp_path), line)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()
