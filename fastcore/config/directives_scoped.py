"""Core directives of a per-directory scope whose value Apache merges specially:
FileETag (bits, + and - per scope) and LogLevel (a level and per-module levels); their
merges are in fastcore.config.state."""
from __future__ import annotations

from fastcore.config.directives_core import LOG_LEVELS
from fastcore.config.engine import Ctx, DirectiveError, Engine
from fastcore.config.model import (
    ETAG_ALL,
    ETAG_DIGEST,
    ETAG_INODE,
    ETAG_MTIME,
    ETAG_NONE,
    ETAG_SIZE,
    ETAG_UNSET,
    effective_etag,
)
from fastcore.config.tree import Node


def file_etag(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """As core.c's set_etag_bits: the first plain keyword forgets what this scope had
    (its +/- included), plain keywords accumulate, +X/-X go to the scope's add/remove
    lists; the merge (state._merge_etag) folds those into the inherited setting."""
    dc = ctx.dirconf
    bits, add, remove = dc.etag_bits, dc.etag_add, dc.etag_remove
    first = True
    for w in a:
        act = w[0] if w[:1] in ("+", "-") else ""
        word = w[1:] if act else w
        lw = word.lower()
        if not act and first:
            bits = add = remove = ETAG_UNSET
            first = False
        if lw in ("none", "all"):
            if act:
                raise DirectiveError(f"FileETag keyword '{word}' cannot be used with '+' or '-'")
            bit = bits = ETAG_NONE if lw == "none" else ETAG_ALL
        elif lw in _ETAG_WORDS:
            bit = _ETAG_WORDS[lw]
        else:
            raise DirectiveError(f"Unknown keyword '{word}' for FileETag directive")
        if act == "+":
            add |= bit
            remove &= ~bit
        elif act == "-":
            remove |= bit
            add &= ~bit
        else:
            bits |= bit
            add = remove = ETAG_UNSET
    dc.etag_bits, dc.etag_add, dc.etag_remove = bits, add, remove
    dc.file_etag = effective_etag(bits, add, remove)


_ETAG_WORDS = {"size": ETAG_SIZE, "mtime": ETAG_MTIME, "lmtime": ETAG_MTIME,
               "lastmodified": ETAG_MTIME, "inode": ETAG_INODE, "digest": ETAG_DIGEST}


def log_level(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """As core's set_loglevel: a plain level sets the scope's level and forgets the
    per-module levels given before it; `module:level` sets one module's level (the module
    must be loaded: "x", "mod_x.c" and "x_module" all name it)."""
    dc = ctx.dirconf
    level = None
    for w in a:
        mod, colon, lvl = w.rpartition(":")
        lvl = lvl.lower()
        if colon and not lvl:
            raise DirectiveError(f"Module specifier '{mod}' must be followed by a log level "
                                 "keyword")
        if lvl not in LOG_LEVELS:
            raise DirectiveError(f"{w + ': ' if colon else ''}Log level keyword must be one of "
                                 "emerg/alert/crit/error/warn/notice/info/debug/trace1/.../trace8")
        if not colon:
            level = lvl
            dc.log_level = lvl
            dc.log_modules = {}
            continue
        short = module_tag(mod)
        if f"{short}_module" not in e.loaded:
            raise DirectiveError(f"Cannot find module {mod}")
        dc.log_modules = {**dc.log_modules, short: lvl}
    if level and not ctx.kinds and not ctx.in_vhost:
        e.state.log_level = level


def module_tag(name: str) -> str:
    """The short name Apache prints in error-log lines: mod_authz_core.c, authz_core_module
    and authz_core are all "authz_core"."""
    if name.startswith("mod_") and name.endswith(".c"):
        return name[4:-2]
    return name[:-7] if name.endswith("_module") else name
