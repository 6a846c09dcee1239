"""mod_negotiation: MultiViews and type maps (parse, variants, Apache's selection)."""
from fastcore.modules.mod_negotiation.config import MODULE

__all__ = ["MODULE"]
