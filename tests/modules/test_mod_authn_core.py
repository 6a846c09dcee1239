"""mod_authn_core: AuthType and AuthName (their merge and the realm's quoting),
<AuthnProviderAlias> (an alias's own AuthUserFile, tried in AuthBasicProvider order) and
the check_authn function of last resort (an AuthType no module implements: 500)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.configs import cfg
from support.twin_auth import AUTH_LOAD, HTPASSWD, ask, auth_server, auth_site, basic

from fastcore.config import ConfigError
from fastcore.config.merge import DirResolver
from fastcore.modules.mod_authn_core import (
    aliases,
    authn_config,
    cache_contribution,
    escape_quotes,
)


def test_auth_name_quotes_are_escaped() -> None:
    assert escape_quotes('a "q" b') == 'a \\"q\\" b'
    assert escape_quotes('a \\"q\\" b') == 'a \\"q\\" b'  # already escaped: kept
    assert escape_quotes("end\\") == "end\\"


def test_auth_type_and_name_merge_as_httpd(tmp_path: Path) -> None:
    www = tmp_path / "www"
    for d in ("a/b/c", "a/none"):
        (www / d).mkdir(parents=True)
    c = cfg(tmp_path, AUTH_LOAD + f"<Directory {www}/a>\n AuthType Basic\n AuthName \"Top\"\n"
            f"</Directory>\n<Directory {www}/a/b>\n AuthName Inner\n</Directory>\n"
            f"<Directory {www}/a/none>\n AuthType None\n</Directory>\n")
    r = DirResolver(c)
    a, b = r.dir_config(c.main, f"{www}/a"), r.dir_config(c.main, f"{www}/a/b/c")
    none = r.dir_config(c.main, f"{www}/a/none")
    assert (authn_config(a).auth_type, authn_config(a).auth_name) == ("Basic", "Top")
    assert (authn_config(b).auth_type, authn_config(b).auth_name) == ("Basic", "Inner")
    assert authn_config(none).auth_type is None and authn_config(none).auth_name == "Top"
    # a scope that may authenticate is never cached; AuthType None is
    assert not cache_contribution(None, b, None).cacheable  # type: ignore[arg-type]
    assert cache_contribution(None, none, None).cacheable  # type: ignore[arg-type]


@pytest.mark.parametrize("line,message", [
    ('AuthName "%{HTTP_HOST} area"', "AuthName with an expression"),
    ("AuthType Basic Digest", "AuthType takes one argument"),
])
def test_directive_errors(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg(tmp_path, AUTH_LOAD + f"<Directory {tmp_path}>\n{line}\n</Directory>\n")


def test_its_directives_need_it(tmp_path: Path) -> None:
    body = f"<Directory {tmp_path}>\nAuthType Basic\n</Directory>\n"
    cfg(tmp_path, AUTH_LOAD + body)
    with pytest.raises(ConfigError, match="Invalid command 'AuthType'"):
        cfg(tmp_path, body)


def test_provider_alias_is_recorded_on_the_main_server(tmp_path: Path) -> None:
    c = cfg(tmp_path, AUTH_LOAD + "<AuthnProviderAlias file other>\n"
            " AuthUserFile /x/other\n</AuthnProviderAlias>\n")
    table = aliases(c.main)
    assert set(table) == {"other"} and table["other"].base == "file"


def test_an_auth_type_without_its_module_is_a_500(tmp_path: Path) -> None:
    auth_site(tmp_path, "dig/f.txt")
    srv = auth_server(tmp_path, "<Directory {www}/dig>\n AuthType Digest\n AuthName d\n"
                      " Require valid-user\n</Directory>\n")
    try:
        assert ask(srv.port, "/dig/f.txt").status == 500
        assert ask(srv.port, "/dig/f.txt", headers=(f"Authorization: {basic('alice', 'one')}",)
                   ).status == 500
    finally:
        srv.stop()
    assert "AH01796: AuthType Digest configured without corresponding module" in \
        (tmp_path / "error_log").read_text()


def test_providers_are_tried_in_order_and_an_alias_reads_its_own_file(tmp_path: Path) -> None:
    auth_site(tmp_path, "alias/f.txt", "plain/f.txt")
    subprocess.run([HTPASSWD, "-cbm", str(tmp_path / "pw.other"), "bob", "other"], check=True,
                   capture_output=True)
    srv = auth_server(tmp_path, "<AuthnProviderAlias file other>\n AuthUserFile {pw}.other\n"
                      "</AuthnProviderAlias>\n"
                      "<Directory {www}/alias>\n AuthType Basic\n AuthName a\n"
                      " AuthUserFile {pw}\n AuthBasicProvider other file\n"
                      " Require valid-user\n</Directory>\n"
                      "<Directory {www}/plain>\n AuthType Basic\n AuthName p\n"
                      " AuthUserFile {pw}\n AuthBasicProvider file other\n"
                      " Require valid-user\n</Directory>\n")
    try:
        def status(path: str, user: str, password: str) -> int:
            return ask(srv.port, path, headers=(f"Authorization: {basic(user, password)}",)
                       ).status
        assert status("/alias/f.txt", "bob", "other") == 200    # the alias's file
        assert status("/alias/f.txt", "alice", "one") == 200    # unknown there: `file`
        assert status("/plain/f.txt", "alice", "one") == 200    # `file` first
        assert status("/plain/f.txt", "bob", "other") == 200    # then the alias
        assert status("/alias/f.txt", "alice", "bad") == 401    # found in `file`: mismatch
    finally:
        srv.stop()
