"""The sub-requests of -U/-F conditions and %{LA-U:...}/%{LA-F:...} look-aheads
(ap_sub_req_lookup_uri / ap_sub_req_lookup_file): a copy of the transaction runs the
request phases (translate_name onwards for a URI, map_to_storage onwards for a file),
never the handler; its status, file name and variables are read, then it is dropped.
mod_rewrite's own hooks run in it (rules with [NS] or [R] are skipped there)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastcore.core.mapping import decode_path
from fastcore.core.phases import (
    MAP_TO_STORAGE,
    OK,
    REQUEST_PHASES,
    RUN_FIRST,
    TRANSLATE_NAME,
)
from fastcore.core.request import HttpError
from fastcore.core.response import Response
from fastcore.core.subrequest import is_subrequest, main_uri, make

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction


@dataclass
class SubResult:
    """What the caller reads of a finished sub-request."""

    status: int
    txn: Transaction


def in_subreq(txn: Transaction) -> bool:
    return is_subrequest(txn)


def subreq_ok(txn: Transaction) -> bool:
    """subreq_ok: not in a sub-request, or in one for another URI than the main's (a
    look-ahead inside a look-ahead of the same URI would never end)."""
    main = main_uri(txn)
    return main is None or main != txn.r_uri


def _run(core: Handler, sub: Transaction, start: str) -> int:
    """ap_process_request_internal from `start` on: the status it ends with (200 when
    every phase passed)."""
    phases = REQUEST_PHASES[REQUEST_PHASES.index(start):]
    for phase in phases:
        for fn in core.phases.functions(phase):
            rv = fn(core, sub)
            if isinstance(rv, Response):
                return rv.status
            if rv == OK and phase in RUN_FIRST:
                break
            if rv >= 100:
                return rv
    return 200


def lookup_uri(core: Handler, txn: Transaction, uri: str) -> SubResult:
    """ap_sub_req_lookup_uri: the URI (as sent: %-escapes decoded) through every phase
    before the handler; a failure of the main request's walk is its status."""
    sub = make(txn)
    path, _, query = uri.partition("?")
    try:
        sub.r_uri = decode_path(path, txn.vhost.allow_encoded_slashes)
    except HttpError as e:
        return SubResult(e.status, sub)
    sub.r_query = query
    sub.filename = None
    try:
        status = _run(core, sub, TRANSLATE_NAME)
    except HttpError as e:
        status = e.status
    txn.cacheable = False
    return SubResult(status, sub)


def lookup_file(core: Handler, txn: Transaction, path: str) -> SubResult:
    """ap_sub_req_lookup_file: the file through the walk, access checks and fixups."""
    sub = make(txn)
    sub.mapped = sub.filename = path
    try:
        status = _run(core, sub, MAP_TO_STORAGE)
    except HttpError as e:
        status = e.status
    txn.cacheable = False
    return SubResult(status, sub)
