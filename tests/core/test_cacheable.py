"""The response side of the one cacheability decision (core/cacheable.py's entry_for): the
exact header bytes a cached answer sends, assembled from the modules' contributions, and
the answers no cache may keep."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from fastcore.config.model import DirConfig, VirtualHost
from fastcore.core.cacheable import CacheInfo, entry_for, produced_by
from fastcore.core.transaction import Transaction
from fastcore.modules import MODULES
from fastcore.modules.mod_authz_core import NAME as AUTHZ
from fastcore.modules.mod_authz_core import AuthzDir, Require, RequireGroup
from fastcore.modules.mod_log_config import ErrorLog

MTIME = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT
LM = b"Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"


def _authz(group: RequireGroup) -> DirConfig:
    """A DirConfig whose mod_authz_core record holds `group`."""
    return DirConfig(modules={AUTHZ: AuthzDir(group)})


def _txn(log_level: str = "warn") -> Transaction:
    # every registered module loaded: each one's contribution is asked
    srv = SimpleNamespace(cfg=SimpleNamespace(main=VirtualHost((), "localhost"),
                                              modules=tuple(MODULES)),
                          errlog=lambda vhost: ErrorLog(-1, log_level))
    txn = Transaction(SimpleNamespace(srv=srv, tls=0, https=lambda: False, ssl_var=lambda name: None,
        client_ip="127.0.0.1", remote_port=1, requests=0),
                      0.0)
    txn.uri_path = "/a.html"
    return txn


def _served(dc: DirConfig | None = None, **kw: object) -> CacheInfo:
    info = CacheInfo(fname="/srv/a.html", ino=7, size=10, mtime_ns=MTIME * 10**9,
                     ctime_ns=MTIME * 10**9, mtime=MTIME, tag='"a-b"', ctype="text/html",
                     lang=None, enc=None, dc=dc or DirConfig())
    return dataclasses.replace(info, **kw)  # type: ignore[arg-type]


def test_plain_file_bytes() -> None:
    e = entry_for(_txn(), _served(), "/a.html", 3)
    assert e is not None
    assert e.head == (LM + b'ETag: "a-b"\r\nAccept-Ranges: bytes\r\nContent-Length: 10\r\n')
    assert e.tail == b"Content-Type: text/html\r\n"
    assert (e.ctype, e.uri, e.engine_log_set, e.size, e.ino) == ("text/html", "/a.html", 3, 10, 7)


def test_mime_contributes_language_and_default_charset() -> None:
    dc = DirConfig(add_default_charset="UTF-8")
    e = entry_for(_txn(), _served(dc, lang="de"), "/a.html", None)
    assert e is not None
    assert e.head.startswith(b"Content-Language: de\r\n" + LM)
    assert e.tail == b"Content-Type: text/html; charset=UTF-8\r\n"
    assert e.ctype == "text/html; charset=UTF-8"
    assert e.engine_log_set is None  # the vhost's logs are not the C engine's to write


def test_no_content_type_no_line() -> None:
    e = entry_for(_txn(), _served(ctype=None), "/a.html", 0)
    assert e is not None and e.tail == b"" and e.ctype is None


def test_max_ranges_none_and_delivery() -> None:
    dc = DirConfig(max_ranges=0, enable_sendfile=False, enable_mmap=False)
    e = entry_for(_txn(), _served(dc), "/a.html", 0)
    assert e is not None and b"Accept-Ranges: none\r\n" in e.head
    assert e.strategy == "readwrite"
    assert entry_for(_txn(), _served(DirConfig(enable_sendfile=True)), "/a", 0).strategy == "sendfile"


@pytest.mark.parametrize("change", [
    {"enc": "gzip"}, {"tag": 'W/"a-b"'}, {"tag": None}, {"size": 0},
    {"dc": _authz(RequireGroup("any", (Require("forward-dns", ("example.com",)),)))},
])
def test_not_cacheable(change: dict[str, object]) -> None:
    assert entry_for(_txn(), _served(**change), "/a.html", 0) is None


def test_require_host_is_a_host_leaf_of_the_peer_rule() -> None:
    """`Require host`: cached, the engine's host leaf reads the connection's confirmed name
    (a connection with none goes to the full path, which looks it up)."""
    e = entry_for(_txn(), _served(_authz(RequireGroup("any", (Require("host", ("example.com",)),)))),
                  "/a.html", 0)
    assert e is not None and e.peer_rule == b"Y\x01L\x00h\x01\x0bexample.com"


def test_hostname_lookups_on_waits_for_the_connections_lookup() -> None:
    """HostnameLookups On: an entry the engine serves only where the name was looked up
    (host_need), which no fixed answer or Off scope asks for."""
    e = entry_for(_txn(), _served(DirConfig(hostname_lookups="on")), "/a.html", 0)
    assert e is not None and e.host_need == 1
    assert entry_for(_txn(), _served(DirConfig(hostname_lookups="off")), "/a.html", 0).host_need == 0
    e = entry_for(_txn(), _served(DirConfig(hostname_lookups="double")), "/a.html", 0)
    assert e is not None and e.host_need == 2  # Double: only once the name is confirmed


def test_static_require_is_cacheable() -> None:
    dc = _authz(RequireGroup("any", (Require("all", ("granted",)),)))
    assert entry_for(_txn(), _served(dc), "/a.html", 0) is not None


def test_target_form_and_transaction_verdict() -> None:
    assert entry_for(_txn(), _served(), "http://h/a.html", 0) is None
    txn = _txn()
    txn.cacheable = False  # e.g. a negotiated or ErrorDocument answer
    assert entry_for(txn, _served(), "/a.html", 0) is None


def test_require_ip_is_cacheable_with_a_rule_each_hit_evaluates() -> None:
    """Issue 12: a Require tree of ip lines gives the entry a peer rule (the engine's
    program) instead of keeping it out; the rule grants exactly whom the tree grants."""
    from fastcore._pure.ipmatch import peer_granted

    dc = _authz(RequireGroup("any", (Require("ip", ("10.0.0.1", "127.0")),)))
    e = entry_for(_txn(), _served(dc), "/a.html", 0)
    assert e is not None and e.peer_rule and e.engine_log_set == 0
    assert [peer_granted(e.peer_rule, a) for a in (b"10.0.0.1", b"127.0.9.9", b"10.0.0.2")] \
        == [True, True, False]
    # authz_core's debug lines (AH01626) are per request: the full path must write them
    assert entry_for(_txn("debug"), _served(dc), "/a.html", 0) is None
    assert entry_for(_txn(), _served(), "/a.html", 0).peer_rule == b""  # type: ignore[union-attr]


def test_produced_by_every_walk_counts() -> None:
    txn = _txn()
    produced_by(txn, True, DirConfig())
    assert txn.cacheable
    produced_by(txn, True, _authz(RequireGroup("any", (Require("local"),))))
    assert not txn.cacheable  # the directory's Require, before its DirectoryIndex file
    txn = _txn()
    produced_by(txn, False, DirConfig())  # a walk that read .htaccess
    assert not txn.cacheable
