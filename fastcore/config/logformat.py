"""LogFormat strings checked as mod_log_config's parse_log_string does at config time.

The runtime formatter (fastcore.modules.mod_log_config) renders formats; this module only decides, as
`apache2 -t`, whether a format is accepted and with which message it is refused: an
unknown `%` letter, a `%` or `%{...` that runs off the end of the string.
"""
from __future__ import annotations

from fastcore.config.engine import DirectiveError
from fastcore.core.tokens import is_digits

# The % letters registered by mod_log_config and the compiled-in mod_logio (Debian's
# apache2 with the modules fastcore implements); '%%' is a literal percent sign.
LETTERS = frozenset("abefhiklmnopqrstuvABCDHILOPRSTUVX")
CARET = frozenset(("^ti", "^to", "^FB"))  # two-letter items after '^'
RAN_OFF = "Ran off end of LogFormat parsing args to some directive"


# mod_ssl's items (ssl_var_log_handler_x/_c), known once it is loaded
SSL_LETTERS = frozenset("xc")


def _item(fmt: str, i: int, extra: frozenset[str] = frozenset()) -> int:
    """One item after its '%' (at i): modifiers, then a letter; returns the next index."""
    n = len(fmt)
    if i < n and fmt[i] == "%":
        return i + 1
    while i < n:
        c = fmt[i]
        if c in "!<>,":
            i += 1
        elif c == "{":
            end = fmt.find("}", i + 1)
            i = n if end < 0 else end + 1  # ap_getword: an unterminated {...} eats the rest
        elif is_digits(c):
            while i < n and is_digits(fmt[i]):
                i += 1
        elif c == "^" and fmt[i:i + 3] in CARET:
            return i + 3
        elif c in LETTERS or c in extra:
            return i + 1
        else:
            # Apache names one byte: the first of a multi-byte character
            byte = c.encode("utf-8", "surrogateescape")[:1].decode("utf-8", "surrogateescape")
            raise DirectiveError(f"Unrecognized LogFormat directive %{byte}")
    raise DirectiveError(RAN_OFF)


def check_log_format(fmt: str, ssl: bool = False) -> None:
    """Raise DirectiveError with Apache's message if `fmt` is not a valid format (ssl:
    mod_ssl is loaded, its %x and %c are known)."""
    extra = SSL_LETTERS if ssl else frozenset()
    i, n = 0, len(fmt)
    while i < n:
        pct = fmt.find("%", i)
        if pct < 0:
            return
        i = _item(fmt, pct + 1, extra)
