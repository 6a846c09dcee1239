"""src/fc_dirsig.h (fastcore._dirsig) and its twin _pure/dirsig.py give the same answer
for a cached listing's revalidation: unchanged entries, each kind of change, an entry
that failed to stat and still fails, malformed specs, a missing directory."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fastcore import _dirsig
from fastcore._pure import dirsig as pure


def snapshot(d: Path, names: list[str]) -> bytes:
    stats: list[tuple[bytes, os.stat_result | None]] = []
    for n in names:
        try:
            stats.append((n.encode(), os.lstat(d / n)))
        except OSError:
            stats.append((n.encode(), None))
    return pure.encode(stats)


def both(d: Path, spec: bytes) -> bool:
    c, p = _dirsig.stats_ok(os.fsencode(str(d)), spec), pure.stats_ok(os.fsencode(str(d)), spec)
    assert c == p
    return c


def _touch(d: Path) -> None:
    os.utime(d / "a.txt", (1, 1))


def _grow(d: Path) -> None:
    st = os.stat(d / "a.txt")
    with open(d / "a.txt", "a") as f:
        f.write("more")
    os.utime(d / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns))


def _remove(d: Path) -> None:
    (d / "a.txt").unlink()


def _create_missing(d: Path) -> None:
    (d / "gone").write_text("")


def _chmod(d: Path) -> None:
    os.chmod(d / "a.txt", 0o600)


def _replace(d: Path) -> None:
    st = os.stat(d / "a.txt")
    (d / "t").write_text("x" * st.st_size)
    os.utime(d / "t", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(d / "t", d / "a.txt")


def _symlink(d: Path) -> None:
    (d / "b.txt").unlink()
    os.symlink("a.txt", d / "b.txt")


CHANGES: dict[str, Callable[[Path], None]] = {
    "touch": _touch, "grow": _grow, "remove": _remove, "create-missing": _create_missing,
    "chmod": _chmod, "replace": _replace, "symlink": _symlink}


def setup_dir(tmp_path: Path) -> tuple[Path, bytes]:
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.txt").write_text("aaa")
    (d / "b.txt").write_text("bb")
    (d / "sub").mkdir()
    return d, snapshot(d, ["a.txt", "b.txt", "sub", "gone"])


def test_unchanged_is_valid(tmp_path: Path) -> None:
    d, spec = setup_dir(tmp_path)
    assert both(d, spec) is True
    assert both(d, b"") is True


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_change_is_seen(tmp_path: Path, change: str) -> None:
    d, spec = setup_dir(tmp_path)
    CHANGES[change](d)
    assert both(d, spec) is False


@pytest.mark.parametrize("spec", [b"a.txt", b"a.txt\0short", b"\0" + b"\0" * 41,
                                  b"x/y\0" + b"\0" * 41])
def test_malformed_spec(tmp_path: Path, spec: bytes) -> None:
    d, _spec = setup_dir(tmp_path)
    assert both(d, spec) is False


def test_missing_directory(tmp_path: Path) -> None:
    d, spec = setup_dir(tmp_path)
    assert both(tmp_path / "nope", spec) is False
    assert both(d / "a.txt", spec) is False  # not a directory
