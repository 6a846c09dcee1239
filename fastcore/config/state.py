"""The mutable builder the directive handlers fill; `finish()` yields a ServerConfig."""
from __future__ import annotations

import os
from dataclasses import fields, replace

from fastcore.config.model import (
    ETAG_NONE,
    ETAG_UNSET,
    DirConfig,
    ListenAddr,
    MpmConfig,
    Section,
    ServerConfig,
    VirtualHost,
    effective_etag,
    merge_records,
)
from fastcore.core.tokens import is_digits

# What a core directive stores in a VirtualHost field (ServerName's str, Timeout's float,
# KeepAlive's bool, LimitRequestLine's int, ServerAlias's and Protocols' tuples).
VhostValue = str | int | float | bool | tuple[str, ...] | None

# VirtualHost fields a <VirtualHost> inherits from the main server when it does not set them.
_INHERITED = ("server_admin", "document_root", "error_log", "keep_alive",
              "keep_alive_timeout", "max_keep_alive_requests", "timeout", "limit_request_line",
              "redirect_limit", "subreq_limit",
              "limit_request_fields", "limit_request_field_size", "trace_enable", "protocols",
              "allow_encoded_slashes", "access_file_name", "server_name",
              "strict_host_check", "merge_slashes", "http_strict", "http_registered_methods",
              "http_allow09")


class State:
    """Server-wide values plus the main server and the vhosts being built."""

    def __init__(self, config_file: str, server_root: str):
        self.config_file = config_file
        self.server_root = server_root
        self.runtime_dir: str | None = None
        self.pid_file = "logs/httpd.pid"
        self.listeners: list[ListenAddr] = []
        self.main = VirtualHost(addrs=(), server_name="", filename=config_file, line=0)
        self.vhosts: list[VirtualHost] = []
        self.sections: dict[int, list[Section]] = {id(self.main): []}
        self.explicit: dict[int, set[str]] = {id(self.main): set()}
        self.mpm = MpmConfig()
        self.mpm_set: set[str] = set()
        self.accept_mutex = "default"
        self.accept_filters: dict[str, str] = {}  # AcceptFilter protocol -> filter
        self.mutex_dir: str | None = None
        self.mutexes: dict[str, str] = {}  # mutex name -> "mechanism[:dir]" as given
        self.user: str | None = None
        self.group: str | None = None
        self.error_log = "logs/error_log"
        self.log_level = "warn"
        self.log_formats: dict[str, str] = {
            "CLF": '%h %l %u %t "%r" %>s %b'}  # mod_log_config's built-in default format
        self.buffered_logs = False
        self.extended_status: bool | None = None
        self.server_tokens = "full"
        self.hostname_lookups_used = False
        self.types_config = "/etc/mime.types"
        self.defines: set[str] = set()
        self.log_paths: list[tuple[str, str, str, int]] = []  # path, kind, file, line

    def set_vhost(self, vh: VirtualHost, name: str, value: VhostValue) -> None:
        setattr(vh, name, value)
        self.explicit.setdefault(id(vh), set()).add(name)

    def add_section(self, vh: VirtualHost, sec: Section) -> None:
        self.sections.setdefault(id(vh), []).append(sec)

    def finish(self, modules: tuple[str, ...]) -> ServerConfig:
        """Inherit main-server values into vhosts and freeze the result."""
        # at call time: the modules' request code (imported with the registry) uses this
        # module's helpers, so a top-level import would be a cycle

        main = self.main
        main_sections = tuple(self.sections.get(id(main), ()))
        main.sections = main_sections
        if not self.error_log.startswith(("|", "syslog")):
            self.error_log = _abs(self.server_root, self.error_log)
        if not main.error_log:
            main.error_log = self.error_log
        main.server_port = _name_port(main.server_name)
        vhosts = []
        for vh in self.vhosts:
            explicit = self.explicit.get(id(vh), set())
            for name in _INHERITED:
                if name not in explicit:
                    setattr(vh, name, getattr(main, name))
            if "server_name" in explicit:
                vh.server_port = _name_port(vh.server_name)
            else:  # ap_parse_vhost_addrs: the first address's port overrides the main's
                vh.server_port = (vh.addrs[0][1] if vh.addrs else 0) or main.server_port
            vh.sections = main_sections + tuple(self.sections.get(id(vh), ()))
            vh.dir_defaults = merge_dir(main.dir_defaults, vh.dir_defaults)
            # each module's merge_server_config: the vhost's record over the main server's
            vh.module_config = merge_records(main.module_config, vh.module_config)
            vhosts.append(vh)
        runtime = self.runtime_dir or self.server_root
        extended = self.extended_status
        if extended is None:
            extended = "status_module" in modules  # mod_status turns it on (2.3.6+)
        return ServerConfig(
            config_file=self.config_file,
            server_root=self.server_root,
            runtime_dir=runtime,
            pid_file=_abs(self.server_root, self.pid_file),
            listeners=tuple(self.listeners),
            main=main,
            vhosts=tuple(vhosts),
            modules=modules,
            mpm=self.mpm,
            accept_mutex=self.accept_mutex,
            accept_filters=dict(self.accept_filters),
            mutex_dir=self.mutex_dir,
            user=self.user,
            group=self.group,
            error_log=self.error_log,
            log_level=self.log_level,
            log_formats=dict(self.log_formats),
            buffered_logs=self.buffered_logs,
            extended_status=extended,
            server_tokens=self.server_tokens,
            hostname_lookups_used=self.hostname_lookups_used,
            types_config=self.types_config,
            defines=frozenset(self.defines),
        )


def _abs(root: str, path: str) -> str:
    return path if os.path.isabs(path) or path.startswith("|") else os.path.join(root, path)


def merge_dir(base: DirConfig, new: DirConfig) -> DirConfig:
    """Apache's per-dir merge: `new` (the more specific scope) over `base`; core's fields
    here, each module's record by that record's merge (config.model.merge_records)."""
    out = replace(base)
    for f in fields(DirConfig):
        name = f.name
        nv = getattr(new, name)
        if name == "error_documents":
            out.error_documents = {**base.error_documents, **nv}
        elif name == "files_sections":
            out.files_sections = base.files_sections + nv
        elif name == "if_sections":
            out.if_sections = base.if_sections + nv if nv else base.if_sections
        elif name in ("options", "options_add", "options_remove", "file_etag", "etag_bits",
                      "etag_add", "etag_remove", "log_modules", "modules"):
            continue
        elif nv is not None:
            setattr(out, name, nv)
    # Options: an explicit (plain) setting replaces, +/- modifiers accumulate.
    if new.options is None:
        add = (base.options_add & ~new.options_remove) | new.options_add
        remove = (base.options_remove & ~new.options_add) | new.options_remove
        out.options_add, out.options_remove = add, remove
        if base.options is not None:
            out.options = (base.options & ~remove) | add
        elif add or remove:
            out.options = None
    else:
        out.options, out.options_add, out.options_remove = (
            new.options, new.options_add, new.options_remove)
    _merge_etag(out, base, new)
    # ap_merge_log_config: a scope that sets a plain level inherits no module levels
    if new.log_level is None:
        out.log_modules = {**base.log_modules, **new.log_modules}
    else:
        out.log_modules = dict(new.log_modules)
    out.modules = merge_records(base.modules, new.modules)
    return out


def _merge_etag(out: DirConfig, base: DirConfig, new: DirConfig) -> None:
    """FileETag as merge_core_dir_configs merges it: a scope with plain keywords replaces
    the inherited setting, one with only +/- folds them into what it inherits (the
    inherited bits themselves: +INode under an unset FileETag gives INode alone)."""
    if new.etag_bits == ETAG_UNSET:
        add = (base.etag_add & ~new.etag_remove) | new.etag_add
        remove = (base.etag_remove & ~new.etag_add) | new.etag_remove
        bits = (base.etag_bits & ~remove) | add
    else:
        bits, add, remove = new.etag_bits, new.etag_add, new.etag_remove
    if bits != ETAG_NONE:
        bits &= ~ETAG_NONE
    out.etag_bits, out.etag_add, out.etag_remove = bits, add, remove
    out.file_etag = effective_etag(bits, add, remove)


def _name_port(name: str) -> int:
    """The port of ServerName host[:port] (IPv6 in brackets), 0 without one."""
    host, colon, port = name.rpartition(":")
    return int(port) if colon and is_digits(port) and not host.endswith(":") else 0
