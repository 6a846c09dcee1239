"""mod_headers' configuration: the Header and RequestHeader directives (header_cmd and
header_inout_cmd of mod_headers.c), their value formats (parse_format_string) and the
per-dir record, merged as merge_headers_config: the enclosing scope's commands, then the
deeper scope's, for each of the three tables (request, onsuccess, always).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from fastcore.config.engine import OR_FILEINFO, Ctx, Directive, DirectiveError, Engine
from fastcore.config.lexer import get_word
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.regex import CompileError, Regex, compile_regex
from fastcore.config.tree import Node
from fastcore.core.expr import Condition, StringExpr, parse_condition, parse_string

NAME = "headers_module"

# actions, by the word a directive names them with
ACTIONS = ("set", "add", "append", "merge", "unset", "echo", "edit", "edit*", "setifempty",
           "note")
BAD_ACTION = ("first argument must be 'add', 'set', 'setifempty', 'append', 'merge', "
              "'unset', 'echo', 'note', 'edit', or 'edit*'.")
# the format letters httpd registers (header_pre_config): %D %t %e %s %l %i %b
TAG_LETTERS = frozenset("Dtesl" "ib")
# tags whose value changes from one request to the next (time, load, environment)
REQUEST_TAGS = frozenset("Dtelibs")  # s: mod_ssl variables, per connection


@dataclass(frozen=True)
class Tag:
    """One piece of a value's format: literal text (`letter` empty) or a %-tag with its
    {argument}."""

    letter: str
    text: str


@dataclass(frozen=True)
class Value:
    """A command's value (edit: its substitution): a format of text and %-tags, or a
    string expression (`"expr=..."`)."""

    tags: tuple[Tag, ...] = ()
    expr: StringExpr | None = None

    @property
    def constant(self) -> bool:
        """The same for every request (no time, load or environment tag; an expression
        that reads nothing of the request)."""
        if self.expr is not None:
            return self.expr.request_independent
        return not any(t.letter in REQUEST_TAGS for t in self.tags)


@dataclass(frozen=True)
class Command:
    """One Header / RequestHeader line (header_entry)."""

    action: str
    header: str
    value: Value = Value()        # the value (edit: the substitution; none: unset, echo)
    regex: Regex | None = None    # edit's match, echo's name pattern
    early: bool = False
    env: str | None = None        # the env=[!]VAR condition, as written after "env="
    cond: Condition | None = None  # the expr= condition
    origin: str = ""              # FILE:LINE of the directive (expression errors name it)

    @property
    def constant(self) -> bool:
        return self.value.constant


@dataclass
class HeadersDir:
    """headers_conf: the request table (RequestHeader), the onsuccess table (Header /
    Header onsuccess: r->headers_out) and the always table (Header always:
    r->err_headers_out), each in configuration order."""

    fixup_in: list[Command] = field(default_factory=list)
    fixup_out: list[Command] = field(default_factory=list)
    fixup_err: list[Command] = field(default_factory=list)

    def merge(self, add: HeadersDir) -> HeadersDir:
        return HeadersDir(self.fixup_in + add.fixup_in, self.fixup_out + add.fixup_out,
                          self.fixup_err + add.fixup_err)

    def __bool__(self) -> bool:
        return bool(self.fixup_in or self.fixup_out or self.fixup_err)


EMPTY = HeadersDir()


def headers_config(dc: DirConfig | None) -> HeadersDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    return EMPTY if dc is None else module_record(dc.modules, NAME, HeadersDir)


def _misc_string(s: str, i: int) -> tuple[str, int]:
    """Literal text up to the next '%', with \\\\ \\r \\n \\t unescaped (any other
    backslash is kept as written)."""
    out = []
    n = len(s)
    while i < n and s[i] != "%":
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        nxt = s[i] if i < n else ""
        esc = {"\\": "\\", "r": "\r", "n": "\n", "t": "\t"}.get(nxt)
        if esc is None:
            out.append("\\")  # the next character is read as usual
        else:
            out.append(esc)
            i += 1
    return "".join(out), i


def parse_format(s: str) -> tuple[Tag, ...]:
    """A value's format: literal text and %-tags (parse_format_string); `%%` and a
    final `%` are a literal '%'."""
    tags: list[Tag] = []
    i, n = 0, len(s)
    while i < n:
        if s[i] != "%":
            text, i = _misc_string(s, i)
            tags.append(Tag("", text))
            continue
        i += 1
        if i >= n or s[i] == "%":
            tags.append(Tag("", "%"))
            i += 1
            continue
        arg = ""
        if s[i] == "{":
            end = s.find("}", i + 1)
            arg, i = (s[i + 1:], n) if end < 0 else (s[i + 1:end], end + 1)
        letter = s[i] if i < n else ""
        if letter not in TAG_LETTERS or not letter:
            raise DirectiveError(f"Unrecognized header format %{letter}")
        tags.append(Tag(letter, arg))
        i += 1
    return tuple(tags)


def parse_value(s: str) -> Value:
    """A value: `expr=` (exactly so spelled) starts a string expression, else a format."""
    if s == "expr=":
        return Value()  # Apache takes the empty expression: an empty value
    if s.startswith("expr="):
        try:
            return Value(expr=parse_string(s[5:]))
        except DirectiveError as e:
            raise DirectiveError(f"Can't parse value expression : {e}") from None
    return Value(parse_format(s))


def _regex(pattern: str, message: str) -> Regex:
    try:
        return compile_regex(pattern)
    except CompileError:
        raise DirectiveError(message) from None


def parse_command(request: bool, action: str, hdr: str, value: str | None,
                  subs: str | None, envclause: str | None) -> Command:
    """header_inout_cmd: one command from its words, or Apache's message."""
    act = action.lower()
    if act not in ACTIONS:
        raise DirectiveError(BAD_ACTION)
    regex: Regex | None = None
    sub = ""
    if act in ("edit", "edit*"):
        if subs is None or value is None:
            raise DirectiveError("Header edit requires a match and a substitution")
        regex = _regex(value, "Header edit regex could not be compiled")
        sub = subs
    else:
        if envclause is not None:
            raise DirectiveError("Too many arguments to directive")
        envclause = subs
    if act == "unset":
        if value is not None:
            if envclause is not None:
                raise DirectiveError("header unset takes two arguments")
            envclause, value = value, None
    elif act == "echo":
        if value is not None:
            if envclause is not None:
                raise DirectiveError("Header echo takes two arguments")
            envclause, value = value, None
        if request:
            raise DirectiveError("Header echo only valid on Header directives")
        regex = _regex(hdr, "Header echo regex could not be compiled")
    elif value is None:
        raise DirectiveError("Header requires three arguments")
    early, env, cond = False, None, None
    if envclause is not None:
        low = envclause.lower()
        if low == "early":
            early = True
        elif low.startswith("env="):
            env = envclause[4:]
            if env in ("", "!"):
                raise DirectiveError("error: missing environment variable name. "
                                     "envclause should be in the form env=envar ")
        elif low.startswith("expr="):
            try:
                cond = parse_condition(envclause[5:])
            except DirectiveError as e:
                raise DirectiveError(f"Can't parse envclause/expression: {e}") from None
        else:
            raise DirectiveError(f"Unknown parameter: {envclause}")
    name = hdr.partition(":")[0]
    if act in ("edit", "edit*"):
        val = parse_value(sub)  # the substitution is a value: tags, or an expression
    elif act in ("unset", "echo"):
        val = Value()
    else:
        val = parse_value(value or "")
    return Command(act, name, val, regex, early, env, cond)


def header_cmd(e: Engine, ctx: Ctx, args: str, n: Node) -> None:
    """Header [always|onsuccess] action header [value [replacement]] [early|env=..|expr=..]
    and RequestHeader action header [value [replacement]] [condition] (header_cmd)."""
    request = n.name.lower() == "requestheader"
    table = "in" if request else "out"
    action, pos = get_word(args, 0)
    if not request and action.lower() in ("always", "onsuccess"):
        if action.lower() == "always":
            table = "err"
        action, pos = get_word(args, pos)
    hdr, pos = get_word(args, pos)
    words: list[str | None] = []
    for _ in range(3):
        if pos < len(args):
            w, pos = get_word(args, pos)
            words.append(w)
        else:
            words.append(None)
    if pos < len(args):
        raise DirectiveError(f"{'RequestHeader' if request else 'Header'} has too many "
                             "arguments")
    cmd = replace(parse_command(request, action, hdr, words[0], words[1], words[2]),
                  origin=f"{n.filename}:{n.line}")
    rec = scope_record(ctx.dirconf.modules, NAME, HeadersDir)
    {"in": rec.fixup_in, "out": rec.fixup_out, "err": rec.fixup_err}[table].append(cmd)


def directives() -> list[Directive]:
    fi = frozenset({OR_FILEINFO})
    return [
        Directive("Header", NAME, fi, "RAW_ARGS", header_cmd, "an optional condition, an "
                  "action, header and value followed by optional env clause"),
        Directive("RequestHeader", NAME, fi, "RAW_ARGS", header_cmd, "an action, header "
                  "and value followed by optional env clause"),
    ]
