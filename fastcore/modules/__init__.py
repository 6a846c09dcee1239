"""Apache modules, one file (or package) each, named as Apache names them.

A module describes itself with one `ModuleSpec` (httpd's `module` struct): its Apache
name (what LoadModule takes), its directive table, its per-directory and per-server
config records (the record type is the create function, its `merge` the merge: see
fastcore.config.model.ModuleRecord), the hooks it registers and its share in a cacheable
response.  The config engine learns modules only from the specs it is given; `MODULES`
below is the one list of them, so adding a module is a new file here plus one line there.

The registry names modules without importing them: `load()` imports the ones a
configuration loaded, in the parent before fork; the config engine sees only their
directives, the phase runner only their hooks, the cache decision only their
contributions (httpd registers a module's hooks when LoadModule loads it, and only then).
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from fastcore.config.engine import Directive
from fastcore.config.model import ModuleRecord, ServerConfig, VirtualHost
from fastcore.config.modules import MPMS, STATIC, add_directives, core_table
from fastcore.core.cacheable import ContributionFn
from fastcore.core.mapping import TranslateFn
from fastcore.core.phases import Hook
from fastcore.core.preface import PrefaceFn
from fastcore.core.readclock import ReadLimits
from fastcore.core.typemap import NO_TYPES, TypeMap


def _no_directives() -> list[Directive]:
    return []


@dataclass(frozen=True)
class ModuleSpec:
    """What the server needs to know about one module."""

    name: str  # Apache's module name, as LoadModule names it: "reqtimeout_module"
    directives: Callable[[], list[Directive]] = _no_directives
    # per-directory record: instances live in DirConfig.modules[name], merged by .merge
    dir_record: type[ModuleRecord] | None = None
    # per-server record: instances live in VirtualHost.module_config[name]
    server_record: type[ModuleRecord] | None = None
    # its functions in the request phases (fastcore.core.phases), ordered at startup
    hooks: tuple[Hook, ...] = ()
    # its share in a cacheable response: header bytes, or not cacheable (core/cacheable.py)
    cache_contribution: ContributionFn | None = None
    # a service the core asks the loaded modules for: the file-name -> type map the
    # default handler and the sub-requests use (mod_mime's; core/typemap.py)
    type_map: Callable[[ServerConfig], TypeMap] | None = None
    # its translate_name for the mapper (URI -> file or redirect; core/mapping.py)
    translate: TranslateFn | None = None
    # whether the configuration makes it look host names up (the server's resolver)
    needs_dns: Callable[[ServerConfig], bool] | None = None
    # the read deadlines a connection to a server enforces (mod_reqtimeout's)
    read_limits: Callable[[ServerConfig, VirtualHost], ReadLimits | None] | None = None
    # its pre_connection: what the client sends before HTTP (mod_remoteip's PROXY header)
    preface: PrefaceFn | None = None
    # whether connections need their local address at accept (a PROXY port is chosen by
    # it; the event MPM's C loop then accepts nothing itself)
    needs_local_addr: Callable[[ServerConfig], bool] | None = None
    # its post_config: what it builds once per configuration in the parent (mod_ssl's
    # contexts, a startup error naming file and line when it cannot), and binds to the
    # listening sockets in each child (child_init)
    post_config: Callable[[ServerConfig], ListenerBinder | None] | None = None
    # its status_hook: a section of /server-status (short: the ?auto lines)
    status_section: Callable[[ServerConfig, bool], str] | None = None


class ListenerBinder(Protocol):
    """What a module's post_config returns: applied in each child to its listeners."""

    def bind(self, listen_fds: list[int]) -> None: ...

    def release(self) -> None:
        """In the parent, once a graceful restart has replaced its generation."""
        ...


# Apache module name -> the Python module (or package) holding its MODULE spec.
MODULES: dict[str, str] = {
    "log_config_module": "fastcore.modules.mod_log_config",
    "mime_module": "fastcore.modules.mod_mime",
    "dir_module": "fastcore.modules.mod_dir",
    "alias_module": "fastcore.modules.mod_alias",
    "authz_core_module": "fastcore.modules.mod_authz_core",
    "authz_host_module": "fastcore.modules.mod_authz_host",
    "negotiation_module": "fastcore.modules.mod_negotiation",
    "autoindex_module": "fastcore.modules.mod_autoindex",
    "status_module": "fastcore.modules.mod_status",
    "reqtimeout_module": "fastcore.modules.mod_reqtimeout",
    "env_module": "fastcore.modules.mod_env",
    "filter_module": "fastcore.modules.mod_filter",
    "deflate_module": "fastcore.modules.mod_deflate",
    "brotli_module": "fastcore.modules.mod_brotli",
    "access_compat_module": "fastcore.modules.mod_access_compat",
    "authn_core_module": "fastcore.modules.mod_authn_core",
    "authn_file_module": "fastcore.modules.mod_authn_file",
    "auth_basic_module": "fastcore.modules.mod_auth_basic",
    "authz_user_module": "fastcore.modules.mod_authz_user",
    "headers_module": "fastcore.modules.mod_headers",
    "expires_module": "fastcore.modules.mod_expires",
    "setenvif_module": "fastcore.modules.mod_setenvif",
    "include_module": "fastcore.modules.mod_include",
    "rewrite_module": "fastcore.modules.mod_rewrite",
    "remoteip_module": "fastcore.modules.mod_remoteip",
    "socache_shmcb_module": "fastcore.modules.mod_socache_shmcb",
    "ssl_module": "fastcore.modules.mod_ssl",
}


class Registry:
    """The modules a server can load, by Apache name; a module's code is imported only
    when a configuration loads it (`spec`), which the parent does before fork."""

    def __init__(self, modules: dict[str, str]) -> None:
        self.modules = modules
        self._loaded: dict[frozenset[str], tuple[ModuleSpec, ...]] = {}

    def loadable(self) -> frozenset[str]:
        """What LoadModule accepts: the MPMs and every registered module that is not
        compiled in."""
        return (frozenset(MPMS) | frozenset(self.modules)) - frozenset(STATIC)

    def spec(self, name: str) -> ModuleSpec:
        """Import one registered module and return its spec (KeyError: not registered)."""
        found: ModuleSpec = importlib.import_module(self.modules[name]).MODULE
        return found

    def directives(self, name: str) -> list[Directive]:
        return self.spec(name).directives() if name in self.modules else []

    def load(self, names: Iterable[str]) -> tuple[ModuleSpec, ...]:
        """The specs of the registered modules among `names` (core and the MPMs are not
        modules of this package), in registry order, each imported with every submodule
        of its package, so a child never imports a module's code."""
        wanted = frozenset(names)
        got = self._loaded.get(wanted)
        if got is not None:
            return got
        out = []
        for name in self.modules:
            if name not in wanted:
                continue
            out.append(self.spec(name))
            pkg = importlib.import_module(self.modules[name])
            for info in pkgutil.walk_packages(getattr(pkg, "__path__", ()),
                                              pkg.__name__ + "."):
                importlib.import_module(info.name)
        self._loaded[wanted] = got = tuple(out)
        return got

    def translators(self, cfg: ServerConfig) -> tuple[TranslateFn, ...]:
        """The loaded modules' translate_name functions, in registry order."""
        return tuple(s.translate for s in self.load(cfg.modules) if s.translate is not None)

    def read_limits(self, cfg: ServerConfig, vhost: VirtualHost) -> ReadLimits | None:
        """The read deadlines of a connection to `vhost`: the loaded module's, else none
        (Timeout alone)."""
        for spec in self.load(cfg.modules):
            if spec.read_limits is not None:
                return spec.read_limits(cfg, vhost)
        return None

    def prefaces(self, cfg: ServerConfig) -> tuple[PrefaceFn, ...]:
        """The loaded modules' pre_connection readers, in registry order."""
        return tuple(s.preface for s in self.load(cfg.modules) if s.preface is not None)

    def needs_local_addr(self, cfg: ServerConfig) -> bool:
        """A loaded module must know each connection's local address at accept."""
        return any(s.needs_local_addr(cfg) for s in self.load(cfg.modules)
                   if s.needs_local_addr is not None)

    def post_config(self, cfg: ServerConfig) -> list[ListenerBinder]:
        """Run the loaded modules' post_config (in the parent, once per generation)."""
        out = []
        for spec in self.load(cfg.modules):
            if spec.post_config is not None:
                got = spec.post_config(cfg)
                if got is not None:
                    out.append(got)
        return out

    def status_sections(self, cfg: ServerConfig, short: bool) -> str:
        """What the loaded modules add to /server-status, in registry order."""
        return "".join(s.status_section(cfg, short) for s in self.load(cfg.modules)
                       if s.status_section is not None)

    def needs_dns(self, cfg: ServerConfig) -> bool:
        """A loaded module may look host names up under this configuration."""
        return any(s.needs_dns(cfg) for s in self.load(cfg.modules) if s.needs_dns is not None)

    def type_map(self, cfg: ServerConfig) -> TypeMap:
        """The loaded module's file-name -> type service (mod_mime's TypesConfig map);
        without one every file is untyped, as httpd without mod_mime."""
        for spec in self.load(cfg.modules):
            if spec.type_map is not None:
                return spec.type_map(cfg)
        return NO_TYPES

    def full_table(self) -> dict[str, list[Directive]]:
        """Every directive of core and of every registered module (`fastcore -L`)."""
        table = core_table()
        for spec in self.load(self.modules):
            add_directives(table, spec.directives())
        return table

    def directive_names(self) -> list[str]:
        """Every directive fastcore knows, in Apache's spelling (for docs and tests)."""
        return sorted({ds[0].name for ds in self.full_table().values()})


REGISTRY = Registry(MODULES)
