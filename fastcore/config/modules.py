"""Module names the config engine knows without any module: the compiled-in (static)
ones, as in Debian's apache2 build, and the MPMs; and the directive table of core.  The
modules' own tables come from the registry the engine is given (fastcore.modules): this
package never imports fastcore.modules at module level."""
from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from fastcore.config.core_table import core_directives
from fastcore.config.directives_http import http_directives
from fastcore.config.directives_mpm import mpm_directives
from fastcore.config.engine import Directive
from fastcore.config.sections import section_directives

# Compiled into Debian's apache2 (`apache2 -l`); LoadModule of these is an error there too.
STATIC = ("core_module", "so_module", "watchdog_module", "http_module", "log_config_module",
          "logio_module", "version_module", "unixd_module")

MPMS = ("mpm_prefork_module", "mpm_worker_module", "mpm_event_module")


# Directives of Apache's core and compiled-in modules that fastcore does not implement:
# Apache accepts them in every configuration, so saying "perhaps misspelled" would mislead.
UNIMPLEMENTED = {n.lower(): (n, m) for m, names in {
    "core": ("CGIMapExtension CGIPassAuth CGIVar ContentDigest "
             "EnableExceptionHook Error ErrorLogFormat FlushMaxPipelined FlushMaxThreshold "
             "GprofDir LimitXMLRequestBody "
             "MergeTrailers Protocol "
             "ProtocolsHonorOrder QualifyRedirectURL ReadBufferSize "
             "RegexDefaultOptions RegisterHttpMethod RLimitCPU RLimitMEM RLimitNPROC "
             "ScriptInterpreterSource SeeRequestTail ServerPath SetInputFilter "
             "UseCanonicalPhysicalPort <Limit "
             "<LimitExcept"),
    "mod_unixd": "ChrootDir Suexec",
    "mod_log_config": "GlobalLog",
    "mod_logio": "LogIOTrackTTFB",
    "mod_watchdog": "WatchdogInterval",
    "mod_so": "LoadFile",
}.items() for n in names.split()}


@cache
def _core_rows() -> tuple[Directive, ...]:
    return (*section_directives(), *core_directives(), *http_directives(), *mpm_directives())


@cache
def _core_template() -> dict[str, list[Directive]]:
    return add_directives({}, _core_rows())


def core_table() -> dict[str, list[Directive]]:
    """A fresh table with core's directives (an engine adds its modules' to its copy).
    Copied from one built once: every load (and reload) starts from it, and the rows
    are the same cached objects either way."""
    template = _core_template()
    return dict(zip(template, map(list, template.values()), strict=True))


def add_directives(table: dict[str, list[Directive]], rows: Iterable[Directive]
                   ) -> dict[str, list[Directive]]:
    """Add a module's directive rows to a table keyed by lower-case name."""
    for d in rows:
        table.setdefault(d.name.lower(), []).append(d)
    return table
