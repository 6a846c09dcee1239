"""mod_authn_file: AuthUserFile, every hash `htpasswd` writes (bcrypt, APR MD5, SHA1,
crypt; plain text never matches on Linux, as in APR), the file's lines as httpd reads
them, and the file read again on every request."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.configs import cfg
from support.twin_auth import AUTH_LOAD, HTPASSWD, ask, auth_server, auth_site, basic

from fastcore.config import ConfigError
from fastcore.config.merge import DirResolver
from fastcore.modules.mod_authn_file import _verify, file_password, pwfile


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


def test_auth_user_file_is_relative_to_server_root_and_merges(tmp_path: Path) -> None:
    www = tmp_path / "www"
    (www / "a/b").mkdir(parents=True)
    c = cfg(tmp_path, AUTH_LOAD + f"<Directory {www}/a>\n AuthUserFile pw\n</Directory>\n")
    r = DirResolver(c)
    assert pwfile(r.dir_config(c.main, f"{www}/a/b")) == str(tmp_path / "pw")


def test_its_directive_needs_it(tmp_path: Path) -> None:
    body = f"<Directory {tmp_path}>\nAuthUserFile /x\n</Directory>\n"
    with pytest.raises(ConfigError, match="Invalid command 'AuthUserFile'"):
        cfg(tmp_path, AUTH_LOAD.replace("LoadModule authn_file_module modules/mod_authn_file.so\n",
                                        "") + body)


SECURED = ("<Directory {www}/sec>\n AuthType Basic\n AuthName \"Members\"\n"
           " AuthUserFile {pw}\n Require valid-user\n</Directory>\n")


def test_a_password_change_takes_effect_at_once(tmp_path: Path) -> None:
    auth_site(tmp_path, "sec/f.txt")
    srv = auth_server(tmp_path, SECURED)
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
