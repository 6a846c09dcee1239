"""What an expression is evaluated against (ap_expr_eval_ctx_t), and its failure."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastcore.core.response import Response
    from fastcore.core.transaction import Transaction

MAX_RECURSION = 20  # AP_EXPR_MAX_RECURSION: nesting of conditions and words


class ExprError(Exception):
    """An evaluation that failed (Apache logs "Evaluation of expression from F:L failed:
    MSG"; the caller answers as Apache's user of the expression does, e.g. Require's 500)."""


@dataclass
class ExprContext:
    """One evaluation's request (txn), the answer when there is one (resp: output
    filters, logging), the last regex match ($0..$9: `source` and its `groups`) and the
    request headers read through req()/http()/HTTP_* that Apache adds to Vary."""

    txn: Transaction
    resp: Response | None = None
    source: str | None = None
    groups: list[str | None] = field(default_factory=list)
    vary: list[str] = field(default_factory=list)
    depth: int = 0

    def enter(self) -> None:
        """inc_rec: one more level of nesting, refused past the limit."""
        if self.depth >= MAX_RECURSION:
            raise ExprError("Recursion limit reached")
        self.depth += 1

    def leave(self) -> None:
        self.depth -= 1

    def add_vary(self, header: str) -> None:
        """add_vary, except for Host (RFC 7231 7.1.4), as util_expr_eval.c does."""
        if header.lower() != "host":
            self.vary.append(header)

    def backref(self, n: int) -> str:
        """$n of the last successful match with capturing groups, else empty."""
        if self.source is None or not self.source or n >= len(self.groups):
            return ""
        return self.groups[n] or ""
