"""The load harness's best-tuned peers (issue 12) really serve the benchmark files: h2o
and nginx-tuned start from their generated configs, answer every file with its exact
size, and write the access log the comparison assumes (one line per request)."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from harness import servers


@pytest.fixture(scope="module")
def docroot() -> Iterator[str]:
    base = tempfile.mkdtemp(prefix="fc-harness-peers-")
    os.chmod(base, 0o755)
    yield servers.make_docroot(base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("name,log", [("h2o", "access.log"), ("nginx-tuned", "access.log"),
                                      ("nginx", "access.log")])
def test_peer_serves_every_file_and_logs(docroot: str, name: str, log: str) -> None:
    spec = next(s for s in servers.peer_specs() if s.name == name)
    run = spec.start(docroot, None)  # raises StartError unless all FILES come back whole
    try:
        for fname, size in servers.FILES.items():
            assert servers.http_get(run.port, fname) == (200, size)
        assert servers.http_get(run.port, "missing.html")[0] == 404
    finally:
        run.stop()
    with open(os.path.join(run.workdir, log)) as f:  # buffered logs are flushed on stop
        lines = f.read().splitlines()
    servers.cleanup(run)
    assert sum('"GET /10k.html HTTP/1.0" 200 10240' in ln for ln in lines) >= 2, lines[-5:]
    assert any('"GET /missing.html HTTP/1.0" 404' in ln for ln in lines), lines[-5:]
