"""mod_authn_file: AuthUserFile, the `file` provider of mod_auth_basic.

The password file is opened and read for every request, as httpd does, so an
`htpasswd` change takes effect on the next request.  Lines are `user:hash[:...]`;
blank lines and lines starting with `#` are skipped and the first line naming the user
wins.  The hash is checked as apr_password_validate does: bcrypt ($2y$, $2a$, $2b$),
APR's MD5 ($apr1$), {SHA} and otherwise crypt(3) (DES, $1$, $5$, $6$).  A plain-text
password therefore never matches on Linux, as in Apache (htpasswd -p warns about it).
The hashing itself is the maintained libraries' (bcrypt, passlib).
"""
from __future__ import annotations

import errno
import os
import stat
import warnings
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

import bcrypt

from fastcore.config.engine import OR_AUTHCFG, Ctx, Directive, Engine
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.modules import ModuleSpec

with warnings.catch_warnings():  # passlib imports the stdlib crypt module (deprecated)
    warnings.simplefilter("ignore", DeprecationWarning)
    from passlib.hash import (
        apr_md5_crypt,
        des_crypt,
        ldap_sha1,
        md5_crypt,
        sha256_crypt,
        sha512_crypt,
    )

if TYPE_CHECKING:
    from fastcore.core.transaction import Transaction
    from fastcore.modules.mod_log_config import ErrorLog

NAME = "authn_file_module"
BCRYPT_MAX = 72  # bytes of the password bcrypt looks at (APR's blowfish ignores the rest)


class AuthResult(Enum):
    """authn_status: what a provider says about a user and password."""

    GRANTED = "granted"
    DENIED = "denied"  # the user exists, the password does not match
    USER_NOT_FOUND = "user not found"
    GENERAL_ERROR = "general error"  # already logged by the provider


@dataclass
class AuthnFileDir:
    """authn_file_config_rec: the password file (absolute), None where unset."""

    pwfile: str | None = None

    def merge(self, add: AuthnFileDir) -> AuthnFileDir:
        return AuthnFileDir(add.pwfile if add.pwfile is not None else self.pwfile)


def pwfile(dc: DirConfig) -> str | None:
    return module_record(dc.modules, NAME, AuthnFileDir).pwfile


def set_user_file(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """AuthUserFile: relative to ServerRoot (ap_server_root_relative)."""
    scope_record(ctx.dirconf.modules, NAME, AuthnFileDir).pwfile = e.resolve_path(a[0])


def directives() -> list[Directive]:
    return [Directive("AuthUserFile", NAME, frozenset({OR_AUTHCFG}), "TAKE1", set_user_file,
                      "text file containing user IDs and passwords")]


def _verify(password: bytes, hashed: str) -> bool:
    """apr_password_validate; a malformed hash is a mismatch."""
    try:
        if hashed.startswith("$apr1$"):
            return bool(apr_md5_crypt.verify(password, hashed))
        if hashed[:4] in ("$2y$", "$2a$", "$2b$"):
            return bcrypt.checkpw(password[:BCRYPT_MAX], hashed.encode("latin-1"))
        if hashed.startswith("{SHA}"):
            return bool(ldap_sha1.verify(password, hashed))
        for scheme in (md5_crypt, sha256_crypt, sha512_crypt, des_crypt):
            if scheme.identify(hashed):
                return bool(scheme.verify(password, hashed))
    except (ValueError, TypeError):
        return False
    return False


class NotRegular(OSError):
    """ap_pcfg_openfile refuses what is not a regular file (EBADF, with AH00554)."""


def _read(path: str) -> bytes:
    """ap_pcfg_openfile + read."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular(errno.EBADF, os.strerror(errno.EBADF))
        chunks: list[bytes] = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    finally:
        os.close(fd)


def file_password(data: bytes, user: str) -> str | None:
    """The hash of the first line naming `user` (the field after the first `:`)."""
    for raw in data.split(b"\n"):
        line = raw.decode("latin-1").strip(" \t\r\f\v")
        if not line or line[0] == "#":
            continue
        name, _, rest = line.partition(":")
        if name == user:
            return rest.lstrip(":").partition(":")[0]
    return None


def check_password(txn: Transaction, dc: DirConfig, log: ErrorLog, user: str,
                   password: str) -> AuthResult:
    """The `file` provider's check_password, reading the file now."""
    client = f"{txn.client_ip}:{txn.remote_port}"
    path = pwfile(dc)
    if path is None:
        log.log("error", "authn_file", "AH01619: AuthUserFile not specified in the "
                "configuration", client, dc)
        return AuthResult.GENERAL_ERROR
    try:
        data = _read(path)
    except OSError as exc:
        if isinstance(exc, NotRegular):  # ap_pcfg_openfile's own line, without a client
            log.log("error", "core", f"AH00554: Access to file {path} denied by server: "
                    "not a regular file", None, dc)
        code = exc.errno or 0
        # the APR status comes before the client, as ap_log_rerror prints it
        log.log("error", "authn_file", f"({code}){os.strerror(code)}: [client {client}] "
                f"AH01620: Could not open password file: {path}", None, dc)
        return AuthResult.GENERAL_ERROR
    hashed = file_password(data, user)
    if hashed is None:
        return AuthResult.USER_NOT_FOUND
    if _verify(password.encode("latin-1"), hashed):
        return AuthResult.GRANTED
    return AuthResult.DENIED


MODULE = ModuleSpec(NAME, directives, dir_record=AuthnFileDir)
