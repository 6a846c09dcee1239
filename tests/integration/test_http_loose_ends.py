"""Behaviour between modules that real Apache 2.4.71 shows and fastcore must too (each
verified against the oracle; the differential test compares them with Apache as well):
encodings in the client's spelling, type-map variants behind their own access checks,
Expires on HTTP/1.0 type-map answers, negotiation with path info, Refresh on
/server-status, listings without refused symlinks and .ht* files."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from apache_oracle import ApacheOracle, free_port, parse_responses, raw_request  # noqa: E402
from test_differential_apache import FastcoreThread  # noqa: E402


def _w(path: str, data: bytes | str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = str(tmp_path_factory.mktemp("loose"))
    d = f"{root}/htdocs"
    _w(f"{d}/z/a.txt.gz", b"\x1f\x8bgz")
    _w(f"{d}/tm/v.en.html", "en\n")
    _w(f"{d}/tm/v.de.html", "de\n")
    _w(f"{d}/tm/v.var", "URI: v.en.html\nContent-Type: text/html\nContent-Language: en\n\n"
                        "URI: v.de.html\nContent-Type: text/html\nContent-Language: de\n")
    _w(f"{d}/l/a.txt", "a\n")
    _w(f"{d}/l/.htpasswd", "x\n")
    os.symlink("a.txt", f"{d}/l/link.txt")
    body = f"""DocumentRoot "{d}"
AddEncoding x-gzip .gz
AddType text/plain .txt
AddHandler type-map .var
AddLanguage en .en
AddLanguage de .de
<Directory />
    AllowOverride None
</Directory>
<Directory "{d}/z">
    Options +MultiViews
</Directory>
<Directory "{d}/l">
    Options Indexes
</Directory>
<Files "v.en.html">
    Require all denied
</Files>
<Files ".ht*">
    Require all denied
</Files>
<Location /server-status>
    SetHandler server-status
</Location>
"""
    conf = ApacheOracle(os.path.join(root, "run"), body, port=free_port())
    os.makedirs(conf.tmpdir)
    with open(conf.conf_path, "w") as f:
        f.write(conf.config_text())
    srv = FastcoreThread(conf.conf_path)
    yield srv
    srv.stop()


def get(srv: FastcoreThread, path: str, extra: str = "", version: str = "HTTP/1.1"
        ) -> tuple[int, dict[str, str], bytes]:
    host = "Host: localhost\r\n" if version == "HTTP/1.1" else ""
    raw = raw_request(srv.port, f"GET {path} {version}\r\n{host}{extra}Connection: close\r\n\r\n"
                      .encode())
    return parse_responses(raw)[0]


def test_content_encoding_in_the_clients_spelling(server) -> None:
    assert get(server, "/z/a.txt.gz", "Accept-Encoding: gzip\r\n")[1]["content-encoding"] == "gzip"
    assert get(server, "/z/a.txt.gz")[1]["content-encoding"] == "x-gzip"
    st, h, _ = get(server, "/z/a.txt", "Accept-Encoding: gzip\r\n")
    assert st == 200 and h["content-encoding"] == "gzip"
    # the fast path must not replay one client's spelling to another
    assert get(server, "/z/a.txt.gz", "Accept-Encoding: x-gzip\r\n")[1]["content-encoding"] == "x-gzip"


def test_type_map_variant_keeps_its_own_access_control(server) -> None:
    assert get(server, "/tm/v.var", "Accept-Language: en\r\n")[0] == 403
    st, _, body = get(server, "/tm/v.var", "Accept-Language: de\r\n")
    assert st == 200 and body == b"de\n"


def test_type_map_http10_expires_equals_date(server) -> None:
    st, h, _ = get(server, "/tm/v.var", "Accept-Language: de\r\n", version="HTTP/1.0")
    assert st == 200 and h["expires"] == h["date"]
    assert "expires" not in get(server, "/tm/v.var", "Accept-Language: de\r\n")[1]


def test_negotiation_with_path_info_is_404_with_vary(server) -> None:
    st, h, _ = get(server, "/tm/v.var/extra", "Accept-Language: de\r\n")
    assert st == 404 and h["vary"] == "accept-language"
    assert get(server, "/z/a.txt/extra")[0] == 404  # one variant: nothing varies


def test_listing_leaves_out_refused_symlinks_and_ht_files(server) -> None:
    st, h, body = get(server, "/l/")
    assert st == 200 and h["content-type"] == "text/html;charset=ISO-8859-1"
    assert b'href="a.txt"' in body
    assert b"link.txt" not in body and b".htpasswd" not in body


def test_server_status_refresh_and_full_version(server) -> None:
    st, h, body = get(server, "/server-status?auto&refresh=4")
    assert st == 200 and h["refresh"] == "4"
    import fastcore
    from fastcore.http.errors import server_banner
    assert server_banner("full").startswith(f"{fastcore.SERVER_SOFTWARE}/")
    assert f"ServerVersion: {server_banner('full')}".encode() in body
    assert get(server, "/server-status?refresh=0")[1]["refresh"] == "10"
    assert "refresh" not in get(server, "/server-status?auto")[1]
