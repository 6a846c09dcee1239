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


def forced_type(dirconf: DirConfig | None) -> str | None:
    """ForceType, a core directive (core_override_type): the type of every file of the
    scope, whichever module types files; `none` cancels an enclosing one."""
    ft = dirconf.force_type if dirconf is not None else None
    return ft if ft and ft.lower() != "none" else None


class NoTypes:
    """No module types files (no mod_mime loaded): nothing is known of a name, but the
    core's ForceType still applies."""

    def lookup(self, filename: str, dirconf: DirConfig | None) -> TypeFacts:
        return forced_type(dirconf), None, None, None

    def content_type_header(self, filename: str, dirconf: DirConfig | None) -> str | None:
        return forced_type(dirconf)


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
