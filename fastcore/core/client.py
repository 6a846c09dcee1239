"""The client facts of one connection (httpd's conn_rec: client and local address,
the remote host name looked up at most once per connection) with the per-request
scratch the access phases share (method, user, environment, the request a `Require
expr` reads and the headers it read for Vary).  The core creates one per connection;
mod_authz_core, mod_access_compat, mod_setenvif and %h logging read it."""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastcore.core.transaction import Transaction


class Resolver(Protocol):
    def reverse(self, ip: str, double: bool) -> str | None: ...

    def forward(self, name: str) -> frozenset[str]: ...


class ReqCtx:
    """Per-connection client facts for authorization and %h logging.

    The host name is looked up lazily: nothing touches DNS until remote_host() is called,
    and each connection pays for at most one reverse and one forward lookup (Apache caches
    them in conn_rec the same way).  `method` may be updated for each request on a
    keep-alive connection.
    """

    __slots__ = ("client_ip", "_local", "method", "env", "user", "_resolver", "_name",
                 "_looked_up", "_double", "txn", "expr_error", "vary", "answer_txn",
                 "answer_vary")

    def __init__(self, client_ip: str, local_ip: str | Callable[[], object] | None,
                 method: str, resolver: Resolver | None) -> None:
        self.client_ip = client_ip
        # The server's own address: a string, or a callable (e.g. the connection's
        # getsockname wrapper) asked only when `Require local` meets a non-loopback client.
        self._local = local_ip
        self.method = method
        self.env: dict[str, str] = {}  # request environment variables (Require env)
        self.user: str | None = None  # the request's authenticated user (Require user)
        self._resolver = resolver
        self._name: str | None = None   # reverse name (unconfirmed)
        self._looked_up = False
        self._double: bool | None = None  # None: forward check not done yet
        # Require expr: the request it is evaluated for (set by the access phases),
        # an evaluation's failure (Apache's AUTHZ_GENERAL_ERROR: 500) and the request
        # headers it read (Vary on the answer)
        self.txn: Transaction | None = None
        self.expr_error: str | None = None
        self.vary: list[str] = []
        self.answer_txn: Transaction | None = None  # check_authz's request, its Vary
        self.answer_vary: list[str] = []

    @property
    def local_ip(self) -> str | None:
        """The local address of the connection (evaluated once, on first use)."""
        v = self._local
        if callable(v):
            try:
                got = v()
            except OSError:
                got = None
            if isinstance(got, tuple):
                got = got[0] if got else None
            v = str(got) if got else None
            self._local = v
        return v

    @local_ip.setter
    def local_ip(self, value: str | Callable[[], object] | None) -> None:
        self._local = value

    def remote_host(self, double: bool) -> str | None:
        """The client's host name: reverse lookup, and with double=True only when the
        forward lookup of that name contains the client address; None when unknown."""
        if self._resolver is None:
            return None
        if not self._looked_up:
            self._looked_up = True
            self._name = self._resolver.reverse(self.client_ip, False)
        if self._name is None:
            return None
        if not double:
            return self._name
        if self._double is None:
            self._double = self._resolver.reverse(self.client_ip, True) is not None
        return self._name if self._double else None

    def forward_addresses(self, name: str) -> frozenset[str]:
        """Addresses `name` resolves to (Require forward-dns); empty when unresolvable."""
        if self._resolver is None:
            return frozenset()
        return self._resolver.forward(name)

    @property
    def looked_up(self) -> bool:
        """Whether this connection's reverse lookup was made (cached_host is its name)."""
        return self._looked_up

    @property
    def double_settled(self) -> bool:
        """The forward check was made and cached_host is what HostnameLookups Double
        logs: the confirmed name, or no name at all."""
        return self._looked_up and (self._name is None or self._double is True)

    @property
    def confirmed(self) -> bool:
        """Whether cached_host is a name this connection's forward lookup confirmed."""
        return self._double is True and self._name is not None

    def cached_host(self) -> str | None:
        """The name if an earlier lookup on this connection found one; never does DNS.
        (Apache's %h with HostnameLookups Off shows a name a `Require host` looked up.)"""
        return self._name


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def client_address(text: str) -> Address | None:
    """A client's address as apr_ipsubnet_test compares it: without its zone id, and an
    IPv4-mapped IPv6 address as its IPv4 form; None when the text is no address."""
    try:
        a = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        return a.ipv4_mapped
    return a
