"""mod_negotiation: MultiViews and type maps (parse, variants, Apache's selection)."""
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_negotiation.hooks import HOOKS

# its directives are still in fastcore/config/directives_mods.py
MODULE = ModuleSpec("negotiation_module", list, hooks=HOOKS)
