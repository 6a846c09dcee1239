"""Twin of fastcore._tls for FASTCORE_NO_EXTENSIONS=1: no connection ever has a TLS
session.  TLS lives in the C engine's shims (src/fc_tls.h), which the pure-Python twins
do not have, so a configuration with SSLEngine on is refused at startup (Context.build)
with a message that says why, instead of serving plain HTTP on an https port."""
from __future__ import annotations

import os
from typing import Any

from fastcore.core.readclock import Stage

VERSION_LIBRARY = "none (pure-Python twins)"


class TLSError(Exception):
    """A context could not be built: `item` names the directive at fault."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(message)
        self.item = item


def compression_available() -> bool:
    return False


def ktls_available() -> bool:
    return os.path.isdir("/sys/module/tls")


def ktls_built() -> bool:
    return False  # no OpenSSL here at all


class Context:
    """No SSL_CTX without OpenSSL: building one is the startup error."""

    label = ""

    def build(self, params: Any) -> None:
        raise TLSError("SSLEngine", "mod_ssl needs fastcore's compiled extensions (TLS runs "
                       "in the C engine); unset FASTCORE_NO_EXTENSIONS")

    def release(self) -> None:
        return None


def bind(lfd: int, default: Context, vhost: int, names: list,
         handshake: Stage | None = None) -> None:
    raise TLSError("SSLEngine", "mod_ssl needs fastcore's compiled extensions")


def handshake_left(fd: int) -> float:
    return -1.0  # no TLS sessions without the C engine


def unbind_all() -> None:
    return None


def read(fd: int, n: int) -> bytes:
    return os.read(fd, n)


def pending(fd: int) -> bool:
    return False


def forget(fd: int) -> None:
    return None


def shutdown(fd: int) -> None:
    return None


def state(fd: int) -> tuple[int, int]:
    return 0, -1


def variables(fd: int, export_certs: bool = False) -> dict[str, str]:
    return {}


def cache_stats() -> dict[str, int]:
    return {}
