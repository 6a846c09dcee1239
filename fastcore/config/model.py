"""The compiled configuration: what the parser produces and the server reads.

This module is the contract between fastcore.config (which fills these objects from
httpd.conf syntax, merges them and caches per-directory results) and fastcore.core, fastcore.modules and
fastcore.mpm (which only read them). Objects are built once at startup or graceful
restart; nothing here is parsed per request.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Self, TypeVar

from fastcore.config.regex import Regex

if TYPE_CHECKING:
    from fastcore.config.engine import Directive
    from fastcore.core.expr import Condition

# Options flags (Apache's OPT_* bits); `Options All` is everything but MultiViews.
OPT_NONE = 0
OPT_INDEXES = 1
OPT_INCLUDES = 2
OPT_SYM_LINKS = 4  # FollowSymLinks
OPT_EXECCGI = 8
OPT_INCNOEXEC = 32
OPT_SYM_OWNER = 64  # SymLinksIfOwnerMatch
OPT_MULTI = 128  # MultiViews
OPT_ALL = OPT_INDEXES | OPT_INCLUDES | OPT_SYM_LINKS | OPT_EXECCGI | OPT_SYM_OWNER

OPTION_NAMES = {
    "indexes": OPT_INDEXES,
    "includes": OPT_INCLUDES,
    "includesnoexec": OPT_INCNOEXEC,
    "followsymlinks": OPT_SYM_LINKS,
    "symlinksifownermatch": OPT_SYM_OWNER,
    "execcgi": OPT_EXECCGI,
    "multiviews": OPT_MULTI,
    "all": OPT_ALL,
    "none": OPT_NONE,
}

# FileETag components as core.c keeps them (etag_components_t); 0 is "unset".
ETAG_UNSET = 0
ETAG_NONE = 1
ETAG_MTIME = 2
ETAG_INODE = 4
ETAG_SIZE = 8
ETAG_DIGEST = 16
ETAG_ALL = ETAG_MTIME | ETAG_INODE | ETAG_SIZE
ETAG_BACKWARD = ETAG_MTIME | ETAG_SIZE  # what an unset FileETag means
ETAG_NAMES = {ETAG_INODE: "inode", ETAG_SIZE: "size", ETAG_MTIME: "mtime", ETAG_DIGEST: "digest"}


def effective_etag(bits: int, add: int, remove: int) -> frozenset[str]:
    """The components a response's ETag is made of (ap_make_etag): the +/- of the scope
    applied to its bits; None wins; nothing at all means MTime Size."""
    eff = (bits & ~remove) | add
    if eff & ETAG_NONE:
        return frozenset()
    if eff == ETAG_UNSET:
        eff = ETAG_BACKWARD
    return frozenset(name for bit, name in ETAG_NAMES.items() if eff & bit)


# AllowOverride classes.
OVERRIDE_CLASSES = ("AuthConfig", "FileInfo", "Indexes", "Limit", "Options")


class ModuleRecord(Protocol):
    """A module's per-dir or per-server config record (httpd's create_*_config result):
    the record type called without arguments creates the empty record, `merge` is the
    module's merge_*_config - `self` is the enclosing scope's record, `add` the more
    specific one's, and the result is a new record (neither is changed)."""

    def merge(self, add: Self) -> Self: ...


R = TypeVar("R", bound=ModuleRecord)
_EMPTY: dict[type, ModuleRecord] = {}


def module_record(records: dict[str, ModuleRecord], name: str, kind: type[R]) -> R:
    """ap_get_module_config: the record of module `name` (an empty one where the scope
    configured nothing for it).  The empty record is shared: readers do not change it."""
    rec = records.get(name)
    if isinstance(rec, kind):
        return rec
    empty = _EMPTY.get(kind)
    if empty is None:
        empty = _EMPTY[kind] = kind()
    return empty  # type: ignore[return-value]


def scope_record(records: dict[str, ModuleRecord], name: str, kind: type[R]) -> R:
    """The record of module `name` in a scope being configured (a directive handler's
    target), created on first use."""
    rec = records.get(name)
    if not isinstance(rec, kind):
        rec = records[name] = kind()
    return rec


def merge_records(base: dict[str, ModuleRecord], add: dict[str, ModuleRecord]
                  ) -> dict[str, ModuleRecord]:
    """ap_merge_per_dir_configs over the modules' records: each module's merge for the
    records the specific scope has (over an empty one where the base has none)."""
    if not add:
        return base
    out = dict(base)
    for name, rec in add.items():
        b = out.get(name)
        out[name] = (b if b is not None else type(rec)()).merge(rec)
    return out


@dataclass
class DirConfig:
    """Core's per-directory settings (core.c's core_dir_config) plus the modules' records.

    A value of None means "not set here" before merging; after merging with the server
    defaults every field has its effective value.  What a module owns lives in its record
    in `modules` (fastcore.modules.mod_NAME), never here.
    """

    options: int | None = None  # OPT_* bitmask
    allow_override: frozenset[str] | None = None  # subset of OVERRIDE_CLASSES
    allow_override_options: int | None = None  # AllowOverride Options=... (OPT_* mask)
    allow_override_list: frozenset[str] | None = None  # lower-case directive names
    force_type: str | None = None
    set_handler: str | None = None
    # SetOutputFilter: the filter names (upper-case) core's insert_filter adds
    output_filters: tuple[str, ...] | None = None
    default_type: str | None = None
    hostname_lookups: str | None = None  # "off" | "on" | "double"
    enable_sendfile: bool | None = None
    enable_mmap: bool | None = None
    file_etag: frozenset[str] | None = None  # effective: subset of inode mtime size digest
    etag_bits: int = ETAG_UNSET  # FileETag as core.c merges it (ETAG_* bits)
    etag_add: int = ETAG_UNSET  # its +X
    etag_remove: int = ETAG_UNSET  # its -X
    error_documents: dict[int, str] = field(default_factory=dict)
    limit_request_body: int | None = None
    server_signature: str | None = None  # "off" | "on" | "email"
    max_ranges: int | None = None  # MaxRanges: N, 0 none, -1 default, -2 unlimited
    max_range_overlaps: int | None = None  # MaxRangeOverlaps (same encoding)
    max_range_reversals: int | None = None  # MaxRangeReversals (same encoding)
    accept_path_info: str | None = None  # AcceptPathInfo on|off|default
    # Added by the config layer (issue 3):
    options_add: int = 0  # `Options +X` bits not yet applied (merge semantics)
    options_remove: int = 0  # `Options -X` bits
    files_sections: tuple[Section, ...] = ()  # <Files*> nested in <Directory>/.htaccess
    # <If>/<ElseIf>/<Else> of this scope, file order (core.c's sec_if; merged by
    # concatenation, evaluated per request after the walk: core.mapping.Mapper.if_walk)
    if_sections: tuple[IfSection, ...] = ()
    allow_override_nonfatal: frozenset[str] = frozenset()  # AllowOverride Nonfatal=...
    add_default_charset: str | None = None  # AddDefaultCharset (None: unset, "": Off)
    use_canonical_name: str | None = None  # UseCanonicalName off|on|dns
    log_level: str | None = None  # LogLevel of this scope (per-dir error-log threshold)
    log_modules: dict[str, str] = field(default_factory=dict)  # LogLevel module:level
    # the modules' own per-dir records, by Apache module name (httpd's per-dir config
    # vector); read through each module's accessor, merged by each record's merge
    modules: dict[str, ModuleRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """A per-dir section. kind: directory|directorymatch|files|filesmatch|location|
    locationmatch. `pattern` is the argument; `regex` is compiled for *Match and `~` forms
    (and for wildcard paths). Sections keep file order (Apache merges in that order)."""

    kind: str
    pattern: str
    regex: re.Pattern[str] | Regex | None  # Regex (PCRE2) for user regexes
    config: DirConfig
    filename: str
    line: int


IF, ELSEIF, ELSE = "if", "elseif", "else"


@dataclass(frozen=True, eq=False)
class IfSection:
    """One <If>, <ElseIf> or <Else> (core.c's condition_ifelse): its condition (None
    for <Else>), the per-dir config of its body and where it was written (the error-log
    line of a failed evaluation names it).  Compared by identity, as Apache's walk cache
    compares the section pointers."""

    kind: str  # IF | ELSEIF | ELSE
    condition: Condition | None
    config: DirConfig
    filename: str
    line: int


@dataclass(frozen=True)
class ListenAddr:
    host: str  # "" for wildcard; IPv6 without brackets
    port: int
    family: int  # socket.AF_INET or socket.AF_INET6
    proto: str = "http"


@dataclass
class VirtualHost:
    """One <VirtualHost> (or the main server, with addrs == ())."""

    addrs: tuple[tuple[str, int], ...]  # ("*", 80), ("127.0.0.1", 8080) ...
    server_name: str
    # httpd's s->port: ServerName's port; a vhost without ServerName takes its first
    # <VirtualHost> address's (else the main server's); 0: none (self-references use 80)
    server_port: int = 0
    server_aliases: tuple[str, ...] = ()
    server_admin: str = "[no address given]"
    document_root: str = "/var/www/html"
    error_log: str | None = None
    sections: tuple[Section, ...] = ()  # file order, main server's first for vhosts
    dir_defaults: DirConfig = field(default_factory=DirConfig)  # server/vhost-level per-dir
    keep_alive: bool = True
    keep_alive_timeout: float = 5.0
    max_keep_alive_requests: int = 100
    timeout: float = 60.0
    limit_request_line: int = 8190
    # LimitInternalRecursion: internal redirects, then sub-request nesting levels
    redirect_limit: int = 10
    subreq_limit: int = 10
    limit_request_fields: int = 100
    limit_request_field_size: int = 8190
    trace_enable: str = "on"  # on | off | extended
    # Protocols as written; only http/1.1 is served (core.protocols announces the others)
    protocols: tuple[str, ...] = ("http/1.1",)
    allow_encoded_slashes: str = "off"  # off | on | nodecode
    strict_host_check: bool = False  # StrictHostCheck (the address-default vhost's counts)
    merge_slashes: bool = True  # MergeSlashes
    http_strict: bool = True  # HttpProtocolOptions Strict | Unsafe
    http_registered_methods: bool = False  # RegisteredMethods | LenientMethods
    http_allow09: bool = True  # Allow0.9 | Require1.0
    access_file_name: tuple[str, ...] = (".htaccess",)
    # per-server records of the modules in fastcore.modules, by Apache module name
    # (a <VirtualHost>'s is merged over the main server's by the record's merge)
    module_config: dict[str, ModuleRecord] = field(default_factory=dict)
    filename: str = ""
    line: int = 0


@dataclass
class MpmConfig:
    name: str = "event"  # prefork | worker | event
    start_servers: int | None = None  # None: the MPM's default
    min_spare_servers: int = 5
    max_spare_servers: int = 10
    min_spare_threads: int | None = None
    max_spare_threads: int | None = None
    threads_per_child: int = 25
    thread_limit: int = 64
    server_limit: int | None = None
    max_request_workers: int | None = None
    max_connections_per_child: int = 0
    async_request_worker_factor: float = 2.0
    graceful_shutdown_timeout: float = 0.0
    listen_backlog: int = 511
    send_buffer_size: int = 0  # SendBufferSize (0: the kernel's default)
    receive_buffer_size: int = 0  # ReceiveBufferSize
    thread_stack_size: int = 0  # ThreadStackSize (0: fastcore's THREAD_STACK)


@dataclass
class ServerConfig:
    """Everything the parent and the children need, compiled once."""

    config_file: str
    server_root: str
    runtime_dir: str
    pid_file: str
    listeners: tuple[ListenAddr, ...]
    main: VirtualHost  # the main server (defaults for vhosts)
    vhosts: tuple[VirtualHost, ...] = ()
    modules: tuple[str, ...] = ()  # Apache names: "mime_module", ...
    mpm: MpmConfig = field(default_factory=MpmConfig)
    accept_mutex: str = "default"  # Mutex mpm-accept <mechanism>
    accept_filters: dict[str, str] = field(default_factory=dict)  # AcceptFilter proto -> f
    mutex_dir: str | None = None  # Mutex mechanism:dir
    user: str | None = None
    group: str | None = None
    error_log: str = "logs/error_log"
    log_level: str = "warn"
    log_formats: dict[str, str] = field(default_factory=dict)  # nickname -> format
    buffered_logs: bool = False
    extended_status: bool = False
    server_tokens: str = "full"  # prod|major|minor|min|os|full
    hostname_lookups_used: bool = False  # any scope has HostnameLookups On/Double
    types_config: str = "/etc/mime.types"
    defines: frozenset[str] = frozenset()
    # Added by the config layer (issue 3):
    shared_modules: frozenset[str] = frozenset()  # loaded with LoadModule (-M "(shared)")
    mutexes: dict[str, str] = field(default_factory=dict)  # Mutex name -> "mech[:dir]"
    warnings: tuple[str, ...] = ()  # startup warnings (undefined ${VAR}, useless directives)
    use_canonical_name: str = "off"  # UseCanonicalName
    tree: tuple = ()  # the directive tree as read (config.tree.Node), for `fastcore advise`
    # core's and the loaded modules' directives, by lower-case name (for .htaccess files)
    directives: dict[str, list[Directive]] = field(default_factory=dict)


def reads_htaccess(dc: DirConfig) -> bool:
    """Whether the directory walk opens access files for a merged DirConfig.

    Apache opens them unless `AllowOverride None` (without AllowOverrideList) is in
    effect.  An AllowOverride that was never set anywhere (None here) still opens them,
    with no override class allowed: any directive in such a file is "not allowed here"
    (500), as real Apache 2.4 does, whatever its documentation says about the default."""
    return dc.allow_override is None or bool(dc.allow_override) or bool(dc.allow_override_list)
