"""fastcore: an Apache-httpd-2.4-compatible static web server with Cython hot paths."""
from __future__ import annotations

import os
import sys

__version__ = "0.1.0"
SERVER_SOFTWARE = "fastcore"


def _has_compiled(folder: str) -> bool:
    """True when `folder` holds compiled extension modules (fastcore/_*.so)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    return any(n.startswith("_") and n.endswith((".so", ".pyd")) for n in names)


def _borrow_installed_extensions() -> None:
    """Run from a source checkout (the repo root shadows site-packages): find the compiled
    extensions of the installed copy and append its folder to this package's search path,
    so `pip install . && python -m fastcore` works from the root folder too."""
    here = os.path.dirname(os.path.abspath(__file__))
    if _has_compiled(here):
        return
    for entry in sys.path:
        candidate = os.path.join(os.path.abspath(entry or os.curdir), "fastcore")
        if candidate != here and _has_compiled(candidate) and not _same(candidate, here):
            __path__.append(candidate)  # noqa: F821 - package __path__
            return


def _same(a: str, b: str) -> bool:
    # stat, not realpath: no lstat walk of every path component at import time
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


_borrow_installed_extensions()
