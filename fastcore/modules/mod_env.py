"""mod_env: SetEnv, UnsetEnv and PassEnv, the request's environment variables.

A static server has no CGI to pass them to; what they change is what a client can see
in the access log: `%{VAR}e` in a LogFormat and the `env=VAR` / `env=!VAR` condition of
a CustomLog.  As in httpd, the variables are applied in the fixups phase, after
authorization: a request denied by `Require` logs none of them, and `Require env VAR`
never sees a variable set with SetEnv (Apache's documentation: use SetEnvIf for that).

The per-dir record is merged as mod_env.c's merge_env_dir_configs: the enclosing scope's
variables, minus what the deeper scope unsets, plus what it sets.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastcore.config.engine import OR_FILEINFO, Ctx, Directive, Engine
from fastcore.config.errors import error_log_line
from fastcore.config.model import DirConfig, module_record, scope_record
from fastcore.config.tree import Node
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.phases import FIRST, FIXUPS, OK, Hook, HookResult
from fastcore.modules import ModuleSpec

if TYPE_CHECKING:
    from fastcore.core.handler import Handler
    from fastcore.core.transaction import Transaction

NAME = "env_module"


@dataclass
class EnvDir:
    """env_dir_config_rec: the variables a scope sets (lower-case name -> value, in
    order: APR tables compare names without case, and so does `%{Name}e`) and the names
    it unsets (those it had set before the UnsetEnv are already dropped)."""

    vars: dict[str, str] = field(default_factory=dict)
    unset: frozenset[str] = frozenset()

    def merge(self, add: EnvDir) -> EnvDir:
        merged = {k: v for k, v in self.vars.items() if k not in add.unset}
        merged.update(add.vars)
        return EnvDir(merged)


def env_config(dc: DirConfig) -> EnvDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    return module_record(dc.modules, NAME, EnvDir)


def request_env(dc: DirConfig | None) -> dict[str, str]:
    """The variables the fixup of a request under `dc` sets (fixup_env_module), by
    lower-case name."""
    return env_config(dc).vars if dc is not None else {}


def set_env(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """SetEnv NAME [VALUE]: no value sets the empty string."""
    name = a[0]
    if "=" in name:
        head, _, rest = name.partition("=")
        e.warnings.append(error_log_line(
            "env", "warn", f"AH10032: Spurious usage of '=' in an environment variable "
            f"name. '{n.name} {head} {rest}' expected instead?"))
    scope_record(ctx.dirconf.modules, NAME, EnvDir).vars[name.lower()] = (
        a[1] if len(a) > 1 else "")


def unset_env(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    rec = scope_record(ctx.dirconf.modules, NAME, EnvDir)
    names = frozenset(name.lower() for name in a)
    for name in names:
        rec.vars.pop(name, None)
    rec.unset = rec.unset | names


def pass_env(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """PassEnv: the value the server's own environment has while it reads the config."""
    rec = scope_record(ctx.dirconf.modules, NAME, EnvDir)
    for name in a:
        value = os.environ.get(name)
        if value is None:
            e.warnings.append(error_log_line(
                "env", "warn", f"AH01506: PassEnv variable {name} was undefined"))
        else:
            rec.vars[name.lower()] = value


def directives() -> list[Directive]:
    fi = frozenset({OR_FILEINFO})
    return [
        Directive("PassEnv", NAME, fi, "ITERATE", pass_env, "a list of environment "
                  "variables to pass to CGI."),
        Directive("SetEnv", NAME, fi, "TAKE12", set_env, "an environment variable name and "
                  "optional value to pass to CGI."),
        Directive("UnsetEnv", NAME, fi, "ITERATE", unset_env, "a list of variables to remove "
                  "from the CGI environment."),
    ]


def fixups(core: Handler, txn: Transaction) -> HookResult:
    """mod_env's fixup: the scope's variables become the request's environment (first
    among the fixups, so a <Location> Redirect's log line carries them too)."""
    scope = request_env(txn.dirconf)
    # merged over what earlier phases set (mod_rewrite's [E=] and SCRIPT_URL in
    # translate_name), as apr_table_overlap does
    txn.env = {**txn.env, **scope} if txn.env else scope
    return OK


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """The fast paths log without the request's environment: a scope that sets
    variables is never answered from a cache."""
    return NOT_CACHEABLE if request_env(dc) else NOTHING


HOOKS = (Hook(FIXUPS, fixups, FIRST),)
MODULE = ModuleSpec(NAME, directives, dir_record=EnvDir, hooks=HOOKS,
                    cache_contribution=cache_contribution)
