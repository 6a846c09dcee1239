"""mod_autoindex: directory listings (plain and FancyIndexing, sorting, icons)."""
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_autoindex.hooks import HOOKS

# its directives are still in fastcore/config/directives_mods.py
MODULE = ModuleSpec("autoindex_module", list, hooks=HOOKS)
