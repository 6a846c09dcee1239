"""mod_expires against real Apache 2.4: the same httpd.conf (ExpiresActive/Default/ByType
in the server, <Directory>, .htaccess under AllowOverride Indexes; both code syntaxes;
wildcard types; mod_headers after it on the same fields) served by apache2 and fastcore.  Each path is asked twice (the second
answer may be a cache hit); statuses, the order of the header names and the Expires and
max-age values (relative to each answer's Date, or absolute for "modification") must match.
`apache2 -t` and fastcore give the same startup messages for the module's directives."""
from __future__ import annotations

import calendar
import email.utils
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.apache_oracle import APACHE, MODDIR, REPO, ApacheOracle
from support.wire import parse_responses, raw_request

MODULES = ("mpm_prefork", "authz_core", "mime", "dir", "alias", "expires", "headers")
DAY = 86400
PATHS = ("/a.txt", "/b.html", "/c.gif", "/noext", "/old/o.txt", "/w/p.png", "/w/t.css",
         "/w/x.json", "/off/f.txt", "/ht/h.txt", "/ht/h.html", "/dir", "/missing", "/red",
         "/w", "/hd/a.txt", "/hx/a.txt", "/hs/a.txt")
HEADS = {"/a.txt": "If-Modified-Since: {a_mtime}\r\n", "/c.gif": "Range: bytes=0-1\r\n"}

SITE = """
DocumentRoot "{www}"
Redirect /red http://example.com/
ExpiresActive On
ExpiresByType application/json "access plus 2 hours"
<Directory />
  AllowOverride None
</Directory>
<Directory "{www}">
  Require all granted
  ExpiresDefault "access plus 1 month 2 days"
  ExpiresByType text/* A100
  ExpiresByType text/html "modification plus 1 year"
</Directory>
<Directory "{www}/old">
  ExpiresByType text/plain "modification plus 1 second"
</Directory>
<Directory "{www}/w">
  ExpiresByType image/* "now plus 5 minutes"
  ExpiresByType "TEXT/CSS" "a 10 s"
  ExpiresDefault M60
</Directory>
<Directory "{www}/off">
  ExpiresActive Off
</Directory>
<Directory "{www}/ht">
  AllowOverride Indexes
</Directory>
<Directory "{www}/hd">
  Header append Cache-Control public
</Directory>
<Directory "{www}/hx">
  Header unset Expires
</Directory>
<Directory "{www}/hs">
  Header set Cache-Control no-transform
</Directory>
"""
HTACCESS = "ExpiresByType text/plain \"access plus 7 minutes\"\nExpiresDefault A5\n"


def _epoch(value: str) -> int:
    parsed = email.utils.parsedate(value)
    assert parsed is not None, value
    return calendar.timegm(parsed)


def _age(cache_control: str) -> int:
    m = re.search(r"max-age=(\d+)", cache_control)
    assert m is not None, cache_control
    return int(m.group(1))


def _site(root: Path) -> Path:
    www = root / "www"
    recent = time.time() - 10 * DAY  # strong ETags: answers a cache may keep
    for rel, data in (("a.txt", "a\n"), ("b.html", "<p>b</p>\n"), ("c.gif", "gif89\n"),
                      ("noext", "n\n"), ("old/o.txt", "o\n"), ("w/p.png", "p\n"),
                      ("w/t.css", "t\n"), ("w/x.json", "{}\n"), ("off/f.txt", "f\n"),
                      ("ht/h.txt", "h\n"), ("ht/h.html", "<p>h</p>\n"), ("dir/i.txt", "i\n"),
                      ("ht/.htaccess", HTACCESS), ("hd/a.txt", "d\n"), ("hx/a.txt", "x\n"),
                      ("hs/a.txt", "s\n")):
        path = www / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data)
        os.utime(path, (recent, recent))
    os.utime(www / "old" / "o.txt", (1_577_836_800, 1_577_836_800))
    for sub in ("dir", "w", "old", "off", "ht"):
        os.utime(www / sub, (recent - DAY, recent - DAY))
    os.chmod(root, 0o755)
    return www


def _view(path: str, status: int, h: dict[str, str]) -> tuple:
    """What must agree: status, header names in order (without the server's own), and the
    expiry as Expires - Date and max-age (access) or Expires itself (modification)."""
    names = tuple(k for k in h if k not in ("server", "keep-alive", "connection", "etag",
                                            "content-length"))
    date = _epoch(h["date"])
    exp = h.get("expires")
    rel = None if exp is None else _epoch(exp) - date
    return status, names, rel, h.get("cache-control"), exp if rel and rel > 60 * DAY else None


def _run(tmp: Path, www: Path, fastcore: bool) -> list[tuple]:
    run = tmp / ("fastcore" if fastcore else "apache")
    run.mkdir()
    a_mtime = email.utils.formatdate((www / "a.txt").stat().st_mtime + 1, usegmt=True)
    out = []
    with ApacheOracle(str(run), SITE.replace("{www}", str(www)), modules=MODULES,
                      fastcore=fastcore) as ap:
        for path in PATHS + PATHS:
            extra = HEADS.get(path, "").replace("{a_mtime}", a_mtime) if len(out) >= len(
                PATHS) else ""
            got = parse_responses(raw_request(ap.port, f"GET {path} HTTP/1.0\r\nHost: "
                                              f"localhost\r\n{extra}\r\n".encode()))
            out.append(_view(path, got[0][0], got[0][1]))
    return out


@pytest.mark.skipif(not os.path.exists(APACHE), reason="apache2 is not installed")
def test_same_fields_as_apache(tmp_path: Path) -> None:
    www = _site(tmp_path)
    apache = _run(tmp_path, www, fastcore=False)
    fast = _run(tmp_path, www, fastcore=True)
    for path, a, f in zip(PATHS + PATHS, apache, fast, strict=True):
        a_status, a_names, a_rel, a_cc, a_abs = a
        f_status, f_names, f_rel, f_cc, f_abs = f
        assert (a_status, a_names, a_abs) == (f_status, f_names, f_abs), path
        if a_rel is None:
            assert f_rel is None and a_cc == f_cc, path
            continue
        assert f_rel is not None and a_cc is not None and f_cc is not None, (path, f)
        # the same Cache-Control apart from the max-age number (mod_headers may add to it
        # or replace it)
        assert re.sub(r"max-age=\d+", "max-age=N", a_cc) == \
            re.sub(r"max-age=\d+", "max-age=N", f_cc), (path, a_cc, f_cc)
        if "max-age=" not in a_cc:
            assert abs(a_rel - f_rel) <= 1, (path, a, f)
            continue
        a_age, f_age = _age(a_cc), _age(f_cc)
        if a_abs is not None:  # "modification": the same instant; max-age counts down to it
            assert abs(a_age - a_rel) <= 1 and abs(f_age - f_rel) <= 1, (path, a, f)
        else:  # "access": the same distance from each answer's own Date
            assert abs(a_rel - f_rel) <= 1 and abs(a_age - f_age) <= 1, (path, a, f)


BAD = ('ExpiresDefault "bogus"', 'ExpiresDefault "access plus x"',
       'ExpiresDefault "access plus 1"', 'ExpiresByType text/html "m 1 m"',
       'ExpiresDefault "access plus 1 fortnights"', "ExpiresActive maybe", "ExpiresDefault",
       "ExpiresByType a", 'ExpiresDefault "Access plus 1 day"')


@pytest.mark.skipif(not os.path.exists(APACHE), reason="apache2 is not installed")
@pytest.mark.parametrize("line", BAD)
def test_same_startup_messages(tmp_path: Path, line: str) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"LoadModule mpm_prefork_module {MODDIR}/mod_mpm_prefork.so\n"
                    f"LoadModule expires_module {MODDIR}/mod_expires.so\n"
                    f"ServerRoot {tmp_path}\nServerName x\nListen 127.0.0.1:1\n"
                    f"ErrorLog {tmp_path}/error_log\n<Directory />\n{line}\n</Directory>\n")
    env = dict(os.environ, PYTHONPATH=REPO)
    ap = subprocess.run([APACHE, "-t", "-f", str(conf)], capture_output=True, text=True)
    fc = subprocess.run([sys.executable, "-m", "fastcore", "-t", "-f", str(conf)],
                        capture_output=True, text=True, env=env)
    assert ap.returncode == fc.returncode
    # the message (or "Syntax OK") is the last line each prints, whichever stream
    assert (ap.stdout + ap.stderr).strip().splitlines()[-1] == \
        (fc.stdout + fc.stderr).strip().splitlines()[-1]
    if ap.returncode:
        assert "line 8 of" in fc.stderr
