"""The read-time (EXEC_ON_READ) directives and conditionals, wired into the Engine."""
from __future__ import annotations

import os

from fastcore.config import directives_core as core
from fastcore.config.engine import DirectiveError, Engine
from fastcore.config.lexer import split_words
from fastcore.config.regex import CompileError, compile_regex
from fastcore.config.tree import Node

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
}


def _arg(node: Node) -> tuple[bool, str]:
    a = node.args.strip()
    if not a.endswith(">"):
        raise DirectiveError(f"<{node.name}> directive missing closing '>'")
    words = split_words(a[:-1])
    if not words or words[0] in ("", "!"):
        raise DirectiveError(f"<{node.name}> directive requires an argument"
                             if node.name.lower() != "ifmodule" else
                             "<IfModule> directive requires an argument")
    if len(words) > 1:
        # Apache takes the whole text as the name, which then matches nothing
        words = [" ".join(words)]
    w = words[0]
    return (True, w[1:]) if w.startswith("!") else (False, w)


def _simple(test):
    def cond(e: Engine, node: Node) -> bool:
        neg, arg = _arg(node)
        return test(e, arg) != neg
    return cond


def _ifversion(e: Engine, node: Node) -> bool:
    a = node.args.strip()
    if not a.endswith(">"):
        raise DirectiveError("<IfVersion> directive missing closing '>'")
    words = split_words(a[:-1])
    if not words or len(words) > 2:
        raise DirectiveError("<IfVersion> directive requires one or two arguments")
    op, ver = ("=", words[0]) if len(words) == 1 else (words[0], words[1])
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
        if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
            raise DirectiveError("Version appears to be invalid. It must have the format "
                                 "major[.minor[.patch]]")
        want = tuple(int(p) for p in parts) + (0,) * (3 - len(parts))
        have = VERSION if len(parts) == 3 else VERSION[:len(parts)] + (0,) * (3 - len(parts))
        ok = {"=": have == want, "==": have == want, "<": have < want, ">": have > want,
              "<=": have <= want, ">=": have >= want}[op]
    else:
        raise DirectiveError(f"unrecognized operator '{op}'")
    return ok != neg


CONDITIONS = {
    "<ifmodule": _simple(lambda e, a: e.module_loaded(a)),
    "<ifdefine": _simple(lambda e, a: a in e.defines),
    "<ifdirective": _simple(lambda e, a: e.lookup(a) is not None),
    "<ifsection": _simple(lambda e, a: e.lookup("<" + a) is not None),
    "<iffile": _simple(lambda e, a: os.path.exists(e.resolve_path(a))),
    "<ifversion": _ifversion,
}


def install(engine: Engine) -> None:
    engine.read_hooks = READ_HOOKS
    engine.conditions = CONDITIONS
