"""MPM sizing follows httpd 2.4's defaults and corrections (fastcore.mpm.sizing)."""
from __future__ import annotations

import pytest

from fastcore.config.model import MpmConfig
from fastcore.mpm.sizing import compute


def test_event_defaults_match_httpd() -> None:
    s = compute(MpmConfig(name="event"))
    assert (s.server_limit, s.thread_limit, s.threads_per_child) == (16, 64, 25)
    assert (s.max_request_workers, s.daemons_limit, s.start_servers) == (400, 16, 3)
    assert (s.min_spare, s.max_spare) == (75, 250)
    assert s.warnings == []


def test_prefork_defaults_match_httpd() -> None:
    s = compute(MpmConfig(name="prefork"))
    assert (s.server_limit, s.thread_limit, s.max_request_workers) == (256, 1, 256)
    assert (s.start_servers, s.min_spare, s.max_spare) == (5, 5, 10)


def test_not_multiple_of_threads_rounds_down_with_warning() -> None:
    s = compute(MpmConfig(name="event", threads_per_child=25, max_request_workers=30))
    assert s.max_request_workers == 25 and s.daemons_limit == 1
    assert s.warnings == ["AH00513: WARNING: MaxRequestWorkers of 30 is not an integer multiple "
                          "of ThreadsPerChild of 25, decreasing to nearest multiple 25, for a "
                          "maximum of 1 servers."]


def test_server_limit_caps_workers() -> None:
    s = compute(MpmConfig(name="worker", threads_per_child=5, server_limit=2))
    assert (s.daemons_limit, s.max_request_workers) == (2, 10)
    assert s.warnings[0].startswith("AH00318: WARNING: MaxRequestWorkers of 400 would require "
                                    "80 servers and would exceed ServerLimit of 2, decreasing to 10.")


def test_threads_per_child_capped_by_thread_limit_then_workers_raised() -> None:
    s = compute(MpmConfig(name="event", threads_per_child=100, max_request_workers=30))
    assert s.threads_per_child == 64 and s.max_request_workers == 64
    assert [w[:7] for w in s.warnings] == ["AH00507", "AH00511"]


def test_prefork_workers_above_server_limit() -> None:
    s = compute(MpmConfig(name="prefork", max_request_workers=300))
    assert s.max_request_workers == 256
    assert s.warnings[0].startswith("AH00180: WARNING: MaxRequestWorkers of 300 exceeds "
                                    "ServerLimit value of 256 servers")


def test_zero_values_raised_to_one() -> None:
    s = compute(MpmConfig(name="prefork", start_servers=0, min_spare_servers=0,
                          max_spare_servers=0))
    assert (s.start_servers, s.min_spare, s.max_spare) == (1, 1, 2)
    assert [w[:7] for w in s.warnings] == ["AH00184", "AH00186"]


def test_max_spare_threads_at_least_min_plus_one_child() -> None:
    s = compute(MpmConfig(name="worker", min_spare_threads=50, max_spare_threads=10))
    assert s.max_spare == 75 and s.warnings == []


def test_start_servers_capped_silently() -> None:
    s = compute(MpmConfig(name="prefork", start_servers=50, max_request_workers=10))
    assert s.start_servers == 10 and s.warnings == []


def test_restart_keeps_scoreboard_limits() -> None:
    first = compute(MpmConfig(name="event", server_limit=4, threads_per_child=4,
                              max_request_workers=16))
    again = compute(MpmConfig(name="event", server_limit=8, thread_limit=128,
                              threads_per_child=4, max_request_workers=32), previous=first)
    assert (again.server_limit, again.thread_limit, again.daemons_limit) == (4, 64, 4)
    assert any("ServerLimit" in w and "not allowed during restart" in w for w in again.warnings)


def test_unknown_mpm_rejected() -> None:
    with pytest.raises(ValueError):
        compute(MpmConfig(name="winnt"))
