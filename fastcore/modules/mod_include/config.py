"""mod_include's configuration: the per-directory record (include_dir_config: error
message, time format, undefined-echo text, XBitHack, SSILastModified, SSIETag,
SSILegacyExprParser; each unset until a scope sets it, the deeper scope winning) and
the per-server record (SSIStartTag/SSIEndTag, RSRC_CONF; httpd has no server merge for
it, so a <VirtualHost> has the defaults unless it sets its own)."""
from __future__ import annotations

from dataclasses import dataclass

from fastcore.config.engine import (
    OR_ALL,
    OR_LIMIT,
    OR_OPTIONS,
    RSRC,
    Ctx,
    Directive,
    DirectiveError,
    Engine,
    Handler,
)
from fastcore.config.model import DirConfig, VirtualHost, module_record, scope_record
from fastcore.config.tree import Node

NAME = "include_module"

DEFAULT_START = "<!--#"
DEFAULT_END = "-->"
DEFAULT_ERROR = "[an error occurred while processing this directive]"
DEFAULT_TIME_FORMAT = "%A, %d-%b-%Y %H:%M:%S %Z"
DEFAULT_UNDEFINED = "(none)"

XBITHACK_OFF, XBITHACK_ON, XBITHACK_FULL = "off", "on", "full"


@dataclass
class IncludeDir:
    """include_dir_config; None is httpd's unset (the enclosing scope's value holds)."""

    error_msg: str | None = None
    time_fmt: str | None = None
    undefined_echo: str | None = None
    xbithack: str | None = None
    last_modified: bool | None = None
    etag: bool | None = None
    legacy_expr: bool | None = None

    def merge(self, add: IncludeDir) -> IncludeDir:
        """merge_includes_dir_config: each field the deeper scope set wins."""
        return IncludeDir(
            add.error_msg if add.error_msg is not None else self.error_msg,
            add.time_fmt if add.time_fmt is not None else self.time_fmt,
            add.undefined_echo if add.undefined_echo is not None else self.undefined_echo,
            add.xbithack if add.xbithack is not None else self.xbithack,
            add.last_modified if add.last_modified is not None else self.last_modified,
            add.etag if add.etag is not None else self.etag,
            add.legacy_expr if add.legacy_expr is not None else self.legacy_expr)


@dataclass
class IncludeServer:
    """include_server_config: the start and end sequences of elements."""

    start_tag: str = DEFAULT_START
    end_tag: str = DEFAULT_END

    def merge(self, add: IncludeServer) -> IncludeServer:
        """No merge_server in httpd: a virtual host keeps its own record."""
        return add


def include_dir(dc: DirConfig) -> IncludeDir:
    """This module's record of a merged DirConfig (ap_get_module_config)."""
    return module_record(dc.modules, NAME, IncludeDir)


def include_server(vh: VirtualHost) -> IncludeServer:
    return module_record(vh.module_config, NAME, IncludeServer)


def _dir(ctx: Ctx) -> IncludeDir:
    return scope_record(ctx.dirconf.modules, NAME, IncludeDir)


def set_xbithack(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    value = a[0].lower()
    if value not in (XBITHACK_OFF, XBITHACK_ON, XBITHACK_FULL):
        raise DirectiveError("XBitHack must be set to Off, On, or Full")
    _dir(ctx).xbithack = value


def _tag(field: str, label: str) -> Handler:
    def handler(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        if any(c in " \t\n\r\f\v" for c in a[0]):
            raise DirectiveError(f"{label} may not contain any whitespaces")
        setattr(scope_record(ctx.vhost.module_config, NAME, IncludeServer), field, a[0])
    return handler


def _text(field: str) -> Handler:
    def handler(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        setattr(_dir(ctx), field, a[0])
    return handler


def _flag(field: str) -> Handler:
    def handler(e: Engine, ctx: Ctx, on: bool, n: Node) -> None:
        setattr(_dir(ctx), field, on)
    return handler


def set_legacy_expr(e: Engine, ctx: Ctx, on: bool, n: Node) -> None:
    """Off is 2.4's default; the 2.2 expression grammar is not implemented, so On is
    refused rather than silently parsed as ap_expr."""
    if on:
        raise DirectiveError("SSILegacyExprParser On (the 2.2 expression parser) is "
                             "not supported by fastcore")
    _dir(ctx).legacy_expr = False


def directives() -> list[Directive]:
    opts, every, limit, rsrc = (frozenset({OR_OPTIONS}), OR_ALL, frozenset({OR_LIMIT}),
                                frozenset({RSRC}))
    return [
        Directive("XBitHack", NAME, opts, "TAKE1", set_xbithack, "Off, On, or Full"),
        Directive("SSIErrorMsg", NAME, every, "TAKE1", _text("error_msg"),
                  "a string"),
        Directive("SSITimeFormat", NAME, every, "TAKE1", _text("time_fmt"),
                  "a strftime(3) formatted string"),
        Directive("SSIStartTag", NAME, rsrc, "TAKE1",
                  _tag("start_tag", "SSIStartTag"), "SSI Start String Tag"),
        Directive("SSIEndTag", NAME, rsrc, "TAKE1",
                  _tag("end_tag", "SSIEndTag"), "SSI End String Tag"),
        Directive("SSIUndefinedEcho", NAME, every, "TAKE1",
                  _text("undefined_echo"),
                  "String to be displayed if an echoed variable is undefined"),
        Directive("SSILegacyExprParser", NAME, limit, "FLAG",
                  set_legacy_expr,
                  "Whether to use the legacy expression parser compatible with <= 2.2.x. "
                  "Limited to 'on' or 'off'"),
        Directive("SSILastModified", NAME, limit, "FLAG",
                  _flag("last_modified"),
                  "Whether to set the last modified header or respect an existing header. "
                  "Limited to 'on' or 'off'"),
        Directive("SSIEtag", NAME, limit, "FLAG", _flag("etag"),
                  "Whether to allow the generation of ETags within the server. Existing "
                  "ETags will be preserved. Limited to 'on' or 'off'"),
    ]
