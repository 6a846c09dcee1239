"""mod_authz_user: `Require valid-user` and `Require user NAME...` (the names split as
ap_getword_conf does), "denied, no user yet" until somebody authenticated, and the
providers only while the module is loaded."""
from __future__ import annotations

from pathlib import Path

import pytest
from support.configs import cfg
from support.twin_auth import AUTH_LOAD, ask, auth_server, auth_site, basic

from fastcore.config import ConfigError
from fastcore.modules.mod_authz_core import (
    DENIED,
    DENIED_NO_USER,
    GRANTED,
    NEUTRAL,
    ReqCtx,
    Require,
    RequireGroup,
    evaluate,
)
from fastcore.modules.mod_authz_user import parse_user_args


def test_needing_a_user_combines_as_apply_authz_sections() -> None:
    ctx = ReqCtx("10.0.0.1", None, "GET", None)
    valid, bob = Require("valid-user"), Require("user", ("bob",))
    other_ip, all_ok = Require("ip", ("192.0.2.1",)), Require("all", ("granted",))
    assert evaluate(ctx, RequireGroup("all", (all_ok, valid))) == DENIED_NO_USER
    assert evaluate(ctx, RequireGroup("all", (valid, other_ip))) == DENIED
    assert evaluate(ctx, RequireGroup("any", (other_ip, valid))) == DENIED_NO_USER
    assert evaluate(ctx, Require("user", ("bob",), negated=True)) == NEUTRAL
    ctx.user = "bob"
    assert evaluate(ctx, RequireGroup("all", (valid, bob))) == GRANTED
    ctx.user = "eve"
    assert evaluate(ctx, RequireGroup("any", (bob, other_ip))) == DENIED


def test_user_names_are_words_as_ap_getword_conf() -> None:
    assert parse_user_args("user", 'bob "carol x" dave') == ("bob", "carol x", "dave")
    assert parse_user_args("user", 'bob "" dave') == ("bob",)  # an empty word ends them
    assert parse_user_args("valid-user", "anything here") == ()


def test_a_user_expression_is_out_of_reach(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Require user with an expression"):
        cfg(tmp_path, AUTH_LOAD + f"<Directory {tmp_path}>\nRequire user %{{REMOTE_ADDR}}\n"
            "</Directory>\n")


@pytest.mark.parametrize("line", ["Require valid-user", "Require user bob"])
def test_the_providers_need_it(tmp_path: Path, line: str) -> None:
    body = f"<Directory {tmp_path}>\n{line}\n</Directory>\n"
    cfg(tmp_path, AUTH_LOAD + body)
    with pytest.raises(ConfigError, match="Unknown Authz provider"):
        cfg(tmp_path, AUTH_LOAD.replace(
            "LoadModule authz_user_module modules/mod_authz_user.so\n", "") + body)


def test_require_user_and_valid_user(tmp_path: Path) -> None:
    auth_site(tmp_path, "valid/f.txt", "named/f.txt", "other/f.txt")
    secured = ("<Directory {{www}}/{d}>\n AuthType Basic\n AuthName {d}\n"
               " AuthUserFile {{pw}}\n {rule}\n</Directory>\n")
    srv = auth_server(tmp_path, secured.format(d="valid", rule="Require valid-user")
                      + secured.format(d="named", rule='Require user "bob" alice')
                      + secured.format(d="other", rule="Require user bob"))
    alice = (f"Authorization: {basic('alice', 'one')}",)
    try:
        assert ask(srv.port, "/valid/f.txt").status == 401
        assert ask(srv.port, "/valid/f.txt", headers=alice).status == 200
        assert ask(srv.port, "/named/f.txt", headers=alice).status == 200
        other = ask(srv.port, "/other/f.txt", headers=alice)  # known, but not named
        assert other.status == 401 and other.challenge == 'Basic realm="other"'
    finally:
        srv.stop()
    log = (tmp_path / "error_log").read_text()
    assert "AH01631: user alice: authorization failure for \"/other/f.txt\"" in log
