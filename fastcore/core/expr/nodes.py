"""The parse tree and its evaluation (util_expr_eval.c's ap_expr_eval / _eval_word),
nesting counted as Apache counts it (AP_EXPR_MAX_RECURSION)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from fastcore.config.regex import Regex
from fastcore.core.expr import names as N
from fastcore.core.expr.context import ExprContext
from fastcore.core.expr.values import atoi64, raw


class Word(ABC):
    """A string-valued node."""

    independent = True

    def value(self, ctx: ExprContext) -> str:
        ctx.enter()
        try:
            return self.compute(ctx) or ""
        finally:
            ctx.leave()

    @abstractmethod
    def compute(self, ctx: ExprContext) -> str | None:
        """The node's own value (None: Apache's NULL, read as "")."""


@dataclass
class Const(Word):
    text: str
    digit: bool = False

    def compute(self, ctx: ExprContext) -> str | None:
        return self.text


@dataclass
class Var(Word):
    name: str
    var: N.Variable

    def compute(self, ctx: ExprContext) -> str | None:
        return self.var.fn(ctx)

    @property
    def independent(self) -> bool:  # type: ignore[override]
        return self.var.independent


@dataclass
class Backref(Word):
    n: int

    def compute(self, ctx: ExprContext) -> str | None:
        return ctx.backref(self.n)


@dataclass
class Concat(Word):
    parts: list[Word]

    def compute(self, ctx: ExprContext) -> str | None:
        return "".join(p.value(ctx) for p in self.parts)

    @property
    def independent(self) -> bool:  # type: ignore[override]
        return all(p.independent for p in self.parts)


@dataclass
class Call(Word):
    name: str
    func: N.Function
    arg: Word

    def compute(self, ctx: ExprContext) -> str | None:
        return self.func.fn(ctx, self.arg.value(ctx))

    @property
    def independent(self) -> bool:  # type: ignore[override]
        return self.func.independent and self.arg.independent


class Cond(ABC):
    """A boolean node."""

    independent = True

    def truth(self, ctx: ExprContext) -> bool:
        ctx.enter()
        try:
            return self.compute(ctx)
        finally:
            ctx.leave()

    @abstractmethod
    def compute(self, ctx: ExprContext) -> bool:
        """The node's truth, evaluated in the caller's nesting level."""


@dataclass
class Bool(Cond):
    on: bool

    def compute(self, ctx: ExprContext) -> bool:
        return self.on


@dataclass
class Not(Cond):
    cond: Cond

    def compute(self, ctx: ExprContext) -> bool:  # op_Not loops in the same frame
        return not self.cond.compute(ctx)

    @property
    def independent(self) -> bool:  # type: ignore[override]
        return self.cond.independent


@dataclass
class Logic(Cond):
    """&& / ||; the right operand is evaluated in the same frame, the left one nested
    (a Not on the left is looked through), as ap_expr_eval's loop does."""

    is_and: bool
    left: Cond
    right: Cond

    def compute(self, ctx: ExprContext) -> bool:
        left = self.left
        v = not left.cond.truth(ctx) if isinstance(left, Not) else left.truth(ctx)
        if v != self.is_and:
            return v
        return self.right.compute(ctx)

    @property
    def independent(self) -> bool:  # type: ignore[override]
        return self.left.independent and self.right.independent


def _cmp(a: str, b: str) -> int:
    x, y = raw(a), raw(b)
    return (x > y) - (x < y)


def _icmp(a: str, b: str) -> int:
    x, y = atoi64(a), atoi64(b)
    return (x > y) - (x < y)


_TESTS = {"EQ": lambda c: c == 0, "NE": lambda c: c != 0, "LT": lambda c: c < 0,
          "LE": lambda c: c <= 0, "GT": lambda c: c > 0, "GE": lambda c: c >= 0}


@dataclass
class Compare(Cond):
    """== != < <= > >= (strcmp) and -eq ... -ge (apr_atoi64)."""

    op: str  # EQ .. GE
    integer: bool
    left: Word
    right: Word

    def compute(self, ctx: ExprContext) -> bool:
        a, b = self.left.value(ctx), self.right.value(ctx)
        return _TESTS[self.op]((_icmp if self.integer else _cmp)(a, b))

    @property
    def independent(self) -> bool:  # type: ignore[override]
        return self.left.independent and self.right.independent


@dataclass
class Match(Cond):
    """=~ / !~; a regex with capturing groups sets $0..$9 (or clears them on failure)."""

    word: Word
    regex: Regex
    negate: bool

    def compute(self, ctx: ExprContext) -> bool:
        s = self.word.value(ctx)
        m = self.regex.search(s)
        if self.regex.groups > 0:
            if m is None:
                ctx.source, ctx.groups = None, []
            else:
                ctx.source = s
                ctx.groups = [m.group(i) for i in range(min(self.regex.groups + 1, 10))]
        return (m is not None) != self.negate

    @property
    def independent(self) -> bool:  # type: ignore[override]
        return self.word.independent


@dataclass
class In(Cond):
    word: Word
    items: list[Word]

    def compute(self, ctx: ExprContext) -> bool:
        needle = self.word.value(ctx)
        return any(needle == w.value(ctx) for w in self.items)

    @property
    def independent(self) -> bool:  # type: ignore[override]
        return self.word.independent and all(w.independent for w in self.items)


@dataclass
class UnaryOp(Cond):
    name: str
    op: N.Unary
    arg: Word
    net: N.Network | None = None

    def compute(self, ctx: ExprContext) -> bool:
        return self.op.fn(ctx, self.arg.value(ctx), self.net)

    @property
    def independent(self) -> bool:  # type: ignore[override]
        if self.op.file_test:  # fixed only for the served file itself
            return isinstance(self.arg, Var) and self.arg.name in (
                "REQUEST_FILENAME", "SCRIPT_FILENAME")
        return self.op.independent and self.arg.independent


@dataclass
class BinaryOp(Cond):
    name: str
    op: N.Binary
    left: Word
    right: Word
    net: N.Network | None = None

    def compute(self, ctx: ExprContext) -> bool:
        a, b = self.left.value(ctx), self.right.value(ctx)
        return self.op.fn(ctx, a, b, self.net)

    @property
    def independent(self) -> bool:  # type: ignore[override]
        return self.left.independent and self.right.independent
