"""The slow path's response record and the method tables the handlers share (kept apart
from handler.py so the modules' phase functions use them without importing the core)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastcore.config.model import DirConfig
    from fastcore.core.cacheable import CacheInfo

# Methods Apache registers (anything else is M_INVALID -> 501 from the default handler).
KNOWN_METHODS = frozenset((
    "GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "VERSION-CONTROL",
    "CHECKOUT", "UNCHECKOUT", "CHECKIN", "UPDATE", "LABEL", "REPORT", "MKWORKSPACE",
    "MKACTIVITY", "BASELINE-CONTROL", "MERGE"))
ALLOW_OPTIONS = "POST,OPTIONS,HEAD,GET,TRACE"
ALLOW_405 = "GET,POST,OPTIONS,HEAD,TRACE"


class Response:
    """What to send: status, ordered header fields (Date/Server/Connection/Content-Type are
    added by the server), and a body as bytes, a file range, or multipart pieces."""

    __slots__ = ("status", "headers", "ctype", "body", "file", "parts", "tail", "close",
                 "chunked", "no_length", "filename", "cache", "head_only", "internal_dc",
                 "length_computed", "fixed")

    def __init__(self, status: int, headers: list[tuple[str, str]] | None = None,
                 ctype: str | None = None, body: bytes | None = b"") -> None:
        self.status = status
        self.headers = headers if headers is not None else []
        self.ctype = ctype
        self.body = body
        self.file: tuple[str, int, int] | None = None  # (path, offset, count)
        self.parts: list[tuple[bytes, int, int]] | None = None
        self.tail = b""
        self.close = False
        self.chunked = False
        self.no_length = False
        self.filename: str | None = None
        self.cache: CacheInfo | None = None
        self.head_only = False
        # the scope an internal redirect (a local ErrorDocument) answered under: httpd's
        # output filters run in that redirected request, with its per-dir configuration
        self.internal_dc: DirConfig | None = None
        # a filter computed the whole body (mod_deflate): HEAD states its length too
        self.length_computed = False
        # its producer vouches that these bytes are a function of (Host, target) and
        # txn.probes (mod_rewrite's redirect from a cacheable rule set): the connection
        # may give them to the engine (cacheable.fixed_answer)
        self.fixed = False

    def length(self) -> int:
        if self.file is not None:
            return self.file[2]
        if self.parts is not None:
            return sum(len(h) + n for h, _, n in self.parts) + len(self.tail)
        return len(self.body or b"")


# httpd's handlers write generated pages with ap_rputs/ap_rvputs into the OLD_WRITE
# buffer, one APR_BUCKET_BUFF_SIZE (8000 bytes) heap bucket: output that outgrows it is
# passed on before the end, so the content-length filter cannot count it
GENERATED_BUFFER = 8000


def generated(status: int, headers: list[tuple[str, str]], ctype: str, body: bytes,
              proto_num: int, streamed: bool = False) -> Response:
    """A handler-generated page framed as httpd frames it: Content-Length when all of it
    fitted the buffer (and nothing was `streamed` through a sub-request), else no length:
    chunked for HTTP/1.1, the connection's close for HTTP/1.0."""
    if not streamed and len(body) <= GENERATED_BUFFER:
        r = Response(status, headers + [("Content-Length", str(len(body)))], ctype, body)
        # the content-length filter saw the whole page: HEAD states it too (an empty
        # body, as a header-only listing has, states none)
        r.length_computed = bool(body)
        return r
    r = Response(status, headers, ctype, body)
    r.no_length = True
    r.chunked = proto_num >= 1001
    r.close = not r.chunked
    return r


@dataclass(slots=True)
class VaryFields:
    """A header list with its Vary fields taken out, to merge names into them as
    apr_table_merge does: `tokens` are the names they held (in order), `at` the place of
    the first one among the other fields (`kept`), None when there was none."""
    kept: list[tuple[str, str]]
    tokens: list[str]
    at: int | None

    @classmethod
    def take(cls, headers: list[tuple[str, str]]) -> VaryFields:
        kept: list[tuple[str, str]] = []
        tokens: list[str] = []
        at = None
        for k, v in headers:
            if k.lower() == "vary":
                if at is None:
                    at = len(kept)
                tokens += [t.strip() for t in v.split(",") if t.strip()]
            else:
                kept.append((k, v))
        return cls(kept, tokens, at)

    def put(self, names: list[str], default_at: int) -> list[tuple[str, str]]:
        """The headers with one Vary field of `names` (repeats, compared without case,
        dropped) where the first Vary stood, else at `default_at`."""
        tokens: list[str] = []
        for n in names:
            if n.lower() not in (t.lower() for t in tokens):
                tokens.append(n)
        out = list(self.kept)
        out.insert(default_at if self.at is None else self.at, ("Vary", ",".join(tokens)))
        return out
