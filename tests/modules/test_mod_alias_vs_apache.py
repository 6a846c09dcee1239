"""mod_alias against real Apache 2.4: Alias and AliasMatch into a tree outside the
DocumentRoot (granted and not), the aliased directory's slash redirect and index,
Redirect with each status form and with query strings, RedirectMatch, RedirectPermanent,
RedirectTemp, Redirect inside <Location> and <Directory> of an aliased tree, a Redirect
and an Alias on the same prefix, and ScriptAlias (also ScriptAliasMatch and the
one-argument form in <Location>) without a CGI module (the file is
served as it is).  The same httpd.conf is served by apache2 and by fastcore, each case
asked twice (support.apache_oracle.both_answers) so a cached answer is compared too.

The rewrite suite's tests/modules/data/rwsuite/09_alias.txt (run by
test_mod_rewrite_suite_vs_apache.py) covers many more forms (every Redirect status word,
$N in AliasMatch, one-argument forms in <Location>/<LocationMatch>, the order against
mod_rewrite, .htaccess Redirects); this file does not repeat them."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support.apache_oracle import APACHE, MODDIR, both_answers

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias")
FILES = {
    "www/index.html": "<p>docroot</p>\n",
    "ext/pics/a.txt": "pic a\n",
    "ext/pics/index.html": "<p>pics</p>\n",
    "ext/pics/sub/b.txt": "pic b\n",
    "ext/cgi/script.sh": "#!/bin/sh\necho hi\n",
    "closed/c.txt": "closed\n",
}
SITE = """
DocumentRoot "{root}/www"
<Directory />
  Require all denied
</Directory>
<Directory "{root}/www">
  Require all granted
</Directory>
<Directory "{root}/ext">
  Require all granted
</Directory>
<Directory "{root}/ext/pics/sub">
  Redirect 307 /pics/sub/moved http://example.com/from-directory
</Directory>
Alias /pics "{root}/ext/pics"
Alias /closed/ "{root}/closed/"
AliasMatch "^/img/(.+)\\.png$" "{root}/ext/pics/$1.txt"
ScriptAlias /cgi-bin/ "{root}/ext/cgi/"
ScriptAliasMatch "^/run/(\\w+)$" "{root}/ext/cgi/$1.sh"
<Location "/onecgi">
  ScriptAlias "{root}/ext/cgi/script.sh"
</Location>
Redirect 303 /see http://example.com/there
Redirect /q http://example.com/t?fixed=1
Redirect seeother /so http://example.com/so
RedirectPermanent /perm http://example.com/p
RedirectTemp /tmp http://example.com/t
RedirectMatch 302 "^/m/(\\w+)/(\\d+)$" "http://example.com/num/$2/$1"
RedirectMatch 410 "^/old/"
Redirect /pics/away http://example.com/away
<Location "/gone">
  Redirect gone
</Location>
"""
CASES = [("GET", p, "") for p in (
    "/pics/a.txt", "/pics", "/pics/", "/pics/sub/b.txt", "/pics/sub/moved",
    "/pics/away", "/pics/away/x", "/closed/c.txt", "/img/a.png", "/img/sub/b.png",
    "/img/a.gif", "/cgi-bin/script.sh", "/run/script", "/onecgi", "/onecgi/x", "/see", "/see/sub?x=1", "/q", "/q?x=1",
    "/so", "/perm/a?b", "/tmp", "/tmpx", "/m/abc/42", "/m/abc/x", "/old/thing", "/gone",
    "/gone/deeper",
)] + [("HEAD", "/perm", ""), ("HEAD", "/pics/a.txt", "")]


def _site(root: Path) -> str:
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        os.utime(root / rel, (1_600_000_000, 1_600_000_000))  # old: a strong ETag
    return SITE.replace("{root}", str(root))


def test_alias_and_redirects_match_apache(tmp_path: Path) -> None:
    got = both_answers(str(tmp_path), _site(tmp_path), MODULES, CASES)
    apache = got[False]
    assert got[True] == apache
    by = dict(zip([f"{m} {p}" for m, p, _ in CASES], apache, strict=False))
    # the comparison is not vacuous: each mechanism shows in Apache's own answers
    assert by["GET /pics/a.txt"][2] == b"pic a\n"
    assert by["GET /pics/"][2] == b"<p>pics</p>\n"
    assert by["GET /img/sub/b.png"][2] == b"pic b\n"
    assert by["GET /closed/c.txt"][0].endswith("403 Forbidden")
    assert by["GET /see/sub?x=1"][0].endswith("303 See Other")
    assert ("Location", "http://example.com/there/sub?x=1") in by["GET /see/sub?x=1"][1]
    assert ("Location", "http://example.com/num/42/abc") in by["GET /m/abc/42"][1]
    assert by["GET /pics/sub/moved"][0].endswith("307 Temporary Redirect")
    assert ("Location", "http://example.com/away") in by["GET /pics/away"][1]
    assert by["GET /gone/deeper"][0].endswith("410 Gone")
    script = FILES["ext/cgi/script.sh"].encode()
    assert by["GET /cgi-bin/script.sh"][2] == by["GET /run/script"][2] == script
    assert by["GET /onecgi/x"][2] == script


def _conf(tmp: Path, line: str, context: str) -> str:
    path = tmp / "httpd.conf"
    body = f"<{context} />\n{line}\n</{context}>\n" if context else line + "\n"
    path.write_text(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                    f"LoadModule alias_module {MODDIR}/mod_alias.so\n"
                    f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nListen 127.0.0.1:1\n'
                    f"ServerName localhost\n{body}")
    return str(path)


@pytest.mark.parametrize("line,context", [
    ("Redirect gone /a http://x", ""), ("Redirect /a relative", ""),
    ("RedirectMatch 301", ""), ("AliasMatch (", "Location"), ("Alias", ""),
    ("Alias /a /b /c", ""), ("AliasMatch ^/(x /y", ""), ("Alias /a /b", "Directory"),
    ("RedirectPermanent /a", ""), ("Redirect 399 /a", ""), ("RedirectTemp /a", "Location"),
    ("RedirectPermanent http://e/x", "Location"), ("RedirectTemp /a http://e/ c", ""),
])
def test_refused_with_apaches_message(tmp_path: Path, line: str, context: str) -> None:
    path = _conf(tmp_path, line, context)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()
