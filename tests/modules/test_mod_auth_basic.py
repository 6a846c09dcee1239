"""mod_auth_basic: the lenient Authorization parsing of httpd (apr's base64), its records
(AuthBasicProvider, AuthBasicAuthoritative) and challenge, its directive errors, and no
answer from a cache that would skip authentication (the C engine included).  AuthType/
AuthName and <AuthnProviderAlias> are tested in test_mod_authn_core.py, the password
files in test_mod_authn_file.py, Require user/valid-user in test_mod_authz_user.py."""
from __future__ import annotations

from pathlib import Path

import pytest
from support.configs import cfg
from support.twin_auth import AUTH_LOAD as LOAD
from support.twin_auth import ask, auth_server, auth_site, basic

from fastcore.config import ConfigError
from fastcore.config.merge import DirResolver
from fastcore.modules.mod_auth_basic import b64decode, basic_config, challenge


@pytest.mark.parametrize("text,want", [
    ("YWxpY2U6c2VjcmV0", "alice:secret"), ("YWxpY2U6c2VjcmV0==", "alice:secret"),
    ("YWxpY2U6c2VjcmV0!!", "alice:secret"), ("YWxp Y2U6c2VjcmV0", "ali"),
    ("YWxpY2U6c2VjcmV0Y", "alice:secret"), ("!!!!", ""), ("", ""),
    ("YWxpY2UAeDpzZWNyZXQ=", "alice"), ("Og", ":"),
])
def test_base64_as_apr_decodes_it(text: str, want: str) -> None:
    assert b64decode(text) == want


def test_records_merge_as_httpd(tmp_path: Path) -> None:
    www = tmp_path / "www"
    for d in ("a/b/c", "a/none"):
        (www / d).mkdir(parents=True)
    c = cfg(tmp_path, LOAD + f"<Directory {www}/a>\n AuthType Basic\n AuthName \"Top\"\n"
            " AuthBasicProvider file\n AuthBasicAuthoritative Off\n</Directory>\n"
            f"<Directory {www}/a/b>\n AuthName Inner\n</Directory>\n"
            f"<Directory {www}/a/none>\n AuthType None\n</Directory>\n")
    r = DirResolver(c)
    b = r.dir_config(c.main, f"{www}/a/b/c")
    none = r.dir_config(c.main, f"{www}/a/none")
    assert basic_config(b).providers == ("file",) and basic_config(b).authoritative is False
    assert challenge(b) == [("WWW-Authenticate", 'Basic realm="Inner"')]
    assert challenge(none) == []


@pytest.mark.parametrize("line,message", [
    ("AuthBasicProvider nosuch", "Unknown Authn provider: nosuch"),
    ("AuthBasicFake admin", "AuthBasicFake is not supported by fastcore"),
    ("AuthBasicUseDigestAlgorithm MD5",
     "AuthBasicUseDigestAlgorithm is not supported by fastcore"),
])
def test_directive_errors(tmp_path: Path, line: str, message: str) -> None:
    body = LOAD + f"<Directory {tmp_path}>\n{line}\n</Directory>\n"
    with pytest.raises(ConfigError, match=message):
        cfg(tmp_path, body)


SECURED = ("<Directory {www}/sec>\n AuthType Basic\n AuthName \"Members\"\n"
           " AuthUserFile {pw}\n Require valid-user\n</Directory>\n")


@pytest.mark.parametrize("board", ["pure", "compiled"])
def test_no_cache_answers_without_credentials(tmp_path: Path, board: str) -> None:
    auth_site(tmp_path, "sec/f.txt")
    srv = auth_server(tmp_path, SECURED, board)
    try:
        auth = (f"Authorization: {basic('alice', 'one')}",)
        for _ in range(3):
            ok = ask(srv.port, "/sec/f.txt", headers=auth)
            assert (ok.status, ok.body) == (200, b"sec/f.txt\n")
            denied = ask(srv.port, "/sec/f.txt")
            assert denied.status == 401
            assert denied.challenge == 'Basic realm="Members"'
    finally:
        srv.stop()


def test_a_listing_shows_protected_entries_only_to_a_user(tmp_path: Path) -> None:
    auth_site(tmp_path, "list/open.txt", "list/secret.txt")
    srv = auth_server(tmp_path, "<Files secret.txt>\n AuthType Basic\n AuthName x\n"
                  " AuthUserFile {pw}\n Require valid-user\n</Files>\n")
    try:
        anonymous = ask(srv.port, "/list/").body
        assert b"open.txt" in anonymous and b"secret.txt" not in anonymous
        auth = (f"Authorization: {basic('alice', 'one')}",)
        assert b"secret.txt" in ask(srv.port, "/list/", headers=auth).body
        assert ask(srv.port, "/list/secret.txt").status == 401
    finally:
        srv.stop()
