"""The listing cache (mod_autoindex/cache.py) against real Apache: the filesystem or a
.htaccess changes between two listings of one directory, and the second listing (in
every sort order and format) is Apache's, byte for byte.  fastcore is asked twice per
step, so the second answer is the cached one when the listing is cacheable."""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.apache_oracle import ApacheOracle
from support.wire import parse_responses, raw_request

CONF = """
Include /etc/apache2/mods-available/mime.conf
Include /etc/apache2/mods-available/autoindex.conf
DocumentRoot "{root}"
<Directory "{root}">
  Options Indexes
  AllowOverride All
  Require all granted
</Directory>
"""

QUERIES = ["", "?C=M;O=D", "?C=M;O=A", "?C=S;O=D", "?C=N;O=D", "?C=D;O=A", "?F=0",
           "?F=1;V=0", "?P=f*"]
T0 = 1709647620


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[ApacheOracle, object, Path]]:
    from support.inprocess import FastcoreThread
    root = tmp_path_factory.mktemp("cacheroot")
    (root / "d").mkdir()
    run, fcrun = tmp_path_factory.mktemp("cacherun"), tmp_path_factory.mktemp("cachefc")
    body = CONF.format(root=root)
    with ApacheOracle(str(run), body) as ap:
        fc_conf = ApacheOracle(str(fcrun), body, port=0)
        with open(fc_conf.conf_path, "w") as f:
            f.write(fc_conf.config_text().replace("Listen 127.0.0.1:0", "Listen 127.0.0.1:80"))
        server = FastcoreThread(fc_conf.conf_path)
        try:
            yield ap, server, root
        finally:
            server.stop()


def get(srv: object, target: str) -> tuple[int, bytes]:
    port = srv.port  # type: ignore[attr-defined]
    raw = raw_request(port, f"GET {target} HTTP/1.1\r\nHost: localhost\r\n"
                            "Connection: close\r\n\r\n".encode())
    code, _hdrs, body = parse_responses(raw)[0]
    return code, body


def fill(d: Path) -> None:
    for p in d.iterdir():
        p.unlink()
    for k in range(1, 40):
        p = d / f"file{k}.txt"
        p.write_text("x" * (k * 97))
        os.utime(p, (T0 + k * 3600, T0 + k * 3600))
    (d / "page.html").write_text("<p>hi</p>")
    (d / "arch.tar.gz").write_bytes(b"\0" * 5000)


def same_as_apache(ap: ApacheOracle, fc: object, path: str) -> list[bytes]:
    """Every query's listing, fastcore twice, each equal to Apache's; Apache's bodies."""
    bodies = []
    for q in QUERIES:
        a_code, a_body = get(ap, path + q)
        assert a_code == 200
        for _ in range(2):
            assert get(fc, path + q) == (a_code, a_body), q
        bodies.append(a_body)
    return bodies


def _add(d: Path) -> None:
    (d / "new-file.txt").write_text("new")


def _remove(d: Path) -> None:
    (d / "file7.txt").unlink()


def _touch(d: Path) -> None:
    os.utime(d / "file3.txt", (T0 + 90 * 86400, T0 + 90 * 86400))


def _grow(d: Path) -> None:
    st = os.stat(d / "file5.txt")
    with open(d / "file5.txt", "a") as f:
        f.write("y" * 300000)
    os.utime(d / "file5.txt", ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime, new size


def _rename(d: Path) -> None:
    os.rename(d / "file9.txt", d / "zz-renamed.txt")


def _readme(d: Path) -> None:
    (d / "README.html").write_text("<p>read me</p>\n")


def _header(d: Path) -> None:
    (d / "HEADER.html").write_text("<h2>head</h2>\n")


def _subdir(d: Path) -> None:
    (d / "sub").mkdir()


def _replace_same(d: Path) -> None:
    """A file replaced by another of the same size and mtime (a new inode)."""
    st = os.stat(d / "file2.txt")
    (d / "tmp").write_text("z" * st.st_size)
    os.utime(d / "tmp", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(d / "tmp", d / "file2.txt")


CHANGES: dict[str, Callable[[Path], None]] = {
    "add": _add, "remove": _remove, "touch": _touch, "grow-same-mtime": _grow,
    "rename": _rename, "readme": _readme, "header": _header, "subdir": _subdir,
    "replace-same": _replace_same,
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_change_between_listings(servers, change: str) -> None:
    ap, fc, root = servers
    d = root / "d"
    if (d / "sub").exists():
        (d / "sub").rmdir()
    fill(d)
    before = same_as_apache(ap, fc, "/d/")
    CHANGES[change](d)
    after = same_as_apache(ap, fc, "/d/")
    if change != "replace-same":  # the only change a listing does not show
        assert before != after


def test_htaccess_above_changes_listing(servers) -> None:
    """A .htaccess of the parent directory changes the listing's options: the listed
    directory's names and stats are unchanged, the configuration is not."""
    ap, fc, root = servers
    d = root / "d"
    if (d / "sub").exists():
        (d / "sub").rmdir()
    fill(d)
    ht = root / ".htaccess"
    try:
        before = same_as_apache(ap, fc, "/d/")
        ht.write_text("IndexOptions +SuppressSize +SuppressLastModified\n")
        after = same_as_apache(ap, fc, "/d/")
        assert before != after and b"Last modified" not in after[0]
        ht.unlink()
        assert same_as_apache(ap, fc, "/d/") == before
    finally:
        if ht.exists():
            ht.unlink()


def product(body: bytes) -> bytes:
    """The body with the signature's product token (Apache/2.4.71 (Debian), fastcore's
    own) left out: the one thing the two servers' signatures differ in."""
    return re.sub(rb"<address>.*? Server at ", b"<address>Server at ", body)


def test_host_changes_signature(servers) -> None:
    """The ServerSignature line names the Host asked for: a cached listing for one
    Host is not another Host's (ServerSignature On, UseCanonicalName Off)."""
    ap, fc, root = servers
    d = root / "d"
    if (d / "sub").exists():
        (d / "sub").rmdir()
    fill(d)
    ht = root / ".htaccess"
    try:
        ht.write_text("ServerSignature On\n")
        for host in ("localhost", "example.test", "localhost"):
            req = (f"GET /d/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").encode()
            a = parse_responses(raw_request(ap.port, req))[0]
            f = parse_responses(raw_request(fc.port, req))[0]  # type: ignore[attr-defined]
            assert (f[0], product(f[2])) == (a[0], product(a[2]))
            assert f"Server at {host} Port 80".encode() in f[2]
    finally:
        ht.unlink()
