"""The Options directive, as core.c's set_options (order of checks and messages)."""
from __future__ import annotations

from fastcore.config.engine import Ctx, DirectiveError, Engine
from fastcore.config.model import OPT_INCNOEXEC, OPTION_NAMES
from fastcore.config.tree import Node


def options(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """set_options: plain words set the options (the first one resets them), +/- words
    adjust them; after a leading None/All, +/- words may follow (`None +Indexes`)."""
    dc = ctx.dirconf
    first, merge, all_none = True, False, False
    opts, add, remove = dc.options, dc.options_add, dc.options_remove  # None: unset
    for w in a:
        action = ""
        if w[:1] in ("+", "-"):
            action, w = w[0], w[1:]
            if not merge and not first and not all_none:
                raise DirectiveError(_OPTS_MIXED)
            merge = True
        elif first:
            opts = 0
        elif merge:
            raise DirectiveError(_OPTS_MIXED)
        key = w.lower()
        if key not in OPTION_NAMES:
            raise DirectiveError(f"Illegal option {w}")
        opt = OPTION_NAMES[key]
        if key in ("none", "all"):
            word = "None" if key == "none" else "All"
            if not first:  # sic: Apache capitalizes "Option" for None only
                raise DirectiveError(f"'Options {word}' must be the first "
                                     f"{'Option' if key == 'none' else 'option'} given.")
            if merge:
                raise DirectiveError(f"You may not use 'Options +{word}' or 'Options -{word}'.")
            all_none = True
        if ctx.htaccess and (ctx.override_opts & opt) != opt:
            raise DirectiveError(f"Option {w} not allowed here")
        if action == "-":
            remove, add = remove | opt, add & ~opt
            opts = None if opts is None else opts & ~opt
        elif action == "+":
            add, remove = add | opt, remove & ~opt
            opts = None if opts is None else opts | opt
        else:
            opts = (opts or 0) | opt
        first = False
    if opts is not None and opts & OPT_INCNOEXEC:
        opts |= 2  # IncludesNOEXEC implies Includes (minus exec)
    dc.options, dc.options_add, dc.options_remove = opts, add, remove


_OPTS_MIXED = "Either all Options must start with + or -, or no Option may."
