"""CI's short fuzzing run: every target of fuzz/ over its saved corpus plus the
regression inputs of bugs already fixed (tests/fuzz/regressions/<target>/), then a fixed
number of fresh mutations, so that a fixed crash coming back fails the build.

The C targets are built here with clang (-fsanitize=fuzzer,address,undefined, fuzz/
build.sh; .ci/run installs clang) and run with -timeout=1 and leak detection: a crash, a
sanitizer report, an input slower than 1 s or a leak is a non-zero exit.  The Python
targets (fuzz/py) replay the same files in-process, then run a short atheris session."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from types import ModuleType

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(ROOT, "fuzz")
REGRESSIONS = os.path.join(ROOT, "tests", "fuzz", "regressions")
C_TARGETS = sorted(f[:-2] for f in os.listdir(FUZZ) if f.endswith(".c"))
PY_TARGETS = sorted(f[:-3] for f in os.listdir(os.path.join(FUZZ, "py"))
                    if f.endswith(".py") and not f.startswith("_"))
MUTATIONS = 20000  # fresh inputs per C target after the corpus (a few seconds each)


def _inputs(target: str) -> list[str]:
    dirs = [os.path.join(FUZZ, "corpus", target), os.path.join(REGRESSIONS, target)]
    return sorted(os.path.join(d, f) for d in dirs if os.path.isdir(d) for f in os.listdir(d))


def test_every_target_has_a_seed_corpus() -> None:
    for t in C_TARGETS + PY_TARGETS:
        assert len(os.listdir(os.path.join(FUZZ, "corpus", t))) >= 3, t


@pytest.fixture(scope="module")
def harnesses(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = str(tmp_path_factory.mktemp("fuzzbin"))
    proc = subprocess.run([os.path.join(FUZZ, "build.sh")], env=dict(os.environ, OUT=out),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.timeout(600)
@pytest.mark.parametrize("target", C_TARGETS)
def test_c_target_survives_corpus_and_mutations(harnesses: str, target: str, tmp_path) -> None:
    files = _inputs(target)
    assert files
    # the saved inputs one by one (a crash names its file), then fresh mutations
    replay = subprocess.run([os.path.join(harnesses, target), "-timeout=1", "-detect_leaks=1",
                             "-runs=1", *files], capture_output=True, text=True, timeout=300)
    assert replay.returncode == 0, replay.stderr[-4000:]
    work = tmp_path / "corpus"
    work.mkdir()
    fuzz = subprocess.run(
        [os.path.join(harnesses, target), "-timeout=1", "-detect_leaks=1", "-max_len=40000",
         f"-runs={MUTATIONS}", f"-artifact_prefix={tmp_path}/", "-seed=1", str(work),
         os.path.join(FUZZ, "corpus", target)],
        capture_output=True, text=True, timeout=300)
    assert fuzz.returncode == 0, fuzz.stderr[-4000:]
    assert f"#{MUTATIONS}" in fuzz.stderr and "DONE" in fuzz.stderr


def _load(target: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fuzz_py_{target}",
                                                  os.path.join(FUZZ, "py", target + ".py"))
    assert spec and spec.loader
    sys.path.insert(0, os.path.join(FUZZ, "py"))
    try:
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(os.path.join(FUZZ, "py"))
    return mod


@pytest.mark.parametrize("target", PY_TARGETS)
def test_python_target_replays_corpus_and_regressions(target: str) -> None:
    mod = _load(target)
    files = _inputs(target)
    assert files
    for path in files:
        with open(path, "rb") as fh:
            mod.test_one_input(fh.read())  # an exception here names the input in the trace


@pytest.mark.timeout(300)
@pytest.mark.parametrize("target", PY_TARGETS)
def test_python_target_short_atheris_run(target: str, tmp_path) -> None:
    import atheris  # noqa: F401  (the test extra has it; the replay above runs without it)

    work = tmp_path / "corpus"
    work.mkdir()
    runs = 300 if target in ("config", "htaccess") else 3000
    proc = subprocess.run(
        [sys.executable, os.path.join(FUZZ, "py", target + ".py"), "-timeout=1",
         f"-runs={runs}", f"-artifact_prefix={tmp_path}/", "-seed=1",
         str(work), os.path.join(FUZZ, "corpus", target)],
        capture_output=True, text=True, timeout=280, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "DONE" in proc.stderr
