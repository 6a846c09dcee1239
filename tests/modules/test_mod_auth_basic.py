"""Basic authentication (mod_authn_core, mod_auth_basic, mod_authn_file, mod_authz_user):
htpasswd files as `htpasswd` writes them, read again on every request; the lenient
Authorization parsing of httpd; %u; the records' merges; and no answer from a cache
that would skip authentication (the C engine included)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.configs import cfg
from support.inprocess import FastcoreThread
from support.twin_auth import ask, basic

from fastcore.config import ConfigError
from fastcore.config.merge import DirResolver
from fastcore.modules.mod_auth_basic import b64decode, basic_config, challenge
from fastcore.modules.mod_authn_core import authn_config, cache_contribution, escape_quotes
from fastcore.modules.mod_authn_file import _verify, file_password

HTPASSWD = "/usr/bin/htpasswd"
LOAD = "".join(f"LoadModule {m}_module modules/mod_{m}.so\n" for m in (
    "authn_core", "authn_file", "auth_basic", "authz_user"))


def _hash(flag: str, password: str) -> str:
    out = subprocess.run([HTPASSWD, "-nb", flag, "u", password], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split(":", 1)[1]


@pytest.mark.parametrize("flag", ["-B", "-m", "-s", "-d"])
def test_every_hash_htpasswd_writes(flag: str) -> None:
    hashed = _hash(flag, "pässword")  # UTF-8 bytes on the command line and the wire
    assert _verify("pässword".encode(), hashed)
    assert not _verify(b"passw0rd", hashed)


def test_plain_text_never_matches_on_linux() -> None:
    assert _hash("-p", "e1") == "e1"
    assert not _verify(b"e1", "e1")


def test_bcrypt_looks_at_72_bytes_as_apr() -> None:
    long = "x" * 72
    hashed = _hash("-B", long)
    assert _verify((long + "tail").encode(), hashed)
    assert not _verify(long[:-1].encode(), hashed)


def test_malformed_hashes_are_mismatches() -> None:
    for bad in ("$apr1$", "$2y$05$short", "{SHA}!!", "*", ""):
        assert not _verify(b"x", bad)


def test_password_file_lines() -> None:
    data = (b"# alice:commented\n\n  bob:hb:extra  \r\nbob:second\ncarol::hc\n"
            b"d\xe9:latin\n")
    assert file_password(data, "alice") is None
    assert file_password(data, "bob") == "hb"  # first line wins, fields after : ignored
    assert file_password(data, "carol") == "hc"  # ap_getword skips repeated colons
    assert file_password(data, "d\xe9") == "latin"
    assert file_password(data, "") is None


@pytest.mark.parametrize("text,want", [
    ("YWxpY2U6c2VjcmV0", "alice:secret"), ("YWxpY2U6c2VjcmV0==", "alice:secret"),
    ("YWxpY2U6c2VjcmV0!!", "alice:secret"), ("YWxp Y2U6c2VjcmV0", "ali"),
    ("YWxpY2U6c2VjcmV0Y", "alice:secret"), ("!!!!", ""), ("", ""),
    ("YWxpY2UAeDpzZWNyZXQ=", "alice"), ("Og", ":"),
])
def test_base64_as_apr_decodes_it(text: str, want: str) -> None:
    assert b64decode(text) == want


def test_auth_name_quotes_are_escaped() -> None:
    assert escape_quotes('a "q" b') == 'a \\"q\\" b'
    assert escape_quotes('a \\"q\\" b') == 'a \\"q\\" b'  # already escaped: kept
    assert escape_quotes("end\\") == "end\\"


def test_records_merge_as_httpd(tmp_path: Path) -> None:
    www = tmp_path / "www"
    for d in ("a/b/c", "a/none"):
        (www / d).mkdir(parents=True)
    c = cfg(tmp_path, LOAD + f"<Directory {www}/a>\n AuthType Basic\n AuthName \"Top\"\n"
            " AuthBasicProvider file\n AuthBasicAuthoritative Off\n</Directory>\n"
            f"<Directory {www}/a/b>\n AuthName Inner\n</Directory>\n"
            f"<Directory {www}/a/none>\n AuthType None\n</Directory>\n")
    r = DirResolver(c)
    a, b = r.dir_config(c.main, f"{www}/a"), r.dir_config(c.main, f"{www}/a/b/c")
    none = r.dir_config(c.main, f"{www}/a/none")
    assert (authn_config(a).auth_type, authn_config(a).auth_name) == ("Basic", "Top")
    assert (authn_config(b).auth_type, authn_config(b).auth_name) == ("Basic", "Inner")
    assert authn_config(none).auth_type is None and authn_config(none).auth_name == "Top"
    assert basic_config(b).providers == ("file",) and basic_config(b).authoritative is False
    assert challenge(b) == [("WWW-Authenticate", 'Basic realm="Inner"')]
    assert challenge(none) == []
    assert not cache_contribution(None, b, None).cacheable  # type: ignore[arg-type]
    assert cache_contribution(None, none, None).cacheable  # type: ignore[arg-type]


@pytest.mark.parametrize("line,message", [
    ("AuthBasicProvider nosuch", "Unknown Authn provider: nosuch"),
    ("AuthBasicFake admin", "AuthBasicFake is not supported by fastcore"),
    ("AuthBasicUseDigestAlgorithm MD5",
     "AuthBasicUseDigestAlgorithm is not supported by fastcore"),
    ("Require user %{REMOTE_ADDR}", "Require user with an expression"),
    ('AuthName "%{HTTP_HOST} area"', "AuthName with an expression"),
    ("AuthType Basic", None),
])
def test_directive_errors(tmp_path: Path, line: str, message: str | None) -> None:
    body = LOAD + f"<Directory {tmp_path}>\n{line}\n</Directory>\n"
    if message is None:
        cfg(tmp_path, body)
        with pytest.raises(ConfigError, match="Invalid command 'AuthType'"):
            cfg(tmp_path, body.replace(LOAD, ""))
        return
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("%", "%")):
        cfg(tmp_path, body)


def _server(tmp_path: Path, body: str, board: str = "pure") -> FastcoreThread:
    www = tmp_path / "www"
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"ServerRoot {tmp_path}\nPidFile {tmp_path}/pid\nErrorLog {tmp_path}/error_log\n"
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule authz_core_module modules/mod_authz_core.so\n"
        "LoadModule autoindex_module modules/mod_autoindex.so\n" + LOAD +
        f"Listen 127.0.0.1:18089\nServerName localhost\nDocumentRoot {www}\n"
        f'LogFormat "%u %>s %U" u\nCustomLog {tmp_path}/access_log u\n'
        f"<Directory {www}>\n Require all granted\n Options Indexes\n</Directory>\n"
        + body.replace("{www}", str(www)).replace("{pw}", str(tmp_path / "pw")))
    return FastcoreThread(str(conf), board=board)  # type: ignore[arg-type]


def _site(tmp_path: Path, *files: str) -> None:
    for f in files:
        path = tmp_path / "www" / f
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f + "\n")
    subprocess.run([HTPASSWD, "-cbB", str(tmp_path / "pw"), "alice", "one"], check=True,
                   capture_output=True)


SECURED = ("<Directory {www}/sec>\n AuthType Basic\n AuthName \"Members\"\n"
           " AuthUserFile {pw}\n Require valid-user\n</Directory>\n")


def test_a_password_change_takes_effect_at_once(tmp_path: Path) -> None:
    _site(tmp_path, "sec/f.txt")
    srv = _server(tmp_path, SECURED)
    try:
        auth = (f"Authorization: {basic('alice', 'one')}",)
        assert ask(srv.port, "/sec/f.txt", headers=auth).status == 200
        subprocess.run([HTPASSWD, "-bB", str(tmp_path / "pw"), "alice", "two"], check=True,
                       capture_output=True)
        assert ask(srv.port, "/sec/f.txt", headers=auth).status == 401
        new = (f"Authorization: {basic('alice', 'two')}",)
        assert ask(srv.port, "/sec/f.txt", headers=new).status == 200
        (tmp_path / "pw").unlink()
        assert ask(srv.port, "/sec/f.txt", headers=new).status == 500
    finally:
        srv.stop()
    log = (tmp_path / "error_log").read_text()
    assert 'AH01617: user alice: authentication failure for "/sec/f.txt": Password Mismatch' \
        in log
    assert "(2)No such file or directory: [client 127.0.0.1:" in log
    assert (tmp_path / "access_log").read_text().splitlines() == [
        "alice 200 /sec/f.txt", "alice 401 /sec/f.txt", "alice 200 /sec/f.txt",
        "alice 500 /sec/f.txt"]


@pytest.mark.parametrize("board", ["pure", "compiled"])
def test_no_cache_answers_without_credentials(tmp_path: Path, board: str) -> None:
    _site(tmp_path, "sec/f.txt")
    srv = _server(tmp_path, SECURED, board)
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
    _site(tmp_path, "list/open.txt", "list/secret.txt")
    srv = _server(tmp_path, "<Files secret.txt>\n AuthType Basic\n AuthName x\n"
                  " AuthUserFile {pw}\n Require valid-user\n</Files>\n")
    try:
        anonymous = ask(srv.port, "/list/").body
        assert b"open.txt" in anonymous and b"secret.txt" not in anonymous
        auth = (f"Authorization: {basic('alice', 'one')}",)
        assert b"secret.txt" in ask(srv.port, "/list/", headers=auth).body
        assert ask(srv.port, "/list/secret.txt").status == 401
    finally:
        srv.stop()


def test_needing_a_user_combines_as_apply_authz_sections() -> None:
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
