"""Run a whole configuration: -C lines, the file, -c lines, then the post-parse checks
Apache makes (exactly one MPM) and the final merge into the model."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping

from fastcore.config.engine import SERVER_OVERRIDE, Ctx, Engine, ModuleRegistry
from fastcore.config.errors import ConfigError
from fastcore.config.lexer import logical_lines, read_lines
from fastcore.config.model import (
    OPT_ALL,
    OPT_INCNOEXEC,
    OPT_MULTI,
    OPT_SYM_LINKS,
    DirConfig,
    ServerConfig,
)
from fastcore.config.modules import MPMS, STATIC, core_table
from fastcore.config.readtime import install
from fastcore.config.state import State, merge_dir


def builtin_dir_defaults() -> DirConfig:
    """Apache 2.4's per-directory defaults (what applies when nothing is configured)."""
    return DirConfig(
        options=OPT_SYM_LINKS,  # 2.4: FollowSymLinks
        # AllowOverride stays unset: Apache 2.4 then still reads .htaccess files (and
        # refuses every directive in them); see model.reads_htaccess.
        allow_override_options=OPT_ALL | OPT_MULTI | OPT_INCNOEXEC,
        allow_override_list=frozenset(),
        hostname_lookups="off",
        enable_sendfile=False,  # 2.4: EnableSendfile Off
        enable_mmap=True,
        file_etag=frozenset({"mtime", "size"}),
        limit_request_body=1073741824,  # 2.4.54+: 1 GiB
        server_signature="off",
        add_default_charset="",
        use_canonical_name="off",
    )


def parse(path: str, **kw) -> ServerConfig:
    """Include nesting (Apache allows 128 levels) and deep sections recurse: give the
    parse room, and turn a runaway nesting into a config error, not a traceback."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 6000))
    try:
        return _parse(path, **kw)
    except RecursionError:
        raise ConfigError(f"{path}: configuration sections or Include files nested too "
                          "deeply") from None
    finally:
        sys.setrecursionlimit(old)


def _parse(path: str, *, server_root: str | None, defines: Iterable[str],
           pre: Iterable[str], post: Iterable[str], variables: Mapping[str, str],
           registry: ModuleRegistry, config_name: str | None = None,
           check_document_root: bool = True) -> ServerConfig:
    if server_root is None:
        server_root = os.path.dirname(os.path.abspath(path))
    server_root = os.path.abspath(server_root)
    if not os.path.isabs(path):
        path = os.path.abspath(path)
    define_map: dict[str, str] = dict(variables)
    for d in defines:
        define_map[d] = ""
    state = State(path, server_root)
    state.defines = {d for d in defines}
    engine = Engine(core_table(), state, server_root, define_map, STATIC, registry)
    engine.state = state
    install(engine)
    engine.check_document_root = check_document_root
    try:
        ctx = Ctx(vhost=state.main, dirconf=state.main.dir_defaults, override=SERVER_OVERRIDE)
        pre_nodes = _read_cli_lines(engine, "-C", pre)
        try:
            file_lines = read_lines(path)
        except OSError as exc:
            raise ConfigError(f"Could not open configuration file {path}: "
                              f"{exc.strerror or exc}") from None
        nodes = engine.read_lines(file_lines)
        post_nodes = _read_cli_lines(engine, "-c", post)
        mpms = [m for m in engine.loaded if m in MPMS]
        if not mpms:
            raise ConfigError("AH00534: fastcore: Configuration error: No MPM loaded.")
        engine.walk(pre_nodes + nodes + post_nodes, ctx)
        _check_log_dirs(state)
        state.main.dir_defaults = merge_dir(builtin_dir_defaults(), state.main.dir_defaults)
        if not state.main.server_name:
            state.main.server_name, fqdn_warning = _default_server_name()
            if fqdn_warning:
                engine.warnings.append(fqdn_warning)
    except ConfigError as exc:  # httpd has printed its warnings by then: show them too
        exc.warnings = tuple(engine.warnings)
        raise
    cfg = state.finish(tuple(engine.loaded))
    cfg.shared_modules = frozenset(engine.shared)
    cfg.directives = engine.table  # what a .htaccess of this configuration may use
    cfg.mutexes = dict(state.mutexes)
    cfg.warnings = tuple(engine.warnings)
    cfg.tree = tuple(pre_nodes + nodes + post_nodes)
    if config_name:
        cfg.config_file = config_name
    return cfg


def _check_log_dirs(state: State) -> None:
    """Apache's post-config check (AH02291/AH02297): every log's folder must exist."""
    paths = list(state.log_paths)
    if not any(kind == "error" for _p, kind, _f, _l in paths):
        main_log = state.error_log
        if not main_log.startswith(("|", "syslog")):
            if not os.path.isabs(main_log):
                main_log = os.path.join(state.server_root, main_log)
            paths.append((main_log, "error", "", 0))
    for path, kind, fname, line in paths:
        folder = os.path.dirname(path) or "/"
        if os.path.isdir(folder):
            continue
        if kind == "error":
            msg = (f"(2)No such file or directory: AH02291: Cannot access directory "
                   f"'{folder}/' for main error log")
        else:
            msg = (f"(2)No such file or directory: AH02297: Cannot access directory "
                   f"'{folder}/' for log file '{path}' defined at {fname}:{line}")
        raise ConfigError(msg, fname, line, "ErrorLog" if kind == "error" else "CustomLog")


def _read_cli_lines(engine: Engine, label: str, lines: Iterable[str]) -> list:
    out: list = []
    for text in lines:
        out += engine.read_lines(list(logical_lines(text, label)))
    return out


def _default_server_name() -> tuple[str, str | None]:
    """httpd's ap_get_local_host: the host name's canonical name when it has a dot,
    else its address (or 127.0.0.1), with the AH00558 warning httpd prints then."""
    import socket

    try:
        addr = str(socket.getaddrinfo(socket.gethostname(), None)[0][4][0])
    except (OSError, UnicodeError, IndexError):
        addr = "127.0.0.1"
    else:
        try:
            name = socket.getnameinfo((addr, 0), 0)[0]
        except (OSError, UnicodeError):
            name = ""
        if "." in name:
            return name, None
    return addr, (f"AH00558: fastcore: Could not reliably determine the server's fully "
                  f"qualified domain name, using {addr}. Set the 'ServerName' directive "
                  "globally to suppress this message")
