"""Listings whose entries take the probe's shortcut (mod_autoindex/probe.py) or leave it:
<Files> and .htaccess <Files> denials, Require expr on the entry's URI (no shared grant),
symlinks without FollowSymLinks, sub-directories denied by their own .htaccess, an Alias
over an entry's URI, escaped names, and names the sort keys cannot order (leading zeros,
white space).  Each listing through real Apache and fastcore, bodies compared, twice."""
from __future__ import annotations

import os

import pytest
from support.apache_oracle import ApacheOracle
from support.wire import parse_responses, raw_request

CONF = """
Include /etc/apache2/mods-available/mime.conf
Include /etc/apache2/mods-available/autoindex.conf
DocumentRoot "{root}"
Alias /aliased/over.txt "{root}/elsewhere.html"
<Directory "{root}">
  Options Indexes
  AllowOverride All
  Require all granted
</Directory>
<Directory "{root}/expr">
  Require expr "%{{REQUEST_URI}} !~ m#/hide#"
</Directory>
<Files "deny*">
  Require all denied
</Files>
"""

NAMES = ["file1.txt", "file2.txt", "file10.txt", "file007.txt", "v1.2.10", "v1.2.9",
         "deny-me.txt", "local-deny.txt", "hide-1.txt", "hide.html", "keep.html", "p%41.txt",
         "sp ace.txt", "x.tar.gz", "\u00e9t\u00e9.txt", "over.txt"]
DIRS = ["", "expr/", "aliased/", "lead0/"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    from support.inprocess import FastcoreThread
    root = tmp_path_factory.mktemp("proberoot")
    (root / "elsewhere.html").write_text("<p>x</p>")
    for sub in DIRS:
        d = root / sub
        d.mkdir(exist_ok=True)
        for k, n in enumerate(NAMES):
            (d / n).write_text("x" * k)
            os.utime(d / n, (1709647620 + k, 1709647620 + k))
        (d / "closed").mkdir()
        (d / "closed" / ".htaccess").write_text("Require all denied\n")
        (d / "open").mkdir()
        os.symlink("file1.txt", d / "link.txt")
    (root / ".htaccess").write_text('<Files "local-deny*">\n  Require all denied\n</Files>\n')
    for n in ("a01", "a1", "a001", "a010", "a10", "a2"):
        (root / "lead0" / n).write_text("z")
    run, fcrun = tmp_path_factory.mktemp("proberun"), tmp_path_factory.mktemp("probefc")
    body = CONF.format(root=root)
    with ApacheOracle(str(run), body) as ap:
        fc_conf = ApacheOracle(str(fcrun), body, port=0)
        with open(fc_conf.conf_path, "w") as f:
            f.write(fc_conf.config_text().replace("Listen 127.0.0.1:0", "Listen 127.0.0.1:80"))
        server = FastcoreThread(fc_conf.conf_path)
        try:
            yield ap, server, str(root)
        finally:
            server.stop()


def get(srv: ApacheOracle, target: str) -> tuple[int, dict, bytes]:
    raw = raw_request(srv.port, f"GET {target} HTTP/1.1\r\nHost: localhost\r\n"
                                "Connection: close\r\n\r\n".encode())
    return parse_responses(raw)[0]


@pytest.mark.parametrize("query", [None, "F=0", "C=S;O=D", "C=N;O=D", "V=0"])
@pytest.mark.parametrize("sub", DIRS)
def test_listing_matches_apache(servers, sub: str, query: str | None) -> None:
    ap, fc, _root = servers
    target = "/" + sub + (f"?{query}" if query else "")
    a_code, _a_hdrs, a_body = get(ap, target)
    assert a_code == 200
    for _ in range(2):  # nothing of one listing carries over to the next
        f_code, _f_hdrs, f_body = get(fc, target)
        assert f_code == a_code
        assert f_body.decode("utf-8", "replace").splitlines() == \
            a_body.decode("utf-8", "replace").splitlines()
        assert f_body == a_body


def test_listing_follows_changes(servers) -> None:
    """A .htaccess written between two listings of a directory denies its entry in the
    second listing, and its removal shows the entry again (nothing is kept between
    listings), as in Apache."""
    ap, fc, root = servers
    ht = os.path.join(root, "open", ".htaccess")
    for f in ("file1.txt", "file2.txt"):
        with open(os.path.join(root, "open", f), "w") as fh:
            fh.write("x")
    try:
        for step in ("before", "denied", "removed"):
            if step == "denied":
                with open(ht, "w") as fh:
                    fh.write('<Files "file1*">\n  Require all denied\n</Files>\n')
            elif step == "removed":
                os.unlink(ht)
            a_code, _h, a_body = get(ap, "/open/")
            f_code, _h, f_body = get(fc, "/open/")
            assert (f_code, f_body) == (a_code, a_body) and a_code == 200
            assert (b'href="file1.txt"' in a_body) == (step != "denied")
            assert b'href="file2.txt"' in a_body
    finally:
        if os.path.exists(ht):
            os.unlink(ht)
