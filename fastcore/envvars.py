"""Debian's `envvars`: what apache2ctl does before it starts apache2, done by the CLI.

Debian's stock apache2.conf names ${APACHE_RUN_USER}, ${APACHE_RUN_DIR}, ${APACHE_LOG_DIR}
... that only exist because /usr/sbin/apache2ctl sources /etc/apache2/envvars (a shell
script) and then creates the run, socks and lock folders.  `fastcore -d DIR` does the
same when DIR holds an `envvars` file (or $APACHE_ENVVARS names one): it sources the
file with /bin/sh, with APACHE_CONFDIR=DIR as apache2ctl sets it, and takes every
variable the script defines that the environment does not already hold (so an operator,
a systemd unit or a test can override one; see docs/compat.md), then creates the folders
as apache2ctl's `mkdir_chown` does and, as root, raises the descriptor limit.
"""
from __future__ import annotations

import os
import pwd
import re
import resource
import subprocess
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass, field

SHELL = "/bin/sh"
# what a shell sets by itself: never an envvars result
SHELL_OWN = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
DEFAULT_RUN_DIR = "/var/run/apache2"
DEFAULT_LOCK_DIR = "/var/lock/apache2"
DEFAULT_USER = "www-data"
DEFAULT_ULIMIT = "ulimit -n 8192"
ULIMIT_N = re.compile(r"^\s*ulimit\s+-n\s+(\d+)\s*$")


class EnvvarsError(Exception):
    """apache2ctl would stop here (its shell or mkdir_chown failed)."""


@dataclass
class EnvvarsResult:
    """What sourcing did: the file, the variables taken, the folders created."""

    path: str
    applied: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)


def envvars_path(server_root: str | None, environ: dict[str, str]) -> str | None:
    """The script apache2ctl would source for `-d server_root`, if it exists."""
    if not server_root:
        return None
    path = environ.get("APACHE_ENVVARS") or os.path.join(server_root, "envvars")
    return path if os.path.isfile(path) else None


def source(path: str, confdir: str, environ: dict[str, str]) -> dict[str, str]:
    """Run `. path` in /bin/sh with the caller's environment plus APACHE_CONFDIR and
    return the environment the script leaves behind."""
    env = dict(environ)
    env.setdefault("APACHE_CONFDIR", os.path.abspath(confdir))
    try:
        done = subprocess.run([SHELL, "-c", '. "$1" && exec env -0', "sh", path], env=env,
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvvarsError(f"fastcore: cannot source {path}: {exc}") from exc
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise EnvvarsError(f"fastcore: sourcing {path} failed (status {done.returncode})"
                           + (f":\n{err}" if err else ""))
    out: dict[str, str] = {}
    for item in done.stdout.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep:
            out[name.decode(errors="replace")] = value.decode(errors="surrogateescape")
    return out


def mkdir_chown(owner: str, path: str) -> bool:
    """apache2ctl's mkdir_chown: create `path` (mode 755) owned by `owner`, or accept it
    if it already is a folder owned by `owner`.  True if it was created."""
    try:
        uid = pwd.getpwnam(owner).pw_uid
    except KeyError as exc:
        raise EnvvarsError(f"chown: invalid user: '{owner}'") from exc
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not os.path.isdir(path) or st.st_uid != uid:
            raise EnvvarsError(f"{path} already exists but is not a directory owned by "
                               f"{owner}.\nPlease fix manually. Aborting.")
        return False
    try:
        os.mkdir(path, 0o755)
        os.chmod(path, 0o755)
        if os.getuid() != uid:
            os.chown(path, uid, -1)
    except OSError as exc:
        raise EnvvarsError(f"Cannot create {path} with owner {owner}: {exc.strerror}.\n"
                           "Please fix manually. Aborting.") from exc
    return True


def prepare_dirs(environ: dict[str, str]) -> list[str]:
    """The folders apache2ctl creates before every command."""
    created: list[str] = []
    run_dir = environ.get("APACHE_RUN_DIR") or DEFAULT_RUN_DIR
    lock_dir = environ.get("APACHE_LOCK_DIR") or DEFAULT_LOCK_DIR
    owner = environ.get("APACHE_RUN_USER") or DEFAULT_USER
    if not os.path.isdir(run_dir):
        try:
            os.makedirs(run_dir)
        except OSError as exc:
            raise EnvvarsError(f"mkdir: cannot create directory '{run_dir}': "
                               f"{exc.strerror}") from exc
        created.append(run_dir)
    for path in (os.path.join(run_dir, "socks"), lock_dir):
        if not os.path.isdir(path) and mkdir_chown(owner, path):
            created.append(path)
    return created


def raise_fd_limit(environ: dict[str, str]) -> None:
    """As root, apache2ctl runs $APACHE_ULIMIT_MAX_FILES (default `ulimit -n 8192`):
    fastcore honours that form; a limit it cannot set is apache2ctl's warning."""
    if os.getuid() != 0:
        return
    command = environ.get("APACHE_ULIMIT_MAX_FILES", DEFAULT_ULIMIT)
    m = ULIMIT_N.match(command)
    if not m:
        return
    n = int(m.group(1))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    except (ValueError, OSError):
        sys.stderr.write("Setting ulimit failed. See README.Debian for more information.\n")


def apply(server_root: str | None, environ: MutableMapping[str, str] | None = None
          ) -> EnvvarsResult | None:
    """Source DIR/envvars for `-d DIR` into `environ` (default os.environ) and prepare
    the folders; None when there is no such file (nothing is done)."""
    env: MutableMapping[str, str] = os.environ if environ is None else environ
    path = envvars_path(server_root, dict(env))
    if path is None or server_root is None:
        return None
    before = dict(env)
    after = source(path, server_root, before)
    result = EnvvarsResult(path)
    for name, value in after.items():
        if name in SHELL_OWN or name in before or name == "APACHE_CONFDIR":
            continue
        env[name] = value
        result.applied[name] = value
    raise_fd_limit(dict(env))
    result.created = prepare_dirs(dict(env))
    return result
