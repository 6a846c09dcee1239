"""`SetHandler metrics` against the real consumer: Debian's prometheus-apache-exporter.

The exporter scraping `/server-status?auto` (of Apache, and of fastcore) and fastcore's
native endpoint must publish the same families with the same labels and, for what does not
move between two scrapes, the same values. Both are read with prometheus_client's parser.
"""
from __future__ import annotations

import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.apache_oracle import ApacheOracle
from support.ports import free_port, wait_port
from support.status_site import EVENT_BODY

from fastcore.modules.mod_status.metrics import render_from_auto, version_number

EXPORTER = "/usr/bin/prometheus-apache-exporter"
# the status comparison's event-MPM site (one child of four threads), plus /metrics
BODY = EVENT_BODY + """<Location /metrics>
  SetHandler metrics
</Location>
"""
MODS = ("mpm_event", "authz_core", "authz_host", "mime", "dir", "alias", "status")
# values that cannot change between the exporter's scrape and ours
STABLE = ("apache_up", "apache_info", "apache_generation", "apache_version",
          "apache_processes")


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.startswith("apache_") and not s.name.startswith("apache_exporter"):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def exporter_view(port: int) -> dict[tuple[str, tuple], float]:
    ep = free_port()
    proc = subprocess.Popen([EXPORTER, f"--scrape_uri=http://127.0.0.1:{port}/server-status?auto",
                             f"--telemetry.address=127.0.0.1:{ep}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(ep)
        return samples(fetch(f"http://127.0.0.1:{ep}/metrics"))
    finally:
        proc.terminate()
        proc.wait(10)


def agree(theirs: dict, ours: dict) -> None:
    """Same families and labels; equal where nothing moves between the two scrapes; a
    counter read later is never lower. (The exporter 0.12 reports uptime and the
    connection gauges as 0 against Apache itself: those are compared by presence.)"""
    assert set(theirs) == set(ours), (set(theirs) ^ set(ours))
    for key, value in theirs.items():
        if key[0] in STABLE:
            assert ours[key] == value, key
        elif key[0].endswith("_total"):
            assert ours[key] >= value, key


def test_rendering_of_apaches_auto_matches_the_exporters(tmp_path) -> None:
    """The mapping itself: Apache's ?auto through render_from_auto gives the exporter's
    families, labels and values."""
    root = tmp_path / "root"
    root.mkdir()
    body = BODY.format(root=root, ext="On").replace("<Location /metrics>\n  SetHandler metrics\n"
                                          "</Location>\n", "")
    with ApacheOracle(str(tmp_path), body, modules=MODS) as ap:
        theirs = exporter_view(ap.port)
        auto = fetch(f"http://127.0.0.1:{ap.port}/server-status?auto")
    agree(theirs, samples(render_from_auto(auto).decode()))


@pytest.mark.parametrize("extended", ["On", "Off"])
def test_native_endpoint_matches_the_exporter_on_fastcore(tmp_path, extended: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.html").write_text("hello\n")
    body = BODY.format(root=root, ext=extended)
    with ApacheOracle(str(tmp_path), body, modules=MODS, fastcore=True) as fc:
        for _ in range(5):
            fetch(f"http://127.0.0.1:{fc.port}/a.html")
        theirs = exporter_view(fc.port)
        text = fetch(f"http://127.0.0.1:{fc.port}/metrics")
    ours = samples(text)
    assert theirs[("apache_up", ())] == 1  # the exporter parses fastcore's ?auto
    info = [k for k in theirs if k[0] == "apache_info"]
    assert info == [("apache_info", (("mpm", "event"),
                                     ("version", f"fastcore/{version()} (Linux)")))]
    assert theirs[("apache_version", ())] == float(version_number(f"fastcore/{version()}"))
    if extended == "On":
        agree(theirs, ours)
    else:  # ?auto has no totals then; the native endpoint always has them
        assert set(theirs) < set(ours)
    assert ours[("apache_accesses_total", ())] >= 5
    assert ours[("apache_workers", (("state", "busy"),))] >= 1  # this very request


def version() -> str:
    import fastcore

    return fastcore.__version__
