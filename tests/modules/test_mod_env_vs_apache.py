"""mod_env against real Apache 2.4: the same httpd.conf (SetEnv, UnsetEnv, PassEnv in
the server and in <Directory>, `Require env`, %{VAR}e, CustomLog env=VAR / env=!VAR)
served by apache2 and by fastcore; the statuses and every access-log line must match.
Each path is asked twice, so a second answer a fast path could serve is compared too.
`apache2 -t` and fastcore give the same startup messages for mod_env's directives."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from support.apache_oracle import APACHE, MODDIR, REPO, ApacheOracle
from support.wire import parse_responses, raw_request

from fastcore.config import ConfigError, load

MODULES = ("mpm_prefork", "authz_core", "authz_host", "mime", "dir", "alias", "env")
PATHS = ("/a.txt", "/sub/b.txt", "/sub/deeper/c.txt", "/deny/d.txt", "/reqenv/r.txt",
         "/missing", "/sub/missing", "/pass/p.txt")
LOGS = ("all_log", "top_log", "nottop_log", "sub_log")

SITE = """
DocumentRoot "{www}"
<Directory "{www}">
  Require all granted
</Directory>
SetEnv TOP top-value
SetEnv EMPTY
SetEnv Quote "a \\"q\\" b"
PassEnv FC_ENV_TEST_PASSED
<Directory "{www}/sub">
  SetEnv SUBV sub-value
  UnsetEnv top
</Directory>
<Directory "{www}/sub/deeper">
  SetEnv TOP deeper-top
</Directory>
<Directory "{www}/deny">
  Require all denied
</Directory>
<Directory "{www}/reqenv">
  SetEnv GATE open
  Require env GATE
</Directory>
<Directory "{www}/pass">
  UnsetEnv FC_ENV_TEST_PASSED
</Directory>
LogFormat "%>s %U [%{TOP}e] [%{top}e] [%{SUBV}e] [%{EMPTY}e] [%{quote}e] [%{FC_ENV_TEST_PASSED}e] [%{HOME}e]" envfmt
CustomLog "{run}/all_log" envfmt
CustomLog "{run}/top_log" envfmt env=TOP
CustomLog "{run}/nottop_log" envfmt env=!TOP
CustomLog "{run}/sub_log" "%U" env=subv
"""


def _site(root: str) -> str:
    www = os.path.join(root, "www")
    for rel in ("a.txt", "sub/b.txt", "sub/deeper/c.txt", "deny/d.txt", "reqenv/r.txt",
                "pass/p.txt"):
        path = os.path.join(www, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(rel + "\n")
    return www


def _run(tmp: str, www: str, fastcore: bool) -> tuple[list[int], dict[str, list[str]]]:
    run = os.path.join(tmp, "fastcore" if fastcore else "apache")
    os.makedirs(run)
    statuses = []
    with ApacheOracle(run, SITE.replace("{www}", www).replace("{run}", run), modules=MODULES,
                      fastcore=fastcore) as ap:
        for path in PATHS + PATHS:
            got = parse_responses(raw_request(ap.port, f"GET {path} HTTP/1.0\r\n"
                                              "Host: localhost\r\n\r\n".encode()))
            statuses.append(got[0][0])
        time.sleep(0.3)  # the last lines reach the files before the server stops
    logs = {}
    for name in LOGS:
        path = os.path.join(run, name)
        logs[name] = open(path).read().splitlines() if os.path.exists(path) else []
    return statuses, logs


@pytest.fixture
def env_value(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FC_ENV_TEST_PASSED", "passed-value")
    return "passed-value"


def test_access_logs_and_statuses_match_apache(tmp_path, env_value: str) -> None:
    www = _site(str(tmp_path))
    a_status, a_logs = _run(str(tmp_path), www, fastcore=False)
    f_status, f_logs = _run(str(tmp_path), www, fastcore=True)
    assert f_status == a_status
    assert f_logs == a_logs
    # the comparison is not vacuous: each mechanism shows in Apache's own lines
    assert "200 /a.txt [top-value] [top-value] [-] [] [a \\\"q\\\" b] [passed-value] [-]" \
        in a_logs["all_log"]
    assert any(line.startswith("403 /reqenv/r.txt [-]") for line in a_logs["all_log"])
    assert a_logs["sub_log"] and all(line.startswith("/sub/") for line in a_logs["sub_log"])
    assert any("/sub/deeper/c.txt" in line for line in a_logs["top_log"])
    assert any(line.startswith("200 /pass/p.txt") and "[-] [-]" in line
               for line in a_logs["all_log"])


def _conf(tmp: str, lines: str, env_loaded: bool = True) -> str:
    path = os.path.join(tmp, "httpd.conf")
    with open(path, "w") as fh:
        fh.write(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                 + (f"LoadModule env_module {MODDIR}/mod_env.so\n" if env_loaded else "")
                 + f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nDocumentRoot "{tmp}"\n'
                 f"Listen 127.0.0.1:1\nServerName localhost\n{lines}\n")
    return path


@pytest.mark.parametrize("line,loaded", [
    ("SetEnv", True), ("SetEnv a b c", True), ("UnsetEnv", True), ("PassEnv", True),
    ("SetEnv A b", False), ("UnsetEnv A", False), ("PassEnv HOME", False),
])
def test_refused_with_apaches_message(tmp_path, line: str, loaded: bool) -> None:
    path = _conf(str(tmp_path), line, loaded)
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode != 0
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).strip() == apache.stderr.strip()


def _message(line: str) -> str:
    """An error-log line without its time stamp and pid (which differ)."""
    return line.split("] ", 3)[-1] if line.startswith("[") else line


def test_startup_warnings_match_apache(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FC_ENV_TEST_UNDEFINED", raising=False)
    path = _conf(str(tmp_path), "PassEnv FC_ENV_TEST_UNDEFINED\nSetEnv NAME=VALUE x")
    apache = subprocess.run([APACHE, "-t", "-f", path], capture_output=True, text=True)
    assert apache.returncode == 0
    ours = subprocess.run([sys.executable, "-m", "fastcore", "-t", "-f", path],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=REPO))
    assert ours.returncode == 0
    want = [_message(x) for x in apache.stderr.splitlines() if "[env:warn]" in x]
    assert len(want) == 2
    assert [_message(x) for x in ours.stderr.splitlines() if "[env:warn]" in x] == want
