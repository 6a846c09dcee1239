"""MD5 and SHA-1 for what Apache computes with them: FileETag Digest (static.py) and
ap_expr's md5() and sha1() functions (expr/names.py).

Why not hashlib: importing it initialises OpenSSL, which runs about 1.4 MiB of
libcrypto's code in the process that imports it.  The server's parent imports everything
before it forks, and its children never run that code, so those pages stay the parent's
alone: 1.5 MiB of the whole tree's PSS for two hash functions (BENCHMARKS.md section 27).  The interpreter's own implementations (the ones hashlib falls back to
without OpenSSL) give the same digests without it.  An interpreter built without them
gets OpenSSL's, through hashlib.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


try:
    from _md5 import md5 as _md5_new  # type: ignore[import-not-found]
    from _sha1 import sha1 as _sha1_new  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - an interpreter built without them
    from hashlib import md5 as _md5_new
    from hashlib import sha1 as _sha1_new

md5: Callable[..., Hash] = _md5_new
sha1: Callable[..., Hash] = _sha1_new
