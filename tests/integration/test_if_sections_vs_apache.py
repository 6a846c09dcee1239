"""<If>/<ElseIf>/<Else> against real Apache 2.4: one httpd.conf and one .htaccess served
by apache2 and by fastcore.  Inside the sections: Require, ErrorDocument, AddType,
Options Indexes, SetEnv (seen through CustomLog %{VAR}e); conditions on %{REQUEST_URI},
%{HTTP_HOST}, %{QUERY_STRING}, req('X-Foo') and -f %{REQUEST_FILENAME}; nested <If>, a
condition that fails to evaluate.  Statuses, bodies, the headers (Vary included) and
every access-log line must match; each request is sent twice, so a second answer a cache
could serve is compared too.  `apache2 -t` and fastcore refuse the same misplaced
sections with the same message."""
from __future__ import annotations

import os
import subprocess
import time

import pytest
from support.apache_oracle import APACHE, MODDIR, ApacheOracle
from support.wire import parse_responses, raw_request

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias", "autoindex",
           "env")
SKIP_HEADERS = ("date", "server")

SITE = r"""
DocumentRoot "{www}"
<Directory />
  AllowOverride None
</Directory>
<Directory "{www}">
  Require all granted
</Directory>
LogFormat "%>s %U%q [%{BRANCH}e] [%{NESTED}e] [%{HTB}e]" iffmt
CustomLog "{run}/if_log" iffmt

<LocationMatch "^/(a\.txt|missing)">
  <If "req('X-Foo') == 'deny'">
    Require all denied
  </If>
  <If "%{QUERY_STRING} == 'a'">
    SetEnv BRANCH if
    ErrorDocument 404 "branch-if"
  </If>
  <ElseIf "%{QUERY_STRING} =~ /^b/">
    SetEnv BRANCH elseif
    ErrorDocument 404 "branch-elseif"
  </ElseIf>
  <Else>
    SetEnv BRANCH else
  </Else>
</LocationMatch>

<Directory "{www}/types">
  <If "%{REQUEST_URI} =~ m#/t\.txt$#">
    AddType text/x-typed .txt
    <If "%{QUERY_STRING} == 'nested'">
      SetEnv NESTED yes
      AddType text/x-nested .txt
    </If>
  </If>
</Directory>

<Directory "{www}/list">
  <If "%{HTTP_HOST} == 'lister'">
    Options +Indexes
  </If>
  <If "%{REQUEST_URI} =~ /two/">
    Require all denied
  </If>
</Directory>

<Location /exists>
  <If "-f %{REQUEST_FILENAME}">
    AddType text/x-exists .txt
  </If>
  <Else>
    ErrorDocument 404 "no-such-file"
  </Else>
</Location>

<Location /broken>
  <If "file('{www}/no/such/file') == 'x'">
    Require all denied
  </If>
  <Else>
    ErrorDocument 404 "broken-else"
  </Else>
</Location>

<Directory "{www}/ht">
  AllowOverride AuthConfig FileInfo
</Directory>
<Directory "{www}/htbad">
  AllowOverride AuthConfig
</Directory>
"""

HTACCESS = """<If "req('X-Foo') == 'ht'">
  Require all denied
</If>
<ElseIf "%{QUERY_STRING} == 'type'">
  AddType text/x-ht .txt
  SetEnv HTB elseif
</ElseIf>
<Else>
  SetEnv HTB else
</Else>
"""

REQUESTS = (
    ("/a.txt", ""), ("/a.txt", "X-Foo: deny\r\n"), ("/a.txt?a", ""), ("/a.txt?b2", ""),
    ("/missing?a", ""), ("/missing?bee", ""), ("/missing", ""),
    ("/types/t.txt", ""), ("/types/t.txt?nested", ""), ("/types/u.txt?nested", ""),
    ("/list/", "Host: lister\r\n"), ("/list/", ""), ("/list/two.html", ""),
    ("/exists/e.txt", ""), ("/exists/none.txt", ""),
    ("/broken/b.txt", ""), ("/broken/missing", ""),
    ("/ht/h.txt", ""), ("/ht/h.txt", "X-Foo: ht\r\n"), ("/ht/h.txt?type", ""),
    ("/htbad/h.txt", ""),
)

Answer = tuple[int, dict[str, str], bytes]


def _site(root: str) -> str:
    www = os.path.join(root, "www")
    for rel in ("a.txt", "types/t.txt", "types/u.txt", "list/one.txt", "list/two.html", "exists/e.txt",
                "broken/b.txt", "ht/h.txt", "htbad/h.txt"):
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(rel + "\n")
        os.utime(path, (1_700_000_000, 1_700_000_000))  # strong ETags: cacheable answers
    with open(os.path.join(www, "ht", ".htaccess"), "w") as fh:
        fh.write(HTACCESS)
    with open(os.path.join(www, "htbad", ".htaccess"), "w") as fh:
        fh.write('<If "true">\n  ErrorDocument 404 "x"\n</If>\n')  # FileInfo: not allowed
    for d in ("", "types", "list", "exists", "broken", "ht", "htbad"):
        os.chmod(os.path.join(www, d), 0o755)
    return www


def _run(tmp: str, www: str, fastcore: bool) -> tuple[list[Answer], list[str], str]:
    run = os.path.join(tmp, "fastcore" if fastcore else "apache")
    os.makedirs(run)
    os.chmod(run, 0o755)
    answers: list[Answer] = []
    site = SITE.replace("{www}", www).replace("{run}", run)
    with ApacheOracle(run, site, modules=MODULES, fastcore=fastcore) as ap:
        for path, extra in REQUESTS + REQUESTS:
            if not extra.startswith("Host:"):
                extra = "Host: localhost\r\n" + extra
            got = parse_responses(raw_request(ap.port, f"GET {path} HTTP/1.1\r\n{extra}"
                                              "Connection: close\r\n\r\n".encode()))
            status, headers, body = got[0]
            answers.append((status, {k: v for k, v in headers.items()
                                     if k not in SKIP_HEADERS}, body))
        time.sleep(0.3)  # the last log lines reach the file before the server stops
    with open(os.path.join(run, "if_log")) as fh:
        log = fh.read().splitlines()
    with open(os.path.join(run, "error_log")) as fh:
        errors = fh.read()
    return answers, log, errors


def test_sections_answer_as_apache(www_dir: str) -> None:
    www = _site(www_dir)
    a_answers, a_log, a_errors = _run(www_dir, www, fastcore=False)
    f_answers, f_log, f_errors = _run(www_dir, www, fastcore=True)
    for (path, extra), a, f in zip(REQUESTS + REQUESTS, a_answers, f_answers, strict=True):
        assert f == a, (path, extra)
    assert f_log == a_log
    # the comparison is not vacuous: each mechanism shows in Apache's own answers
    by = dict(zip(((p, e) for p, e in REQUESTS), a_answers, strict=False))
    assert by[("/a.txt", "")][1]["vary"] == "X-Foo"
    assert by[("/a.txt", "X-Foo: deny\r\n")][0] == 403
    assert by[("/missing?a", "")][2] == b"branch-if"
    assert by[("/missing?bee", "")][2] == b"branch-elseif"
    assert by[("/types/t.txt?nested", "")][1]["content-type"] == "text/x-nested"
    assert by[("/list/", "Host: lister\r\n")][0] == 200
    assert by[("/list/", "")][0] == 403
    listing = by[("/list/", "Host: lister\r\n")][2]  # the entry's sub-request is denied
    assert b'href="one.txt"' in listing and b"two.html" not in listing
    assert by[("/list/two.html", "")][0] == 403
    assert by[("/exists/e.txt", "")][1]["content-type"] == "text/x-exists"
    assert by[("/exists/none.txt", "")][2] == b"no-such-file"
    assert by[("/broken/missing", "")][2] == b"broken-else"
    assert by[("/ht/h.txt?type", "")][1]["content-type"] == "text/x-ht"
    assert by[("/types/u.txt?nested", "")][1]["content-type"] == "text/plain"
    assert "vary" not in by[("/exists/e.txt", "")][1]
    assert by[("/htbad/h.txt", "")][0] == 500
    assert "200 /types/t.txt?nested [-] [yes] [-]" in a_log
    assert "200 /ht/h.txt?type [-] [-] [elseif]" in a_log
    assert "200 /a.txt?a [if] [-] [-]" in a_log
    for errors in (a_errors, f_errors):
        assert "AH00039: Failed to evaluate <If > condition: Cannot open file " \
            f"{www}/no/such/file" in errors
        assert f"[core:alert] {{}} {www}/htbad/.htaccess: ErrorDocument not allowed in <If> " \
            "context" in {_message(line) for line in errors.splitlines()}, errors


def _message(line: str) -> str:
    """An error-log line with its time stamp, pid and client masked (which differ)."""
    parts = line.split("] ")
    return parts[1] + "] {} " + parts[-1] if len(parts) > 3 else line


def _conf(tmp: str, lines: str) -> str:
    path = os.path.join(tmp, "httpd.conf")
    with open(path, "w") as fh:
        fh.write(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                 f"LoadModule authz_core_module {MODDIR}/mod_authz_core.so\n"
                 f"LoadModule mime_module {MODDIR}/mod_mime.so\n"
                 f"LoadModule alias_module {MODDIR}/mod_alias.so\n"
                 f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nDocumentRoot "{tmp}"\n'
                 f"Listen 127.0.0.1:1\nServerName localhost\n{lines}\n")
    return path


@pytest.mark.parametrize("body", [
    "<Else>\n</Else>",
    "<ElseIf true>\n</ElseIf>",
    '<If "true">\n</If>\n<Else>\n</Else>\n<Else>\n</Else>',
    '<If "true">\n</If>\n<Else>\n</Else>\n<ElseIf "true">\n</ElseIf>',
    '<If "true">\n</If>\n<VirtualHost *:80>\n<Else>\n</Else>\n</VirtualHost>',
    '<Directory /tmp>\n<If "true">\n</If>\n</Directory>\n<Else>\n</Else>',
    '<If "true">\n<Else>\n</Else>\n</If>',
    '<If "true">\n</If>\n<Else foo>\n</Else>',
    "<If >\n</If>",
    '<If "true" "false">\n</If>',
    '<If "true"\n</If>',
    '<If "%{NO_SUCH_VAR} == 1">\n</If>',
    '<If "true">\n<ElseIf "-f /x" x>\n</ElseIf>\n</If>',
    '<If "true">\n<Directory /tmp>\n</Directory>\n</If>',
    '<If "true">\n<Location />\n</Location>\n</If>',
    '<If "true">\n<VirtualHost *:80>\n</VirtualHost>\n</If>',
    '<If "true">\nServerName x\n</If>',
    '<If "true">\nDocumentRoot /tmp\n</If>',
    '<If "true">\nAlias /x /tmp\n</If>',
    '<If "true">\nNoSuchDirective\n</If>',
    # the one-argument Alias names the enclosing section it may not sit in
    '<If "true">\nAlias /tmp\n</If>',
    '<Location /x>\n<If "false">\n</If>\n<ElseIf "true">\nAlias /tmp\n</ElseIf>\n</Location>',
    '<Location /x>\n<If "false">\n</If>\n<Else>\nAlias /tmp\n</Else>\n</Location>',
    '<Directory /tmp>\n<If "true">\nAlias /tmp\n</If>\n</Directory>',
    '<DirectoryMatch /tmp>\nAlias /tmp\n</DirectoryMatch>',
])
def test_refused_with_apaches_message(tmp_path, body: str) -> None:
    path = _conf(str(tmp_path), body)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()


@pytest.mark.parametrize("body", [
    '<If "true">\n</If>\nServerAdmin a@b\n<Else>\n</Else>',
    '<If "true">\n<If "false">\nErrorDocument 404 x\n</If>\n<Else>\n</Else>\n</If>',
    '<If "true">\n<Files x>\nRequire all denied\n</Files>\n</If>',
    '<Location /x>\n<If "true">\nRequire all denied\n</If>\n<ElseIf "false">\n</ElseIf>\n'
    '</Location>',
])
def test_accepted_as_by_apache(tmp_path, body: str) -> None:
    path = _conf(str(tmp_path), body)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode == 0, apache.stderr
    assert load(path).main is not None
