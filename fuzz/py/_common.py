"""Shared by the Python fuzz targets: the repository on sys.path, and `main` running a
target's test_one_input under atheris (libFuzzer for Python; coverage of fastcore's
bytecode through atheris.instrument_imports).  Without atheris the targets are plain
functions: tests/fuzz/test_fuzz_regressions.py replays the saved corpus through them."""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def main(target: Callable[[bytes], None]) -> None:
    """Run `target` under atheris with libFuzzer's command line (sys.argv)."""
    import atheris

    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


@contextmanager
def instrument(name: str, packages: tuple[str, ...] = ()) -> Iterator[None]:
    """Around a target's fastcore imports: atheris' coverage instrumentation when the
    target runs as the fuzzer (__main__), nothing when it is imported for a replay.
    `packages` are imported whole inside the block: fastcore imports much lazily, and
    atheris instruments only what is imported here."""
    if name != "__main__":
        yield
        return
    import atheris

    with atheris.instrument_imports(include=["fastcore"]):
        yield
        for pkg in packages:
            mod = importlib.import_module(pkg)
            for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
                importlib.import_module(info.name)
