"""The `atomics` build option end to end: a portable build (mutex counters, no CAS code)
says so in -V and passes the scoreboard's own tests, including the kill-while-holding one.
CI's main install is `auto` (nonportable here), so this is where the portable build runs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def portable_build(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("portable")
    src, target = tmp / "src", tmp / "target"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "*.so", "*.egg-info", "__pycache__", ".pytest_cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(src), "-C", "atomics=portable"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return str(target)


def _env(target: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=target)
    env.pop("FASTCORE_NO_EXTENSIONS", None)
    return env


def test_version_reports_the_portable_build(portable_build: str, tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "fastcore", "-V"], capture_output=True,
                         text=True, env=_env(portable_build), cwd=str(tmp_path), timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Atomics:        portable (" in out.stdout
    assert 'FC_ATOMICS_MODE="portable"' in out.stdout


def test_scoreboard_suite_passes_on_the_portable_build(portable_build: str, tmp_path) -> None:
    tests = os.path.join(ROOT, "tests")
    shutil.copy(os.path.join(tests, "core", "test_scoreboard.py"),
                tmp_path / "test_scoreboard_portable.py")
    # its fixtures and helpers, and nothing else of the tree (fastcore comes from the build)
    shutil.copy(os.path.join(tests, "conftest.py"), tmp_path / "conftest.py")
    shutil.copytree(os.path.join(tests, "support"), tmp_path / "support",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), str(tmp_path / "test_scoreboard_portable.py")],
                         capture_output=True, text=True, env=_env(portable_build),
                         cwd=str(tmp_path), timeout=300)
    assert out.returncode == 0, out.stdout[-3000:]
    probe = subprocess.run([sys.executable, "-c",
                            "import fastcore._scoreboard as s; print(s.ATOMICS_MODE, s.__file__)"],
                           capture_output=True, text=True, env=_env(portable_build),
                           cwd=str(tmp_path), timeout=60)
    mode, path = probe.stdout.split()
    assert mode == "portable" and path.startswith(portable_build)
