"""mod_rewrite (Apache 2.4's modules/mappers/mod_rewrite.c): RewriteEngine, RewriteOptions,
RewriteBase, RewriteCond, RewriteRule and RewriteMap, in server/vhost context (the
translate_name hook, before mod_alias and DocumentRoot) and per directory (<Directory>
and .htaccess with AllowOverride FileInfo: the fixups hook and its internal redirect).

    config.py  directives, records and their merges, the RewriteRule/RewriteCond parsers
    maps.py    RewriteMap txt:, rnd:, int:, dbm: (prg:, dbd: refused)
    dbmmap.py  dbm: maps through apr-util's apr_dbm (ctypes)
    expand.py  do_expand and lookup_variable
    rules.py   the conditions, one rule, a rule list
    hooks.py   the phases, the redirects, the cache contribution
"""
from __future__ import annotations

from fastcore.core.phases import (
    FIRST,
    FIXUPS,
    LAST,
    OUTPUT_FILTER,
    REALLY_LAST,
    TRANSLATE_NAME,
    Hook,
)
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_rewrite.config import NAME, RewriteDir, RewriteServer, directives
from fastcore.modules.mod_rewrite.hooks import (
    cache_contribution,
    fixup,
    mimetype,
    output,
    pending_redirect,
    translate,
)

HOOKS = (
    Hook(TRANSLATE_NAME, translate, FIRST),
    Hook(FIXUPS, fixup, FIRST),
    Hook(FIXUPS, mimetype, LAST),
    Hook(FIXUPS, pending_redirect, REALLY_LAST),  # httpd's redirect-handler
    Hook(OUTPUT_FILTER, output, FIRST),
)
MODULE = ModuleSpec(NAME, directives, dir_record=RewriteDir, server_record=RewriteServer,
                    hooks=HOOKS, cache_contribution=cache_contribution)
