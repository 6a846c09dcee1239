"""Every directive of fastcore's tables is exercised by a behaviour test (a test that runs
a server or the request path with it, not only the config parser), or is one of the few
documented in docs/compat.md as accepted without an effect a test could observe.

The list of directives is derived from the tables (fastcore.config.modules), so a new
directive without a test fails here.
"""
from __future__ import annotations

import os
import re

from fastcore.modules import REGISTRY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(ROOT, "tests")
# Parser-only tests: naming a directive there shows it parses, not that it acts.
PARSER_ONLY = ("test_config_", "config_corpus", "test_directive_coverage")
# Accepted without an effect fastcore can have, each with its compat.md entry; or acting
# where only the MPM's internals see it.
WITHOUT_CLIENT_EFFECT = {
    "MaxMemFree": "docs/compat.md",
    "ListenCoresBucketsRatio": "docs/compat.md",
    "CoreDumpDirectory": "docs/compat.md",
    "AsyncRequestWorkerFactor": "fastcore/mpm/event.py",  # the event listener's admission
    "SSLPassPhraseDialog": "docs/compat.md",  # keys are read unencrypted
    "SSLRandomSeed": "docs/compat.md",        # OpenSSL 3 seeds itself
}


def _behaviour_texts() -> dict[str, str]:
    out = {}
    for root, _dirs, names in os.walk(TESTS):
        for name in names:
            path = os.path.join(root, name)
            if name.endswith((".py", ".conf")) and not any(p in path for p in PARSER_ONLY):
                with open(path, errors="replace") as fh:
                    out[path] = fh.read()
    return out


def test_every_directive_has_a_behaviour_test() -> None:
    texts = _behaviour_texts()
    missing = []
    for name in REGISTRY.directive_names():
        if name.startswith("<") or name in WITHOUT_CLIENT_EFFECT:
            continue
        word = re.compile(r"(?<![\w<])" + re.escape(name) + r"\b", re.I)
        if not any(word.search(t) for t in texts.values()):
            missing.append(name)
    assert missing == []


def test_directives_without_client_effect_are_documented() -> None:
    for name, where in WITHOUT_CLIENT_EFFECT.items():
        assert name in REGISTRY.directive_names()
        with open(os.path.join(ROOT, where)) as fh:
            text = fh.read()
        key = "async_factor" if where.endswith(".py") else name
        assert key in text, (name, where)
