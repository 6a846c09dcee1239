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


# The `sanitize` build option: the extensions compiled with ASan + UBSan, and the saved
# fuzz corpora replayed through them (tests/fuzz/replay_extensions.py).  Only the two
# extensions that parse untrusted bytes (and the scoreboard and TLS table _fastpath
# imports) are built.
@pytest.fixture(scope="module")
def sanitized_build(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("sanitized")
    src, target = tmp / "src", tmp / "target"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "*.so", "*.egg-info", "__pycache__", ".pytest_cache", "bin", "work",
        "crashes"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(src), "-C", "sanitize=address,undefined"],
        capture_output=True, text=True, timeout=900,
        env=dict(os.environ, FASTCORE_BUILD_ONLY="_request,_fastpath,_scoreboard,_tls"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return str(target)


def _libasan() -> str:
    out = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                         text=True, timeout=30)
    return out.stdout.strip()


@pytest.mark.timeout(1200)
def test_sanitize_option_links_the_sanitizers(sanitized_build: str) -> None:
    sos = [os.path.join(dp, f) for dp, _d, fs in os.walk(sanitized_build) for f in fs
           if f.endswith(".so") and f.startswith(("_request", "_fastpath"))]
    assert len(sos) == 2, sos
    for so in sos:
        needed = subprocess.run(["readelf", "-d", so], capture_output=True, text=True).stdout
        assert "libasan" in needed and "libubsan" in needed, needed


@pytest.mark.timeout(1200)
def test_fuzz_corpora_replay_clean_through_the_sanitized_extensions(sanitized_build: str,
                                                                     tmp_path) -> None:
    env = _env(sanitized_build)
    # Python itself is not instrumented: preload the runtime; CPython's arenas live until
    # exit by design, so leak checking is the libFuzzer targets' job (fuzz/)
    env.update(LD_PRELOAD=_libasan(), ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
               # the modules config code loads through fastcore._ext (pcre, ...) are not in
               # this build: their twins; replay_extensions imports the two built ones itself
               FASTCORE_NO_EXTENSIONS="1")
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "fuzz",
                                                       "replay_extensions.py")],
                         capture_output=True, text=True, env=env, cwd=str(tmp_path),
                         timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.startswith("replayed "), out.stdout
    probe = subprocess.run([sys.executable, "-c", "import fastcore._request as r; print(r.__file__)"],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=60)
    assert probe.stdout.strip().startswith(sanitized_build), probe.stdout + probe.stderr
