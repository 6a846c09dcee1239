"""The startup banner says which implementation serves (DESIGN principle 7): the slow
pure-Python twins are never a silent fallback."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from support.ports import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("pure,expected", [("1", "pure-python twins"), ("0", "cython extensions")])
def test_banner_announces_the_implementation(tmp_path, pure: str, expected: str) -> None:
    env = dict(os.environ, FASTCORE_NO_EXTENSIONS=pure, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "fastcore", "-p", str(free_port()),
                             str(tmp_path)], stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(tmp_path))
    try:
        banner = proc.stderr.readline()
        notice = proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        proc.stderr.close()
    assert banner.startswith(f"Serving {tmp_path} on http://127.0.0.1:"), banner
    assert expected in banner
    assert "configured -- resuming normal operations" in notice
    assert ("pure-python twins" in notice) == (pure == "1")
