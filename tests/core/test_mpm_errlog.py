"""The MPM's error log follows the main server's per-module LogLevel
(`LogLevel warn mpm_prefork:info`), as httpd's does."""
from __future__ import annotations

from fastcore.mpm.errlog import ErrorLog


def test_module_level_overrides_the_server_level(tmp_path) -> None:
    path = str(tmp_path / "error_log")
    log = ErrorLog(path, "warn", threaded=False, modules={"mpm_prefork": "info"})
    log.log("info", "mpm_prefork", "AH00162: server seems busy")
    log.log("info", "core", "a core info line")
    log.set_levels("warn")  # a restart without the module level
    log.log("info", "mpm_prefork", "after restart")
    log.close()
    text = (tmp_path / "error_log").read_text()
    assert "[mpm_prefork:info]" in text and "AH00162" in text
    assert "a core info line" not in text and "after restart" not in text
