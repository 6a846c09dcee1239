"""mod_status: /server-status (the scoreboard as HTML and ?auto) and fastcore's
Prometheus endpoint (SetHandler metrics), both read from the shared scoreboard.
ExtendedStatus is core's directive in httpd 2.4 (core.c); loading this module turns it
on by default (config.state)."""
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_status.hooks import HOOKS

MODULE = ModuleSpec("status_module", hooks=HOOKS)
