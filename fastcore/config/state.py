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
)

# VirtualHost fields a <VirtualHost> inherits from the main server when it does not set them.
_INHERITED = ("server_admin", "document_root", "error_log", "custom_logs", "keep_alive",
              "keep_alive_timeout", "max_keep_alive_requests", "timeout", "limit_request_line",
              "limit_request_fields", "limit_request_field_size", "trace_enable",
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

    def set_vhost(self, vh: VirtualHost, name: str, value: object) -> None:
        setattr(vh, name, value)
        self.explicit.setdefault(id(vh), set()).add(name)

    def add_section(self, vh: VirtualHost, sec: Section) -> None:
        self.sections.setdefault(id(vh), []).append(sec)

    def finish(self, modules: tuple[str, ...]) -> ServerConfig:
        """Inherit main-server values into vhosts and freeze the result."""
        # at call time: the modules' request code (imported with the registry) uses this
        # module's helpers, so a top-level import would be a cycle
        from fastcore.modules import REGISTRY

        main = self.main
        main_sections = tuple(self.sections.get(id(main), ()))
        main.sections = main_sections
        if not self.error_log.startswith(("|", "syslog")):
            self.error_log = _abs(self.server_root, self.error_log)
        if not main.error_log:
            main.error_log = self.error_log
        vhosts = []
        for vh in self.vhosts:
            explicit = self.explicit.get(id(vh), set())
            for name in _INHERITED:
                if name not in explicit:
                    setattr(vh, name, getattr(main, name))
            vh.sections = main_sections + tuple(self.sections.get(id(vh), ()))
            # mod_alias's server merge: the vhost's own Alias/Redirect lines first, then
            # the main server's, which every <VirtualHost> inherits.
            vh.redirects = tuple(vh.redirects) + tuple(
                r for r in main.redirects if r not in vh.redirects)
            vh.aliases = tuple(vh.aliases) + tuple(a for a in main.aliases if a not in vh.aliases)
            vh.dir_defaults = merge_dir(main.dir_defaults, vh.dir_defaults)
            for spec in REGISTRY:
                if spec.merge_server is not None:
                    merged = spec.merge_server(main.module_config.get(spec.name),
                                               vh.module_config.get(spec.name))
                    if merged is not None:
                        vh.module_config[spec.name] = merged
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


_DICT_FIELDS = ("add_type", "add_handler", "add_charset", "add_language", "add_encoding",
                "error_documents", "autoindex")


def merge_dir(base: DirConfig, new: DirConfig) -> DirConfig:
    """Apache's per-dir merge: `new` (the more specific scope) over `base`."""
    out = replace(base)
    for f in fields(DirConfig):
        name = f.name
        nv = getattr(new, name)
        if name == "autoindex":
            out.autoindex = merge_autoindex(base.autoindex, nv)
        elif name in _DICT_FIELDS:
            merged = dict(getattr(base, name))
            merged.update(nv)
            setattr(out, name, merged)
        elif name == "remove_type":
            setattr(out, name, base.remove_type | nv)
        elif name in ("redirects", "files_sections"):
            setattr(out, name, getattr(base, name) + nv)
        elif name in ("options", "options_add", "options_remove", "file_etag", "etag_bits",
                      "etag_add", "etag_remove", "log_modules"):
            continue
        elif name == "authz":
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
    out.authz = merge_authz(base, new)
    # A type removed here drops an inherited AddType (RemoveType).
    if new.remove_type:
        out.add_type = {k: v for k, v in out.add_type.items()
                        if k not in new.remove_type or k in new.add_type}
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


# mod_autoindex lists a deeper scope adds to (its own entries first, they match first).
_AI_LISTS = ("index_ignore", "add_description", "add_icon", "add_icon_by_type",
             "add_icon_by_encoding", "add_alt", "add_alt_by_type", "add_alt_by_encoding",
             "icon_items", "alt_items")


def _words(lines: object) -> list[str]:
    return [w for line in (lines or ()) for w in ((line,) if isinstance(line, str) else line)]


# IndexOptions keywords without a flag of their own (values, sizes): a plain one still
# resets the increments/decrements collected so far in its scope, as add_opts does.
_AI_VALUE_WORDS = ("namewidth", "descriptionwidth", "iconwidth", "iconheight", "charset",
                   "type")

AiOpts = tuple[frozenset, frozenset, frozenset]  # (opts, incremented, decremented)


def ai_scope_options(lines: object) -> AiOpts:
    """One scope's IndexOptions as mod_autoindex's add_opts keeps them: a plain keyword
    sets its flag and drops the +/- collected so far, +X/-X only increment/decrement,
    None clears everything ("none" stands for NO_OPTIONS)."""
    opts: set[str] = set()
    inc: set[str] = set()
    dec: set[str] = set()
    for w in _words(lines):
        action = w[0] if w[:1] in ("+", "-") else ""
        key = w.lstrip("+-").split("=", 1)[0].lower()
        flag = None if ("=" in w or key in _AI_VALUE_WORDS) else key
        if key == "none":
            opts, inc, dec = {"none"}, set(), set()
            continue
        if action == "":
            if flag:
                opts.add(flag)
            inc, dec = set(), set()
        elif action == "+":
            if flag:
                inc.add(flag)
                dec.discard(flag)
        elif flag:
            dec.add(flag)
            inc.discard(flag)
    return frozenset(opts), frozenset(inc), frozenset(dec)


def ai_merge_options(base: AiOpts, add: AiOpts) -> AiOpts:
    """merge_autoindex_configs for the options: an explicit None wins; a scope with
    only +/- builds on the inherited flags (and passes its +/- further down); any plain
    keyword replaces what is inherited (the +/- are then not passed on)."""
    b_opts, b_inc, b_dec = base
    a_opts, a_inc, a_dec = add
    if a_opts == frozenset(("none",)):
        return a_opts, frozenset(), frozenset()
    if not a_opts:
        inc = (b_inc | a_inc) - a_dec
        dec = b_dec | a_dec
        opts = b_opts - {"none"}
    else:
        inc = dec = frozenset()
        opts = a_opts
    return frozenset((opts | inc) - dec), frozenset(inc), frozenset(dec)


def ai_effective_options(ai: dict) -> frozenset:
    """The IndexOptions flags in force for a merged autoindex dict."""
    t = ai.get("_opts")
    if t is None:
        t = ai_merge_options((frozenset(), frozenset(), frozenset()),
                             ai_scope_options(ai.get("index_options", ())))
    return frozenset(t[0]) - {"none"}


def _ai_triple(d: dict) -> AiOpts:
    t = d.get("_opts")
    return t if t is not None else ai_scope_options(d.get("index_options", ()))


def merge_autoindex(base: dict, new: dict) -> dict:
    """mod_autoindex's merge: single values from the deeper scope win; icon, alt,
    description and IndexIgnore lists accumulate (IndexIgnoreReset On drops the
    inherited ignores); the IndexOptions flags merge as merge_autoindex_configs does
    them, on Apache's grouping: the sections (and .htaccess files) of a request are
    merged among themselves first ("_chain") and the result onto the server's
    defaults ("_server") - IndexOptions merging is not associative, so a section with
    any autoindex directive turns a deeper section's +X into a plain setting.  The
    option words are kept for the key=value settings (widths, Charset=, Type=)."""
    if not new:
        return dict(base)
    out = dict(base)
    out.update(new)
    out.pop("_sect", None)
    for key in _AI_LISTS:
        if key in new and key in base:
            out[key] = tuple(new[key]) + tuple(base[key])
    if new.get("index_ignore_reset") is True:
        out["index_ignore"] = tuple(new.get("index_ignore", ()))
    if "index_options" in new and "index_options" in base:
        out["index_options"] = tuple(base["index_options"]) + tuple(new["index_options"])
    t_new = _ai_triple(new)
    if new.get("_sect"):
        if "_chain" in base:
            chain, server = ai_merge_options(base["_chain"], t_new), base["_server"]
        else:
            chain, server = t_new, _ai_triple(base)
        out["_chain"], out["_server"] = chain, server
        out["_opts"] = ai_merge_options(server, chain)
    else:
        out.pop("_chain", None)
        out.pop("_server", None)
        out["_opts"] = ai_merge_options(_ai_triple(base), t_new)
    return out


def merge_authz(base: DirConfig, new: DirConfig):
    """mod_authz_core: a section's Require lines replace the parent's unless AuthMerging
    And/Or combines them."""
    from fastcore.config.model import RequireGroup

    if new.authz is None:
        return base.authz
    mode = new.authz_merging or "off"
    if mode == "off" or base.authz is None:
        return new.authz
    return RequireGroup("all" if mode == "and" else "any", (base.authz, new.authz))
