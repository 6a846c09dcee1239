"""Fixtures every test folder shares.  The helpers themselves live in the package
tests/support (importable as `support`: [tool.pytest.ini_options] pythonpath)."""
from __future__ import annotations

import pytest
from support.twins import IMPLEMENTATIONS, Implementation


@pytest.fixture(params=IMPLEMENTATIONS, ids=[i.id for i in IMPLEMENTATIONS])
def impl(request: pytest.FixtureRequest) -> Implementation:
    """Run the test on the Cython extension, then on its pure-Python twin."""
    return request.param
