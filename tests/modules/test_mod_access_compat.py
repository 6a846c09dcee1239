"""mod_access_compat: Allow/Deny parsed as apr_ipsubnet_create does, Order evaluated as
check_dir_access, a scope's rules replacing the enclosing ones, DNS asked only when a
host rule is reached, and no cached answer that skips the check (a second request from a
client the rules refuse is refused, even after the C engine cached the file)."""
from __future__ import annotations

from pathlib import Path

import pytest
from support.configs import cfg
from support.inprocess import FastcoreThread
from support.twin_auth import ask

from fastcore.config import ConfigError
from fastcore.config.merge import DirResolver
from fastcore.core.cacheable import Contribution
from fastcore.modules.mod_access_compat import (
    BAD_IP,
    BAD_MASK,
    NotAnAddress,
    Subnet,
    access_config,
    cache_contribution,
    parse_rule,
    parse_subnet,
)

LOAD = "LoadModule access_compat_module modules/mod_access_compat.so\n"


@pytest.mark.parametrize("text,mask,want", [
    ("10.1.2.3", None, Subnet(4, 0x0A010203, 0xFFFFFFFF)),
    ("010.001.2.3", None, Subnet(4, 0x0A010203, 0xFFFFFFFF)),  # APR: decimal, zeros ok
    ("10.1", None, Subnet(4, 0x0A010000, 0xFFFF0000)),
    ("10.1.", None, Subnet(4, 0x0A010000, 0xFFFF0000)),
    ("1.2.3.4.", None, Subnet(4, 0x01020304, 0xFFFFFFFF)),
    ("10.1.2.3", "8", Subnet(4, 0x0A000000, 0xFF000000)),
    ("10.1.2.3", "08", Subnet(4, 0x0A000000, 0xFF000000)),
    ("10.1.2.3", "255.255.0.255", Subnet(4, 0x0A010003, 0xFFFF00FF)),
    ("fe80::1", "10", Subnet(6, 0xFE80 << 112, ((1 << 10) - 1) << 118)),
])
def test_subnets_as_apr_makes_them(text: str, mask: str | None, want: Subnet) -> None:
    assert parse_subnet(text, mask) == want


@pytest.mark.parametrize("text,mask,message", [
    ("10.1.2.300", None, BAD_IP), ("10..1", None, BAD_IP), ("1.2.3.4.5", None, BAD_IP),
    ("::ffff:1.2.3.4", None, BAD_IP), (":::1", None, BAD_IP), ("1.2.3", "8", BAD_IP),
    ("10.1.2.3", "33", BAD_MASK), ("10.1.2.3", "0", BAD_MASK), ("10.1.2.3", "", BAD_MASK),
    ("10.1.2.3", "255.0.0.x", BAD_MASK), ("fe80::", "200", BAD_MASK),
    ("fe80::", "255.0.0.0", BAD_MASK),
])
def test_bad_subnets_get_aprs_words(text: str, mask: str | None, message: str) -> None:
    with pytest.raises(Exception, match=message.replace(".", r"\.")):
        parse_subnet(text, mask)


def test_words_that_are_no_address_are_host_names() -> None:
    with pytest.raises(NotAnAddress):
        parse_subnet("example.com", None)
    assert parse_rule("example.com").kind == "host"
    assert parse_rule("ENV=!x").kind == "nenv" and parse_rule("env=x").value == "x"
    assert parse_rule("All").kind == "all"


def test_an_ipv4_subnet_matches_an_ipv4_mapped_client() -> None:
    net = parse_subnet("10.1", None)
    assert net.contains("10.1.200.3") and net.contains("::ffff:10.1.0.9")
    assert not net.contains("10.2.0.1") and not net.contains("::1")
    assert parse_subnet("::1", None).contains("::1")


def test_a_scope_with_any_rule_replaces_the_enclosing_rules(tmp_path: Path) -> None:
    www = tmp_path / "www"
    (www / "a" / "b" / "c").mkdir(parents=True)
    c = cfg(tmp_path, LOAD + f"<Directory {www}/a>\n Order allow,deny\n Allow from 10.1\n"
            f" Satisfy any\n</Directory>\n<Directory {www}/a/b>\n Deny from 10.1.2\n"
            "</Directory>\n")
    r = DirResolver(c)
    a = access_config(r.dir_config(c.main, f"{www}/a"))
    assert (a.order, [x.value for x in a.allows], a.satisfy) == ("allow,deny", ["10.1"], "any")
    b = access_config(r.dir_config(c.main, f"{www}/a/b"))  # its own record: defaults + Deny
    assert (b.order, b.allows, [x.value for x in b.denys], b.satisfy) == (
        "deny,allow", [], ["10.1.2"], None)
    assert access_config(r.dir_config(c.main, f"{www}/a/b/c")) == b


def test_only_rules_about_everyone_may_be_cached(tmp_path: Path) -> None:
    www = tmp_path / "www"
    for d in ("all", "ip", "env", "host"):
        (www / d).mkdir(parents=True)
    c = cfg(tmp_path, LOAD + "".join(
        f"<Directory {www}/{d}>\n Order allow,deny\n Allow from {rule}\n</Directory>\n"
        for d, rule in (("all", "all"), ("ip", "127.0.0.1"), ("env", "env=X"),
                        ("host", "localhost"))))
    r = DirResolver(c)

    def share(d: str) -> Contribution:
        return cache_contribution(None, r.dir_config(c.main, f"{www}/{d}"), None)  # type: ignore[arg-type]
    assert share("all").cacheable and share("all").peer_rule is None
    # an address rule: cacheable with a rule each hit evaluates against the peer (issue 12)
    assert share("ip").cacheable and share("ip").peer_rule
    assert not share("env").cacheable and not share("host").cacheable


@pytest.mark.parametrize("line,message", [
    ("Order deny,allow", "order not allowed here"),
    ("Allow from all", "allow not allowed here"),
])
def test_server_context_refuses_them(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg(tmp_path, LOAD + line + "\n")


def test_unloaded_module_directives_are_invalid_commands(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Invalid command 'Order'"):
        cfg(tmp_path, f"<Directory {tmp_path}>\nOrder allow,deny\n</Directory>\n")


def _server(tmp_path: Path, body: str, board: str = "pure") -> FastcoreThread:
    www = tmp_path / "www"
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"ServerRoot {tmp_path}\nPidFile {tmp_path}/pid\nErrorLog {tmp_path}/error_log\n"
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule authz_core_module modules/mod_authz_core.so\n" + LOAD +
        f"Listen 127.0.0.1:18089\nServerName localhost\nDocumentRoot {www}\n"
        f"<Directory {www}>\n Require all granted\n AllowOverride Limit\n</Directory>\n"
        + body.replace("{www}", str(www)))
    return FastcoreThread(str(conf), board=board)  # type: ignore[arg-type]


def _site(tmp_path: Path, *dirs: str) -> None:
    for d in dirs:
        (tmp_path / "www" / d).mkdir(parents=True, exist_ok=True)
        (tmp_path / "www" / d / "f.txt").write_text(d + "\n")


@pytest.mark.parametrize("board", ["pure", "compiled"])
def test_a_cached_file_is_still_refused_to_the_other_client(tmp_path: Path, board: str) -> None:
    _site(tmp_path, "two")
    srv = _server(tmp_path, "<Directory {www}/two>\n Order deny,allow\n Deny from all\n"
                  " Allow from 127.0.0.2\n</Directory>\n", board)
    try:
        for _ in range(3):
            assert ask(srv.port, "/two/f.txt", "127.0.0.2").status == 200
            assert ask(srv.port, "/two/f.txt", "127.0.0.1").status == 403
    finally:
        srv.stop()


def test_dns_only_when_a_host_rule_is_reached(tmp_path: Path) -> None:
    _site(tmp_path, "ipfirst", "byname", "denyname")
    srv = _server(tmp_path,
                  "<Directory {www}/ipfirst>\n Order deny,allow\n Deny from all\n"
                  " Allow from 127.0.0.1 localhost\n</Directory>\n"
                  "<Directory {www}/byname>\n Order deny,allow\n Deny from all\n"
                  " Allow from localhost\n</Directory>\n"
                  "<Directory {www}/denyname>\n Order allow,deny\n Allow from all\n"
                  " Deny from .example.invalid\n</Directory>\n")
    try:
        dns = srv.srv.dns
        assert dns is not None
        assert ask(srv.port, "/ipfirst/f.txt").status == 200
        assert dns.lookups == 0  # the address matched before the name was needed
        assert ask(srv.port, "/byname/f.txt").status == 200  # localhost, confirmed forward
        assert dns.lookups > 0
        assert ask(srv.port, "/byname/f.txt", "127.0.0.2").status == 403  # no name for it
        assert ask(srv.port, "/denyname/f.txt").status == 200  # a suffix that is no match
    finally:
        srv.stop()


def test_htaccess_rules_apply_at_once(tmp_path: Path) -> None:
    _site(tmp_path, "ht")
    ht = tmp_path / "www" / "ht" / ".htaccess"
    srv = _server(tmp_path, "")
    try:
        assert ask(srv.port, "/ht/f.txt").status == 200
        ht.write_text("Order deny,allow\nDeny from 127.0.0.1\n")
        assert ask(srv.port, "/ht/f.txt").status == 403
        assert ask(srv.port, "/ht/f.txt", "127.0.0.2").status == 200
        ht.write_text("Order foo\n")
        assert ask(srv.port, "/ht/f.txt").status == 500
    finally:
        srv.stop()
    log = (tmp_path / "error_log").read_text()
    assert "AH01797: client denied by server configuration: " in log
    assert ".htaccess: unknown order" in log


def test_satisfy_any_lets_a_denied_client_in_by_require(tmp_path: Path) -> None:
    _site(tmp_path, "any", "all")
    srv = _server(tmp_path,
                  "<Directory {www}/any>\n Order deny,allow\n Deny from all\n"
                  " Allow from 127.0.0.2\n Require all granted\n Satisfy Any\n</Directory>\n"
                  "<Directory {www}/all>\n Order deny,allow\n Deny from all\n"
                  " Allow from 127.0.0.2\n Require all granted\n</Directory>\n")
    try:
        assert ask(srv.port, "/any/f.txt").status == 200
        assert ask(srv.port, "/all/f.txt").status == 403
        assert ask(srv.port, "/all/f.txt", "127.0.0.2").status == 200
    finally:
        srv.stop()

