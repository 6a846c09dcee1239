"""The tuning advisor: known configurations give the guide's findings, at their lines,
with the per-request costs counted from the configuration and the document root."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fastcore.advise import Advisor, main
from fastcore.config import load

MODS = "/usr/lib/apache2/modules"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAD = """LoadModule mpm_{mpm}_module {mods}/mod_mpm_{mpm}.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule authz_host_module {mods}/mod_authz_host.so
LoadModule dir_module {mods}/mod_dir.so
LoadModule mime_module {mods}/mod_mime.so
LoadModule status_module {mods}/mod_status.so
ServerRoot "{root}"
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error_log"
Listen 127.0.0.1:18080
DocumentRoot "{root}/www"
"""
IDEAL = """<Directory />
  Options FollowSymLinks
  AllowOverride None
</Directory>
"""


def advise(tmp_path, body: str, mpm: str = "event") -> list:
    (tmp_path / "www").mkdir(exist_ok=True)
    conf = tmp_path / "httpd.conf"
    conf.write_text(HEAD.format(mpm=mpm, mods=MODS, root=tmp_path) + body)
    return Advisor(load(str(conf))).run().findings


def by_rule(findings: list) -> dict:
    out: dict = {}
    for f in findings:
        out.setdefault(f.rule, []).append(f)
    return out


def line_of(tmp_path, text: str) -> int:
    lines = (tmp_path / "httpd.conf").read_text().splitlines()
    return next(i for i, ln in enumerate(lines, 1) if ln.strip() == text)


def test_ideal_configuration_has_no_finding(tmp_path) -> None:
    assert advise(tmp_path, IDEAL) == []


def test_symlink_checks_cost_one_lstat_per_component(tmp_path) -> None:
    found = by_rule(advise(tmp_path, "<Directory />\n  Options SymLinksIfOwnerMatch\n"
                                     "  AllowOverride None\n</Directory>\n"))
    [f] = found["symlinks"]
    # the guide's count: every directory from / to the DocumentRoot, plus the file
    depth = len([p for p in str(tmp_path / "www").split("/") if p]) + 1
    assert f.syscalls_per_request == depth
    assert (f.file, f.line) == (str(tmp_path / "httpd.conf"),
                                line_of(tmp_path, "Options SymLinksIfOwnerMatch"))


def test_symlink_checks_below_the_docroot_only_cost_there(tmp_path) -> None:
    www = tmp_path / "www"
    body = IDEAL + (f'<Directory "{www}">\n  Options -FollowSymLinks +SymLinksIfOwnerMatch\n'
                    "</Directory>\n")
    [f] = by_rule(advise(tmp_path, body))["symlinks"]
    assert f.syscalls_per_request == 1  # the file itself: the guide's recommended layout


def test_allowoverride_counts_htaccess_attempts_from_where_it_is_allowed(tmp_path) -> None:
    www = tmp_path / "www"
    found = by_rule(advise(tmp_path, IDEAL + f'<Directory "{www}">\n  AllowOverride All\n'
                                               "</Directory>\n"))
    [f] = found["allowoverride"]
    assert f.syscalls_per_request == 1
    found = by_rule(advise(tmp_path, "<Directory />\n  Options FollowSymLinks\n"
                                     "  AllowOverride All\n</Directory>\n"))
    depth = len([p for p in str(www).split("/") if p]) + 1  # / and each directory below it
    assert found["allowoverride"][0].syscalls_per_request == depth


def test_dns_rules_measure_a_lookup(tmp_path) -> None:
    www = tmp_path / "www"
    found = by_rule(advise(tmp_path, IDEAL + "HostnameLookups Double\n"
                           f'<Directory "{www}">\n  Require host localhost\n</Directory>\n'))
    [h] = found["hostname-lookups"]
    [r] = found["host-access"]
    assert h.line == line_of(tmp_path, "HostnameLookups Double")
    assert r.line == line_of(tmp_path, "Require host localhost")
    assert h.ms_per_request is not None and h.ms_per_request > 0
    assert r.ms_per_request == h.ms_per_request  # two lookups each: reverse + forward


def test_negotiation_status_and_process_rules(tmp_path) -> None:
    body = IDEAL + ("ExtendedStatus On\nKeepAliveTimeout 30\nMaxConnectionsPerChild 500\n"
                    "Listen 127.0.0.1:18081\n"
                    f'<Directory "{tmp_path}/www">\n  Options +MultiViews\n'
                    "  DirectoryIndex index index.html\n</Directory>\n")
    found = by_rule(advise(tmp_path, body, mpm="prefork"))
    assert set(found) == {"extendedstatus", "keepalive-timeout", "max-connections-per-child",
                          "accept-mutex", "multiviews", "directoryindex-wildcard"}
    assert "index" in found["directoryindex-wildcard"][0].message
    assert found["accept-mutex"][0].line == line_of(tmp_path, "Listen 127.0.0.1:18081")
    # the event MPM neither serializes accept nor holds a worker for an idle connection
    found = by_rule(advise(tmp_path, body, mpm="event"))
    assert "accept-mutex" not in found and "keepalive-timeout" not in found


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_command_line(tmp_path, fmt: str, capsys) -> None:
    advise(tmp_path, "KeepAlive Off\n" + IDEAL)
    args = ["-f", str(tmp_path / "httpd.conf")] + (["--json"] if fmt == "json" else [])
    assert main(args) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        [f] = json.loads(out)["findings"]
        assert f["rule"] == "keepalive-off" and f["syscalls_per_request"] == 6.0
    else:
        assert f"{tmp_path / 'httpd.conf'}:{line_of(tmp_path, 'KeepAlive Off')}: " \
               "[keepalive-off]" in out


def test_subcommand_reports_a_broken_config_with_file_and_line(tmp_path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(HEAD.format(mpm="event", mods=MODS, root=tmp_path) + "KeepAlive Maybe\n")
    (tmp_path / "www").mkdir()
    p = subprocess.run([sys.executable, "-m", "fastcore", "advise", "-f", str(conf)],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 1
    assert f"line 12 of {conf}" in p.stderr and "KeepAlive" in p.stderr
    assert "Traceback" not in p.stderr
