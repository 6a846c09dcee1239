"""mod_socache_shmcb: the shared-memory object cache provider that `SSLSessionCache
shmcb:PATH(SIZE)` names.  It has no directives of its own; mod_ssl refuses shmcb unless
it is loaded, as Apache does."""
from __future__ import annotations

from fastcore.modules import ModuleSpec

NAME = "socache_shmcb_module"

MODULE = ModuleSpec(NAME)
