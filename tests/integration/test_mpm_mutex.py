"""Two Listen ports under load with every accept mutex mechanism: both served, none starved."""
from __future__ import annotations

import os

import pytest
from support.ab import finish_ab, start_ab
from support.servers import FastcoreServer

from fastcore._ext import load

MECHANISMS = [m for m in load("accept").MECHANISMS]
SIZING = {
    "prefork": "StartServers 6\nMinSpareServers 4\nMaxSpareServers 12\n",
    "worker": "StartServers 2\nThreadsPerChild 8\nMinSpareThreads 8\nMaxSpareThreads 32\n",
    "event": "StartServers 2\nThreadsPerChild 8\nMinSpareThreads 8\nMaxSpareThreads 32\n",
}
DIRECTIVE = ("default", "none", "fcntl", "flock", "sysvsem", "posixsem", "pthread")


def _by_directive(mpm: str, mechanism: str) -> bool:
    """`Mutex X mpm-accept` as httpd knows it (prefork and worker only; event has no
    accept mutex directive, so the mechanism is set on the loaded configuration)."""
    return mpm != "event" and mechanism in DIRECTIVE


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("mpm", ["prefork", "worker", "event"])
def test_two_ports_both_served(tmp_path, mpm: str, mechanism: str) -> None:
    tmp = str(tmp_path)
    extra = SIZING[mpm]
    by_directive = _by_directive(mpm, mechanism)
    if by_directive:
        extra += f"Mutex {mechanism} mpm-accept\n"
    srv = FastcoreServer(tmp, mpm, extra, nports=2,
                         mutex="" if by_directive else mechanism).start()
    try:
        a = start_ab(srv.ports[0], 1500, 8)
        b = start_ab(srv.ports[1], 1500, 8)
        ra, rb = finish_ab(a), finish_ab(b)
        assert (ra.complete, ra.failed) == (1500, 0), ra.output
        assert (rb.complete, rb.failed) == (1500, 0), rb.output
    finally:
        srv.stop()
    assert not [f for f in os.listdir(tmp) if f.startswith("fastcore-accept")]
