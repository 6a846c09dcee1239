"""mod_authz_user: the `valid-user` and `user` providers of Require.

Like mod_authz_host it has no directive of its own: loading it makes Require accept
these names.  Both answer "denied, no user yet" while nobody authenticated, which sends
the request to authentication (mod_authz_core); the evaluation is in
fastcore.modules.mod_authz_core.evaluate.
"""
from __future__ import annotations

from fastcore.config.engine import DirectiveError
from fastcore.modules import ModuleSpec

NAME = "authz_user_module"
USER_PROVIDERS = ("valid-user", "user")


def parse_user_args(name: str, rest: str) -> tuple[str, ...]:
    """`Require user a b c`: the names, split as ap_getword_conf does (an empty word
    ends them); `valid-user` ignores what follows it, as httpd does.  `user` is an
    expression string in httpd: one that uses %{...} is out of fastcore's reach."""
    if name == "valid-user":
        return ()
    if "%{" in rest:
        raise DirectiveError("Require user with an expression (%{...}) is not supported "
                             "by fastcore")
    from fastcore.modules.mod_authz_core import words_until_empty

    return tuple(words_until_empty(rest))


MODULE = ModuleSpec(NAME)
