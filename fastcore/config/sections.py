"""Section directives: <Directory*>, <Files*>, <Location*>, <VirtualHost>, <If*>,
<Require*> and the conditionals evaluated in file order."""
from __future__ import annotations

import os
import re

from fastcore.config.engine import (
    ACCESS,
    OR_ALL,
    RSRC,
    SECTION_OVERRIDE,
    SERVER_OVERRIDE,
    Ctx,
    Directive,
    DirectiveError,
    Engine,
)
from fastcore.config.lexer import get_word, split_words
from fastcore.config.model import ELSE, ELSEIF, IF, DirConfig, IfSection, Section, VirtualHost
from fastcore.config.regex import CompileError, Regex, compile_regex
from fastcore.config.tree import Node
from fastcore.core.tokens import is_digits


def section_args(args: str, name: str) -> str:
    """The argument text up to the last '>' (ap_strrchr_c): what follows it, such as a
    comment, is ignored, as in Apache."""
    end = args.rfind(">")
    if end < 0:
        raise DirectiveError(f"<{name}> directive missing closing '>'")
    return args[:end].strip()


def section_label(e: Engine, node: Node) -> str:
    """The section's name as its module spells it (Apache's messages use that)."""
    d = e.lookup("<" + node.name)
    return d.name[1:] if d is not None else node.name


def _multiple(words: list[str], used: int, name: str) -> None:
    """dirsection/urlsection/filesection: words after the path are refused (after the
    body was walked, so an error inside the body is reported first)."""
    if len(words) > used:
        raise DirectiveError(f"Multiple <{name}> arguments not (yet) supported.")


def _pattern(words: list[str], kind: str) -> tuple[str, bool, int]:
    """(pattern, is_regex, words used): `~ regex` (an empty regex when `~` is alone)."""
    if kind.endswith("match"):
        return words[0], True, 1
    if words[0] == "~":
        return (words[1] if len(words) > 1 else ""), True, 2
    return words[0], False, 1


def _fn_bracket(pattern: str, i: int) -> tuple[str, int] | None:
    """The bracket expression at pattern[i] ('[') as apr_fnmatch reads it, as a regex
    and the index after its ']'; None when it is not balanced (then '[' is literal).
    A leading '!' or '^' negates, a leading ']' is a member, 'a-z' is a range (a reversed
    one matches nothing, as APR's comparison), '/' ends it unbalanced (FNM_PATHNAME), and
    it never matches '/'.  Members go in as code points, so no text of the pattern can
    make the regex invalid."""
    n, k = len(pattern), i + 1
    negate = k < n and pattern[k] in "!^"
    k += negate
    # the first ']' after the first member closes it, unless a '/' comes first: found
    # by two scans in C, so a run of unbalanced '[' costs linear time (fuzzing found a
    # 600-byte <Directory> path that took seconds)
    close = pattern.find("]", k + 1)
    if close < 0 or "/" in pattern[i + 1:close]:
        return None
    members: list[str] = []
    first = True
    while k < n:
        c = pattern[k]
        if c == "]" and not first:
            cls = "".join(members)
            if negate:
                return f"[^/{cls}]", k + 1
            return (f"(?!/)[{cls}]" if cls else "(?!)"), k + 1
        first = False
        if c == "/":
            return None
        if k + 1 < n and pattern[k + 1] == "-" and (k + 2 >= n or pattern[k + 2] != "]"):
            if k + 2 >= n or pattern[k + 2] == "/":
                return None
            lo, hi = ord(c), ord(pattern[k + 2])
            if lo <= hi:
                members.append(f"\\U{lo:08x}-\\U{hi:08x}")
            k += 3
            continue
        members.append(f"\\U{ord(c):08x}")
        k += 1
    return None


def _fn_regex(pattern: str) -> re.Pattern[str]:
    """fnmatch with Apache's APR_FNM_PATHNAME: wildcards do not cross '/'."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (got := _fn_bracket(pattern, i)) is not None:
            out.append(got[0])
            i = got[1]
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _compile(rx: str, name: str) -> Regex:
    """A section's regex, by PCRE2 as in Apache (never caseless on Unix)."""
    try:
        return compile_regex(rx)
    except CompileError:
        raise DirectiveError("Regex could not be compiled") from None


def _dir_section(e: Engine, ctx: Ctx, args: str, node: Node, kind: str) -> None:
    label = section_label(e, node)
    if ctx.kinds:
        raise DirectiveError(f"<{label}> cannot occur within <{ctx.section}> section")
    text = section_args(args, label)
    words = split_words(text)
    if not words:
        raise DirectiveError(f"<{label}> directive requires additional arguments")
    regex: re.Pattern[str] | Regex | None = None
    pattern, is_rx, used = _pattern(words, kind)
    if is_rx:
        regex = _compile(pattern, label)
        if not kind.endswith("match"):
            kind += "match"
    else:
        if kind == "directory":
            if pattern != "/" and not os.path.isabs(pattern):
                pattern = e.resolve_path(pattern)
            pattern = pattern.rstrip("/") + "/"
            if any(c in pattern for c in "*?["):
                regex = _fn_regex(pattern)
        elif kind == "files" and any(c in pattern for c in "*?["):
            regex = _fn_regex(pattern)
    dc = DirConfig()
    sect = {"directory": "Directory", "directorymatch": "DirectoryMatch", "files": "Files",
            "filesmatch": "FilesMatch", "location": "Location",
            "locationmatch": "LocationMatch"}[kind]
    sub = ctx.child(dirconf=dc, override=SECTION_OVERRIDE, section=sect,
                    kinds=ctx.kinds + (kind,), authz=[], path=pattern)
    e.walk(node.children or [], sub)
    sec = Section(kind, pattern, regex, dc, node.filename, node.line)
    e.state.add_section(ctx.vhost, sec)
    _multiple(words, used, label)


def _files_section(e: Engine, ctx: Ctx, args: str, node: Node, kind: str) -> None:
    label = section_label(e, node)
    if any(k in ("location", "locationmatch") for k in ctx.kinds):
        raise DirectiveError(f"<{label}> cannot occur within <{ctx.section}> section")
    text = section_args(args, label)
    words = split_words(text)
    if not words:
        raise DirectiveError(f"<{label}> directive requires additional arguments")
    regex: re.Pattern[str] | Regex | None = None
    pattern, is_rx, used = _pattern(words, kind)
    if is_rx:
        regex = _compile(pattern, label)
        kind = "filesmatch"
    else:
        if any(c in pattern for c in "*?["):
            regex = _fn_regex(pattern)
    dc = DirConfig()
    override = SECTION_OVERRIDE if not ctx.htaccess else ctx.override
    sub = ctx.child(dirconf=dc, override=override,
                    section="Files" if kind == "files" else "FilesMatch",
                    kinds=ctx.kinds + (kind,), authz=[], path=pattern)
    e.walk(node.children or [], sub)
    sec = Section(kind, pattern, regex, dc, node.filename, node.line)
    if ctx.kinds or ctx.htaccess:
        ctx.dirconf.files_sections = ctx.dirconf.files_sections + (sec,)
    else:
        e.state.add_section(ctx.vhost, sec)
    _multiple(words, used, label)


class VhostPortError(DirectiveError):
    """A numeric port out of range: an error (a non-numeric one is a host name)."""


def parse_vhost_addr(word: str) -> tuple[str, int]:
    """`*:80`, `_default_:80`, `127.0.0.1`, `[::1]:8080`, `name:port` -> (host, port);
    port 0 means any port."""
    host, port = word, "*"
    if word.startswith("["):
        end = word.find("]")
        if end < 0:
            raise DirectiveError("The address or port is invalid")
        host, rest = word[1:end], word[end + 1:]
        if rest.startswith(":"):
            port = rest[1:]
        elif rest:
            raise DirectiveError("The address or port is invalid")
    elif word.count(":") == 1:
        host, port = word.split(":")
    if port == "*":
        p = 0
    elif is_digits(port):
        p = int(port)
        if not 1 <= p <= 65535:
            raise VhostPortError("The address or port is invalid")
    else:
        raise DirectiveError("The address or port is invalid")
    if host == "_default_":
        host = "*"
    return host.lower(), p


def _virtualhost(e: Engine, ctx: Ctx, args: str, node: Node) -> None:
    if ctx.in_vhost:
        raise DirectiveError("<VirtualHost> doesn't nest!")
    text = section_args(args, "VirtualHost")
    words = split_words(text)
    if not words:
        raise DirectiveError("<VirtualHost> must have an argument")
    addrs_l = []
    for w in words:
        try:
            addrs_l.append(parse_vhost_addr(w))
        except VhostPortError:
            raise
        except DirectiveError:
            e.warnings.append(f"AH00547: Could not resolve host name {w} -- ignoring!")
    addrs = tuple(addrs_l)
    vh = VirtualHost(addrs=addrs, server_name="", filename=node.filename, line=node.line)
    vh.dir_defaults = DirConfig()
    e.state.vhosts.append(vh)
    e.state.explicit[id(vh)] = set()
    e.state.sections[id(vh)] = []
    sub = ctx.child(vhost=vh, dirconf=vh.dir_defaults, in_vhost=True, override=SERVER_OVERRIDE)
    e.walk(node.children or [], sub)


ELSE_WITHOUT_IF = ("<Else> or <ElseIf> section without previous <If> or <ElseIf> section "
                   "in same scope")


def _if_section(e: Engine, ctx: Ctx, args: str, node: Node, kind: str) -> None:
    """core.c's ifsection: the condition is parsed now (its errors are startup errors),
    the body is walked into a per-dir config of its own (OR_ALL|ACCESS_CONF outside
    .htaccess; inside one, the AllowOverride classes still apply), then the section joins
    the enclosing scope's list, where <Else>/<ElseIf> must follow an <If>/<ElseIf>."""
    from fastcore.core.expr import parse_condition  # core.expr imports this package

    label = section_label(e, node)
    text = section_args(args, label)
    condition = None
    rest = ""
    if kind == ELSE:
        if text:
            raise DirectiveError("<Else> does not take an argument")
    else:
        if not text:
            raise DirectiveError(f"<{label}> directive requires additional arguments")
        word, pos = get_word(text)
        rest = text[pos:].strip()
        try:
            condition = parse_condition(word)
        except DirectiveError as exc:
            raise DirectiveError(f"Cannot parse condition clause: {exc}") from None
    dc = DirConfig()
    override = ctx.override if ctx.htaccess else SECTION_OVERRIDE
    sub = ctx.child(dirconf=dc, override=override, section=label, kinds=ctx.kinds + ("if",),
                    authz=[], authz_kind="any", authz_group=False, path="*If")
    e.walk(node.children or [], sub)
    prev = ctx.dirconf.if_sections
    if kind != IF and (not prev or prev[-1].kind == ELSE):
        raise DirectiveError(ELSE_WITHOUT_IF)
    sec = IfSection(kind, condition, dc, node.filename, node.line)
    ctx.dirconf.if_sections = prev + (sec,)
    if rest:
        raise DirectiveError(f"Multiple <{label}> arguments not supported.")


def _conditional(e: Engine, ctx: Ctx, args: str, node: Node) -> None:
    """Conditionals are resolved while reading (fastcore.config.readtime)."""
    raise DirectiveError(f"<{node.name}> was not evaluated while reading")


def _mk(name: str, module: str, req, handler, check: int = 0) -> Directive:
    return Directive(name, module, frozenset(req), "SECTION", handler, check=check)


def section_directives() -> list[Directive]:
    anywhere = OR_ALL | {RSRC, ACCESS}
    return [
        _mk("<Directory", "core_module", {RSRC},
            lambda e, c, a, n: _dir_section(e, c, a, n, "directory")),
        _mk("<DirectoryMatch", "core_module", {RSRC},
            lambda e, c, a, n: _dir_section(e, c, a, n, "directorymatch")),
        _mk("<Location", "core_module", {RSRC},
            lambda e, c, a, n: _dir_section(e, c, a, n, "location")),
        _mk("<LocationMatch", "core_module", {RSRC},
            lambda e, c, a, n: _dir_section(e, c, a, n, "locationmatch")),
        _mk("<Files", "core_module", anywhere, lambda e, c, a, n: _files_section(e, c, a, n, "files")),
        _mk("<FilesMatch", "core_module", anywhere,
            lambda e, c, a, n: _files_section(e, c, a, n, "filesmatch")),
        _mk("<VirtualHost", "core_module", {RSRC}, _virtualhost),
        _mk("<If", "core_module", OR_ALL, lambda e, c, a, n: _if_section(e, c, a, n, IF)),
        _mk("<ElseIf", "core_module", OR_ALL,
            lambda e, c, a, n: _if_section(e, c, a, n, ELSEIF)),
        _mk("<Else", "core_module", OR_ALL, lambda e, c, a, n: _if_section(e, c, a, n, ELSE)),
        _mk("<IfModule", "core_module", anywhere, _conditional),
        _mk("<IfDefine", "core_module", anywhere, _conditional),
        _mk("<IfDirective", "core_module", anywhere, _conditional),
        _mk("<IfSection", "core_module", anywhere, _conditional),
        _mk("<IfFile", "core_module", anywhere, _conditional),
        _mk("<IfVersion", "version_module", anywhere, _conditional),
    ]
