"""What a client may send before HTTP on a new connection (httpd's pre_connection hook:
mod_remoteip's PROXY header).  The core asks the loaded modules for a reader once per
connection and runs it before the first request; the reader hands the connection over
(Connection.adopt_address) once it is done."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    from fastcore.core.connection import Connection


class Preface(Protocol):
    """A reader of a connection's preface."""

    def advance(self, conn: Connection, may_read: bool) -> bool:
        """Read what has arrived; True once the preface is consumed, False while it waits
        for more (conn.closing: refused, the connection is to be closed)."""
        ...


# a module's pre_connection: the reader for this new connection, or None
PrefaceFn: TypeAlias = Callable[["Connection"], "Preface | None"]
