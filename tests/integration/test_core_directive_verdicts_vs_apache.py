"""`-t` verdicts of the directives added for Apache compatibility (MaxRanges & co.,
StrictHostCheck, MergeSlashes, AcceptPathInfo, HttpProtocolOptions, ScriptAlias(Match),
Redirect's status forms, PCRE2-only regex syntax): for good and bad values, in allowed
and refused contexts, fastcore says what `apache2 -t` says, word for word."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support.apache_oracle import APACHE, MODDIR

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SNIPPETS = [
    "MaxRanges 0", "MaxRanges none", "MaxRanges unlimited", "MaxRanges default",
    "MaxRanges -1", "MaxRanges abc", "MaxRanges 5x", "MaxRanges 5 6",
    "<Directory />\nMaxRanges 3\n</Directory>", "<VirtualHost *:80>\nMaxRanges 3\n</VirtualHost>",
    "MaxRangeOverlaps 0", "MaxRangeReversals x", "MaxRangeOverlaps none",
    "<Directory />\nMaxRangeReversals unlimited\n</Directory>",
    "StrictHostCheck On", "StrictHostCheck x", "StrictHostCheck",
    "<VirtualHost *:80>\nStrictHostCheck on\n</VirtualHost>",
    "<Directory />\nStrictHostCheck on\n</Directory>",
    "MergeSlashes off", "MergeSlashes x", "<Directory />\nMergeSlashes off\n</Directory>",
    "AcceptPathInfo on", "AcceptPathInfo x", "<Location />\nAcceptPathInfo on\n</Location>",
    "<Files x>\nAcceptPathInfo default\n</Files>",
    "HttpProtocolOptions Unsafe", "HttpProtocolOptions unsafe RegisteredMethods Require1.0",
    "HttpProtocolOptions foo", "HttpProtocolOptions", "HttpProtocolOptions Strict Unsafe",
    "HttpProtocolOptions Require1.0 Allow0.9",
    "<Directory />\nHttpProtocolOptions Unsafe\n</Directory>",
    "ScriptAlias /cgi-bin/ /tmp/", "ScriptAlias /cgi-bin/", "ScriptAlias /x /tmp/ /y",
    "ScriptAliasMatch ( /x", "ScriptAliasMatch (", "ScriptAliasMatch ^/x(?<n>.*) /tmp/$1",
    "<Location /x>\nScriptAlias /tmp/ /u/\n</Location>",
    "<LocationMatch /x>\nScriptAlias /tmp/\n</LocationMatch>",
    "<Directory />\nScriptAliasMatch /x /tmp/\n</Directory>",
    "<Location /x>\nAlias /a /b\n</Location>", "<Directory /x>\nAlias /b\n</Directory>",
    "<Files x>\nAlias /b\n</Files>",
    "Redirect 403 /a", "Redirect gone /a", "Redirect gone", "Redirect 403",
    "Redirect gone /a /b", "Redirect seeother /a", "Redirect foo /a /b", "Redirect 3xx /a /b",
    "Redirect 301x /a /b", "RedirectMatch foo /a /b", "RedirectMatch gone (",
    "<Directory /tmp>\nRedirect /y\n</Directory>", "<Directory /tmp>\nRedirect gone\n</Directory>",
    "<Location /x>\nRedirect 403\n</Location>",
    "AliasMatch (?<n>x) /x", 'AliasMatch "x++" /x', "AliasMatch \\K(a) /x",
    "<LocationMatch (?<n>x)>\n</LocationMatch>", "<DirectoryMatch (?|(a)|(b))>\n</DirectoryMatch>",
    "<FilesMatch [[:punct:]]>\n</FilesMatch>", "<FilesMatch (>\n</FilesMatch>",
    "<IfVersion ~ (>\n</IfVersion>",
]


def _conf(tmp: str, snippet: str) -> str:
    lines = [f"LoadModule {m}_module {MODDIR}/mod_{m}.so"
             for m in ("mpm_prefork", "authz_core", "alias")]
    lines += [f"ServerRoot {tmp}", f"PidFile {tmp}/pid", f"ErrorLog {tmp}/err",
              "Listen 127.0.0.1:59999", "ServerName localhost", f"DefaultRuntimeDir {tmp}",
              snippet]
    path = os.path.join(tmp, "t.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _verdict(cmd: list[str]) -> list[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    return (out.stdout + out.stderr).strip().splitlines()[:2]


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_verdict_as_apache(tmp_path, snippet: str) -> None:
    conf = _conf(str(tmp_path), snippet)
    apache = _verdict([APACHE, "-t", "-f", conf])
    fastcore = _verdict([sys.executable, "-m", "fastcore", "-t", "-f", conf])
    if apache[0].startswith("apache2: Syntax error"):  # read-time errors: one line
        assert fastcore[0].replace("fastcore: ", "apache2: ", 1) == apache[0]
    else:
        assert fastcore == apache


def test_alias_overlap_warnings_as_apache(tmp_path) -> None:
    """AH00671 for a (Script)Alias an earlier Alias/AliasMatch already covers (the time
    stamp and pid of each line masked)."""
    import re

    conf = _conf(str(tmp_path), "Alias /a /tmp\nScriptAlias /a/b /tmp\nAliasMatch ^/x /tmp\n"
                                "Alias /x/y /tmp\nAlias /q /tmp\nAlias /qq /tmp\n"
                                "ScriptAliasMatch ^/s /tmp\nScriptAlias /s/t /tmp")

    def masked(cmd: list[str]) -> list[str]:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
        return [re.sub(r"^\[[^]]*\] (\[[^]]*\]) \[pid [^]]*\] ", r"\1 ", line)
                for line in (out.stdout + out.stderr).strip().splitlines()]

    apache = masked([APACHE, "-t", "-f", conf])
    fastcore = masked([sys.executable, "-m", "fastcore", "-t", "-f", conf])
    warnings = [w for w in apache if "AH00671" in w]
    assert len(warnings) == 3 and "Syntax OK" in apache and "Syntax OK" in fastcore
    assert [w for w in fastcore if "AH00671" in w] == warnings
