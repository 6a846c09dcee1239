"""The rewrite differential suite: every group of tests/modules/data/rwsuite (one config,
its tree, its requests: the flags, the condition types, the per-directory semantics,
RewriteOptions, maps, the loop limit, the well-known recipes, mod_alias and its ordering
with mod_rewrite) is served by real Apache and by fastcore, each request asked twice;
status, Location, Content-Type, Set-Cookie, Vary, Content-Encoding, the X-* fields and the
body must agree.  A documented difference (docs/compat.md) asserts fastcore's answer
instead.  At least 98% of the cases agree, and the count is printed."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest
from support.apache_oracle import APACHE, MODDIR, REPO
from support.rwsuite import Case, Outcome, parse_group, run_group

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "rwsuite")
GROUPS = sorted(glob.glob(os.path.join(DATA, "*.txt")))
TOTALS: dict[str, tuple[int, int]] = {}


def _verdict(case: Case, ap: tuple[Outcome, Outcome], fc: tuple[Outcome, Outcome]
             ) -> str | None:
    """None when the case holds, else what is wrong."""
    doc = case.documented
    if doc is None:
        return None if ap == fc else f"{case.name} {case.method} {case.target}: {ap} != {fc}"
    for got in fc:
        if got.status != doc.status or (doc.location is not None
                                        and got.location() != doc.location):
            return f"{case.name}: documented {doc} but fastcore gave {got}"
    if ap == fc:
        return f"{case.name}: marked as a documented difference but agrees with Apache"
    return None


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: os.path.basename(p)[:-4])
def test_group_agrees_with_apache(tmp_path, path: str) -> None:
    group = parse_group(path)
    assert group.cases
    ap_run, fc_run = run_group(group, str(tmp_path))
    ap, fc = ap_run.outcomes, fc_run.outcomes
    # the comparison is not vacuous: Apache answered every case
    assert all(o.status for o in ap)
    # mod_rewrite's error-log lines (AH10410, AH02596, AH00669, the loop limit's AH00124)
    assert fc_run.errors == ap_run.errors
    problems = []
    for i, case in enumerate(group.cases):
        bad = _verdict(case, (ap[2 * i], ap[2 * i + 1]), (fc[2 * i], fc[2 * i + 1]))
        if bad:
            problems.append(bad)
    agree = sum(ap[2 * i:2 * i + 2] == fc[2 * i:2 * i + 2] for i in range(len(group.cases)))
    TOTALS[group.name] = (agree, len(group.cases))
    print(f"\n{group.name}: {agree}/{len(group.cases)} cases agree with Apache")
    assert not problems, "\n".join(problems)


def test_suite_size_and_agreement() -> None:
    """Over all groups: at least 300 cases, at most 2% of them documented differences
    (every other case must agree: the groups' tests, which run first and count them)."""
    groups = [parse_group(p) for p in GROUPS]
    cases = sum(len(g.cases) for g in groups)
    documented = sum(c.documented is not None for g in groups for c in g.cases)
    assert cases >= 300
    assert documented <= 0.02 * cases
    if len(TOTALS) == len(GROUPS):
        agree = sum(a for a, _ in TOTALS.values())
        print(f"\nrewrite suite: {agree}/{cases} cases agree with Apache "
              f"({100 * agree / cases:.1f}%)")
        assert agree >= 0.98 * cases


def _startup(tmp: str, line: str, fastcore: bool) -> tuple[int, list[str]]:
    path = os.path.join(tmp, "httpd.conf")
    with open(path, "w") as fh:
        fh.write(f"LoadModule mpm_event_module {MODDIR}/mod_mpm_event.so\n"
                 f'ServerRoot "{tmp}"\nErrorLog "{tmp}/error_log"\nListen 127.0.0.1:1\n'
                 f"ServerName localhost\n{line}\n")
    argv = [sys.executable, "-m", "fastcore"] if fastcore else [APACHE]
    got = subprocess.run([*argv, "-t", "-f", path], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=REPO))
    # an error-log line without its time stamp and pid; "Syntax OK" goes to stdout here
    lines = (got.stderr + got.stdout).splitlines()
    return got.returncode, sorted(x.split("] ", 3)[-1] for x in lines)


@pytest.mark.parametrize("line", [
    "LimitInternalRecursion 5", "LimitInternalRecursion 3", "LimitInternalRecursion 5 2",
    "LimitInternalRecursion 0", "LimitInternalRecursion abc", "LimitInternalRecursion 5 0",
    "LimitInternalRecursion 1 2 3", "LimitInternalRecursion",
    "<Directory />\nLimitInternalRecursion 5\n</Directory>",
    "<VirtualHost *:1>\nLimitInternalRecursion 2\n</VirtualHost>",
])
def test_limit_internal_recursion_startup_as_apache(tmp_path, line: str) -> None:
    """LimitInternalRecursion's errors and warnings (the 08_limits group shows its
    effect) are Apache's, line for line."""
    assert _startup(str(tmp_path), line, True) == _startup(str(tmp_path), line, False)
