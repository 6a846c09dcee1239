"""mod_ssl's post_config and child_init: one OpenSSL context per server with SSLEngine
on, built in the parent (its session ticket key ring, src/fc_tlskeys.h, is mapped shared
before fork, so every child uses and rotates the same keys), and each listening socket
bound to the contexts of the vhosts on its address.

A connection speaks TLS when the default server of its address (the first vhost there,
else the main server) has SSLEngine on, as ssl_hook_pre_connection decides by
c->base_server; SNI then picks among the vhosts of that address (fc_tls.h).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Protocol

from fastcore._ext import load
from fastcore.config.errors import ConfigError
from fastcore.config.merge import DirResolver
from fastcore.config.model import ServerConfig, VirtualHost, module_record
from fastcore.core.server import split_server_name
from fastcore.modules.mod_ssl.config import ALL, NAME, PROTOCOLS, SSLServer, TLSParams

_tls = load("tls")

DEFAULT_PROTOCOLS = ALL  # Apache 2.4's default, "all -SSLv3"


def record(vh: VirtualHost) -> SSLServer:
    return module_record(vh.module_config, NAME, SSLServer)


def vhost_id(vh: VirtualHost) -> str:
    """ssl_util_vhostid: name:port, as mod_ssl's messages name a server (the port of
    ServerName, else https' default: a <VirtualHost> address's port is not used)."""
    name, port = split_server_name(vh.server_name.split("://")[-1])
    return f"{name or 'localhost'}:{port or 443}"


def _error(rec: SSLServer, item: str, message: str, vh: VirtualHost) -> ConfigError:
    w = rec.located(item) or rec.located("SSLEngine")
    if w is None:
        return ConfigError(message, vh.filename or "", vh.line or 0, item)
    return ConfigError(message, w.filename, w.line, w.directive)


def params_for(vh: VirtualHost, rec: SSLServer) -> TLSParams:
    """The effective settings of one server (mod_ssl's defaults where unset)."""
    if not rec.certs:
        raise _error(rec, "SSLEngine", f"AH02572: Failed to configure at least one "
                     f"certificate and key for {vhost_id(vh)}", vh)
    keys = list(rec.keys) + [None] * (len(rec.certs) - len(rec.keys))
    protos = rec.protocols if rec.protocols is not None else DEFAULT_PROTOCOLS
    if not protos:
        raise _error(rec, "SSLProtocol", "AH02231: No SSL protocols available [hint: "
                     "SSLProtocol]", vh)
    versions = sorted(PROTOCOLS[p] for p in protos)
    return TLSParams(
        pairs=list(zip(rec.certs, keys, strict=True)),
        chain_file=rec.chain_file, ca_file=rec.ca_file, ca_path=rec.ca_path,
        proto_min=versions[0], proto_max=versions[-1],
        ciphers=rec.ciphers, ciphers13=rec.ciphers13,
        honor_cipher_order=bool(rec.honor_cipher_order),
        compression=bool(rec.compression),
        session_tickets=rec.session_tickets is not False,
        session_cache=(rec.session_cache or "none") != "none",
        session_timeout=rec.session_timeout if rec.session_timeout is not None else 300,
        shared_cache=(rec.cache_size or 512000) if rec.session_cache == "shmcb" else 0,
        session_id_context=vhost_id(vh),
        conf_cmds=list(rec.conf_cmds),
        verify=rec.verify or "",
        verify_depth=rec.verify_depth if rec.verify_depth is not None else 1,
    )


def compatible(a: SSLServer, b: SSLServer) -> bool:
    """ssl_server_compatible: two servers whose TLS parameters agree (certificates may
    differ), so a request may move from the handshake's vhost to the Host's."""
    keep = ("engine", "protocols", "ciphers", "ciphers13", "honor_cipher_order",
            "ca_file", "ca_path", "verify", "verify_depth", "session_tickets",
            "compression", "strict_sni")
    return all(getattr(a, k) == getattr(b, k) for k in keep)


class TLSContext(Protocol):
    """fastcore._tls.Context: one SSL_CTX."""

    def build(self, params: TLSParams) -> None: ...

    def release(self) -> None: ...


@dataclass
class TLSSetup:
    """The contexts of one configuration generation, by server (main is index -1)."""

    cfg: ServerConfig
    contexts: dict[int, TLSContext]

    def server(self, index: int) -> VirtualHost:
        return self.cfg.main if index < 0 else self.cfg.vhosts[index]

    def bind(self, listen_fds: list[int]) -> None:
        """child_init: make each listener whose address's default server has SSLEngine on
        a TLS port (in this process; reuseport children have their own descriptors)."""
        from fastcore.modules import REGISTRY  # the registry imports this module

        _tls.unbind_all()
        resolver = DirResolver(self.cfg)
        index = {id(vh): i for i, vh in enumerate(self.cfg.vhosts)}
        for fd in listen_fds:
            sock = socket.socket(fileno=fd)
            try:
                local = sock.getsockname()[:2]
            finally:
                sock.detach()
            members = resolver.address_set((local[0], local[1]))
            default = index[id(members[0])] if members else -1
            ctx = self.contexts.get(default)
            if ctx is None:
                continue
            names = []
            for vh in members:
                cx = self.contexts.get(index[id(vh)])
                if cx is None:
                    continue
                for n in (vh.server_name, *vh.server_aliases):
                    n = n.split("://")[-1]
                    if n.count(":") == 1:
                        n = n.split(":")[0]
                    if n:
                        names.append((n, cx, index[id(vh)]))
            # RequestReadTimeout's handshake stage is the address's default server's
            # (mod_reqtimeout reads c->base_server's record before SNI is known)
            lim = REGISTRY.read_limits(self.cfg, self.server(default))
            _tls.bind(fd, ctx, default, names, lim.handshake if lim is not None else None)

    def release(self) -> None:
        """The parent, once a graceful restart has replaced this generation: free its
        contexts (and their ticket key mappings) now, not whenever, if ever, the
        collector reaches them; the children keep theirs."""
        for ctx in self.contexts.values():
            ctx.release()
        self.contexts.clear()


def setup(cfg: ServerConfig) -> TLSSetup | None:
    """post_config: build every SSLEngine on server's context; a startup error (file,
    line, directive) for what OpenSSL refuses."""
    servers = [(-1, cfg.main)] + list(enumerate(cfg.vhosts))
    contexts: dict[int, TLSContext] = {}
    for i, vh in servers:
        rec = record(vh)
        if not rec.engine:
            continue
        params = params_for(vh, rec)
        ctx = _tls.Context()
        try:
            ctx.build(params)
        except _tls.TLSError as exc:
            raise _error(rec, exc.item, str(exc), vh) from None
        contexts[i] = ctx
    if not contexts:
        return None
    return TLSSetup(cfg, contexts)
