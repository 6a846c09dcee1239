"""Basic authentication against real Apache 2.4 (mod_authn_core, mod_auth_basic,
mod_authn_file, mod_authz_user with mod_authz_core and mod_access_compat): one httpd.conf
and one htpasswd file (bcrypt, APR MD5, SHA1, crypt and plain-text users, written by
`htpasswd`) served by apache2 and by fastcore.  For every path and Authorization field
(none, good and bad passwords, unknown users, other schemes, malformed base64...) the
status, WWW-Authenticate, Content-Type and body must match, and so must the access log
(%a %h %u %>s %U) and the error-log messages (AH01614/15/17/18/19/20, AH01627/29/30/31,
AH01796, AH00027...).  Each request is sent twice: a second answer must not come from a
cache that skipped authentication."""
from __future__ import annotations

import os
import subprocess
import time

import pytest
from support.apache_oracle import ApacheOracle
from support.twin_auth import (
    AUTH_MODULES,
    LOG_FORMAT,
    Answer,
    ask,
    basic,
    error_messages,
    refused_as_apache,
)

HTPASSWD = "/usr/bin/htpasswd"
AUTH = """  AuthType Basic
  AuthName "{realm}"
  AuthUserFile "{pw}"
"""
SITE = LOG_FORMAT + """
<AuthnProviderAlias file other>
  AuthUserFile "{pw}.other"
</AuthnProviderAlias>
DocumentRoot "{www}"
CustomLog "{run}/access_log" authfmt
<Directory "{www}">
  Require all granted
</Directory>
<Directory "{www}/sec">
""" + AUTH.replace("{realm}", "Sec Realm") + """  Require valid-user
</Directory>
<Directory "{www}/sec/users">
  Require user bob "carol"
  ErrorDocument 401 /e401.html
</Directory>
<Directory "{www}/sec/none">
  AuthType None
</Directory>
<Directory "{www}/quoted">
""" + AUTH.replace("{realm}", 'a \\"q\\" b') + """  Require valid-user
</Directory>
<Directory "{www}/any">
""" + AUTH.replace("{realm}", "any") + """  Require valid-user
  Order deny,allow
  Deny from all
  Allow from 127.0.0.2
  Satisfy any
</Directory>
<Directory "{www}/both">
""" + AUTH.replace("{realm}", "both") + """  Require user bob
  Order allow,deny
  Allow from 127.0.0.2
</Directory>
<Directory "{www}/noreq">
  AuthType Basic
  AuthName x
  Require all granted
</Directory>
<Directory "{www}/nodirectives">
  AuthType Basic
  AuthName x
  AuthMerging Off
</Directory>
<Directory "{www}/noauthtype">
  Require valid-user
</Directory>
<Directory "{www}/noname">
  AuthType Basic
  AuthUserFile "{pw}"
  Require valid-user
</Directory>
<Directory "{www}/nofile">
  AuthType Basic
  AuthName nofile
  Require valid-user
</Directory>
<Directory "{www}/missingfile">
  AuthType Basic
  AuthName missing
  AuthUserFile "{pw}.missing"
  Require valid-user
</Directory>
<Directory "{www}/dirfile">
  AuthType Basic
  AuthName dirfile
  AuthUserFile "{www}"
  Require valid-user
</Directory>
<Directory "{www}/denied">
""" + AUTH.replace("{realm}", "denied") + """  Require all denied
</Directory>
<Directory "{www}/digest">
  AuthType Digest
  AuthName dig
  Require valid-user
</Directory>
<Directory "{www}/forbid">
""" + AUTH.replace("{realm}", "forbid") + """  AuthBasicProvider file
  AuthzSendForbiddenOnFailure On
  Require user bob
</Directory>
<Directory "{www}/notauthoritative">
""" + AUTH.replace("{realm}", "na") + """  AuthBasicAuthoritative Off
  Require valid-user
</Directory>
<Directory "{www}/neg">
""" + AUTH.replace("{realm}", "neg") + """  <RequireAll>
    Require valid-user
    Require not user dave
  </RequireAll>
</Directory>
<Directory "{www}/anyonly">
""" + AUTH.replace("{realm}", "anyonly") + """  Require valid-user
  Satisfy Any
</Directory>
<Directory "{www}/alias">
""" + AUTH.replace("{realm}", "alias") + """  AuthBasicProvider other file
  Require valid-user
</Directory>
<Directory "{www}/idx">
  <Files index.html>
""" + AUTH.replace("{realm}", "idx") + """    Require valid-user
  </Files>
</Directory>
<Directory "{www}/idx2">
  DirectoryIndex index.html f.txt
  <Files index.html>
""" + AUTH.replace("{realm}", "idx2") + """    Require valid-user
  </Files>
</Directory>
<Directory "{www}/expruser">
""" + AUTH.replace("{realm}", "expr") + """  Require expr %{REMOTE_USER} == 'bob' || %{REMOTE_USER} == 'carol'
</Directory>
<Directory "{www}/listing">
  Options Indexes
</Directory>
<Files "secret.txt">
""" + AUTH.replace("{realm}", "files") + """  Require user alice
</Files>
<Directory "{www}/anyof">
""" + AUTH.replace("{realm}", "anyof") + """  <RequireAny>
    Require ip 127.0.0.2
    Require user alice
  </RequireAny>
</Directory>
"""
DIRS = ("sec", "sec/users", "sec/none", "quoted", "any", "both", "noreq", "nodirectives",
        "noauthtype", "noname", "nofile", "missingfile", "dirfile", "denied", "digest",
        "forbid", "notauthoritative", "neg", "anyof", "anyonly", "alias", "listing", "listing/", "idx/", "idx2/", "expruser")
USERS = (("alice", "secret", "-B"), ("bob", "bobpw", "-m"), ("carol", "c1", "-s"),
         ("dave", "d1", "-d"), ("eve", "e1", "-p"))
CREDENTIALS = (
    None, basic("alice", "secret"), basic("bob", "bobpw"), basic("carol", "c1"),
    basic("dave", "d1"), basic("eve", "e1"), basic("bob", "wrong"), basic("nobody", "x"),
    basic("", ""), "Basic", "Basic !!!!", "basic YWxpY2U6c2VjcmV0", "BASIC YWxpY2U6c2VjcmV0",
    "Digest username=alice", "Basic\tYWxpY2U6c2VjcmV0", "Basic   YWxpY2U6c2VjcmV0",
    "Basic YWxpY2U6c2VjcmV0==", "Basic YWxp Y2U6c2VjcmV0", "Basic YWxpY2U6c2VjcmV0Cg",
    "Basic YWxpY2U6c2VjcmV0Y", "Basic YWxpY2UAeDpzZWNyZXQ=", basic("alice", "secret:x"),
    basic("nocolon", "")[:-4], basic("frank", "f1"), basic("bob", "other-bob"),
)


def _site(root: str) -> tuple[str, str]:
    www = os.path.join(root, "www")
    for d in DIRS:
        os.makedirs(os.path.join(www, d), exist_ok=True)
        with open(os.path.join(www, d, "f.txt"), "w") as fh:
            fh.write(d + "\n")
    for d in ("idx", "idx2"):
        with open(os.path.join(www, d, "index.html"), "w") as fh:
            fh.write(f"<p>{d}</p>\n")
    with open(os.path.join(www, "e401.html"), "w") as fh:
        fh.write("<p>who are you?</p>\n")
    with open(os.path.join(www, "listing", "secret.txt"), "w") as fh:
        fh.write("secret\n")
    pw = os.path.join(root, "htpasswd")
    subprocess.run([HTPASSWD, "-cbm", pw + ".other", "bob", "other-bob"], check=True,
                   capture_output=True)
    for i, (user, password, flag) in enumerate(USERS):
        args = [HTPASSWD, "-b", flag] + (["-c"] if i == 0 else []) + [pw, user, password]
        subprocess.run(args, check=True, capture_output=True)
    with open(pw, "a") as fh:
        fh.write("# a comment\n\n   frank:{SHA}wJu4kLCW9zBvaIzG0drTTn5SoiM=  \n")
    return www, pw


def _run(tmp: str, www: str, pw: str, fastcore: bool
         ) -> tuple[list[Answer], list[str], list[str]]:
    run = os.path.join(tmp, "fastcore" if fastcore else "apache")
    os.makedirs(run)
    body = SITE.replace("{www}", www).replace("{run}", run).replace("{pw}", pw)
    answers = []
    with ApacheOracle(run, body, modules=(*AUTH_MODULES, "autoindex"),
                      fastcore=fastcore) as ap:
        for d in DIRS:
            for cred in CREDENTIALS:
                fields = (f"Authorization: {cred}",) if cred is not None else ()
                for client in ("127.0.0.1", "127.0.0.2") if d in ("any", "both", "anyof") \
                        else ("127.0.0.1",):
                    for _ in range(2):
                        path = f"/{d}" if d.endswith("/") else f"/{d}/f.txt"
                        answers.append(ask(ap.port, path, client, fields))
        time.sleep(0.3)
    with open(os.path.join(run, "access_log")) as fh:
        access = fh.read().splitlines()
    with open(os.path.join(run, "error_log")) as fh:
        errors = error_messages(fh.read(), ("auth_basic", "authn_file", "authn_core",
                                            "authz_core", "access_compat", "core"))
    return answers, access, errors


def _keys() -> list[tuple[str, str | None]]:
    """(directory, credentials) of each answer _run collects, in order."""
    out = []
    for d in DIRS:
        for cred in CREDENTIALS:
            for _client in ("127.0.0.1", "127.0.0.2") if d in ("any", "both", "anyof") \
                    else ("127.0.0.1",):
                out += [(d, cred), (d, cred)]
    return out


def test_basic_authentication_matches_apache(tmp_path) -> None:
    www, pw = _site(str(tmp_path))
    a_answers, a_access, a_errors = _run(str(tmp_path), www, pw, fastcore=False)
    f_answers, f_access, f_errors = _run(str(tmp_path), www, pw, fastcore=True)
    assert [a.status for a in f_answers] == [a.status for a in a_answers]
    assert f_answers == a_answers
    assert f_access == a_access
    assert f_errors == a_errors
    # not vacuous: each mechanism shows in Apache's own answers
    statuses = {a.status for a in a_answers}
    assert statuses == {200, 401, 403, 500}
    assert 'Basic realm="a \\"q\\" b"' in {a.challenge for a in a_answers}
    for users in ("alice", "bob", "carol", "dave"):
        assert any(line.endswith(f"{users} 200 /sec/f.txt") for line in a_access)
    assert any(" eve 401 /sec/f.txt" in line for line in a_access)  # plain text: no
    assert any(' "" 401 /sec/f.txt' in line for line in a_access)
    status = {(d, c): a_answers[i].status for i, (d, c) in enumerate(_keys())}
    assert status[("alias", basic("bob", "other-bob"))] == 200  # the alias's file first
    assert status[("alias", basic("bob", "bobpw"))] == 401  # found there: no fallback
    assert status[("alias", basic("alice", "secret"))] == 200  # unknown there: `file`
    assert status[("anyonly", None)] == 200
    assert status[("expruser", None)] == 401 and status[("expruser", CREDENTIALS[2])] == 200
    assert status[("expruser", CREDENTIALS[1])] == 401  # alice: AH01629
    assert status[("idx/", None)] == 401 and status[("idx/", CREDENTIALS[1])] == 200
    assert status[("idx2/", None)] == 200  # the next DirectoryIndex name
    local = [a for (d, _c), a in zip(_keys(), a_answers, strict=True) if d == "sec/users"
             and a.status == 401]
    assert local and all(a.body == b"<p>who are you?</p>\n" and a.challenge for a in local)  # Satisfy Any, no Deny: nobody is asked
    assert status[("notauthoritative", basic("nobody", "x"))] == 500
    listing = {c: a_answers[i].body for i, (d, c) in enumerate(_keys()) if d == "listing/"}
    assert b"secret.txt" not in listing[None] and b"secret.txt" in listing[CREDENTIALS[1]]
    for code in ("AH01629", "AH01614", "AH01615", "AH01617", "AH01618", "AH01619", "AH01620",
                 "AH01627", "AH01630", "AH01631", "AH01796", "AH00027"):
        assert any(code in e for e in a_errors), code


CONFIG_LINES = (
    "AuthBasicProvider", "AuthBasicProvider foo", "AuthBasicProvider file foo",
    "AuthBasicAuthoritative maybe", "AuthzSendForbiddenOnFailure maybe",
)
# AuthType/AuthName and <AuthnProviderAlias>: test_mod_authn_core_vs_apache.py;
# AuthUserFile: test_mod_authn_file_vs_apache.py; Require user: test_mod_authz_user_vs_apache.py


@pytest.mark.parametrize("line", CONFIG_LINES)
def test_refused_with_apaches_message(tmp_path, line: str) -> None:
    refused_as_apache(str(tmp_path), line, AUTH_MODULES[1:])


@pytest.mark.parametrize("line", ["AuthBasicProvider file", "AuthBasicAuthoritative Off"])
def test_needs_its_module(tmp_path, line: str) -> None:
    refused_as_apache(str(tmp_path), line, tuple(m for m in AUTH_MODULES[1:] if m != "auth_basic"))
