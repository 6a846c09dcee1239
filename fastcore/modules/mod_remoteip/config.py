"""mod_remoteip's directives and its per-server record (remoteip_config_t).

RemoteIPHeader, RemoteIPProxiesHeader and the trusted/internal proxy lists are per
server (RSRC_CONF), a <VirtualHost> inheriting each field it did not set, as
merge_remoteip_server_config.  RemoteIPProxyProtocol and RemoteIPProxyProtocolExceptions
are global even when written in a <VirtualHost>: Apache keeps them on the main server's
record (ap_server_conf), the first as a list of the listening addresses it was turned on
or off for (the <VirtualHost>'s addresses; the main server's is the wildcard 0.0.0.0:0).
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from fastcore.config.engine import RSRC, Ctx, Directive, DirectiveError, Engine, Handler
from fastcore.config.lexer import split_words
from fastcore.config.model import ServerConfig, VirtualHost, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.tokens import is_digits
from fastcore.modules.mod_access_compat import NotAnAddress, Subnet, parse_subnet

NAME = "remoteip_module"
WILDCARD = "0.0.0.0"


@dataclass(frozen=True)
class ProxyMatch:
    """remoteip_proxymatch_t: a proxy subnet, internal (RemoteIPInternalProxy*) or
    trusted (RemoteIPTrustedProxy*)."""

    subnet: Subnet
    internal: bool


@dataclass(frozen=True)
class ListenAddr:
    """One address RemoteIPProxyProtocol was set for: IP text (0.0.0.0: any) and port
    (0: any)."""

    ip: str
    port: int

    def compatible(self, ip: str, port: int) -> bool:
        """remoteip_sockaddr_compat: equal addresses with equal or unset ports, or a
        wildcard address whose port is unset or equal."""
        if _same_ip(self.ip, ip) and (self.port == port or not self.port or not port):
            return True
        return self.ip in (WILDCARD, "::") and (not self.port or self.port == port)


def _same_ip(a: str, b: str) -> bool:
    if a == b:
        return True
    return _canonical(a) == _canonical(b)


def _canonical(ip: str) -> str:
    """The address as APR prints it (an IPv4-mapped IPv6 address as IPv4)."""
    text = ip.split("%", 1)[0]
    if text.lower().startswith("::ffff:") and "." in text:
        return text[7:]
    return text


@dataclass
class RemoteIPServer:
    """remoteip_config_t.  `proxies` None: no proxy list configured (every peer is then
    a trusted external proxy).  The proxy_protocol fields are read from the main
    server's record only (Apache's ap_server_conf)."""

    header: str | None = None
    proxies_header: str | None = None
    proxies: list[ProxyMatch] | None = None
    pp_enabled: list[ListenAddr] = field(default_factory=list)
    pp_disabled: list[ListenAddr] = field(default_factory=list)
    pp_exceptions: list[Subnet] = field(default_factory=list)

    def merge(self, add: RemoteIPServer) -> RemoteIPServer:
        return RemoteIPServer(
            add.header if add.header is not None else self.header,
            add.proxies_header if add.proxies_header is not None else self.proxies_header,
            add.proxies if add.proxies is not None else self.proxies,
            self.pp_enabled, self.pp_disabled, self.pp_exceptions)


def server_config(vh: VirtualHost) -> RemoteIPServer:
    """This module's record of a (merged) server."""
    return module_record(vh.module_config, NAME, RemoteIPServer)


def proxy_protocol_wanted(cfg: ServerConfig, local_ip: str, local_port: int,
                          client_ip: str) -> bool:
    """remoteip_hook_pre_connection: does a connection to local_ip:local_port from
    client_ip start with a PROXY header?"""
    if NAME not in cfg.modules:
        return False
    g = server_config(cfg.main)
    if not any(a.compatible(local_ip, local_port) for a in g.pp_enabled):
        return False
    if any(a.compatible(local_ip, local_port) for a in g.pp_disabled):
        return False
    return not any(s.contains(client_ip) for s in g.pp_exceptions)


def proxy_protocol_configured(cfg: ServerConfig) -> bool:
    """Some listening address may carry PROXY headers (the MPM then lets Python take
    each new connection first)."""
    return NAME in cfg.modules and bool(server_config(cfg.main).pp_enabled)


# -- directive handlers ------------------------------------------------------------

def _record(ctx: Ctx) -> RemoteIPServer:
    return scope_record(ctx.vhost.module_config, NAME, RemoteIPServer)


def header_name_set(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    _record(ctx).header = a[0]


def proxies_header_name_set(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    _record(ctx).proxies_header = a[0]


def _looks_like_ip(text: str) -> bool:
    return ":" in text or all(c == "." or is_digits(c) for c in text)


def add_proxy(rec: RemoteIPServer, arg: str, internal: bool, directive: str) -> None:
    """proxies_set: an address, a subnet (CIDR, netmask or partial dotted) or a host
    name, resolved now to every address it has."""
    ip, slash, mask = arg.partition("/")
    found: list[ProxyMatch] = []
    if _looks_like_ip(ip):
        try:
            found.append(ProxyMatch(parse_subnet(ip, mask if slash else None), internal))
        except NotAnAddress:
            raise DirectiveError(f"RemoteIP: Error parsing IP {arg} (An IP address was "
                                 f"expected error) for {directive}") from None
        except DirectiveError as err:
            raise DirectiveError(f"RemoteIP: Error parsing IP {arg} ({err} error) for "
                                 f"{directive}") from None
    else:
        if slash:
            raise DirectiveError(f"RemoteIP: Error parsing IP {arg} the subnet /{mask} is "
                                 f"invalid for {directive}")
        try:
            infos = socket.getaddrinfo(ip, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
        except socket.gaierror as err:
            raise DirectiveError(f"RemoteIP: Error parsing IP {arg} ({err.strerror} error) "
                                 f"for {directive}") from None
        seen: set[str] = set()
        for info in infos:
            addr = _canonical(str(info[4][0]))
            if addr not in seen:
                seen.add(addr)
                found.append(ProxyMatch(parse_subnet(addr, None), internal))
    if rec.proxies is None:
        rec.proxies = []
    rec.proxies.extend(found)


def proxies_set(internal: bool) -> Handler:
    def handler(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        rec = _record(ctx)
        for arg in a:
            add_proxy(rec, arg, internal, n.name)
    return handler


def proxylist_read(internal: bool) -> Handler:
    def handler(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        """RemoteIP*ProxyList FILE: the file's words (a `#` word ends its line), each
        as RemoteIP*Proxy takes it, relative to ServerRoot."""
        path = e.resolve_path(a[0])
        try:
            with open(path, encoding="latin-1") as fh:
                lines = fh.read().splitlines()
        except OSError as err:
            raise DirectiveError(f"{n.name}: Could not open file {path}: "
                                 f"{os.strerror(err.errno or 0)}") from None
        rec = _record(ctx)
        for number, line in enumerate(lines, 1):
            for word in split_words(line.strip()):
                if not word or word.startswith("#"):
                    break
                try:
                    add_proxy(rec, word, internal, n.name)
                except DirectiveError as err:
                    raise DirectiveError(f"{err} at line {number} of {path}") from None
    return handler


def _vhost_addrs(e: Engine, ctx: Ctx) -> list[ListenAddr]:
    """cmd->server->addrs: a <VirtualHost>'s addresses ("*" is the wildcard); the main
    server's single wildcard address."""
    if not ctx.in_vhost or not ctx.vhost.addrs:
        return [ListenAddr(WILDCARD, 0)]
    out = []
    for host, port in ctx.vhost.addrs:
        ip = WILDCARD if host in ("*", "_default_", "") else host
        out.append(ListenAddr(ip.strip("[]"), port if port != -1 else 0))
    return out


def enable_proxy_protocol(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    """RemoteIPProxyProtocol On|Off: this server's addresses join one global list and
    leave the other (the later setting overrides)."""
    g = scope_record(e.state.main.module_config, NAME, RemoteIPServer)
    add, rem = (g.pp_enabled, g.pp_disabled) if a else (g.pp_disabled, g.pp_enabled)
    for addr in _vhost_addrs(e, ctx):
        for i, old in enumerate(rem):
            if old.ip == addr.ip and old.port == addr.port:
                del rem[i]
                break
        if not any(x.compatible(addr.ip, addr.port) for x in add):
            add.insert(0, addr)


def disable_networks(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """RemoteIPProxyProtocolExceptions: clients in these networks send no PROXY header."""
    if not a:
        raise DirectiveError(f"{n.name} requires an argument")
    g = scope_record(e.state.main.module_config, NAME, RemoteIPServer)
    for arg in a:
        ip, slash, mask = arg.partition("/")
        try:
            g.pp_exceptions.append(parse_subnet(ip, mask if slash else None))
        except NotAnAddress:
            raise DirectiveError(f"ip address '{ip}' appears to be invalid") from None
        except DirectiveError as err:
            raise DirectiveError(f"ip address '{ip}' appears to be invalid: {err}") from None


def directives() -> list[Directive]:
    r = frozenset({RSRC})
    return [
        Directive("RemoteIPHeader", NAME, r, "TAKE1", header_name_set,
                  "Specifies a request header to trust as the client IP, e.g. "
                  "X-Forwarded-For"),
        Directive("RemoteIPProxiesHeader", NAME, r, "TAKE1", proxies_header_name_set,
                  "Specifies a request header to record proxy IP's, e.g. X-Forwarded-By; "
                  "if not given then do not record"),
        Directive("RemoteIPTrustedProxy", NAME, r, "ITERATE", proxies_set(False),
                  "Specifies one or more proxies which are trusted to present IP headers"),
        Directive("RemoteIPInternalProxy", NAME, r, "ITERATE", proxies_set(True),
                  "Specifies one or more internal (transparent) proxies which are trusted "
                  "to present IP headers"),
        Directive("RemoteIPTrustedProxyList", NAME, r, "TAKE1", proxylist_read(False),
                  "The filename to read the list of trusted proxies, see the "
                  "RemoteIPTrustedProxy directive"),
        Directive("RemoteIPInternalProxyList", NAME, r, "TAKE1", proxylist_read(True),
                  "The filename to read the list of internal proxies, see the "
                  "RemoteIPInternalProxy directive"),
        Directive("RemoteIPProxyProtocol", NAME, r, "FLAG", enable_proxy_protocol,
                  "Enable PROXY protocol handling ('on', 'off')"),
        Directive("RemoteIPProxyProtocolExceptions", NAME, r, "TAKE_ARGV", disable_networks,
                  "Disable PROXY protocol handling for this list of networks in CIDR "
                  "format"),
    ]
