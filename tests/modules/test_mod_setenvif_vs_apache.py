"""mod_setenvif against real Apache 2.4: the same httpd.conf (server rules, a virtual
host's, <Directory>, <Location> and .htaccess rules; special attributes, header-name
regexes, earlier-set variables, `!var`, `var=value`, `$1` captures, NoCase; Debian's stock
setenvif.conf included; mod_env and `Require env` alongside) served by apache2 and by
fastcore.  Each request is sent twice; the status lines, the Connection/Keep-Alive fields,
whether the connection stayed open, and every access-log line must match.  `apache2 -t`
and fastcore print the same startup message for each bad line."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.apache_oracle import APACHE, MODDIR, REPO, ApacheOracle

MODULES = ("mpm_prefork", "authz_core", "mime", "env", "setenvif")
DEBIAN_CONF = "/etc/apache2/mods-available/setenvif.conf"
LOGVARS = ("both", "uri", "ua", "cap", "nk", "hdr", "chain", "gone", "sub", "ht", "empty",
           "addr", "meth", "proto", "loc", "nocase", "redirect-carefully",
           "force-response-1.0", "downgrade-1.0", "nokeepalive", "srv", "ex", "lit", "none",
           "ru", "chained", "bad", "d", "rh", "user")

SITE = """
DocumentRoot "{www}"
LogFormat "%>s %U {fmt}" f
CustomLog "{run}/access_log" f
Include {debian}
SetEnvIf Request_URI "." both=fromsetenvif
SetEnv both fromsetenv
SetEnvIf Request_URI "%41" uri=raw
SetEnvIf Request_URI "^/A" uri=decoded-too-early
SetEnvIf User-Agent "^(\\w+)/(\\d)" ua=$1-v$2 cap=$1$3\\$2
BrowserMatch "^nk" nokeepalive nk
BrowserMatch "^dg" downgrade-1.0
BrowserMatch "^fr" force-response-1.0
BrowserMatchNoCase "^MIXED" nocase=yes
SetEnvIf ^X-Te?st.*$ "^v.*" hdr=$0
SetEnvIf hdr "v(.)" chain=from-$1
SetEnvIf X-Gone "." gone !chain
SetEnvIf X-Empty "^$" empty=none-sent
SetEnvIf Remote_Addr "^127\\.0\\.0\\.1$" addr
SetEnvIf Server_Addr "127.0.0.1" srv=local
SetEnvIf Remote_Host "^127\\.(.*)" rh=$1
SetEnvIf Remote_User "^$" user=none
SetEnvIf Request_Method "^HEAD$" meth=head
SetEnvIf Request_Protocol "1\\.0" proto=old
SetEnvIf X-Bang . bang=!x
SetEnvIfExpr "%{{HTTP_USER_AGENT}} =~ /^e(\\w+)/" ex=$1
SetEnvIfExpr "true" lit=$1-x
SetEnvIfExpr "-z %{{HTTP:X-None}}" none=yes
SetEnvIfExpr "%{{REQUEST_URI}} =~ /%41/" ru=raw
SetEnvIfExpr "%{{ENV:chain}} == 'from-1'" chained=yes
SetEnvIfExpr "file('/nonexistent/x') == 'a'" bad=yes
<Directory "{www}">
  Require all granted
  AllowOverride None
</Directory>
<Directory "{www}/sub">
  SetEnvIf Request_URI "^/sub/A" sub=decoded uri=dir-sees-decoded
  SetEnvIf both "fromsetenvif" sub=$0
  SetEnvIfExpr "%{{REQUEST_URI}} =~ m#^/sub/A#" d=decoded
</Directory>
<Directory "{www}/gate">
  SetEnvIf X-Key "^open$" pass
  Require env pass
</Directory>
<Directory "{www}/ht">
  AllowOverride FileInfo
</Directory>
<Location "/sub/loc">
  SetEnvIf Request_URI "loc" loc=yes
</Location>
"""
HTACCESS = 'SetEnvIf User-Agent "." ht=from-htaccess\nBrowserMatch "^nk" !nokeepalive\n'

REQUESTS = (
    ("GET", "/a.txt", "1.1", {"User-Agent": "Mozilla/2.0 (x)"}),  # Debian: nokeepalive
    ("GET", "/a.txt", "1.0", {"User-Agent": "RealPlayer 4.0"}),   # force-response-1.0
    ("GET", "/a.txt", "1.1", {"User-Agent": "MSIE 4.0b2;"}),      # downgrade + force
    ("GET", "/a.txt", "1.1", {"User-Agent": "gvfs/1.2"}),         # redirect-carefully
    ("GET", "/a.txt", "1.1", {"User-Agent": "nk"}),
    ("GET", "/a.txt", "1.1", {"User-Agent": "dg", "Connection": "keep-alive"}),
    ("GET", "/a.txt", "1.1", {"User-Agent": "dg"}),
    ("GET", "/a.txt", "1.0", {"User-Agent": "fr", "Connection": "keep-alive"}),
    ("GET", "/a.txt", "1.1", {"User-Agent": "fr"}),
    ("GET", "/a.txt", "1.1", {"User-Agent": "mixed case"}),
    ("GET", "/%41.txt", "1.1", {"User-Agent": "ehello", "X-None": ""}),
    ("GET", "/%41.txt", "1.1", {"User-Agent": "curl/8 x"}),
    ("GET", "/sub/%41.txt", "1.1", {}),
    ("GET", "/sub/loc", "1.1", {}),
    ("GET", "/a.txt", "1.1", {"X-Test-One": "v1"}),
    ("GET", "/a.txt", "1.1", {"x-tst": "v2", "X-Gone": "y"}),
    ("GET", "/a.txt", "1.1", {"X-Tst": "nope"}),
    ("HEAD", "/a.txt", "1.0", {"X-Bang": "1"}),
    ("GET", "/gate/g.txt", "1.1", {"X-Key": "open"}),
    ("GET", "/gate/g.txt", "1.1", {"X-Key": "shut"}),
    ("GET", "/ht/h.txt", "1.1", {"User-Agent": "nk"}),
    ("GET", "/missing", "1.1", {"User-Agent": "nk"}),
)


def _site(root: Path) -> Path:
    www = root / "www"
    for rel, data in (("a.txt", "a\n"), ("A.txt", "A\n"), ("sub/A.txt", "sA\n"),
                      ("sub/loc", "loc\n"), ("gate/g.txt", "g\n"), ("ht/h.txt", "h\n"),
                      ("ht/.htaccess", HTACCESS)):
        (www / rel).parent.mkdir(parents=True, exist_ok=True)
        (www / rel).write_text(data)
        recent = time.time() - 86400 * 10
        os.utime(www / rel, (recent, recent))
    os.chmod(root, 0o755)
    return www


def _exchange(port: int, method: str, path: str, version: str, headers: dict[str, str]
              ) -> tuple[str, str, str, bool]:
    """(status line, Connection, Keep-Alive, still open afterwards)."""
    head = f"{method} {path} HTTP/{version}\r\nHost: localhost\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head_text = data.split(b"\r\n\r\n")[0].decode("latin-1")
        lines = head_text.split("\r\n")
        fields = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = 0 if method == "HEAD" else int(fields.get("content-length", "0"))
        body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        s.settimeout(0.5)
        try:
            open_after = s.recv(1) != b""
        except TimeoutError:
            open_after = True
    return lines[0], fields.get("connection", ""), fields.get("keep-alive", ""), open_after


def _errors(run: Path) -> list[str]:
    """The error log's mod_setenvif lines without time, pid, client port and folder."""
    return [ln.split("] ", 4)[-1].split("] ", 1)[-1].replace(str(run), "RUN")
            for ln in (run / "error_log").read_text().splitlines() if "[setenvif:" in ln]


def _run(tmp: Path, www: Path, fastcore: bool) -> tuple[list[tuple], list[str]]:
    run = tmp / ("fastcore" if fastcore else "apache")
    run.mkdir()
    fmt = " ".join(f"[%{{{v}}}e]" for v in LOGVARS)
    body = SITE.format(www=www, run=run, fmt=fmt, debian=DEBIAN_CONF)
    answers = []
    with ApacheOracle(str(run), body, modules=MODULES, fastcore=fastcore) as ap:
        for req in REQUESTS + REQUESTS:
            answers.append(_exchange(ap.port, *req))
        time.sleep(0.3)
    log = (run / "access_log").read_text().splitlines()
    return answers, log + _errors(run)


@pytest.mark.skipif(not os.path.exists(APACHE) or not os.path.exists(DEBIAN_CONF),
                    reason="apache2 (with Debian's setenvif.conf) is not installed")
def test_same_variables_and_protocol_effects_as_apache(tmp_path: Path) -> None:
    www = _site(tmp_path)
    a_answers, a_log = _run(tmp_path, www, fastcore=False)
    f_answers, f_log = _run(tmp_path, www, fastcore=True)
    for req, a, f in zip(REQUESTS + REQUESTS, a_answers, f_answers, strict=True):
        assert a == f, req
    assert f_log == a_log
    # not vacuous: each mechanism shows in Apache's own answers and lines
    assert a_answers[1][0].startswith("HTTP/1.0 200") and not a_answers[1][3]
    assert a_answers[0][1] == "close" and a_answers[5][2]
    assert any("[Mozilla-v2] [Mozilla$2]" in ln for ln in a_log)  # $1, unset $3, \\$2
    assert any("[from-1]" in ln for ln in a_log)  # an earlier-set variable as attribute
    assert any("/sub/A.txt" in ln and "[dir-sees-decoded] [-] [-] [-] [-] [-] [-] [$0]" in ln
               for ln in a_log)  # per-dir: the decoded URI; a literal pattern: no $0
    assert any(ln.startswith("403 /gate") for ln in a_log)
    assert any("[hello] [hello-x] [yes] [raw]" in ln for ln in a_log)  # SetEnvIfExpr
    assert any("Evaluation of expression from" in ln and "Cannot open file" in ln
               for ln in a_log)
    assert any(ln.startswith("200 /gate") for ln in a_log)


BAD = ("SetEnvIf", "SetEnvIf User-Agent", "SetEnvIf User-Agent x", 'SetEnvIf User-Agent "(" x',
       'SetEnvIf "Us(er" x y', "BrowserMatch", "BrowserMatch x", 'BrowserMatchNoCase "[" y',
       'SetEnvIf "" x y', 'SetEnvIf Foo "" y', "SetEnvIfNoCase ^TS* ^[a-z] HAVE_TS",
       "SetEnvIfExpr", 'SetEnvIfExpr "true"', 'SetEnvIfExpr "foo bar" x',
       'SetEnvIfExpr "%{HTTP_HOST} =~ /(" x', "SetEnvIfExpr true x",
       'SetEnvIfExpr "-z %{HTTP_X_NONE}" x')


@pytest.mark.skipif(not os.path.exists(APACHE), reason="apache2 is not installed")
@pytest.mark.parametrize("line", BAD)
def test_same_startup_messages(tmp_path: Path, line: str) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"LoadModule mpm_prefork_module {MODDIR}/mod_mpm_prefork.so\n"
                    f"LoadModule setenvif_module {MODDIR}/mod_setenvif.so\n"
                    f"ServerRoot {tmp_path}\nServerName x\nListen 127.0.0.1:1\n"
                    f"ErrorLog {tmp_path}/error_log\n{line}\n")
    env = dict(os.environ, PYTHONPATH=REPO)
    ap = subprocess.run([APACHE, "-t", "-f", str(conf)], capture_output=True, text=True)
    fc = subprocess.run([sys.executable, "-m", "fastcore", "-t", "-f", str(conf)],
                        capture_output=True, text=True, env=env)
    assert ap.returncode == fc.returncode
    assert (ap.stdout + ap.stderr).strip().splitlines()[-2:] == \
        (fc.stdout + fc.stderr).strip().splitlines()[-2:]
