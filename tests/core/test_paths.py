"""A request's path keeps its bytes: percent-decoding, escaping and logging of names
that are UTF-8, not UTF-8, or escaped in either case."""
from __future__ import annotations

import os

import pytest

from fastcore.core.mapping import decode_path
from fastcore.core.paths import escape_uri, fs_to_wire, to_bytes, unescape_path
from fastcore.core.request import HttpError, parse_head
from fastcore.modules.mod_alias import Redirect, apply_redirects
from fastcore.modules.mod_log_config import escape_path


def wire(raw: bytes) -> str:
    """The request target as the scanner hands it over (one code point per byte)."""
    return parse_head(b"GET " + raw + b" HTTP/1.1\r\nHost: h\r\n\r\n").path_raw


@pytest.mark.parametrize("raw,name", [
    (b"/%c3%bc.txt", "ü.txt".encode()),
    (b"/%C3%BC.txt", "ü.txt".encode()),
    (b"/\xc3\xbc.txt", "ü.txt".encode()),        # raw UTF-8 in the request line
    (b"/%ff%fe.txt", b"\xff\xfe.txt"),            # not UTF-8 at all
    (b"/\xff\xfe.txt", b"\xff\xfe.txt"),
    (b"/%c3.txt", b"\xc3.txt"),                   # a cut UTF-8 sequence
    (b"/a%20b/%e2%82%ac", "a b/€".encode()),
])
def test_decoded_path_is_the_bytes_that_were_sent(raw: bytes, name: bytes) -> None:
    uri = decode_path(wire(raw))
    assert to_bytes(uri) == b"/" + name  # what os.stat/open will be given


def test_every_byte_survives_decoding() -> None:
    raw = bytes(range(1, 256)).replace(b"/", b"")
    escaped = "/" + "".join(f"%{b:02x}" for b in raw)
    assert to_bytes(decode_path(escaped, "on")) == b"/" + raw
    # and back: ap_escape_uri of the decoded path decodes to the same bytes again
    assert to_bytes(decode_path(escape_uri(decode_path(escaped)))) == b"/" + raw


@pytest.mark.parametrize("raw,status", [(b"/%zz", 400), (b"/%00", 404), (b"/a%2fb", 404)])
def test_bad_escapes_keep_apaches_statuses(raw: bytes, status: int) -> None:
    with pytest.raises(HttpError) as e:
        decode_path(wire(raw))
    assert e.value.status == status


def test_escape_uri_as_ap_escape_uri() -> None:
    # measured on Apache 2.4 (DirectorySlash Location, autoindex hrefs): lower-case hex
    assert escape_uri(os.fsdecode(b"/d\xc3\xafr")) == "/d%c3%afr"
    assert escape_uri(os.fsdecode(b"/d\xff")) == "/d%ff"
    assert escape_uri("/a b#c?d%e;f=g") == "/a%20b%23c%3fd%25e;f=g"


def test_encoded_nodecode_slash_is_kept() -> None:
    assert unescape_path("/a%2Fb%c3%bc", "nodecode") == ("/a%2Fbü", False)


def test_redirect_location_escapes_the_rest_and_keeps_the_query() -> None:
    rd = Redirect(url_prefix="/r/", target="http://x/ü/", status=302)
    req = parse_head(b"GET /r/%c3%bc%ff?q=\xc3\xbc HTTP/1.1\r\nHost: h\r\n\r\n")
    status, loc = apply_redirects((rd,), decode_path(req.path_raw), req.query)
    assert status == 302
    # the config's own bytes, then ap_os_escape_path of the rest, the query as sent
    assert loc.encode("latin-1") == "http://x/ü/".encode() + b"%c3%bc%ff?q=\xc3\xbc"
    assert fs_to_wire("ü").encode("latin-1") == "ü".encode()


def test_log_escapes_the_paths_bytes() -> None:
    assert escape_path(os.fsdecode(b"/\xc3\xbc\xff")) == "/\\xc3\\xbc\\xff"
    assert escape_path("/plain") == "/plain"
    assert escape_path('/a"b\\c\nd') == '/a\\"b\\\\c\\nd'  # ASCII that needs escaping
