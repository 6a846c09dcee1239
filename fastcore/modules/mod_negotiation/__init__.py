"""mod_negotiation: MultiViews and type maps (parse, variants, Apache's selection)."""
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_negotiation.config import (
    NAME,
    NegotiationDir,
    NegotiationServer,
    directives,
)
from fastcore.modules.mod_negotiation.hooks import HOOKS, cache_contribution

MODULE = ModuleSpec(NAME, directives, dir_record=NegotiationDir,
                    server_record=NegotiationServer, hooks=HOOKS,
                    cache_contribution=cache_contribution)
