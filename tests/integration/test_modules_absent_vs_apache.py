"""A module acts only when LoadModule names it, as in Apache: the same static site with
mod_authz_core, mod_mime, mod_dir, mod_autoindex, mod_negotiation and mod_status each
left out, through real Apache 2.4 and fastcore, every answer compared (asked twice: a
cached answer must agree too)."""
from __future__ import annotations

import os

import pytest
from support.apache_oracle import both_answers

FULL = ("mpm_event", "authz_core", "mime", "dir", "autoindex", "negotiation", "status")
SITE = """DocumentRoot "{www}"
<Directory "{www}">
  Options Indexes MultiViews
</Directory>
<Location "/server-status">
  SetHandler server-status
</Location>
"""
CASES = [("GET", p, "") for p in ("/a.txt", "/b.html", "/b", "/sub", "/sub/", "/list/",
                                  "/server-status?auto")]
STATUS = len(CASES) - 1  # its body differs (times, versions): compared by status and type


@pytest.mark.parametrize("without", ["authz_core", "mime", "dir", "autoindex",
                                     "negotiation", "status", "all"])
def test_a_module_not_loaded_does_not_act(tmp_path, without: str) -> None:
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    (www / "list").mkdir()
    (www / "a.txt").write_text("a\n")
    (www / "b.html").write_text("<p>b</p>\n")
    (www / "sub" / "index.html").write_text("<p>index</p>\n")
    (www / "list" / "x.txt").write_text("x\n")
    for f in (www, *www.rglob("*")):
        os.utime(f, (1_600_000_000, 1_600_000_000))  # not this second: strong ETags
    modules = ("mpm_event",) if without == "all" else tuple(m for m in FULL if m != without)
    site = SITE.replace("{www}", str(www))
    got = both_answers(str(tmp_path), site, modules, CASES, host="localhost")
    for i, (mine, apache) in enumerate(zip(got[True], got[False], strict=True)):
        if i % len(CASES) == STATUS and apache[0].endswith("200 OK"):
            assert mine[0] == apache[0] and dict(mine[1])["Content-Type"] == \
                dict(apache[1])["Content-Type"]
        else:
            assert mine == apache, CASES[i % len(CASES)]
    statuses = [a[0].split()[1] for a in got[False]]
    if without == "all" or without == "authz_core":
        assert set(statuses) == {"500"}  # AH00025: nothing decides access
    elif without == "mime":
        assert statuses[0] == "200" and not any(k == "Content-Type" for k, _ in got[False][0][1])
    elif without == "dir":
        assert statuses[3] != "301"  # no DirectorySlash redirect
