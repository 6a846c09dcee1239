"""mod_status: /server-status (the scoreboard as HTML and ?auto) and fastcore's
Prometheus endpoint (SetHandler metrics), both read from the shared scoreboard."""
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_status.hooks import HOOKS

# its directives are still in fastcore/config/directives_mods.py
MODULE = ModuleSpec("status_module", list, hooks=HOOKS)
