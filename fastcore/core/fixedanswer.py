"""Answers that are fixed bytes (issue 14): an external redirect made by a rule set whose
outcome is a function of (Host, target, file-system tests) may be answered by the C
engine without Python.  The producer vouches for the bytes (Response.fixed: mod_rewrite's
cache.py); this file decides whether the rest of the answer is fixed too, with the same
shares as cacheable.entry_for, and cuts the bytes the slow path would send into the
engine's parts (status line, the fields between Server and Connection, the fields after
it, the body), so a hit sends what the first answer sent but for Date and keep-alive.
"""
from __future__ import annotations

from dataclasses import dataclass

from fastcore.core import serialize
from fastcore.core.cacheable import Probe, shares
from fastcore.core.request import Request
from fastcore.core.response import Response
from fastcore.core.transaction import Transaction

# the variables under which the slow path frames the answer otherwise (keepalive.env_protocol)
FRAMING_ENV = ("downgrade-1.0", "force-response-1.0", "nokeepalive")
HOP_FIELDS = ("connection", "keep-alive")
_MARK = b"\r\nX-Fastcore-Keep-Alive-Mark: 1\r\n"  # where the keep-alive header goes


@dataclass(frozen=True, slots=True)
class FixedAnswer:
    """A GET answer the engine may send as it is (FastCache.put_fixed)."""

    status: int
    status_line: bytes  # "HTTP/1.1 301 Moved Permanently\r\n"
    mid: bytes          # fields between Server and Connection
    tail: bytes         # fields after it (Content-Type)
    body: bytes
    uri: str            # %U
    filename: str       # %f (the redirect's URL, r->filename)
    ctype: str | None   # %{Content-Type}o
    probes: tuple[Probe, ...]
    engine_log_set: int


def fixed_answer(server_line: bytes, txn: Transaction, req: Request, resp: Response,
                 engine_log_set: int | None) -> FixedAnswer | None:
    """The engine's copy of `resp`, or None when a part of it may differ per request."""
    if (not resp.fixed or engine_log_set is None or not txn.cacheable
            or req.method != "GET" or not req.target.startswith("/") or req.assbackwards):
        return None
    if (resp.file is not None or resp.parts is not None or resp.chunked or resp.no_length
            or resp.close or resp.tail or resp.body is None or not 300 <= resp.status < 600):
        return None
    if any(k.lower() in HOP_FIELDS for k, _ in resp.headers):
        return None
    if any(name in txn.env for name in FRAMING_ENV):
        return None
    if txn.link_checks or txn.peer_rules or txn.deps:
        return None  # a fixed answer repeats no symlink, Require ip or directory check
    dc = txn.dirconf or txn.vhost.dir_defaults
    for c in shares(txn, dc, None):  # every module's word on this scope's answers
        if (not c.cacheable or c.gate is not None or c.expiry is not None
                or c.peer_rule is not None or c.host_need):
            return None
    head = serialize.response_head(server_line, txn, req, resp, _MARK[2:], dc)
    line_end = head.find(b"\r\n") + 2
    date_end = head.find(b"\r\n", line_end) + 2
    rest = head[date_end:]
    if not rest.startswith(server_line) or rest.count(_MARK[2:]) != 1:
        return None
    mid, _, tail = rest[len(server_line):].partition(_MARK[2:])
    if not tail.endswith(b"\r\n"):
        return None
    return FixedAnswer(resp.status, head[:line_end], mid, tail[:-2], resp.body, txn.uri_path,
                       txn.filename or "", txn.ctype, tuple(txn.probes), engine_log_set)
