"""The symlink checks a cached answer repeats on every hit (issue 12).

Apache's directory walk (server/request.c) lstat()s each path component wherever Options
lacks FollowSymLinks or has SymLinksIfOwnerMatch, and does not cache the result.  The walk
(core/mapping.py) records each such lstat as a `LinkCheck`; a cached answer keeps them,
encoded by `encode_links`, and every hit (the C engine's fc_links_ok in src/fc_symlink.h,
its twin fastcore/_pure/symlink.py, the Python cache) repeats them before it answers.  A
check that fails sends the request to the full path, which builds Apache's 403 and its
AH00037 error-log line: no earlier check is ever trusted.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

# the check's mode byte in the encoding (the same letters in src/fc_symlink.h)
REFUSE = b"N"  # neither FollowSymLinks nor SymLinksIfOwnerMatch: any symlink is refused
OWNER = b"O"   # SymLinksIfOwnerMatch: a symlink is followed when its target has its owner


@dataclass(frozen=True, slots=True)
class LinkCheck:
    """One lstat of the walk: the component's path and whether a symlink there may be
    followed when the owners match (else it is refused)."""

    path: str
    owner_match: bool


def encode_links(checks: Iterable[LinkCheck]) -> bytes:
    """The checks as the engine stores them: mode byte, path, NUL, for each, in walk
    order; a path checked twice the same way (a DirectoryIndex sub-request walks its
    directory again) is checked once per hit."""
    seen: set[tuple[str, bool]] = set()
    out = []
    for c in checks:
        key = (c.path, c.owner_match)
        if key in seen:
            continue
        seen.add(key)
        out.append((OWNER if c.owner_match else REFUSE) + os.fsencode(c.path) + b"\0")
    return b"".join(out)
