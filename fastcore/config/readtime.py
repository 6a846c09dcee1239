"""The read-time (EXEC_ON_READ) directives and conditionals, wired into the Engine."""
from __future__ import annotations

import os
from collections.abc import Callable

from fastcore.config import directives_core as core
from fastcore.config.engine import DirectiveError, Engine
from fastcore.config.lexer import get_word, split_words
from fastcore.config.regex import CompileError, compile_regex
from fastcore.config.tree import Node
from fastcore.core.tokens import is_digits

VERSION = (2, 4, 71)  # the Apache release whose behaviour fastcore follows (<IfVersion>)


def _keep(handler):
    def hook(e: Engine, node: Node):
        return e.read_directive(node, lambda e2, a, n: handler(e2, None, a, n))
    return hook


def _include(optional: bool):
    def hook(e: Engine, node: Node):
        return e.read_directive(node, lambda e2, a, n: e2.include(a[0], optional))
    return hook


READ_HOOKS = {
    "include": _include(False),
    "includeoptional": _include(True),
    "loadmodule": _keep(core.load_module),
    "define": _keep(core.define),
    "undefine": _keep(core.undefine),
    "serverroot": _keep(core.server_root),
    "defaultruntimedir": _keep(core.runtime_dir),  # EXEC_ON_READ in httpd's core.c
}


def _text(node: Node) -> str:
    """The text before the last '>' (what follows it, a comment say, is ignored)."""
    end = node.args.rfind(">")
    if end < 0:
        raise DirectiveError(f"<{node.name}> directive missing closing '>'")
    return node.args[:end]


def _word_arg(node: Node) -> tuple[bool, str]:
    """Every conditional's test: the first word after an optional '!' (a `!` inside
    quotes is part of the name), further words ignored, as 2.4.71's start_ifmod,
    start_ifdefine and start_cond_section."""
    text = _text(node)
    neg = text.startswith("!")
    word, _pos = get_word(text[1:] if neg else text)
    if not word:
        raise DirectiveError(f"<{node.name}> directive requires additional arguments")
    return neg, word


def _simple(test: Callable[[Engine, str], bool]) -> Callable[[Engine, Node], bool]:
    def cond(e: Engine, node: Node) -> bool:
        neg, arg = _word_arg(node)
        return test(e, arg) != neg
    return cond


def _ifversion(e: Engine, node: Node) -> bool:
    """start_ifversion: one to three words (TAKE123); the version ends with the '>' of
    the tag, or the third word is a lone '>'; anything else after the tag is refused."""
    words = split_words(node.args)
    if not 1 <= len(words) <= 3:
        raise DirectiveError("<IfVersion takes one, two or three arguments, a comparison "
                             "operator, a version (and a delimiter)")
    delim: str | None = None
    if len(words) == 1:
        op, ver = "=", words[0]
    elif len(words) == 2:
        op, ver = words
    else:
        op, ver, delim = words
    if delim is None and ver == ">":
        op, ver, delim = "=", op, ">"
    if not ver or (delim != ">" and not ver.endswith(">")):
        raise DirectiveError("<IfVersion> directive missing closing '>'")
    if delim != ">":
        ver = ver[:-1]
    neg = op.startswith("!")
    op = op[1:] if neg else op
    full = ".".join(map(str, VERSION))
    if op == "~" or (op in ("=", "==") and len(ver) > 1 and ver[0] == ver[-1] == "/"):
        rx = ver if op == "~" else ver[1:-1]
        try:
            ok = compile_regex(rx).search(full) is not None
        except CompileError:
            raise DirectiveError("Unable to compile regular expression") from None
    elif op in ("=", "==", "<", ">", "<=", ">="):
        parts = ver.split(".")
        if not all(is_digits(p) for p in parts) or not 1 <= len(parts) <= 3:
            raise DirectiveError("Version appears to be invalid. It must have the format "
                                 "major[.minor[.patch]] where major, minor and patch are "
                                 "numbers.")
        want = tuple(int(p) for p in parts) + (0,) * (3 - len(parts))
        have = VERSION if len(parts) == 3 else VERSION[:len(parts)] + (0,) * (3 - len(parts))
        ok = {"=": have == want, "==": have == want, "<": have < want, ">": have > want,
              "<=": have <= want, ">=": have >= want}[op]
    else:
        raise DirectiveError(f"unrecognized operator '{op}'")
    return ok != neg


CONDITIONS = {
    "<ifmodule": _simple(lambda e, a: e.module_present(a)),
    "<ifdefine": _simple(lambda e, a: a in e.defines),
    "<ifdirective": _simple(lambda e, a: e.lookup(a) is not None),
    "<ifsection": _simple(lambda e, a: e.lookup("<" + a) is not None),
    "<iffile": _simple(lambda e, a: os.path.exists(e.resolve_path(a))),
    "<ifversion": _ifversion,
}


def install(engine: Engine) -> None:
    engine.read_hooks = READ_HOOKS
    engine.conditions = CONDITIONS
