"""mod_include: Server Side Includes (httpd 2.4's modules/filters/mod_include.c).

    config.py    the directives (XBitHack, SSIErrorMsg, SSITimeFormat, SSIUndefinedEcho,
                 SSIStartTag, SSIEndTag, SSILastModified, SSIEtag, SSILegacyExprParser)
                 and the per-dir / per-server records
    parser.py    the element tokenizer (send_parsed_content's state machine)
    elements.py  the elements: include, echo, set, printenv, config, fsize, flastmod,
                 if/elif/else/endif (ap_expr), with httpd's messages
    text.py      substitution, encodings, dates, sizes
    filter.py    the INCLUDES filter: when it runs (XBitHack), sub-requests, the answer

`exec` is not an element here: httpd registers it from mod_cgi, which fastcore does not
have, so `<!--#exec ... -->` is an unknown directive (AH01371), as in an Apache without
mod_cgi.  A parsed answer is never cached.
"""
from __future__ import annotations

from fastcore.config.model import DirConfig
from fastcore.core.cacheable import NOT_CACHEABLE, NOTHING, CacheInfo, Contribution
from fastcore.core.phases import FIRST, OUTPUT_FILTER, Hook
from fastcore.core.transaction import Transaction
from fastcore.modules import ModuleSpec
from fastcore.modules.mod_include.config import NAME, IncludeDir, IncludeServer, directives
from fastcore.modules.mod_include.filter import in_scope, includes_filter


def cache_contribution(txn: Transaction, dc: DirConfig, served: CacheInfo | None) -> Contribution:
    """A file the filter may parse is not cacheable: one INCLUDES is named for
    (AddOutputFilter, SetOutputFilter, a mod_filter provider, the server-parsed
    handler) and, under XBitHack on/full, every text/html file (the execute bit
    decides); the parsed output depends on the request."""
    if served is None:
        return NOTHING
    return NOT_CACHEABLE if in_scope(dc, served.fname, served.ctype) else NOTHING


HOOKS = (Hook(OUTPUT_FILTER, includes_filter, FIRST),)
MODULE = ModuleSpec(NAME, directives, dir_record=IncludeDir, server_record=IncludeServer,
                    hooks=HOOKS, cache_contribution=cache_contribution)
