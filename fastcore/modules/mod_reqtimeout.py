"""mod_reqtimeout: RequestReadTimeout, a deadline for the whole request head and body.

Apache's core Timeout bounds each read; a client sending a byte a second never trips it.
mod_reqtimeout bounds the whole stage instead: the head must arrive within `header=`
seconds (counted from the start of the connection, or for a keep-alive request from its
first bytes), the body within `body=` seconds from its first read.  MinRate=R moves the
deadline on by 1/R s per byte received, never past the stage's maximum.  Loaded without
the directive, Apache 2.4's defaults apply: header=20-40,MinRate=500 body=20,MinRate=500.

This file holds the directive table, the per-server record with its merge and
`limits()` (what a connection of a server must enforce, or None), which the core asks
for through the registry (REGISTRY.read_limits); the clock that enforces them on a
connection is the core's (core/readclock.py, as httpd's core Timeout is).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from fastcore.config.engine import RSRC, Ctx, Directive, DirectiveError, Engine
from fastcore.config.lexer import split_words
from fastcore.config.model import ServerConfig, VirtualHost, module_record
from fastcore.config.tree import Node
from fastcore.core.readclock import ReadClock, ReadLimits, Stage  # noqa: F401 - its API
from fastcore.modules import ModuleSpec

NAME = "reqtimeout_module"


HANDSHAKE_DEFAULT = Stage(0)
HEADER_DEFAULT = Stage(20, 40, 500)
BODY_DEFAULT = Stage(20, 0, 500)


@dataclass(frozen=True)
class ReqTimeoutConfig:
    """The per-server record: a stage is None where this server did not set it."""

    handshake: Stage | None = None
    header: Stage | None = None
    body: Stage | None = None

    def merge(self, add: ReqTimeoutConfig) -> ReqTimeoutConfig:
        """A <VirtualHost> keeps each stage it set and inherits the others (MERGE_INT)."""
        return ReqTimeoutConfig(add.handshake or self.handshake, add.header or self.header,
                                add.body or self.body)


def limits(modules: tuple[str, ...], rec: ReqTimeoutConfig | None) -> ReadLimits | None:
    """The deadlines for a connection to a server whose record is rec; None when the
    module is not loaded or handshake, header and body are all 0 (reqtimeout_init)."""
    if NAME not in modules:
        return None
    rec = rec or ReqTimeoutConfig()
    out = ReadLimits(rec.header or HEADER_DEFAULT, rec.body or BODY_DEFAULT,
                     rec.handshake or HANDSHAKE_DEFAULT)
    if out.header.timeout == 0 and out.body.timeout == 0 and out.handshake.timeout == 0:
        return None
    return out


def server_limits(cfg: ServerConfig, vhost: VirtualHost) -> ReadLimits | None:
    """limits() for a configured server (a VirtualHost of a ServerConfig)."""
    return limits(cfg.modules, module_record(vhost.module_config, NAME, ReqTimeoutConfig))


# -- the directive -----------------------------------------------------------------------

_INT = re.compile(r"\s*[+-]?\d+")


def _parse_int(text: str) -> int:
    """strtol(text, 10) with mod_reqtimeout's messages."""
    m = _INT.match(text)
    if m is None:
        raise DirectiveError(f"Value '{text}' not numerical")
    if m.end() != len(text):
        raise DirectiveError(f"Cannot parse '{text[m.end():]}'")
    val = int(m.group())
    if val < 0:
        raise DirectiveError("Value must be non-negative")
    return min(val, 2**31 - 1)


def parse_stage(val: str) -> Stage:
    """`N`, or `N[-M],MinRate=R` (the key is matched without case)."""
    at = val.lower().find(",minrate=")
    if at < 0:
        if "-" in val:
            raise DirectiveError("Must set MinRate option if using timeout range")
        return Stage(_parse_int(val))
    initial, rate_text = val[:at], val[at + len(",minrate="):]
    rate = _parse_int(rate_text)
    if rate == 0:
        raise DirectiveError("Minimum data rate must be larger than 0")
    top = 0
    if "-" in initial:
        initial, _, max_text = initial.partition("-")
        top = _parse_int(max_text)
    first = _parse_int(initial)
    if top and first >= top:
        raise DirectiveError("Maximum timeout must be larger than initial timeout")
    return Stage(first, top, rate)


def request_read_timeout(e: Engine, ctx: Ctx, a: str, n: Node) -> None:
    rec = module_record(ctx.vhost.module_config, NAME, ReqTimeoutConfig)
    for word in split_words(a):
        key, eq, val = word.partition("=")
        if not eq:
            raise DirectiveError("Invalid RequestReadTimeout parameter. Parameter must be "
                                 "in the form 'key=value'")
        stage = key.lower()
        if stage not in ("handshake", "header", "body"):
            raise DirectiveError(f"RequestReadTimeout: {word}: Unknown RequestReadTimeout "
                                 "parameter")
        try:
            parsed = parse_stage(val)
        except DirectiveError as exc:
            raise DirectiveError(f"RequestReadTimeout: {key}={val}: {exc}") from None
        rec = replace(rec, **{stage: parsed})
    ctx.vhost.module_config[NAME] = rec


def directives() -> list[Directive]:
    return [Directive("RequestReadTimeout", NAME, frozenset({RSRC}), "RAW_ARGS",
                      request_read_timeout, "Set various timeout parameters for reading "
                      "request headers and body")]


MODULE = ModuleSpec(NAME, directives, server_record=ReqTimeoutConfig, read_limits=server_limits)
