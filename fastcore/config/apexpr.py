"""The syntax of Apache's ap_expr boolean expressions (`CustomLog ... expr=...`), checked
at config time as ap_expr_parse_cmd does, so that `-t` refuses what Apache refuses.

Only the grammar is checked (util_expr_parse.y): operators and their operands,
parentheses, strings and %{VAR} references, regular expressions after =~ and !~,
one-argument function calls, `-in {list}`. Names are not looked up (Apache also refuses
an unknown variable or function; see docs/compat.md), except binary operators, whose
core set is fixed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from fastcore.config.engine import DirectiveError

COMPARE = ("==", "!=", "<=", ">=", "<", ">", "=")
INT_COMPARE = ("-eq", "-ne", "-lt", "-le", "-gt", "-ge")
BINARY = ("-ipmatch", "-strmatch", "-strcmatch", "-fnmatch")
_SYMBOLS = ("==", "=~", "!=", "!~", "<=", ">=", "&&", "||", "<", ">", "=", "!", "(", ")",
            "{", "}", ",", ".")
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DASH = re.compile(r"-[A-Za-z_]+")


@dataclass(frozen=True)
class Token:
    """kind: id, num, str, var, backref, dash, sym, regex, end."""

    kind: str
    text: str


def _unterminated() -> DirectiveError:
    return DirectiveError("syntax error, unexpected T_ERROR: Unterminated string or variable")


def _var(s: str, i: int) -> int:
    """%{NAME} or %{NAME:string} starting at i ('%'); returns the index after '}'."""
    m = _ID.match(s, i + 2)
    if not m:
        raise DirectiveError("syntax error, expecting T_ID")
    j = m.end()
    if j < len(s) and s[j] == ":":
        k = s.find("}", j + 1)
        if k < 0:
            raise _unterminated()
        if k == j + 1:
            raise DirectiveError("syntax error, unexpected T_VAR_END")
        return k + 1
    if j >= len(s):
        raise _unterminated()
    if s[j] != "}":
        raise DirectiveError("syntax error, expecting T_VAR_END or ':'")
    return j + 1


def _string(s: str, i: int) -> int:
    """A quoted string (with %{VAR} inside) starting at i; returns the index after it."""
    quote, j = s[i], i + 1
    while j < len(s) and s[j] != quote:
        if s[j] == "\\":
            j += 2
        elif s.startswith("%{", j):
            j = _var(s, j)
        else:
            j += 1
    if j >= len(s):
        raise _unterminated()
    return j + 1


def _regex(s: str, i: int) -> tuple[Token, int]:
    """/re/[i] or m<delim>re<delim>[i] at i (after =~ or !~)."""
    while i < len(s) and s[i].isspace():
        i += 1
    if s.startswith("/", i):
        delim, j = "/", i + 1
    elif s.startswith("m", i) and i + 1 < len(s) and not s[i + 1].isalnum() \
            and not s[i + 1].isspace():
        delim, j = s[i + 1], i + 2
    else:
        raise DirectiveError("syntax error, expecting T_REGEX or T_REGEX_I")
    end = s.find(delim, j)  # the scanner ends the regex at the delimiter (no escapes)
    if end < 0:
        raise DirectiveError("syntax error, unexpected $end, expecting T_REGEX or T_REGEX_I")
    try:
        re.compile(s[j:end])
    except re.error:
        raise DirectiveError("Failed to compile regular expression") from None
    j = end + 1
    if j < len(s) and s[j] == "i":
        j += 1
    return Token("regex", s[i:j]), j


def tokens(s: str) -> list[Token]:
    """util_expr_scan.l's tokens; a regex is read right after =~ or !~."""
    out: list[Token] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
        elif c in "'\"":
            j = _string(s, i)
            out.append(Token("str", s[i:j]))
            i = j
        elif s.startswith("%{", i):
            j = _var(s, i)
            out.append(Token("var", s[i:j]))
            i = j
        elif c == "$" and i + 1 < len(s) and s[i + 1].isdigit():
            out.append(Token("backref", s[i:i + 2]))
            i += 2
        elif c.isdigit():
            j = i
            while j < len(s) and s[j].isdigit():
                j += 1
            out.append(Token("num", s[i:j]))
            i = j
        elif m := _ID.match(s, i):
            out.append(Token("id", m.group()))
            i = m.end()
        elif c == "-" and (m := _DASH.match(s, i)):
            out.append(Token("dash", m.group()))
            i = m.end()
        else:
            sym = next((x for x in _SYMBOLS if s.startswith(x, i)), None)
            if sym is None:
                raise DirectiveError(f"Parse error near '{s[i:]}'")
            out.append(Token("sym", sym))
            i += len(sym)
            if sym in ("=~", "!~"):
                tok, i = _regex(s, i)
                out.append(tok)
    out.append(Token("end", ""))
    return out


_NAMES = {"==": "T_OP_STR_EQ", "=": "T_OP_STR_EQ", "!=": "T_OP_STR_NE",
          "<": "T_OP_STR_LT", "<=": "T_OP_STR_LE", ">": "T_OP_STR_GT", ">=": "T_OP_STR_GE",
          "&&": "T_OP_AND", "||": "T_OP_OR", "!": "T_OP_NOT", "=~": "T_OP_REG",
          "!~": "T_OP_NRE", ".": "T_OP_CONCAT", "-in": "T_OP_IN", "-eq": "T_OP_EQ",
          "-ne": "T_OP_NE", "-lt": "T_OP_LT", "-le": "T_OP_LE", "-gt": "T_OP_GT",
          "-ge": "T_OP_GE", "true": "T_TRUE", "false": "T_FALSE"}
_KINDS = {"num": "T_DIGIT", "str": "T_STR_BEGIN", "var": "T_VAR_BEGIN", "id": "T_ID",
          "backref": "T_REGEX_BACKREF", "regex": "T_REGEX", "end": "$end"}


def _bison_name(tok: Token) -> str:
    """The token as util_expr_parse.y's error messages name it."""
    if tok.text in _NAMES:
        return _NAMES[tok.text]
    if tok.kind == "dash":
        return "T_OP_UNARY" if len(tok.text) == 2 else "T_OP_BINARY"
    return _KINDS.get(tok.kind, f"'{tok.text}'")


class _Parser:
    """Recursive descent over util_expr_parse.y's boolean grammar."""

    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        tok = self.toks[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def fail(self, expecting: str = "") -> DirectiveError:
        tok = self.peek()
        near = _bison_name(tok)
        return DirectiveError(f"syntax error, unexpected {near}"
                              + (f", expecting {expecting}" if expecting else ""))

    def expect(self, text: str) -> None:
        tok = self.peek()
        if tok.kind != "sym" or tok.text != text:
            raise self.fail(f"'{text}'")
        self.take()

    def expr(self) -> None:
        self.conj()
        while self.peek().text == "||" and self.peek().kind == "sym":
            self.take()
            self.conj()

    def conj(self) -> None:
        self.unary()
        while self.peek().text == "&&" and self.peek().kind == "sym":
            self.take()
            self.unary()

    def unary(self) -> None:
        tok = self.peek()
        if tok.kind == "sym" and tok.text == "!":
            self.take()
            self.unary()
        elif tok.kind == "sym" and tok.text == "(":
            self.take()
            self.expr()
            self.expect(")")
        elif tok.kind == "id" and tok.text in ("true", "false"):
            self.take()
        elif tok.kind == "dash":
            if len(tok.text) != 2:  # -X is unary; -word is a binary operator
                raise self.fail()
            self.take()
            self.word()
        else:
            self.comparison()

    def comparison(self) -> None:
        self.word()
        tok = self.take()
        if tok.kind == "sym" and tok.text in COMPARE:
            self.word()
        elif tok.kind == "sym" and tok.text in ("=~", "!~"):
            self.take()  # the regex token the lexer read
        elif tok.kind == "dash" and tok.text == "-in":
            self.wordlist()
        elif tok.kind == "dash" and tok.text in INT_COMPARE:
            self.word()
        elif tok.kind == "dash" and len(tok.text) > 2:
            if tok.text not in BINARY:
                raise DirectiveError(f"Binary operator '{tok.text}' does not exist")
            self.word()
        else:
            if tok.kind != "end":
                self.i -= 1  # report the token that is not an operator
            raise self.fail()

    def wordlist(self) -> None:
        tok = self.peek()
        if tok.kind == "id":  # a list function: name(word)
            self.function()
            return
        self.expect("{")
        self.word()
        while self.peek().kind == "sym" and self.peek().text == ",":
            self.take()
            self.word()
        self.expect("}")

    def function(self) -> None:
        self.take()
        self.expect("(")
        self.word()
        self.expect(")")

    def word(self) -> None:
        self.part()
        while self.peek().kind == "sym" and self.peek().text == ".":
            self.take()
            self.part()

    def part(self) -> None:
        tok = self.peek()
        if tok.kind in ("num", "str", "var", "backref"):
            self.take()
        elif tok.kind == "id" and tok.text not in ("true", "false"):
            self.function()
        else:
            raise self.fail()


def check_expr(text: str) -> None:
    """Raise DirectiveError if `text` is not a boolean ap_expr Apache would parse."""
    p = _Parser(tokens(text))
    p.expr()
    if p.peek().kind != "end":
        raise p.fail("$end")
