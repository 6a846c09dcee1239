"""Options Indexes without an index file: the plain listing, byte for byte as Apache's."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from apache_oracle import ApacheOracle, parse_responses, raw_request  # noqa: E402

from fastcore.config.model import DirConfig  # noqa: E402
from fastcore.http.autoindex import CONTENT_TYPE, render  # noqa: E402

CONF = """
TypesConfig /etc/mime.types
DocumentRoot "{root}"
<Directory "{root}">
  Options Indexes
  AllowOverride None
  Require all granted
</Directory>
<Directory "{root}/fsl">
  Options Indexes FollowSymLinks
</Directory>
<Directory "{root}/sub">
  IndexOptions FancyIndexing
</Directory>
<Directory "{root}/sub/deeper">
  IndexOptions +HTMLTable +FoldersFirst NameWidth=*
</Directory>
<Directory "{root}/ign">
  IndexIgnore *.bak .??* README
</Directory>
<Files ".ht*">
  Require all denied
</Files>
"""

NAMES = ["a b&<x>.txt", 'q"uote\'s', "col:on.txt", "sp%ace#h?.txt", "file9", "file10",
         "File1", ".hidden", ".htaccess", ".htpasswd", "zeta.html", "ünï.txt", "c;x", "c=x",
         "tab\there", "back\\slash", "[brackets]", "{curly}", "~tilde", "pipe|x", "caret^x"]

QUERIES = [None, "C=N;O=D", "O=D", "C=M&O=A", "C=S;O=D", "C=D", "V=1", "V=1;O=D", "P=*.txt",
           "P=f*", "P=%2A.html", "P=", "P=%zz", "X=1&O=D", "O=X", "C=N;O=D;P=*.txt",
           "F=0", "F=0&O=D", "P=[a-f]*", "F=1", "F=2", "F=1&C=M;O=D", "F=1;C=S;O=D",
           "F=2;C=S;O=A", "F=2;C=D;O=D", "F=1&V=1&P=*.txt", "C=S;O=D;F=2;P=f%2A"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("airoot")
    for n in NAMES:
        (root / n).write_text("x")
    (root / "big.bin").write_bytes(b"\0" * 7000)
    with open(root / "sparse.img", "wb") as f:
        f.truncate(5 * 1048576 + 123)
    os.utime(root / "file9", (1709647620, 1709647620))
    for sub in ("sub", "sub/deeper", "ign", "empty", "fsl"):
        (root / sub).mkdir()
    for sub in ("sub", "sub/deeper"):
        for n in ("zz-dir", "a-file-with-a-rather-long-name.txt", "b"):
            if n.endswith("dir"):
                (root / sub / n).mkdir()
            else:
                (root / sub / n).write_text("content " * len(n))
    os.symlink("../zeta.html", root / "fsl" / "to-zeta")
    os.symlink("../sub", root / "fsl" / "to-sub")
    os.symlink("/nonexistent", root / "fsl" / "broken")
    for n in ("keep.txt", "old.bak", ".secret", "README", "ab"):
        (root / "ign" / n).write_text("y")
    os.symlink("/nonexistent/x", root / "dangling")
    os.symlink("zeta.html", root / "link-to-zeta")
    os.symlink("sub", root / "link-to-sub")
    run = tmp_path_factory.mktemp("airun")
    with ApacheOracle(str(run), CONF.format(root=root)) as ap:
        yield str(root), ap


def apache(ap: ApacheOracle, target: str) -> tuple[int, dict, bytes]:
    raw = raw_request(ap.port, f"GET {target} HTTP/1.1\r\nHost: localhost\r\n"
                               "Connection: close\r\n\r\n".encode())
    return parse_responses(raw)[0]


def allowed_for(sub: str):
    """What Apache's per-entry sub-request allows here: .ht* files are denied, and
    symlinks only count where FollowSymLinks is on (fsl/)."""
    def allowed(path: str) -> bool:
        if os.path.basename(path).startswith(".ht"):
            return False
        return sub == "fsl/" or not os.path.islink(path)
    return allowed


@pytest.mark.parametrize("query", QUERIES, ids=[str(q) for q in QUERIES])
@pytest.mark.parametrize("sub", ["", "sub/", "sub/deeper/", "ign/", "empty/", "fsl/"])
def test_listing_matches_apache(site, sub: str, query: str | None) -> None:
    root, ap = site
    uri = "/" + sub
    target = uri + (f"?{query}" if query is not None else "")
    code, hdrs, body = apache(ap, target)
    assert code == 200
    assert hdrs["content-type"] == CONTENT_TYPE
    dc = {
        "ign/": DirConfig(autoindex={"index_ignore": (("*.bak", ".??*", "README"),)}),
        "sub/": DirConfig(autoindex={"index_options": (("FancyIndexing",),)}),
        "sub/deeper/": DirConfig(autoindex={"index_options": (
            ("FancyIndexing",), ("+HTMLTable", "+FoldersFirst", "NameWidth=*"))}),
    }.get(sub, DirConfig())
    mine = render(os.path.join(root, sub), uri, query, dc, allowed=allowed_for(sub))
    assert mine == body
