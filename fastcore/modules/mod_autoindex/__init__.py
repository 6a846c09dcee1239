"""mod_autoindex: directory listings (plain and FancyIndexing, sorting, icons)."""
from fastcore.modules.mod_autoindex.config import MODULE

__all__ = ["MODULE"]
