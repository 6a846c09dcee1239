"""The file-name -> type service the core asks the loaded modules for (httpd: the
type_checker hook mod_mime registers; without mod_mime nothing types a file and the
answer goes out without Content-Type).  The default handler and the sub-requests of the
modules (DirectoryIndex, listings, negotiation, SSI) look types up through it.  Also
the core's AddDefaultCharset (with_default_charset)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastcore.config.model import DirConfig

# (content type, charset, language, encoding) of a file name
TypeFacts = tuple[str | None, str | None, str | None, str | None]


class TypeMap(Protocol):
    """What a module's type map answers (mod_mime.MimeMap)."""

    def lookup(self, filename: str, dirconf: DirConfig | None) -> TypeFacts: ...

    def content_type_header(self, filename: str, dirconf: DirConfig | None) -> str | None: ...


class NoTypes:
    """No module types files (no mod_mime loaded): nothing is known of any name."""

    def lookup(self, filename: str, dirconf: DirConfig | None) -> TypeFacts:
        return None, None, None, None

    def content_type_header(self, filename: str, dirconf: DirConfig | None) -> str | None:
        return None


NO_TYPES = NoTypes()


def with_default_charset(ctype: str | None, dirconf: DirConfig | None) -> str | None:
    """AddDefaultCharset, a core directive (protocol.c's ap_make_content_type applies it
    to every response, whichever module typed it): `; charset=NAME` is appended to a Content-Type that contains text/plain or text/html
    and no charset= (both tested as case-insensitive substrings, as Apache does)."""
    name = dirconf.add_default_charset if dirconf is not None else None
    if not name or not ctype:
        return ctype
    low = ctype.lower()
    if "charset=" in low or ("text/plain" not in low and "text/html" not in low):
        return ctype
    return f"{ctype}; charset={name}"
