"""Fixtures every test folder shares.  The helpers themselves live in the package
tests/support (importable as `support`: pytest puts tests/ on sys.path for this file,
and [tool.pytest.ini_options] pythonpath names it for any other entry point)."""
from __future__ import annotations
