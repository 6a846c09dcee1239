"""mod_authz_user against real Apache 2.4: `Require valid-user`, `Require user` with
quoted and several names, `Require not user` in <RequireAll>, a user in <RequireAny>
beside an address, and the providers refused without the module."""
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

AUTH = """  AuthType Basic
  AuthName "{d}"
  AuthUserFile "{pw}"
"""
RULES = {
    "valid": "  Require valid-user\n",
    "named": '  Require user bob "carol"\n',
    "spaced": '  Require user "a b" alice\n',
    "notdave": "  <RequireAll>\n    Require valid-user\n    Require not user dave\n"
               "  </RequireAll>\n",
    "anyof": "  <RequireAny>\n    Require ip 127.0.0.2\n    Require user alice\n"
             "  </RequireAny>\n",
}
USERS = (("alice", "a1", "-B"), ("bob", "b1", "-m"), ("carol", "c1", "-s"),
         ("dave", "d1", "-B"), ("a b", "ab", "-m"))
CREDENTIALS = (None, *(basic(u, p) for u, p, _ in USERS), basic("bob", "wrong"))
PROBES = tuple(Probe(f"/{d}/f.txt", c, client) for d in RULES for c in CREDENTIALS
               for client in (("127.0.0.1", "127.0.0.2") if d == "anyof" else ("127.0.0.1",)))


def test_authz_user_matches_apache(tmp_path) -> None:
    www = tmp_path / "www"
    body = f'DocumentRoot "{www}"\n<Directory "{www}">\n  Require all granted\n</Directory>\n'
    for d, rule in RULES.items():
        (www / d).mkdir(parents=True)
        (www / d / "f.txt").write_text(d + "\n")
        body += f'<Directory "{www}/{d}">\n' + AUTH.replace("{d}", d) + rule + "</Directory>\n"
    pw = str(tmp_path / "htpasswd")
    write_htpasswd(pw, USERS)
    seen = compare_with_apache(str(tmp_path), body.replace("{pw}", pw), PROBES)

    def status(d: str, cred: str | None, client: str = "127.0.0.1") -> int:
        return status_of(seen, PROBES, Probe(f"/{d}/f.txt", cred, client))
    alice, bob, carol, dave, ab = CREDENTIALS[1:6]
    assert status("valid", None) == 401 and status("valid", dave) == 200
    assert (status("named", bob), status("named", carol), status("named", alice)) == \
        (200, 200, 401)
    assert status("spaced", ab) == 200 and status("spaced", bob) == 401
    assert status("notdave", dave) == 401 and status("notdave", alice) == 200
    assert status("anyof", None, "127.0.0.2") == 200 and status("anyof", bob) == 401
    assert any("AH01631" in e for e in seen.errors)


@pytest.mark.parametrize("line", ["Require valid-user", "Require user bob"])
def test_needs_its_module(tmp_path, line: str) -> None:
    refused_as_apache(str(tmp_path), line, tuple(m for m in AUTH_MODULES[1:] if m != "authz_user"))
