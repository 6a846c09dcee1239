"""Behaviour between modules that real Apache 2.4.71 shows and fastcore must too (each
verified against the oracle; the differential test compares them with Apache as well):
encodings in the client's spelling, type-map variants behind their own access checks,
Expires on HTTP/1.0 type-map answers, negotiation with path info, Refresh on
/server-status, listings without refused symlinks and .ht* files, IndexOptions
TrackModified and CONNECT without a proxy (these two compared with a live Apache)."""
from __future__ import annotations

import os

import pytest
from support.apache_oracle import ApacheOracle
from support.inprocess import FastcoreThread
from support.ports import free_port
from support.wire import parse_responses, raw_request


def _w(path: str, data: bytes | str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


OLD = 1_700_000_000  # a fixed past mtime: strong ETags on both servers


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> ApacheOracle:
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
    _w(f"{d}/t/a.txt", "a\n")
    _w(f"{d}/tn/a.txt", "a\n")
    for sub in ("t", "tn"):
        os.utime(f"{d}/{sub}", (OLD, OLD))
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
<Directory "{d}/t">
    Options Indexes
    IndexOptions TrackModified
</Directory>
<Directory "{d}/tn">
    Options Indexes
    IndexOptions FancyIndexing TrackModified
    FileETag None
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
    return conf


@pytest.fixture(scope="module")
def server(site: ApacheOracle):
    srv = FastcoreThread(site.conf_path)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def apache(site: ApacheOracle):
    with site:
        yield site


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
    from fastcore.core.errors import server_banner
    assert server_banner("full").startswith(f"{fastcore.SERVER_SOFTWARE}/")
    assert f"ServerVersion: {server_banner('full')}".encode() in body
    assert get(server, "/server-status?refresh=0")[1]["refresh"] == "10"
    assert "refresh" not in get(server, "/server-status?auto")[1]


def _both(server, apache, raw: str, skip: tuple[str, ...] = ()
          ) -> list[tuple[int, dict[str, str], bytes]]:
    """The same bytes to fastcore and Apache: fastcore's answers, once equal to Apache's
    with Date/Server (and `skip`) left out and Allow compared as a set (Apache's order
    comes from a hash table and changes between runs)."""
    out = []
    drop = ("date", "server") + skip
    for port in (server.port, apache.port):
        got = parse_responses(raw_request(port, raw.encode()),
                              head_request=raw.startswith("HEAD"))
        out.append([(st, {k: v for k, v in h.items() if k not in drop}, b)
                    for st, h, b in got])

    def canon(rs: list) -> list:
        return [(st, {k: (",".join(sorted(v.split(","))) if k == "allow" else v)
                      for k, v in h.items()}, b) for st, h, b in rs]
    assert canon(out[0]) == canon(out[1])
    return out[0]


def test_track_modified_listing_validators_match_apache(server, apache) -> None:
    req = "GET /t/ HTTP/1.1\r\nHost: localhost\r\n{}Connection: close\r\n\r\n"
    [(st, h, body)] = _both(server, apache, req.format(""))
    assert st == 200 and b'href="a.txt"' in body
    assert h["last-modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    size = os.stat(os.path.join(os.path.dirname(apache.tmpdir), "htdocs", "t")).st_size
    assert h["etag"] == f'"{size:x}-{OLD * 10**6:x}"'  # the directory's size and mtime
    lm, tag = h["last-modified"], h["etag"]
    # Apache sets the validators but evaluates no condition on a listing: always 200
    for cond in (f"If-Modified-Since: {lm}\r\n", f"If-None-Match: {tag}\r\n",
                 "If-None-Match: *\r\n", 'If-Match: "nope"\r\n'):
        [(st2, h2, body2)] = _both(server, apache, req.format(cond))
        assert (st2, h2, body2) == (200, h, body)
    [(st3, h3, _)] = _both(server, apache, "HEAD /t/ HTTP/1.1\r\nHost: localhost\r\n"
                                           f"If-None-Match: {tag}\r\nConnection: close\r\n\r\n")
    assert st3 == 200 and h3["etag"] == tag
    # FileETag None: Last-Modified alone (fancy listing: same bytes on both servers)
    [(st4, h4, _)] = _both(server, apache, req.replace("/t/", "/tn/").format(""))
    assert st4 == 200 and "etag" not in h4 and h4["last-modified"] == lm
    # no TrackModified: no validators on a listing
    assert "last-modified" not in get(server, "/l/")[1]


@pytest.mark.parametrize("line,status", [
    ("CONNECT localhost:80 HTTP/1.1", 405), ("CONNECT localhost:80 HTTP/1.0", 405),
    ("CONNECT [::1]:443 HTTP/1.1", 405), ("CONNECT :80 HTTP/1.1", 405),
    ("CONNECT localhost HTTP/1.1", 400), ("CONNECT /x HTTP/1.1", 400),
    ("CONNECT localhost:abc HTTP/1.1", 400), ("CONNECT a..b:80 HTTP/1.1", 400),
    ("CONNECT http://localhost/ HTTP/1.1", 400), ("GET localhost:80 HTTP/1.1", 400),
    ("DELETE / HTTP/1.1", 405), ("DELETE /l/ HTTP/1.1", 405),
])
def test_connect_without_proxy_matches_apache(server, apache, line, status) -> None:
    raw = f"{line}\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    [(st, h, body)] = _both(server, apache, raw)
    assert st == status
    if status == 405:
        assert h["allow"] == "GET,POST,OPTIONS,HEAD,TRACE"
        assert b"The requested method " + line.split()[0].encode() in body


def test_connect_405_keeps_the_connection(server, apache) -> None:
    raw = ("CONNECT localhost:80 HTTP/1.1\r\nHost: localhost\r\n\r\n"
           "GET /l/a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    # Keep-Alive and Connection compared too: no keep-alive token, so neither on the 405
    got = _both(server, apache, raw)
    assert [st for st, _, _ in got] == [405, 200]
    # HTTP/1.1 without Host is still 400, even though the target names a host
    assert _both(server, apache, "CONNECT localhost:80 HTTP/1.1\r\n\r\n")[0][0] == 400


KA_CONFS = {"max3": "MaxKeepAliveRequests 3\nKeepAliveTimeout 7",
            "unlimited": "MaxKeepAliveRequests 0", "off": "KeepAlive Off"}


@pytest.fixture(scope="module", params=list(KA_CONFS))
def ka_pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """fastcore and Apache on one site with the KeepAlive settings named by the param."""
    root = str(tmp_path_factory.mktemp("ka"))
    _w(f"{root}/htdocs/a.txt", "a\n")
    body = f'DocumentRoot "{root}/htdocs"\nAddType text/plain .txt\n{KA_CONFS[request.param]}\n'
    conf = ApacheOracle(os.path.join(root, "run"), body, port=free_port())
    os.makedirs(conf.tmpdir)
    with open(conf.conf_path, "w") as f:
        f.write(conf.config_text())
    srv = FastcoreThread(conf.conf_path)
    try:
        with conf:
            yield request.param, srv, conf
    finally:
        srv.stop()


@pytest.mark.parametrize("first", [
    "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
    "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: x-foo, Keep-Alive\r\n\r\n",
    "GET /a.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    "GET /a.txt HTTP/1.0\r\n\r\n",
    "GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
])
def test_keepalive_headers_match_apache(ka_pair, first: str) -> None:
    """Apache's ka_sent rule, byte for byte on every pipelined answer: Keep-Alive and
    Connection: Keep-Alive only when the request listed keep-alive; timeout=N alone with
    MaxKeepAliveRequests 0; max=1 is still kept and the next answer says close."""
    name, srv, apache = ka_pair
    raw = first * 4 + "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    got = _both(srv, apache, raw)
    ka = [h.get("keep-alive") for _, h, _ in got]
    conn = [h.get("connection") for _, h, _ in got]
    token = "eep-alive" in first.lower()
    if name == "off" or first.endswith("HTTP/1.0\r\n\r\n"):
        assert (ka, conn) == ([None], ["close"])
    elif name == "unlimited":
        assert ka == (["timeout=5"] * 4 + [None] if token else [None] * 5)
        assert conn == (["Keep-Alive"] * 4 if token else [None] * 4) + [None]
    else:
        assert ka == (["timeout=7, max=3", "timeout=7, max=2", "timeout=7, max=1", None]
                      if token else [None] * 4)
        assert conn == (["Keep-Alive"] * 3 if token else [None] * 3) + ["close"]
