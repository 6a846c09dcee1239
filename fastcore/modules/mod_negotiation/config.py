"""mod_negotiation's configuration: LanguagePriority, ForceLanguagePriority (per-dir) and
CacheNegotiatedDocs (per-server), with their records and accessors."""
from __future__ import annotations

from dataclasses import dataclass

from fastcore.config.engine import OR_FILEINFO, RSRC, Ctx, Directive, DirectiveError, Engine
from fastcore.config.model import DirConfig, VirtualHost, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.modules.mod_mime import MimeDir, mime_config

NAME = "negotiation_module"
_NO_MIME = MimeDir()


@dataclass
class NegotiationDir:
    """neg_dir_config: the language priority list and the ForceLanguagePriority words."""

    language_priority: tuple[str, ...] | None = None
    force_language_priority: str | None = None  # "fallback prefer", "none" ...

    def merge(self, add: NegotiationDir) -> NegotiationDir:
        """merge_neg_dir_configs: each setting of the deeper scope wins where set."""
        return NegotiationDir(
            add.language_priority if add.language_priority is not None
            else self.language_priority,
            add.force_language_priority if add.force_language_priority is not None
            else self.force_language_priority)


@dataclass
class NegotiationServer:
    """CacheNegotiatedDocs: only On is kept, so Off in a <VirtualHost> leaves the main
    server's setting in force there, as in Apache."""

    cache_negotiated_docs: bool | None = None

    def merge(self, add: NegotiationServer) -> NegotiationServer:
        return NegotiationServer(add.cache_negotiated_docs
                                 if add.cache_negotiated_docs is not None
                                 else self.cache_negotiated_docs)


_NO_NEG = NegotiationDir()


def negotiation_of(dirconf: DirConfig | None) -> NegotiationDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    return module_record(dirconf.modules, NAME, NegotiationDir) if dirconf else _NO_NEG


def mime_of(dirconf: DirConfig | None) -> MimeDir:
    """mod_mime's record, which negotiation reads for the variants' metadata."""
    return mime_config(dirconf) if dirconf is not None else _NO_MIME


def caches_negotiated(vh: VirtualHost) -> bool:
    """CacheNegotiatedDocs On in force for a server (its own, else the main server's:
    the vhost's record is already merged over the main server's)."""
    return bool(module_record(vh.module_config, NAME,
                              NegotiationServer).cache_negotiated_docs)


def language_priority(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    rec = scope_record(ctx.dirconf.modules, NAME, NegotiationDir)
    rec.language_priority = (rec.language_priority or ()) + tuple(a)


def force_language_priority(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    vals = set()
    for w in a:
        lw = w.lower()
        if lw not in ("none", "prefer", "fallback"):
            raise DirectiveError("Invalid ForceLanguagePriority option " + w)
        vals.add(lw)
    if "none" in vals and len(vals) > 1:
        raise DirectiveError("Cannot combine ForceLanguagePriority options with None")
    scope_record(ctx.dirconf.modules, NAME, NegotiationDir).force_language_priority = (
        " ".join(sorted(vals)))


def cache_negotiated_docs(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    scope_record(ctx.vhost.module_config, NAME, NegotiationServer).cache_negotiated_docs = (
        True if a else None)


def directives() -> list[Directive]:
    fi, s = frozenset({OR_FILEINFO}), frozenset({RSRC})
    return [
        Directive("LanguagePriority", NAME, fi, "ITERATE", language_priority,
                  "space-delimited list of MIME language abbreviations"),
        Directive("ForceLanguagePriority", NAME, fi, "ITERATE", force_language_priority,
                  "Force LanguagePriority elections, either None, or Fallback and/or Prefer"),
        Directive("CacheNegotiatedDocs", NAME, s, "FLAG", cache_negotiated_docs,
                  "Either on or off (default)"),
    ]

