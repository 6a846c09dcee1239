"""mod_autoindex: directory listings (plain and FancyIndexing, sorting, icons)."""
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_autoindex.config import NAME, AutoindexDir, directives
from fastcore.modules.mod_autoindex.hooks import HOOKS

MODULE = ModuleSpec(NAME, directives, dir_record=AutoindexDir, hooks=HOOKS)
