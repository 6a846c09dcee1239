"""Core, MPM-common, mod_so and mod_unixd directives (Apache 2.4 semantics and defaults)."""
from __future__ import annotations

import os
import socket

from fastcore.config.engine import (
    Ctx,
    DirectiveArgs,
    DirectiveError,
    Engine,
)
from fastcore.config.errors import error_log_line
from fastcore.config.model import OPT_ALL, OPT_INCNOEXEC, OPTION_NAMES, ListenAddr
from fastcore.config.options import options  # noqa: F401 - core_table imports it from here
from fastcore.config.state import VhostValue
from fastcore.config.tree import Node
from fastcore.core.tokens import is_digits

CORE = "core_module"
MPMS = ("mpm_prefork_module", "mpm_worker_module", "mpm_event_module")
LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
              "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7", "trace8")
MUTEX_MECHS = ("default", "yes", "none", "no", "flock", "fcntl", "file", "sysvsem", "sem",
               "posixsem", "pthread")
# fastcore's own accept strategies (not locks): valid only for mpm-accept, in every MPM.
ACCEPT_ONLY_MECHS = ("reuseport", "epollexclusive")


def _nonneg(name: str, v: str) -> int:
    """Apache's limits: apr_strtoi64 style; a leading '-' is refused."""
    try:
        n = int(v, 10) if is_digits(v.strip().lstrip("+")) else _atoi(v)
    except ValueError:
        n = 0
    if n < 0:
        raise DirectiveError(f'{name} "{v}" must be a non-negative integer')
    return n


def _atoi(v: str) -> int:
    """C atoi(): leading digits, else 0 (Apache accepts `Timeout abc` as 0)."""
    v = v.strip()
    sign = -1 if v.startswith("-") else 1
    v = v.lstrip("+-")
    digits = ""
    for ch in v:
        if not is_digits(ch):
            break
        digits += ch
    return sign * int(digits) if digits else 0


def _vh(e: Engine, ctx: Ctx, name: str, value: VhostValue) -> None:
    e.state.set_vhost(ctx.vhost, name, value)


def server_root(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    path = os.path.abspath(a[0])
    if not os.path.isdir(path):
        raise DirectiveError("ServerRoot must be a valid directory")
    e.server_root = path
    e.state.server_root = path


def runtime_dir(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    path = e.resolve_path(a[0])
    if not os.path.isdir(path):
        raise DirectiveError("DefaultRuntimeDir must be a valid directory, absolute or "
                             "relative to ServerRoot")
    e.state.runtime_dir = path


def document_root(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    path = e.resolve_path(a[0])
    if len(path) > 1:
        path = path.rstrip("/")
    if not os.path.isdir(path) or not os.access(path, os.R_OK | os.X_OK):
        if e.check_document_root:
            raise DirectiveError(f"DocumentRoot '{path}' is not a directory, or is not "
                                 "readable")
        e.warnings.append(f"AH00112: Warning: DocumentRoot [{path}] does not exist")
    _vh(e, ctx, "document_root", path)


def server_name(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    name = a[0]
    if "://" in name:
        name = name.split("://", 1)[1]
    _vh(e, ctx, "server_name", name)


def server_alias(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if not ctx.in_vhost:
        raise DirectiveError("ServerAlias only used in <VirtualHost>")
    _vh(e, ctx, "server_aliases", ctx.vhost.server_aliases + tuple(a))


def listen(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if not 1 <= len(a) <= 2:
        raise DirectiveError("Listen requires 1 or 2 arguments.")
    word = a[0]
    proto = a[1].lower() if len(a) == 2 else ""  # alloc_listener: https on 443, else http
    host = ""
    if word.startswith("["):
        end = word.find("]")
        if end < 0 or not word[end + 1:].startswith(":"):
            raise DirectiveError("Port must be specified" if end == len(word) - 1 else
                                 "Invalid address or port")
        host, port = word[1:end], word[end + 2:]
    elif word.count(":") == 1:
        host, port = word.split(":")
    elif ":" in word:
        raise DirectiveError("Port must be specified")
    else:
        port = word
    word_host = host
    if not port:
        raise DirectiveError("Invalid address or port" if word.startswith("[") and
                             word.endswith(":") else "Port must be specified")
    if not is_digits(port):  # apr_parse_addr_port: all of a bare one is then a name
        raise DirectiveError("Invalid address or port" if word.startswith("[") else
                             "Port must be specified")
    p = int(port)
    if p < 1 or p > 65535:
        raise DirectiveError("Invalid address or port")
    if host in ("*", "0.0.0.0"):
        host, family = ("" if host == "*" else host), socket.AF_INET
    elif ":" in host:
        try:
            socket.inet_pton(socket.AF_INET6, host)
        except OSError:
            raise DirectiveError("Invalid address or port") from None
        family = socket.AF_INET6
    elif host:
        try:
            socket.inet_pton(socket.AF_INET, host)
            family = socket.AF_INET
        except OSError:
            if host.lower() != "localhost":
                raise DirectiveError("Invalid address or port") from None
            host, family = "127.0.0.1", socket.AF_INET
    else:
        family = socket.AF_INET
    # alloc_listener: the same address text and port twice is an error ("*" is no
    # address); different texts for one socket (localhost, 127.0.0.1) fail at bind time
    text = (None if word_host in ("", "*") else word_host, p)
    if text in e.listen_seen:
        raise DirectiveError("Cannot define multiple Listeners on the same IP:port")
    e.listen_seen.add(text)
    addr = ListenAddr(host, p, family, proto or ("https" if p == 443 else "http"))
    if host in ("", "0.0.0.0") and any(
            x.host in ("", "0.0.0.0") and x.port == p for x in e.state.listeners):
        return  # one wildcard socket serves both (Apache skips 0.0.0.0 after ::)
    e.state.listeners.append(addr)


def accept_filter(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """AcceptFilter PROTOCOL FILTER: Linux knows `none` (accept at once) and any other
    name (`data`, `httpready`, ...) as TCP_DEFER_ACCEPT (mpm/acceptfilter.py)."""
    e.state.accept_filters[a[0].lower()] = a[1]


def listen_backlog(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    b = _atoi(a[0])
    if b < 1:
        raise DirectiveError("ListenBacklog must be > 0")
    e.state.mpm.listen_backlog = b


def pid_file(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    e.state.pid_file = a[0]


def error_log(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    target = a[0] if a[0].startswith(("|", "syslog")) else e.resolve_path(a[0])
    if not target.startswith(("|", "syslog")):
        e.state.log_paths.append((target, "error", n.filename, n.line))
    if ctx.in_vhost:
        _vh(e, ctx, "error_log", target)
    else:
        e.state.error_log = target
        ctx.vhost.error_log = target




OVERRIDE_NAMES = {"authconfig": "AuthConfig", "fileinfo": "FileInfo", "indexes": "Indexes",
                  "limit": "Limit", "options": "Options"}


def allow_override(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if ctx.kinds and ctx.kinds[-1] not in ("directory",):
        e.warnings.append(f"AH00114: Useless use of AllowOverride in line {n.line} of "
                          f"{n.filename}.")
        return
    classes: set[str] = set()
    opts = OPT_ALL | OPTION_NAMES["multiviews"] | OPT_INCNOEXEC
    nonfatal: set[str] = set()
    for w in a:
        lw = w.lower()
        if lw == "all":
            classes |= set(OVERRIDE_NAMES.values())
        elif lw == "none":
            classes = set()
        elif lw.startswith("options="):
            classes.add("Options")
            opts = 0
            for o in w.split("=", 1)[1].split(","):
                if not o:
                    continue
                if o.lower() not in OPTION_NAMES:
                    raise DirectiveError(f"Illegal option {o}")
                opts |= OPTION_NAMES[o.lower()]
        elif lw.startswith("nonfatal="):
            val = lw.split("=", 1)[1]
            if val in ("override", "unknown", "all"):  # Apache ignores other values
                nonfatal.add(val)
        elif lw in OVERRIDE_NAMES:
            classes.add(OVERRIDE_NAMES[lw])
        else:
            raise DirectiveError(f"Illegal override option {w}")
    ctx.dirconf.allow_override = frozenset(classes)
    ctx.dirconf.allow_override_options = opts
    ctx.dirconf.allow_override_nonfatal = frozenset(nonfatal)


def allow_override_list(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if ctx.kinds and ctx.kinds[-1] not in ("directory",):
        e.warnings.append(f"AH00115: Useless use of AllowOverrideList at {n.filename}:{n.line}")
        return
    if any(w.lower() == "none" for w in a):
        if len(a) > 1:
            raise DirectiveError("'None' not allowed with other directives in "
                                 "AllowOverrideList")
        ctx.dirconf.allow_override_list = frozenset()
        return
    ctx.dirconf.allow_override_list = frozenset(w.lower() for w in a)


def access_file_name(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    _vh(e, ctx, "access_file_name", tuple(a))


def hostname_lookups(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0].lower()
    if v not in ("on", "off", "double"):
        raise DirectiveError('parameter must be "on", "double", or "off"')
    ctx.dirconf.hostname_lookups = v
    if v != "off":
        e.state.hostname_lookups_used = True


def _flag_dir(field_name: str):
    def h(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
        setattr(ctx.dirconf, field_name, a)
    return h


def _enable_word(field_name: str, directive: str):
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        v = a[0].lower()
        if v not in ("on", "off"):
            raise DirectiveError("parameter must be 'on' or 'off'")
        setattr(ctx.dirconf, field_name, v == "on")
    return h


def keep_alive_timeout(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """ap_timeout_parameter_parse: digits with an optional unit ms, s, mi or h."""
    import re

    m = re.fullmatch(r"(\d+)(ms|s|mi|h)?", a[0].strip().lower())
    if not m:
        raise DirectiveError("KeepAliveTimeout has wrong format")
    scale = {"ms": 0.001, "s": 1, "mi": 60, "h": 3600, None: 1}[m.group(2)]
    _vh(e, ctx, "keep_alive_timeout", int(m.group(1)) * scale)


def keep_alive(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    words = _words(a, "KeepAlive")  # RAW_ARGS: Apache looks at the first word only
    v = words[0].lower() if words else ""
    if v not in ("on", "off"):
        raise DirectiveError("KeepAlive must be On or Off")
    _vh(e, ctx, "keep_alive", v == "on")


def _duration(field_name: str):
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        w = a[0].lower()
        if w.endswith("ms") and is_digits(w[:-2]):
            val = int(w[:-2]) / 1000.0
        elif w.endswith("mi") and is_digits(w[:-2]):
            val = int(w[:-2]) * 60
        elif w.endswith(("s", "h")) and is_digits(w[:-1]):
            val = int(w[:-1]) * {"s": 1, "h": 3600}[w[-1]]
        else:
            val = float(_atoi(w))
        _vh(e, ctx, field_name, float(val))
    return h


def _int_vh(field_name: str, nonneg: str | None = None):
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        v = _nonneg(nonneg, a[0]) if nonneg else _atoi(a[0])
        _vh(e, ctx, field_name, v)
    return h


def limit_request_line(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    _vh(e, ctx, "limit_request_line", _nonneg("LimitRequestLine", a[0]))


def limit_internal_recursion(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """LimitInternalRecursion N [M] (core.c's set_recursion_limit): M defaults to N;
    below 4 only a warning."""
    limit = _atoi(a[0])
    if limit <= 0:
        raise DirectiveError("The recursion limit must be greater than zero.")
    if limit < 4 and not ctx.in_vhost:  # httpd logs a vhost's to no log at all
        e.warnings.append(error_log_line(
            "core", "warn", "AH00119: Limiting internal redirects to very low numbers may "
            "cause normal requests to fail."))
    _vh(e, ctx, "redirect_limit", limit)
    if len(a) > 1:
        limit = _atoi(a[1])
        if limit <= 0:
            raise DirectiveError("The recursion limit must be greater than zero.")
        if limit < 4 and not ctx.in_vhost:
            e.warnings.append(error_log_line(
                "core", "warn", "AH00120: Limiting the subrequest depth to a very low level "
                "may cause normal requests to fail."))
    _vh(e, ctx, "subreq_limit", limit)


def limit_request_fieldsize(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    _vh(e, ctx, "limit_request_field_size", _nonneg("LimitRequestFieldsize", a[0]))


def limit_request_fields(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    _vh(e, ctx, "limit_request_fields", _nonneg("LimitRequestFields", a[0]))


def limit_request_body(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0]
    if not is_digits(v):
        raise DirectiveError("LimitRequestBody argument is not parsable.")
    ctx.dirconf.limit_request_body = int(v)


def server_tokens(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0].lower()
    table = {"os": "os", "min": "min", "minimal": "min", "minor": "minor", "major": "major",
             "prod": "prod", "productonly": "prod", "full": "full"}
    if v not in table:
        raise DirectiveError("ServerTokens takes 1 argument: 'Prod(uctOnly)', 'Major', "
                             "'Minor', 'Min(imal)', 'OS', or 'Full'")
    e.state.server_tokens = table[v]


def server_signature(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0].lower()
    if v not in ("on", "off", "email"):
        raise DirectiveError("ServerSignature: use one of: off | on | email")
    ctx.dirconf.server_signature = v


def trace_enable(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0].lower()
    if v not in ("on", "off", "extended"):
        raise DirectiveError("TraceEnable must be one of 'on', 'off', or 'extended'")
    _vh(e, ctx, "trace_enable", v)


def protocols(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """Protocols: the names as written (httpd compares them case-sensitively, so `H2` is
    announced as `H2`); fastcore.core.protocols announces them, switching to none."""
    words = _need(a, "Protocols", "Controls which protocols are allowed")
    _vh(e, ctx, "protocols", tuple(words))


def allow_encoded_slashes(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0].lower()
    if v not in ("on", "off", "nodecode"):
        raise DirectiveError("AllowEncodedSlashes must be On, Off, or NoDecode")
    _vh(e, ctx, "allow_encoded_slashes", v)


def error_document(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    code = a[0]
    if not is_digits(code) or not 100 <= int(code) <= 599:
        raise DirectiveError(f"Unsupported HTTP response code {code}")
    status = int(code)
    msg = a[1]
    if status == 200 or status < 300 and status != 200 and False:
        pass
    if msg.lower() == "default":
        ctx.dirconf.error_documents[status] = ""
        return
    if status == 401 and msg.startswith(("http://", "https://")):
        e.warnings.append("AH00113: cannot use a full URL in a 401 ErrorDocument directive "
                          "--- ignoring!")
        return
    ctx.dirconf.error_documents[status] = msg


def extended_status(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
    e.state.extended_status = a


def mutex(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    spec = a[0]
    mech, _, mdir = spec.partition(":")
    mech = mech.lower()
    accept_only = mech in ACCEPT_ONLY_MECHS
    if mech not in MUTEX_MECHS and not accept_only:
        raise DirectiveError(f"Invalid Mutex argument {spec} (Mutex mechanisms are: "
                             "'none', 'default', 'flock:/path/to/file', "
                             "'fcntl:/path/to/file', 'sysvsem', 'posixsem', 'pthread')")
    names = [w.lower() for w in a[1:]] or ["default"]
    if mdir and not os.path.isdir(e.resolve_path(mdir)):
        raise DirectiveError(f"Invalid Mutex directory in argument {spec}")
    valid = {"default", "watchdog-callback"}
    if e.state.mpm.name in ("prefork", "worker") or accept_only:
        valid.add("mpm-accept")
    if accept_only and names != ["mpm-accept"]:
        raise DirectiveError(f"Mutex mechanism {mech} is an accept strategy: use it as "
                             f"'Mutex {mech} mpm-accept'")
    for name in names:
        if name not in valid:
            raise DirectiveError(f"Mutex type {name} is not valid")
    for name in names:
        e.state.mutexes[name] = spec
        if name in ("mpm-accept", "default"):
            if name == "mpm-accept" or "mpm-accept" not in e.state.mutexes:
                e.state.accept_mutex = {"yes": "default", "no": "none", "file": "fcntl",
                                        "sem": "sysvsem"}.get(mech, mech)
                e.state.mutex_dir = e.resolve_path(mdir) if mdir else e.state.mutex_dir


def define(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if ":" in a[0]:
        raise DirectiveError("Variable name must not contain ':'")
    e.defines[a[0]] = a[1] if len(a) > 1 else ""
    if len(a) == 1:
        e.state.defines.add(a[0])


def undefine(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if ":" in a[0]:
        raise DirectiveError("Variable name must not contain ':'")
    e.defines.pop(a[0], None)
    e.state.defines.discard(a[0])


def include(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    e.include(a[0], optional=False)


def include_optional(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    e.include(a[0], optional=True)


def force_type(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    ctx.dirconf.force_type = a[0].lower() if a[0].lower() != "none" else ""


def set_handler(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    ctx.dirconf.set_handler = a[0].lower() if a[0].lower() != "none" else ""


def set_output_filter(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """SetOutputFilter FILTER[;FILTER...]: the filters core_insert_filter adds to every
    answer of the scope (names without case; one a loaded module does not provide
    does nothing, as ap_add_output_filter logs and goes on)."""
    ctx.dirconf.output_filters = tuple(f.upper() for f in a[0].split(";") if f)


def default_type(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    if a[0].lower() != "none":
        e.warnings.append("AH00117: Ignoring deprecated use of DefaultType in line "
                          f"{n.line} of {n.filename}.")


def add_default_charset(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0]
    if v.lower() == "off":
        ctx.dirconf.add_default_charset = ""
    elif v.lower() == "on":
        ctx.dirconf.add_default_charset = "iso-8859-1"  # DEFAULT_ADD_DEFAULT_CHARSET_NAME
    else:
        ctx.dirconf.add_default_charset = v


def use_canonical_name(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    v = a[0].lower()
    if v not in ("on", "off", "dns"):
        raise DirectiveError("parameter must be 'on', 'off', or 'dns'")
    ctx.dirconf.use_canonical_name = v


def server_admin(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    _vh(e, ctx, "server_admin", a[0])


def ignore(e: Engine, ctx: Ctx, a: DirectiveArgs, n: Node) -> None:
    """Accepted for compatibility; fastcore has nothing to configure for it."""


def load_module(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    supported = e.registry.loadable()
    name = a[0]
    if name in e.static:
        raise DirectiveError(f"module {name} is built-in and can't be loaded")
    if name in e.loaded:
        e.warnings.append(f"AH01574: module {name} is already loaded, skipping")
        return
    if name not in supported:
        raise DirectiveError(f"Cannot load {a[1]} into server: fastcore does not implement "
                             f"{name} (supported: {', '.join(sorted(supported))})")
    if name in MPMS and any(m in MPMS for m in e.loaded):
        raise DirectiveError("AH00534: apache2: Configuration error: More than one MPM "
                             "loaded.")
    e.load_module(name)
    if name in MPMS:
        e.state.mpm.name = name.split("_")[1]


def user(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """mod_unixd: the name must exist, and serving as root is refused (as Apache does)."""
    import pwd

    name = a[0]
    try:
        uid = int(name[1:]) if name.startswith("#") else pwd.getpwnam(name).pw_uid
    except (KeyError, ValueError):
        raise DirectiveError(f"AH00543: fastcore: bad user name {name}") from None
    if uid == 0:
        raise DirectiveError("Error:\tfastcore, like Apache, does not serve pages while "
                             "running as root (User root).\n\tSet User to a non-root user.")
    e.state.user = name


def group(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    import grp

    name = a[0]
    try:
        if not name.startswith("#"):
            grp.getgrnam(name)
        else:
            int(name[1:])
    except (KeyError, ValueError):
        raise DirectiveError(f"AH00544: fastcore: bad group name {name}") from None
    e.state.group = name


def _words(a: DirectiveArgs, name: str) -> list[str]:
    from fastcore.config.lexer import split_words

    return split_words(str(a))


def _need(a: DirectiveArgs, name: str, usage: str) -> list[str]:
    words = list(a) if isinstance(a, list) else []
    if not words:
        raise DirectiveError(f"{name} requires at least one argument, {usage}")
    return words
