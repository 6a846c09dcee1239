"""mod_access_compat against real Apache 2.4: one httpd.conf (Order, Allow/Deny from full,
partial, CIDR, netmask and IPv6 addresses, host names, env=[!]VAR, Satisfy, how a scope
with its own rules replaces the enclosing ones, how it mixes with Require, .htaccess under
AllowOverride Limit) served by apache2 and by fastcore to two clients (127.0.0.1 and
127.0.0.2).  Statuses, bodies, the access log (%a %h %u %>s %U) and the error-log messages
must match; each path is asked twice, so a cached second answer is compared too.
`apache2 -t` and fastcore give the same startup errors for the module's directives."""
from __future__ import annotations

import os
import subprocess
import time

import pytest
from support.apache_oracle import APACHE, ApacheOracle
from support.twin_auth import AUTH_MODULES, LOG_FORMAT, Answer, ask, error_messages, load_lines

from fastcore.config import ConfigError, load

SITE = LOG_FORMAT + """
DocumentRoot "{www}"
CustomLog "{run}/access_log" authfmt
<Directory "{www}">
  Require all granted
  AllowOverride None
</Directory>
<Directory "{www}/da">
  Order deny,allow
  Deny from all
  Allow from 127.0.0.2
</Directory>
<Directory "{www}/ad">
  Order Allow,Deny
  Allow from 127.0.0.0/8
  Deny from 127.0.0.2
</Directory>
<Directory "{www}/mf">
  Order mutual-failure
  Allow from 127.0.0.0/255.0.0.0
  Deny from 127.0.0.2
</Directory>
<Directory "{www}/partial">
  Order allow,deny
  Allow from 127.0.0.
</Directory>
<Directory "{www}/partial2">
  Order allow,deny
  Allow from 127.0.0.2/32 10
</Directory>
<Directory "{www}/v6">
  Order allow,deny
  Allow from ::1 fe80::/10
</Directory>
<Directory "{www}/env">
  Order allow,deny
  Allow from env=!FC_NOT_SET
</Directory>
<Directory "{www}/envdeny">
  Order allow,deny
  Allow from all
  Deny from env=FC_NOT_SET
</Directory>
<Directory "{www}/host">
  Order allow,deny
  Allow from localhost
</Directory>
<Directory "{www}/domain">
  Order deny,allow
  Deny from .host
</Directory>
<Directory "{www}/parent">
  Order allow,deny
  Allow from 127.0.0.2
</Directory>
<Directory "{www}/parent/reset">
  Satisfy All
</Directory>
<Directory "{www}/bothdeny">
  Require all denied
  Order allow,deny
  Allow from all
</Directory>
<Directory "{www}/anygrants">
  Require all denied
  Order allow,deny
  Allow from all
  Satisfy Any
</Directory>
<Directory "{www}/anyip">
  Require ip 127.0.0.2
  Order deny,allow
  Deny from all
  Satisfy any
</Directory>
<Directory "{www}/allreq">
  Require ip 127.0.0.1
  Order allow,deny
  Allow from 127.0.0.2
</Directory>
<Directory "{www}/ht">
  AllowOverride Limit
</Directory>
<Directory "{www}/htnone">
  AllowOverride None
</Directory>
<Directory "{www}/htauth">
  AllowOverride AuthConfig
</Directory>
"""
DIRS = ("da", "ad", "mf", "partial", "partial2", "v6", "env", "envdeny", "host", "domain",
        "parent", "parent/reset", "parent/keep", "bothdeny", "anygrants", "anyip",
        "allreq", "ht", "htnone", "htauth")
HTACCESS = "Order deny,allow\nDeny from 127.0.0.1\n"
CLIENTS = ("127.0.0.1", "127.0.0.2")


def _site(root: str) -> str:
    www = os.path.join(root, "www")
    for d in DIRS:
        os.makedirs(os.path.join(www, d))
        with open(os.path.join(www, d, "f.txt"), "w") as fh:
            fh.write(d + "\n")
    for d in ("ht", "htnone", "htauth"):
        with open(os.path.join(www, d, ".htaccess"), "w") as fh:
            fh.write(HTACCESS)
    return www


def _run(tmp: str, www: str, fastcore: bool) -> tuple[list[Answer], list[str], list[str]]:
    run = os.path.join(tmp, "fastcore" if fastcore else "apache")
    os.makedirs(run)
    body = SITE.replace("{www}", www).replace("{run}", run)
    answers = []
    with ApacheOracle(run, body, modules=AUTH_MODULES, fastcore=fastcore) as ap:
        for d in DIRS:
            for client in CLIENTS:
                for _ in range(2):
                    answers.append(ask(ap.port, f"/{d}/f.txt", client))
        time.sleep(0.3)  # the last lines reach the files before the server stops
    with open(os.path.join(run, "access_log")) as fh:
        access = fh.read().splitlines()
    with open(os.path.join(run, "error_log")) as fh:
        errors = error_messages(fh.read(), ("access_compat", "authz_core", "core"))
    return answers, access, errors


def test_access_matches_apache(tmp_path) -> None:
    www = _site(str(tmp_path))
    a_answers, a_access, a_errors = _run(str(tmp_path), www, fastcore=False)
    f_answers, f_access, f_errors = _run(str(tmp_path), www, fastcore=True)
    assert [a.status for a in f_answers] == [a.status for a in a_answers]
    assert f_answers == a_answers
    assert f_access == a_access
    assert f_errors == a_errors
    # not vacuous: Apache itself shows each mechanism
    by = {(d, c): a_answers[(i * 2 + j) * 2].status for i, d in enumerate(DIRS)
          for j, c in enumerate(CLIENTS)}
    assert by[("da", "127.0.0.1")] == 403 and by[("da", "127.0.0.2")] == 200
    assert by[("ad", "127.0.0.1")] == 200 and by[("ad", "127.0.0.2")] == 403
    assert by[("host", "127.0.0.1")] == 200 and by[("host", "127.0.0.2")] == 403
    assert by[("parent/reset", "127.0.0.1")] == 200  # its own record replaced the parent's
    assert by[("parent/keep", "127.0.0.1")] == 403   # no record: the parent's rules
    assert by[("anygrants", "127.0.0.1")] == 200     # Satisfy Any: Allow alone suffices
    assert by[("ht", "127.0.0.1")] == 403 and by[("htnone", "127.0.0.1")] == 200
    assert by[("htauth", "127.0.0.1")] == 500
    assert any("AH01797: client denied by server configuration" in e for e in a_errors)
    # the name a host rule looked up shows in %h, HostnameLookups Off notwithstanding
    assert "127.0.0.1 localhost - 200 /host/f.txt" in a_access


CONFIG_LINES = (
    "Order foo", "Order", "Order allow, deny", "Allow", "Allow from", "Allow 10.0.0.1",
    "Allow frm 10.0.0.1", "Allow from 10.1.2.300", "Allow from 10.1.2.3/33",
    "Allow from 10.1.2.3/255.0.0.x", "Allow from 10.1.2.3/", "Allow from /8",
    "Allow from abc/8", "Allow from 10.1.2.3.4", "Allow from 10..1",
    "Allow from ::ffff:1.2.3.4", "Allow from fe80::/200", "Allow from fe80::/255.0.0.0",
    "Allow from :::1", "Allow from 1.2.3.4/0", "Allow from 1.2.3.4/-1", "Deny from 256",
    "Deny from 1.2.3/8", "Satisfy foo", "Satisfy",
)
ACCEPTED_LINES = (
    "Order Allow,Deny", "Order mutual-failure", "Allow From 10.0.0.1 10.1 10.1.2.3/8 "
    "10.0.0.0/255.0.0.0 ::1 fe80::/10 example.com .example.com env=X env=!Y all",
    "Allow from 1.2.3.4.", "Allow from 10.1.", "Allow from 1.2.3.4/08",
    "Allow from 1.2.3.4/255.255.0.255", "Deny from 01.2.3.4", "Satisfy ANY",
)


def _conf(tmp: str, line: str, in_directory: bool = True) -> str:
    path = os.path.join(tmp, "httpd.conf")
    body = f"<Directory {tmp}>\n{line}\n</Directory>\n" if in_directory else line + "\n"
    with open(path, "w") as fh:
        fh.write(load_lines(("mpm_event", *AUTH_MODULES[1:])) + f'ServerRoot "{tmp}"\n'
                 f'ErrorLog "{tmp}/error_log"\nDocumentRoot "{tmp}"\n'
                 f"Listen 127.0.0.1:1\nServerName localhost\n{body}")
    return path


@pytest.mark.parametrize("line", CONFIG_LINES)
def test_refused_with_apaches_message(tmp_path, line: str) -> None:
    path = _conf(str(tmp_path), line)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()


@pytest.mark.parametrize("line", ["Order deny,allow", "Allow from all", "Satisfy any"])
def test_not_allowed_in_the_server_context(tmp_path, line: str) -> None:
    path = _conf(str(tmp_path), line, in_directory=False)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()


@pytest.mark.parametrize("line", ACCEPTED_LINES)
def test_accepted_like_apache(tmp_path, line: str) -> None:
    path = _conf(str(tmp_path), line)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode == 0, apache.stderr
    load(path)
