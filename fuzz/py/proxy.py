#!/usr/bin/env python3
"""Fuzz target: the PROXY protocol header mod_remoteip reads before a connection's first
request (fastcore/modules/mod_remoteip/proxy.py `parse`, Python only, v1 and v2).  Any
bytes, whole or cut at a fuzzed point: NEED_MORE, DONE with a client address of address
characters only, a port in 0-65535 and a length inside the bytes, or ERROR;
a header that parses from a prefix parses the same once the rest is there."""
from __future__ import annotations

try:
    import _common
except ImportError:
    from . import _common

with _common.instrument(__name__):
    from fastcore.modules.mod_remoteip.proxy import DONE, ERROR, NEED_MORE, parse

PEER = ("127.0.0.1", 40000)
ADDRESS_CHARS = set("0123456789abcdefABCDEF:.")


def _check(buf: bytes) -> tuple:
    got = parse(buf, PEER)
    if got.state == DONE:
        # the address as the header wrote it (Apache keeps the text: "0.0.1" passes its
        # numeric-host check and is logged as given), never anything but address bytes
        if not got.client_ip or set(got.client_ip) - ADDRESS_CHARS:
            raise AssertionError(f"client address {got.client_ip!r}")
        if not 0 <= got.client_port <= 65535:
            raise AssertionError(f"port {got.client_port}")
        if not 0 <= got.consumed <= len(buf):
            raise AssertionError(f"consumed {got.consumed} of {len(buf)}")
    elif got.state not in (NEED_MORE, ERROR):
        raise AssertionError(f"state {got.state}")
    return got.state, got.client_ip, got.client_port, got.consumed


def test_one_input(data: bytes) -> None:
    if not data:
        return
    head = data[1:]
    if data[0] & 1:  # aim at v1 and v2 more often than at random bytes
        head = (b"PROXY " if data[0] & 2 else b"\r\n\r\n\x00\r\nQUIT\n") + head
    whole = _check(head)
    cut = data[0] % (len(head) + 1)
    part = _check(head[:cut])
    if part[0] == DONE and whole != part:
        raise AssertionError(f"a prefix parsed {part}, the whole {whole}")


if __name__ == "__main__":
    _common.main(test_one_input)
