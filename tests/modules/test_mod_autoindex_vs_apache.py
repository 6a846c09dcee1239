"""Options Indexes without an index file: the plain listing, byte for byte as Apache's."""
from __future__ import annotations

import os

import pytest
from support.apache_oracle import ApacheOracle
from support.wire import parse_responses, raw_request

from fastcore.config.model import DirConfig  # noqa: E402
from fastcore.modules.mod_autoindex.config import NAME as AI  # noqa: E402
from fastcore.modules.mod_autoindex.config import AutoindexDir  # noqa: E402
from fastcore.modules.mod_autoindex.handler import CONTENT_TYPE, render  # noqa: E402

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
        "ign/": DirConfig(modules={AI: AutoindexDir(
            index_ignore=(("*.bak", ".??*", "README"),))}),
        "sub/": DirConfig(modules={AI: AutoindexDir(index_options=(("FancyIndexing",),))}),
        "sub/deeper/": DirConfig(modules={AI: AutoindexDir(index_options=(
            ("FancyIndexing",), ("+HTMLTable", "+FoldersFirst", "NameWidth=*")))}),
    }.get(sub, DirConfig())
    mine = render(os.path.join(root, sub), uri, query, dc, allowed=allowed_for(sub))
    assert mine == body


# --- Debian's stock autoindex.conf: icons, alt texts, descriptions, VersionSort ---------

DEBIAN_CONF = """
Include /etc/apache2/mods-available/mime.conf
Include /etc/apache2/mods-available/autoindex.conf
DocumentRoot "{root}"
<Directory "{root}">
  Options Indexes FollowSymLinks
  AllowOverride None
  Require all granted
</Directory>
<Directory "{root}/desc">
  # Apache cuts a description in place in its configuration (terminate_description),
  # so one text must not be shown at two widths in a test run: each width has its own
  AddDescription "A <b>text</b> file &amp; more, with a long description" a.txt
  AddDescription "C source" *.c
  AddDescription "the parent" ..
  AddDescription "in a sub directory" sub/*.txt
  AddAlt "Picture" *.png
  AddAltByType "Plain" text/plain
</Directory>
<Directory "{root}/desc/narrow">
  IndexOptions -HTMLTable DescriptionWidth=14 NameWidth=12 +SuppressSize
  AddDescription "Narrow &eacute;tude <i>with</i> a long tail of words" a.txt
</Directory>
<Directory "{root}/desc/unset">
  IndexOptions -HTMLTable -DescriptionWidth +SuppressLastModified
  AddDescription "Unset width: a description long enough to be cut somewhere" a.txt
</Directory>
<Directory "{root}/enc">
  AddEncoding x-gzip .gz
  AddEncoding x-compress .Z
  AddIconByEncoding (ZZ,/icons/z.gif) x-compress
  DefaultIcon /icons/other.gif
</Directory>
<Directory "{root}/xhtml">
  IndexOptions +XHTML +IconsAreLinks +ScanHTMLTitles IconHeight IconWidth=7 +FoldersFirst
  IndexStyleSheet "/style&.css"
  IndexHeadInsert "<meta name=\\"robots\\" content=\\"noindex\\">"
</Directory>
<Directory "{root}/xhtml/alt">
  IndexOptions +AddAltClass
</Directory>
<Directory "{root}/plainopts">
  IndexOptions IgnoreCase VersionSort
</Directory>
<Directory "{root}/forbid">
  IndexOptions +ShowForbidden
</Directory>
<Files ".ht*">
  Require all denied
</Files>
<Files "secret*">
  Require all denied
</Files>
"""

DEB_NAMES = ["README", "a.txt", "b.tar.gz", "pic.png", "song.ogg", "movie.ogm", "x.c",
             "core", "c.Z", "data.bz2", "unknown.qqq", "doc.odt", "z.pdf", "page.html",
             "file1.2", "file1.10", "file1.9a", "File1.3", "script.sh", "t.txt.gz",
             "a-name-that-is-much-longer-than-the-default-width.txt", "v1.0.10", "v1.0.9",
             "x&y<z>.txt", "sp ace.html", "ünï.txt", "prog.py", "img.JPG"]

DEB_DIRS = ["", "desc/", "desc/narrow/", "desc/unset/", "enc/", "xhtml/", "xhtml/alt/",
            "plainopts/", "forbid/"]
DEB_QUERIES = [None, "F=1", "F=2", "F=0", "C=D;O=A", "C=D;O=D;F=1", "C=S;O=D", "C=M;O=A",
               "C=N;O=D;V=0", "P=*.txt;F=1"]


@pytest.fixture(scope="module")
def debian_site(tmp_path_factory: pytest.TempPathFactory):
    from support.inprocess import FastcoreThread
    root = tmp_path_factory.mktemp("debroot")
    when = 1709647620
    for sub in DEB_DIRS:
        d = root / sub
        d.mkdir(parents=True, exist_ok=True)
        for k, n in enumerate(DEB_NAMES):
            (d / n).write_text("x" * (k * 97))
            os.utime(d / n, (when + k * 61, when + k * 61))
        (d / "sub").mkdir(exist_ok=True)
        (d / "sub" / "in.txt").write_text("y")
        (d / "t.html").write_text("<html><head><TITLE>\nMy Page &amp; co</title></head>\n")
        (d / "notitle.html").write_text("<p>no title here</p>")
        (d / "zdir.gz").mkdir(exist_ok=True)
        for p in (d / "sub", d / "zdir.gz", d / "t.html", d / "notitle.html"):
            os.utime(p, (when, when))
    for sub in ("desc/narrow", "desc/unset", "xhtml/alt"):
        os.utime(root / sub, (when, when))
    (root / "xhtml" / ".htaccess").write_text("")
    for d in (root, root / "forbid"):  # denied by <Files "secret*">: listed only in forbid/
        for n in ("secret.txt", "secret.png", "secret-notes.html"):
            (d / n).write_text("hidden")
            os.utime(d / n, (when, when))
    run = tmp_path_factory.mktemp("debrun")
    fcrun = tmp_path_factory.mktemp("debfc")
    body = DEBIAN_CONF.format(root=root)
    with ApacheOracle(str(run), body) as ap:
        fc_conf = ApacheOracle(str(fcrun), body, port=0)
        with open(fc_conf.conf_path, "w") as f:
            f.write(fc_conf.config_text().replace("Listen 127.0.0.1:0", "Listen 127.0.0.1:80"))
        server = FastcoreThread(fc_conf.conf_path)
        try:
            yield ap, server
        finally:
            server.stop()


@pytest.mark.parametrize("query", DEB_QUERIES, ids=[str(q) for q in DEB_QUERIES])
@pytest.mark.parametrize("sub", DEB_DIRS)
def test_debian_stock_config_listing_matches_apache(debian_site, sub: str,
                                                    query: str | None) -> None:
    ap, server = debian_site
    target = "/" + sub + (f"?{query}" if query is not None else "")
    a_code, a_hdrs, a_body = apache(ap, target)
    f_code, f_hdrs, f_body = apache(server, target)  # same raw request to fastcore
    assert a_code == 200
    assert (f_code, f_hdrs.get("content-type")) == (a_code, a_hdrs["content-type"])
    assert a_hdrs["content-type"] == "text/html;charset=UTF-8"
    assert f_body.decode("utf-8", "replace").splitlines() == \
        a_body.decode("utf-8", "replace").splitlines()
    assert f_body == a_body
