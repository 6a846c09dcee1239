"""ap_pregsub (util.c): the one `$N` substitution of httpd's regex directives (Redirect-
and AliasMatch, SetEnvIf, Header edit ...), shared by the modules that use it."""
from __future__ import annotations

from collections.abc import Callable


def pregsub(template: str, group: Callable[[int], str | None]) -> str:
    """$0..$9 become group(N) (None or "" for an unset or missing group: nothing), a
    backslash takes the next character literally, everything else is copied."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        i += 1
        if c == "$" and i < n and template[i] in "0123456789":  # not "²" (fuzzing)
            text = group(int(template[i]))
            i += 1
            if text:
                out.append(text)
            continue
        if c == "\\" and i < n:
            c = template[i]
            i += 1
        out.append(c)
    return "".join(out)
