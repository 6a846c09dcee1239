"""mod_ssl: HTTPS, with OpenSSL driven by the C engine (src/fc_tls.h, fastcore/_tls.pyx).

Apache 2.4's directives (config.py); the contexts built in the parent and each listener
bound to them in every child (contexts.py); and the request hooks of ssl_engine_kernel.c:
- post_read_request (ssl_hook_ReadReq): plain HTTP on a TLS port is answered 400 with
  mod_ssl's reason; a SNI name with no Host is 400; a Host selecting another vhost than
  the handshake's, with an incompatible TLS setup, is 421; SSLStrictSNIVHostCheck
  refuses clients without SNI on a name-based address with 403;
- check_access (ssl_hook_Access): SSLRequireSSL refuses a plain connection with 403;
- fixups (ssl_hook_Fixup): HTTPS=on, and with SSLOptions +StdEnvVars the SSL_*
  variables (+ExportCertData: the PEM certificates) in the request's environment.

Cache contribution: an answer given on a TLS connection may be a cache hit for a later
request only when the same checks would pass (the SNI name is the Host's name); the C
engine makes that test itself (fc_tls_host_ok), the Python cache through the gate.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastcore._ext import load
from fastcore.config.model import DirConfig, ServerConfig, VirtualHost
from fastcore.core.cacheable import NOTHING, CacheInfo, Contribution
from fastcore.core.phases import (
    CHECK_ACCESS,
    DECLINED,
    FIXUPS,
    MIDDLE,
    POST_READ_REQUEST,
    Hook,
    HookResult,
)
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_ssl.config import NAME, SSLDir, directives
from fastcore.modules.mod_ssl.config import SSLServer as SSLServer
from fastcore.modules.mod_ssl.contexts import TLSSetup, compatible, record, setup
from fastcore.modules.mod_ssl.status import section

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

_tls = load("tls")

PLAIN_NOTES = ("Reason: You're speaking plain HTTP to an SSL-enabled server port.<br />\n"
               " Instead use the HTTPS scheme to access this URL, please.<br />\n")
NO_SNI_NOTES = ("Reason: The client software did not provide a hostname using Server "
                "Name Indication (SNI), which is required to access this server.<br />\n")
# the variables +StdEnvVars exports (ssl_hook_Fixup_vars) besides the DN components
STD_VARS = ("SSL_VERSION_INTERFACE", "SSL_VERSION_LIBRARY", "SSL_PROTOCOL",
            "SSL_SECURE_RENEG", "SSL_COMPRESS_METHOD", "SSL_CIPHER", "SSL_CIPHER_EXPORT",
            "SSL_CIPHER_USEKEYSIZE", "SSL_CIPHER_ALGKEYSIZE", "SSL_CLIENT_VERIFY",
            "SSL_CLIENT_M_VERSION", "SSL_CLIENT_M_SERIAL", "SSL_CLIENT_V_START",
            "SSL_CLIENT_V_END", "SSL_CLIENT_S_DN", "SSL_CLIENT_I_DN",
            "SSL_SERVER_M_VERSION", "SSL_SERVER_M_SERIAL", "SSL_SERVER_V_START",
            "SSL_SERVER_V_END", "SSL_SERVER_S_DN", "SSL_SERVER_I_DN", "SSL_SESSION_ID",
            "SSL_SESSION_RESUMED", "SSL_TLS_SNI")


def _log(core: Handler, txn: Transaction, level: str, msg: str) -> None:
    core.srv.errlog(txn.vhost).log(level, "ssl", msg, f"{txn.client_ip}:{txn.remote_port}",
                                   txn.dirconf)


def _handshake_server(txn: Transaction) -> tuple[int, VirtualHost]:
    """The connection's state and the vhost its handshake chose (SNI, else default)."""
    kind, vh_index = _tls.state(txn.conn.fd)
    cfg = txn.conn.srv.cfg
    vh = cfg.main if vh_index < 0 or vh_index >= len(cfg.vhosts) else cfg.vhosts[vh_index]
    return kind, vh


def post_read_request(core: Handler, txn: Transaction) -> HookResult:
    """ssl_hook_ReadReq (initial requests only)."""
    conn = txn.conn
    if not conn.tls or txn.error_depth:
        return DECLINED
    kind, hs = _handshake_server(txn)
    conn.tls = kind  # plain HTTP on the TLS port is known once the first bytes are read
    if kind == 2:
        return core.error(txn, 400, PLAIN_NOTES)
    sni = conn.ssl_var("SSL_TLS_SNI")
    if sni:
        if not txn.host_name:
            _log(core, txn, "error", f"AH02031: Hostname {sni} provided via SNI, but no "
                 "hostname provided in HTTP request")
            return 400
        if txn.vhost is not hs and not compatible(record(hs), record(txn.vhost)):
            host = txn.request.headers.get("host", "") if txn.request else ""
            _log(core, txn, "error", f"AH02032: Hostname {sni} provided via SNI and "
                 f"hostname {host} provided via HTTP have no compatible SSL setup")
            return 421
    elif (record(txn.vhost).strict_sni or record(hs).strict_sni) and \
            _name_based(conn.srv.cfg):
        _log(core, txn, "info", "AH02033: No hostname was provided via SNI for a name "
             "based virtual host")
        return core.error(txn, 403, NO_SNI_NOTES)
    return DECLINED


def _name_based(cfg: ServerConfig) -> bool:
    """The connection's address is shared by several vhosts (vhost_lookup_data)."""
    return len(cfg.vhosts) > 1


def check_access(core: Handler, txn: Transaction) -> HookResult:
    """ssl_hook_Access: SSLRequireSSL."""
    dc = txn.dirconf
    if dc is None:
        return DECLINED
    rec = dc.modules.get(NAME)
    if not isinstance(rec, SSLDir) or not rec.require_ssl or txn.conn.https():
        return DECLINED
    _log(core, txn, "error", f"AH02219: access to {txn.filename or txn.r_uri} failed, "
         "reason: SSL connection required")
    return 403


def fixups(core: Handler, txn: Transaction) -> HookResult:
    """ssl_hook_Fixup: HTTPS=on; +StdEnvVars, +ExportCertData."""
    conn = txn.conn
    if not conn.https():
        return DECLINED
    env = dict(txn.env)
    env["https"] = "on"
    dc = txn.dirconf
    rec = dc.modules.get(NAME) if dc is not None else None
    opts = rec.effective() if isinstance(rec, SSLDir) else frozenset()
    if "stdenvvars" in opts:
        values = conn.ssl_vars()
        for k in STD_VARS:
            if k in values:
                env[k.lower()] = values[k]
        for k, v in values.items():
            if "_DN_" in k:
                env[k.lower()] = v
    if "exportcertdata" in opts:
        values = conn.ssl_vars()
        for k in ("SSL_SERVER_CERT", "SSL_CLIENT_CERT"):
            if k in values:
                env[k.lower()] = values[k]
    txn.env = env
    return DECLINED


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None
                       ) -> Contribution:
    """On a TLS connection: a hit must pass ssl_hook_ReadReq as this request did, and
    SSLOptions +StdEnvVars/ExportCertData (per-connection values) keep answers uncached
    only where something reads the environment, which the other shares decide."""
    if not txn.conn.tls:
        return NOTHING

    def sni_agrees(hit: Transaction, entry_dc: DirConfig, uri: str) -> bool:
        conn = hit.conn
        if conn.tls != 1:
            return False
        sni = conn.ssl_var("SSL_TLS_SNI")
        return not sni or (hit.host_name or "").lower() == sni.lower()
    # the engine runs the same test itself (fc_tls_host_ok): no extra engine checks
    return Contribution(gate=sni_agrees, engine_checks=())


def post_config(cfg: ServerConfig) -> TLSSetup | None:
    """Build the contexts (a startup error names the directive's file and line)."""
    return setup(cfg)


HOOKS = (Hook(POST_READ_REQUEST, post_read_request, MIDDLE),
         Hook(CHECK_ACCESS, check_access, MIDDLE),
         Hook(FIXUPS, fixups, MIDDLE))
MODULE = ModuleSpec(NAME, directives, dir_record=SSLDir, server_record=SSLServer,
                    hooks=HOOKS, cache_contribution=cache_contribution,
                    post_config=post_config, status_section=section)
