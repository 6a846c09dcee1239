"""Pick each hot-path module: the compiled extension, or its pure-Python twin.

The twin is used only when FASTCORE_NO_EXTENSIONS=1 (DESIGN.md principle 7); a missing
extension without that variable is a loud ImportError, never a silent slow fallback.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType

PURE = os.environ.get("FASTCORE_NO_EXTENSIONS", "") not in ("", "0")


def load(name: str) -> ModuleType:
    """Return fastcore._<name> (extension) or fastcore._pure.<name> (twin)."""
    if PURE:
        return importlib.import_module(f"fastcore._pure.{name}")
    try:
        return importlib.import_module(f"fastcore._{name}")
    except ImportError as exc:
        raise ImportError(
            f"fastcore: the compiled extension fastcore._{name} is missing ({exc}). "
            "Install the package with `pip install .` (it builds the Cython extensions), "
            "or set FASTCORE_NO_EXTENSIONS=1 to run the slow pure-Python twins."
        ) from exc


def implementation() -> str:
    return "pure-python twins (FASTCORE_NO_EXTENSIONS=1)" if PURE else "cython extensions"
