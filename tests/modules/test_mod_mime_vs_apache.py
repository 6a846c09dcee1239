"""mod_mime against real Apache 2.4: Content-Type, Content-Language and Content-Encoding
from the file name's extensions, in any order and several at once ("a.html.fr",
"a.en.fr.html", "page.html.gz", an unknown middle extension), by AddType (with a charset
parameter), AddCharset, AddLanguage, AddEncoding, DefaultLanguage, RemoveType (which
leaves the extension untyped, TypesConfig's type included), ForceType over the extensions, SetHandler beside
them, and a TypesConfig file of the site's own.  The same httpd.conf is served by apache2
and by fastcore, each case asked twice (support.apache_oracle.both_answers), so a cached
answer is compared too; the statuses, bodies and header lists must match, except where
Content-Language and Content-Encoding stand in the list (docs/compat.md, "Header order":
Apache writes them after Content-Type, fastcore before Last-Modified), so those two are
compared by value and the order of the others is compared as it is."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support.apache_oracle import APACHE, MODDIR, both_answers
from support.wire import Answer

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias")
NAMES = ("a.html", "A.HTML", "a.html.fr", "a.fr.html", "a.en.fr.html", "a.foo.html",
         "data.xyz", "t.utf8.txt", "t.txt.utf8", "page.html.gz", "page.tar.gz", "page.gz",
         "noext", "h.h1", "h.utf8.h1", "forced/x.txt", "forced/y.html.gz",
         "handler/x.txt", "deflang/x.txt", "deflang/x.en.txt", "removed/a.xyz",
         "removed/a.html", "removed/b.html.fr", ".hidden.html", "a.html.", "own.dat",
         "own.htm")
SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
AddType text/x-xyz .xyz
AddType "text/html; charset=ISO-8859-1" .h1
AddType text/x-overridden .html
AddCharset UTF-8 .utf8
AddLanguage fr .fr
AddLanguage en .en
AddEncoding x-gzip .gz
<Directory "{www}/forced">
  ForceType application/x-forced
</Directory>
<Directory "{www}/handler">
  SetHandler default-handler
</Directory>
<Directory "{www}/deflang">
  DefaultLanguage de
</Directory>
<Directory "{www}/removed">
  RemoveType .xyz .html
  RemoveLanguage .fr
</Directory>
"""
TYPES = "text/x-own-html html htm\napplication/x-own-data xyz dat\n# a comment\n\n"


def _www(root: Path) -> str:
    www = root / "www"
    for rel in NAMES:
        (www / rel).parent.mkdir(parents=True, exist_ok=True)
        (www / rel).write_text(f"{rel}\n")
        os.utime(www / rel, (1_600_000_000, 1_600_000_000))  # old: a strong ETag
    return str(www)


MOVED = ("Content-Language", "Content-Encoding")


def _comparable(a: Answer) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]], bytes]:
    """The answer with Content-Language/-Encoding taken out of the field order."""
    status, fields, body = a
    return (status, [f for f in fields if f[0] not in MOVED],
            sorted(f for f in fields if f[0] in MOVED), body)


def test_types_languages_encodings_match_apache(tmp_path: Path) -> None:
    cases = [("GET", f"/{n}", "") for n in NAMES] + [("HEAD", "/a.html.fr", "")]
    got = both_answers(str(tmp_path), SITE.replace("{www}", _www(tmp_path)), MODULES, cases)
    apache = got[False]
    assert [_comparable(a) for a in got[True]] == [_comparable(a) for a in apache]
    by = {p: dict(f) for (_, p, _), (_, f, _) in zip(cases, apache, strict=False)}
    # the comparison is not vacuous: each mechanism shows in Apache's own answers
    assert by["/a.html.fr"]["Content-Type"] == "text/x-overridden"
    assert by["/a.en.fr.html"]["Content-Language"] == "en,fr"
    assert by["/page.html.gz"]["Content-Encoding"] == "x-gzip"
    assert by["/h.h1"]["Content-Type"] == "text/html; charset=iso-8859-1"
    assert by["/h.utf8.h1"]["Content-Type"] == "text/html; charset=utf-8"
    assert by["/t.utf8.txt"]["Content-Type"] == "text/plain; charset=utf-8"
    assert by["/forced/y.html.gz"]["Content-Type"] == "application/x-forced"
    assert by["/deflang/x.txt"]["Content-Language"] == "de"
    assert "Content-Type" not in by["/removed/a.xyz"]
    assert "Content-Type" not in by["/removed/a.html"]
    assert "Content-Language" not in by["/removed/b.html.fr"]
    assert by["/page.tar.gz"]["Content-Type"] == "application/gzip"


def test_own_types_config_matches_apache(tmp_path: Path) -> None:
    types = tmp_path / "own.types"
    types.write_text(TYPES)
    site = SITE.replace("{www}", _www(tmp_path)) + f'TypesConfig "{types}"\n'
    cases = [("GET", f"/{n}", "") for n in ("a.html", "data.xyz", "deflang/x.txt",
                                           "own.dat", "t.utf8.txt", "own.htm")]
    got = both_answers(str(tmp_path), site, MODULES, cases)
    assert [_comparable(a) for a in got[True]] == [_comparable(a) for a in got[False]]
    fields = [dict(f) for _, f, _ in got[False]]
    assert fields[0]["Content-Type"] == "text/x-overridden"  # AddType wins over it
    assert fields[3]["Content-Type"] == "application/x-own-data"
    assert fields[5]["Content-Type"] == "text/x-own-html"
    assert "Content-Type" not in fields[2]  # .txt is not in this TypesConfig


def _conf(tmp: Path, line: str) -> str:
    path = tmp / "httpd.conf"
    path.write_text(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                    f"LoadModule mime_module {MODDIR}/mod_mime.so\n"
                    f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nListen 127.0.0.1:1\n'
                    f"ServerName localhost\n{line}\n")
    return str(path)


@pytest.mark.parametrize("line", [
    "AddType text/plain", "AddCharset", "AddLanguage fr", "AddEncoding x-gzip",
    "RemoveType", "DefaultLanguage", "DefaultLanguage a b", "TypesConfig",
    "<Directory />\nTypesConfig /etc/mime.types\n"
    "</Directory>", "<Directory />\nForceType\n</Directory>",
])
def test_refused_with_apaches_message(tmp_path: Path, line: str) -> None:
    path = _conf(tmp_path, line)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()
