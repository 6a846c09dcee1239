"""mod_filter: AddOutputFilterByType, which lives here in httpd 2.4.

fastcore has no bucket brigades: an output filter is a function of the OUTPUT_FILTER
phase over the finished Response.  What this module owns is the configuration that says
which filter runs for which response: `AddOutputFilterByType DEFLATE text/html ...`
declares a filter harness whose providers match the response's media type (without
parameters, compared with case as configured: filter_lookup's strncmp; mod_mime
lower-cases the types it sets).  The harness only runs over a 200 answer (a 206 is
still 200 when it runs: the byterange filter comes later).  The filters
themselves (DEFLATE: mod_deflate) ask `filters_for` whether they are in the chain.

FilterDeclare, FilterProvider, FilterChain, FilterProtocol and FilterTrace are not
implemented (they stay "Invalid command" errors): neither Debian's deflate.conf nor h5bp's
compression.conf uses them.

Merge as mod_filter's filter_merge: a deeper scope's harness for a filter name replaces
the enclosing scope's one (the hash overlay of live_filters).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fastcore.config.engine import OR_FILEINFO, Ctx, Directive, Engine
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.cacheable import NOTHING, CacheInfo, Contribution
from fastcore.core.transaction import Transaction
from fastcore.modules import ModuleSpec

NAME = "filter_module"


@dataclass
class FilterDir:
    """mod_filter_cfg's live filters: filter name (upper-case: httpd's filter names are
    case-insensitive) -> the media types its providers match, as written."""

    by_type: dict[str, frozenset[str]] = field(default_factory=dict)

    def merge(self, add: FilterDir) -> FilterDir:
        return FilterDir({**self.by_type, **add.by_type})


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


def filters_for(dc: DirConfig | None, ctype: str | None) -> tuple[str, ...]:
    """The (upper-case) filter names AddOutputFilterByType puts over a response of
    Content-Type `ctype`, in the chain's order (the order the filters were first named;
    a response without a type matches nothing)."""
    if dc is None:
        return ()
    table = filter_config(dc).by_type
    if not table:
        return ()
    mt = media_type(ctype)
    if mt is None:
        return ()
    return tuple(name for name, types in table.items() if mt in types)


def add_output_filter_by_type(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """AddOutputFilterByType FILTER[;FILTER...] type [type...]: each filter gains a
    provider for these types (types added later in the same scope accumulate)."""
    rec = scope_record(ctx.dirconf.modules, NAME, FilterDir)
    types = frozenset(a[1:])
    for name in a[0].split(";"):
        if not name:
            continue
        key = name.upper()
        rec.by_type[key] = rec.by_type.get(key, frozenset()) | types


def directives() -> list[Directive]:
    # no usage text: Apache's own error message for it has none (measured)
    return [Directive("AddOutputFilterByType", NAME, frozenset({OR_FILEINFO}), "ITERATE2",
                      add_output_filter_by_type, "")]


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """mod_filter adds no header itself; the filters it selects say whether an answer
    may be cached (mod_deflate: not when DEFLATE applies)."""
    return NOTHING


MODULE = ModuleSpec(NAME, directives, dir_record=FilterDir,
                    cache_contribution=cache_contribution)
