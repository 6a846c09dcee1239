"""Apache module names fastcore knows: the compiled-in (static) ones, as in Debian's
apache2 build, and the loadable ones it implements. The table of directives is built once
at import; a module's run-time code (fastcore.core, fastcore.modules) is only imported when it is loaded."""
from __future__ import annotations

from fastcore.config.core_table import core_directives
from fastcore.config.directives_http import http_directives
from fastcore.config.directives_mods import module_directives
from fastcore.config.directives_mpm import mpm_directives
from fastcore.config.engine import Directive
from fastcore.config.sections import section_directives
from fastcore.modules import REGISTRY

# Compiled into Debian's apache2 (`apache2 -l`); LoadModule of these is an error there too.
STATIC = ("core_module", "so_module", "watchdog_module", "http_module", "log_config_module",
          "logio_module", "version_module", "unixd_module")

# Loadable with LoadModule (the .so path is not opened).
SUPPORTED = frozenset({
    "mpm_prefork_module", "mpm_worker_module", "mpm_event_module",
    "mime_module", "dir_module", "status_module", "negotiation_module", "autoindex_module",
    "authz_core_module", "authz_host_module", "alias_module",
}) | {m.name for m in REGISTRY if m.name not in STATIC}  # compiled in: not loadable


# Directives of Apache's core and compiled-in modules that fastcore does not implement:
# Apache accepts them in every configuration, so saying "perhaps misspelled" would mislead.
UNIMPLEMENTED = {n.lower(): (n, m) for m, names in {
    "core": ("AcceptFilter CGIMapExtension CGIPassAuth CGIVar ContentDigest "
             "EnableExceptionHook Error ErrorLogFormat FlushMaxPipelined FlushMaxThreshold "
             "GprofDir LimitInternalRecursion LimitXMLRequestBody "
             "MergeTrailers Protocol "
             "Protocols ProtocolsHonorOrder QualifyRedirectURL ReadBufferSize "
             "RegexDefaultOptions RegisterHttpMethod RLimitCPU RLimitMEM RLimitNPROC "
             "ScriptInterpreterSource SeeRequestTail ServerPath SetInputFilter SetOutputFilter "
             "UseCanonicalPhysicalPort <If <ElseIf <Else <Limit "
             "<LimitExcept"),
    "mod_unixd": "ChrootDir Suexec",
    "mod_log_config": "GlobalLog",
    "mod_logio": "LogIOTrackTTFB",
    "mod_watchdog": "WatchdogInterval",
    "mod_so": "LoadFile",
}.items() for n in names.split()}


def build_table() -> dict[str, list[Directive]]:
    table: dict[str, list[Directive]] = {}
    for d in (*section_directives(), *core_directives(), *http_directives(), *mpm_directives(),
              *module_directives(), *(d for m in REGISTRY for d in m.directives())):
        table.setdefault(d.name.lower(), []).append(d)
    return table


TABLE = build_table()


def directive_names() -> list[str]:
    """Every directive fastcore knows, in Apache's spelling (for docs and tests)."""
    return sorted({ds[0].name for ds in TABLE.values()})
