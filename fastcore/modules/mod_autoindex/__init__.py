"""mod_autoindex: directory listings (plain and FancyIndexing, sorting, icons)."""
