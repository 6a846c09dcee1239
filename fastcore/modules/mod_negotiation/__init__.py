"""mod_negotiation: MultiViews and type maps (parse, variants, Apache's selection)."""
