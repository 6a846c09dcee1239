"""The header actions over a table of fields (do_headers_fixup of mod_headers.c), with
APR's table semantics: names compare without case, `set` replaces the first field and
drops the others, `append` joins onto the first one, `edit` re-adds the edited fields at
the end.  The same functions serve the output filter, RequestHeader and the cache fill,
so a cached answer carries exactly what the slow path would send.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastcore.config.regex import Regex
from fastcore.core.expr import ExprContext, ExprError
from fastcore.core.pregsub import pregsub as core_pregsub
from fastcore.modules.mod_headers.config import Command, Value

Field = tuple[str, str]


@dataclass
class Facts:
    """What a command's value and condition may read (a request_rec's parts): the
    request's environment (lower-case names), the request fields as received (for
    echo), the request time (epoch seconds), the scoreboard's idle/busy shares, and the
    context expressions are evaluated in, given the answer's current type (None: no
    request to evaluate against)."""

    env: dict[str, str] = field(default_factory=dict)
    request_fields: list[Field] = field(default_factory=list)
    start: float = 0.0
    load: Callable[[], tuple[int, int]] = lambda: (0, 100)
    context: Callable[[str | None], ExprContext] | None = None
    # an evaluation that failed: Apache's error-log message
    report: Callable[[str], None] = lambda msg: None
    # mod_ssl's ssl_var_lookup on the request's connection (None: no such value)
    ssl: Callable[[str], str | None] = lambda name: None


@dataclass
class Answer:
    """The parts of an answer the actions change besides a table: r->content_type (None:
    unset) and r->notes."""

    ctype: str | None
    notes: dict[str, str] = field(default_factory=dict)


def _unwrap(value: str) -> str:
    """A variable's value with CR and LF turned into spaces (unwrap_header)."""
    return value.replace("\r", " ").replace("\n", " ")


def _failed(facts: Facts, origin: str, e: ExprError, line: str) -> None:
    facts.report(f"Evaluation of expression from {origin} failed: {e}")
    facts.report(line)


def render(value: Value, facts: Facts, ctype: str | None, origin: str = "") -> str:
    """A command's value for one request (process_tags); an expression that fails to
    evaluate gives "" (Apache logs AH02557)."""
    if value.expr is not None:
        if facts.context is None:
            return ""
        try:
            return value.expr.evaluate(facts.context(ctype))
        except ExprError as e:
            _failed(facts, origin, e, f"AH02557: Can't evaluate value expression: {e}")
            return ""
    out = []
    for t in value.tags:
        letter = t.letter
        if not letter:
            out.append(t.text)
        elif letter == "t":
            out.append(f"t={int(facts.start * 1_000_000)}")
        elif letter == "D":
            out.append(f"D={max(0, int((time.time() - facts.start) * 1_000_000))}")
        elif letter == "e":
            v = facts.env.get(t.text.lower())
            out.append("(null)" if v is None else _unwrap(v))
        elif letter == "s":  # header_request_ssl_var: mod_ssl's variable, else (null)
            v = facts.ssl(t.text)
            out.append("(null)" if v is None else _unwrap(v))
        elif letter == "l":
            try:
                a, b, c = os.getloadavg()
            except OSError:
                a = b = c = 0.0
            out.append(f"l={a:.2f}/{b:.2f}/{c:.2f}")
        else:
            idle, busy = facts.load()
            out.append(f"i={idle}" if letter == "i" else f"b={busy}")
    return "".join(out)


def condition_holds(cmd: Command, facts: Facts, ctype: str | None) -> bool:
    """The expr= condition (one that fails to evaluate holds: Apache logs AH01501 and
    applies the command) or the env=VAR / env=!VAR one; none: true."""
    cond = cmd.cond
    if cond is not None:
        if facts.context is None:
            return True
        try:
            return cond.evaluate(facts.context(ctype))
        except ExprError as e:
            _failed(facts, cmd.origin, e, f"AH01501: Failed to evaluate expression ({e}) - ignoring")
            return True
    env = cmd.env
    if env is None:
        return True
    if env.startswith("!"):
        return env[1:].lower() not in facts.env
    return env.lower() in facts.env


def pregsub(template: str, m: Callable[[int], tuple[int, int] | None], subject: str) -> str:
    """ap_pregsub (core/pregsub.py) over a match's spans in `subject`."""
    def text(g: int) -> str | None:
        span = m(g)
        return subject[span[0]:span[1]] if span is not None else None
    return core_pregsub(template, text)


def edit_value(rx: Regex, subs: str, every: bool, value: str) -> str:
    """process_regexp: the first match replaced (edit), or every match, each search
    starting after the previous match (edit*)."""
    m = rx.search(value)
    if m is None:
        return value
    groups = rx.groups

    def span(i: int) -> tuple[int, int] | None:
        if i > groups:
            return None
        s, e = m.span(i)
        return None if s < 0 else (s, e)

    start, end = m.span(0)
    rep = pregsub(subs, span, value)
    rest = value[end:]
    if every and (rest and end > start):
        rest = edit_value(rx, subs, True, rest)
    elif every and end == start and rest:
        # an empty match: httpd would search the same place again forever; go on after it
        rest = rest[0] + edit_value(rx, subs, True, rest[1:])
    return value[:start] + rep + rest


def _first(table: list[Field], key: str) -> int:
    for i, (k, _v) in enumerate(table):
        if k.lower() == key:
            return i
    return -1


def table_set(table: list[Field], name: str, value: str) -> None:
    """apr_table_setn: the first field of that name takes the value (keeping its
    spelling), the others go; none: added at the end."""
    key = name.lower()
    i = _first(table, key)
    if i < 0:
        table.append((name, value))
        return
    table[i] = (table[i][0], value)
    table[i + 1:] = [f for f in table[i + 1:] if f[0].lower() != key]


def table_merge(table: list[Field], name: str, value: str) -> None:
    """apr_table_mergen: joined onto the first field of that name with ", "."""
    i = _first(table, name.lower())
    if i < 0:
        table.append((name, value))
    else:
        table[i] = (table[i][0], f"{table[i][1]}, {value}")


def has_token(current: str, token: str) -> bool:
    """Whether `merge` finds its value among the comma-separated tokens of the first
    field: leading blanks skipped, quoted commas kept, compared exactly (case and
    trailing blanks count)."""
    i, n = 0, len(current)
    while i < n:
        while i < n and current[i].isspace():
            i += 1
        start = i
        while i < n and current[i] != ",":
            c = current[i]
            i += 1
            if c == '"':
                while i < n:
                    c = current[i]
                    i += 1
                    if c == '"':
                        break
        if current[start:i] == token:
            return True
        if i < n:
            i += 1
    return False


def run(cmds: list[Command], table: list[Field], out: list[Field], answer: Answer,
        facts: Facts, early: bool) -> None:
    """do_headers_fixup: the commands of one table (early ones only when `early`, the
    others only when not) over `table`; echo adds to `out` (always r->headers_out)."""
    for cmd in cmds:
        if cmd.early != early:
            continue
        if not early and not condition_holds(cmd, facts, answer.ctype):
            continue
        act, name = cmd.action, cmd.header
        key = name.lower()
        if act == "add":
            table.append((name, render(cmd.value, facts, answer.ctype, cmd.origin)))
        elif act == "append":
            table_merge(table, name, render(cmd.value, facts, answer.ctype, cmd.origin))
        elif act == "merge":
            value = render(cmd.value, facts, answer.ctype, cmd.origin)
            i = _first(table, key)
            if i < 0:
                table.append((name, value))
            elif not has_token(table[i][1], value):
                table_merge(table, name, value)
        elif act == "set" or (act == "setifempty" and _first(table, key) < 0):
            value = render(cmd.value, facts, answer.ctype, cmd.origin)
            if key == "content-type":
                answer.ctype = value
            table_set(table, name, value)
        elif act == "unset":
            table[:] = [f for f in table if f[0].lower() != key]
            if key == "content-type":
                answer.ctype = None
        elif act == "echo":
            rx = cmd.regex
            assert rx is not None
            out.extend(f for f in facts.request_fields if rx.search(f[0]) is not None)
        elif act == "note":
            i = _first(table, key)
            if i >= 0:
                answer.notes[render(cmd.value, facts, answer.ctype, cmd.origin).lower()] = table[i][1]
        elif act in ("edit", "edit*"):
            rx = cmd.regex
            assert rx is not None
            every = act == "edit*"
            subs = render(cmd.value, facts, answer.ctype, cmd.origin)
            if key == "content-type" and answer.ctype:
                answer.ctype = edit_value(rx, subs, every, answer.ctype)
            edited = [(k, edit_value(rx, subs, every, v)) for k, v in table
                      if k.lower() == key]
            if edited:
                table[:] = [f for f in table if f[0].lower() != key] + edited
