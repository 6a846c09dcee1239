"""ap_expr, httpd core's expression engine (server/util_expr_*.c): parse once at config
time (errors with Apache's messages), evaluate per request against an ExprContext.

    parse_condition("%{HTTP_HOST} =~ /^www/") -> Condition; .evaluate(ctx) -> bool
    parse_string("%{HTTP_HOST}/x") -> StringExpr; .evaluate(ctx) -> str
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastcore.config.engine import DirectiveError
from fastcore.core.expr import nodes
from fastcore.core.expr.context import ExprContext, ExprError
from fastcore.core.expr.names import Function
from fastcore.core.expr.parser import ParseFailure, Parser

__all__ = ["Condition", "ExprContext", "ExprError", "StringExpr", "parse_condition",
           "parse_string"]


@dataclass(frozen=True)
class Condition:
    """A parsed boolean expression.  request_independent: its value is fixed for one
    file's cached answer under one configuration (no request header, client, method,
    query, time, environment or outside file is read)."""

    text: str
    root: nodes.Cond

    @property
    def request_independent(self) -> bool:
        return self.root.independent

    def evaluate(self, ctx: ExprContext) -> bool:
        """The value; raises ExprError where Apache's evaluation fails."""
        ctx.depth = 0
        return self.root.truth(ctx)


@dataclass(frozen=True)
class StringExpr:
    """A parsed string expression (AP_EXPR_FLAG_STRING_RESULT)."""

    text: str
    root: nodes.Word

    @property
    def request_independent(self) -> bool:
        return self.root.independent

    def evaluate(self, ctx: ExprContext) -> str:
        """The value as byte text (one code point per byte, like a header value)."""
        ctx.depth = 0
        return self.root.value(ctx)


def parse_condition(text: str, functions: Mapping[str, Function] | None = None,
                    restricted: bool = False) -> Condition:
    """Parse a boolean ap_expr; DirectiveError carries Apache's message.  `functions`:
    a caller's own string functions (an ap_expr_lookup hook of its own, as
    mod_include's v()); `restricted`: AP_EXPR_FLAG_RESTRICTED (no file access)."""
    try:
        return Condition(text, Parser(text, False, functions, restricted).parse_condition())
    except ParseFailure as e:
        raise DirectiveError(str(e)) from None


def parse_string(text: str) -> StringExpr:
    """Parse a string ap_expr; DirectiveError carries Apache's message."""
    try:
        return StringExpr(text, Parser(text, True).parse_string())
    except ParseFailure as e:
        raise DirectiveError(str(e)) from None
