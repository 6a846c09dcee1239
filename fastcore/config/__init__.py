"""Apache-style configuration: `load()` parses httpd.conf syntax into the model."""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from fastcore.config.errors import ConfigError, HtaccessError
from fastcore.config.model import ServerConfig

if TYPE_CHECKING:
    from fastcore.config.engine import ModuleRegistry

__all__ = ["ConfigError", "HtaccessError", "load", "default_config_text", "default_variables",
           "render_default_config"]

DEFAULT_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "default.conf")


def default_config_text() -> str:
    with open(DEFAULT_CONF, encoding="utf-8") as fh:
        return fh.read()


def _tempdir() -> str:
    import tempfile  # only for the embedded default: not in every config's processes

    return tempfile.gettempdir()


def default_variables(docroot: str | None = None, bind: str = "127.0.0.1",
                      port: int = 8080) -> dict[str, str]:
    """The ${FC_*} values of the embedded default (see default.conf)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    cpus = max(1, cpus)
    host = f"[{bind}]" if ":" in bind and not bind.startswith("[") else bind
    return {
        "FC_LISTEN": f"{host}:{port}",
        "FC_HOST": host,
        "FC_DOCROOT": os.path.abspath(docroot or os.getcwd()),
        "FC_BIND": bind,
        "FC_PORT": str(port),
        "FC_RUNDIR": _tempdir(),
        "FC_CPUS": str(cpus),
        "FC_SERVER_LIMIT": str(max(16, 2 * cpus)),
        "FC_WORKERS": str(25 * max(16, 2 * cpus)),
    }


def render_default_config(variables: Mapping[str, str] | None = None) -> str:
    """The default config with its variables filled in (for --print-default-config)."""
    from fastcore.config.lexer import resolve_vars

    return resolve_vars(default_config_text(), variables or default_variables(), [])


def load(path: str | None, *, server_root: str | None = None, defines: Iterable[str] = (),
         pre_directives: Iterable[str] = (), post_directives: Iterable[str] = (),
         variables: Mapping[str, str] | None = None,
         check_document_root: bool = True,
         registry: ModuleRegistry | None = None) -> ServerConfig:
    """Parse a config file (None: the embedded default) into a ServerConfig.

    `defines` are -D names, `pre_directives`/`post_directives` the -C/-c lines.
    Additions to the documented API: `variables` presets Define'd values (for the
    embedded default they default to `default_variables()`); `check_document_root=False`
    is -T (a missing DocumentRoot is then a warning, not an error).
    `registry` is the set of modules LoadModule can load (default: fastcore.modules').
    Raises ConfigError with Apache's wording, file and line.
    """
    from fastcore.config.build import parse

    if registry is None:
        # the entry point picks the server's modules; the engine only gets them passed in
        from fastcore.modules import REGISTRY as registry

    if path is None or os.path.abspath(path) == DEFAULT_CONF:
        # (the file path too, so a reload by cfg.config_file gets the embedded default)
        vars_ = dict(default_variables())
        vars_.update(variables or {})
        return parse(DEFAULT_CONF, server_root=server_root or vars_["FC_RUNDIR"],
                     defines=defines, pre=pre_directives, post=post_directives,
                     variables=vars_, registry=registry,
                     check_document_root=check_document_root)
    return parse(path, server_root=server_root, defines=defines, pre=pre_directives,
                 post=post_directives, variables=variables or {}, registry=registry,
                 check_document_root=check_document_root)
