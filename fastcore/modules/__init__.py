"""Apache modules, one file each, named as Apache names them.

A module declares itself with a `ModuleSpec`: its Apache name (what LoadModule takes), its
directive table, and the merge of its per-server record (what a <VirtualHost> inherits
from the main server).  The config engine learns every module from `REGISTRY` only, so
adding one is a new file here and one line below.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastcore.config.engine import Directive
from fastcore.core.cacheable import ContributionFn
from fastcore.core.phases import Hook


def table_elsewhere() -> list[Directive]:
    """For a module whose directive rows still live in config/directives_mods.py."""
    return []


@dataclass(frozen=True)
class ModuleSpec:
    """What the config engine needs to know about one module."""

    name: str  # Apache's module name, as LoadModule names it: "reqtimeout_module"
    directives: Callable[[], list[Directive]] = table_elsewhere
    # (main server's record, the vhost's record) -> the vhost's effective record;
    # either may be None (nothing configured there)
    merge_server: Callable[[Any, Any], Any] | None = None
    # its share in a cacheable response: header bytes, or not cacheable (core/cacheable.py)
    cache_contribution: ContributionFn | None = None
    # its functions in the request phases (fastcore.core.phases), ordered at startup
    hooks: tuple[Hook, ...] = ()


def _registry() -> tuple[ModuleSpec, ...]:
    from fastcore.modules import (
        mod_authz_core,
        mod_autoindex,
        mod_dir,
        mod_log_config,
        mod_mime,
        mod_negotiation,
        mod_reqtimeout,
        mod_status,
    )

    return (mod_reqtimeout.MODULE, mod_mime.MODULE, mod_authz_core.MODULE, mod_dir.MODULE,
            mod_autoindex.MODULE, mod_negotiation.MODULE, mod_status.MODULE,
            mod_log_config.MODULE)


# Every module's spec, in this order; built by __getattr__ on first use.
REGISTRY: tuple[ModuleSpec, ...]


def __getattr__(name: str) -> tuple[ModuleSpec, ...]:
    """REGISTRY, built on first use: the modules' request code imports fastcore.core
    pieces that import from this package (mod_mime), so importing every module while
    this package initializes would be a cycle."""
    if name != "REGISTRY":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    registry = _registry()
    globals()["REGISTRY"] = registry
    return registry
