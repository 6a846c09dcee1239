"""Core directives about HTTP itself: MaxRanges (and its overlap/reversal siblings),
StrictHostCheck, MergeSlashes, AcceptPathInfo and HttpProtocolOptions, parsed with
Apache's syntax, contexts and messages (server/core.c)."""
from __future__ import annotations

from fastcore.config.directives_core import CORE, _atoi
from fastcore.config.engine import ACCESS, OR_FILEINFO, RSRC, Ctx, Directive, DirectiveError, Engine
from fastcore.config.tree import Node

# MaxRanges-style values (Apache's AP_MAXRANGES_*); a positive number is itself.
RANGES_DEFAULT, RANGES_UNLIMITED, RANGES_NONE = -1, -2, 0
DEFAULT_MAX_RANGES, DEFAULT_MAX_OVERLAPS, DEFAULT_MAX_REVERSALS = 200, 20, 20


def _ranges_value(name: str, arg: str) -> int:
    word = arg.lower()
    if word == "none":
        return RANGES_NONE
    if word == "default":
        return RANGES_DEFAULT
    if word == "unlimited":
        return RANGES_UNLIMITED
    n = _atoi(arg)
    if n <= 0:
        raise DirectiveError(f"{name} requires 'none', 'default', 'unlimited' or a "
                             "positive integer")
    return n


def effective_limit(value: int | None, default: int) -> int | None:
    """The limit a MaxRanges-style setting means: None for unlimited, else a count
    (0 for `none`)."""
    if value is None or value == RANGES_DEFAULT:
        return default
    if value == RANGES_UNLIMITED:
        return None
    return value


def _ranges(field_name: str, name: str):
    def h(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
        setattr(ctx.dirconf, field_name, _ranges_value(name, a[0]))
    return h


def accept_path_info(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    word = a[0].lower()
    if word not in ("on", "off", "default"):
        raise DirectiveError("AcceptPathInfo must be set to on, off or default")
    ctx.dirconf.accept_path_info = word


def _flag_vh(field_name: str):
    def h(e: Engine, ctx: Ctx, a: bool, n: Node) -> None:
        e.state.set_vhost(ctx.vhost, field_name, a)
    return h


PROTOCOL_WORDS = {"strict": ("http_strict", True), "unsafe": ("http_strict", False),
                  "registeredmethods": ("http_registered_methods", True),
                  "lenientmethods": ("http_registered_methods", False),
                  "allow0.9": ("http_allow09", True), "require1.0": ("http_allow09", False)}
PROTOCOL_PAIRS = (("Strict", "Unsafe"), ("RegisteredMethods", "LenientMethods"),
                  ("Allow0.9", "Require1.0"))


def http_protocol_options(e: Engine, ctx: Ctx, a: list[str], n: Node) -> None:
    """Each of the three choices is set (and later inherited) on its own; naming both
    sides of one pair is an error."""
    seen: dict[str, bool] = {}
    for word in a:
        hit = PROTOCOL_WORDS.get(word.lower())
        if hit is None:
            raise DirectiveError("HttpProtocolOptions accepts 'Unsafe' or 'Strict' (default), "
                                 "'RegisteredMethods' or 'LenientMethods' (default), and "
                                 "'Require1.0' or 'Allow0.9' (default)")
        seen.setdefault(hit[0], hit[1])
        if seen[hit[0]] != hit[1]:
            pair = next(p for p in PROTOCOL_PAIRS
                        if word.lower() in (p[0].lower(), p[1].lower()))
            raise DirectiveError(f"HttpProtocolOptions '{pair[0]}' and '{pair[1]}' are "
                                 "mutually exclusive")
    for field_name, value in seen.items():
        e.state.set_vhost(ctx.vhost, field_name, value)


def http_directives() -> list[Directive]:
    def d(name: str, req: set[str], syntax: str, handler, usage: str) -> Directive:
        return Directive(name, CORE, frozenset(req), syntax, handler, usage, 0)

    per_dir = {RSRC, ACCESS}
    return [
        d("MaxRanges", per_dir, "TAKE1", _ranges("max_ranges", "MaxRanges"),
          "Maximum number of Ranges in a request before returning the entire resource, "
          "or 0 for unlimited"),
        d("MaxRangeOverlaps", per_dir, "TAKE1",
          _ranges("max_range_overlaps", "MaxRangeOverlaps"),
          "Maximum number of overlaps in Ranges in a request before returning the entire "
          "resource, or 0 for unlimited"),
        d("MaxRangeReversals", per_dir, "TAKE1",
          _ranges("max_range_reversals", "MaxRangeReversals"),
          "Maximum number of reversals in Ranges in a request before returning the entire "
          "resource, or 0 for unlimited"),
        d("AcceptPathInfo", {OR_FILEINFO}, "TAKE1", accept_path_info,
          "Set to on or off for PATH_INFO to be accepted by handlers, or default for the "
          "per-handler preference"),
        d("StrictHostCheck", {RSRC}, "FLAG", _flag_vh("strict_host_check"),
          "Controls whether a hostname match is required"),
        d("MergeSlashes", {RSRC}, "FLAG", _flag_vh("merge_slashes"),
          "Controls whether consecutive slashes in the URI path are merged"),
        d("HttpProtocolOptions", {RSRC}, "ITERATE", http_protocol_options,
          "'Allow0.9' or 'Require1.0' (default); 'RegisteredMethods' or 'LenientMethods' "
          "(default); 'Unsafe' or 'Strict' (default). Sets HTTP acceptance rules"),
    ]
