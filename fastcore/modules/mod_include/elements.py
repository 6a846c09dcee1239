"""The elements of an SSI document (mod_include.c's handle_*): one `Document` runs the
tokenizer's pieces in order with httpd's state - the printing / condition flags and
the if nesting level, the error and time formats <!--#config --> changes, the variable
table, the last regex match - and collects the output.

Whatever needs the server (a sub-request, a file's facts, the error log) goes through
the `Services` the filter hands in, so this module has no request machinery of its own.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fastcore.config.engine import DirectiveError
from fastcore.core.expr import ExprContext, ExprError, parse_condition
from fastcore.core.expr.names import Function
from fastcore.core.tokens import is_digits
from fastcore.modules.mod_include import text as T
from fastcore.modules.mod_include.parser import Arg, Element, Piece, Unfinished


class Services(Protocol):
    """What the elements ask of the request they run in."""

    filename: str  # r->filename, as error-log messages name the document (byte text)

    def log(self, level: str, msg: str, status: str | None = None) -> None: ...

    def include(self, tag: str, value: str, raw: str) -> str | None: ...

    def finfo(self, directive: str, tag: str, value: str) -> os.stat_result | None: ...

    def expr_context(self, source: str | None, groups: list[str | None]) -> ExprContext: ...

    def lazy(self, name: str, time_fmt: str) -> str | None: ...


class Lazy:
    """httpd's LAZY_VALUE sentinel: computed (and stored) when first read."""


LAZY = Lazy()


@dataclass
class Vars:
    """r->subprocess_env as an APR table: names without case, the first spelling and
    position kept when a value is replaced."""

    rows: dict[str, tuple[str, str | Lazy]] = field(default_factory=dict)

    def set(self, name: str, value: str | Lazy) -> None:
        key = name.lower()
        old = self.rows.get(key)
        self.rows[key] = (old[0] if old else name, value)

    def raw(self, name: str) -> str | Lazy | None:
        row = self.rows.get(name.lower())
        return row[1] if row else None


@dataclass
class Settings:
    """The document's starting formats (the scope's SSIErrorMsg, SSITimeFormat,
    SSIUndefinedEcho) and whether exec-like includes are refused (IncludesNOEXEC)."""

    error_msg: str
    time_fmt: str
    undefined_echo: str
    no_exec: bool


class Document:
    """One parsed document being executed (include_ctx_t and ssi_internal_ctx)."""

    def __init__(self, svc: Services, settings: Settings, env: Vars) -> None:
        self.svc = svc
        self.env = env
        self.printing = True
        self.cond_true = True
        self.size_in_bytes = False
        self.no_exec = settings.no_exec
        self.nesting = 0
        self.error_str = settings.error_msg
        self.time_str = settings.time_fmt
        self.undefined_echo = settings.undefined_echo
        self.re_source: str | None = None
        self.re_groups: list[str | None] = []
        self.have_match = False
        self.out: list[str] = []
        self.handlers: dict[str, Callable[[Element], None]] = {
            "if": self.do_if, "elif": self.do_elif, "else": self.do_else,
            "endif": self.do_endif, "set": self.do_set, "echo": self.do_echo,
            "fsize": self.do_fsize, "flastmod": self.do_flastmod, "config": self.do_config,
            "include": self.do_include, "printenv": self.do_printenv,
        }

    # -- the main loop ------------------------------------------------------------
    def run(self, pieces: list[Piece]) -> str:
        for piece in pieces:
            if isinstance(piece, str):
                if self.printing:
                    self.out.append(piece)
            elif isinstance(piece, Unfinished):
                self.log("error", f"AH01372: SSI directive was not properly finished at "
                         f"the end of parsed document {self.svc.filename}")
                self.error()
            else:
                self.execute(piece)
        if not self.printing:
            self.log("warn", "AH01373: missing closing endif directive in parsed "
                     f"document {self.svc.filename}")
        return "".join(self.out)

    def execute(self, el: Element) -> None:
        if el.error is not None:
            self._parse_error(el)
            if self.printing:
                self.error()
            return
        fn = self.handlers.get(el.name)
        if fn is None:
            self.log("error", f'AH01371: unknown directive "{el.name}" in parsed doc '
                     f"{self.svc.filename}")
            if self.printing:
                self.error()
            return
        fn(el)

    def _parse_error(self, el: Element) -> None:
        f = self.svc.filename
        if el.error == "AH01368":
            self.log("error", f"AH01368: missing directive name in parsed document {f}")
        else:
            self.log("error", f"{el.error}: missing argument name for value to tag "
                     f"{el.name} in {f}")

    # -- helpers ------------------------------------------------------------------
    def log(self, level: str, msg: str, status: str | None = None) -> None:
        self.svc.log(level, msg, status)

    def error(self) -> None:
        """SSI_CREATE_ERROR_BUCKET: the current errmsg into the output."""
        self.out.append(self.error_str)

    def level(self) -> str:
        """ERR while printing, WARNING inside a false branch (the handlers' argc logs)."""
        return "error" if self.printing else "warn"

    def var(self, name: str) -> str | None:
        """get_include_var: $0..$9 from the last regex match, else the variable."""
        if len(name) == 1 and is_digits(name):
            idx = int(name)
            f = self.svc.filename
            if not self.have_match:
                self.log("warn", f"AH01329: regex capture ${idx} refers to no regex in {f}")
                return None
            if idx > 0:  # ap_expr leaves nsub at 0: only $0 is in range
                self.log("warn", f"AH01330: regex capture ${idx} is out of range (last "
                         f"regex was: '(null)') in {f}")
                return None
            return self.re_groups[0] if self.re_groups else None
        val = self.env.raw(name)
        if isinstance(val, Lazy):
            got = self.svc.lazy(name, self.time_str)
            if got is not None:
                self.env.set(name, got)
            return got
        return val

    def expand(self, s: str) -> str:
        def brace(rest: str) -> None:
            self.log("error", f"AH01331: Missing '}}' on variable \"{rest}\" in "
                     f"{self.svc.filename}")
        return T.substitute(s, self.var, brace)

    def _args(self, el: Element, decode: bool) -> list[Arg]:
        """ap_ssi_get_tag_and_value over all arguments (values entity-decoded when
        SSI_VALUE_DECODED); the walk stops at a value-less argument, as httpd's loops
        do on `!tag || !tag_val`."""
        out = []
        for a in el.args:
            if a.name is None or a.value is None:
                break
            out.append(Arg(a.name, T.decode_entities(a.value) if decode else a.value))
        return out

    # -- conditionals ---------------------------------------------------------------
    def _condition(self, text: str, expr: str) -> bool | None:
        """parse_ap_expr: the value, or None after logging a parse/evaluation error."""
        f = self.svc.filename
        try:
            cond = parse_condition(expr, functions=self._functions(), restricted=True)
        except DirectiveError as e:
            self.log("error", f'AH01337: Could not parse expr "{expr}" in {f}: {e}')
            return None
        if not self.have_match:
            self.re_source, self.re_groups = None, []
        ctx = self.svc.expr_context(self.re_source, self.re_groups)
        try:
            value = cond.evaluate(ctx)
        except ExprError as e:
            self.log("error", f'AH01338: Could not evaluate expr "{expr}" in {f}: {e}')
            return None
        if ctx.source is not None:
            self.re_source, self.re_groups, self.have_match = ctx.source, ctx.groups, True
        return value

    def _functions(self) -> dict[str, Function]:
        """include_expr_lookup: v(), reqenv() and env() read the document's variables
        (env() after the notes, before the server's environment)."""
        def var(ctx: ExprContext, name: str) -> str | None:
            return self.var(name)

        def env(ctx: ExprContext, name: str) -> str | None:
            got = ctx.txn.notes.get(name.lower())
            if got is None:
                got = self.var(name)
            return got if got is not None else os.environ.get(name)
        fn, fe = Function(var, False), Function(env, False)
        return {"v": fn, "reqenv": fn, "env": fe}

    def do_if(self, el: Element) -> None:
        f = self.svc.filename
        if len(el.args) != 1:
            self.log(self.level(), ("AH01352: too many arguments for if element"
                                    if el.args else "AH01353: missing expr argument for "
                                    "if element") + f" in {f}")
        if not self.printing:
            self.nesting += 1
            return
        if len(el.args) != 1:
            self.error()
            self.printing = False  # see _failed
            return
        self._branch(el, "AH01354", "AH01355: missing expr value for if element in " + f,
                     is_if=True)

    def _branch(self, el: Element, unknown: str, missing: str, is_if: bool) -> None:
        a = el.args[0]
        f = self.svc.filename
        if a.name != "expr":
            self.log("error", f'{unknown}: unknown parameter "{a.name}" to tag if in {f}')
            self._failed(is_if)
            return
        if a.value is None:
            self.log("error", missing)
            self._failed(is_if)
            return
        if not is_if and self.cond_true:
            self.printing = False
            return
        value = self._condition(el.name, a.value)
        if value is None:
            self._failed(is_if)
            return
        if value:
            self.printing = self.cond_true = True
        else:
            self.printing = self.cond_true = False
        if is_if:
            self.nesting = 0

    def _failed(self, is_if: bool) -> None:
        """An if/elif that could not be decided: the error message, and (measured on
        httpd 2.4.71) nothing of the branch it opens is printed."""
        self.error()
        if is_if:
            self.printing = False

    def do_elif(self, el: Element) -> None:
        f = self.svc.filename
        if len(el.args) != 1:
            self.log("error" if not self.nesting else "warn",
                     ("AH01356: too many arguments for if element" if el.args else
                      "AH01357: missing expr argument for if element") + f" in {f}")
        if self.nesting:
            return
        if len(el.args) != 1:
            self.error()
            return
        self._branch(el, "AH01358", f"AH01359: missing expr in elif statement: {f}",
                     is_if=False)

    def do_else(self, el: Element) -> None:
        if el.args:
            self.log("error" if not self.nesting else "warn",
                     f"AH01360: else directive does not take tags in {self.svc.filename}")
        if self.nesting:
            return
        if el.args:
            if self.printing:
                self.error()
            return
        if self.cond_true:
            self.printing = False
        else:
            self.printing = self.cond_true = True

    def do_endif(self, el: Element) -> None:
        if el.args:
            self.log("error" if not self.nesting else "warn",
                     f"AH01361: endif directive does not take tags in {self.svc.filename}")
        if self.nesting:
            self.nesting -= 1
            return
        if el.args:
            self.error()
            return
        self.printing = self.cond_true = True

    # -- variables -------------------------------------------------------------------
    def _missing(self, el: Element, code: str, what: str, need: int = 1) -> bool:
        """The common start of a handler: log a missing argument (ERR while printing,
        WARNING in a false branch); True when the element should stop here."""
        if len(el.args) < need:
            self.log(self.level(), f"{code}: missing argument for {what} element in "
                     f"{self.svc.filename}")
        if not self.printing:
            return True
        if len(el.args) < need:
            self.error()
            return True
        return False

    def _transform(self, value: str, decoding: str, encoding: str, what: str,
                   codes: tuple[str, str]) -> str | None:
        f = self.svc.filename
        for tok in T.tokens(decoding):
            got = T.decode(tok, value)
            if got is None:
                self.log("error", f'{codes[0]}: unknown value "{tok}" to parameter '
                         f'"decoding" of tag {what} in {f}')
                self.error()
                return None
            value = got
        for tok in T.tokens(encoding):
            got = T.encode(tok, value)
            if got is None:
                self.log("error", f'{codes[1]}: unknown value "{tok}" to parameter '
                         f'"encoding" of tag {what} in {f}')
                self.error()
                return None
            value = got
        return value

    def do_echo(self, el: Element) -> None:
        if self._missing(el, "AH01343", "echo"):
            return
        encoding, decoding = "entity", "none"
        for a in self._args(el, decode=True):
            assert a.value is not None
            if a.name == "var":
                val = self.var(self.expand(a.value))
                if val is None:
                    self.out.append(self.undefined_echo)
                    continue
                text = self._transform(val, decoding, encoding, "echo",
                                       ("AH01344", "AH01345"))
                if text is None:
                    return
                self.out.append(text)
            elif a.name == "decoding":
                decoding = a.value
            elif a.name == "encoding":
                encoding = a.value
            else:
                self.log("error", f'AH01346: unknown parameter "{a.name}" in tag echo of '
                         f"{self.svc.filename}")
                self.error()
                return

    def do_set(self, el: Element) -> None:
        if self._missing(el, "AH01362", "set", need=2):
            return
        encoding, decoding = "none", "none"
        var: str | None = None
        for a in self._args(el, decode=False):
            assert a.value is not None
            if a.name == "var":
                var = self.expand(T.decode_entities(a.value))
            elif a.name == "decoding":
                decoding = a.value
            elif a.name == "encoding":
                encoding = a.value
            elif a.name == "value":
                if var is None:
                    self.log("error", "AH01363: variable must precede value in set "
                             f"directive in {self.svc.filename}")
                    self.error()
                    return
                value = self._transform(self.expand(a.value), decoding, encoding, "set",
                                        ("AH01364", "AH01365"))
                if value is None:
                    return
                self.env.set(var, value)
            else:
                self.log("error", f"AH01366: Invalid tag for set directive in "
                         f"{self.svc.filename}")
                self.error()
                return

    def do_printenv(self, el: Element) -> None:
        if el.args:
            self.log(self.level(), "AH01367: printenv directive does not take tags in "
                     f"{self.svc.filename}")
        if not self.printing:
            return
        if el.args:
            self.error()
            return
        for name, value in list(self.env.rows.values()):
            if isinstance(value, Lazy):
                got = self.svc.lazy(name, self.time_str)
                shown = got if got is not None else ""
            else:
                shown = value
            self.out.append(f"{T.escape_html(name)}={T.escape_html(shown)}\n")

    def do_config(self, el: Element) -> None:
        if self._missing(el, "AH01347", "config"):
            return
        f = self.svc.filename
        for a in self._args(el, decode=False):
            assert a.value is not None
            if a.name == "errmsg":
                self.error_str = self.expand(a.value)
            elif a.name == "echomsg":
                self.undefined_echo = self.expand(a.value)
            elif a.name == "timefmt":
                self.time_str = self.expand(a.value)
                for name in ("DATE_LOCAL", "DATE_GMT", "LAST_MODIFIED"):
                    got = self.svc.lazy(name, self.time_str)
                    if got is not None:
                        self.env.set(name, got)
            elif a.name == "sizefmt":
                fmt = self.expand(a.value)
                if fmt == "bytes":
                    self.size_in_bytes = True
                elif fmt == "abbrev":
                    self.size_in_bytes = False
                else:
                    self.log("error", f'AH01348: unknown value "{fmt}" to parameter '
                             f'"sizefmt" of tag config in {f}')
                    self.error()
                    return
            else:
                self.log("error", f'AH01349: unknown parameter "{a.name}" to tag config '
                         f"in {f}")
                self.error()
                return

    # -- files ------------------------------------------------------------------------
    def do_fsize(self, el: Element) -> None:
        if self._missing(el, "AH01350", "fsize"):
            return
        for a in self._args(el, decode=True):
            assert a.name is not None and a.value is not None
            st = self.svc.finfo("fsize", a.name, self.expand(a.value))
            if st is None:
                self.error()
                return
            self.out.append(T.size_bytes(st.st_size) if self.size_in_bytes
                            else T.strfsize(st.st_size))

    def do_flastmod(self, el: Element) -> None:
        if self._missing(el, "AH01351", "flastmod"):
            return
        for a in self._args(el, decode=True):
            assert a.name is not None and a.value is not None
            st = self.svc.finfo("flastmod", a.name, self.expand(a.value))
            if st is None:
                self.error()
                return
            self.out.append(T.ht_time(int(st.st_mtime), self.time_str, False))

    def do_include(self, el: Element) -> None:
        if self._missing(el, "AH01341", "include"):
            return
        last_error = False
        for a in self._args(el, decode=True):
            assert a.name is not None and a.value is not None
            if a.name not in ("virtual", "file", "onerror"):
                self.log("error", f'AH01342: unknown parameter "{a.name}" to tag include '
                         f"in {self.svc.filename}")
                self.error()
                break
            if a.name == "virtual" and last_error or a.name == "onerror" and not last_error:
                continue
            body = self.svc.include(a.name, self.expand(a.value), a.value)
            if body is None:
                if last_error:
                    break  # onerror failed too: give up
                last_error = True
            else:
                self.out.append(body)
                last_error = False
        if last_error:
            self.error()
