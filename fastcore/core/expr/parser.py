"""httpd 2.4's util_expr_parse.y as recursive descent, with its error messages: bison's
"syntax error, unexpected X[, expecting Y]" (ctx->error) joined with the scanner's or a
name lookup's message (ctx->error2) as ap_expr_parse joins them."""
from __future__ import annotations

from collections.abc import Mapping

from fastcore.config.regex import CompileError, compile_regex
from fastcore.core.expr import names as N
from fastcore.core.expr import nodes as X
from fastcore.core.expr.scanner import Token, tokens

_COMPARE = {"T_OP_STR_EQ": ("EQ", False), "T_OP_STR_NE": ("NE", False),
            "T_OP_STR_LT": ("LT", False), "T_OP_STR_LE": ("LE", False),
            "T_OP_STR_GT": ("GT", False), "T_OP_STR_GE": ("GE", False),
            "T_OP_EQ": ("EQ", True), "T_OP_NE": ("NE", True), "T_OP_LT": ("LT", True),
            "T_OP_LE": ("LE", True), "T_OP_GT": ("GT", True), "T_OP_GE": ("GE", True)}


class ParseFailure(Exception):
    """The message Apache's ap_expr_parse returns."""


class _Abort(Exception):
    """YYABORT / a syntax error: the parse stops; the message is assembled at the top."""


def _from_bytes_text(s: str) -> str:
    return s.encode("latin-1").decode("utf-8", "surrogateescape")


# what AP_EXPR_FLAG_RESTRICTED refuses (the entries core_expr_lookup marks restricted)
RESTRICTED_FUNCTIONS = frozenset(("file", "filesize"))
RESTRICTED_UNARY = frozenset(("d", "e", "f", "s", "L", "h", "x", "F", "U", "A"))


class Parser:
    def __init__(self, text: str, string_mode: bool,
                 functions: Mapping[str, N.Function] | None = None,
                 restricted: bool = False) -> None:
        self.toks = tokens(text, string_mode)
        # a caller's own string functions, looked up first (mod_include's v())
        self.functions = functions or {}
        self.restricted = restricted
        self.i = 0
        self.error: str | None = None   # bison's message
        self.error2: str | None = None  # the scanner's or a lookup's

    # -- tokens ---------------------------------------------------------------------
    def peek(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        tok = self.toks[self.i]
        if self.i < len(self.toks) - 1:
            self.i += 1
        return tok

    def syntax(self, expecting: str = "") -> _Abort:
        tok = self.peek()
        if tok.kind == "T_ERROR":
            self.error2 = tok.value
        self.error = f"syntax error, unexpected {tok.kind}" + (
            f", expecting {expecting}" if expecting else "")
        return _Abort()

    def abort_on_error(self) -> None:
        """Where the grammar has a `T_ERROR { YYABORT; }` alternative."""
        tok = self.peek()
        if tok.kind == "T_ERROR":
            self.error2 = tok.value
            raise _Abort()

    def expect(self, kind: str, expecting: str | None = None) -> Token:
        if self.peek().kind != kind:
            raise self.syntax(expecting or kind)
        return self.take()

    def lookup_failed(self, message: str) -> None:
        self.error2 = message

    # -- entry points ------------------------------------------------------------------
    def message(self) -> str:
        if self.error and self.error2:
            return f"{self.error}: {self.error2}"
        return self.error or self.error2 or "syntax error"

    def parse_condition(self) -> X.Cond:
        try:
            self.expect("T_EXPR_BOOL")
            self.abort_on_error()
            root = self.cond()
            if self.peek().kind != "$end":
                raise self.syntax("$end")
        except _Abort:
            raise ParseFailure(self.message()) from None
        if self.error2:
            raise ParseFailure(self.message())
        return root

    def parse_string(self) -> X.Word:
        try:
            self.expect("T_EXPR_STRING")
            self.abort_on_error()
            if self.peek().kind == "$end":
                raise self.syntax()
            root = self.string()
            if self.peek().kind != "$end":
                raise self.syntax("$end")
        except _Abort:
            raise ParseFailure(self.message()) from None
        if self.error2:
            raise ParseFailure(self.message())
        return root

    # -- conditions --------------------------------------------------------------------
    def cond(self) -> X.Cond:
        """A chain of || (and of &&) nests to the right, as Apache's tree does: its
        evaluation loops over the chain instead of recursing (no nesting limit)."""
        left = self.conj()
        if self.peek().kind == "T_OP_OR":
            self.take()
            return X.Logic(False, left, self.cond())
        return left

    def conj(self) -> X.Cond:
        left = self.unary()
        if self.peek().kind == "T_OP_AND":
            self.take()
            return X.Logic(True, left, self.conj())
        return left

    def unary(self) -> X.Cond:
        tok = self.peek()
        if tok.kind == "T_OP_NOT":
            self.take()
            self.abort_on_error()
            return X.Not(self.unary())
        if tok.kind in ("T_TRUE", "T_FALSE"):
            self.take()
            return X.Bool(tok.kind == "T_TRUE")
        if tok.kind == "'('":
            self.take()
            self.abort_on_error()
            inner = self.cond()
            self.expect("')'", "T_OP_OR or T_OP_AND or ')'")
            return inner
        if tok.kind == "T_OP_UNARY":
            self.take()
            arg = self.word()
            return self.unary_op(tok.value, arg)
        self.abort_on_error()
        return self.comparison()

    def unary_op(self, name: str, arg: X.Word) -> X.Cond:
        if self.restricted and name in RESTRICTED_UNARY:
            self.lookup_failed(f"-{name} not available in restricted context")
            return X.Bool(False)
        op = N.UNARY.get(name)  # unary operators are looked up case-sensitively
        if op is None:
            if name in ("F", "U", "A"):
                self.lookup_failed(f"Unary operator '-{name}' (a sub-request) is not "
                                   "supported by fastcore")
            else:
                self.lookup_failed(f"Unary operator '-{name}' does not exist")
            return X.Bool(False)
        net = None
        if op.subnet:
            net, err = N.parse_subnet(name, _constant(arg))
            if err:
                self.lookup_failed(err)
        return X.UnaryOp(name, op, arg, net)

    def comparison(self) -> X.Cond:
        left = self.word()
        tok = self.peek()
        if tok.kind in _COMPARE:
            self.take()
            op, integer = _COMPARE[tok.kind]
            return X.Compare(op, integer, left, self.word())
        if tok.kind in ("T_OP_REG", "T_OP_NRE"):
            self.take()
            rx = self.peek()
            if rx.kind not in ("T_REGEX", "T_REGEX_I"):
                raise self.syntax("T_REGEX or T_REGEX_I")
            self.take()
            try:
                regex = compile_regex(_from_bytes_text(rx.value), rx.kind == "T_REGEX_I")
            except CompileError:
                self.error = "Failed to compile regular expression"
                raise _Abort() from None
            return X.Match(left, regex, tok.kind == "T_OP_NRE")
        if tok.kind == "T_OP_IN":
            self.take()
            return X.In(left, self.wordlist())
        if tok.kind == "T_OP_BINARY":
            self.take()
            right = self.word()
            op2 = N.BINARY.get(tok.value.lower())
            if op2 is None:
                self.lookup_failed(f"Binary operator '-{tok.value}' does not exist")
                return X.Bool(False)
            net = None
            if op2.subnet:
                net, err = N.parse_subnet(tok.value, _constant(right))
                if err:
                    self.lookup_failed(err)
            return X.BinaryOp(tok.value, op2, left, right, net)
        raise self.syntax()

    def wordlist(self) -> list[X.Word]:
        tok = self.peek()
        if tok.kind == "T_ID":  # a list function: core has none
            self.take()
            self.expect("'('")
            self.word()
            self.expect("')'", "T_OP_CONCAT or ')'")
            self.lookup_failed(f"List-returning function '{tok.value}' does not exist")
            return []
        self.expect("'{'", "T_ID or '{'")
        items = [self.word()]
        while self.peek().kind == "','":
            self.take()
            items.append(self.word())
        self.expect("'}'", "'}' or ','")
        return items

    # -- words ---------------------------------------------------------------------------
    def word(self) -> X.Word:
        parts = [self.part()]
        while self.peek().kind == "T_OP_CONCAT":
            self.take()
            parts.append(self.part())
        return parts[0] if len(parts) == 1 else X.Concat(parts)

    def part(self) -> X.Word:
        tok = self.peek()
        if tok.kind == "T_DIGIT":
            self.take()
            return X.Const(tok.value, digit=True)
        if tok.kind == "T_STR_BEGIN":
            self.take()
            if self.peek().kind == "T_STR_END":
                self.take()
                return X.Const("")
            self.abort_on_error()
            inner = self.string()
            self.expect("T_STR_END", "T_STRING or T_REGEX_BACKREF or T_STR_END or T_VAR_BEGIN")
            return inner
        if tok.kind == "T_VAR_BEGIN":
            return self.var()
        if tok.kind == "T_REGEX_BACKREF":
            self.take()
            return X.Backref(int(tok.value))
        if tok.kind == "T_ID":
            self.take()
            self.expect("'('")
            arg = self.word()
            self.expect("')'", "T_OP_CONCAT or ')'")
            return self.call(tok.value, arg)
        raise self.syntax()

    def call(self, name: str, arg: X.Word) -> X.Word:
        func = self.functions.get(name.lower()) or N.FUNCTIONS.get(name.lower())
        if func is not None and self.restricted and name.lower() in RESTRICTED_FUNCTIONS:
            self.lookup_failed(f"{name} not available in restricted context")
            return X.Const("")
        if func is None:
            self.lookup_failed(f"Function '{name}' does not exist")
            return X.Const("")
        return X.Call(name, func, arg)

    def string(self) -> X.Word:
        parts: list[X.Word] = []
        while True:
            tok = self.peek()
            if tok.kind == "T_STRING":
                self.take()
                parts.append(X.Const(tok.value))
            elif tok.kind == "T_VAR_BEGIN":
                parts.append(self.var())
            elif tok.kind == "T_REGEX_BACKREF":
                self.take()
                parts.append(X.Backref(int(tok.value)))
            elif not parts:
                self.abort_on_error()
                raise self.syntax("T_ERROR or T_STRING or T_REGEX_BACKREF or T_VAR_BEGIN")
            else:
                break
        return parts[0] if len(parts) == 1 else X.Concat(parts)

    def var(self) -> X.Word:
        self.take()  # T_VAR_BEGIN
        name = self.expect("T_ID").value
        if self.peek().kind == "':'":
            self.take()
            self.abort_on_error()
            arg = self.string()
            self.expect("T_VAR_END", "T_STRING or T_REGEX_BACKREF or T_VAR_BEGIN or T_VAR_END")
            return self.call(name, arg)
        self.expect("T_VAR_END", "T_VAR_END or ':'")
        var = N.VARIABLES.get(name.upper())
        if var is None and name[:4].upper() == "SSL_":  # mod_ssl's ssl_expr_lookup
            var = N.ssl_variable(name)
        if var is None:
            self.lookup_failed(f"Variable '{name}' does not exist")
            return X.Const("")
        return X.Var(name.upper(), var)


def _constant(w: X.Word) -> str | None:
    """The argument -R / -ipmatch need: a quoted string with no variable in it."""
    return w.text if isinstance(w, X.Const) and not w.digit else None
