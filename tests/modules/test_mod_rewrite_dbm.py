"""RewriteMap dbm: (mod_rewrite/dbmmap.py and maps.py): apr_dbm reached through ctypes
reads the maps Apache's httxt2dbm writes, of each type; a handle is per process and
follows the file when it is replaced; the answer cache is keyed by the files' mtime; a
rule set with a dbm map is cached under its files' identity; the library's absence is a
startup error naming the file and line."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from support.configs import cfg

from fastcore.config import ConfigError
from fastcore.modules.mod_rewrite import cache as RC
from fastcore.modules.mod_rewrite import config as C
from fastcore.modules.mod_rewrite import dbmmap as D
from fastcore.modules.mod_rewrite import maps as M

HTTXT2DBM = "/usr/sbin/httxt2dbm"
LOAD = "LoadModule rewrite_module modules/mod_rewrite.so\n"


def build(path: Path, text: str, dbmtype: str = "default") -> None:
    """A map as Apache's own tool makes it (written aside, then renamed into place)."""
    src = path.with_suffix(".src")
    src.write_text(text)
    tmp = path.parent / ("new-" + path.name)
    subprocess.run([HTTXT2DBM, "-f", dbmtype, "-i", str(src), "-o", str(tmp)], check=True,
                   capture_output=True)
    if dbmtype.lower() == "sdbm":
        for ext in (".dir", ".pag"):
            os.replace(str(tmp) + ext, str(path) + ext)
    else:
        os.replace(tmp, path)


class Log:
    """The (status, message) lines a look-up logs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, status: str, msg: str) -> None:
        self.lines.append((status, msg))


@pytest.mark.parametrize("dbmtype, files", [
    ("default", ("m.db",)), ("db", ("m.db",)), ("GDBM", ("m.db",)),
    ("sdbm", ("m.db.dir", "m.db.pag")),
])
def test_each_type_reads_httxt2dbm_output(tmp_path: Path, dbmtype: str,
                                          files: tuple[str, ...]) -> None:
    path = tmp_path / "m.db"
    build(path, "about about.txt\n# note\nMixed x/y.txt\n", dbmtype)
    names = D.used_names(dbmtype, str(path))
    assert names is not None
    assert (names.first, names.second) == (
        str(tmp_path / files[0]), str(tmp_path / files[1]) if len(files) > 1 else None)
    assert D.fetch(dbmtype, str(path), names, "about") == "about.txt"
    assert D.fetch(dbmtype, str(path), names, "Mixed") == "x/y.txt"
    assert D.fetch(dbmtype, str(path), names, "mixed") is None
    assert D.fetch(dbmtype, str(path), names, "#") is None
    assert D.fetch(dbmtype, str(path), names, "about\0tail") == "about.txt"  # strlen(key)


def test_unknown_types_have_no_files() -> None:
    assert D.used_names("nosuch", "/x") is None
    assert D.used_names("ndbm", "/x") is None  # Debian's apr-util has no ndbm driver


def test_a_replaced_map_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    build(path, "k first\n")
    names = D.used_names("default", str(path))
    assert names is not None
    assert D.fetch("default", str(path), names, "k") == "first"
    build(path, "k second\nnew one\n")
    assert D.fetch("default", str(path), names, "k") == "second"
    assert D.fetch("default", str(path), names, "new") == "one"


def test_a_child_reads_with_its_own_handle(tmp_path: Path) -> None:
    """A handle opened before a fork is not the child's: the child opens its own."""
    path = tmp_path / "m.db"
    build(path, "k parent\n")
    names = D.used_names("default", str(path))
    assert names is not None
    assert D.fetch("default", str(path), names, "k") == "parent"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one look-up, its answer down the pipe
        try:
            got = D.fetch("default", str(path), names, "k") or "-"
            own = D._HANDLES[("default", str(path))].pid == os.getpid()
            os.write(w, f"{got} {own}".encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    assert os.read(r, 100) == b"parent True"
    os.close(r)


def test_an_unreadable_file_is_a_dbm_error(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    path.write_bytes(b"not a database at all\n" * 100)
    names = D.used_names("gdbm", str(path))
    assert names is not None
    with pytest.raises(D.DbmError) as err:
        D.fetch("gdbm", str(path), names, "k")
    assert D.status_prefix(err.value).startswith(f"({err.value.status})")


def test_lookup_caches_per_mtime_and_logs_as_apache(tmp_path: Path) -> None:
    path = tmp_path / "m"
    build(path, "k v1\n", "sdbm")
    spec = M.parse_map("m", f"dbm=sdbm:{path}", None, str)
    assert (spec.kind, spec.check2) == (M.DBM, f"{path}.pag")
    log = Log()
    assert M.lookup(spec, "k", log) == "v1"
    assert M.lookup(spec, "nope", log) is None
    time.sleep(0.01)
    build(path, "k v2\nnope found\n", "sdbm")
    assert M.lookup(spec, "k", log) == "v2"
    assert M.lookup(spec, "nope", log) == "found"
    os.unlink(f"{path}.pag")
    assert M.lookup(spec, "k", log) is None
    os.unlink(f"{path}.dir")
    assert M.lookup(spec, "k", log) is None
    assert log.lines == [
        ("(2)No such file or directory",
         f"AH00663: mod_rewrite: can't access DBM RewriteMap file {path}.pag"),
        ("(2)No such file or directory",
         f"AH00662: mod_rewrite: can't access DBM RewriteMap file {path}.dir")]


@pytest.mark.parametrize("spec, message", [
    ("dbm=nosuch:{d}/m.db", "RewriteMap: dbm type nosuch is invalid"),
    ("dbmx:{d}/m.db", "RewriteMap: bad map:dbmx:{d}/m.db"),
    ("dbm=sdbm", "RewriteMap: bad map:dbm=sdbm"),
    ("dbm:{d}/absent.db", "RewriteMap: file for map m not found:{d}/absent.db"),
    ("dbm=SDBM:{d}/m.db", "RewriteMap: file for map m not found:{d}/m.db.dir"),
])
def test_startup_errors(tmp_path: Path, spec: str, message: str) -> None:
    build(tmp_path / "m.db", "k v\n")
    with pytest.raises(ConfigError) as err:
        cfg(tmp_path, LOAD + "RewriteMap m " + spec.format(d=tmp_path) + "\n")
    assert message.format(d=tmp_path) in str(err.value)


def test_missing_library_is_a_startup_error_with_file_and_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(tmp_path / "m.db", "k v\n")
    monkeypatch.setattr(D, "_LIB", None)
    monkeypatch.setattr(D, "APRUTIL", "libaprutil-nosuch.so.0")
    with pytest.raises(ConfigError) as err:
        cfg(tmp_path, LOAD + f"RewriteMap m dbm:{tmp_path}/m.db\n")
    text = str(err.value)
    conf = tmp_path / "httpd.conf"
    line = conf.read_text().splitlines().index(f"RewriteMap m dbm:{tmp_path}/m.db") + 1
    assert f"Syntax error on line {line} of {conf}:\nRewriteMap: dbm maps need" in text
    assert "Debian package libaprutil1" in text and "libaprutil-nosuch.so.0" in text


def test_a_rule_set_with_a_dbm_map_is_cached_under_its_files(tmp_path: Path) -> None:
    build(tmp_path / "m", "k v\n", "sdbm")
    c = cfg(tmp_path, LOAD + f"RewriteEngine On\nRewriteMap m dbm=sdbm:{tmp_path}/m\n"
            "RewriteRule ^/p/(.*) /${m:$1|x} [L]\n")
    v = RC.verdict(C.server_config(c.main, c.main))
    assert v.cacheable
    assert v.map_files == (f"{tmp_path}/m.dir", f"{tmp_path}/m.pag")
