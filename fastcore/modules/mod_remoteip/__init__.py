"""mod_remoteip: the client's address as a proxy or load balancer in front reports it.

Two sources, as Apache 2.4's module: a request header (RemoteIPHeader, e.g.
X-Forwarded-For) walked right to left through the trusted proxies, in post_read_request
(walk.py); and the PROXY protocol header at the start of a connection
(RemoteIPProxyProtocol, proxy.py), read by the Connection before its first request.  The
address found becomes the request's useragent address: %a and %h, `Require ip` and
access_compat's Allow/Deny, REMOTE_ADDR, the scoreboard's client; %{c}a and %{c}h keep
the TCP peer's.  A PROXY connection keeps its PROXY address for every request and
ignores RemoteIPHeader, as Apache does.

Cache contribution: a server with RemoteIPHeader gates its entries on the header's
absence (Python cache only: the C engine reads no header for this); PROXY connections
need nothing: the engine logs the connection's address, which is the PROXY source.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastcore.config.model import DirConfig
from fastcore.core.cacheable import NOTHING, CacheInfo, Contribution
from fastcore.core.client import ReqCtx
from fastcore.core.phases import FIRST, OK, POST_READ_REQUEST, Hook, HookResult
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_remoteip.config import (
    NAME,
    RemoteIPServer,
    directives,
    proxy_protocol_configured,
    proxy_protocol_wanted,
    server_config,
)
from fastcore.modules.mod_remoteip.proxy import ProxyPreface
from fastcore.modules.mod_remoteip.walk import walk

if TYPE_CHECKING:
    from fastcore.core.connection import Connection
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

__all__ = ["MODULE", "NAME", "preface_for", "proxy_protocol_configured"]

PROXY_IP_NOTE = "remoteip-proxy-ip-list"


def preface_for(conn: Connection) -> ProxyPreface | None:
    """remoteip_hook_pre_connection: the PROXY header reader for a new connection, when
    its local address has RemoteIPProxyProtocol On and its client is no exception."""
    cfg = conn.srv.cfg
    if not proxy_protocol_configured(cfg):
        return None
    local = conn.local_addr()
    ip, port = (str(local[0]), int(local[1])) if local else ("", 0)
    if not proxy_protocol_wanted(cfg, ip, port, conn.client_ip):
        return None
    return ProxyPreface()


def post_read_request(core: Handler, txn: Transaction) -> HookResult:
    """remoteip_modify_request: the header walk, unless the connection's address came
    from a PROXY header."""
    conn = txn.conn
    if conn.proxied:
        return OK
    conf: RemoteIPServer = server_config(txn.vhost)
    if conf.header is None:
        return OK
    key = conf.header.lower()
    value = txn.headers_in.get(key)
    if value is None:
        return OK
    res = walk(value, txn.client_ip, conf.proxies)
    log = core.srv.errlog(txn.vhost)
    dc = txn.dirconf or txn.vhost.dir_defaults  # LogLevel remoteip:... of the server
    client = f"{txn.client_ip}:{txn.remote_port}"
    if res.stopped is not None and log.enabled("debug", "remoteip", dc):
        if res.stopped.unparsable:
            msg = (f"AH01568: RemoteIP: Header {conf.header} value of {res.stopped.value} "
                   "cannot be parsed as a client IP")
        else:
            msg = (f"AH01569: RemoteIP: Header {conf.header} value of {res.stopped.value} "
                   "appears to be a private IP or nonsensical.  Ignored")
        log.log("debug", "remoteip", msg, client, dc,
                "mod_remoteip.c(668)" if res.stopped.unparsable else "mod_remoteip.c(706)")
    if not res.changed:
        return OK
    headers = txn.headers_in
    if res.remaining is not None:
        headers[key] = res.remaining
    else:
        headers.pop(key, None)
    if res.proxy_ips is not None:
        txn.notes[PROXY_IP_NOTE] = res.proxy_ips
        if conf.proxies_header is not None:
            headers[conf.proxies_header.lower()] = res.proxy_ips
    txn.client_ip = res.client_ip
    txn.remote_port = 0  # the port is not known: Apache sets it to 0
    txn.ctx = ReqCtx(res.client_ip, conn.local_addr, txn.method, conn.srv.dns)
    if log.enabled("trace1", "remoteip", dc):
        how = (f"by proxies {res.proxy_ips}" if res.proxy_ips is not None
               else "by internal proxies")
        log.log("trace1", "remoteip", f"Using {res.client_ip} as client's IP {how}",
                f"{res.client_ip}:0", dc, "mod_remoteip.c(770)")
    sb = conn.sb
    if sb is not None and txn.request_line:  # the scoreboard's Client column
        sb.request_start(conn.slot, txn.request_line.encode("latin-1", "replace"),
                         res.client_ip.encode("latin-1"),
                         conn.srv.engine.status_vhost(txn.vhost, conn))
    return OK


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None
                       ) -> Contribution:
    """A server that takes the client's address from a request header: its answers are
    the Python cache's only, for a hit without that header (or on a PROXY connection,
    which ignores it): the walk would change nothing there.  Any other request takes
    the full path; the C engine, which reads no header for this, serves none of them."""
    header = server_config(txn.vhost).header
    if header is None:
        return NOTHING
    key = header.lower()

    def walk_is_moot(hit: Transaction, entry_dc: DirConfig, uri: str) -> bool:
        req = hit.request
        return hit.conn.proxied or (req is not None and key not in req.headers)
    return Contribution(gate=walk_is_moot)


HOOKS = (Hook(POST_READ_REQUEST, post_read_request, FIRST),)
MODULE = ModuleSpec(NAME, directives, server_record=RemoteIPServer, hooks=HOOKS,
                    cache_contribution=cache_contribution, preface=preface_for,
                    needs_local_addr=proxy_protocol_configured)
