"""The two sides of every hot path: the Cython extension (fastcore._NAME) and its
pure-Python twin (fastcore._pure.NAME, what FASTCORE_NO_EXTENSIONS=1 loads).  The `impl`
fixture of tests/conftest.py runs a test once on each; a parity test that needs both at
once walks IMPLEMENTATIONS."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Implementation:
    """Which side: `twin` False is the extension, True the pure-Python twin."""

    twin: bool

    @property
    def id(self) -> str:
        return "pure" if self.twin else "cython"

    def module_name(self, name: str) -> str:
        return f"fastcore._pure.{name}" if self.twin else f"fastcore._{name}"

    def load(self, name: str) -> ModuleType:
        return importlib.import_module(self.module_name(name))


IMPLEMENTATIONS = (Implementation(twin=False), Implementation(twin=True))
