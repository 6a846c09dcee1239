"""mod_dir against real Apache 2.4: DirectoryIndex lists (a missing first name, "disabled",
an index name refused by <Files> Require so the next name answers), DirectorySlash On/Off
with and without a query string, a directory without an index under Options -Indexes (403).
The same httpd.conf is served by apache2 and by fastcore; each case is asked twice
(support.apache_oracle.both_answers), so a second answer a cache serves is compared too."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support.apache_oracle import APACHE, MODDIR, both_answers

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias", "autoindex")
FILES = {
    "index.html": "<p>top</p>\n",
    "list/second.html": "<p>second</p>\n",
    "list/third.html": "<p>third</p>\n",
    "disabled/index.html": "<p>not used</p>\n",
    "slash/index.html": "<p>slash</p>\n",
    "noslash/index.html": "<p>noslash</p>\n",
    "noindex/file.txt": "file\n",
    "refused/secret.html": "<p>secret</p>\n",
    "refused/open.html": "<p>open</p>\n",
    "later/index.txt": "later\n",
}
SITE = """
DocumentRoot "{www}"
DirectoryIndex index.html
<Directory "{www}">
  Require all granted
  Options -Indexes
</Directory>
<Directory "{www}/list">
  DirectoryIndex missing.html second.html third.html
</Directory>
<Directory "{www}/disabled">
  DirectoryIndex disabled
</Directory>
<Directory "{www}/noslash">
  DirectorySlash Off
</Directory>
<Directory "{www}/refused">
  DirectoryIndex secret.html open.html
  <Files "secret.html">
    Require all denied
  </Files>
</Directory>
<Directory "{www}/later">
  DirectoryIndex index.html
  DirectoryIndex index.txt
</Directory>
"""
CASES = [
    ("GET", "/", ""),
    ("HEAD", "/", ""),
    ("GET", "/list/", ""),
    ("GET", "/list/?q=1", ""),
    ("GET", "/disabled/", ""),
    ("GET", "/slash", ""),
    ("GET", "/slash?a=b&c", ""),
    ("GET", "/slash/", ""),
    ("GET", "/noslash", ""),
    ("GET", "/noslash?x=1", ""),
    ("GET", "/noslash/", ""),
    ("GET", "/noindex/", ""),
    ("GET", "/noindex", ""),
    ("GET", "/refused/", ""),
    ("GET", "/refused/secret.html", ""),
    ("GET", "/later/", ""),
]


def _site(root: Path) -> str:
    www = root / "www"
    for rel, text in FILES.items():
        (www / rel).parent.mkdir(parents=True, exist_ok=True)
        (www / rel).write_text(text)
        os.utime(www / rel, (1_600_000_000, 1_600_000_000))  # old: a strong ETag
    return SITE.replace("{www}", str(www))


def test_directory_index_and_slash_match_apache(tmp_path: Path) -> None:
    got = both_answers(str(tmp_path), _site(tmp_path), MODULES, CASES)
    apache = got[False]
    assert got[True] == apache
    by_case = dict(zip([f"{m} {p}" for m, p, _ in CASES], apache, strict=False))
    # the comparison is not vacuous: each mechanism shows in Apache's own answers
    assert by_case["GET /list/"][2] == b"<p>second</p>\n"
    assert by_case["GET /refused/"][2] == b"<p>open</p>\n"
    assert by_case["GET /later/"][2] == b"later\n"
    assert by_case["GET /disabled/"][0].endswith("403 Forbidden")
    assert by_case["GET /noindex/"][0].endswith("403 Forbidden")
    assert by_case["GET /slash"][0].endswith("301 Moved Permanently")
    assert ("Location", "http://x/slash/?a=b&c") in by_case["GET /slash?a=b&c"][1]
    assert not by_case["GET /noslash"][0].endswith("301 Moved Permanently")


def _conf(tmp: Path, line: str) -> str:
    path = tmp / "httpd.conf"
    path.write_text(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                    f"LoadModule dir_module {MODDIR}/mod_dir.so\n"
                    f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nListen 127.0.0.1:1\n'
                    f"ServerName localhost\n<Directory />\n{line}\n</Directory>\n")
    return str(path)


@pytest.mark.parametrize("line", ["DirectorySlash maybe", "DirectorySlash 1",
                                  "DirectoryIndex\nDirectorySlash"])
def test_refused_with_apaches_message(tmp_path: Path, line: str) -> None:
    path = _conf(tmp_path, line)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()
