"""mod_authz_host: the `ip`, `host`, `local` and `forward-dns` providers of Require.

It registers no directive of its own (as in httpd, where it adds authz providers to
mod_authz_core's Require); loading it makes Require accept these provider names.  This
file parses their arguments at startup; the request-time evaluation of every provider is
fastcore.modules.mod_authz_core.authorize.
"""
from __future__ import annotations

import ipaddress

from fastcore.config.engine import DirectiveError
from fastcore.core.tokens import is_digits
from fastcore.modules import ModuleSpec

NAME = "authz_host_module"
HOST_PROVIDERS = ("ip", "host", "local", "forward-dns")


def parse_host_args(name: str, rest: str, words: tuple[str, ...]) -> tuple[str, ...]:
    """A host provider's arguments as Require stores them (`ip`: checked addresses)."""
    if name != "ip":
        return words
    from fastcore.modules.mod_authz_core import words_until_empty

    args = tuple(words_until_empty(rest))
    if not args:
        raise DirectiveError("'require ip' requires an argument")
    for ip in args:
        check_ip(ip)
    return args


def check_ip(spec: str) -> None:
    """Full addresses, CIDR, netmask or partial dotted prefixes, as apr_ipsubnet_create."""
    addr, slash, mask = spec.partition("/")
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        ip = None
    if ip is not None and not slash:
        return
    if ip is not None:
        if _mask_ok(ip, mask):
            return
        raise DirectiveError(f"ip address '{spec}' appears to be invalid: The specified "
                             "network mask is invalid.")
    parts = addr.rstrip(".").split(".")
    if not slash and 1 <= len(parts) <= 3 and all(is_digits(p) and int(p) < 256 for p in parts):
        return
    # apr_ipsubnet_create: text that looks like an address (digits and dots, or a ':')
    # but does not parse is APR_EBADIP, reported with its text; anything else is EINVAL
    looks_like_ip = ":" in addr or all(is_digits(c) or c == "." for c in addr)
    detail = ": The specified IP address is invalid." if looks_like_ip else ""
    raise DirectiveError(f"ip address '{spec}' appears to be invalid{detail}")


def _mask_ok(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, mask: str) -> bool:
    """apr_ipsubnet_create's mask: 1 to 32 (128) bits, or any dotted mask for IPv4;
    anything else (an empty mask, /0, /33) is APR_EBADMASK."""
    if is_digits(mask):
        return 0 < int(mask) <= ip.max_prefixlen
    if ip.version != 4:
        return False
    try:
        ipaddress.IPv4Address(mask)
    except ValueError:
        return False
    return True


MODULE = ModuleSpec(NAME)
