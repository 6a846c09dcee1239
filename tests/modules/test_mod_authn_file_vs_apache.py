"""mod_authn_file against real Apache 2.4: AuthUserFile with every hash `htpasswd`
writes (bcrypt, APR MD5, SHA1, crypt, plain text), a hand-written {SHA} line after a
comment and a blank line, no AuthUserFile (AH01619), a missing file (AH01620), a
directory as the file (AH00554), and the start-up errors of AuthUserFile."""
from __future__ import annotations

import pytest
from support.twin_auth import (
    AUTH_MODULES,
    Probe,
    basic,
    compare_with_apache,
    refused_as_apache,
    status_of,
    write_htpasswd,
)

SITE = """DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
<Directory "{www}/hashes">
  AuthUserFile "{pw}"
{auth}</Directory>
<Directory "{www}/nofile">
{auth}</Directory>
<Directory "{www}/missing">
  AuthUserFile "{pw}.missing"
{auth}</Directory>
<Directory "{www}/dirfile">
  AuthUserFile "{www}"
{auth}</Directory>
""".replace("{auth}", "  AuthType Basic\n  AuthName files\n  Require valid-user\n")
DIRS = ("hashes", "nofile", "missing", "dirfile")
USERS = (("alice", "secret", "-B"), ("bob", "bobpw", "-m"), ("carol", "c1", "-s"),
         ("dave", "d1", "-d"), ("eve", "e1", "-p"))
CREDENTIALS = (*(basic(u, p) for u, p, _ in USERS), basic("frank", "f1"),
               basic("bob", "wrong"), basic("nobody", "x"), basic("alice", "secret:x"))
PROBES = tuple(Probe(f"/{d}/f.txt", c) for d in DIRS for c in CREDENTIALS)


def test_authn_file_matches_apache(tmp_path) -> None:
    www = tmp_path / "www"
    for d in DIRS:
        (www / d).mkdir(parents=True)
        (www / d / "f.txt").write_text(d + "\n")
    pw = str(tmp_path / "htpasswd")
    write_htpasswd(pw, USERS)
    with open(pw, "a") as fh:
        fh.write("# a comment\n\n   frank:{SHA}wJu4kLCW9zBvaIzG0drTTn5SoiM=  \n")
    seen = compare_with_apache(str(tmp_path), SITE.replace("{www}", str(www))
                               .replace("{pw}", pw), PROBES)
    ok = {c: status_of(seen, PROBES, Probe("/hashes/f.txt", c)) for c in CREDENTIALS}
    # every hash kind but plain text matches on Linux; the {SHA} line is read too
    assert [ok[basic(u, p)] for u, p, _ in USERS] == [200, 200, 200, 200, 401]
    assert ok[basic("frank", "f1")] == 200 and ok[basic("bob", "wrong")] == 401
    assert status_of(seen, PROBES, Probe("/nofile/f.txt", CREDENTIALS[0])) == 500
    assert status_of(seen, PROBES, Probe("/missing/f.txt", CREDENTIALS[0])) == 500
    for code in ("AH01617", "AH01618", "AH01619", "AH01620", "AH00554"):
        assert any(code in e for e in seen.errors), code


@pytest.mark.parametrize("line", ["AuthUserFile", "AuthUserFile a b"])
def test_refused_with_apaches_message(tmp_path, line: str) -> None:
    refused_as_apache(str(tmp_path), line, AUTH_MODULES[1:])


@pytest.mark.parametrize("line", ["AuthUserFile /x", "AuthBasicProvider file"])
def test_needs_its_module(tmp_path, line: str) -> None:
    refused_as_apache(str(tmp_path), line, tuple(m for m in AUTH_MODULES[1:] if m != "authn_file"))
