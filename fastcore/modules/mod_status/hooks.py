"""mod_status's handlers: `SetHandler server-status` (the page, or ?auto) and fastcore's
`SetHandler metrics` (the Prometheus series of ?auto, only with mod_status loaded)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastcore.core import errors as E
from fastcore.core.phases import DECLINED, FIRST, HANDLER, Hook, HookResult
from fastcore.core.response import Response, generated
from fastcore.core.server import ssl_components
from fastcore.modules import REGISTRY
from fastcore.modules.mod_status import handler as status
from fastcore.modules.mod_status import metrics, series

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction


def status_page(core: Handler, txn: Transaction, query: str, extended: bool,
                signature: str = "") -> tuple[str, bytes]:
    """mod_status's page (or ?auto document) for this request's host and address."""
    srv = core.srv
    local = txn.conn.local_addr() or ("127.0.0.1", 0)
    return status.render(srv.scoreboard, srv.cfg, query, extended,
                         host=txn.host_name or txn.vhost.server_name,
                         local_ip=str(local[0]), signature=signature,
                         server_version=E.server_banner("full", ssl_components(srv.cfg.modules)),
                         proctable=srv.proctable,
                         sections=lambda short: REGISTRY.status_sections(srv.cfg, short))


def server_status(core: Handler, txn: Transaction) -> HookResult:
    if txn.handler_name != "server-status":
        return DECLINED
    if core.srv.scoreboard is None:  # no MPM around (tests): nothing to report
        return core.error(txn, 500, dirconf=txn.dirconf)
    query = txn.r_query
    sig = core.signature(txn, txn.dirconf)
    if sig.startswith("<hr>\n"):  # mod_status's ap_psignature prefix is XHTML's
        sig = "<hr />\n" + sig[5:]
    ctype, body = status_page(core, txn, query, core.srv.cfg.extended_status, sig)
    # mod_status shows the full version whatever ServerTokens says (it is behind
    # its own access control); ?refresh=N adds a Refresh field.
    refresh = status.refresh_header(query)
    headers = [("Refresh", refresh)] if refresh is not None else []
    # a page past httpd's 8000-byte write buffer goes out without a length
    return generated(200, headers, ctype, body, txn.proto_num)


def metrics_handler(core: Handler, txn: Transaction) -> HookResult:
    """`SetHandler metrics` (with mod_status): the Prometheus series of ?auto, with
    the totals whatever ExtendedStatus says."""
    if txn.handler_name != "metrics":
        return DECLINED
    if core.srv.scoreboard is None:
        return core.error(txn, 500, dirconf=txn.dirconf)
    _ctype, auto = status_page(core, txn, "auto", True)
    body = metrics.render_from_auto(auto.decode("latin-1"))
    body += series.render(core.srv.scoreboard).encode("utf-8")  # fastcore's own series
    return Response(200, [("Content-Length", str(len(body)))], metrics.CONTENT_TYPE, body)


# both only while LoadModule names mod_status (Apache without it serves the URL as a file)
HOOKS = (
    Hook(HANDLER, server_status, FIRST),
    Hook(HANDLER, metrics_handler, FIRST),
)
