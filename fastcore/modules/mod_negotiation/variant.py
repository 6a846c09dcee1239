"""What negotiation works on and returns: a Variant (a file of MultiViews or an entry of
a type map, with the qualities the algorithm fills in), the NegotiationResult, and the
outcomes that are not a variant (406, 300 and other statuses) as exceptions. The
algorithm itself is neg_select.py."""
from __future__ import annotations

from dataclasses import dataclass, field

from fastcore.modules.mod_negotiation.parse import (
    INCLUDES_MAGIC_TYPE,
    INCLUDES_MAGIC_TYPE3,
    get_entry,
)


@dataclass
class Variant:
    file_name: str                      # as listed (dirent name or type-map URI)
    path: str | None = None             # file to serve; None for a type-map Body:
    mime_type: str = ""
    charset: str = ""
    level: float = 0.0
    source_quality: float = 1.0
    languages: list[str] = field(default_factory=list)
    encoding: str | None = None
    description: str = ""
    bytes: int = -1
    body: tuple[int, int] | None = None  # (offset, length) inside the map file
    has_handler: bool = False
    # filled by negotiation
    mime_type_quality: float = 1.0
    lang_quality: float = 1.0
    charset_quality: float = 1.0
    encoding_quality: float = 1.0
    lang_index: int = -1
    level_matched: float = 0.0
    mime_stars: int = 0
    definite: bool = True

    @property
    def is_pseudo_html(self) -> bool:
        return self.mime_type in ("text/html", INCLUDES_MAGIC_TYPE, INCLUDES_MAGIC_TYPE3)

    def set_mime_fields(self, content_type: str) -> None:
        rec, _ = get_entry(content_type)
        self.mime_type = rec.name
        self.source_quality = rec.quality
        self.level = rec.level
        self.charset = rec.charset


@dataclass
class NegotiationResult:
    """The chosen variant and the headers Apache adds for a negotiated response.

    `headers` are, in Apache's order, Content-Location (choice responses of transparent
    negotiation), Vary, TCN and Alternates (when the client asked for them); `vary` is the
    Vary tokens alone.  `uri` is the variant's name relative to the requested directory
    (type maps: the target of Apache's internal redirect).  `body` is (offset, length)
    inside `path` for a type-map Body: variant."""

    path: str | None
    uri: str
    vary: list[str]
    content_type: str | None
    charset: str | None
    language: str | None
    languages: list[str]
    encoding: str | None
    headers: list[tuple[str, str]]
    body: tuple[int, int] | None = None
    length: int = -1
    # Apache sets r->no_cache for a type map (not for MultiViews, whose fast redirect drops
    # it): an HTTP/1.0 request then gets "Expires: <the Date value>".
    http10_expires: bool = False


class NotAcceptable(Exception):
    """406: no variant is acceptable.  variants_html is Apache's "Available variants"
    list for the error page; headers go on the 406 response (Alternates, Vary, TCN)."""

    status = 406

    def __init__(self, variants_html: str, headers: list[tuple[str, str]] | None = None):
        super().__init__("no acceptable variant")
        self.variants_html = variants_html
        self.headers = headers or []


class MultipleChoices(NotAcceptable):
    """300: a client that supports transparent negotiation (Negotiate: trans/vlist) and
    did not let the server choose gets the list instead of a variant."""

    status = 300


class NegotiationError(Exception):
    """A status other than 406/300 decided by negotiation (404, 403, 500, 506)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
