"""ap_expr's tokens as httpd 2.4's util_expr_scan.l cuts them.

Strings come out as pieces (T_STR_BEGIN, T_STRING / T_VAR_BEGIN ... / T_REGEX_BACKREF,
T_STR_END) because a quoted string may hold %{VAR} and $N.  A regex is read wherever
`/` or `m<delim>` starts a token, not only after =~ (so `/a/ == 1` is "unexpected T_REGEX"
as in Apache).  A scan error is a T_ERROR token carrying the scanner's message; nothing
after it is scanned.  Text values are byte strings (one code point per byte, see
paths.py's wire text) so comparisons and hashes see the bytes Apache sees.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from fastcore.core.tokens import is_digits

_WS = " \t\n"
_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_DIGITS = re.compile(r"-?[0-9]+")
_UNARY = re.compile(r"-[a-zA-Z_](?![a-zA-Z_0-9])")
_BINARY = re.compile(r"-[a-zA-Z_][a-zA-Z_0-9]+")
_REGEX_DELIMS = "/#$%^,;:_?|-!.'\""
# fixed tokens, longest first (flex takes the longest match, then the earliest rule)
_OPS = (("==", "T_OP_STR_EQ"), ("=~", "T_OP_REG"), ("!=", "T_OP_STR_NE"),
        ("!~", "T_OP_NRE"), ("<=", "T_OP_STR_LE"), (">=", "T_OP_STR_GE"),
        ("&&", "T_OP_AND"), ("||", "T_OP_OR"), ("=", "T_OP_STR_EQ"),
        ("<", "T_OP_STR_LT"), (">", "T_OP_STR_GT"), ("!", "T_OP_NOT"),
        (".", "T_OP_CONCAT"))
_DASH_WORDS = {"-in": "T_OP_IN", "-eq": "T_OP_EQ", "-ne": "T_OP_NE", "-ge": "T_OP_GE",
               "-le": "T_OP_LE", "-gt": "T_OP_GT", "-lt": "T_OP_LT"}
_WORDS = {"and": "T_OP_AND", "or": "T_OP_OR", "not": "T_OP_NOT", "lt": "T_OP_LT",
          "le": "T_OP_LE", "gt": "T_OP_GT", "ge": "T_OP_GE", "ne": "T_OP_NE",
          "eq": "T_OP_EQ", "in": "T_OP_IN", "true": "T_TRUE", "false": "T_FALSE"}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


@dataclass(frozen=True)
class Token:
    """kind is the bison token name the parser's messages print (T_ID, '(' ...);
    value the token's text (an identifier, a string piece, a regex, an error message)."""

    kind: str
    value: str = ""


def to_bytes_text(text: str) -> str:
    """Configuration text (utf-8 with surrogateescape) as byte text."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


class _Scanner:
    """The flex state machine: INITIAL, str, var, vararg (var's stack is self.vars)."""

    def __init__(self, text: str, string_mode: bool) -> None:
        self.s = to_bytes_text(text)
        self.raw = text
        self.i = 0
        self.out: list[Token] = []
        self.string_mode = string_mode

    def emit(self, kind: str, value: str = "") -> None:
        self.out.append(Token(kind, value))

    def error(self, message: str) -> None:
        self.emit("T_ERROR", message)

    def run(self) -> list[Token]:
        try:
            if self.string_mode:
                self.emit("T_EXPR_STRING")
                if self.string_body(None):
                    self.initial()
            else:
                self.emit("T_EXPR_BOOL")
                self.initial()
        except _Stop:
            return self.out
        self.emit("$end")
        return self.out

    def initial(self) -> None:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in _WS:
                self.i += 1
            elif c in "\"'":
                self.emit("T_STR_BEGIN")
                self.i += 1
                if not self.string_body(c):
                    return
            elif s.startswith("%{", self.i):
                self.i += 2
                self.variable()
            elif c == "$" and self.i + 1 < len(s) and is_digits(s[self.i + 1]):
                self.emit("T_REGEX_BACKREF", s[self.i + 1])
                self.i += 2
            elif c == "/":
                self.i += 1
                if not self.regex("/"):
                    return
            else:
                self.word()

    def word(self) -> None:
        """Operators, numbers, identifiers: the longest match, ties to the earlier rule."""
        s, i = self.s, self.i
        cands: list[tuple[int, int, str, str]] = []  # (length, -rule order, kind, value)
        if s[i] == "m" and i + 1 < len(s) and s[i + 1] in _REGEX_DELIMS:
            cands.append((2, -1, "regex", s[i + 1]))
        for rank, (op, kind) in enumerate(_OPS):
            if s.startswith(op, i):
                cands.append((len(op), -10 - rank, kind, op))
                break
        for word, kind in (*_DASH_WORDS.items(), *_WORDS.items()):
            if s.startswith(word, i):
                cands.append((len(word), -30, kind, word))
        if m := _UNARY.match(s, i):
            cands.append((2, -40, "T_OP_UNARY", m.group()[1:]))
        if m := _BINARY.match(s, i):
            cands.append((m.end() - i, -41, "T_OP_BINARY", m.group()[1:]))
        if m := _DIGITS.match(s, i):
            cands.append((m.end() - i, -50, "T_DIGIT", m.group()))
        if m := _ID.match(s, i):
            cands.append((m.end() - i, -60, "T_ID", m.group()))
        if s[i] in "(){},:":
            cands.append((1, -70, f"'{s[i]}'", s[i]))
        if not cands:
            self.error(f"Parse error near '{s[i]}'")
            raise _Stop
        length, _, kind, value = max(cands)
        self.i = i + length
        if kind == "regex":
            if not self.regex(value):
                self.i = len(s)
            return
        self.emit(kind, value)

    def string_body(self, quote: str | None) -> bool:
        """A quoted string after its quote (or the whole text of a string expression,
        quote None); False when the input ended inside it."""
        s = self.s
        buf: list[str] = []

        def flush() -> None:
            if buf:
                self.emit("T_STRING", "".join(buf))
                buf.clear()
        while self.i < len(s):
            c = s[self.i]
            if quote is not None and c == quote:
                flush()
                self.emit("T_STR_END")
                self.i += 1
                return True
            if c == "\n":
                self.error("Unterminated string or variable")
                raise _Stop
            if c == "\\":
                buf.append(self.escape())
                continue
            if c == "$" and self.i + 1 < len(s) and is_digits(s[self.i + 1]):
                flush()
                self.emit("T_REGEX_BACKREF", s[self.i + 1])
                self.i += 2
                continue
            if s.startswith("%{", self.i):
                flush()
                self.i += 2
                self.variable()
                continue
            buf.append(c)
            self.i += 1
        if quote is not None:
            self.error("Unterminated string or variable")
            raise _Stop
        flush()
        return False

    def escape(self) -> str:
        """A backslash sequence in a string or %{func:arg} (octal, \\n..., else the char)."""
        s, i = self.s, self.i
        if i + 1 >= len(s):  # a lone trailing backslash matches no rule: flex echoes it
            self.i += 1
            return "\\"
        m = re.compile(r"[0-7]{1,3}").match(s, i + 1)
        if m:
            value = int(m.group(), 8)
            if value > 0xFF:
                self.error("Escape sequence out of bound")
                raise _Stop
            self.i = m.end()
            return chr(value)
        if is_digits(s[i + 1]):
            self.error("Bad escape sequence")
            raise _Stop
        self.i = i + 2
        return _ESCAPES.get(s[i + 1], s[i + 1])

    def variable(self) -> None:
        """After %{: T_VAR_BEGIN T_ID [':' string] T_VAR_END."""
        self.emit("T_VAR_BEGIN")
        s = self.s
        while True:
            if self.i >= len(s):
                self.error("Unterminated string or variable")
                raise _Stop
            c = s[self.i]
            if c == "}":
                self.emit("T_VAR_END")
                self.i += 1
                return
            if c == ":":
                self.emit("':'")
                self.i += 1
                self.vararg()
                return
            m = _ID.match(s, self.i)
            if m:
                self.emit("T_ID", m.group())
                self.i = m.end()
                continue
            if c == "\n":
                self.error("Unterminated string or variable")
            else:
                self.error(f"Invalid character in variable name '{c}'")
            raise _Stop

    def vararg(self) -> None:
        """The argument of %{func:arg}, up to the closing brace."""
        s = self.s
        buf: list[str] = []

        def flush() -> None:
            if buf:
                self.emit("T_STRING", "".join(buf))
                buf.clear()
        while self.i < len(s):
            c = s[self.i]
            if c == "}":
                flush()
                self.emit("T_VAR_END")
                self.i += 1
                return
            if c == "\n":
                break
            if c == "\\":
                buf.append(self.escape())
                continue
            if c == "$" and self.i + 1 < len(s) and is_digits(s[self.i + 1]):
                flush()
                self.emit("T_REGEX_BACKREF", s[self.i + 1])
                self.i += 2
                continue
            if s.startswith("%{", self.i):
                flush()
                self.i += 2
                self.variable()
                continue
            buf.append(c)
            self.i += 1
        self.error("Unterminated string or variable")
        raise _Stop

    def regex(self, delim: str) -> bool:
        """The regex body up to `delim` and an `i` flag; False at the end of the input
        (flex then ends the scan: the parser sees $end)."""
        s = self.s
        end = s.find(delim, self.i)
        if end < 0:
            return False
        body = s[self.i:end]
        self.i = end + 1
        if self.i < len(s) and s[self.i] == "i":
            self.i += 1
            self.emit("T_REGEX_I", body)
        else:
            self.emit("T_REGEX", body)
        return True


class _Stop(Exception):
    """The scan ended (a T_ERROR, or the input ran out inside a regex)."""


def tokens(text: str, string_mode: bool = False) -> list[Token]:
    """Every token of `text`, ending with $end (or T_ERROR when the scanner refused)."""
    return _Scanner(text, string_mode).run()
