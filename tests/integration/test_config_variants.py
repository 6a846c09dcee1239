"""Generated variants of the configuration families where fastcore's verdict used to
differ from Apache's (config_variants.py): each one goes through `apache2 -t -f` and
fastcore's `-t` at test time, and the verdicts must agree; where fastcore refuses, its
message names the file and the line (past the common header, in the variant's own text),
the same file, line and message as Apache's (ap_expr's parser wording aside).

The common header is test_config_corpus's (every module fastcore implements loaded, the
event MPM, logs in the variant's folder).
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.apache_oracle import APACHE, MODDIR, REPO
from support.config_checks import corpus_header, fastcore_in_process, run_check
from support.config_variants import FAMILIES, Variant, all_variants
from support.ports import free_port
from support.proc_helpers import stop_group

VARIANTS = all_variants()
# ~1500 `apache2 -t` runs happen in the fixture, inside the first test's time budget
pytestmark = pytest.mark.timeout(1200)
SYNTAX_ERROR = re.compile(r"Syntax error on line (\d+) of (\S+?):?\s+(.*)", re.S)
META = {"expect": None, "args": [], "mpm": "event", "without": []}


def _prepare(vid: str, v: Variant, root: Path) -> tuple[Path, int]:
    tmp = root / vid
    for sub in ("run", "logs"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    for name, text in v.files.items():
        (tmp / name).write_text(text.replace("@@TMP@@", str(tmp)))
    header = corpus_header(tmp, META)
    conf = tmp / "httpd.conf"
    conf.write_text(header + v.text.replace("@@TMP@@", str(tmp)))
    return conf, header.count("\n")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory) -> dict[str, tuple[Path, int, subprocess.CompletedProcess,
                                                  subprocess.CompletedProcess]]:
    root = tmp_path_factory.mktemp("variants")
    jobs = {vid: _prepare(vid, v, root) for vid, v in VARIANTS}

    def apache(vid: str) -> tuple[str, subprocess.CompletedProcess]:
        conf, _n = jobs[vid]
        return vid, run_check([APACHE, "-t", "-f", str(conf)], conf.parent)

    with ThreadPoolExecutor(max_workers=2) as pool:
        ap = dict(pool.map(apache, jobs))
    return {vid: (conf, n, ap[vid], fastcore_in_process(conf, []))
            for vid, (conf, n) in jobs.items()}


def test_every_family_has_both_verdicts(verdicts):
    """The generator is worth running: each family has variants Apache accepts and
    variants it refuses."""
    seen: dict[str, set[bool]] = {}
    for vid, (_conf, _n, ap, _fc) in verdicts.items():
        seen.setdefault(vid.rsplit("-", 1)[0], set()).add(ap.returncode == 0)
    assert len(seen) == len(FAMILIES)
    assert all(v == {True, False} for v in seen.values()), seen


@pytest.mark.parametrize("vid", [vid for vid, _v in VARIANTS])
def test_variant_agrees_with_apache(verdicts, vid):
    conf, nheader, ap, fc = verdicts[vid]
    text = conf.read_text().splitlines()[nheader:]
    assert "Traceback" not in fc.stderr, fc.stderr
    ap_ok, fc_ok = ap.returncode == 0, fc.returncode == 0
    assert fc_ok == ap_ok, ("config:\n" + "\n".join(text) +
                            f"\napache: rc={ap.returncode} {ap.stderr.strip()}"
                            f"\nfastcore: rc={fc.returncode} {fc.stderr.strip()}")
    if fc_ok:
        assert fc.stdout.strip() == "Syntax OK"
        return
    m = SYNTAX_ERROR.search(fc.stderr)
    assert m, fc.stderr
    assert m.group(2) == str(conf) or m.group(2).startswith(str(conf.parent)), fc.stderr
    if m.group(2) == str(conf):
        assert int(m.group(1)) > nheader, fc.stderr
    a = SYNTAX_ERROR.search(ap.stderr)
    if a:  # Apache names a line too: the same file and line, and (but for the wording
        # of ap_expr's parser errors) the same message
        assert (m.group(1), m.group(2)) == (a.group(1), a.group(2)), (ap.stderr, fc.stderr)
        if "expr=" not in "\n".join(text):
            assert (m.group(3).strip().splitlines()[0] ==
                    a.group(3).strip().splitlines()[0]), (ap.stderr, fc.stderr)


def _start_verdict(cmd: list[str], port: int, cwd: Path) -> tuple[bool, str]:
    """Start a server in its own session; (listening?, stderr). It is stopped by PID."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True, ""
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            raise AssertionError(f"{cmd[0]} neither listened nor exited in 30 s")
        return False, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            stop_group(proc)
        if proc.stderr:
            proc.stderr.close()


@pytest.mark.parametrize("first,second", [("127.0.0.1:{p}", "localhost:{p}"),
                                          ("{p}", "0.0.0.0:{p}")])
def test_listen_one_socket_named_twice_at_start(tmp_path, first, second):
    """`apache2 -t` accepts two texts for one socket; starting is where Apache tells them
    apart: 127.0.0.1 and localhost fail the second bind, a wildcard and 0.0.0.0 share a
    socket. fastcore starts (or not) the same way.  Each server has its own port: one
    Apache had just released was once taken again before fastcore's bind."""
    verdicts = {}
    for name, cmd in (("apache", [APACHE]), ("fastcore", [sys.executable, "-m", "fastcore"])):
        port = free_port()
        root = tmp_path / name
        (root / "run").mkdir(parents=True)
        conf = root / "httpd.conf"
        conf.write_text("\n".join([
            f"LoadModule mpm_prefork_module {MODDIR}/mod_mpm_prefork.so",
            f"ServerRoot {root}", f"PidFile {root}/run/httpd.pid",
            f"DefaultRuntimeDir {root}/run", f"ErrorLog {root}/error.log",
            "ServerName localhost", "StartServers 1", "MinSpareServers 1",
            "MaxSpareServers 1", f"Listen {first.format(p=port)}",
            f"Listen {second.format(p=port)}", ""]))
        check = run_check([*cmd, "-t", "-f", str(conf)], root)
        assert check.returncode == 0, check.stderr
        verdicts[name] = _start_verdict([*cmd, "-f", str(conf), "-DFOREGROUND"], port, REPO)
    assert verdicts["apache"][0] == verdicts["fastcore"][0], verdicts
    if not verdicts["fastcore"][0]:
        assert f"could not bind to address 127.0.0.1:{port}" in verdicts["fastcore"][1]
        assert "Address already in use" in verdicts["apache"][1]
