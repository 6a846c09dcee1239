"""Configuration checks run the way a user runs them: `apache2 -t -f` or `fastcore -t -f`
in a subprocess (run_check), fastcore's command line in this process (fastcore_in_process),
and the header every corpus and variant configuration starts with (corpus_header)."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path

from fastcore.cli import main
from fastcore.modules import REGISTRY
from support.apache_oracle import MODDIR, REPO

MPMS = {"mpm_event_module", "mpm_worker_module", "mpm_prefork_module"}


def corpus_header(tmp: Path, meta: dict) -> str:
    lines = [f"ServerRoot {tmp}", f"PidFile {tmp}/run/httpd.pid",
             f"DefaultRuntimeDir {tmp}/run", f"ErrorLog {tmp}/logs/error.log"]
    if meta["mpm"] != "none":
        mpm = meta["mpm"]
        lines.append(f"LoadModule mpm_{mpm}_module {MODDIR}/mod_mpm_{mpm}.so")
    for mod in sorted(REGISTRY.loadable() - MPMS - set(meta["without"])):
        base = mod[:-len("_module")]
        lines.append(f"LoadModule {mod} {MODDIR}/mod_{base}.so")
    lines += ["Listen 127.0.0.1:18080", "ServerName localhost"]
    return "\n".join(lines) + "\n"


def run_check(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, FC_CORPUS_ROOT=str(cwd), PYTHONPATH=str(REPO))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd, env=env)


def fastcore_in_process(conf: Path, args: list[str]) -> subprocess.CompletedProcess:
    """`fastcore.cli.main(["-t", "-f", conf, ...])`: the function `python3 -m fastcore`
    runs, without one interpreter start per case (the subprocess path is checked on a
    sample by test_command_line_matches_in_process)."""
    out, err = io.StringIO(), io.StringIO()
    old_env = os.environ.get("FC_CORPUS_ROOT")
    os.environ["FC_CORPUS_ROOT"] = str(conf.parent)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["-t", "-f", str(conf), *args])
    finally:
        if old_env is None:
            os.environ.pop("FC_CORPUS_ROOT", None)
        else:
            os.environ["FC_CORPUS_ROOT"] = old_env
    return subprocess.CompletedProcess(["fastcore"], rc, out.getvalue(), err.getvalue())
