"""mod_headers: the Header and RequestHeader directives, as Apache 2.4's mod_headers.c.

config.py   the directives (header_cmd), value formats, the per-dir record and its merge
actions.py  the actions over a table of fields (do_headers_fixup)
filter.py   the hooks: early RequestHeader (post_read_request), RequestHeader (fixups),
            Header (the output filter over every answer, errors included)
cache.py    its share in a cacheable answer: an edit over the cached fields
"""
from __future__ import annotations

from fastcore.core.phases import FIRST, FIXUPS, LAST, MIDDLE, OUTPUT_FILTER, POST_READ_REQUEST, Hook
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_headers.cache import cache_contribution
from fastcore.modules.mod_headers.config import NAME, HeadersDir, directives
from fastcore.modules.mod_headers.filter import fixups, output_filter, post_read_request

HOOKS = (
    Hook(POST_READ_REQUEST, post_read_request, FIRST),
    Hook(FIXUPS, fixups, LAST),
    Hook(OUTPUT_FILTER, output_filter, MIDDLE),  # httpd's AP_FTYPE_CONTENT_SET
)
MODULE = ModuleSpec(NAME, directives, dir_record=HeadersDir, hooks=HOOKS,
                    cache_contribution=cache_contribution)
