"""Shared test set-up: tests/support (the Apache oracle, the generated sites, the process
helpers) and tests/ itself are importable from every test folder."""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "support"))
# Test files still borrowing helpers from one another across folders (test_mpm_harness,
# test_config_common, ...): until those helpers live in tests/support.
for _sub in ("core", "integration", "modules"):
    sys.path.append(os.path.join(_HERE, _sub))
