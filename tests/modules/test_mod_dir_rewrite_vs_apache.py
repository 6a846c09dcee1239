"""mod_dir's DirectoryIndex sub-request runs mod_rewrite's server rules (as Apache's
ap_sub_req_lookup_uri runs translate_name), against real Apache, with the files the
rewritten index names point to created and removed between requests: each answer (the
later ones possibly from fastcore's caches) must follow the tree as Apache's does."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from support.apache_oracle import ApacheOracle
from support.wire import answer_fields, raw_request

MODULES = ("mpm_prefork", "authz_core", "mime", "dir", "rewrite")
SITE = r"""DocumentRoot "{doc}"
<Directory "{doc}">
    Require all granted
    Options FollowSymLinks
</Directory>
<Directory "{doc}/two">
    DirectoryIndex index.html index.txt
</Directory>
RewriteEngine On
RewriteRule ^/two/index\.html$ /elsewhere/first.html [L]
RewriteRule ^/one/index\.html$ /elsewhere/only.html [L]
RewriteRule ^/ns/index\.html$ /elsewhere/only.html [NS]
"""


def _run(tmp: Path, fastcore: bool) -> list[tuple[int, bytes]]:
    run = tmp / ("fc" if fastcore else "ap")
    doc = run / "doc"
    for d in ("two", "one", "ns", "elsewhere"):
        (doc / d).mkdir(parents=True)
    (doc / "two" / "index.txt").write_text("two/index.txt\n")
    (doc / "ns" / "index.html").write_text("ns/index.html\n")
    first = doc / "elsewhere" / "first.html"
    only = doc / "elsewhere" / "only.html"
    steps: list[tuple[Callable[[], None] | None, str]] = [
        (None, "/two/"), (None, "/one/"), (None, "/ns/"),
        (lambda: first.write_text("first\n"), "/two/"),
        (lambda: only.write_text("only\n"), "/one/"),
        (None, "/ns/"),
        (lambda: os.unlink(first), "/two/"),
        (lambda: os.unlink(only), "/one/"),
    ]
    got = []
    with ApacheOracle(str(run), SITE.format(doc=doc), modules=MODULES,
                      fastcore=fastcore) as srv:
        for change, target in steps:
            if change is not None:
                change()
            for _ in range(3):
                line, _f, body = answer_fields(raw_request(
                    srv.port, f"GET {target} HTTP/1.1\r\nHost: x\r\n"
                    "Connection: close\r\n\r\n".encode()))
                got.append((int(line.split()[1]), body if line.startswith("HTTP/1.1 200")
                            else b""))
    return got


def test_index_names_through_rewrite_rules_follow_the_tree(tmp_path: Path) -> None:
    ap = _run(tmp_path, False)
    # not vacuous: Apache rewrote the index names (a later name, a 404, the new file)
    assert ap[0] == (200, b"two/index.txt\n") and ap[3] == (404, b"")
    assert ap[9] == (200, b"first\n") and ap[12] == (200, b"only\n")
    assert ap[6] == (200, b"ns/index.html\n")  # [NS]: the sub-request skips the rule
    assert _run(tmp_path, True) == ap
