"""mod_authn_core against real Apache 2.4: AuthType (None, one no module implements),
AuthName (quotes, none at all), <AuthnProviderAlias> with AuthBasicProvider trying the
providers in order, and the start-up errors of its directives and section."""
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

SITE = """<AuthnProviderAlias file other>
  AuthUserFile "{pw}.other"
</AuthnProviderAlias>
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
<Directory "{www}/basic">
  AuthType Basic
  AuthName "a \\"q\\" b"
  AuthUserFile "{pw}"
  Require valid-user
</Directory>
<Directory "{www}/basic/none">
  AuthType None
  Require all granted
</Directory>
<Directory "{www}/noname">
  AuthType Basic
  AuthUserFile "{pw}"
  Require valid-user
</Directory>
<Directory "{www}/digest">
  AuthType Digest
  AuthName dig
  Require valid-user
</Directory>
<Directory "{www}/alias-first">
  AuthType Basic
  AuthName af
  AuthUserFile "{pw}"
  AuthBasicProvider other file
  Require valid-user
</Directory>
<Directory "{www}/file-first">
  AuthType Basic
  AuthName ff
  AuthUserFile "{pw}"
  AuthBasicProvider file other
  Require valid-user
</Directory>
"""
DIRS = ("basic", "basic/none", "noname", "digest", "alias-first", "file-first")
ALICE, BOB, BOB_OTHER = basic("alice", "one"), basic("bob", "two"), basic("bob", "other")
PROBES = tuple(Probe(f"/{d}/f.txt", auth) for d in DIRS
               for auth in (None, ALICE, BOB, BOB_OTHER, basic("alice", "bad")))


def test_authn_core_matches_apache(tmp_path) -> None:
    www = tmp_path / "www"
    for d in DIRS:
        (www / d).mkdir(parents=True)
        (www / d / "f.txt").write_text(d + "\n")
    pw = str(tmp_path / "htpasswd")
    write_htpasswd(pw, (("alice", "one", "-B"), ("bob", "two", "-m")))
    write_htpasswd(pw + ".other", (("bob", "other", "-s"),))
    seen = compare_with_apache(str(tmp_path), SITE.replace("{www}", str(www))
                               .replace("{pw}", pw), PROBES)
    # not vacuous: each mechanism shows in Apache's own answers
    challenges = {a.challenge for a in seen.answers}
    assert 'Basic realm="a \\"q\\" b"' in challenges
    assert status_of(seen, PROBES, Probe("/noname/f.txt", ALICE)) == 500  # no AuthName
    assert any("AH01615" in e for e in seen.errors)
    assert status_of(seen, PROBES, Probe("/basic/none/f.txt")) == 200
    assert status_of(seen, PROBES, Probe("/digest/f.txt", ALICE)) == 500
    assert any("AH01796" in e for e in seen.errors)
    assert status_of(seen, PROBES, Probe("/alias-first/f.txt", BOB_OTHER)) == 200
    assert status_of(seen, PROBES, Probe("/alias-first/f.txt", BOB)) == 401  # found first
    assert status_of(seen, PROBES, Probe("/alias-first/f.txt", ALICE)) == 200
    assert status_of(seen, PROBES, Probe("/file-first/f.txt", BOB)) == 200
    assert status_of(seen, PROBES, Probe("/file-first/f.txt", BOB_OTHER)) == 401


MODULES = AUTH_MODULES[1:]


@pytest.mark.parametrize("line", ["AuthType", "AuthType Basic Digest", "AuthName",
                                  "AuthName a b"])
def test_refused_with_apaches_message(tmp_path, line: str) -> None:
    refused_as_apache(str(tmp_path), line, MODULES)


@pytest.mark.parametrize("line", ["AuthType Basic", "AuthName x"])
def test_needs_its_module(tmp_path, line: str) -> None:
    refused_as_apache(str(tmp_path), line, tuple(m for m in MODULES if m != "authn_core"))


@pytest.mark.parametrize("body", [
    "<AuthnProviderAlias file>\n</AuthnProviderAlias>",
    "<AuthnProviderAlias>\n</AuthnProviderAlias>",
    "<AuthnProviderAlias foo bar>\n</AuthnProviderAlias>",
    "<AuthnProviderAlias file file>\n</AuthnProviderAlias>",
    "<AuthnProviderAlias file a>\nAuthUserFile /x\nOptions None\n</AuthnProviderAlias>",
    "<Directory /tmp>\n<AuthnProviderAlias file a>\n</AuthnProviderAlias>\n</Directory>",
    "<VirtualHost *:80>\n<AuthnProviderAlias file a>\n</AuthnProviderAlias>\n"
    "</VirtualHost>",
    "<AuthnProviderAlias file a>\n</AuthnProviderAlias>\n"
    "<AuthnProviderAlias file a>\n</AuthnProviderAlias>",
    "<Directory /tmp>\nAuthBasicProvider a\n</Directory>\n"
    "<AuthnProviderAlias file a>\n</AuthnProviderAlias>",
])
def test_provider_alias_refused_with_apaches_message(tmp_path, body: str) -> None:
    refused_as_apache(str(tmp_path), "", MODULES, body + "\n")

