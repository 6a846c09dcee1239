"""The phase runner: httpd's request hooks, with the modules' functions in an order built
once per (re)start.

httpd's ap_process_request_internal runs translate_name, map_to_storage, header_parser,
check_access / check_authn / check_authz, type_checker and fixups, then the handler, and
log_transaction after the response.  Each module registers its functions into the phases
it cares about, with a coarse position (FIRST / MIDDLE / LAST ...) and optional
predecessors (modules whose function must run before its own in that phase).

A hook takes the core (the services every module may use: the error response, the
default handler, the mapper...) and the request's Transaction, and returns:

- DECLINED: not mine, ask the next function;
- OK: done with this phase (a run-first phase stops, a run-all phase goes on);
- a Response: the answer (httpd's DONE, or a handler that wrote the response);
- an HTTP status (>= 100): answer with that error (ErrorDocument applies).

Which phases are run-first (the first function that does not decline ends the phase) and
which run-all (every function runs until one answers) is what httpd's hook declarations
say.  The order is resolved in `Phases.build` from the registrations of the loaded
modules; per request the runner only walks tuples.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.response import Response
    from fastcore.core.transaction import Transaction

# Return codes (httpd's values are 0, -1 and -2; any positive int is an HTTP status).
OK = 0
DECLINED = -1

# Positions in a phase (APR_HOOK_REALLY_FIRST ... APR_HOOK_REALLY_LAST).
REALLY_FIRST = -10
FIRST = 0
MIDDLE = 10
LAST = 20
REALLY_LAST = 30

# The phases, in the order ap_process_request_internal runs them.
POST_READ_REQUEST = "post_read_request"
TRANSLATE_NAME = "translate_name"
MAP_TO_STORAGE = "map_to_storage"
HEADER_PARSER = "header_parser"
CHECK_ACCESS = "check_access"
# httpd's access_checker_ex: authorization that needs no user (mod_authz_core's
# authorize_userless); OK there grants without authentication, DECLINED asks for it
CHECK_ACCESS_EX = "check_access_ex"
CHECK_AUTHN = "check_authn"
CHECK_AUTHZ = "check_authz"
TYPE_CHECKER = "type_checker"
FIXUPS = "fixups"
HANDLER = "handler"
# fastcore's stand-in for httpd's output filter chain (insert_filter + the filters'
# header work): run-all over the finished Response in txn.response, errors included;
# a function may edit it in place or return a new Response that replaces it
OUTPUT_FILTER = "output_filter"
LOG_TRANSACTION = "log_transaction"

# The phases before the handler, in order.
REQUEST_PHASES = (POST_READ_REQUEST, TRANSLATE_NAME, MAP_TO_STORAGE, HEADER_PARSER,
                  CHECK_ACCESS, CHECK_ACCESS_EX, CHECK_AUTHN, CHECK_AUTHZ, TYPE_CHECKER,
                  FIXUPS)
# the phases request.c runs as one decision (Satisfy, authentication only when needed)
ACCESS_PHASES = (CHECK_ACCESS, CHECK_ACCESS_EX, CHECK_AUTHN, CHECK_AUTHZ)
PHASES = (*REQUEST_PHASES, HANDLER, OUTPUT_FILTER, LOG_TRANSACTION)
# httpd's AP_IMPLEMENT_HOOK_RUN_FIRST phases; the others are RUN_ALL.
RUN_FIRST = frozenset((TRANSLATE_NAME, MAP_TO_STORAGE, CHECK_ACCESS_EX, CHECK_AUTHN,
                       CHECK_AUTHZ, TYPE_CHECKER, HANDLER))

HookResult = Union["Response", int]
HookFn = Callable[["Handler", "Transaction"], HookResult]


@dataclass(frozen=True)
class Hook:
    """One function a module registers into one phase."""

    phase: str
    fn: HookFn
    order: int = MIDDLE
    # modules (Apache names) whose functions in this phase must run before this one
    predecessors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"unknown phase {self.phase!r}")


@dataclass(frozen=True)
class Registration:
    """A hook with the module that registered it (the name predecessors refer to)."""

    module: str
    hook: Hook


def _ordered(regs: list[Registration]) -> tuple[HookFn, ...]:
    """Sort one phase's registrations by position, then registration order, then move
    each after its predecessors (httpd's hook sort); a cycle is a startup error."""
    pending = sorted(enumerate(regs), key=lambda ir: (ir[1].hook.order, ir[0]))
    placed: list[Registration] = []
    while pending:
        for i, (_idx, reg) in enumerate(pending):
            # placeable once no function of a predecessor module is still waiting
            if not any(r.module in reg.hook.predecessors for _, r in pending if r is not reg):
                placed.append(reg)
                del pending[i]
                break
        else:
            names = ", ".join(r.module for _, r in pending)
            raise ValueError(f"hook predecessors form a cycle: {names}")
    return tuple(r.hook.fn for r in placed)


def _decl_die(core: Handler, txn: Transaction, what: str) -> int:
    """request.c's decl_die for a phase nobody answered: AH00025 and a 500."""
    core.srv.errlog(txn.vhost).log(
        "crit", "core", f"AH00025: configuration error:  couldn't {what}: {txn.r_uri}",
        f"{txn.client_ip}:{txn.remote_port}", txn.dirconf)
    return 500


class Phases:
    """Every phase's functions, ordered once; run per request."""

    __slots__ = ("hooks", "request_plan")

    def __init__(self, hooks: dict[str, tuple[HookFn, ...]]) -> None:
        self.hooks = hooks
        # (run-first?, functions) for the phases before the handler that have any; the
        # access phases are one step of the plan (None), run by `access`
        plan: list[tuple[bool, tuple[HookFn, ...]] | None] = []
        for p in REQUEST_PHASES:
            if p in ACCESS_PHASES:
                if p == CHECK_ACCESS:  # run even with no function: httpd's 500 then
                    plan.append(None)
            elif hooks.get(p):
                plan.append((p in RUN_FIRST, hooks[p]))
        self.request_plan = tuple(plan)

    @classmethod
    def build(cls, registrations: Iterable[Registration]) -> Phases:
        by_phase: dict[str, list[Registration]] = {p: [] for p in PHASES}
        for reg in registrations:
            by_phase[reg.hook.phase].append(reg)
        return cls({p: _ordered(regs) for p, regs in by_phase.items()})

    def functions(self, phase: str) -> tuple[HookFn, ...]:
        return self.hooks[phase]

    def run_request(self, core: Handler, txn: Transaction) -> HookResult:
        """The phases before the handler: DECLINED/OK when the request goes on to the
        handler, else what answers it (a Response or an HTTP status)."""
        for step in self.request_plan:
            if step is None:
                rv = self.access(core, txn)
                if rv.__class__ is int and rv == OK:
                    continue
                return rv
            first, fns = step
            for fn in fns:
                rv = fn(core, txn)
                if rv.__class__ is int:
                    if rv == DECLINED:
                        continue
                    if rv == OK:
                        if first:
                            break
                        continue
                return rv
        return OK

    def _run_phase(self, phase: str, core: Handler, txn: Transaction) -> HookResult:
        """One phase on its own: run-first phases answer DECLINED when every function
        declined; run-all phases OK unless a function answered."""
        first = phase in RUN_FIRST
        for fn in self.hooks.get(phase, ()):
            rv = fn(core, txn)
            if rv.__class__ is int:
                if rv == DECLINED:
                    continue
                if rv == OK:
                    if first:
                        return OK
                    continue
            return rv
        return DECLINED if first else OK

    def access(self, core: Handler, txn: Transaction) -> HookResult:
        """request.c's access decision: check_access (whose failure ends the request,
        unless Satisfy Any lets a user make up for it and whose success under Satisfy
        Any is enough), then check_access_ex: OK grants without a user, DECLINED asks
        check_authn for one and check_authz whether that user may in.  With no function
        in check_access_ex (no mod_authz_core) that is DECLINED too, as in httpd:
        check_authn then decides (nobody: AH00025 "couldn't check user", a 500)."""
        rv = self._run_phase(CHECK_ACCESS, core, txn)
        passed = rv.__class__ is int and rv <= OK
        if txn.satisfy_any:  # set by mod_access_compat from Satisfy Any
            if passed:
                return OK
        elif not passed:
            return rv
        rv = self._run_phase(CHECK_ACCESS_EX, core, txn)
        if rv.__class__ is int and rv == OK:
            return OK
        if rv.__class__ is not int or rv != DECLINED:
            return rv
        rv = self._run_phase(CHECK_AUTHN, core, txn)
        if rv.__class__ is int and rv == DECLINED:
            return _decl_die(core, txn, "check user")
        if rv.__class__ is not int or rv != OK:
            return rv
        if txn.user is None:
            core.srv.errlog(txn.vhost).log(
                "error", "core", "AH00027: No authentication done but request not allowed "
                f"without authentication for {txn.r_uri}. Authentication not configured?",
                f"{txn.client_ip}:{txn.remote_port}", txn.dirconf)
            return 500
        rv = self._run_phase(CHECK_AUTHZ, core, txn)
        if rv.__class__ is int and rv == DECLINED:
            return _decl_die(core, txn, "check authorization")
        return rv

    def run_handler(self, core: Handler, txn: Transaction) -> HookResult:
        """The first handler that does not decline answers (DECLINED when none does)."""
        for fn in self.hooks[HANDLER]:
            rv = fn(core, txn)
            if rv.__class__ is not int or rv != DECLINED:
                return rv
        return DECLINED

    def run_output(self, core: Handler, txn: Transaction, resp: Response) -> Response:
        """The output filters over a finished answer: each sees txn.response and may
        return a Response that replaces it (any int leaves it as it is)."""
        fns = self.hooks[OUTPUT_FILTER]
        if not fns:
            return resp
        txn.response = resp
        for fn in fns:
            rv = fn(core, txn)
            if rv.__class__ is not int:
                txn.response = rv  # type: ignore[assignment]
        out = txn.response
        assert out is not None
        return out

    def run_all(self, phase: str, core: Handler, txn: Transaction) -> None:
        """A run-all phase whose results do not answer the request (log_transaction)."""
        for fn in self.hooks[phase]:
            fn(core, txn)
