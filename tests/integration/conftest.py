"""Fixtures of the integration tests that more than one file uses."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module", params=["extensions", "pure"])
def process_mode(request: pytest.FixtureRequest) -> str:
    """A fastcore process on the compiled extensions, then one with
    FASTCORE_NO_EXTENSIONS=1 (the pure-Python twins): FastcoreServer(pure=...)."""
    return request.param


@pytest.fixture(scope="module")
def www_dir() -> Iterator[str]:
    """A folder for one module's servers that Apache's www-data children can traverse
    (pytest's tmp_path is private to the user)."""
    d = tempfile.mkdtemp(prefix="fc-www-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)

LOGFMT = ('%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\" %v %V %p %U%q '
          '%m %H %k %X %I %O %{Content-Type}o %f %B')


@pytest.fixture
def conf(tmp_path: Path) -> tuple[str, Path]:
    """An event-MPM site whose files are old enough to cache (strong ETags), keep-alive
    4 deep, buffered logs in the full format: what the C engine and the Python path are
    compared on."""
    doc = tmp_path / "htdocs"
    doc.mkdir()
    (doc / "a.html").write_bytes(b"<p>hello</p>\n" * 50)
    (doc / "big.bin").write_bytes(os.urandom(300000))
    for p in doc.iterdir():
        os.utime(p, (1_600_000_000, 1_600_000_000))  # strong ETag: cacheable
    path = tmp_path / "httpd.conf"
    mods = "".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so\n"
                   for m in ("mpm_event", "authz_core", "mime", "dir"))
    path.write_text(mods + f"""
ServerRoot "{tmp_path}"
Listen 127.0.0.1:80
ServerName localhost
TypesConfig /etc/mime.types
ErrorLog "{tmp_path}/error_log"
KeepAlive On
MaxKeepAliveRequests 4
KeepAliveTimeout 7
EnableSendfile On
LogFormat "{LOGFMT}" full
CustomLog "{tmp_path}/access_log" full
BufferedLogs On
DocumentRoot "{doc}"
<Directory />
    Options FollowSymLinks
    AllowOverride None
</Directory>
<Directory "{doc}">
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
""")
    return str(path), tmp_path
