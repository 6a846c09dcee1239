"""mod_filter: smart filters (FilterDeclare, FilterProvider with an ap_expr condition,
FilterChain) and AddOutputFilterByType, which lives here in httpd 2.4.

fastcore has no bucket brigades: an output filter is a function of the OUTPUT_FILTER
phase over the finished Response (DEFLATE: mod_deflate, BROTLI_COMPRESS: mod_brotli).
What this module owns is the configuration that says which of them runs for which
answer, as mod_filter.c keeps it:

- live filters: harness name (as written: an APR hash) -> its providers, the newest
  first (FilterProvider and add_filter prepend); AddOutputFilterByType FILTER types
  is a harness named "BYTYPE:FILTER" whose providers match the media type (without
  parameters, compared with case as written: filter_lookup's strncmp; mod_mime
  lower-cases the types it sets), put on the chain the first time it is named;
- the chain: harness names in order, FilterChain's +name (end), @name (start), -name
  (out of this scope's own chain), =name and ! (a reset: the enclosing scopes' chain
  is dropped when merged);
- the merge (filter_merge): live filters overlaid (a deeper scope's harness of the
  same name replaces the enclosing one's), chains concatenated after the last reset.

A harness runs only over a 200 (a 206 is still a 200 when it runs: the byterange
filter comes later); its first provider whose types match, or whose expression is
true for the answer, is the filter that runs.  `selected(txn, resp)` gives those names
in chain order.  FilterProtocol and FilterTrace are not implemented ("Invalid command").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastcore.config.engine import OR_FILEINFO, OR_OPTIONS, Ctx, Directive, DirectiveError, Engine
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.cacheable import NOTHING, CacheInfo, Contribution
from fastcore.core.expr import Condition, ExprContext, ExprError, parse_condition
from fastcore.core.transaction import Transaction
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.response import Response

NAME = "filter_module"
BYTYPE = "BYTYPE:"
# output filters fastcore implements: name (upper-case) -> the module that registers it
OUTPUT_FILTERS = {"DEFLATE": "deflate_module", "BROTLI_COMPRESS": "brotli_module",
                  "INCLUDES": "include_module"}
# filters those modules register in httpd that fastcore does not implement
UNIMPLEMENTED = {"INFLATE": "deflate_module"}


@dataclass(frozen=True)
class Provider:
    """ap_filter_provider_t: the filter that runs (upper-case name) and when: the
    media types (AddOutputFilterByType) or an expression (FilterProvider)."""

    filter: str
    types: frozenset[str] | None = None
    expr: Condition | None = None


@dataclass(frozen=True)
class Harness:
    """A smart filter (ap_filter_rec_t with filter_harness): its providers, newest first."""

    providers: tuple[Provider, ...] = ()


@dataclass
class FilterDir:
    """mod_filter_cfg: the live filters and the chain (None: a reset marker)."""

    live: dict[str, Harness] = field(default_factory=dict)
    chain: tuple[str | None, ...] = ()

    def merge(self, add: FilterDir) -> FilterDir:
        chain: tuple[str | None, ...]
        if self.chain and add.chain:
            chain = ()
            for name in self.chain + add.chain:
                chain = (None,) if name is None else (*chain, name)
        else:
            chain = add.chain or self.chain
        return FilterDir({**self.live, **add.live}, chain)


def filter_config(dc: DirConfig) -> FilterDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    return module_record(dc.modules, NAME, FilterDir)


def media_type(ctype: str | None) -> str | None:
    """The part of a Content-Type mod_filter compares: up to the first ';' or blank
    (case kept)."""
    if ctype is None:
        return None
    end = len(ctype)
    for sep in "; \t":
        i = ctype.find(sep)
        if 0 <= i < end:
            end = i
    return ctype[:end]


def _chain(cfg: FilterDir) -> list[Harness]:
    """filter_insert: the chain after its resets, unknown harness names left out."""
    out: list[Harness] = []
    for name in cfg.chain:
        if name is None:
            out = []
            continue
        harness = cfg.live.get(name)
        if harness is not None:
            out.append(harness)
    return out


@dataclass(frozen=True)
class Selection:
    """What the harnesses decided for one answer: the filters that run, in chain
    order, and the request headers their expressions read (ap_expr_exec merges them
    into Vary, whatever the outcome)."""

    filters: tuple[str, ...] = ()
    vary: tuple[str, ...] = ()


NONE_SELECTED = Selection()


def selected(txn: Transaction, resp: Response | None, ctype: str | None) -> Selection:
    """The filters the chain's harnesses pick for this answer (each harness's first
    matching provider, newest first; a failing expression matches nothing, as
    filter_lookup logs and goes on)."""
    dc = txn.dirconf
    if dc is None:
        return NONE_SELECTED
    cfg = filter_config(dc)
    if not cfg.chain:
        return NONE_SELECTED
    mt = media_type(ctype)
    out: list[str] = []
    ctx: ExprContext | None = None
    for harness in _chain(cfg):
        for p in harness.providers:
            if p.types is not None:
                if mt is None or mt not in p.types:
                    continue
            elif p.expr is not None:
                if ctx is None:
                    ctx = ExprContext(txn, resp)
                try:
                    if not p.expr.evaluate(ctx):
                        continue
                except ExprError:
                    continue
            out.append(p.filter)
            break
    return Selection(tuple(out), tuple(ctx.vary) if ctx is not None else ())


def filters_for(dc: DirConfig | None, ctype: str | None) -> tuple[str, ...]:
    """The filters the type-matching providers of the chain pick for Content-Type
    `ctype` (no expressions), in chain order."""
    if dc is None:
        return ()
    mt = media_type(ctype)
    out: list[str] = []
    for harness in _chain(filter_config(dc)):
        for p in harness.providers:
            if p.types is not None and mt is not None and mt in p.types:
                out.append(p.filter)
                break
    return tuple(out)


def in_harness(dc: DirConfig, name: str) -> bool:
    """Whether a harness of the chain has a provider of filter `name`: httpd's
    filter_init then runs that filter's init function for every answer of the scope,
    whichever provider is picked later (mod_include's includes_setup drops the ETag)."""
    return any(p.filter == name for h in _chain(filter_config(dc)) for p in h.providers)


def has_expressions(dc: DirConfig) -> bool:
    """Whether a provider of the chain has an expression (its pick may then depend on
    the request: the caches keep no answer whose filters it chooses)."""
    return any(p.expr is not None for h in _chain(filter_config(dc)) for p in h.providers)


def may_select(dc: DirConfig, ctype: str | None, name: str) -> bool:
    """Whether filter `name` might run over a 200 of type `ctype` here: a provider of
    it matches the type, or has an expression (which may depend on the request)."""
    mt = media_type(ctype)
    for harness in _chain(filter_config(dc)):
        for p in harness.providers:
            if p.filter == name and (p.expr is not None
                                     or (p.types is not None and mt in p.types)):
                return True
    return False


def _provider_name(e: Engine, name: str) -> str:
    """ap_get_output_filter_handle: a filter a loaded module registers (names without
    case), else Apache's "Unknown filter provider"."""
    key = name.upper()
    module = OUTPUT_FILTERS.get(key)
    if module is not None and e.module_loaded(module):
        return key
    module = UNIMPLEMENTED.get(key)
    if module is not None and e.module_loaded(module):
        raise DirectiveError(f"fastcore does not implement the {key} output filter")
    raise DirectiveError(f"Unknown filter provider {name}")


def _add_to_chain(rec: FilterDir, arg: str) -> None:
    """filter_chain: one [+@-=!]name argument over this scope's chain."""
    op, name = (arg[0], arg[1:]) if arg[:1] in ("+", "@", "-", "!", "=") else ("+", arg)
    if op == "+":
        rec.chain = (*rec.chain, name)
    elif op == "@":
        rec.chain = (name, *rec.chain)
    elif op == "-":
        low = name.lower()
        rec.chain = tuple(n for n in rec.chain if n is None or n.lower() != low)
    elif op == "!":
        rec.chain = (None,)
    else:
        rec.chain = (None, name)


def _declare(rec: FilterDir, name: str) -> Harness:
    harness = rec.live[name] = Harness()
    return harness


def add_output_filter_by_type(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """AddOutputFilterByType FILTER[;FILTER...] type...: a provider matching these types
    on the harness BYTYPE:FILTER, chained the first time it is named."""
    rec = scope_record(ctx.dirconf.modules, NAME, FilterDir)
    types = frozenset(a[1:])
    for name in a[0].split(";"):
        if not name:
            continue
        provider = Provider(_provider_name(e, name), types=types)
        hname = BYTYPE + name
        old = rec.live.get(hname)
        rec.live[hname] = Harness((provider, *(old.providers if old else ())))
        if old is None:
            _add_to_chain(rec, hname)


def filter_declare(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """FilterDeclare name [type]: a new, empty smart filter (a redeclaration drops the
    providers; the type only places it among httpd's filters)."""
    _declare(scope_record(ctx.dirconf.modules, NAME, FilterDir), a[0])


def filter_provider(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """FilterProvider name provider expression (the harness is declared when new)."""
    rec = scope_record(ctx.dirconf.modules, NAME, FilterDir)
    fname, pname, text = a
    pfilter = _provider_name(e, pname)
    try:
        cond = parse_condition(text)
    except DirectiveError as err:
        raise DirectiveError(f"Error parsing FilterProvider expression:{err}") from None
    harness = rec.live.get(fname) or _declare(rec, fname)
    rec.live[fname] = Harness((Provider(pfilter, expr=cond), *harness.providers))


def filter_chain(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    rec = scope_record(ctx.dirconf.modules, NAME, FilterDir)
    for arg in a:
        _add_to_chain(rec, arg)


def directives() -> list[Directive]:
    opts = frozenset({OR_OPTIONS})
    # no usage text for AddOutputFilterByType: Apache's own message has none (measured)
    return [
        Directive("AddOutputFilterByType", NAME, frozenset({OR_FILEINFO}), "ITERATE2",
                  add_output_filter_by_type, ""),
        Directive("FilterDeclare", NAME, opts, "TAKE12", filter_declare,
                  "filter-name [filter-type]"),
        Directive("FilterProvider", NAME, opts, "TAKE3", filter_provider,
                  "filter-name provider-name match-expression"),
        Directive("FilterChain", NAME, opts, "ITERATE", filter_chain,
                  "list of filter names with optional [+-=!@]"),
    ]


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """mod_filter adds no header itself; the filters it selects say whether an answer
    may be cached (mod_deflate: not when DEFLATE may apply)."""
    return NOTHING


MODULE = ModuleSpec(NAME, directives, dir_record=FilterDir,
                    cache_contribution=cache_contribution)
